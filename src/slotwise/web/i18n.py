"""Languages of the pages: English (the source) plus the catalogues under `translations/`,
read from their .po files at start-up (no compile step), and Babel's formatting per locale.

The locale is chosen per request: `?lang=` (remembered in a cookie), else the cookie, else
the best match of `Accept-Language`, else English.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français"}
COOKIE = "slotwise_lang"


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The gettext catalogue of `locale` (English: the identity): every .po file of the
    locale (one per area of the pages: messages, public, manage, admin...) merged."""
    files = sorted((TRANSLATIONS / locale / "LC_MESSAGES").glob("*.po"))
    if locale == DEFAULT or not files:
        return NullTranslations()
    merged: Catalog | None = None
    for po in files:
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if message.id:
                merged[message.id] = message
    assert merged is not None  # `files` is not empty
    compiled = io.BytesIO()
    write_mo(compiled, merged)
    compiled.seek(0)
    return Translations(fp=compiled)


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for wanted in (query, cookie):
        if wanted in LANGUAGES:
            return wanted
    for tag in _accepted(accept_language or ""):
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return DEFAULT


def region_locale(language: str, accept_language: str | None) -> str:
    """The locale dates and numbers are formatted in: the visitor's own variant of the page's
    language when Accept-Language names one (en-GB: 14:00, 31/12), else the language."""
    for tag in _accepted(accept_language or ""):
        if tag.split("-")[0].lower() == language and "-" in tag:
            try:
                return str(Locale.parse(tag, sep="-"))
            except (UnknownLocaleError, ValueError):
                continue
    return language


def _accepted(header: str) -> list[str]:
    """Accept-Language's tags, best first (quality, then order)."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)
