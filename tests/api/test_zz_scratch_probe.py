from tests.api.test_rush_lane import FREE, TAKEN, alternatives, attempt, availability, book, resource, service, signup


def test_probe(client):
    org = signup(client, timezone="UTC")
    res = resource(org, name="Studio", kind="room", capacity=3)
    svc = service(org, name="Class", duration_min=60, capacity=3, requirements=[
        {"kind": "room", "resource_ids": [res["id"]]}])["id"]
    for _ in range(3):
        book(org, svc, TAKEN)
    for n in range(3):
        book(org, svc, FREE) if n < 2 else None
        r = attempt(org, svc, TAKEN)
        print("ALT", n, r.status_code, [a[11:16] for a in alternatives(r)])
        print("AVL", n, [s["start"][11:16] for s in availability(org, svc, "2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")])
