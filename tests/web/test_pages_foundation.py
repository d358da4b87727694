"""The pages' foundation: static assets are served, the locale is negotiated, templates
translate and format per locale, and organisation slugs cannot take a page's path."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from starlette.requests import Request

from slotwise.web import i18n
from slotwise.web.templating import Pages


def request(query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query,
                    "headers": headers or []})


def test_static_assets_are_served(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/htmx.min.js").status_code == 200
    assert client.get("/static/nothing-here.js").status_code == 404


def test_the_locale_is_the_query_then_the_cookie_then_accept_language() -> None:
    assert i18n.negotiate("fr", "de", "de-DE") == "fr"
    assert i18n.negotiate(None, "de", "fr-FR") == "de"
    assert i18n.negotiate("xx", None, "es;q=0.9, fr-CH;q=0.8, de;q=0.5") == "fr"
    assert i18n.negotiate(None, None, "de;q=0, fr;q=0.1") == "fr"
    assert i18n.negotiate(None, None, "ja, garbage;q=x") == "en"
    assert i18n.negotiate(None, None, None) == "en"


def test_templates_translate_and_format_per_locale() -> None:
    pages = Pages()
    page = pages.render(request(b"lang=de"), "base.html")
    text = bytes(page.body).decode()
    assert '<html lang="de">' in text and "Zum Inhalt springen" in text
    assert "slotwise_lang=de" in page.headers["set-cookie"]
    french = bytes(pages.render(request(headers=[(b"accept-language", b"fr")]),
                                "base.html").body).decode()
    assert "Aller au contenu" in french
    env = pages.env.overlay()
    from slotwise.web.templating import _filters
    for locale, expected in (("en", "9:00\u202fAM EST"), ("de", "09:00 EST"),
                             ("fr", "09:00 EST")):
        env.filters.update(_filters(locale))
        instant = datetime(2027, 3, 8, 14, 0, tzinfo=UTC)
        assert env.from_string("{{ t|time_in('America/New_York') }}").render(t=instant) \
            == expected
    env.filters.update(_filters("de"))
    assert env.from_string("{{ 1234.5|money('EUR') }}").render() == "1.234,50\xa0€"


def test_an_organisation_cannot_take_a_page_path_as_its_slug(client: TestClient) -> None:
    answer = client.post("/v1/signup", json={
        "org_name": "Admin Clinic", "org_slug": "admin", "email": "a@example.com",
        "password": "correct horse battery", "timezone": "UTC"})
    assert answer.status_code == 422 and "org_slug" in answer.text
    named = client.post("/v1/signup", json={
        "org_name": "Manage", "email": "m@example.com", "password": "correct horse battery",
        "timezone": "UTC"})
    assert named.status_code == 201 and named.json()["org"]["slug"] != "manage"


def test_dates_follow_the_visitors_region_and_language_links_keep_the_query() -> None:
    assert i18n.region_locale("en", "en-GB,en;q=0.8") == "en_GB"
    assert i18n.region_locale("en", "de-DE") == "en"
    assert i18n.region_locale("de", "de-AT") == "de_AT"
    assert i18n.region_locale("fr", "fr-xx-nonsense") in ("fr", "fr_XX")
    page = Pages().render(request(b"day=2027-03-08&lang=de"), "base.html")
    assert 'href="/?day=2027-03-08&amp;lang=fr"' in bytes(page.body).decode()
