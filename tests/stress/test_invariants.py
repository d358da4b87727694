"""The invariant checker itself, on SQLite and PostgreSQL: it passes what is true and catches
a lost booking, a state the client was not told, and a 5xx."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from slotwise.testing import api
from slotwise.testing.stress.clients import Answer, Call
from slotwise.testing.stress.invariants import check_invariants

START = "2027-03-08T14:00:00Z"


def _told(status: int, body: dict[str, Any], *, action: str = "book",
          booking_id: str | None = None, at: float = 0.0) -> Answer:
    call = Call("POST", "/v1/bookings", {}, action=action, booking_id=booking_id)
    return Answer(call, status, started=at, finished=at + 0.1, body=body)


def test_true_answers_pass_and_false_ones_are_caught(client: TestClient,
                                                     database_url: str) -> None:
    org = api.signup(client, timezone="UTC")
    practitioner = api.resource(org, name="Dr A")
    svc = api.service(org, requirements=[{"kind": "practitioner",
                                          "resource_ids": [practitioner["id"]]}])
    booked = api.book(org, svc["id"], START)
    cancelled = api.book(org, svc["id"], "2027-03-08T15:00:00Z")
    cancel_answer = org.post(f"/v1/bookings/{cancelled['id']}/cancel", {}).json()
    truth = [_told(201, booked), _told(201, cancelled),
             _told(200, cancel_answer, action="cancel", booking_id=cancelled["id"], at=1.0)]

    def failed(*extra: Answer, outage_503_allowed: bool = False) -> set[str]:
        # Only this test's organisation: other tests share the session's database.
        report = check_invariants(database_url, [*truth, *extra], title="checker",
                                  outage_503_allowed=outage_503_allowed, org_ids=[org.id])
        return {c.name for c in report.failures()}

    assert failed() == set()
    ghost = _told(201, {**booked, "id": "booking_ghost"})
    assert failed(ghost) == {"no lost booking (every 201/200 seen is stored)"}
    false_cancel = _told(200, {**booked, "status": "cancelled"}, action="cancel",
                         booking_id=booked["id"], at=2.0)
    assert failed(false_cancel) == {"stored state is what the client was last told"}
    moved_elsewhere = _told(200, {**booked, "start": "2027-03-09T14:00:00Z"},
                            action="reschedule", booking_id=booked["id"], at=2.0)
    assert failed(moved_elsewhere) == {"stored state is what the client was last told",
                                       "outbox events for every stored booking"}
    assert failed(_told(500, {"status": 500})) == {"no 5xx"}
    assert failed(_told(503, {"status": 503}), outage_503_allowed=True) == set()
