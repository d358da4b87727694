"""Fuzz the whole API from its own OpenAPI document (schemathesis): whatever the input, the
answer is never a 5xx and conforms to the documented status codes, content types and schemas.

"Schema-valid request rejected" is not checked: some rules are not expressible in the
schema (IANA zone names, end after start, a closed date without hours), and refusing those
with a 422 that names the field is the contract."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from slotwise.api.app import create_app
from slotwise.bootstrap import Container
from slotwise.testing.api import auth, book, resource, service, signup

EXAMPLES_PER_OPERATION = 25


def test_no_input_breaks_any_operation(container: Container) -> None:
    app = create_app(container.use_cases)
    with TestClient(app) as client:
        org = signup(client, timezone="UTC")
        resource(org)
        svc = service(org)
        book(org, svc["id"], "2027-03-08T10:00:00Z")
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    fresh = TestClient(app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        cases = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                          operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

        @given(case=cases)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            # A real token replaces the generated one; a case that leaves Authorization out on
            # purpose (negative data) must stay without it, and be refused.
            sends_token = "authorization" in {k.lower() for k in (case.headers or {})}
            headers = org.headers
            if case.path == "/v1/logout":  # it ends the session it is called with
                headers = auth(fresh.post("/v1/login", json={
                    "email": org.email, "password": "correct horse battery"}).json()["token"])
            case.call_and_validate(headers=headers if sends_token else {},
                                   excluded_checks=[positive_data_acceptance])

        fuzz()
