"""One harness per SMS gateway, so the contract suite runs unchanged over every implementation.

A :class:`Harness` pairs a gateway with its provider (the fake Twilio, the fake HTTP gateway,
or nothing for the console) and says, in the provider's terms, what was accepted for sending
and how a crew's reply or a delivery report reaches our webhook endpoint.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from dispatch.sms.console import ConsoleGateway
from dispatch.sms.gateway import DedupingGateway, WebhookRequest
from dispatch.sms.http_gateway import HttpGateway
from dispatch.sms.twilio import TwilioGateway
from tests.sms.fake_http_gateway import FakeHttpGateway
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.servers import Fault, ManualClock, Servers, WebhookReceiver

PUBLIC_URL = "https://siaga.example.id"  # what the world calls; a proxy forwards to loopback
CREW = "+6281234567890"
TIMEOUT = 1.0  # gateway request timeout in these tests; scripted holds are longer
HOLD = 5.0
SETTLE = 60.0


@dataclass
class Harness:
    name: str
    gateway: DedupingGateway
    clock: ManualClock
    our_number: str
    callback_url: str  # the status callback to send with each message
    settle: float  # seconds before an UNKNOWN outcome may be sent again (0: provider dedups)
    accepted: Callable[[], list[tuple[str, str]]]  # (to, body) the provider took on
    text_in: Callable[[str, str], Awaitable[tuple[str, WebhookRequest]]]  # a phone replies
    report: Callable[[str, str], Awaitable[WebhookRequest]]  # provider reports a status
    inject: Callable[[Fault], None]
    provider: object = None  # the fake provider, for provider-specific tests
    receiver: WebhookReceiver | None = None


def _json_request(path: str, payload: dict[str, object]) -> WebhookRequest:
    return WebhookRequest("POST", path, {"Content-Type": "application/json"},
                          json.dumps(payload).encode())


@contextlib.asynccontextmanager
async def console_harness() -> AsyncIterator[Harness]:
    clock = ManualClock()
    gateway = ConsoleGateway(clock=clock)
    counter = iter(range(1, 10_000))

    async def text_in(from_: str, body: str) -> tuple[str, WebhookRequest]:
        inbound_id = f"console-in-{next(counter)}"
        return inbound_id, _json_request("/sms/console/inbound",
                                         {"id": inbound_id, "from": from_, "body": body})

    async def report(provider_id: str, status: str) -> WebhookRequest:
        return _json_request("/sms/console/status", {"id": provider_id, "status": status})

    def inject(fault: Fault) -> None:
        raise NotImplementedError("the console gateway has no transport to break")

    yield Harness("console", gateway, clock, "console", f"{PUBLIC_URL}/sms/console/status",
                  0.0, lambda: [(m.to, m.body) for m in gateway.recent()], text_in, report,
                  inject)
    await gateway.aclose()


@contextlib.asynccontextmanager
async def twilio_harness() -> AsyncIterator[Harness]:
    clock, receiver = ManualClock(), WebhookReceiver()
    async with Servers() as servers:
        fake = await FakeTwilio().start(servers)
        local = await servers.start(receiver.app)
        fake.route(PUBLIC_URL, local)
        gateway = TwilioGateway(
            fake.account_sid, fake.auth_token, public_url=PUBLIC_URL,
            from_number=fake.numbers[0], api_base=fake.base_url, timeout=TIMEOUT,
            connect_timeout=TIMEOUT, settle_seconds=SETTLE, clock=clock)

        async def text_in(from_: str, body: str) -> tuple[str, WebhookRequest]:
            sid, answer = await fake.deliver_inbound(f"{PUBLIC_URL}/sms/twilio/inbound",
                                                     from_=from_, to=fake.numbers[0], body=body)
            assert answer.status_code == 200
            return sid, receiver.last()

        async def report(provider_id: str, status: str) -> WebhookRequest:
            answer = await fake.deliver_status(provider_id, status)
            assert answer.status_code == 200
            return receiver.last()

        harness = Harness("twilio", gateway, clock, fake.numbers[0],
                          f"{PUBLIC_URL}/sms/twilio/status", SETTLE,
                          lambda: [(m.to, m.body) for m in fake.outbound()], text_in, report,
                          fake.faults.add, fake, receiver)
        try:
            yield harness
        finally:
            await gateway.aclose()


@contextlib.asynccontextmanager
async def http_harness() -> AsyncIterator[Harness]:
    clock, receiver = ManualClock(), WebhookReceiver()
    async with Servers() as servers:
        fake = await FakeHttpGateway().start(servers)
        local = await servers.start(receiver.app)
        gateway = HttpGateway(fake.send_url, fake.secret, timeout=TIMEOUT,
                              connect_timeout=TIMEOUT, clock=clock)

        async def text_in(from_: str, body: str) -> tuple[str, WebhookRequest]:
            inbound_id, answer = await fake.deliver_inbound(
                f"{local}/sms/http/inbound", from_=from_, to="+6285100000000", body=body)
            assert answer.status_code == 200
            return inbound_id, receiver.last()

        async def report(provider_id: str, status: str) -> WebhookRequest:
            answer = await fake.deliver_status(provider_id, status)
            assert answer.status_code == 200
            return receiver.last()

        harness = Harness("http", gateway, clock, "+6285100000000", f"{local}/sms/http/status",
                          0.0, lambda: [(m.to, m.body) for m in fake.messages.values()],
                          text_in, report, fake.faults.add, fake, receiver)
        try:
            yield harness
        finally:
            await gateway.aclose()


HARNESSES = {"console": console_harness, "http": http_harness, "twilio": twilio_harness}


@pytest.fixture(params=["console", "http", "twilio"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with HARNESSES[request.param]() as h:
        yield h


@pytest.fixture(params=["http", "twilio"])
async def remote(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The gateways with a network between us and the provider."""
    async with HARNESSES[request.param]() as h:
        yield h


@pytest.fixture
async def twilio() -> AsyncIterator[Harness]:
    async with twilio_harness() as h:
        yield h


@pytest.fixture
async def http_gw() -> AsyncIterator[Harness]:
    async with http_harness() as h:
        yield h
