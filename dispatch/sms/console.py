"""The demo gateway: messages go to the log and to a short in-memory list, never to a phone.

It is the default so that a fresh checkout dispatches end to end with no provider account. It
keeps the same contract as the real gateways (validation, dedup keys, webhook parsing) so the
dispatch service cannot tell it apart.

Its webhooks carry no authentication of their own: the routes that feed them (the demo
console simulating a crew's reply) must require a logged-in user.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

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
    WebhookRequest,
    utc_now,
)
from dispatch.sms.webhooks import (
    RejectReason,
    WebhookRejected,
    inbound_from_json,
    parse_json_object,
    status_from_json,
)

log = logging.getLogger("siaga.sms.console")

DEFAULT_KEEP = 200


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    """One message the console gateway 'sent', as the demo console shows it."""

    provider_id: str
    to: str
    body: str
    dedup_key: str
    status_callback: str | None
    sent_at: datetime


def console_id() -> str:
    """A synthetic id shaped like a provider's (``CN`` + 32 hex digits)."""
    return "CN" + uuid.uuid4().hex


class ConsoleGateway(DedupingGateway):
    name = "console"

    def __init__(self, *, keep: int = DEFAULT_KEEP, store: DedupStore | None = None,
                 clock: Clock = utc_now) -> None:
        super().__init__(store=store, clock=clock)
        self._outbox: deque[ConsoleMessage] = deque(maxlen=keep)

    def recent(self) -> list[ConsoleMessage]:
        """The last ``keep`` messages, oldest first."""
        return list(self._outbox)

    async def _transmit(self, sms: OutboundSms) -> SendResult:
        message = ConsoleMessage(console_id(), sms.to, sms.body, sms.dedup_key,
                                 sms.status_callback, self._clock())
        self._outbox.append(message)
        log.info("sms to %s", sms.to, extra={
            "event": "sms_outbound", "gateway": self.name, "provider_id": message.provider_id,
            "sms_to": sms.to, "sms_body": sms.body, "dedup_key": sms.dedup_key,
            "chars": len(sms.body)})
        return SendResult.sent(message.provider_id, MessageStatus.SENT)

    async def _reconcile(self, sms: OutboundSms, previous: DedupEntry) -> SendResult | None:
        # The console never answers UNKNOWN; an entry left by an interrupted send means the
        # list may hold the message already.
        for message in self._outbox:
            if message.dedup_key == sms.dedup_key:
                return SendResult.sent(message.provider_id, MessageStatus.SENT, replayed=True)
        return None

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """``{"from", "body", "to"?, "id"?, "received_at"?}`` as the demo console posts it."""
        if request.method.upper() != "POST":
            raise WebhookRejected(RejectReason.METHOD_NOT_ALLOWED, request.method)
        data = parse_json_object(request.body)
        data.setdefault("id", console_id())
        data.setdefault("to", "console")
        return inbound_from_json(data, self._clock)

    def parse_status(self, request: WebhookRequest) -> DeliveryStatus:
        """``{"id", "status", "error"?}``: the demo console marking a message delivered."""
        if request.method.upper() != "POST":
            raise WebhookRejected(RejectReason.METHOD_NOT_ALLOWED, request.method)
        return status_from_json(parse_json_object(request.body))
