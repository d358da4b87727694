"""Puts the pages on the application: static assets under /static and each page router.
Page routes come after the API's, so `/{org_slug}` never shadows an API path; organisation
slugs that would collide with a page path are refused at signup (`app.accounts.RESERVED`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from slotwise.web.templating import STATIC, Pages

# Modules of slotwise.web with a `router`, in mount order: `public` last (its `/{org_slug}`).
ROUTERS: tuple[str, ...] = ("admin", "manage", "public")


def install(app: FastAPI) -> None:
    import importlib

    app.state.pages = Pages()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in ROUTERS:
        app.include_router(importlib.import_module(f"slotwise.web.{name}").router)
