"""Mass casualty rules (dispatch.casualty): shares, closing, bed reservations, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch import casualty
from dispatch.casualty import Bound, Carried
from dispatch.clinical import AgeGroup
from dispatch.domain import AssignmentStatus as S
from dispatch.domain import BedCategory as B
from dispatch.domain import Complaint, IncidentStatus, Triage
from dispatch.lifecycle import incident_status

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)


class TestShares:
    def test_cancelled_assignments_give_their_patients_back(self) -> None:
        shares = [Carried(S.EN_ROUTE, 3), Carried(S.CANCELLED, 4), Carried(S.HANDOVER, 2)]
        assert casualty.unassigned(12, shares) == 7

    def test_never_below_zero(self) -> None:
        assert casualty.unassigned(2, [Carried(S.DISPATCHED, 5)]) == 0

    def test_no_count_takes_every_patient_left(self) -> None:
        assert casualty.patients_to_carry(12, [Carried(S.DISPATCHED, 5)], None) == 7
        assert casualty.patients_to_carry(1, [Carried(S.DISPATCHED, 1)], None) == 0

    def test_an_explicit_count_within_what_remains(self) -> None:
        assert casualty.patients_to_carry(12, [Carried(S.DISPATCHED, 5)], 7) == 7
        assert casualty.patients_to_carry(12, [], 0) == 0

    def test_more_than_remain_is_refused_with_the_numbers(self) -> None:
        with pytest.raises(casualty.PatientRefusal) as refused:
            casualty.patients_to_carry(12, [Carried(S.DISPATCHED, 10)], 3)
        assert refused.value.code == "patients_exceed_remaining"
        assert refused.value.details == {"asked": 3, "unassigned": 2, "patients": 12}
        assert "2 dari 12 pasien" in refused.value.message.id


class TestClosing:
    def test_closes_when_every_patient_was_carried_and_every_unit_is_back(self) -> None:
        shares = [Carried(S.BACK_IN_SERVICE, 8), Carried(S.BACK_IN_SERVICE, 4),
                  Carried(S.CANCELLED, 3)]
        assert casualty.close_refusal(12, shares) is None

    def test_names_the_unassigned_patients(self) -> None:
        refusal = casualty.close_refusal(12, [Carried(S.BACK_IN_SERVICE, 9)])
        assert refusal is not None
        assert refusal.code == "patients_unassigned"
        assert refusal.message.id == ("Kejadian belum bisa ditutup: "
                                      "3 pasien belum mendapat ambulans")
        assert refusal.details == {"unassigned": 3, "units_working": 0, "patients": 12}

    def test_names_the_units_still_working(self) -> None:
        refusal = casualty.close_refusal(2, [Carried(S.TRANSPORTING, 2),
                                             Carried(S.BACK_IN_SERVICE, 0)])
        assert refusal is not None
        assert refusal.code == "units_working"
        assert refusal.message.en == "The incident cannot be closed yet: 1 units still working"

    def test_names_both(self) -> None:
        refusal = casualty.close_refusal(5, [Carried(S.ON_SCENE, 2)])
        assert refusal is not None
        assert refusal.code == "patients_unassigned"
        assert refusal.message.id.endswith(
            "3 pasien belum mendapat ambulans, 1 unit masih bertugas")

    def test_derived_status_waits_for_a_unit_while_patients_are_left(self) -> None:
        done = [S.BACK_IN_SERVICE]
        assert incident_status(done, unassigned=0) is IncidentStatus.CLOSED
        assert incident_status(done, unassigned=3) is IncidentStatus.NEW
        assert incident_status([S.EN_ROUTE], unassigned=3) is IncidentStatus.DISPATCHED


def bound(status: S, patients: int, hospital: int | None = 1, *, triage: Triage = Triage.MERAH,
          delivered_at: datetime | None = None) -> Bound:
    return Bound(Carried(status, patients, hospital, delivered_at), Complaint.TRAUMA, triage)


class TestReservations:
    REPORTED = {1: {B.ICU: EARLIER, B.IGD: EARLIER, B.BEDAH: EARLIER}, 2: {B.UMUM: EARLIER}}

    def test_category_follows_triage_and_what_the_hospital_reports(self) -> None:
        assert casualty.reserved_category(Complaint.TRAUMA, Triage.MERAH, {B.ICU}) is B.ICU
        assert casualty.reserved_category(Complaint.TRAUMA, Triage.KUNING,
                                          {B.UMUM, B.BEDAH}) is B.BEDAH
        assert casualty.reserved_category(Complaint.TRAUMA, Triage.HIJAU, {B.IGD}) is B.IGD
        assert casualty.reserved_category(Complaint.TRAUMA, Triage.MERAH, {B.UMUM}) is None
        child = casualty.reserved_category(Complaint.TRAUMA, Triage.MERAH, {B.ICU, B.PICU},
                                           AgeGroup.CHILD)
        assert child is B.PICU  # the chain the ranking reads for a child

    def test_patients_on_their_way_hold_beds_by_category(self) -> None:
        held = casualty.reservations([
            bound(S.DISPATCHED, 3), bound(S.TRANSPORTING, 2),
            bound(S.EN_ROUTE, 4, triage=Triage.HIJAU), bound(S.ON_SCENE, 2, 2),
        ], self.REPORTED, NOW)
        assert held == {1: {B.ICU: 5, B.IGD: 4}}  # hospital 2 reports no ICU bed

    def test_nothing_held_without_destination_patients_or_when_cancelled(self) -> None:
        held = casualty.reservations([
            bound(S.DISPATCHED, 3, None), bound(S.DISPATCHED, 0), bound(S.CANCELLED, 3),
            bound(S.DISPATCHED, 3, 9),
        ], self.REPORTED, NOW)
        assert held == {}

    def test_a_delivered_patient_holds_the_bed_until_the_hospital_reports_it(self) -> None:
        delivered = bound(S.HANDOVER, 2, delivered_at=NOW - timedelta(minutes=30))
        assert casualty.reservations([delivered], self.REPORTED, NOW) == {1: {B.ICU: 2}}
        reported_after = {1: {B.ICU: NOW - timedelta(minutes=5)}}
        assert casualty.reservations([delivered], reported_after, NOW) == {}

    def test_a_delivered_patient_is_released_after_the_hold_in_any_case(self) -> None:
        old = bound(S.BACK_IN_SERVICE, 2, delivered_at=NOW - casualty.DELIVERED_HOLD)
        assert casualty.reservations([old], {1: {B.ICU: NOW - timedelta(days=2)}}, NOW) == {}

    def test_delivered_without_a_stamp_still_holds(self) -> None:
        assert casualty.holds_bed(Carried(S.AT_HOSPITAL, 1, 1), EARLIER, NOW)
        assert not casualty.holds_bed(Carried(S.DISPATCHED, 1, None), EARLIER, NOW)


class TestPreArrival:
    def test_a_hospital_counts_only_its_own_patients(self) -> None:
        shares = [Carried(S.TRANSPORTING, 3, 1), Carried(S.DISPATCHED, 4, 2),
                  Carried(S.CANCELLED, 2, 1), Carried(S.DISPATCHED, 2, 1),
                  Carried(S.DISPATCHED, 1, None)]
        assert casualty.patients_for(1, shares) == 5
        assert casualty.patients_for(2, shares) == 4
        assert casualty.patients_for(3, shares) == 0
