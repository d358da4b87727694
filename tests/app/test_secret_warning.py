"""`slotwise serve` says so when it runs with the published development secret, and starts
anyway (the embedded default must run with no setting); with a secret of its own it says
nothing of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from slotwise.api import logs
from slotwise.cli import main


@pytest.mark.parametrize(("secret", "warned"), [(None, True), ("a long random secret", False)])
def test_serve_warns_about_the_development_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None,
        warned: bool) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    monkeypatch.setattr(logs, "configure", lambda *args: None)  # leave pytest's logging be
    monkeypatch.delenv("SLOTWISE_SECRET_KEY", raising=False)
    env = {"SLOTWISE_DATABASE_URL": f"sqlite:///{tmp_path / 'slotwise.db'}"}
    if secret is not None:
        env["SLOTWISE_SECRET_KEY"] = secret
    done = CliRunner().invoke(main, ["serve", "--port", "8123"], env=env)
    assert done.exit_code == 0, done.output
    assert len(served) == 1 and served[0]["port"] == 8123
    assert ("SLOTWISE_SECRET_KEY is the published development default" in done.output) is warned
