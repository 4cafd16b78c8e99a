"""Twilio Programmable Messaging through the official ``twilio`` library, asynchronously.

Transport. The library's :class:`AsyncTwilioHttpClient` is used with one correction: it hands
aiohttp the *per-request* timeout, which the REST resources never set, so the client's own
``timeout`` never applies and a request can hang for ever. :class:`_Transport` applies a
connect timeout and a total timeout to every request. It never retries (no ``max_retries``):
a blind retry of a POST is exactly what must not happen. ``twilio_api_base`` (tests, regional
edges) replaces the API domain's ``base_url``; the ``TWILIO_EDGE``/``TWILIO_REGION`` variables
are ignored because the settings are the single source of configuration.

Classification (rule 1 of :mod:`dispatch.sms.gateway`):

- connection never established (refused, DNS, TLS, connect timeout) → ``NOT_SENT``, retryable;
- HTTP 4xx from the API (validation 21211, 21606…, auth 20003, rate limit 20429) →
  ``NOT_SENT``; retryable for 408, 429 and the rate-limit codes;
- HTTP 5xx, 3xx, a timeout after connecting, a lost connection, an unreadable answer →
  ``UNKNOWN``.

Reconciliation. Twilio's Messages API has no idempotency key, so after an ``UNKNOWN`` attempt
the gateway *looks before it resends*: it lists the latest messages to the same number
(``GET Messages.json?To=…``, newest first) and takes an outbound message whose body is ours
(or ends with it: trial accounts prefix a notice) created no earlier than the first attempt
minus :data:`CLOCK_SKEW`. Found → ``SENT`` (replayed), nothing sent. Not found → resent only
once ``settle_seconds`` have passed since the last attempt, because a request cut off by our
timeout may still be processed; before that the answer is ``UNKNOWN`` (``outcome_pending``)
and the caller tries later. A failed lookup is ``UNKNOWN`` (``lookup_failed``). Dispatch
bodies carry a per-assignment link, so two keys never share a body to the same number within
the window; were they to, the second would be taken for the first: a missed page rather than
a double one, the safe side for this system.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from dispatch.sms.gateway import (
    Clock,
    DedupEntry,
    DedupingGateway,
    DedupStore,
    DeliveryStatus,
    GatewayConfigError,
    InboundSms,
    MessageStatus,
    OutboundSms,
    SendResult,
    SmsSettings,
    WebhookRequest,
    require,
    utc_now,
)
from dispatch.sms.webhooks import TwilioWebhooks

log = logging.getLogger("siaga.sms.twilio")

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_SETTLE_SECONDS = 120.0
LOOKUP_LIMIT = 50
CLOCK_SKEW = timedelta(seconds=30)
RETRYABLE_CODES = frozenset({20429, 14107})  # too many requests; SMS send rate limit


class _Transport(AsyncTwilioHttpClient):
    """The library's async HTTP client with timeouts that apply (see the module docstring).

    The aiohttp session is created on first use, inside the running event loop.
    """

    def __init__(self, timeout: aiohttp.ClientTimeout) -> None:
        super().__init__(pool_connections=False, timeout=timeout.total)
        self._client_timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._client_timeout)
        budget = self._client_timeout if timeout is None else aiohttp.ClientTimeout(
            total=timeout, connect=self._client_timeout.connect)
        headers = dict(headers or {})
        if auth is not None:
            # Built here: aiohttp deprecates BasicAuth objects and its newer helper is recent.
            pair = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        query: Any = params  # the library builds str-valued mappings
        async with self._session.request(
            method.upper(), url, params=query, data=data, headers=headers, timeout=budget,
            allow_redirects=allow_redirects,
        ) as response:
            return Response(response.status, await response.text(), response.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class TwilioGateway(DedupingGateway):
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        public_url: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        store: DedupStore | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if not from_number and not messaging_service_sid:
            raise GatewayConfigError("SIAGA_TWILIO_FROM_NUMBER or "
                                     "SIAGA_TWILIO_MESSAGING_SERVICE_SID is required when "
                                     "SIAGA_SMS_GATEWAY=twilio")
        super().__init__(store=store, clock=clock)
        self._from = from_number or None
        self._service = messaging_service_sid or None
        self._settle = timedelta(seconds=settle_seconds)
        self._transport = _Transport(aiohttp.ClientTimeout(total=timeout,
                                                           connect=connect_timeout))
        self._client = Client(account_sid, auth_token, http_client=self._transport)
        self._client.edge = None
        self._client.region = None
        if api_base:
            self._client.api.base_url = api_base.rstrip("/")
        self._webhooks = TwilioWebhooks(auth_token, public_url, clock=clock)

    @classmethod
    def from_settings(cls, settings: SmsSettings, *, store: DedupStore | None = None,
                      clock: Clock = utc_now, **options: Any) -> TwilioGateway:
        sid = require(settings.twilio_account_sid, "SIAGA_TWILIO_ACCOUNT_SID", "twilio")
        token = require(settings.twilio_auth_token, "SIAGA_TWILIO_AUTH_TOKEN", "twilio")
        return cls(sid, token.get_secret_value(), public_url=settings.public_url,
                   from_number=settings.twilio_from_number,
                   messaging_service_sid=settings.twilio_messaging_service_sid,
                   api_base=settings.twilio_api_base, store=store, clock=clock, **options)

    @property
    def webhooks(self) -> TwilioWebhooks:
        return self._webhooks

    async def _transmit(self, sms: OutboundSms) -> SendResult:
        options: dict[str, object] = {"to": sms.to, "body": sms.body}
        if self._from:
            options["from_"] = self._from
        if self._service:
            options["messaging_service_sid"] = self._service
        if sms.status_callback:
            options["status_callback"] = sms.status_callback
        try:
            message = await self._client.messages.create_async(**options)
        except (TwilioRestException, TwilioServiceException) as exc:
            result = _classify_error(exc.status, exc.code, _message_of(exc))
        except _FAILURES as exc:
            result = _classify_failure(exc)
        else:
            if not message.sid:
                result = SendResult.unknown("bad_response", "created without a sid")
            else:
                result = SendResult.sent(message.sid, MessageStatus.parse(message.status))
        log.info("sms send %s", result.outcome.value, extra={
            "event": "sms_send", "gateway": self.name, "sms_to": sms.to,
            "dedup_key": sms.dedup_key, "provider_id": result.provider_id,
            "error_code": result.error_code})
        return result

    async def _reconcile(self, sms: OutboundSms, previous: DedupEntry) -> SendResult | None:
        try:
            recent = await self._client.messages.list_async(to=sms.to, limit=LOOKUP_LIMIT)
        except _FAILURES as exc:  # cannot look, so cannot tell
            return SendResult.unknown("lookup_failed", _describe(exc))
        since = previous.first_attempt_at - CLOCK_SKEW
        for message in recent:
            if _is_ours(message, sms, since):
                log.info("sms found after unknown outcome", extra={
                    "event": "sms_reconciled", "gateway": self.name,
                    "dedup_key": sms.dedup_key, "provider_id": message.sid})
                return SendResult.sent(message.sid, MessageStatus.parse(message.status),
                                       replayed=True)
        if self._clock() - previous.last_attempt_at < self._settle:
            return SendResult.unknown(
                "outcome_pending", "not found at Twilio yet; the last attempt may still be "
                f"processed: retry after {self._settle.total_seconds():.0f} s")
        return None

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        return self._webhooks.inbound(request)

    def parse_status(self, request: WebhookRequest) -> DeliveryStatus:
        return self._webhooks.status(request)

    async def aclose(self) -> None:
        await self._transport.close()


def _is_ours(message: Any, sms: OutboundSms, since: datetime) -> bool:
    body = message.body or ""
    created: datetime | None = message.date_created
    return (
        bool(message.sid)
        and str(message.direction or "").startswith("outbound")
        and (body == sms.body or body.endswith(sms.body))
        # An unreadable date cannot rule the message out: take it (the no-double-page side).
        and (created is None or created >= since)
    )


def _message_of(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioRestException):
        return str(exc.msg)
    return str(exc.detail or exc.title)


def _classify_error(status: int, code: int | None, message: str) -> SendResult:
    label = str(code or status)
    if 400 <= status < 500:
        retryable = status in (408, 429) or (code in RETRYABLE_CODES)
        return SendResult.not_sent(label, message, retryable=retryable)
    return SendResult.unknown(label, f"HTTP {status}: {message}")


# Transport and decoding failures; anything else is a bug and propagates.
_FAILURES = (TimeoutError, aiohttp.ClientError, OSError, ValueError, TwilioException)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _classify_failure(exc: BaseException) -> SendResult:
    text = _describe(exc)
    # Order matters: a connect timeout is also a TimeoutError, a connector error an OSError.
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return SendResult.not_sent("connect_failed", text, retryable=True)
    if isinstance(exc, TimeoutError):
        return SendResult.unknown("timeout", text)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return SendResult.unknown("connection_lost", text)
    return SendResult.unknown("bad_response", text)  # ValueError (JSON), TwilioException
