"""A local HTTP server speaking the part of the Stripe API that the payment adapter uses.

No complete offline Stripe exists, so this one answers, over real HTTP on an ephemeral port
of 127.0.0.1, with Stripe's payloads, form-encoded request bodies, bearer-key auth, error
bodies and idempotency replay:

    POST /v1/payment_intents              create (amount, currency, metadata, ...)
    GET  /v1/payment_intents/{id}         retrieve (``expand[]=latest_charge``)
    POST /v1/payment_intents/{id}/cancel  cancel (only before it succeeds)
    POST /v1/refunds                      refund a succeeded intent, in part or in full

What the customer's browser would do is driven from the test: ``succeed(pi)`` and
``fail(pi)`` change the intent and return the webhook body Stripe would send; ``headers_for``
signs a body as Stripe does. Every event the fake emits is kept in ``events``.

    with FakeStripe() as fake:
        gateway = StripeGateway(fake.api_key, fake.webhook_secret, api_base=fake.url)
        payment = gateway.create(request)
        body = fake.succeed(payment.external_id)
        event = gateway.parse_webhook(body, fake.headers_for(body))
"""

from __future__ import annotations

import copy
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slotwise.testing.fakes.http import LocalServer

__all__ = ["FakeStripe", "SeenRequest", "event_body", "sign"]

_ALNUM = string.ascii_letters + string.digits
_CANCELLABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
                "requires_action", "processing")
_DEFAULT_VERSION = "2025-01-27.acacia"


def _id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(n))


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``body``: ``t=<unix time>,v1=<hex>``, where
    ``v1`` is HMAC-SHA256 keyed by the endpoint's secret over ``"<t>." + body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, sha256).hexdigest()
    return f"t={t},v1={mac}"


