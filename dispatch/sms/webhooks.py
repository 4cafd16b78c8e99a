"""Authenticating and parsing provider webhooks, without a web framework.

A route hands over what it received (:class:`~dispatch.sms.gateway.WebhookRequest`: method,
path and query relative to the public URL, headers, raw body) and gets back a parsed
:class:`~dispatch.sms.gateway.InboundSms` or :class:`~dispatch.sms.gateway.DeliveryStatus`,
or a :class:`WebhookRejected` whose ``reason`` is precise and whose ``http_status`` is the
answer to give. Nothing here does I/O, so the route can answer within Twilio's 15 s and queue
the work.

Rules:

1. Authenticate before parsing: an unauthenticated body is never interpreted.
2. Twilio signs the URL *it* called. Behind a proxy or TLS terminator that is not the URL the
   request arrived on, so the signature is checked against ``public_url + path`` (the
   configured public URL), never against the request's own scheme, host or port.
3. The HTTP gateway signs ``timestamp + "." + raw body`` with HMAC-SHA256 under the shared
   secret; a request more than :data:`MAX_SKEW_SECONDS` from our clock is refused (replay).
   Within that window a replay is still possible: consumers de-duplicate on the provider id,
   as they must anyway because providers retry. A nonce cache would turn an honest retry of
   the same request into a refusal, losing a crew's reply.
4. Digests are compared in constant time (``hmac.compare_digest``; Twilio's validator has its
   own constant-time compare).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import phonenumbers
from twilio.request_validator import (
    SIGNATURE_HEADER as TWILIO_SIGNATURE_HEADER,
)
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER as TWILIO_SIGNATURE_SETTINGS_HEADER,
)
from twilio.request_validator import (
    RequestValidator,
    get_signature_algorithm,
)

from dispatch.sms.gateway import (
    Clock,
    DeliveryStatus,
    InboundSms,
    MessageStatus,
    SmsError,
    WebhookRequest,
    utc_now,
)

SIGNATURE_HEADER = "X-Siaga-Signature"
TIMESTAMP_HEADER = "X-Siaga-Timestamp"
SIGNATURE_PREFIX = "sha256="
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024  # an SMS webhook is under 2 KiB; refuse anything absurd unparsed


class RejectReason(enum.Enum):
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    MALFORMED = "malformed"


_HTTP_STATUS = {
    RejectReason.METHOD_NOT_ALLOWED: 405,
    RejectReason.TOO_LARGE: 413,
    RejectReason.MALFORMED: 400,
}


class WebhookRejected(SmsError):
    """The request is not an authentic, well-formed webhook. Answer ``http_status``; do not
    echo ``detail`` to the peer beyond the reason (it helps operators, not attackers)."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.reason, 403)


