"""Recommendations a clinician would accept: age, major trauma, cardiac arrest, the last ALS,
units ranked from where they are, and reasons that never claim a missing capability."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.clinical import (
    AgeGroup,
    age_group,
    age_in_days,
    contradiction,
    needs,
    offers,
    patient_group,
)
from dispatch.domain import (
    AssignmentStatus,
    BedCategory,
    Capability,
    Complaint,
    Triage,
    UnitStatus,
    UnitType,
)
from dispatch.recommend import (
    BedCount,
    HospitalCandidate,
    Origin,
    RankPolicy,
    UnitCandidate,
    UnitNote,
    believed_position,
    rank_hospitals,
    rank_units,
    reported_origin,
)
from dispatch.travel import STRAIGHT_LINE, LatLon

from .helpers import T0
from .test_recommend import SCENE, hospital, minutes, unit

C, B, S = Capability, BedCategory, AssignmentStatus
PAEDS = {C.IGD, C.PAEDIATRIC, C.PICU}
NEO = {C.IGD, C.PAEDIATRIC, C.NICU}


class TestAge:
    def test_units_and_groups(self) -> None:
        assert age_in_days(3, "years") == 1095 and age_in_days(2, "months") == 60
        assert age_group(age_in_days(27, "days"), Complaint.OTHER) is AgeGroup.NEONATE
        assert age_group(age_in_days(28, "days"), Complaint.OTHER) is AgeGroup.CHILD
        assert age_group(age_in_days(17, "years"), Complaint.TRAUMA) is AgeGroup.CHILD
        assert age_group(age_in_days(18, "years"), Complaint.TRAUMA) is AgeGroup.ADULT

    def test_without_an_age_the_paediatric_complaint_means_a_child_never_a_neonate(self) -> None:
        assert age_group(None, Complaint.PAEDIATRIC) is AgeGroup.CHILD
        assert age_group(None, Complaint.CARDIAC) is None


class TestNeeds:
    def test_a_toddler_needs_paediatrics_and_a_picu_not_a_nicu(self) -> None:
        need = needs(Complaint.RESPIRATORY, Triage.MERAH, AgeGroup.CHILD)
        assert C.PAEDIATRIC in need.required and C.NICU not in need.preferred | need.required
        assert C.PICU in need.preferred and need.beds == (B.PICU, B.ICU)
        assert needs(Complaint.TRAUMA, Triage.KUNING, AgeGroup.CHILD).beds[0] is B.ANAK
        assert needs(Complaint.OTHER, Triage.HIJAU, AgeGroup.CHILD).beds == (B.IGD,)

    def test_a_neonate_needs_the_nicu(self) -> None:
        need = needs(Complaint.PAEDIATRIC, Triage.MERAH, AgeGroup.NEONATE)
        assert C.NICU in need.required and C.PICU not in need.preferred
        assert need.beds[0] is B.NICU and B.PICU not in need.beds
        assert needs(Complaint.OTHER, Triage.HIJAU, AgeGroup.NEONATE).beds == (B.IGD,)

    def test_adults_and_unknown_ages_keep_the_complaint_profile(self) -> None:
        assert needs(Complaint.CARDIAC, Triage.MERAH, AgeGroup.ADULT) == needs(
            Complaint.CARDIAC, Triage.MERAH)
        assert needs(Complaint.TRAUMA, Triage.MERAH).major_trauma
        assert not needs(Complaint.TRAUMA, Triage.KUNING).major_trauma

    def test_a_bed_counts_only_with_its_capability(self) -> None:
        assert offers(frozenset({C.ICU}), B.ICU) and offers(frozenset(), B.UMUM)
        assert not offers(frozenset({C.IGD}), B.VK)


class TestChildrenToPaediatrics:
    def test_a_child_goes_past_a_nearer_adult_hospital_with_a_nicu(self) -> None:
        adult = hospital(1, {C.IGD, C.NICU, C.ICU}, {B.ICU: 3, B.NICU: 2})
        paeds = hospital(2, PAEDS, {B.PICU: 1})
        ranked = rank_hospitals([adult, paeds], SCENE, Complaint.RESPIRATORY, Triage.MERAH,
                                now=T0, times={1: minutes(3), 2: minutes(15)},
                                age=AgeGroup.CHILD)
        assert [r.hospital.id for r in ranked] == [2, 1]
        assert ranked[0].reason.id.startswith("Pasien anak: Ada IGD 24 jam, anak")
        assert "PICU kosong 1" in ranked[0].reason.id
        assert ranked[1].missing == (C.PAEDIATRIC,)
        assert ranked[1].reason.en.startswith("Patient child: Lacks paediatrics; has")

    def test_a_neonate_goes_to_the_nicu(self) -> None:
        picu = hospital(1, PAEDS, {B.PICU: 2})
        nicu = hospital(2, NEO, {B.NICU: 1})
        ranked = rank_hospitals([picu, nicu], SCENE, Complaint.PAEDIATRIC, Triage.MERAH,
                                now=T0, times={1: minutes(2), 2: minutes(12)},
                                age=AgeGroup.NEONATE)
        assert [r.hospital.id for r in ranked] == [2, 1]
        assert "NICU kosong 1" in ranked[0].reason.id
        assert "tidak ada tempat tidur NICU" in ranked[1].reason.id


class TestMajorTrauma:
    TRAUMA = {C.IGD, C.SURGERY, C.TRAUMA}

    def test_merah_trauma_goes_to_the_trauma_centre_in_reach(self) -> None:
        general = hospital(1, {C.IGD, C.SURGERY})
        centre = hospital(2, self.TRAUMA)
        ranked = rank_hospitals([general, centre], SCENE, Complaint.TRAUMA, Triage.MERAH,
                                now=T0, times={1: minutes(4), 2: minutes(25)})
        assert [r.hospital.id for r in ranked] == [2, 1]
        assert ranked[1].missing == (C.TRAUMA,)
        assert "pusat trauma" in ranked[0].reason.id

    def test_without_a_centre_in_reach_the_nearest_capable_hospital_and_it_says_so(self) -> None:
        general = hospital(1, {C.IGD, C.SURGERY})
        centre = hospital(2, self.TRAUMA)
        diverting = hospital(3, self.TRAUMA, accepting=False)
        policy = RankPolicy(trauma_reach_s=20 * 60)
        ranked = rank_hospitals([general, centre, diverting], SCENE, Complaint.TRAUMA,
                                Triage.MERAH, now=T0, policy=policy,
                                times={1: minutes(4), 2: minutes(25), 3: minutes(3)})
        assert [r.hospital.id for r in ranked] == [1, 2, 3]
        assert ranked[0].reason.id.endswith("tidak ada pusat trauma terjangkau dalam 20 mnt")
        assert "no trauma centre" not in ranked[1].reason.en

    def test_kuning_trauma_does_not_need_the_centre(self) -> None:
        general = hospital(1, {C.IGD, C.SURGERY})
        centre = hospital(2, self.TRAUMA)
        ranked = rank_hospitals([general, centre], SCENE, Complaint.TRAUMA, Triage.KUNING,
                                now=T0, times={1: minutes(4), 2: minutes(25)})
        assert [r.hospital.id for r in ranked] == [1, 2]


bed_maps = st.dictionaries(st.sampled_from(BedCategory), st.integers(0, 5), max_size=5)


@given(st.frozensets(st.sampled_from(Capability)), st.frozensets(st.sampled_from(Capability)),
       bed_maps, st.sampled_from(Complaint), st.sampled_from(Triage),
       st.sampled_from([None, *AgeGroup]))
def test_a_reason_never_claims_a_capability_the_hospital_lacks_or_has_out_of_action(
    standing, down, beds, complaint, triage, age,
) -> None:
    in_action = standing - down  # what the hospital desk leaves in action
    h = HospitalCandidate(1, "RS", SCENE, in_action,
                          {c: BedCount(c, n, T0) for c, n in beds.items()})
    (r,) = rank_hospitals([h], SCENE, complaint, triage, now=T0, age=age)
    text = r.reason.id.split(": ", 1)[-1] if age not in (None, AgeGroup.ADULT) else r.reason.id
    claimed = [name for part in text.split("; ") if part[:4] in ("Ada ", "ada ")
               for name in part[4:].split(" (+")[0].split(", ")]
    claimed += [name for part in text.split("; ") if " (+" in part
                for name in part.split(" (+", 1)[1].rstrip(")").split(", ")]
    labels = {c.label.id: c for c in Capability}
    assert all(labels[name] in in_action for name in claimed), (claimed, in_action)
    if r.bed is not None:
        assert offers(in_action, r.bed.category)


class TestCardiacArrest:
    def test_nearest_first_and_the_nearest_als_as_well_when_it_is_bls(self) -> None:
        units = [unit(1, UnitType.ALS), unit(2, UnitType.BLS), unit(3, UnitType.ALS),
                 unit(4, UnitType.BLS)]
        times = {1: minutes(12), 2: minutes(3), 3: minutes(9), 4: minutes(5)}
        ranked = rank_units(units, SCENE, Triage.MERAH, now=T0, times=times,
                            cardiac_arrest=True)
        assert [r.unit.id for r in ranked] == [2, 3, 4, 1]
        assert ranked[0].note is UnitNote.ARREST_NEAREST
        assert ranked[1].note is UnitNote.ARREST_ALS_TOO
        assert "KIRIM JUGA: ALS untuk henti jantung" in ranked[1].reason.id
        assert ranked[2].note is None

    def test_an_als_nearest_goes_alone_and_without_any_als_the_bls_goes(self) -> None:
        ranked = rank_units([unit(1, UnitType.ALS), unit(2, UnitType.BLS)], SCENE,
                            Triage.MERAH, now=T0, times={1: minutes(2), 2: minutes(1.5)},
                            cardiac_arrest=True)
        assert [r.unit.id for r in ranked] == [2, 1] and ranked[1].note is not None
        ranked = rank_units([unit(1, UnitType.ALS), unit(2, UnitType.BLS)], SCENE,
                            Triage.MERAH, now=T0, times={1: minutes(1), 2: minutes(2)},
                            cardiac_arrest=True)
        assert [r.note for r in ranked] == [UnitNote.ARREST_NEAREST, None]
        (only,) = rank_units([unit(2, UnitType.BLS)], SCENE, Triage.MERAH, now=T0,
                             cardiac_arrest=True)
        assert only.note is UnitNote.ARREST_NEAREST
        assert rank_units([], SCENE, Triage.MERAH, now=T0, cardiac_arrest=True) == []


class TestLastAls:
    def test_kuning_keeps_the_last_als_when_a_bls_meets_the_target(self) -> None:
        units = [unit(1, UnitType.ALS), unit(2, UnitType.BLS)]
        ranked = rank_units(units, SCENE, Triage.KUNING, now=T0,
                            times={1: minutes(2), 2: minutes(10)})
        assert [r.unit.id for r in ranked] == [2, 1]
        assert ranked[1].note is UnitNote.ALS_HELD
        assert "ALS terakhir yang siaga" in ranked[1].reason.id

    def test_the_als_goes_when_no_bls_meets_the_target_or_another_als_is_free(self) -> None:
        late_bls = [unit(1, UnitType.ALS), unit(2, UnitType.BLS)]
        ranked = rank_units(late_bls, SCENE, Triage.KUNING, now=T0,
                            times={1: minutes(2), 2: minutes(20)})
        assert [r.unit.id for r in ranked] == [1, 2] and ranked[0].note is None
        two_als = [*late_bls, unit(3, UnitType.ALS)]
        ranked = rank_units(two_als, SCENE, Triage.KUNING, now=T0,
                            times={1: minutes(2), 2: minutes(10), 3: minutes(30)})
        assert ranked[0].unit.id == 1

    def test_merah_always_may_take_the_last_als(self) -> None:
        units = [unit(1, UnitType.ALS), unit(2, UnitType.BLS)]
        ranked = rank_units(units, SCENE, Triage.MERAH, now=T0,
                            times={1: minutes(2), 2: minutes(1)})
        assert ranked[0].unit.id == 1 and ranked[0].note is None


POST = LatLon(-7.7800, 113.2150)  # about 2.9 km south of SCENE


class TestFromWhereTheyAre:
    def test_a_unit_at_the_hospital_after_handover_is_ranked_from_there(self) -> None:
        at_hospital = UnitCandidate(1, UnitType.BLS, UnitStatus.AVAILABLE, SCENE,
                                    T0 - timedelta(minutes=2), Origin.HOSPITAL, POST)
        at_post = UnitCandidate(2, UnitType.BLS, UnitStatus.AVAILABLE, LatLon(-7.7600, 113.215),
                                None, Origin.POST, LatLon(-7.7600, 113.215))
        ranked = rank_units([at_post, at_hospital], SCENE, Triage.KUNING, now=T0)
        assert [r.unit.id for r in ranked] == [1, 2]
        assert ranked[0].origin is Origin.HOSPITAL
        assert "dari rumah sakit (serah terima), 2 mnt lalu" in ranked[0].reason.id
        assert "posisi pangkalan" in ranked[1].reason.id

    def test_a_reported_place_holds_until_the_crew_could_be_back_at_the_post(self) -> None:
        drive = STRAIGHT_LINE.estimate(SCENE, POST).seconds
        fresh = UnitCandidate(1, UnitType.BLS, UnitStatus.AVAILABLE, SCENE,
                              T0 - timedelta(seconds=drive - 1), Origin.SCENE, POST)
        assert believed_position(fresh, T0) == (SCENE, Origin.SCENE)
        back = UnitCandidate(1, UnitType.BLS, UnitStatus.AVAILABLE, SCENE,
                             T0 - timedelta(seconds=drive + 1), Origin.SCENE, POST)
        assert believed_position(back, T0) == (POST, Origin.POST)
        (r,) = rank_units([back], SCENE, Triage.KUNING, now=T0)
        assert r.origin is Origin.POST and "posisi pangkalan" in r.reason.id
        (r,) = rank_units([fresh], SCENE, Triage.KUNING, now=T0)
        assert "dari lokasi kejadian terakhir" in r.reason.id
        no_post = UnitCandidate(1, UnitType.BLS, UnitStatus.AVAILABLE, SCENE, None,
                                Origin.SCENE)
        assert believed_position(no_post, T0) == (SCENE, Origin.SCENE)
        undated = UnitCandidate(1, UnitType.BLS, UnitStatus.AVAILABLE, SCENE, None,
                                Origin.SCENE, POST)
        assert believed_position(undated, T0) == (SCENE, Origin.SCENE)


def test_intake_refuses_contradictions() -> None:
    assert contradiction(Complaint.CARDIAC, Triage.KUNING, None, True) is not None
    found = contradiction(Complaint.PAEDIATRIC, Triage.KUNING, AgeGroup.ADULT, False)
    assert found is not None and found[0] == "age_contradicts_complaint"
    assert contradiction(Complaint.CARDIAC, Triage.MERAH, AgeGroup.ADULT, True) is None


def test_a_crew_status_places_the_unit() -> None:
    assert reported_origin(S.ON_SCENE) is Origin.SCENE
    assert reported_origin(S.AT_HOSPITAL) is reported_origin(S.HANDOVER) is Origin.HOSPITAL
    assert reported_origin(S.EN_ROUTE) is None


def test_the_age_as_stored() -> None:
    assert patient_group(3, None, Complaint.OTHER) is AgeGroup.CHILD
    assert patient_group(10, "days", Complaint.OTHER) is AgeGroup.NEONATE
    assert patient_group(None, None, Complaint.OTHER) is None
