"""A generic HTTP SMS gateway (a local GSM-modem box, an Indonesian aggregator behind a shim).

The protocol is ours, documented in ``docs/sms-gateway.md``: we POST
``{"to", "body", "dedup_key", "callback_url"}`` and get ``{"id", "status"}``; the gateway
POSTs inbound messages and status reports to us. Both directions are signed with the shared
secret (:func:`dispatch.sms.webhooks.sign_http_gateway`).

Retry safety rests on the protocol: the gateway must treat a second POST with a ``dedup_key``
it has seen as the same message and answer with the first ``id`` (and ``"duplicate": true``)
without sending again. So an ``UNKNOWN`` send (a timeout, or an attempt cut off by a crash
of ours) is reconciled simply by sending again with the same key. The key also travels as
the ``Idempotency-Key`` header, so a gateway (or a proxy in front of it) can de-duplicate
without parsing the body.

Classification (see :mod:`dispatch.sms.gateway`, rule 1): no connection made → ``NOT_SENT``
(retryable); 2xx with an ``id`` → ``SENT``; 4xx → ``NOT_SENT`` (429 and 408 retryable);
3xx → ``NOT_SENT`` (a misconfigured URL: redirects are not followed); 5xx, timeouts after
connecting, lost connections and unreadable 2xx answers → ``UNKNOWN``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from dispatch.sms.gateway import (
    Clock,
    DedupEntry,
    DedupingGateway,
    DedupStore,
    DeliveryStatus,
    InboundSms,
    MessageStatus,
    OutboundSms,
    SendResult,
    SmsSettings,
    WebhookRequest,
    require,
    utc_now,
)
from dispatch.sms.webhooks import HttpGatewayWebhooks, sign_http_gateway

log = logging.getLogger("siaga.sms.http")

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0

# Failures before the request could be written: nothing reached the gateway.
_NEVER_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                    httpx.ProxyError, httpx.UnsupportedProtocol)


class HttpGateway(DedupingGateway):
    name = "http"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        store: DedupStore | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(store=store, clock=clock)
        self._url = url
        self._secret = secret
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False)
        self._webhooks = HttpGatewayWebhooks(secret, clock=clock)

    @classmethod
    def from_settings(cls, settings: SmsSettings, client: httpx.AsyncClient | None = None,
                      *, store: DedupStore | None = None, clock: Clock = utc_now,
                      **options: Any) -> HttpGateway:
        url = require(settings.http_gateway_url, "SIAGA_HTTP_GATEWAY_URL", "http")
        secret = require(settings.http_gateway_secret, "SIAGA_HTTP_GATEWAY_SECRET", "http")
        return cls(url, secret.get_secret_value(), client=client, store=store, clock=clock,
                   **options)

    async def _transmit(self, sms: OutboundSms) -> SendResult:
        payload = {"to": sms.to, "body": sms.body, "dedup_key": sms.dedup_key,
                   "callback_url": sms.status_callback}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": sms.dedup_key,
                   **sign_http_gateway(self._secret, raw, self._clock())}
        try:
            response = await self._client.post(self._url, content=raw, headers=headers,
                                               timeout=self._timeout, follow_redirects=False)
        except _NEVER_CONNECTED as exc:
            result = SendResult.not_sent("connect_failed", _describe(exc), retryable=True)
        except httpx.TimeoutException as exc:
            result = SendResult.unknown("timeout", _describe(exc))
        except httpx.TransportError as exc:
            result = SendResult.unknown("connection_lost", _describe(exc))
        else:
            result = _classify(response)
        log.info("sms send %s", result.outcome.value, extra={
            "event": "sms_send", "gateway": self.name, "sms_to": sms.to,
            "dedup_key": sms.dedup_key, "provider_id": result.provider_id,
            "error_code": result.error_code})
        return result

    async def _reconcile(self, sms: OutboundSms, previous: DedupEntry) -> SendResult | None:
        return None  # the gateway deduplicates on dedup_key: resending the key is safe

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        return self._webhooks.inbound(request)

    def parse_status(self, request: WebhookRequest) -> DeliveryStatus:
        return self._webhooks.status(request)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"], str(data.get("message") or response.reason_phrase)
    return f"http_{response.status_code}", response.text[:200] or response.reason_phrase


def _classify(response: httpx.Response) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return SendResult.unknown("bad_response", f"HTTP {status} without an id")
        word = data.get("status")
        return SendResult.sent(data["id"],
                               MessageStatus.parse(word if isinstance(word, str) else "queued"),
                               replayed=data.get("duplicate") is True)
    if 300 <= status < 400:
        return SendResult.not_sent(f"http_{status}", "redirected: check SIAGA_HTTP_GATEWAY_URL")
    if 400 <= status < 500:
        code, message = _error_of(response)
        return SendResult.not_sent(code, message, retryable=status in (408, 429))
    code, message = _error_of(response)
    return SendResult.unknown(code, f"HTTP {status}: {message}")
