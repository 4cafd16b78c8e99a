"""The dedup-key machinery every gateway shares, against a scripted provider.

The property: whatever the network does (answers lost before or after the provider acted,
requests processed late, refusals) and however often the caller retries, a dedup key never
becomes two messages at the provider, and every SENT answer for a key names the same message.
The scripted provider's lookup is truthful, as Twilio's list is once its settle time passed.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dispatch.sms.gateway import (
    DedupEntry,
    DedupingGateway,
    DeliveryStatus,
    InboundSms,
    MemoryDedupStore,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    SendResult,
    WebhookRequest,
)

NETWORK = ["ok", "refused", "lost_before", "lost_after", "late"]
KEYS = ["a", "b", "c"]


class ScriptedProvider(DedupingGateway):
    name = "scripted"

    def __init__(self) -> None:
        super().__init__(clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))
        self.network = "ok"
        self.messages: dict[str, str] = {}  # provider id -> dedup key
        self.in_flight: list[str] = []  # keys whose request the provider has not processed yet
        self.transmits = 0
        self._ids = itertools.count(1)

    def _create(self, key: str) -> str:
        provider_id = f"P{next(self._ids)}"
        self.messages[provider_id] = key
        return provider_id

    def process_in_flight(self) -> None:
        for key in self.in_flight:
            self._create(key)
        self.in_flight.clear()

    async def _transmit(self, sms: OutboundSms) -> SendResult:
        self.transmits += 1
        match self.network:
            case "ok":
                return SendResult.sent(self._create(sms.dedup_key), MessageStatus.QUEUED)
            case "refused":
                return SendResult.not_sent("400", "refused")
            case "lost_before":
                return SendResult.unknown("timeout", "nothing arrived")
            case "lost_after":
                self._create(sms.dedup_key)
                return SendResult.unknown("timeout", "answer lost")
            case _:
                self.in_flight.append(sms.dedup_key)
                return SendResult.unknown("timeout", "still in flight")

    async def _reconcile(self, sms: OutboundSms, previous: DedupEntry) -> SendResult | None:
        for provider_id, key in self.messages.items():
            if key == sms.dedup_key:
                return SendResult.sent(provider_id, MessageStatus.QUEUED, replayed=True)
        if sms.dedup_key in self.in_flight:
            return SendResult.unknown("outcome_pending", "wait")
        return None

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        raise NotImplementedError

    def parse_status(self, request: WebhookRequest) -> DeliveryStatus:
        raise NotImplementedError


class DedupMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.provider = ScriptedProvider()
        self.sent_ids: dict[str, set[str]] = {}

    @rule(key=st.sampled_from(KEYS), network=st.sampled_from(NETWORK))
    def send(self, key: str, network: str) -> None:
        self.provider.network = network
        before = self.provider.transmits
        result = self.loop.run_until_complete(
            self.provider.send(OutboundSms("+6281234567890", f"page {key}", key)))
        if result.outcome is SendOutcome.SENT:
            assert result.provider_id is not None
            self.sent_ids.setdefault(key, set()).add(result.provider_id)
            assert self.provider.messages[result.provider_id] == key
        if result.replayed:
            assert self.provider.transmits == before  # a replay never touches the network

    @rule()
    def provider_catches_up(self) -> None:
        self.provider.process_in_flight()

    @invariant()
    def one_message_per_key(self) -> None:
        keys = list(self.provider.messages.values())
        assert len(keys) == len(set(keys)), keys

    @invariant()
    def every_sent_answer_names_the_same_message(self) -> None:
        assert all(len(ids) == 1 for ids in self.sent_ids.values()), self.sent_ids

    def teardown(self) -> None:
        self.loop.close()


DedupMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=25,
                                          deadline=None)
TestDedupMachine = DedupMachine.TestCase


async def test_the_memory_store_forgets_the_least_recently_used_key() -> None:
    store = MemoryDedupStore(capacity=2)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    entry = DedupEntry("f", SendResult.sent("P1", MessageStatus.SENT), at, at + timedelta(1))
    await store.put("a", entry)
    await store.put("b", entry)
    assert await store.get("a") == entry  # "a" is now the most recently used
    await store.put("c", entry)
    assert await store.get("b") is None
    assert await store.get("a") == entry and await store.get("c") == entry
