"""The SmsGateway contract, run over every implementation (console, HTTP gateway, Twilio).

Each test speaks of what the *provider* ended up with (``accepted()``), because that is what a
crew's phone sees: one page per dedup key, whatever the network did in between.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from dispatch.sms.gateway import (
    DedupKeyReused,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    SmsGateway,
)
from dispatch.sms.webhooks import RejectReason, WebhookRejected
from tests.polling import until
from tests.sms.conftest import CREW, HOLD, Harness
from tests.sms.servers import Fault

BODY = "PSC119 #PSC-0042 MERAH Jl. Suroyo 12 Mayangan. Balas 1=OTW https://s.id/a/8fK2"


def page(h: Harness, key: str = "assignment:42", body: str = BODY) -> OutboundSms:
    return OutboundSms(CREW, body, key, h.callback_url)


async def retry_until_settled(h: Harness, sms: OutboundSms, attempts: int = 4) -> list[SendOutcome]:
    """What a careful caller does after UNKNOWN: wait the provider's settle time, retry the key."""
    outcomes = []
    for _ in range(attempts):
        h.clock.advance(h.settle + 1)
        result = await h.gateway.send(sms)
        outcomes.append(result.outcome)
        if result.outcome is not SendOutcome.UNKNOWN:
            break
    return outcomes


class TestSend:
    async def test_a_message_is_accepted_once_with_a_provider_id(self, harness: Harness) -> None:
        assert isinstance(harness.gateway, SmsGateway)
        result = await harness.gateway.send(page(harness))
        assert result.outcome is SendOutcome.SENT
        assert result.provider_id and not result.replayed
        assert result.status in (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.SENT)
        assert harness.accepted() == [(CREW, BODY)]

    async def test_different_keys_are_different_messages(self, harness: Harness) -> None:
        first = await harness.gateway.send(page(harness, "assignment:1", BODY + " 1"))
        second = await harness.gateway.send(page(harness, "assignment:2", BODY + " 2"))
        assert first.provider_id != second.provider_id
        assert len(harness.accepted()) == 2


class TestDedupKey:
    async def test_a_retry_with_the_same_key_is_answered_without_sending(
            self, harness: Harness) -> None:
        first = await harness.gateway.send(page(harness))
        again = await harness.gateway.send(page(harness))
        assert again.outcome is SendOutcome.SENT and again.replayed
        assert again.provider_id == first.provider_id
        assert harness.accepted() == [(CREW, BODY)]

    async def test_concurrent_sends_of_one_key_page_once(self, harness: Harness) -> None:
        results = await asyncio.gather(*(harness.gateway.send(page(harness)) for _ in range(5)))
        assert {r.provider_id for r in results} == {results[0].provider_id}
        assert [r.replayed for r in results].count(False) == 1
        assert harness.accepted() == [(CREW, BODY)]

    async def test_one_key_for_two_messages_is_a_caller_bug(self, harness: Harness) -> None:
        await harness.gateway.send(page(harness))
        with pytest.raises(DedupKeyReused):
            await harness.gateway.send(page(harness, body=BODY + " (changed)"))
        assert len(harness.accepted()) == 1


class TestValidation:
    @pytest.mark.parametrize("sms", [
        OutboundSms("081234567890", BODY, "k"),  # national format, not E.164
        OutboundSms(CREW, "", "k"),
        OutboundSms(CREW, "x" * 1601, "k"),
        OutboundSms(CREW, BODY, " "),
        OutboundSms(CREW, BODY, "k", status_callback="/sms/status"),
    ], ids=["not-e164", "empty-body", "too-long", "blank-key", "relative-callback"])
    async def test_refused_before_the_provider_sees_it(self, harness: Harness,
                                                       sms: OutboundSms) -> None:
        result = await harness.gateway.send(sms)
        assert result.outcome is SendOutcome.NOT_SENT
        assert result.error_code == "invalid_request" and not result.retryable
        assert harness.accepted() == []


class TestInbound:
    async def test_a_reply_is_parsed_with_the_provider_id(self, harness: Harness) -> None:
        provider_id, request = await harness.text_in(CREW, "1")
        inbound = harness.gateway.parse_inbound(request)
        assert inbound.provider_id == provider_id
        assert (inbound.from_, inbound.to, inbound.body) == (CREW, harness.our_number, "1")
        assert inbound.received_at == harness.clock.now
        assert inbound.received_at.tzinfo == UTC

    async def test_text_survives_encoding(self, harness: Harness) -> None:
        text = "2 macet total di Jl. Panglima Sudirman & Jl. Dr. Soetomo, +10 mnt 🚑"
        _, request = await harness.text_in(CREW, text)
        assert harness.gateway.parse_inbound(request).body == text


