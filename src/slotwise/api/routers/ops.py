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
    """Ready when the database answers. Redis, when configured, only degrades: without it
    holds fall back to the database, so the answer is 200 with `status: "degraded"`."""
    checks: dict[str, dict[str, str]] = {}
    ready, degraded = True, False
    for name, dependency in app.checks.items():
        error = await run_in_threadpool(dependency.check)
        if error is None:
            checks[name] = {"status": "ok"}
        elif dependency.fallback is not None:
            checks[name] = {"status": "unreachable", "error": error,
                            "fallback": dependency.fallback}
            degraded = True
        else:
            checks[name] = {"status": "error", "error": error}
            ready = False
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    return JSONResponse({"status": status, "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def prometheus(request: Request) -> Response:
    return Response(generate_latest(metrics(request).registry), media_type=CONTENT_TYPE_LATEST)
