"""The SMS gateway contract: one interface, three providers, chosen by configuration.

Why: Twilio's Indonesian numbers cannot receive SMS, Indonesian carriers' delivery receipts are
unreliable and a city may run its own GSM-modem gateway, so the dispatch service talks to
:class:`SmsGateway` and never to a provider.

Rules:

1. ``send`` never raises for a provider or network failure. It returns a :class:`SendResult`
   whose :class:`SendOutcome` says what is *known*:

   - ``SENT``: the provider accepted the message (``provider_id`` is its id). Not "delivered".
   - ``NOT_SENT``: the provider definitely did not take it (our validation, a 4xx answer, the
     connection was never made). Sending again is safe; ``retryable`` says whether it can help.
   - ``UNKNOWN``: the request may have reached the provider (timeout, 5xx, connection lost after
     the request was written). The caller must never send the same text under a *new* dedup key;
     it may call ``send`` again with the *same* ``dedup_key``, later.

2. ``dedup_key`` makes those retries safe. A gateway keeps each key's latest result in a
   :class:`DedupStore`. A key already ``SENT`` is answered from the store (``replayed=True``)
   without contacting the provider. A key whose outcome is ``UNKNOWN`` is first *reconciled*:
   each provider says how (Twilio: look the message up; the HTTP gateway: it deduplicates on the
   key itself) and the message is sent again only when the provider shows it is not there.
   Invariant: a timeout never pages a crew twice.

   Before each attempt the key is recorded as ``UNKNOWN`` (``in_flight``) in the store: a
   process killed between the provider call and the bookkeeping of its answer leaves that
   entry, so the next ``send`` of the key (after a restart, with a durable store)
   reconciles instead of sending blind. A provider must therefore be able to answer "did
   this key go out?" across a restart: Twilio by a lookup, the HTTP gateway by
   de-duplicating on the key (also sent as the ``Idempotency-Key`` header), the console by
   its journal.
3. One key is one message: reusing a key for another number or text raises
   :class:`DedupKeyReused` (a bug in the caller, not a provider problem).
4. Sends under the same key are serialised; different keys run concurrently.
5. Webhook parsing (``parse_inbound``, ``parse_status``) authenticates before it parses, does no
   I/O and raises :class:`dispatch.sms.webhooks.WebhookRejected` with a precise reason.

Errors::

    SmsError                 root of the exceptions of dispatch.sms
    ├── GatewayConfigError   the settings cannot build the configured gateway (operator's fix)
    ├── DedupKeyReused       local bug: one dedup key used for two different messages
    └── WebhookRejected      a webhook request failed authentication or parsing (peer's fault)
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import hashlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import httpx

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CONSOLE_JOURNAL = "sms-console.jsonl"  # under data_dir: what the console gateway "sent"
MAX_BODY_CHARS = 1600  # Twilio's limit; a dispatch SMS is one or two parts, far below it.

Clock = Callable[[], datetime]
_T = TypeVar("_T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class SmsError(Exception):
    """Root of every exception raised by :mod:`dispatch.sms`."""


class GatewayConfigError(SmsError):
    """The configured gateway is missing a setting; the message names it."""


class DedupKeyReused(SmsError):
    """The caller used one dedup key for two different messages (number or text differ)."""


class MessageStatus(enum.Enum):
    """Provider message states (Twilio's words, which the HTTP gateway protocol reuses)."""

    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"
    CANCELED = "canceled"
    RECEIVING = "receiving"
    RECEIVED = "received"
    UNKNOWN = "unknown"  # a word we do not know yet: keep the raw text, never crash on it

    @classmethod
    def parse(cls, word: str | None) -> MessageStatus:
        try:
            return cls((word or "").strip().lower())
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_failure(self) -> bool:
        return self in (MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.CANCELED)


_FINAL = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED,
                    MessageStatus.READ, MessageStatus.CANCELED})


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One message to send. ``dedup_key`` names it across retries (e.g. ``assignment:42:v1``)."""

    to: str
    body: str
    dedup_key: str
    status_callback: str | None = None

    def problem(self) -> str | None:
        """Why no provider would accept this message, or None."""
        if not E164.match(self.to):
            return f"'to' is not an E.164 number: {self.to!r}"
        if not self.body:
            return "empty body"
        if len(self.body) > MAX_BODY_CHARS:
            return f"body longer than {MAX_BODY_CHARS} characters"
        if not self.dedup_key.strip():
            return "empty dedup_key"
        if self.status_callback is not None and not self.status_callback.startswith(
                ("http://", "https://")):
            return "status_callback must be an absolute http(s) URL"
        return None

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.to}\x00{self.body}".encode()).hexdigest()


class SendOutcome(enum.Enum):
    SENT = "sent"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What is known after a send. ``error_code`` is the provider's code as text, or one of
    ours: ``invalid_request``, ``timeout``, ``connect_failed``, ``connection_lost``,
    ``bad_response``, ``outcome_pending``, ``lookup_failed``, ``interrupted``."""

    outcome: SendOutcome
    provider_id: str | None = None
    status: MessageStatus | None = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False  # NOT_SENT only: the same request may succeed later (429, no route)
    replayed: bool = False  # answered from the dedup store or a provider lookup: nothing new sent

    @classmethod
    def sent(cls, provider_id: str, status: MessageStatus, *, replayed: bool = False
             ) -> SendResult:
        return cls(SendOutcome.SENT, provider_id, status, replayed=replayed)

    @classmethod
    def not_sent(cls, code: str, message: str, *, retryable: bool = False) -> SendResult:
        return cls(SendOutcome.NOT_SENT, error_code=code, error_message=message,
                   retryable=retryable)

    @classmethod
    def unknown(cls, code: str, message: str) -> SendResult:
        return cls(SendOutcome.UNKNOWN, error_code=code, error_message=message)


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A message a crew sent us. De-duplicate on ``provider_id``: providers retry webhooks."""

    provider_id: str
    from_: str
    to: str
    body: str
    received_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A provider's news about one of our messages; never rely on DELIVERED arriving."""

    provider_id: str
    status: MessageStatus
    error_code: str | None = None
    raw_status: str = ""


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A webhook request as a route received it, before any parsing.

    ``path`` is the path *and query string* relative to the public URL (``/sms/twilio/inbound``
    or ``/sms/twilio/status?x=1``); ``body`` is the raw bytes. Header names are matched
    case-insensitively.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@runtime_checkable
