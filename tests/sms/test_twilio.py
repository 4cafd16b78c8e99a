"""Twilio through the real ``twilio`` library against the fake Twilio: the request on the wire,
how failures are classified, how an unknown outcome is settled, and webhook signatures."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

from dispatch.sms.gateway import (
    GatewayConfigError,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    WebhookRequest,
    build_gateway,
)
from dispatch.sms.twilio import TwilioGateway
from dispatch.sms.webhooks import RejectReason, TwilioWebhooks, WebhookRejected
from kernel.config import Settings
from tests.polling import until
from tests.sms.conftest import CREW, HOLD, PUBLIC_URL, SETTLE, TIMEOUT, Harness
from tests.sms.fake_twilio import API, FakeTwilio
from tests.sms.servers import Fault, WebhookReceiver

BODY = "PSC119 #PSC-0042 KUNING Jl. Soekarno-Hatta 7 Kanigaran. Balas 1=OTW https://s.id/a/Zq3"
INBOUND = f"{PUBLIC_URL}/sms/twilio/inbound"


def fake_of(h: Harness) -> FakeTwilio:
    assert isinstance(h.provider, FakeTwilio)
    return h.provider


def receiver_of(h: Harness) -> WebhookReceiver:
    assert h.receiver is not None
    return h.receiver


def page(h: Harness, key: str = "assignment:7", body: str = BODY,
         callback: str | None = None) -> OutboundSms:
    return OutboundSms(CREW, body, key, callback or h.callback_url)


def gateway_for(fake: FakeTwilio, **overrides: object) -> TwilioGateway:
    options: dict[str, object] = {
        "public_url": PUBLIC_URL, "from_number": fake.numbers[0], "api_base": fake.base_url,
        "timeout": TIMEOUT, "connect_timeout": TIMEOUT}
    options.update(overrides)
    token = str(options.pop("auth_token", fake.auth_token))
    return TwilioGateway(fake.account_sid, token, **options)  # type: ignore[arg-type]


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound but not listening while in use: connecting is refused, and no other
    process can start listening there meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


class TestRequestOnTheWire:
    async def test_to_from_body_callback_and_basic_auth(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        result = await twilio.gateway.send(page(twilio))
        [post] = fake.posts()
        assert post.path == f"{API}/Accounts/{fake.account_sid}/Messages.json"
        assert post.form == {"To": CREW, "From": fake.numbers[0], "Body": BODY,
                             "StatusCallback": twilio.callback_url}
        assert post.authorized and post.username == fake.account_sid
        assert post.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert post.headers["user-agent"].startswith("twilio-python/")
        assert result.provider_id == fake.outbound()[0].sid
        assert result.provider_id is not None and result.provider_id.startswith("SM")
        assert len(result.provider_id) == 34
        assert result.status is MessageStatus.QUEUED

    async def test_a_messaging_service_sends_without_a_from_number(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        gateway = gateway_for(fake, from_number=None, messaging_service_sid=fake.services[0])
        try:
            result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        finally:
            await gateway.aclose()
        [post] = fake.posts()
        assert post.form == {"To": CREW, "MessagingServiceSid": fake.services[0], "Body": BODY}
        assert result.status is MessageStatus.ACCEPTED

    async def test_settings_point_the_library_at_the_api_base(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        settings = Settings(sms_gateway="twilio", twilio_account_sid=fake.account_sid,
                            twilio_auth_token=fake.auth_token,
                            twilio_from_number=fake.numbers[0], twilio_api_base=fake.base_url,
                            public_url=PUBLIC_URL)
        gateway = build_gateway(settings)
        try:
            assert isinstance(gateway, TwilioGateway)
            result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        finally:
            await gateway.aclose()
        assert result.outcome is SendOutcome.SENT
        assert [m.sid for m in fake.outbound()] == [result.provider_id]


class TestClassification:
    async def test_a_wrong_auth_token_is_not_sent_and_not_retryable(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        gateway = gateway_for(fake, auth_token="0" * 32)
        try:
            result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        finally:
            await gateway.aclose()
        assert (result.outcome, result.error_code) == (SendOutcome.NOT_SENT, "20003")
        assert not result.retryable
        assert [r.authorized for r in fake.requests] == [False] and fake.outbound() == []

    async def test_a_number_twilio_refuses_is_not_sent(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        gateway = gateway_for(fake, from_number="+15005550009")
        try:
            result = await gateway.send(OutboundSms(CREW, BODY, "k"))
        finally:
            await gateway.aclose()
        assert (result.outcome, result.error_code) == (SendOutcome.NOT_SENT, "21606")
        assert not result.retryable and "not a valid" in (result.error_message or "")

    @pytest.mark.parametrize(("fault", "outcome", "code", "retryable"), [
        (Fault(status=429), SendOutcome.NOT_SENT, "20429", True),
        (Fault(status=500), SendOutcome.UNKNOWN, "20500", False),
        (Fault(status=503), SendOutcome.UNKNOWN, "20503", False),
        (Fault(hold_after=HOLD), SendOutcome.UNKNOWN, "timeout", False),
        (Fault(hold_before=HOLD), SendOutcome.UNKNOWN, "timeout", False),
    ], ids=["429", "500", "503", "timeout-after-processing", "timeout-before-processing"])
    async def test_provider_failures(self, twilio: Harness, fault: Fault, outcome: SendOutcome,
                                     code: str, retryable: bool) -> None:
        twilio.inject(fault)
        result = await twilio.gateway.send(page(twilio))
        assert (result.outcome, result.error_code, result.retryable) == (outcome, code, retryable)
        assert result.provider_id is None

    async def test_no_connection_is_not_sent_and_retryable(self, twilio: Harness) -> None:
        with refusing_port() as port:
            gateway = gateway_for(fake_of(twilio), api_base=f"http://127.0.0.1:{port}")
            try:
                result = await gateway.send(OutboundSms(CREW, BODY, "k"))
            finally:
                await gateway.aclose()
        assert (result.outcome, result.error_code) == (SendOutcome.NOT_SENT, "connect_failed")
        assert result.retryable


class TestUnknownOutcome:
    """After UNKNOWN the gateway looks the message up at Twilio before it sends again."""

    async def test_a_timeout_then_a_retry_creates_one_message(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        twilio.inject(Fault(hold_after=HOLD))  # Twilio creates it; the 201 never reaches us
        first = await twilio.gateway.send(page(twilio))
        assert first.outcome is SendOutcome.UNKNOWN and len(fake.outbound()) == 1
        again = await twilio.gateway.send(page(twilio))
        assert again.outcome is SendOutcome.SENT and again.replayed
        assert again.provider_id == fake.outbound()[0].sid
        assert len(fake.posts()) == 1 and len(fake.outbound()) == 1
        [lookup] = [r for r in fake.requests if r.method == "GET"]
        assert lookup.query["To"] == CREW

    async def test_a_request_still_in_flight_is_waited_for(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        twilio.inject(Fault(hold_before=TIMEOUT + 0.5))  # processed after we gave up
        first = await twilio.gateway.send(page(twilio))
        assert first.outcome is SendOutcome.UNKNOWN
        pending = await twilio.gateway.send(page(twilio))
        assert (pending.outcome, pending.error_code) == (SendOutcome.UNKNOWN, "outcome_pending")
        assert len(fake.posts()) == 1
        await until(fake.outbound, "Twilio to get to the held request", timeout=10)
        found = await twilio.gateway.send(page(twilio))
        assert found.outcome is SendOutcome.SENT and found.replayed
        assert found.provider_id == fake.outbound()[0].sid and len(fake.posts()) == 1

    async def test_a_message_not_at_twilio_after_the_settle_time_is_sent(
            self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        twilio.inject(Fault(status=500))  # nothing created
        assert (await twilio.gateway.send(page(twilio))).outcome is SendOutcome.UNKNOWN
        twilio.clock.advance(SETTLE - 1)
        early = await twilio.gateway.send(page(twilio))
        assert early.error_code == "outcome_pending" and len(fake.posts()) == 1
        twilio.clock.advance(2)
        sent = await twilio.gateway.send(page(twilio))
        assert sent.outcome is SendOutcome.SENT and not sent.replayed
        assert len(fake.posts()) == 2 and len(fake.outbound()) == 1

    async def test_a_failed_lookup_sends_nothing(self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        twilio.inject(Fault(status=500))
        twilio.inject(Fault(status=500, method="GET"))
        await twilio.gateway.send(page(twilio))
        twilio.clock.advance(SETTLE + 1)
        result = await twilio.gateway.send(page(twilio))
        assert (result.outcome, result.error_code) == (SendOutcome.UNKNOWN, "lookup_failed")
        assert len(fake.posts()) == 1

    async def test_an_older_message_with_the_same_text_is_not_taken_for_this_one(
            self, twilio: Harness) -> None:
        fake = fake_of(twilio)
        await twilio.gateway.send(page(twilio, key="reminder:1"))
        twilio.clock.advance(3600)  # an hour later the same text goes out under a new key
        twilio.inject(Fault(status=500))
        assert (await twilio.gateway.send(page(twilio, key="reminder:2"))).outcome \
            is SendOutcome.UNKNOWN
        twilio.clock.advance(SETTLE + 1)
        result = await twilio.gateway.send(page(twilio, key="reminder:2"))
        assert result.outcome is SendOutcome.SENT and not result.replayed
        assert len(fake.outbound()) == 2


class TestWebhookSignatures:
    """Twilio signs the public URL it calls; a proxy forwards to our loopback address."""

    async def _inbound(self, h: Harness, **knobs: object) -> WebhookRequest:
        _, answer = await fake_of(h).deliver_inbound(INBOUND, from_=CREW, to=h.our_number,
                                                     body="1", **knobs)
        assert answer.status_code == 200
        return receiver_of(h).last()

    async def test_signed_for_the_public_url_is_accepted(self, twilio: Harness) -> None:
        inbound = twilio.gateway.parse_inbound(await self._inbound(twilio))
        assert (inbound.from_, inbound.body) == (CREW, "1")

    async def test_checked_against_the_public_url_not_the_arrival_url(
            self, twilio: Harness) -> None:
        request = await self._inbound(twilio)
        arrival = fake_of(twilio)._resolve(PUBLIC_URL)  # http://127.0.0.1:port
        naive = TwilioWebhooks(fake_of(twilio).auth_token, arrival)
        with pytest.raises(WebhookRejected) as caught:
            naive.inbound(request)
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    @pytest.mark.parametrize(("knobs", "reason"), [
        ({"sign": False}, RejectReason.MISSING_SIGNATURE),
        ({"tamper": {"Body": "4"}}, RejectReason.BAD_SIGNATURE),
        ({"tamper": {"From": "+6289999999999"}}, RejectReason.BAD_SIGNATURE),
        ({"signed_for": f"{PUBLIC_URL}/sms/twilio/status"}, RejectReason.BAD_SIGNATURE),
        ({"signed_for": INBOUND.replace("https://", "http://")}, RejectReason.BAD_SIGNATURE),
        ({"token": "f" * 32}, RejectReason.BAD_SIGNATURE),
    ], ids=["missing", "forged-body", "forged-sender", "other-path", "other-scheme",
            "other-account"])
    async def test_refused(self, twilio: Harness, knobs: dict[str, object],
                           reason: RejectReason) -> None:
        request = await self._inbound(twilio, **knobs)
        with pytest.raises(WebhookRejected) as caught:
            twilio.gateway.parse_inbound(request)
        assert caught.value.reason is reason and caught.value.http_status == 403

    async def test_only_post_is_a_webhook(self, twilio: Harness) -> None:
        request = await self._inbound(twilio)
        as_get = WebhookRequest("GET", request.path, request.headers, request.body)
        with pytest.raises(WebhookRejected) as caught:
            twilio.gateway.parse_inbound(as_get)
        assert caught.value.http_status == 405

    async def test_the_query_string_of_a_callback_is_part_of_the_signature(
            self, twilio: Harness) -> None:
        callback = f"{PUBLIC_URL}/sms/twilio/status?assignment=42&v=1"
        sent = await twilio.gateway.send(page(twilio, callback=callback))
        assert sent.provider_id is not None
        answer = await fake_of(twilio).deliver_status(sent.provider_id, "undelivered",
                                                      error_code=30003)
        assert answer.status_code == 200
        request = receiver_of(twilio).last()
        assert request.path == "/sms/twilio/status?assignment=42&v=1"
        status = twilio.gateway.parse_status(request)
        assert (status.provider_id, status.status, status.error_code) == (
            sent.provider_id, MessageStatus.UNDELIVERED, "30003")
        assert status.status.is_failure
        moved = WebhookRequest("POST", "/sms/twilio/status?assignment=43&v=1", request.headers,
                               request.body)
        with pytest.raises(WebhookRejected):
            twilio.gateway.parse_status(moved)


class TestSettings:
    @pytest.mark.parametrize(("values", "missing"), [
        ({}, "SIAGA_TWILIO_ACCOUNT_SID"),
        ({"twilio_account_sid": "AC" + "0" * 32}, "SIAGA_TWILIO_AUTH_TOKEN"),
        ({"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "t"},
         "SIAGA_TWILIO_FROM_NUMBER or SIAGA_TWILIO_MESSAGING_SERVICE_SID"),
    ], ids=["sid", "token", "sender"])
    def test_a_missing_setting_is_named(self, values: dict[str, str], missing: str) -> None:
        with pytest.raises(GatewayConfigError, match=missing):
            build_gateway(Settings(sms_gateway="twilio", **values))  # type: ignore[arg-type]
