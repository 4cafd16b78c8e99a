"""The incoming-patients core: who is listed, at which stage, with which arrival, in which
order (dispatch/incoming.py rules 1-4)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from dispatch.domain import AssignmentStatus, Complaint, Triage, UnitType
from dispatch.incoming import Stage, Transport, expected_arrival, incoming
from tests.dispatch.helpers import assignment_in

TRAVEL = 420.0


def transport(status: AssignmentStatus, *, assignment_id: int = 1,
              triage: Triage = Triage.MERAH) -> Transport:
    record = assignment_in(status, assignment_id=assignment_id)
    return Transport(
        assignment_id=assignment_id, incident_id=100 + assignment_id,
        number=f"PSC-20261128-{assignment_id:04d}", triage=triage, complaint=Complaint.CARDIAC,
        patients=1, callsign=f"AMB-{assignment_id}", unit_type=UnitType.ALS, status=status,
        times=record.times, kelurahan="Kanigaran", travel_seconds=TRAVEL)


@pytest.mark.parametrize(("status", "stage"), [
    (AssignmentStatus.DISPATCHED, Stage.ASSIGNED),
    (AssignmentStatus.ACKNOWLEDGED, Stage.ASSIGNED),
    (AssignmentStatus.EN_ROUTE, Stage.ASSIGNED),
    (AssignmentStatus.ON_SCENE, Stage.ON_SCENE),
    (AssignmentStatus.TRANSPORTING, Stage.TRANSPORTING),
    (AssignmentStatus.AT_HOSPITAL, Stage.ARRIVED),
])
def test_a_patient_is_listed_until_handover_at_its_stage(status: AssignmentStatus,
                                                         stage: Stage) -> None:
    [item] = incoming([transport(status)])
    assert item.stage is stage
    assert item.stage.label.id and item.stage.label.en


@pytest.mark.parametrize("status", [AssignmentStatus.HANDOVER, AssignmentStatus.CANCELLED,
                                    AssignmentStatus.BACK_IN_SERVICE])
def test_handed_over_cancelled_and_finished_ones_are_not(status: AssignmentStatus) -> None:
    assert incoming([transport(status)]) == []


def test_the_arrival_is_known_once_the_crew_leaves_the_scene() -> None:
    for status in (AssignmentStatus.DISPATCHED, AssignmentStatus.EN_ROUTE,
                   AssignmentStatus.ON_SCENE):
        assert expected_arrival(transport(status)) is None
    moving = transport(AssignmentStatus.TRANSPORTING)
    assert moving.times.transporting_at is not None
    assert expected_arrival(moving) == moving.times.transporting_at + timedelta(seconds=TRAVEL)
    arrived = transport(AssignmentStatus.AT_HOSPITAL)
    [item] = incoming([arrived])
    assert item.expected_at == item.arrived_at == arrived.times.at_hospital_at


def test_a_transport_without_its_departure_stamp_has_no_guessed_arrival() -> None:
    # A crew may skip a status (lifecycle rule 3): no stamp, no arrival time invented.
    skipped = dataclasses.replace(transport(AssignmentStatus.TRANSPORTING),
                                  times=transport(AssignmentStatus.ON_SCENE).times)
    assert expected_arrival(skipped) is None
    assert incoming([skipped])[0].stage is Stage.TRANSPORTING


def test_order_is_triage_then_the_soonest_arrival_then_dispatch_order() -> None:
    kuning_moving = transport(AssignmentStatus.TRANSPORTING, assignment_id=1,
                              triage=Triage.KUNING)
    merah_waiting = transport(AssignmentStatus.DISPATCHED, assignment_id=2)
    merah_arrived = transport(AssignmentStatus.AT_HOSPITAL, assignment_id=3)
    merah_moving = transport(AssignmentStatus.TRANSPORTING, assignment_id=4)
    merah_waiting_later = transport(AssignmentStatus.ON_SCENE, assignment_id=5)
    hijau = transport(AssignmentStatus.DISPATCHED, assignment_id=6, triage=Triage.HIJAU)
    hitam = transport(AssignmentStatus.DISPATCHED, assignment_id=7, triage=Triage.HITAM)
    listed = incoming([hitam, hijau, kuning_moving, merah_waiting_later, merah_waiting,
                       merah_moving, merah_arrived])
    # MERAH first. Among them: arrived (T0 + 5 min) before the one on the road
    # (left at T0 + 4 min, + 7 min), then those not yet on the road in dispatch order (both
    # dispatched at T0: by assignment). KUNING, HIJAU and HITAM follow.
    assert [i.transport.assignment_id for i in listed] == [3, 4, 2, 5, 1, 6, 7]
