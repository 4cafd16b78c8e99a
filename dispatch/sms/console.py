"""The demo gateway: messages go to the log and to a short in-memory list, never to a phone.

It is the default so that a fresh checkout dispatches end to end with no provider account. It
keeps the same contract as the real gateways (validation, dedup keys, webhook parsing) so the
dispatch service cannot tell it apart.

Each send is also appended to a journal file (one JSON line, flushed to disk before the log
line is written) when one is configured (``data_dir/sms-console.jsonl`` when built from the
settings). The journal is what makes it exactly-once across a crash: a send interrupted
before its result was stored is reconciled by looking its dedup key up there, as the Twilio
gateway looks a message up at Twilio. Without a journal only this process's list is looked
at.

Its webhooks carry no authentication of their own: the routes that feed them (the demo
console simulating a crew's reply) must require a logged-in user.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
                 clock: Clock = utc_now, journal: Path | None = None) -> None:
        super().__init__(store=store, clock=clock)
        self._outbox: deque[ConsoleMessage] = deque(maxlen=keep)
        self.journal = journal

    def recent(self) -> list[ConsoleMessage]:
        """The last ``keep`` messages, oldest first."""
        return list(self._outbox)

    async def _transmit(self, sms: OutboundSms) -> SendResult:
        message = ConsoleMessage(console_id(), sms.to, sms.body, sms.dedup_key,
                                 sms.status_callback, self._clock())
        self._outbox.append(message)
        if self.journal is not None:
            self._write_journal(message)
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
        provider_id = self._journaled(sms.dedup_key)
        if provider_id is not None:
            return SendResult.sent(provider_id, MessageStatus.SENT, replayed=True)
        return None

    def _write_journal(self, message: ConsoleMessage) -> None:
        assert self.journal is not None
        line = json.dumps({"dedup_key": message.dedup_key, "provider_id": message.provider_id,
                           "to": message.to, "body": message.body,
                           "sent_at": message.sent_at.isoformat()}, ensure_ascii=False)
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _journaled(self, dedup_key: str) -> str | None:
        """The provider id under which ``dedup_key`` was journaled, if it was."""
        if self.journal is None:
            return None
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: that send never completed
            if isinstance(entry, dict) and entry.get("dedup_key") == dedup_key:
                return str(entry["provider_id"])
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
