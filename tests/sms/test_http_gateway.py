"""The generic HTTP gateway: the signed JSON we send, how answers are classified, and the
HMAC + timestamp authentication of what the gateway sends us."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dispatch.sms.gateway import (
    GatewayConfigError,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    WebhookRequest,
    build_gateway,
)
from dispatch.sms.http_gateway import HttpGateway
from dispatch.sms.webhooks import (
    HttpGatewayWebhooks,
    RejectReason,
    WebhookRejected,
    sign_http_gateway,
)
from kernel.config import Settings
from tests.sms.conftest import CREW, Harness
from tests.sms.fake_http_gateway import FakeHttpGateway, signature
from tests.sms.servers import ManualClock

SECRET = "s3cret-shared-with-the-modem-box"
BODY = "PSC119 #PSC-0007 HIJAU Jl. Ikan Tongkol 3 Mayangan. Balas 1=OTW https://s.id/a/p0"
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def fake_of(h: Harness) -> FakeHttpGateway:
    assert isinstance(h.provider, FakeHttpGateway)
    return h.provider


def signed(payload: object, *, at: datetime = NOW, secret: str = SECRET) -> WebhookRequest:
    """A request the gateway would send, signed by the documented scheme (the fake's own
    implementation of it, not ours)."""
    raw = json.dumps(payload).encode()
    stamp = str(int(at.timestamp()))
    return WebhookRequest("POST", "/sms/http/inbound",
                          {"Content-Type": "application/json", "X-Siaga-Timestamp": stamp,
                           "X-Siaga-Signature": signature(secret, stamp, raw)}, raw)


def webhooks() -> HttpGatewayWebhooks:
    return HttpGatewayWebhooks(SECRET, clock=lambda: NOW)


def rejection(action: Callable[[], object]) -> RejectReason:
    with pytest.raises(WebhookRejected) as caught:
        action()
    return caught.value.reason


class TestOutbound:
    async def test_the_gateway_receives_signed_json(self, http_gw: Harness) -> None:
        fake = fake_of(http_gw)
        result = await http_gw.gateway.send(OutboundSms(CREW, BODY, "assignment:7",
                                                       http_gw.callback_url))
        [request] = fake.requests
        assert request.authorized
        assert request.payload == {"to": CREW, "body": BODY, "dedup_key": "assignment:7",
                                   "callback_url": http_gw.callback_url}
        assert request.headers["content-type"] == "application/json"
        assert (result.outcome, result.provider_id) == (SendOutcome.SENT, next(iter(fake.messages)))

    async def test_a_wrong_secret_is_refused_by_the_gateway(self, http_gw: Harness) -> None:
        fake = fake_of(http_gw)
        gateway = HttpGateway(fake.send_url, "not-the-secret")
        try:
            result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        finally:
            await gateway.aclose()
        assert (result.outcome, result.error_code, result.retryable) == (
            SendOutcome.NOT_SENT, "unauthorized", False)
        assert fake.messages == {}


def answering(response: httpx.Response | Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


class TestClassification:
    @pytest.mark.parametrize(("answer", "outcome", "code", "retryable"), [
        (httpx.Response(202, json={"id": "gw-1", "status": "queued"}),
         SendOutcome.SENT, None, False),
        (httpx.Response(200, json={"status": "queued"}),
         SendOutcome.UNKNOWN, "bad_response", False),
        (httpx.Response(200, text="OK"), SendOutcome.UNKNOWN, "bad_response", False),
        (httpx.Response(302, headers={"Location": "/elsewhere"}),
         SendOutcome.NOT_SENT, "http_302", False),
        (httpx.Response(400, json={"error": "invalid_number", "message": "no"}),
         SendOutcome.NOT_SENT, "invalid_number", False),
        (httpx.Response(429, json={"error": "busy", "message": "slow down"}),
         SendOutcome.NOT_SENT, "busy", True),
        (httpx.Response(502, text="Bad Gateway"), SendOutcome.UNKNOWN, "http_502", False),
        (httpx.ConnectError("refused"), SendOutcome.NOT_SENT, "connect_failed", True),
        (httpx.ConnectTimeout("slow"), SendOutcome.NOT_SENT, "connect_failed", True),
        (httpx.ReadTimeout("slow"), SendOutcome.UNKNOWN, "timeout", False),
        (httpx.WriteTimeout("slow"), SendOutcome.UNKNOWN, "timeout", False),
        (httpx.RemoteProtocolError("reset"), SendOutcome.UNKNOWN, "connection_lost", False),
        (httpx.ReadError("reset"), SendOutcome.UNKNOWN, "connection_lost", False),
    ], ids=["202", "2xx-no-id", "2xx-not-json", "302", "400", "429", "502", "refused",
            "connect-timeout", "read-timeout", "write-timeout", "protocol", "reset"])
    async def test_answers_and_failures(self, answer: httpx.Response | Exception,
                                        outcome: SendOutcome, code: str | None,
                                        retryable: bool) -> None:
        client = answering(answer)
        gateway = HttpGateway("http://gateway.invalid/send", SECRET, client=client)
        result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        await gateway.aclose()
        assert not client.is_closed  # the owner of a passed-in client closes it
        await client.aclose()
        assert (result.outcome, result.error_code, result.retryable) == (outcome, code, retryable)


class TestSignature:
    def test_a_signed_request_is_accepted(self) -> None:
        inbound = webhooks().inbound(signed({"id": "in-1", "from": CREW, "to": "+6285100000000",
                                             "body": "1"}))
        assert (inbound.provider_id, inbound.from_, inbound.body) == ("in-1", CREW, "1")

    def test_our_signing_matches_the_documented_scheme(self) -> None:
        body = b'{"id":"x"}'
        ours = sign_http_gateway(SECRET, body, NOW)
        stamp = str(int(NOW.timestamp()))
        assert ours == {"X-Siaga-Timestamp": stamp,
                        "X-Siaga-Signature": signature(SECRET, stamp, body)}

    def test_another_secret_is_refused(self) -> None:
        request = signed({"id": "x", "status": "sent"}, secret="guess")
        assert rejection(lambda: webhooks().status(request)) is RejectReason.BAD_SIGNATURE

    def test_an_altered_body_is_refused(self) -> None:
        request = signed({"id": "x", "from": CREW, "to": "+6285100000000", "body": "1"})
        altered = WebhookRequest(request.method, request.path, request.headers,
                                 request.body.replace(b'"1"', b'"4"'))
        assert rejection(lambda: webhooks().inbound(altered)) is RejectReason.BAD_SIGNATURE

    def test_the_timestamp_is_covered_by_the_signature(self) -> None:
        request = signed({"id": "x", "status": "sent"}, at=NOW - timedelta(minutes=10))
        refreshed = dict(request.headers, **{"X-Siaga-Timestamp": str(int(NOW.timestamp()))})
        moved = WebhookRequest(request.method, request.path, refreshed, request.body)
        assert rejection(lambda: webhooks().status(moved)) is RejectReason.BAD_SIGNATURE

    @pytest.mark.parametrize(("age", "accepted"), [
        (timedelta(seconds=299), True), (timedelta(seconds=301), False),
        (timedelta(seconds=-299), True), (timedelta(seconds=-301), False),
    ], ids=["just-fresh", "stale", "slightly-ahead", "far-ahead"])
    def test_requests_older_or_newer_than_five_minutes_are_refused(
            self, age: timedelta, accepted: bool) -> None:
        request = signed({"id": "x", "status": "delivered"}, at=NOW - age)
        if accepted:
            assert webhooks().status(request).status is MessageStatus.DELIVERED
        else:
            assert rejection(lambda: webhooks().status(request)) is RejectReason.STALE_TIMESTAMP

    @pytest.mark.parametrize(("drop", "change", "reason"), [
        ("X-Siaga-Signature", {}, RejectReason.MISSING_SIGNATURE),
        ("X-Siaga-Timestamp", {}, RejectReason.MISSING_TIMESTAMP),
        (None, {"X-Siaga-Timestamp": "yesterday"}, RejectReason.BAD_TIMESTAMP),
        (None, {"X-Siaga-Signature": "sha256=" + "0" * 64}, RejectReason.BAD_SIGNATURE),
    ], ids=["no-signature", "no-timestamp", "bad-timestamp", "zero-signature"])
    def test_header_problems_have_precise_reasons(self, drop: str | None,
                                                  change: dict[str, str],
                                                  reason: RejectReason) -> None:
        request = signed({"id": "x", "status": "sent"})
        headers = {k: v for k, v in request.headers.items() if k != drop} | change
        broken = WebhookRequest("POST", request.path, headers, request.body)
        assert rejection(lambda: webhooks().status(broken)) is reason

    async def test_a_replayed_report_is_refused_after_five_minutes(self, http_gw: Harness) -> None:
        fake = fake_of(http_gw)
        sent = await http_gw.gateway.send(OutboundSms(CREW, BODY, "k", http_gw.callback_url))
        assert sent.provider_id is not None
        stale = int((http_gw.clock.now - timedelta(seconds=400)).timestamp())
        await fake.deliver_status(sent.provider_id, "delivered", timestamp=stale)
        assert http_gw.receiver is not None
        request = http_gw.receiver.last()
        with pytest.raises(WebhookRejected) as caught:
            http_gw.gateway.parse_status(request)
        assert caught.value.reason is RejectReason.STALE_TIMESTAMP
        http_gw.clock.advance(-400)  # the same request when it was fresh
        assert http_gw.gateway.parse_status(request).status is MessageStatus.DELIVERED


class TestPayloads:
    def test_a_modem_national_number_becomes_e164(self) -> None:
        inbound = webhooks().inbound(signed({"id": "in", "from": "0812-3456-7890",
                                             "to": "085100000000", "body": "3"}))
        assert (inbound.from_, inbound.to) == (CREW, "+6285100000000")

    def test_a_modem_that_does_not_know_its_own_number_may_omit_to(self) -> None:
        inbound = webhooks().inbound(signed({"id": "in", "from": CREW, "body": "1"}))
        assert (inbound.from_, inbound.to, inbound.body) == (CREW, "", "1")

    def test_received_at_is_stored_in_utc(self) -> None:
        inbound = webhooks().inbound(signed({"id": "in", "from": CREW, "to": CREW, "body": "2",
                                             "received_at": "2025-03-04T12:00:00+07:00"}))
        assert inbound.received_at == datetime(2025, 3, 4, 5, 0, tzinfo=UTC)

    def test_received_at_defaults_to_our_clock(self) -> None:
        inbound = webhooks().inbound(signed({"id": "in", "from": CREW, "to": CREW, "body": "2"}))
        assert inbound.received_at == NOW

    @pytest.mark.parametrize("payload", [
        {"id": "in", "from": CREW, "to": CREW, "body": "2", "received_at": "2025-03-04 12:00"},
        {"id": "in", "to": CREW, "body": "2"},
        {"from": CREW, "to": CREW, "body": "2"},
        {"id": "in", "from": CREW, "to": CREW, "body": 2},
        ["not", "an", "object"],
    ], ids=["naive-time", "no-from", "no-id", "body-not-text", "array"])
    def test_malformed_inbound_is_a_400(self, payload: object) -> None:
        with pytest.raises(WebhookRejected) as caught:
            webhooks().inbound(signed(payload))
        assert (caught.value.reason, caught.value.http_status) == (RejectReason.MALFORMED, 400)

    def test_a_failure_report_keeps_the_error(self) -> None:
        status = webhooks().status(signed({"id": "gw-1", "status": "failed", "error": "no_signal"}))
        assert (status.status, status.error_code) == (MessageStatus.FAILED, "no_signal")
        assert status.status.is_failure


class TestSettings:
    def test_url_and_secret_are_required(self) -> None:
        with pytest.raises(GatewayConfigError, match="SIAGA_HTTP_GATEWAY_URL"):
            build_gateway(Settings(sms_gateway="http"))
        with pytest.raises(GatewayConfigError, match="SIAGA_HTTP_GATEWAY_SECRET"):
            build_gateway(Settings(sms_gateway="http", http_gateway_url="http://gw.local/send"))

    async def test_built_from_settings_with_a_shared_client(self) -> None:
        client = httpx.AsyncClient()
        settings = Settings(sms_gateway="http", http_gateway_url="http://gw.local/send",
                            http_gateway_secret=SECRET)
        gateway = build_gateway(settings, client, clock=ManualClock())
        assert isinstance(gateway, HttpGateway)
        await gateway.aclose()
        assert not client.is_closed
        await client.aclose()
