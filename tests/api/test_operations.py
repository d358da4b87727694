"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from slotwise.testing.api import book, resource, service, signup


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"


def test_metrics_count_requests_and_bookings(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    book(org, svc["id"], "2027-03-08T10:00:00Z")
    org.post("/v1/bookings", {"service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
                              "customer": {"name": "C", "email": "c@example.com"}})
    text = client.get("/metrics").text
    assert 'slotwise_bookings_created_total{channel="api"} 1.0' in text
    assert 'slotwise_bookings_refused_total{reason="SlotUnavailable"} 1.0' in text
    assert 'slotwise_http_request_duration_seconds_bucket{le="0.005",method="POST"' in text


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    assert client.get("/healthz").headers["x-request-id"]
    assert client.get("/healthz", headers={"X-Request-ID": "r-1"}).headers["x-request-id"] == "r-1"


def test_openapi_documents_every_route_and_its_problems(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/signup", "/v1/login", "/v1/api-keys", "/v1/users", "/v1/locations",
                 "/v1/resources", "/v1/resources/{resource_id}/schedule",
                 "/v1/resources/{resource_id}/blocks", "/v1/services",
                 "/v1/services/{service_id}/availability", "/v1/holds", "/v1/holds/{hold_id}",
                 "/v1/bookings", "/v1/bookings/{booking_id}/cancel",
                 "/v1/bookings/{booking_id}/reschedule", "/v1/public/{org_slug}/services",
                 "/v1/public/bookings/{booking_id}/cancel"):
        assert path in paths, path
    post_booking = paths["/v1/bookings"]["post"]["responses"]
    assert {"201", "409", "422", "401"} <= set(post_booking)
    assert "SlotProblem" in schema["components"]["schemas"]
