"""The `SmsSender` port over Twilio's Messages API (thin httpx calls, no SDK).

    POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json
    form: To, From, Body; HTTP basic auth (AccountSid, AuthToken); 201 with the message's `sid`

Errors carry Twilio's own code (21211: invalid 'To' number, 20003: authentication, ...):

    400 and other 4xx                     DeliveryRejected (this message will never go)
    401, 403, 404                         DeliveryUnavailable (the account or its credentials
                                          are wrong: an operator fixes them, then it goes)
    429, 5xx, no answer                   DeliveryUnavailable

Twilio documents creating a message as not idempotent: after a 500 or a timeout it may have
gone. Those raise `DeliveryUnavailable(maybe_sent=True)` (a refused connection or a 503 do
not). The idempotency key is sent as
`I-Twilio-Idempotency-Token` all the same (the header Twilio uses for its own webhooks); no
Twilio document promises that message creation deduplicates on it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from slotwise.domain.notifications import DeliveryRejected, DeliveryUnavailable, Sms

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


class TwilioSms:
    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 api_base: str = "https://api.twilio.com", client: httpx.Client | None = None,
                 timeout_s: float = 10) -> None:
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._from = from_number
        self._url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._owns_client = client is None
        self._client = client or httpx.Client()
        self._timeout = httpx.Timeout(timeout_s)

    def send(self, sms: Sms, idempotency_key: str) -> str:
        try:
            response = self._client.post(
                self._url, data={"To": sms.to, "From": self._from, "Body": sms.body},
                auth=self._auth, headers={IDEMPOTENCY_HEADER: idempotency_key},
                timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise DeliveryUnavailable(f"Twilio unreachable: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise DeliveryUnavailable(f"Twilio did not answer: {exc!r}", maybe_sent=True
                                      ) from exc

        status = response.status_code
        if 200 <= status < 300:
            sid = _json(response).get("sid")
            if not isinstance(sid, str) or not sid:
                raise DeliveryUnavailable(f"Twilio answered {status} without a sid",
                                          maybe_sent=True)
            return sid
        body = _json(response)
        code = str(body["code"]) if body.get("code") is not None else None
        detail = f"Twilio {status}" + (f" ({code})" if code else "") + \
            f": {body.get('message') or response.text[:200]}"
        if status in (401, 403, 404, 429):
            raise DeliveryUnavailable(detail, code=code)
        if status >= 500:
            # A 503 turns the request away; any other 5xx may come after the message left.
            raise DeliveryUnavailable(detail, code=code, maybe_sent=status != 503)
        raise DeliveryRejected(detail, code=code)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> TwilioSms:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