def event_body(event_type: str, obj: Mapping[str, Any], *, created: int | None = None,
               event_id: str | None = None, api_version: str = _DEFAULT_VERSION) -> bytes:
    """A webhook body as Stripe sends it: an ``event`` whose ``data.object`` is ``obj``."""
    return json.dumps({
        "id": event_id or _id("evt_"),
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": dict(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }, indent=2).encode()


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested values: ``metadata[booking_id]=b1`` becomes
    ``{"metadata": {"booking_id": "b1"}}``, ``expand[0]=x`` becomes ``{"expand": ["x"]}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    nested: dict[str, Any] = _lists(root)
    return nested


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Failure:
    status: int
    error: dict[str, Any]
    times: int
    drop: bool = False


class _ApiError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> _ApiError:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return _ApiError(400, error)


def _missing(kind: str, object_id: str, param: str) -> _ApiError:
    return _ApiError(404, {"type": "invalid_request_error", "code": "resource_missing",
                           "param": param, "message": f"No such {kind}: '{object_id}'"})


_DEFAULT_ERRORS: dict[str, tuple[str | None, str]] = {
    "card_error": ("card_declined", "Your card was declined."),
    "api_error": (None, "An unknown error occurred on Stripe's side."),
    "rate_limit": ("rate_limit", "Request rate limit exceeded. Too many requests hit the API "
                                 "too quickly."),
    "invalid_request_error": ("parameter_invalid", "Invalid request."),
    "idempotency_error": (None, "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with."),
}


@dataclass
class _State:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)


class FakeStripe:
    """The server; start it with ``with`` (or ``start()``/``stop()``). Thread-safe."""

    def __init__(self, *, api_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake",
                 clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self.requests: list[SeenRequest] = []
        self.events: list[dict[str, Any]] = []
        self._server: LocalServer | None = None

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = LocalServer(Handler, "fake-stripe")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return self._server.root_url

    # Driving it from a test.

    def fail_next(self, status: int, error_type: str | None = None, *, code: str | None = None,
                  message: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with a Stripe error body, before the endpoint
        runs (so, as on Stripe, the failure is not stored under the idempotency key).
        ``error_type`` defaults by status: 402 ``card_error``, 429 ``rate_limit``, 5xx
        ``api_error``, other 4xx ``invalid_request_error``."""
        kind = error_type or ("card_error" if status == 402 else "rate_limit" if status == 429
                              else "api_error" if status >= 500 else "invalid_request_error")
        default_code, default_message = _DEFAULT_ERRORS.get(kind, (None, "Request failed."))
        error: dict[str, Any] = {
            # Stripe reports a rate limit as an invalid request with code rate_limit.
            "type": "invalid_request_error" if kind == "rate_limit" else kind,
            "message": message or default_message,
        }
        if code or default_code:
            error["code"] = code or default_code
        if kind == "card_error":
            error["decline_code"] = "generic_decline"
        with self._lock:
            self._state.failures.append(_Failure(status, error, times))

    def drop_next(self, times: int = 1) -> None:
        """Close the next ``times`` connections without answering (a network failure)."""
        with self._lock:
            self._state.failures.append(_Failure(0, {}, times, drop=True))

    def succeed(self, intent_id: str) -> bytes:
        """The customer pays: the intent succeeds with a charge. Returns the
        ``payment_intent.succeeded`` webhook body."""
        with self._lock:
            intent = self._intent(intent_id)
            charge = {
                "id": _id("ch_"), "object": "charge", "amount": intent["amount"],
                "amount_captured": intent["amount"], "amount_refunded": 0,
                "captured": True, "created": self._now(), "currency": intent["currency"],
                "description": intent["description"], "livemode": False,
                # Stripe copies the intent's metadata onto its charges.
                "metadata": dict(intent["metadata"]), "paid": True,
                "payment_intent": intent_id, "receipt_email": intent["receipt_email"],
                "refunded": False, "status": "succeeded",
            }
            self._state.charges[charge["id"]] = charge
            intent.update(status="succeeded", amount_received=intent["amount"],
                          latest_charge=charge["id"], last_payment_error=None)
            self._emit("charge.succeeded", charge)
            return self._emit("payment_intent.succeeded", intent)

    def fail(self, intent_id: str, code: str = "card_declined") -> bytes:
        """A payment attempt fails; the intent waits for another payment method. Returns the
        ``payment_intent.payment_failed`` webhook body."""
        with self._lock:
            intent = self._intent(intent_id)
            intent.update(status="requires_payment_method", last_payment_error={
                "type": "card_error", "code": code, "decline_code": "generic_decline",
                "message": "Your card was declined."})
            return self._emit("payment_intent.payment_failed", intent)

    def headers_for(self, body: bytes, *, secret: str | None = None,
                    timestamp: int | None = None) -> dict[str, str]:
        """Headers of a webhook delivery of ``body``, signed with this endpoint's secret (or
        ``secret``) at ``timestamp`` (default now)."""
        t = int(self._clock()) if timestamp is None else timestamp
        return {"Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(body, secret or self.webhook_secret, timestamp=t)}

    def last_event(self, event_type: str) -> bytes:
        """The body of the latest emitted event of that type."""
        with self._lock:
            found = next(e for e in reversed(self.events) if e["type"] == event_type)
            return json.dumps(found, indent=2).encode()

    def intent(self, intent_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._intent(intent_id))

    # Inside (called with the lock held).

    def _now(self) -> int:
        return int(self._clock())

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self._state.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "intent")
        return intent

    def _emit(self, event_type: str, obj: dict[str, Any]) -> bytes:
        body = event_body(event_type, copy.deepcopy(obj), created=self._now())
        self.events.append(json.loads(body))
        return body

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes
                ) -> tuple[int, bytes, dict[str, str]] | None:
        """(status, body, extra headers), or None to drop the connection."""
        url = urlsplit(target)
        pairs = parse_qsl(url.query if method == "GET" else raw.decode(), keep_blank_values=True)
        params = decode_form(pairs)
        with self._lock:
            self.requests.append(SeenRequest(method, url.path, params, headers))
            failure = self._state.failures[0] if self._state.failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._state.failures.pop(0)
                if failure.drop:
                    return None
                return failure.status, _error_body(failure.error), {}
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return 401, _error_body({
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: " + headers.get(
                        "authorization", "")[-4:].rjust(12, "*")}), {}
            key = headers.get("idempotency-key") if method == "POST" else None
            fingerprint = json.dumps([method, url.path, params], sort_keys=True)
            if key is not None and key in self._state.replies:
                seen, status, body = self._state.replies[key]
                if seen != fingerprint:
                    return 400, _error_body({
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same "
                                   f"parameters they were first used with. Try using a key "
                                   f"other than '{key}' if you meant to execute a different "
                                   "request."}), {}
                return status, body, {"Idempotent-Replayed": "true", "Idempotency-Key": key}
            try:
                status, answer = 200, self._route(method, url.path, params)
                body = json.dumps(answer, indent=2).encode()
            except _ApiError as e:
                status, body = e.status, _error_body(e.error)
            if key is not None:
                self._state.replies[key] = (fingerprint, status, body)
            return status, body, {"Idempotency-Key": key} if key else {}

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_intent(params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payment_intents"]:
            intent = copy.deepcopy(self._intent(parts[2]))
            if "latest_charge" in params.get("expand", []) and intent["latest_charge"]:
                intent["latest_charge"] = copy.deepcopy(
                    self._state.charges[intent["latest_charge"]])
            return intent
        if method == "POST" and len(parts) == 4 and parts[1] == "payment_intents" \
                and parts[3] == "cancel":
            return self._cancel_intent(parts[2], params)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._create_refund(params)
        raise _ApiError(404, {"type": "invalid_request_error",
                              "message": f"Unrecognized request URL ({method}: {path})."})

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        amount = _positive_int(params.get("amount"), "amount")
        currency = params.get("currency")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise _invalid(f"Invalid currency: {currency}.", param="currency")
        intent_id = _id("pi_")
        apm = params.get("automatic_payment_methods") or {}
        intent: dict[str, Any] = {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_received": 0,
            "automatic_payment_methods": {"allow_redirects": "always", "enabled": True}
            if apm.get("enabled") == "true" else None,
            "canceled_at": None, "cancellation_reason": None,
            "capture_method": "automatic_async", "client_secret": f"{intent_id}_secret_"
            + _id("", 25), "confirmation_method": "automatic", "created": self._now(),
            "currency": currency.lower(), "customer": None,
            "description": params.get("description"), "last_payment_error": None,
            "latest_charge": None, "livemode": False, "metadata": params.get("metadata") or {},
            "next_action": None, "payment_method": None, "payment_method_types": ["card"],
            "receipt_email": params.get("receipt_email"), "status": "requires_payment_method",
        }
        self._state.intents[intent_id] = intent
        return copy.deepcopy(intent)

    def _cancel_intent(self, intent_id: str, params: dict[str, Any]) -> dict[str, Any]:
        intent = self._intent(intent_id)
        if intent["status"] not in _CANCELLABLE:
            raise _invalid(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(_CANCELLABLE)}.",
                code="payment_intent_unexpected_state")
        intent.update(status="canceled", canceled_at=self._now(),
                      cancellation_reason=params.get("cancellation_reason"))
        self._emit("payment_intent.canceled", intent)
        return copy.deepcopy(intent)

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        if not isinstance(intent_id, str):
            raise _invalid("One of the following params should be provided for this request: "
                           "payment_intent or charge.", code="parameter_missing")
        intent = self._intent(intent_id)
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise _invalid("This PaymentIntent does not have a successful charge to refund.",
                           code="payment_intent_unexpected_state")
        charge = self._state.charges[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            raise _invalid(f"Charge {charge['id']} has already been refunded.",
                           code="charge_already_refunded")
        amount = _positive_int(params["amount"], "amount") if "amount" in params else left
        if amount > left:
            raise _invalid(f"Refund amount ({amount}) is greater than unrefunded amount on "
                           f"charge ({left})", code="amount_too_large", param="amount")
        refund = {
            "id": _id("re_"), "object": "refund", "amount": amount, "charge": charge["id"],
            "created": self._now(), "currency": charge["currency"],
            "metadata": params.get("metadata") or {}, "payment_intent": intent_id,
            "reason": params.get("reason"), "status": "succeeded",
        }
        self._state.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("refund.created", refund)
        self._emit("charge.refunded", charge)
        return copy.deepcopy(refund)


def _positive_int(value: Any, param: str) -> int:
    if not isinstance(value, str) or not value.isdigit() or int(value) < 1:
        raise _invalid(f"Invalid positive integer: {value}", code="parameter_invalid_integer",
                       param=param)
    return int(value)


def _error_body(error: dict[str, Any]) -> bytes:
    return json.dumps({"error": error}, indent=2).encode()


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe  # set on the subclass `FakeStripe.start` serves

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        result = self.stripe._handle(method, self.path, headers, raw)
        if result is None:
            self.close_connection = True
            return
        status, body, extra = result
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", _id("req_", 14))
        self.send_header("Stripe-Version", headers.get("stripe-version", _DEFAULT_VERSION))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `FakeStripe.requests` instead of a log on stderr
