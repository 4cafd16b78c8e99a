"""The demo gateway: a structured log line and a short memory of what was 'sent'."""

from __future__ import annotations

import logging
import re

import pytest

from dispatch.sms.console import ConsoleGateway
from dispatch.sms.gateway import OutboundSms, SendOutcome, WebhookRequest, build_gateway
from dispatch.sms.webhooks import RejectReason, WebhookRejected
from kernel.config import Settings

CREW = "+6281234567890"


async def test_it_is_the_default_gateway() -> None:
    gateway = build_gateway(Settings())
    assert isinstance(gateway, ConsoleGateway) and gateway.name == "console"


async def test_each_message_is_one_structured_log_line(caplog: pytest.LogCaptureFixture) -> None:
    gateway = ConsoleGateway()
    with caplog.at_level(logging.INFO, logger="siaga.sms.console"):
        result = await gateway.send(OutboundSms(CREW, "Balas 1=OTW", "assignment:1"))
    [record] = caplog.records
    assert result.provider_id is not None and re.fullmatch(r"CN[0-9a-f]{32}", result.provider_id)
    assert (record.sms_to, record.sms_body, record.dedup_key, record.provider_id) == (  # type: ignore[attr-defined]
        CREW, "Balas 1=OTW", "assignment:1", result.provider_id)


async def test_a_replayed_key_logs_nothing_new(caplog: pytest.LogCaptureFixture) -> None:
    gateway = ConsoleGateway()
    with caplog.at_level(logging.INFO, logger="siaga.sms.console"):
        await gateway.send(OutboundSms(CREW, "x", "k"))
        await gateway.send(OutboundSms(CREW, "x", "k"))
    assert len(caplog.records) == 1 and len(gateway.recent()) == 1


async def test_it_keeps_only_the_last_messages_oldest_first() -> None:
    gateway = ConsoleGateway(keep=3)
    for n in range(5):
        assert (await gateway.send(OutboundSms(CREW, f"m{n}", f"k{n}"))).outcome \
            is SendOutcome.SENT
    assert [m.body for m in gateway.recent()] == ["m2", "m3", "m4"]


@pytest.mark.parametrize(("request_", "reason"), [
    (WebhookRequest("GET", "/sms/console/inbound", {}, b""), RejectReason.METHOD_NOT_ALLOWED),
    (WebhookRequest("POST", "/sms/console/inbound", {}, b"from=x"), RejectReason.MALFORMED),
    (WebhookRequest("POST", "/sms/console/inbound", {}, b'{"body": "1"}'), RejectReason.MALFORMED),
], ids=["get", "not-json", "no-sender"])
def test_bad_simulated_replies_are_refused(request_: WebhookRequest,
                                           reason: RejectReason) -> None:
    with pytest.raises(WebhookRejected) as caught:
        ConsoleGateway().parse_inbound(request_)
    assert caught.value.reason is reason
