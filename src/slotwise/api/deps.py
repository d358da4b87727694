"""How request handlers reach the wired use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from slotwise.app.container import UseCases


def use_cases(request: Request) -> UseCases:
    found: UseCases = request.app.state.use_cases
    return found


App = Annotated[UseCases, Depends(use_cases)]
