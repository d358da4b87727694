"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slotwise.api.deps import App
from slotwise.api.metrics import metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is not ready"}})
async def readyz(app: App) -> JSONResponse:
    """Ready when every dependency answers: the database, and Redis when configured."""
    checks = {}
    for name, check in app.checks.items():
        error = await run_in_threadpool(check)
        checks[name] = {"status": "ok"} if error is None else {"status": "error",
                                                                "error": error}
    ready = all(c["status"] == "ok" for c in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def prometheus(request: Request) -> Response:
    return Response(generate_latest(metrics(request).registry), media_type=CONTENT_TYPE_LATEST)
