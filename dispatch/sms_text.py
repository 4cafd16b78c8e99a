"""SMS text: GSM-7 arithmetic and the composers of the dispatch and pre-arrival messages.

Rules:

1. Every SMS we compose is GSM-7 (3GPP TS 23.038 basic set + extension table). One non-GSM
   character would switch the whole message to UCS-2 and cut a part from 160 to 70
   characters, so all variable text passes :func:`to_gsm7` first (typographic quotes and
   dashes mapped, accents stripped, anything else becomes ``?``).
2. Length is counted in septets: extension characters (``€ [ ] { } ^ ~ \\ |`` and form feed)
   cost two. A single SMS holds 160 septets; a split one 153 per part, and an escape pair is
   never split across parts (:func:`sms_parts` segments exactly as a handset does).
3. A composed message fits in :data:`MAX_PARTS` (two) parts. What must stay intact does: the
   incident number, triage, complaint, patients and callback number, links, reply codes.
   What can be shortened is cut in a stated order (notes first, the address last) and marked
   with ``..``. Kelurahan and hospital names are capped; a link longer than :data:`MAX_LINK`
   is refused (a cut link is useless).
4. Times are shown in WIB (UTC+7, no daylight saving), the clock the crews read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from itertools import accumulate

from dispatch.domain import Complaint, Triage, UnitType
from dispatch.travel import LatLon

MAX_PARTS = 2
SINGLE, PART = 160, 153  # GSM-7 septets: one SMS, and each part of a concatenated one
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_LINK = 60
MAX_KELURAHAN = 24
MAX_HOSPITAL = 32
MAX_UNIT = 20
WIB = timezone(timedelta(hours=7), "WIB")

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_TRANSLITERATION = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("\t\u00a0\u2002\u2003\u2007\u2009\u200a\u202f\u3000", " "),
    "…": "...", "±": "+/-", "•": "-", "·": ".", "×": "x", "÷": "/", "°": "o",
    "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "",
}
REPLY_CODES = "Balas 1 BERANGKAT 2 TIBA 3 ANGKUT 4 RS 5 SIAP BATAL"


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def septets(text: str) -> int:
    """GSM-7 length of ``text``; ``ValueError`` if it is not GSM-7."""
    total = 0
    for c in text:
        if c in GSM7_BASIC:
            total += 1
        elif c in GSM7_EXTENSION:
            total += 2
        else:
            raise ValueError(f"not a GSM-7 character: {c!r}")
    return total


def sms_parts(text: str) -> int:
    """How many SMS ``text`` costs (GSM-7 if it can be, else UCS-2), as a handset splits it."""
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, part = SINGLE, PART
    else:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]  # UTF-16 code units
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def to_gsm7(text: str) -> str:
    """``text`` with every character made GSM-7 (rule 1)."""
    out = []
    for c in text:
        if c in GSM7_BASIC or c in GSM7_EXTENSION:
            out.append(c)
        elif c in _TRANSLITERATION:
            out.append(_TRANSLITERATION[c])
        else:
            bare = "".join(
                d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d)
            )
            out.append(bare if bare and is_gsm7(bare) else "?")
    return "".join(out)


def truncate(text: str, max_septets: int) -> str:
    """``text`` cut to ``max_septets`` (GSM-7), at a word boundary if one is near, marked ``..``."""
    if septets(text) <= max_septets:
        return text
    if max_septets < 3:
        return ""
    totals = accumulate(2 if c in GSM7_EXTENSION else 1 for c in text)
    head = text[: sum(1 for total in totals if total <= max_septets - 2)]
    space = head.rfind(" ")
    if 0 < space and len(head) - space <= 8:  # drop a word cut in half, if it is short
        head = head[:space]
    return head.rstrip(" ,.;:-") + ".."


def map_link(point: LatLon) -> str:
    """A link every phone opens in a map app (5 decimals: about a metre)."""
    return f"https://maps.google.com/?q={point.lat:.5f},{point.lon:.5f}"


def patient_count(patients: int, carried: int | None = None) -> str:
    """``12 pasien``, or ``Bawa 3 dari 12 pasien`` for a unit carrying a share of them."""
    count = f"{max(patients, 1)} pasien"
    if carried is not None and carried != patients:
        return f"Bawa {carried} dari {count}"
    return count


def compose_dispatch_sms(
    *,
    number: str,
    triage: Triage,
    complaint: Complaint,
    address: str,
    kelurahan: str,
    scene: LatLon,
    link: str,
    hospital: str | None = None,
    notes: str = "",
    landmark: str = "",
    patients: int = 1,
    carried: int | None = None,
    caller_phone: str | None = None,
    approximate: bool = False,
) -> str:
    """The crew's dispatch SMS: at most two GSM-7 parts (rule 3).

    In reading order: what and how bad, where (address and kelurahan, then the landmark), how
    many patients (``Bawa 3 dari 12 pasien`` when the unit carries ``carried`` of an incident's
    ``patients``, a mass casualty share) and the callback number, the notes, the map (marked
    ``perkiraan`` when ``approximate``: only the kelurahan centre is known), the destination,
    the reply codes and the status link. ``link`` is the short signed status link (made by
    the caller); ``notes`` is free text from the call taker. The notes are cut first, then the
    destination (the crew goes to the scene first, and hears of the hospital again), then
    address and landmark share what is left: the status page behind the link has them all.
    """
    head = f"{_clean(number)} {triage.name} {complaint.label.id}"
    kel = truncate(_clean(kelurahan), MAX_KELURAHAN)
    kel = f"Kel. {kel}" if kel else ""
    who = patient_count(patients, carried) + (f", telp {_clean(caller_phone)}" if caller_phone
                                              else "")
    where = f"Peta{' (perkiraan)' if approximate else ''}: {map_link(scene)}"
    tail = [REPLY_CODES, f"Lapor: {_checked_link(link)}"]

    def render(notes: str, hospital: str, address: str, landmark: str) -> str:
        lines = [head, ", ".join(p for p in (address, kel) if p) or "Lokasi: lihat peta"]
        if landmark:
            lines.append(f"Patokan: {landmark}")
        lines.append(who)
        if notes:
            lines.append(f"Ket: {notes}")
        lines.append(where)
        if hospital:
            lines.append(f"RS: {hospital}")
        return "\n".join(lines + tail)

    destination = truncate(_clean(hospital or ""), MAX_HOSPITAL)
    return _fit(render, [[_clean(notes)], [destination], [_clean(address), _clean(landmark)]])


def compose_crew_notice_sms(
    *,
    kind: str,
    number: str,
    callsign: str,
    by: str,
    at: datetime,
    link: str,
    hospital: str | None = None,
) -> str:
    """A crew's short notice that the dispatch room changed their job (one part if it can).

    ``kind`` is a :class:`dispatch.events.CrewNoticeKind` value: ``cancelled``,
    ``stood_down``, ``destination_changed``, ``out_of_service``. ``by`` is who decided;
    ``at`` is shown in WIB; ``hospital`` is the new destination (None: none set).
    """
    if at.tzinfo is None:
        raise ValueError("at must be an aware datetime")
    head = _clean(number)
    who = f"oleh {truncate(_clean(by), MAX_UNIT)} {at.astimezone(WIB):%H:%M} WIB"
    unit = truncate(_clean(callsign), MAX_UNIT)
    match kind:
        case "cancelled":
            lines = [f"{head} DIBATALKAN {who}.", "Hentikan tugas, unit siaga kembali."]
        case "stood_down":
            lines = [f"{head} DIALIHKAN ke unit lain {who}.",
                     "Hentikan tugas, unit siaga kembali."]
        case "destination_changed":
            target = truncate(_clean(hospital), MAX_HOSPITAL) if hospital else "belum ada"
            lines = [f"{head} RS TUJUAN BARU: {target}", f"(diubah {who})"]
        case "out_of_service":
            lines = [f"{head} dihentikan: unit {unit} DINONAKTIFKAN {who}.",
                     "Aktif lagi hanya lewat PSC 119."]
        case _:
            raise ValueError(f"unknown notice kind: {kind!r}")
    return _fit(lambda: "\n".join([*lines, f"Info: {_checked_link(link)}"]), [])


def compose_prearrival_sms(
    *,
    number: str,
    triage: Triage,
    complaint: Complaint,
    unit: str,
    unit_type: UnitType,
    eta: datetime | None = None,
    patients: int = 1,
    notes: str = "",
    link: str | None = None,
) -> str:
    """The receiving hospital's heads-up (IGD): who is coming, how bad, when (WIB)."""
    head = f"PSC 119 pra-RS {_clean(number)}"
    case = f"{triage.name} {complaint.label.id}, {patients} pasien"
    arrival = f"Unit {truncate(_clean(unit), MAX_UNIT)} ({unit_type.label.id})"
    if eta is not None:
        if eta.tzinfo is None:
            raise ValueError("eta must be an aware datetime")
        arrival += f", tiba ~{eta.astimezone(WIB):%H:%M} WIB"
    tail = [arrival] + ([f"Konfirmasi: {_checked_link(link)}"] if link else [])

    def render(notes: str) -> str:
        return "\n".join([head, case] + ([f"Ket: {notes}"] if notes else []) + tail)

    return _fit(render, [[_clean(notes)]])