class TestDeliveryStatus:
    async def test_a_delivery_report_names_our_message(self, harness: Harness) -> None:
        sent = await harness.gateway.send(page(harness))
        assert sent.provider_id is not None
        request = await harness.report(sent.provider_id, "delivered")
        status = harness.gateway.parse_status(request)
        assert status.provider_id == sent.provider_id
        assert status.status is MessageStatus.DELIVERED and status.status.is_final
        assert status.error_code is None

    async def test_an_unknown_status_word_is_kept_not_fatal(self, harness: Harness) -> None:
        sent = await harness.gateway.send(page(harness))
        assert sent.provider_id is not None
        status = harness.gateway.parse_status(await harness.report(sent.provider_id, "teleported"))
        assert status.status is MessageStatus.UNKNOWN and status.raw_status == "teleported"


class TestTransportFailures:
    """Only for gateways with a network to fail (HTTP gateway, Twilio)."""

    async def test_rate_limited_is_not_sent_and_worth_retrying(self, remote: Harness) -> None:
        remote.inject(Fault(status=429))
        result = await remote.gateway.send(page(remote))
        assert result.outcome is SendOutcome.NOT_SENT and result.retryable
        assert remote.accepted() == []
        again = await remote.gateway.send(page(remote))
        assert again.outcome is SendOutcome.SENT and not again.replayed
        assert remote.accepted() == [(CREW, BODY)]

    async def test_server_error_is_unknown_and_retries_end_with_one_message(
            self, remote: Harness) -> None:
        remote.inject(Fault(status=500))  # failed before creating anything
        first = await remote.gateway.send(page(remote))
        assert first.outcome is SendOutcome.UNKNOWN
        outcomes = await retry_until_settled(remote, page(remote))
        assert outcomes[-1] is SendOutcome.SENT
        assert remote.accepted() == [(CREW, BODY)]

    async def test_server_error_after_creating_does_not_page_twice(self, remote: Harness) -> None:
        remote.inject(Fault(status=500, create=True))
        first = await remote.gateway.send(page(remote))
        assert first.outcome is SendOutcome.UNKNOWN
        assert remote.accepted() == [(CREW, BODY)]  # the provider did take it
        again = await remote.gateway.send(page(remote))
        assert again.outcome is SendOutcome.SENT and again.replayed
        assert remote.accepted() == [(CREW, BODY)]

    async def test_timeout_is_unknown_and_a_retry_does_not_page_twice(
            self, remote: Harness) -> None:
        remote.inject(Fault(hold_after=HOLD))  # processed, then the answer is lost
        first = await remote.gateway.send(page(remote))
        assert (first.outcome, first.error_code) == (SendOutcome.UNKNOWN, "timeout")
        again = await remote.gateway.send(page(remote))
        assert again.outcome is SendOutcome.SENT and again.replayed
        assert remote.accepted() == [(CREW, BODY)]
        third = await remote.gateway.send(page(remote))
        assert third.provider_id == again.provider_id and third.replayed

    async def test_an_interrupted_send_is_reconciled_not_resent(self, remote: Harness) -> None:
        remote.inject(Fault(hold_after=HOLD))
        task = asyncio.create_task(remote.gateway.send(page(remote)))
        await until(remote.accepted, "the provider to accept the send")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        again = await remote.gateway.send(page(remote))
        assert again.outcome is SendOutcome.SENT and again.replayed
        assert remote.accepted() == [(CREW, BODY)]

    async def test_an_unsigned_reply_is_refused(self, remote: Harness) -> None:
        _, request = await remote.text_in(CREW, "1")
        names = {"x-twilio-signature", "x-siaga-signature"}
        unsigned = type(request)(request.method, request.path,
                                 {k: v for k, v in request.headers.items()
                                  if k.lower() not in names}, request.body)
        with pytest.raises(WebhookRejected) as caught:
            remote.gateway.parse_inbound(unsigned)
        assert caught.value.reason is RejectReason.MISSING_SIGNATURE
        assert caught.value.http_status == 403

    async def test_a_reply_altered_in_transit_is_refused(self, remote: Harness) -> None:
        _, request = await remote.text_in(CREW, "1")
        altered = request.body[:-1] + bytes([request.body[-1] ^ 1])
        forged = type(request)(request.method, request.path, request.headers, altered)
        with pytest.raises(WebhookRejected) as caught:
            remote.gateway.parse_inbound(forged)
        assert caught.value.reason is RejectReason.BAD_SIGNATURE
