"""A service's notification schedule: reminders before, a review request after, SMS on or off."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.testing.api import resource, service, signup

DEFAULTS = {"reminders_min": [1440, 60], "review_after_min": 120, "sms": False}


def test_a_service_has_the_default_schedule_unless_it_sets_its_own(client: TestClient) -> None:
    org = signup(client)
    resource(org)
    plain = service(org)
    assert plain["notifications"] == DEFAULTS
    own = service(org, name="Own", notifications={"reminders_min": [2880],
                                                  "review_after_min": None, "sms": True})
    assert own["notifications"] == {"reminders_min": [2880], "review_after_min": None,
                                    "sms": True}
    assert org.get(f"/v1/services/{own['id']}").json()["notifications"] == own["notifications"]


def test_a_patch_replaces_the_schedule_and_null_restores_the_defaults(
        client: TestClient) -> None:
    org = signup(client)
    resource(org)
    svc = service(org)
    quiet = org.patch(f"/v1/services/{svc['id']}", {"notifications": {"reminders_min": []}})
    assert quiet.status_code == 200, quiet.text
    assert quiet.json()["notifications"] == {**DEFAULTS, "reminders_min": []}
    renamed = org.patch(f"/v1/services/{svc['id']}", {"name": "Renamed"}).json()
    assert renamed["notifications"]["reminders_min"] == []  # untouched by other changes
    reset = org.patch(f"/v1/services/{svc['id']}", {"notifications": None}).json()
    assert reset["notifications"] == DEFAULTS


@pytest.mark.parametrize("schedule", [
    {"reminders_min": [60, 30]},  # two "starting soon" reminders
    {"reminders_min": [1440, 2880]},  # two earlier ones
    {"reminders_min": [1440, 60, 30]},
    {"reminders_min": [0]},
    {"reminders_min": [-60]},
    {"reminders_min": [60 * 24 * 15]},
    {"review_after_min": -1},
    {"sms": "sometimes"},
    {"whatsapp": True},
])
def test_a_schedule_that_cannot_be_kept_is_422(client: TestClient,
                                               schedule: dict[str, Any]) -> None:
    org = signup(client)
    resource(org)
    created = org.post("/v1/services", {"name": "Bad", "duration_min": 30,
                                        "requirements": [{"kind": "practitioner"}],
                                        "notifications": schedule})
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["loc"][:2] == ["body", "notifications"]
    svc = service(org)
    patched = org.patch(f"/v1/services/{svc['id']}", {"notifications": schedule})
    assert patched.status_code == 422
    assert org.get(f"/v1/services/{svc['id']}").json()["notifications"] == DEFAULTS