def _clean(text: str) -> str:
    """One line of GSM-7: whitespace (newlines too) collapsed, rule 1 applied."""
    return " ".join(to_gsm7(" ".join(text.split())).split())


def _checked_link(link: str) -> str:
    if len(link) > MAX_LINK or not is_gsm7(link) or any(c.isspace() for c in link):
        raise ValueError(f"link must be at most {MAX_LINK} GSM-7 characters without spaces")
    return link


def _fit(render: Callable[..., str], groups: list[list[str]]) -> str:
    """Cut the flexible fields until the message fits :data:`MAX_PARTS`, group by group.

    The first group is cut (down to nothing if need be) before the next is touched. Within a
    group the share is a water level: fields shorter than it stay whole, longer ones are cut
    to it, so a short landmark survives a very long address and vice versa.
    """
    fields = [list(group) for group in groups]
    text = render(*(f for group in fields for f in group))
    for i, group in enumerate(groups):
        sizes = [septets(f) for f in group]
        budget = sum(sizes)
        while sms_parts(text) > MAX_PARTS and budget > 0:
            budget = max(0, budget - max(1, septets(text) - MAX_PARTS * PART))
            level = _water_level(sizes, budget)
            fields[i] = [truncate(f, level) for f in group]
            text = render(*(f for group in fields for f in group))
    if sms_parts(text) > MAX_PARTS:
        raise ValueError("the fixed part of the message does not fit in two SMS")
    return text


def _water_level(sizes: list[int], budget: int) -> int:
    """The largest ``level`` with ``sum(min(size, level)) <= budget`` (binary search)."""
    low, high = 0, max(sizes)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(size, mid) for size in sizes) <= budget:
            low = mid
        else:
            high = mid - 1
    return low