class SmsGateway(Protocol):
    """What the dispatch service needs from an SMS provider (see the module rules)."""

    name: str

    async def send(self, sms: OutboundSms) -> SendResult: ...

    def parse_inbound(self, request: WebhookRequest) -> InboundSms: ...

    def parse_status(self, request: WebhookRequest) -> DeliveryStatus: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DedupEntry:
    """The latest known result for one dedup key, with the times reconciliation needs."""

    fingerprint: str
    result: SendResult
    first_attempt_at: datetime  # earliest attempt that may have reached the provider
    last_attempt_at: datetime  # latest attempt: it may still be in flight


class DedupStore(Protocol):
    """Where dedup keys live. The in-memory default forgets on restart; a durable outbox table
    implementing these two methods carries the guarantee across restarts."""

    async def get(self, key: str) -> DedupEntry | None: ...

    async def put(self, key: str, entry: DedupEntry) -> None: ...


class MemoryDedupStore:
    """The last ``capacity`` keys, least recently used dropped first."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: OrderedDict[str, DedupEntry] = OrderedDict()
        self._capacity = capacity

    async def get(self, key: str) -> DedupEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: DedupEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


class _KeyLocks:
    """One lock per dedup key in use, dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class DedupingGateway(abc.ABC):
    """The send path every provider shares: validation, one lock per key and the dedup store
    (rules 1-4). A provider implements one attempt (:meth:`_transmit`) and says how to find
    out what an ``UNKNOWN`` attempt did (:meth:`_reconcile`)."""

    name: str

    def __init__(self, *, store: DedupStore | None = None, clock: Clock = utc_now) -> None:
        self._store: DedupStore = store if store is not None else MemoryDedupStore()
        self._clock = clock
        self._locks = _KeyLocks()

    async def send(self, sms: OutboundSms) -> SendResult:
        problem = sms.problem()
        if problem is not None:
            return SendResult.not_sent("invalid_request", problem)
        async with self._locks.hold(sms.dedup_key):
            return await self._send_under_lock(sms)

    async def _send_under_lock(self, sms: OutboundSms) -> SendResult:
        key, fingerprint = sms.dedup_key, sms.fingerprint()
        previous = await self._store.get(key)
        if previous is not None and previous.fingerprint != fingerprint:
            raise DedupKeyReused(f"dedup key {key!r} already names another message")
        unknown_before = previous is not None and previous.result.outcome is SendOutcome.UNKNOWN
        if previous is not None and previous.result.outcome is SendOutcome.SENT:
            return replace(previous.result, replayed=True)
        if previous is not None and unknown_before:
            settled = await self._reconcile(sms, previous)
            if settled is not None:
                if settled.outcome is SendOutcome.SENT:
                    await self._store.put(key, replace(previous, result=settled))
                return settled
        now = self._clock()
        first = previous.first_attempt_at if previous is not None and unknown_before else now
        in_flight = SendResult.unknown("in_flight", "sent to the provider; no answer stored")
        await self._store.put(key, DedupEntry(fingerprint, in_flight, first, now))
        try:
            result = await self._transmit(sms)
        except BaseException:
            # Cancelled (or a bug) while the request may be on the wire: that is UNKNOWN too.
            interrupted = SendResult.unknown("interrupted", "send interrupted in flight")
            await self._store.put(key, DedupEntry(fingerprint, interrupted, first, now))
            raise
        await self._store.put(key, DedupEntry(fingerprint, result, first, now))
        return result

    @abc.abstractmethod
    async def _transmit(self, sms: OutboundSms) -> SendResult:
        """One attempt at the provider. Never raises for provider or network failures."""

    @abc.abstractmethod
    async def _reconcile(self, sms: OutboundSms, previous: DedupEntry) -> SendResult | None:
        """Settle an earlier ``UNKNOWN`` attempt before anything is sent again.

        Return a ``SENT`` result (found it: nothing is sent), an ``UNKNOWN`` one (cannot tell
        yet: nothing is sent, the caller tries later) or None: the provider shows the message
        is not there (or deduplicates on the key itself), so sending again is safe.
        """

    @abc.abstractmethod
    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """Authenticate and parse a crew's message (raises ``WebhookRejected``)."""

    @abc.abstractmethod
    def parse_status(self, request: WebhookRequest) -> DeliveryStatus:
        """Authenticate and parse a delivery report (raises ``WebhookRejected``)."""

    async def aclose(self) -> None:
        """Release connections; the gateway is not used afterwards."""
        return None


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class SmsSettings(Protocol):
    """The settings the gateways read (``kernel.config.Settings`` satisfies it)."""

    @property
    def sms_gateway(self) -> str: ...
    @property
    def public_url(self) -> str: ...
    @property
    def twilio_account_sid(self) -> str | None: ...
    @property
    def twilio_auth_token(self) -> Secret | None: ...
    @property
    def twilio_from_number(self) -> str | None: ...
    @property
    def twilio_messaging_service_sid(self) -> str | None: ...
    @property
    def twilio_api_base(self) -> str | None: ...
    @property
    def http_gateway_url(self) -> str | None: ...
    @property
    def http_gateway_secret(self) -> Secret | None: ...
    @property
    def data_dir(self) -> Path: ...