class FormParams(dict[str, str]):
    """Form fields, first value per name, with every value kept for signature checks (the
    validator calls ``getall`` as it does on a Flask MultiDict)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}
        for name, value in pairs:
            self._all.setdefault(name, []).append(value)
            self.setdefault(name, value)

    def getall(self, name: str) -> list[str]:
        return list(self._all[name])


def _check_envelope(request: WebhookRequest) -> None:
    if request.method.upper() != "POST":
        raise WebhookRejected(RejectReason.METHOD_NOT_ALLOWED, request.method)
    if len(request.body) > MAX_BODY_BYTES:
        raise WebhookRejected(RejectReason.TOO_LARGE, f"{len(request.body)} bytes")


def parse_form(body: bytes) -> FormParams:
    try:
        text = body.decode("utf-8")
        return FormParams(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(RejectReason.MALFORMED, f"not a form body: {exc}") from None


def _required(fields: dict[str, str], *names: str) -> str:
    for name in names:
        value = fields.get(name)
        if value:
            return value
    raise WebhookRejected(RejectReason.MALFORMED, f"missing field {names[0]}")


class TwilioWebhooks:
    """Twilio's inbound-message and status-callback webhooks (form POSTs signed with the
    account's auth token in ``X-Twilio-Signature``)."""

    def __init__(self, auth_token: str, public_url: str, *, clock: Clock = utc_now) -> None:
        self._validator = RequestValidator(auth_token)
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    def url_for(self, path: str) -> str:
        """The URL Twilio calls (and signs) for ``path``: configure this one at Twilio."""
        return self._public_url + (path if path.startswith("/") else "/" + path)

    def verify(self, request: WebhookRequest) -> FormParams:
        _check_envelope(request)
        signature = request.header(TWILIO_SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(RejectReason.MISSING_SIGNATURE, TWILIO_SIGNATURE_HEADER)
        params = parse_form(request.body)
        algorithm = get_signature_algorithm(request.header(TWILIO_SIGNATURE_SETTINGS_HEADER))
        url = self.url_for(request.path)
        if not self._validator.validate(url, params, signature, algorithm=algorithm):
            raise WebhookRejected(RejectReason.BAD_SIGNATURE, f"not signed for {url}")
        return params

    def inbound(self, request: WebhookRequest) -> InboundSms:
        params = self.verify(request)
        return InboundSms(
            provider_id=_required(params, "MessageSid", "SmsMessageSid", "SmsSid"),
            from_=_required(params, "From"),
            to=_required(params, "To"),
            body=params.get("Body", ""),
            received_at=self._clock(),  # Twilio's inbound webhook carries no timestamp
        )

    def status(self, request: WebhookRequest) -> DeliveryStatus:
        params = self.verify(request)
        raw = _required(params, "MessageStatus", "SmsStatus")
        return DeliveryStatus(
            provider_id=_required(params, "MessageSid", "SmsSid"),
            status=MessageStatus.parse(raw),
            error_code=params.get("ErrorCode") or None,
            raw_status=raw,
        )


def http_gateway_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Siaga-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def sign_http_gateway(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """Headers authenticating ``body``; both directions of the HTTP gateway use them."""
    timestamp = int(now.timestamp())
    return {TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: http_gateway_signature(secret, timestamp, body)}


class HttpGatewayWebhooks:
    """Inbound messages and status reports from the generic HTTP gateway (JSON bodies signed
    with the shared secret; see ``docs/sms-gateway.md``)."""

    def __init__(self, secret: str, *, clock: Clock = utc_now) -> None:
        self._secret = secret
        self._clock = clock

    def verify(self, request: WebhookRequest) -> dict[str, Any]:
        _check_envelope(request)
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(RejectReason.MISSING_SIGNATURE, SIGNATURE_HEADER)
        stamp = request.header(TIMESTAMP_HEADER)
        if not stamp:
            raise WebhookRejected(RejectReason.MISSING_TIMESTAMP, TIMESTAMP_HEADER)
        try:
            timestamp = int(stamp)
        except ValueError:
            raise WebhookRejected(RejectReason.BAD_TIMESTAMP, repr(stamp[:40])) from None
        expected = http_gateway_signature(self._secret, timestamp, request.body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise WebhookRejected(RejectReason.BAD_SIGNATURE, "HMAC mismatch")
        # Checked after the signature: "stale" then means authentic but old (a replay or a
        # clock off by minutes), which is what an operator needs to know.
        skew = abs(self._clock().timestamp() - timestamp)
        if skew > MAX_SKEW_SECONDS:
            raise WebhookRejected(RejectReason.STALE_TIMESTAMP, f"{skew:.0f} s from our clock")
        return parse_json_object(request.body)

    def inbound(self, request: WebhookRequest) -> InboundSms:
        return inbound_from_json(self.verify(request), self._clock)

    def status(self, request: WebhookRequest) -> DeliveryStatus:
        return status_from_json(self.verify(request))


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(RejectReason.MALFORMED, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(RejectReason.MALFORMED, "JSON body must be an object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise WebhookRejected(RejectReason.MALFORMED, f"missing field {name}")
        return None
    if not isinstance(value, str):
        raise WebhookRejected(RejectReason.MALFORMED, f"field {name} must be a string")
    return value


def normalise_number(raw: str) -> str:
    """E.164 where the number can be read (a modem reports ``0812…`` for ``+62812…``)."""
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _timestamp(data: dict[str, Any], clock: Callable[[], datetime]) -> datetime:
    raw = _text(data, "received_at", required=False)
    if raw is None:
        return clock()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise WebhookRejected(RejectReason.MALFORMED, "received_at is not ISO 8601") from None
    if value.tzinfo is None:
        raise WebhookRejected(RejectReason.MALFORMED, "received_at needs a UTC offset")
    return value.astimezone(UTC)


def inbound_from_json(data: dict[str, Any], clock: Clock = utc_now) -> InboundSms:
    """``{"id", "from", "to"?, "body", "received_at"?}`` → :class:`InboundSms`.

    ``to`` may be missing: a modem's SIM often does not know its own number.
    """
    body = data.get("body", "")
    if not isinstance(body, str):
        raise WebhookRejected(RejectReason.MALFORMED, "field body must be a string")
    return InboundSms(
        provider_id=_text(data, "id") or "",
        from_=normalise_number(_text(data, "from") or ""),
        to=normalise_number(_text(data, "to", required=False) or ""),
        body=body,
        received_at=_timestamp(data, clock),
    )


def status_from_json(data: dict[str, Any]) -> DeliveryStatus:
    """``{"id", "status", "error"?}`` → :class:`DeliveryStatus`."""
    raw = _text(data, "status") or ""
    error = data.get("error")
    if error is not None and not isinstance(error, str | int):
        raise WebhookRejected(RejectReason.MALFORMED, "field error must be a string")
    return DeliveryStatus(
        provider_id=_text(data, "id") or "",
        status=MessageStatus.parse(raw),
        error_code=str(error) if error not in (None, "") else None,
        raw_status=raw,
    )
