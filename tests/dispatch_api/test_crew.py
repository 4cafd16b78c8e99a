"""What the SMS side gets: bus announcements, the crew context, and crew status changes."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.domain import Complaint, Triage, UnitType
from dispatch.errors import IllegalTransition
from dispatch.events import (
    IncidentDispatched,
    IncidentTalkgroupRequested,
    UnitDispatched,
    UnitStatusChanged,
)
from dispatch.lifecycle import Trigger, UnitTrigger
from dispatch.service import Actor, Conflict
from kernel.bus import EventBus
from tests.dispatch_api.console import Console


async def collect(bus: EventBus, *types: type) -> list[Any]:
    seen: list[Any] = []

    async def keep(event: object) -> None:
        seen.append(event)

    for kind in types:
        bus.subscribe(kind, keep)
    return seen


async def test_an_assignment_announces_everything_the_sms_needs(console: Console) -> None:
    bus: EventBus = console.app.runtime.services["bus"]
    seen = await collect(bus, UnitDispatched, IncidentDispatched, IncidentTalkgroupRequested)
    hospitals = {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                      hospital_id=hospitals["rsud-saleh"])
    await bus.drain()

    dispatched = next(e for e in seen if isinstance(e, UnitDispatched))
    assert dispatched.assignment_id == assignment["id"]
    brief = next(e for e in seen if isinstance(e, IncidentDispatched))
    assert brief.number == incident["number"]
    assert (brief.callsign, brief.unit_type) == ("AMB-KANIGARAN", UnitType.ALS)
    assert brief.crew_phones == ("+6281200010008",)
    assert (brief.triage, brief.complaint) == (Triage.MERAH, Complaint.CARDIAC)
    assert (brief.address, brief.kelurahan) == ("Jl. Suroyo No. 12", "Kanigaran")
    assert (brief.scene_lat, brief.scene_lon) == (incident["lat"], incident["lon"])
    assert brief.hospital_name == "RSUD dr. Mohamad Saleh"
    assert brief.eta_seconds is not None and 0 < brief.eta_seconds < 120
    assert brief.dispatched_by == "dispatcher1"
    talkgroup = next(e for e in seen if isinstance(e, IncidentTalkgroupRequested))
    assert talkgroup.code == incident["number"].lower()
    assert talkgroup.member_usernames == ("dispatcher1",)

    again = await console.service.dispatch_brief(assignment["id"])
    assert (again.number, again.crew_phones) == (brief.number, brief.crew_phones)


async def test_the_crew_context_finds_the_unit_by_phone(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    context = await console.service.crew_context("+6281200010008")
    assert context is not None
    assert context.callsign == "AMB-KANIGARAN"
    assert [a.id for a in context.active] == [assignment["id"]]
    assert context.numbers == {incident["id"]: incident["number"]}
    assert await console.service.crew_context("+6289999999999") is None


async def test_a_crew_reply_moves_the_assignment_by_unit(console: Console) -> None:
    incident = await console.create_incident()
    unit = await console.unit_id("AMB-KANIGARAN")
    await console.assign(incident["id"], unit)
    result = await console.service.apply_crew_status(
        trigger=Trigger.ARRIVE, actor=Actor.sms("+6281200010008"), unit_id=unit)
    assert result.changed
    assert result.assignment is not None and result.assignment.status.value == "on_scene"
    assert result.unit.status.value == "on_scene"
    repeat = await console.service.apply_crew_status(
        trigger=Trigger.ARRIVE, actor=Actor.sms("+6281200010008"), unit_id=unit)
    assert not repeat.changed


async def test_an_illegal_crew_reply_raises_the_core_reason_and_writes_nothing(
        console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    before = await console.counts()
    with pytest.raises(IllegalTransition) as refused:
        await console.service.apply_crew_status(
            trigger=Trigger.CLEAR, actor=Actor.sms("+6281200010008"),
            assignment_id=assignment["id"])
    assert refused.value.code == "scene_not_reached"
    assert refused.value.message.id.startswith("Belum tiba di lokasi")
    assert await console.counts() == before


async def test_a_decline_takes_the_unit_out_and_back_with_siap(console: Console) -> None:
    bus: EventBus = console.app.runtime.services["bus"]
    seen = await collect(bus, UnitStatusChanged)
    incident = await console.create_incident()
    unit = await console.unit_id("AMB-KANIGARAN")
    await console.assign(incident["id"], unit)
    sms = Actor.sms("+6281200010008")
    declined = await console.service.apply_crew_status(trigger=Trigger.DECLINE, actor=sms,
                                                       unit_id=unit)
    assert declined.unit.status.value == "out_of_service"
    assert (await console.detail(incident["id"]))["incident"]["status"] == "new"
    with pytest.raises(Conflict) as none_left:
        await console.service.apply_crew_status(trigger=Trigger.ARRIVE, actor=sms,
                                                unit_id=unit)
    assert none_left.value.code == "no_active_assignment"
    back = await console.service.apply_crew_status(trigger=UnitTrigger.RETURN_TO_SERVICE,
                                                   actor=sms, unit_id=unit)
    assert back.unit.status.value == "available"
    await bus.drain()
    assert [(e.previous.value, e.status.value) for e in seen] == [
        ("available", "dispatched"), ("dispatched", "out_of_service"),
        ("out_of_service", "available")]