def require(value: _T | None, env: str, gateway: str) -> _T:
    """A setting the chosen gateway cannot work without."""
    if value is None or value == "":
        raise GatewayConfigError(f"{env} is required when SIAGA_SMS_GATEWAY={gateway}")
    return value


def build_gateway(
    settings: SmsSettings,
    http_client: httpx.AsyncClient | None = None,
    *,
    store: DedupStore | None = None,
    clock: Clock = utc_now,
) -> SmsGateway:
    """The gateway ``settings.sms_gateway`` names.

    ``http_client`` is used by the HTTP gateway (which then leaves it open: the owner closes
    it); Twilio goes through the twilio library's own aiohttp client. Raises
    :class:`GatewayConfigError` naming the missing setting.
    """
    # Imported here: each implementation imports this module for the shared types.
    if settings.sms_gateway == "console":
        from dispatch.sms.console import ConsoleGateway

        return ConsoleGateway(store=store, clock=clock,
                              journal=settings.data_dir / CONSOLE_JOURNAL)
    if settings.sms_gateway == "twilio":
        from dispatch.sms.twilio import TwilioGateway

        return TwilioGateway.from_settings(settings, store=store, clock=clock)
    if settings.sms_gateway == "http":
        from dispatch.sms.http_gateway import HttpGateway

        return HttpGateway.from_settings(settings, http_client, store=store, clock=clock)
    raise GatewayConfigError(f"unknown SIAGA_SMS_GATEWAY {settings.sms_gateway!r}")
