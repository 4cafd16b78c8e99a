"""OASIS CAP 1.2 alerts for other agencies: a hospital's diversion, a mass casualty incident.

Pure: records and a time in, the XML document out (the standard library's ElementTree; no
I/O). The service loads the records; the API serves the text as ``application/cap+xml``.

Rules:

1. Elements appear in the order the CAP 1.2 schema's sequences require, with values from its
   enumerations; ``sent``, ``effective`` and ``expires`` are WIB with a numeric offset and no
   fractional seconds (CAP 1.2 §3.3.2: "2026-12-07T21:15:00+07:00").
2. Identifiers and the sender contain no spaces, commas, ``<`` or ``&`` (§3.2.1): they are
   built from codes and incident numbers only, and a sender given with such characters is
   refused (ValueError) rather than sent broken.
3. One ``info`` block per language, Bahasa Indonesia (``id-ID``) first, English (``en-US``)
   second, identical but for the words.
4. Scope ``Restricted`` (``restriction`` says to whom): these alerts are for hospitals and
   the PSC, not the public.
5. Diversion: a hospital not accepting is an ``Alert`` (response ``Avoid``); accepting again
   after a diversion is an ``Update`` (response ``AllClear``). A mass casualty incident is an
   ``Alert`` (response ``Prepare``), a ``Cancel`` once cancelled; its patient count is at
   least the configured threshold, which the service checks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dispatch.domain import Label, Lang

NS = "urn:oasis:names:tc:emergency:cap:1.2"
WIB = timezone(timedelta(hours=7), "WIB")
RESTRICTION = Label("Untuk rumah sakit dan PSC 119; bukan untuk umum",
                    "For hospitals and PSC 119; not for the public")
_FORBIDDEN = re.compile(r"[\s,<&]")
_LANGUAGES: tuple[tuple[Lang, str], ...] = (("id", "id-ID"), ("en", "en-US"))


@dataclass(frozen=True, slots=True)
class CapHospital:
    code: str
    name: str
    address: str
    lat: float
    lon: float
    accepting: bool
    changed_at: datetime  # when acceptance last changed
    unavailable: tuple[Label, ...]  # capabilities out of action, as people read them
    note: str


@dataclass(frozen=True, slots=True)
class Destination:
    hospital: str
    units: int


@dataclass(frozen=True, slots=True)
class CapIncident:
    number: str
    cancelled: bool
    patients: int
    triage: Label
    complaint: Label
    kelurahan: str
    kecamatan: str
    address: str
    lat: float
    lon: float
    created_at: datetime
    updated_at: datetime
    destinations: tuple[Destination, ...]


def cap_time(at: datetime) -> str:
    """Rule 1."""
    return at.astimezone(WIB).replace(microsecond=0).isoformat()


def _token(value: str) -> str:
    if not value or _FORBIDDEN.search(value):
        raise ValueError(f"not allowed in a CAP identifier or sender: {value!r}")
    return value


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    el = _sub(parent, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", value)


@dataclass(frozen=True, slots=True)
class _Info:
    categories: tuple[str, ...]
    event: Label
    response: str
    severity: str
    headline: Label
    description: Label
    instruction: Label
    area: Label
    lat: float
    lon: float
    radius_km: float
    parameters: tuple[tuple[str, str], ...]


def _document(identifier: str, sender: str, sender_name: str, sent: datetime, msg_type: str,
              infos: _Info, incidents: str | None = None) -> str:
    ET.register_namespace("", NS)
    alert = ET.Element(f"{{{NS}}}alert")
    _sub(alert, "identifier", _token(identifier))
    _sub(alert, "sender", _token(sender))
    _sub(alert, "sent", cap_time(sent))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", f"{RESTRICTION.id} / {RESTRICTION.en}")
    if incidents is not None:
        _sub(alert, "incidents", _token(incidents))
    for lang, lang_code in _LANGUAGES:  # rule 3
        info = _sub(alert, "info")
        _sub(info, "language", lang_code)
        for category in infos.categories:
            _sub(info, "category", category)
        _sub(info, "event", infos.event.text(lang))
        _sub(info, "responseType", infos.response)
        _sub(info, "urgency", "Immediate")
        _sub(info, "severity", infos.severity)
        _sub(info, "certainty", "Observed")
        _sub(info, "effective", cap_time(sent))
        _sub(info, "senderName", sender_name)
        _sub(info, "headline", infos.headline.text(lang))
        _sub(info, "description", infos.description.text(lang))
        _sub(info, "instruction", infos.instruction.text(lang))
        for name, value in infos.parameters:
            _pair(info, "parameter", name, value)
        area = _sub(info, "area")
        _sub(area, "areaDesc", infos.area.text(lang))
        _sub(area, "circle", f"{infos.lat:.5f},{infos.lon:.5f} {infos.radius_km:g}")
    return ET.tostring(alert, encoding="unicode", xml_declaration=True)


def diversion_alert(hospital: CapHospital, *, sender: str, sender_name: str,
                    now: datetime) -> str:
    """Rule 5, for a hospital; ``now`` is when the document is made (``sent``)."""
    since = cap_time(hospital.changed_at)
    down = ", ".join(c.id for c in hospital.unavailable)
    down_en = ", ".join(c.en for c in hospital.unavailable)
    if hospital.accepting:
        msg_type, response = "Update", "AllClear"
        headline = Label(f"{hospital.name} kembali menerima pasien",
                         f"{hospital.name} accepts patients again")
        description = Label(f"Pengalihan pasien dari {hospital.name} berakhir {since}.",
                            f"The diversion of {hospital.name} ended at {since}.")
        instruction = Label("Rumah sakit ini boleh menjadi tujuan ambulans lagi.",
                            "Ambulances may take patients to this hospital again.")
    else:
        msg_type, response = "Alert", "Avoid"
        headline = Label(f"{hospital.name} menolak pasien baru (pengalihan)",
                         f"{hospital.name} is on diversion")
        description = Label(f"{hospital.name} tidak menerima pasien baru sejak {since}.",
                            f"{hospital.name} accepts no new patients since {since}.")
        instruction = Label("Bawa pasien ke rumah sakit lain; hubungi PSC 119.",
                            "Take patients to another hospital; call PSC 119.")
    if down:
        description = Label(f"{description.id} Tidak berfungsi: {down}.",
                            f"{description.en} Out of action: {down_en}.")
    if hospital.note:
        description = Label(f"{description.id} Catatan: {hospital.note}",
                            f"{description.en} Note: {hospital.note}")
    stamp = int(hospital.changed_at.timestamp())
    return _document(
        f"siaga-{'accepting' if hospital.accepting else 'diversion'}-{hospital.code}-{stamp}",
        sender, sender_name, now, msg_type,
        _Info(("Health",), Label("Pengalihan rumah sakit", "Hospital diversion"), response,
              "Moderate", headline, description, instruction,
              Label(f"{hospital.name}, {hospital.address}", f"{hospital.name}, "
                    f"{hospital.address}"), hospital.lat, hospital.lon, 0.1,
              (("hospital", hospital.code),
               ("accepting", "true" if hospital.accepting else "false"))))


def mass_casualty_alert(incident: CapIncident, *, sender: str, sender_name: str,
                        now: datetime) -> str:
    """Rule 5, for an incident with many patients."""
    where = f"{incident.address}, {incident.kelurahan}, {incident.kecamatan}".lstrip(", ")
    going = [d for d in incident.destinations if d.units]
    to_id = "; ".join(f"{d.hospital}: {d.units} unit" for d in going) or "belum ada"
    to_en = "; ".join(f"{d.hospital}: {d.units} unit(s)" for d in going) or "none yet"
    headline = Label(
        f"Insiden korban massal {incident.number}: {incident.patients} pasien",
        f"Mass casualty incident {incident.number}: {incident.patients} patients")
    description = Label(
        f"{incident.complaint.id}, {incident.patients} pasien, triase tertinggi "
        f"{incident.triage.id}, di {where}. Ambulans menuju RS: {to_id}.",
        f"{incident.complaint.en}, {incident.patients} patients, highest triage "
        f"{incident.triage.en}, at {where}. Ambulances to hospitals: {to_en}.")
    if incident.cancelled:
        msg_type, response = "Cancel", "AllClear"
        instruction = Label("Insiden dibatalkan; siaga korban massal berakhir.",
                            "Incident cancelled; the mass casualty standby is over.")
    else:
        msg_type, response = "Alert", "Prepare"
        instruction = Label("Siapkan IGD dan tempat tidur; laporkan kapasitas ke PSC 119.",
                            "Prepare the emergency department and beds; report capacity "
                            "to PSC 119.")
    parameters: Sequence[tuple[str, str]] = (
        ("patients", str(incident.patients)),
        *((f"units_to:{d.hospital}", str(d.units)) for d in going),
    )
    stamp = int(incident.updated_at.timestamp())
    return _document(
        f"siaga-mci-{incident.number}-{stamp}", sender, sender_name, now, msg_type,
        _Info(("Health", "Rescue"), Label("Insiden korban massal", "Mass casualty incident"),
              response, "Severe", headline, description, instruction,
              Label(where, where), incident.lat, incident.lon, 0.5, tuple(parameters)),
        incidents=incident.number)
