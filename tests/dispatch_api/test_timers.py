"""Lifecycle timers in the service: escalation without acknowledgement, on-scene reminders.

Time is stepped by hand: ``run_timers(now=...)`` fires what is due at that instant. One
test lets the real ``loop.call_at`` fire, with a policy of a few milliseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta
from typing import Any

from dispatch.domain import EscalationCause
from dispatch.events import EscalationRaised, ReminderRaised
from dispatch.lifecycle import TimerPolicy
from dispatch.service.stream import Subscription
from tests.dispatch_api.console import Console


async def next_message(sub: Subscription, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(sub.get(), 5))
        if message["type"] == kind:
            return dict(message)


async def test_no_acknowledgement_escalates_once_with_the_next_best_units(
        console: Console) -> None:
    service = console.service
    incident = await console.create_incident()
    unit = await console.unit_id("AMB-KANIGARAN")
    assignment = await console.assign(incident["id"], unit)
    dispatched = datetime.fromisoformat(assignment["times"]["dispatched_at"])
    assert await service.rearm() == dispatched + timedelta(seconds=120)

    assert await service.run_timers(now=dispatched + timedelta(seconds=119)) == []
    sub = service.hub.subscribe("test")
    fired = await service.run_timers(now=dispatched + timedelta(seconds=121))
    assert [type(e) for e in fired] == [EscalationRaised]
    assert isinstance(fired[0], EscalationRaised)
    assert fired[0].cause is EscalationCause.NOT_ACKNOWLEDGED
    message = await next_message(sub, "escalation")
    assert message["assignment_id"] == assignment["id"]
    assert message["label"]["en"] == "Escalation: Crew did not acknowledge"
    best = [u["unit"]["id"] for u in message["next_best"]]
    assert best and unit not in best
    assert message["next_best"][0]["reason"]["id"]

    assert await service.run_timers(now=dispatched + timedelta(seconds=300)) == []
    detail = await console.detail(incident["id"])
    assert detail["assignments"][0]["escalated_at"] is not None
    escalations = [e for e in detail["audit"] if e["action"] == "escalated"]
    assert [e["actor"] for e in escalations] == ["system"]
    assert await service.rearm() is None  # nothing left to watch while DISPATCHED


async def test_an_acknowledged_dispatch_never_escalates(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    await console.report(assignment["id"], "acknowledge")
    dispatched = datetime.fromisoformat(assignment["times"]["dispatched_at"])
    assert await console.service.run_timers(now=dispatched + timedelta(hours=1)) == []


async def test_a_long_stay_on_scene_raises_reminders(console: Console) -> None:
    service = console.service
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    arrived = (await console.report(assignment["id"], "arrive")).json()
    on_scene = datetime.fromisoformat(arrived["assignment"]["times"]["on_scene_at"])
    assert await service.rearm() == on_scene + timedelta(minutes=30)
    sub = service.hub.subscribe("test")
    fired = await service.run_timers(now=on_scene + timedelta(minutes=31))
    assert [type(e) for e in fired] == [ReminderRaised]
    reminder = await next_message(sub, "reminder")
    assert reminder["status"] == "on_scene"
    assert await service.rearm() == on_scene + timedelta(minutes=61)


async def test_the_armed_timer_fires_on_the_event_loop(sqlite_console: Console) -> None:
    service = sqlite_console.service
    service.config = dataclasses.replace(
        service.config, timers=TimerPolicy(acknowledge_within=timedelta(milliseconds=50)))
    sub = service.hub.subscribe("test")
    incident = await sqlite_console.create_incident()
    assignment = await sqlite_console.assign(incident["id"],
                                             await sqlite_console.unit_id("AMB-KANIGARAN"))
    message = await next_message(sub, "escalation")  # no one called run_timers
    assert message["assignment_id"] == assignment["id"]
