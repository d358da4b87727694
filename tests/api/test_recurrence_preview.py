"""POST /v1/recurrence/preview: RFC 5545's own examples (§3.8.5.3) through the API, DST gaps,
EXDATE, range and limit, per-occurrence availability for a service, and 422s that name the
field."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from slotwise.testing.api import Org, availability, book, resource, service, signup

NEW_YORK = ZoneInfo("America/New_York")


def preview(org: Org, **body: Any) -> dict[str, Any]:
    answer = org.post("/v1/recurrence/preview", body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def starts(found: dict[str, Any]) -> list[str]:
    return [o["start"] for o in found["occurrences"]]


def new_york(*walls: str) -> list[str]:
    """Wall times as the RFC prints them ("1997-09-02 09:00", New York) → UTC text."""
    return [datetime.fromisoformat(w).replace(tzinfo=NEW_YORK).astimezone(ZoneInfo("UTC"))
            .strftime("%Y-%m-%dT%H:%M:%SZ") for w in walls]


def days(year: int, month: int, numbers: Any, at: str = "09:00") -> list[str]:
    return [f"{year}-{month:02d}-{d:02d} {at}" for d in numbers]


# (name, DTSTART as the RFC gives it, RRULE, extra body, expected wall times in New York)
RFC_EXAMPLES = [
    ("daily for 10 occurrences", "1997-09-02T09:00:00", "FREQ=DAILY;COUNT=10", {},
     days(1997, 9, range(2, 12))),
    ("daily until December 24, 1997", "1997-09-02T09:00:00",
     "FREQ=DAILY;UNTIL=19971224T000000Z", {},
     days(1997, 9, range(2, 31)) + days(1997, 10, range(1, 32)) + days(1997, 11, range(1, 31))
     + days(1997, 12, range(1, 24))),
    ("every other day, forever (up to December 3)", "1997-09-02T09:00:00",
     "FREQ=DAILY;INTERVAL=2",
     {"range": {"start": "1997-09-01T00:00:00Z", "end": "1997-12-04T00:00:00Z"}},
     days(1997, 9, range(2, 31, 2)) + days(1997, 10, range(2, 31, 2))
     + days(1997, 11, range(1, 30, 2)) + days(1997, 12, [1, 3])),
    ("every 10 days, 5 occurrences", "1997-09-02T09:00:00", "FREQ=DAILY;INTERVAL=10;COUNT=5",
     {}, days(1997, 9, [2, 12, 22]) + days(1997, 10, [2, 12])),
    ("every day in January, for 3 years", "1998-01-01T09:00:00",
     "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA", {},
     [w for year in (1998, 1999, 2000) for w in days(year, 1, range(1, 32))]),
    ("weekly for 10 occurrences", "1997-09-02T09:00:00", "FREQ=WEEKLY;COUNT=10", {},
     days(1997, 9, [2, 9, 16, 23, 30]) + days(1997, 10, [7, 14, 21, 28])
     + days(1997, 11, [4])),
    ("weekly until December 24, 1997", "1997-09-02T09:00:00",
     "FREQ=WEEKLY;UNTIL=19971224T000000Z", {},
     days(1997, 9, [2, 9, 16, 23, 30]) + days(1997, 10, [7, 14, 21, 28])
     + days(1997, 11, [4, 11, 18, 25]) + days(1997, 12, [2, 9, 16, 23])),
    ("every other week on Monday, Wednesday and Friday until December 24, 1997",
     "1997-09-01T09:00:00", "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;"
     "BYDAY=MO,WE,FR", {},
     days(1997, 9, [1, 3, 5, 15, 17, 19, 29]) + days(1997, 10, [1, 3, 13, 15, 17, 27, 29, 31])
     + days(1997, 11, [10, 12, 14, 24, 26, 28]) + days(1997, 12, [8, 10, 12, 22])),
    ("weekly on Tuesday and Thursday for five weeks", "1997-09-02T09:00:00",
     "FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH", {},
     days(1997, 9, [2, 4, 9, 11, 16, 18, 23, 25, 30]) + days(1997, 10, [2])),
    ("monthly on the first Friday for 10 occurrences", "1997-09-05T09:00:00",
     "FREQ=MONTHLY;COUNT=10;BYDAY=1FR", {},
     days(1997, 9, [5]) + days(1997, 10, [3]) + days(1997, 11, [7]) + days(1997, 12, [5])
     + days(1998, 1, [2]) + days(1998, 2, [6]) + days(1998, 3, [6]) + days(1998, 4, [3])
     + days(1998, 5, [1]) + days(1998, 6, [5])),
    ("monthly on the second-to-last Monday for 6 months", "1997-09-22T09:00:00",
     "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO", {},
     days(1997, 9, [22]) + days(1997, 10, [20]) + days(1997, 11, [17]) + days(1997, 12, [22])
     + days(1998, 1, [19]) + days(1998, 2, [16])),
    ("monthly on the first and last day of the month for 10 occurrences",
     "1997-09-30T09:00:00", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1", {},
     days(1997, 9, [30]) + days(1997, 10, [1, 31]) + days(1997, 11, [1, 30])
     + days(1997, 12, [1, 31]) + days(1998, 1, [1, 31]) + days(1998, 2, [1])),
    ("yearly in June and July for 10 occurrences", "1997-06-10T09:00:00",
     "FREQ=YEARLY;COUNT=10;BYMONTH=6,7", {},
     [w for year in range(1997, 2002) for w in days(year, 6, [10]) + days(year, 7, [10])]),
    ("every Thursday in March, forever (11 of them)", "1997-03-13T09:00:00",
     "FREQ=YEARLY;BYMONTH=3;BYDAY=TH", {"limit": 11},
     days(1997, 3, [13, 20, 27]) + days(1998, 3, [5, 12, 19, 26])
     + days(1999, 3, [4, 11, 18, 25])),
    ("every Friday the 13th, forever (5 of them)", "1997-09-02T09:00:00",
     "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", {"exdates": ["1997-09-02T09:00:00"], "limit": 5},
     days(1998, 2, [13]) + days(1998, 3, [13]) + days(1998, 11, [13]) + days(1999, 8, [13])
     + days(2000, 10, [13])),
    ("US presidential election day (3 of them)", "1996-11-05T09:00:00",
     "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8", {"limit": 3},
     days(1996, 11, [5]) + days(2000, 11, [7]) + days(2004, 11, [2])),
    ("the third Tuesday, Wednesday or Thursday of the month, for 3 months",
     "1997-09-04T09:00:00", "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3", {},
     days(1997, 9, [4]) + days(1997, 10, [7]) + days(1997, 11, [6])),
    ("every 20 minutes from 9:00 to 16:40 every day (two days)", "1997-09-02T09:00:00",
     "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40", {"limit": 48},
     [f"1997-09-{d:02d} {h:02d}:{m:02d}" for d in (2, 3) for h in range(9, 17)
      for m in (0, 20, 40)]),
    ("every 15 minutes for 6 occurrences", "1997-09-02T09:00:00",
     "FREQ=MINUTELY;INTERVAL=15;COUNT=6", {},
     [f"1997-09-02 {t}" for t in ("09:00", "09:15", "09:30", "09:45", "10:00", "10:15")]),
    ("every hour and a half for 4 occurrences", "1997-09-02T09:00:00",
     "FREQ=MINUTELY;INTERVAL=90;COUNT=4", {},
     [f"1997-09-02 {t}" for t in ("09:00", "10:30", "12:00", "13:30")]),
    ("WKST=MO changes which days a biweekly rule picks", "1997-08-05T09:00:00",
     "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", {}, days(1997, 8, [5, 10, 19, 24])),
    ("WKST=SU changes which days a biweekly rule picks", "1997-08-05T09:00:00",
     "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", {}, days(1997, 8, [5, 17, 19, 31])),
    ("an invalid date (February 30) is ignored", "2007-01-15T09:00:00",
     "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5", {},
     days(2007, 1, [15, 30]) + days(2007, 2, [15]) + days(2007, 3, [15, 30])),
]


def test_the_rfc_5545_examples(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    wrong = {}
    for name, dtstart, rrule, extra, expected in RFC_EXAMPLES:
        found = preview(org, dtstart=dtstart, timezone="America/New_York", rrule=rrule, **extra)
        if starts(found) != new_york(*expected) or found["skipped"]:
            wrong[name] = found
        assert all(set(o) == {"start"} for o in found["occurrences"])
    assert wrong == {}


def test_an_instance_in_the_spring_gap_is_skipped_and_not_counted(client: TestClient) -> None:
    org = signup(client)
    found = preview(org, dtstart="2027-03-13T02:30:00", timezone="America/New_York",
                    rrule="FREQ=DAILY;COUNT=3")
    assert starts(found) == ["2027-03-13T07:30:00Z", "2027-03-15T06:30:00Z",
                             "2027-03-16T06:30:00Z"]
    assert found["skipped"] == ["2027-03-14T02:30:00"]


def test_a_dtstart_in_the_gap_moves_forward_and_counts(client: TestClient) -> None:
    org = signup(client)
    found = preview(org, dtstart="2027-03-14T02:30:00", timezone="America/New_York",
                    rrule="FREQ=DAILY;COUNT=2")
    assert starts(found) == ["2027-03-14T07:30:00Z", "2027-03-15T06:30:00Z"]  # 03:30 EDT
    assert found["skipped"] == []


def test_a_weekly_nine_oclock_follows_local_time_across_the_change(client: TestClient) -> None:
    org = signup(client)
    found = preview(org, dtstart="2027-03-08T09:00:00", timezone="America/New_York",
                    rrule="FREQ=WEEKLY;COUNT=2")
    assert starts(found) == ["2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z"]


def test_exdates_remove_instances_after_count_is_applied(client: TestClient) -> None:
    org = signup(client)
    found = preview(org, dtstart="2027-04-05T09:00:00", timezone="Europe/Paris",
                    rrule="FREQ=DAILY;COUNT=3", exdates=["2027-04-06T09:00:00"])
    assert starts(found) == ["2027-04-05T07:00:00Z", "2027-04-07T07:00:00Z"]


def test_range_keeps_starts_inside_it_and_limit_truncates(client: TestClient) -> None:
    org = signup(client)
    body = {"dtstart": "2027-04-05T09:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=10"}
    ranged = preview(org, **body, range={"start": "2027-04-07T09:00:00Z",
                                         "end": "2027-04-09T09:00:00Z"})
    assert starts(ranged) == ["2027-04-07T09:00:00Z", "2027-04-08T09:00:00Z"]
    assert starts(preview(org, **body, limit=2)) == ["2027-04-05T09:00:00Z",
                                                     "2027-04-06T09:00:00Z"]
    endless = preview(org, dtstart="2027-04-05T09:00:00", timezone="UTC", rrule="FREQ=HOURLY")
    assert len(endless["occurrences"]) == 500


BAD_INPUT: list[tuple[dict[str, Any], list[str | int]]] = [
    ({"timezone": "Mars/Olympus"}, ["body", "timezone"]),
    ({"timezone": "+02:00"}, ["body", "timezone"]),
    ({"rrule": "FREQ=SOMETIMES"}, ["body", "rrule"]),
    ({"rrule": "FREQ=DAILY;COUNT=3;UNTIL=20270501T000000Z"}, ["body", "rrule"]),
    ({"rrule": "FREQ=DAILY;UNTIL=20270501T000000"}, ["body", "rrule"]),
    ({"rrule": "FREQ=DAILY;UNTIL=20270501"}, ["body", "rrule"]),
    ({"dtstart": "2027-04-05T09:00:00+02:00"}, ["body", "dtstart"]),
    ({"dtstart": "2027-04-05T09:00:00Z"}, ["body", "dtstart"]),
    ({"dtstart": "2027-04-05"}, ["body", "dtstart"]),
    ({"dtstart": "0005-04-05T09:00:00"}, ["body", "dtstart"]),
    ({"exdates": ["2027-04-06T09:00:00Z"]}, ["body", "exdates", 0]),
    ({"limit": 0}, ["body", "limit"]),
    ({"limit": 501}, ["body", "limit"]),
    ({"range": {"start": "2027-04-07T09:00:00Z", "end": "2027-04-07T09:00:00Z"}},
     ["body", "range", "end"]),
    ({"range": {"start": "2027-04-07T09:00:00Z", "end": "2027-04-06T09:00:00Z"}},
     ["body", "range", "end"]),
    ({"resource_ids": ["res_x"]}, ["body", "resource_ids"]),
]


def test_bad_input_is_a_422_naming_the_field(client: TestClient) -> None:
    org = signup(client)
    for change, loc in BAD_INPUT:
        body = {"dtstart": "2027-04-05T09:00:00", "timezone": "UTC",
                "rrule": "FREQ=DAILY;COUNT=3", **change}
        answer = org.post("/v1/recurrence/preview", body)
        assert answer.status_code == 422, (change, answer.text)
        assert loc in [e["loc"] for e in answer.json()["errors"]], (change, answer.text)


def test_the_timezone_is_required_and_the_caller_authenticated(client: TestClient) -> None:
    org = signup(client)
    body = {"dtstart": "2027-04-05T09:00:00", "rrule": "FREQ=DAILY;COUNT=3"}
    answer = org.post("/v1/recurrence/preview", body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "timezone"]
    assert client.post("/v1/recurrence/preview",
                       json={**body, "timezone": "UTC"}).status_code == 401


def test_unknown_service_or_resources_are_404(client: TestClient) -> None:
    org = signup(client)
    resource(org)
    svc = service(org)
    body = {"dtstart": "2027-04-05T09:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=3"}
    assert org.post("/v1/recurrence/preview", {**body, "service_id": "svc_nope"}
                    ).status_code == 404
    assert org.post("/v1/recurrence/preview", {**body, "service_id": svc["id"],
                                               "resource_ids": ["res_nope"]}).status_code == 404
    other = signup(client)
    assert other.post("/v1/recurrence/preview", {**body, "service_id": svc["id"]}
                      ).status_code == 404


def test_each_occurrence_says_whether_it_can_be_booked_and_what_is_in_the_way(
        client: TestClient) -> None:
    # The clock stands at Monday 2027-03-01T12:00Z (07:00 in New York).
    org = signup(client, timezone="America/New_York")
    ada = resource(org, name="Dr Ada")
    svc = service(org, duration_min=60, min_notice_min=240, max_advance_days=30)
    booked = book(org, svc["id"], "2027-03-02T15:00:00Z")  # Tuesday 10:00 New York
    found = preview(org, dtstart="2027-03-01T10:00:00", timezone="America/New_York",
                    rrule="FREQ=WEEKLY;BYDAY=MO,TU,SA;UNTIL=20270410T000000Z",
                    service_id=svc["id"])
    by_start = {o["start"]: o for o in found["occurrences"]}
    assert by_start["2027-03-01T15:00:00Z"] == {
        "start": "2027-03-01T15:00:00Z", "end": "2027-03-01T16:00:00Z", "available": False,
        "conflicts": [{"start": "2027-03-01T15:00:00Z", "end": "2027-03-01T16:00:00Z",
                       "reason": "notice"}]}
    assert by_start["2027-03-02T15:00:00Z"]["conflicts"] == [
        {"resource_id": ada["id"], "start": booked["start"], "end": booked["end"],
         "reason": "busy"}]
    assert by_start["2027-03-06T15:00:00Z"]["conflicts"] == [
        {"resource_id": ada["id"], "start": "2027-03-06T15:00:00Z",
         "end": "2027-03-06T16:00:00Z", "reason": "closed"}]
    assert by_start["2027-03-08T15:00:00Z"] == {
        "start": "2027-03-08T15:00:00Z", "end": "2027-03-08T16:00:00Z", "available": True}
    assert by_start["2027-03-15T14:00:00Z"]["available"] is True  # 10:00 EDT
    assert [c["reason"] for c in by_start["2027-04-05T14:00:00Z"]["conflicts"]] == ["horizon"]
    # `available` is exactly what availability (and so a booking) finds now.
    offered = {s["start"] for s in availability(org, svc["id"], "2027-03-01T00:00:00Z",
                                                "2027-04-10T00:00:00Z")}
    assert {o["start"]: o["available"] for o in found["occurrences"]} == {
        o["start"]: o["start"] in offered for o in found["occurrences"]}


def test_an_off_grid_occurrence_is_refused_by_rule(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, duration_min=60)
    found = preview(org, dtstart="2027-03-02T10:30:00", timezone="UTC",
                    rrule="FREQ=DAILY;COUNT=1", service_id=svc["id"])
    assert found["occurrences"][0]["conflicts"] == [
        {"start": "2027-03-02T10:30:00Z", "end": "2027-03-02T11:30:00Z", "reason": "rule"}]


def test_limits_and_sequence_rules_are_conflicts_of_their_own(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    surgery = service(org, name="Surgery", duration_min=60, max_per_day=1)
    checkup = service(org, name="Check-up", duration_min=60, sequence_rules=[
        {"service_id": surgery["id"], "within_min": 120, "direction": "after"}])
    book(org, surgery["id"], "2027-03-02T09:00:00Z")
    body = {"dtstart": "2027-03-02T11:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=2"}
    limited = preview(org, **body, service_id=surgery["id"])["occurrences"]
    assert [c["reason"] for c in limited[0]["conflicts"]] == ["limit"]
    assert limited[0]["conflicts"][0]["start"] == "2027-03-02T00:00:00Z"
    ruled = preview(org, **body, service_id=checkup["id"])["occurrences"]
    assert [c["reason"] for c in ruled[0]["conflicts"]] == ["rule"]
    assert [o["available"] for o in limited + ruled] == [False, True, False, True]


def test_resource_ids_limit_the_pools_as_a_booking_does(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada")
    bob = resource(org, name="Dr Bob")
    svc = service(org, duration_min=60)
    book(org, svc["id"], "2027-03-02T10:00:00Z", resource_ids=[ada["id"]])
    body = {"dtstart": "2027-03-02T10:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=1",
            "service_id": svc["id"]}
    [only_ada] = preview(org, **body, resource_ids=[ada["id"]])["occurrences"]
    assert only_ada["available"] is False
    assert only_ada["conflicts"][0]["resource_id"] == ada["id"]
    [only_bob] = preview(org, **body, resource_ids=[bob["id"]])["occurrences"]
    assert only_bob["available"] is True
    assert preview(org, **body)["occurrences"][0]["available"] is True


def test_a_group_session_with_a_free_seat_is_available(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Studio", kind="room", capacity=10)
    svc = service(org, name="Yoga", capacity=2, requirements=[{"kind": "room"}])
    body = {"dtstart": "2027-03-02T10:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=2",
            "service_id": svc["id"]}
    book(org, svc["id"], "2027-03-02T10:00:00Z")
    assert [o["available"] for o in preview(org, **body)["occurrences"]] == [True, True]
    book(org, svc["id"], "2027-03-02T10:00:00Z")
    assert [o["available"] for o in preview(org, **body)["occurrences"]] == [False, True]


def test_five_hundred_occurrences_with_a_service_are_all_answered(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    for name in ("Dr Ada", "Dr Bob"):
        resource(org, name=name, weekly=[{"days": ["mon", "tue", "wed", "thu", "fri", "sat",
                                                   "sun"], "start": "08:00", "end": "20:00"}])
    svc = service(org, duration_min=60, max_advance_days=730)
    for day in range(2, 28):
        book(org, svc["id"], f"2027-03-{day:02d}T10:00:00Z")
    found = preview(org, dtstart="2027-03-02T10:00:00", timezone="UTC", rrule="FREQ=DAILY",
                    service_id=svc["id"])
    assert len(found["occurrences"]) == 500
    assert all(o["available"] for o in found["occurrences"][:26])  # the other doctor is free
