"""Small keyword-only builders that drive the HTTP API.

They take any `httpx.Client` (FastAPI's TestClient is one; so is a client of a live
`slotwise serve`), assert the documented success status, and return the JSON answer.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

WEEKDAYS_9_TO_5 = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def _ok(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} → {response.status_code}: "
        f"{response.text}")
    return response.json() if response.content else None


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Org:
    """A signed-up organisation and its owner's credentials."""

    def __init__(self, client: httpx.Client, answer: dict[str, Any]) -> None:
        self.client = client
        self.id: str = answer["org"]["id"]
        self.slug: str = answer["org"]["slug"]
        self.timezone: str = answer["org"]["timezone"]
        self.token: str = answer["token"]
        self.email: str = answer.get("email", "")
        self.headers = auth(self.token)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})},
                               **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=json,
                                headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def put(self, path: str, json: Any = None) -> httpx.Response:
        return self.client.put(path, json=json, headers=self.headers)

    def patch(self, path: str, json: Any = None) -> httpx.Response:
        return self.client.patch(path, json=json, headers=self.headers)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path, headers=self.headers)


def signup(client: httpx.Client, *, timezone: str = "America/New_York",
           name: str | None = None, password: str = "correct horse battery") -> Org:
    suffix = secrets.token_hex(4)
    body = {"org_name": name or f"Clinic {suffix}", "org_slug": f"clinic-{suffix}",
            "email": f"owner-{suffix}@example.com", "password": password,
            "timezone": timezone}
    answer = _ok(client.post("/v1/signup", json=body), 201)
    answer["email"] = body["email"]
    return Org(client, answer)


def resource(org: Org, *, name: str = "Resource", kind: str = "practitioner",
             weekly: list[dict[str, Any]] | None = None, overrides: list[dict[str, Any]] | None
             = None, schedule_timezone: str | None = None, **fields: Any) -> dict[str, Any]:
    """A resource with a schedule (weekdays 09:00–17:00 unless `weekly` is given)."""
    created: dict[str, Any] = _ok(org.post("/v1/resources",
                                           {"name": name, "kind": kind, **fields}), 201)
    schedule: dict[str, Any] = {"weekly": WEEKDAYS_9_TO_5 if weekly is None else weekly,
                                "overrides": overrides or []}
    if schedule_timezone is not None:
        schedule["timezone"] = schedule_timezone
    _ok(org.put(f"/v1/resources/{created['id']}/schedule", schedule), 200)
    return created


def service(org: Org, *, name: str = "Consultation", duration_min: int = 60,
            requirements: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "duration_min": duration_min,
            "requirements": requirements or [{"kind": "practitioner"}], **fields}
    created: dict[str, Any] = _ok(org.post("/v1/services", body), 201)
    return created


def availability(org: Org, service_id: str, start: str, end: str, **params: Any
                 ) -> list[dict[str, str]]:
    answer = _ok(org.get(f"/v1/services/{service_id}/availability",
                         params={"start": start, "end": end, **params}), 200)
    slots: list[dict[str, str]] = answer["slots"]
    return slots


def book(org: Org, service_id: str, start: str, *, email: str | None = None,
         **fields: Any) -> dict[str, Any]:
    body = {"service_id": service_id, "start": start,
            "customer": {"name": "Customer", "email": email or
                         f"c-{secrets.token_hex(4)}@example.com"}, **fields}
    created: dict[str, Any] = _ok(org.post("/v1/bookings", body), 201)
    return created
