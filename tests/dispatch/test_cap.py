"""CAP 1.2 alerts (dispatch/cap.py): valid against the CAP 1.2 schema, in the required order,
bilingual, and refusing identifiers CAP forbids."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from lxml import etree

from dispatch.cap import (
    CapHospital,
    CapIncident,
    Destination,
    cap_time,
    diversion_alert,
    mass_casualty_alert,
)
from dispatch.domain import Capability, Complaint, Triage
from tests.dispatch.cap_schema import NS, texts, valid_cap

NOW = datetime(2026, 12, 7, 14, 30, 15, 123456, tzinfo=UTC)  # 21:30:15 WIB
CHANGED = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)

SALEH = CapHospital(
    code="rsud-saleh", name="RSUD dr. Mohamad Saleh", address="Jl. Mayjend Panjaitan No. 65",
    lat=-7.7530, lon=113.2104, accepting=False, changed_at=CHANGED,
    unavailable=(Capability.CT_SCAN.label,), note="CT rusak <sampai besok> & lift mati")

MCI = CapIncident(
    number="PSC-20261207-0012", cancelled=False, patients=12, triage=Triage.MERAH.label,
    complaint=Complaint.TRAUMA.label, kelurahan="Mayangan", kecamatan="Mayangan",
    address="Jl. Tanjung Tembaga", lat=-7.7355, lon=113.2220, created_at=CHANGED,
    updated_at=NOW, destinations=(Destination("RSUD Ar-Rozy", 0),
                                  Destination("RSUD dr. Mohamad Saleh", 3)))

SENDER = {"sender": "psc119@siaga.example.id", "sender_name": "PSC 119 Kota Probolinggo"}


def test_times_are_wib_with_an_offset_and_no_fraction() -> None:
    assert cap_time(NOW) == "2026-12-07T21:30:15+07:00"


def test_a_diversion_is_an_alert_to_avoid_the_hospital() -> None:
    root = valid_cap(diversion_alert(SALEH, now=NOW, **SENDER))
    assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    assert [etree.QName(e).localname for e in root][:7] == [
        "identifier", "sender", "sent", "status", "msgType", "scope", "restriction"]
    stamp = int(CHANGED.timestamp())
    assert texts(root, "cap:identifier") == [f"siaga-diversion-rsud-saleh-{stamp}"]
    assert texts(root, "cap:sent") == ["2026-12-07T21:30:15+07:00"]
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:info/cap:language") == ["id-ID", "en-US"]
    assert texts(root, "cap:info/cap:responseType") == ["Avoid", "Avoid"]
    [described, _] = texts(root, "cap:info/cap:description")
    assert "sejak 2026-12-07T20:00:00+07:00" in described
    assert "Tidak berfungsi: CT scan" in described
    assert "CT rusak <sampai besok> & lift mati" in described  # escaped, and read back whole
    assert texts(root, "cap:info/cap:area/cap:circle") == ["-7.75300,113.21040 0.1"] * 2
    assert texts(root, "cap:info/cap:parameter/cap:value")[:2] == ["rsud-saleh", "false"]


def test_accepting_again_is_an_update_all_clear() -> None:
    back = dataclasses.replace(SALEH, accepting=True, unavailable=(), note="")
    root = valid_cap(diversion_alert(back, now=NOW, **SENDER))
    assert texts(root, "cap:msgType") == ["Update"]
    assert texts(root, "cap:identifier") == [
        f"siaga-accepting-rsud-saleh-{int(CHANGED.timestamp())}"]  # not the alert's
    assert texts(root, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    [_, headline_en] = texts(root, "cap:info/cap:headline")
    assert headline_en == "RSUD dr. Mohamad Saleh accepts patients again"
    assert "Catatan" not in texts(root, "cap:info/cap:description")[0]


def test_a_mass_casualty_incident_asks_hospitals_to_prepare() -> None:
    root = valid_cap(mass_casualty_alert(MCI, now=NOW, **SENDER))
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:incidents") == ["PSC-20261207-0012"]
    assert texts(root, "cap:info/cap:category") == ["Health", "Rescue"] * 2
    assert texts(root, "cap:info/cap:responseType") == ["Prepare", "Prepare"]
    assert texts(root, "cap:info/cap:severity") == ["Severe", "Severe"]
    [headline_id, headline_en] = texts(root, "cap:info/cap:headline")
    assert headline_id == "Insiden korban massal PSC-20261207-0012: 12 pasien"
    assert headline_en == "Mass casualty incident PSC-20261207-0012: 12 patients"
    description_en = texts(root, "cap:info/cap:description")[1]
    assert "Ambulances to hospitals: RSUD dr. Mohamad Saleh: 3 unit(s)." in description_en
    assert "Ar-Rozy" not in description_en  # no unit bound there
    names = texts(root, "cap:info[1]/cap:parameter/cap:valueName")
    values = texts(root, "cap:info[1]/cap:parameter/cap:value")
    assert dict(zip(names, values, strict=True)) == {
        "patients": "12", "units_to:RSUD dr. Mohamad Saleh": "3"}


def test_a_cancelled_mass_casualty_incident_is_a_cancel() -> None:
    quiet = dataclasses.replace(MCI, cancelled=True, destinations=(), address="")
    root = valid_cap(mass_casualty_alert(quiet, now=NOW, **SENDER))
    assert texts(root, "cap:msgType") == ["Cancel"]
    assert texts(root, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    assert "Ambulans menuju RS: belum ada." in texts(root, "cap:info/cap:description")[0]
    assert texts(root, "cap:info/cap:area/cap:areaDesc")[0] == "Mayangan, Mayangan"


@pytest.mark.parametrize("sender", ["psc 119", "psc119,probolinggo", "a<b", "a&b", ""])
def test_a_sender_cap_forbids_is_refused(sender: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        diversion_alert(SALEH, now=NOW, sender=sender, sender_name="PSC 119")


def test_the_schema_catches_what_it_should() -> None:
    """The transcribed schema is not a rubber stamp: out of order, a bad value, a missing
    element or a time with fractions are refused."""
    good = diversion_alert(SALEH, now=NOW, **SENDER)
    broken = [
        good.replace("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"),
        good.replace("<status>Actual</status><msgType>Alert</msgType>",
                     "<msgType>Alert</msgType><status>Actual</status>"),
        good.replace("2026-12-07T21:30:15+07:00</sent>", "2026-12-07T21:30:15.1+07:00</sent>"),
        good.replace("<urgency>Immediate</urgency>", ""),
        good.replace("-7.75300,113.21040 0.1", "near the market"),
    ]
    for text in broken:
        assert text != good
        with pytest.raises(AssertionError, match="not valid CAP 1.2"):
            valid_cap(text)
    assert NS["cap"] in good
