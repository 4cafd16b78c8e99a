"""The status link of the dispatch SMS: a crew taps their status over mobile data.

No login: the signed token in the link is the credential. The page shows the incident and one
big button per status; each status can be sent once through the link; a tampered or expired
token is refused and changes nothing.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from dispatch.sms import taplink
from tests.sms_flow.conftest import Site


async def tap_path(site: Site, incident_id: int) -> str:
    [sms] = await site.thread(incident_id)
    link = re.search(r"Lapor: (\S+)$", sms["body"])
    assert link is not None
    return urlsplit(link[1]).path


async def tap(site: Site, path: str, status: str) -> httpx.Response:
    """Press a button (no login, as a phone's browser does)."""
    return await site.console.client.post(path, data={"status": status})


async def state(site: Site, incident_id: int) -> str:
    return str((await site.assignment(incident_id))["status"])


def notice(page: httpx.Response) -> str:
    found = re.search(r'<p class="notice \w+" role="status">([^<]*)</p>', page.text)
    assert found is not None, page.text
    return found[1]


async def test_the_page_shows_the_incident_and_changes_nothing(console_site: Site) -> None:
    incident, assignment = await console_site.dispatch(hospital="rsud-saleh")
    path = await tap_path(console_site, incident["id"])
    before = await console_site.console.counts()
    page = await console_site.console.client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    for shown in (incident["number"], "MERAH", "Jantung", "Jl. Suroyo No. 12", "Kanigaran",
                  "RSUD dr. Mohamad Saleh", "AMB-KANIGARAN", "Ditugaskan",
                  'href="https://maps.google.com/?q=-7.75810,113.22360"'):
        assert shown in page.text
    buttons = re.findall(r'<button name="status" value="(\w+)"[^>]*>([^<]+)', page.text)
    assert buttons == [("berangkat", "Berangkat"), ("tiba", "Tiba"), ("angkut", "Angkut"),
                       ("rs", "Di RS"), ("siap", "Siap"), ("batal", "Batal")]
    assert "<script" not in page.text and "http" not in re.sub(r'href="[^"]*"', "", page.text)
    assert await console_site.console.counts() == before
    assert assignment["status"] == "dispatched"


async def test_tapping_moves_the_assignment_once_per_status(console_site: Site) -> None:
    incident, _ = await console_site.dispatch()
    path = await tap_path(console_site, incident["id"])

    page = await tap(console_site, path, "berangkat")
    assert (page.status_code, notice(page)) == (200, "Tercatat: Berangkat")
    assert await state(console_site, incident["id"]) == "en_route"
    assert re.search(r'value="berangkat" class="berangkat" disabled>Berangkat<small>sudah ',
                     page.text)
    page = await tap(console_site, path, "tiba")
    assert (page.status_code, await state(console_site, incident["id"])) == (200, "on_scene")

    before = await console_site.console.counts()
    again = await tap(console_site, path, "berangkat")
    assert again.status_code == 409
    assert re.fullmatch(r"Status Berangkat sudah dikirim lewat tautan ini pukul "
                        r"\d\d:\d\d WIB", notice(again))
    late = await tap(console_site, path, "batal")  # the lifecycle's own refusal
    assert (late.status_code, notice(late)) == (
        409, "Tidak bisa BATAL: unit sudah Tiba di lokasi; hubungi dispatcher")
    assert await console_site.console.counts() == before

    detail = await console_site.console.detail(incident["id"])
    assert [(e["actor"], e["action"]) for e in detail["audit"]
            if e["entity_type"] == "assignment"] == [
        ("dispatcher1", "dispatched"), ("link:AMB-KANIGARAN", "depart"),
        ("link:AMB-KANIGARAN", "arrive")]


async def test_siap_after_declining_puts_the_unit_back(console_site: Site) -> None:
    incident, assignment = await console_site.dispatch()
    path = await tap_path(console_site, incident["id"])
    assert (await tap(console_site, path, "batal")).status_code == 200
    unit = assignment["unit"]["id"]
    assert (await console_site.console.unit(unit))["status"] == "out_of_service"
    page = await tap(console_site, path, "siap")
    assert (page.status_code, notice(page)) == (200, "Tercatat: Siap")
    assert (await console_site.console.unit(unit))["status"] == "available"


async def test_a_tampered_or_unknown_token_is_refused(console_site: Site) -> None:
    incident, _ = await console_site.dispatch()
    path = await tap_path(console_site, incident["id"])
    token = path.rsplit("/", 1)[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_unit = taplink.issue("x" * 40, assignment_id=1, unit_id=1,
                               expires_at=time.time() + 3600)
    before = await console_site.console.counts()
    for bad in (flipped, token[:-2], other_unit, "not-a-token"):
        page = await tap(console_site, f"/t/{bad}", "berangkat")
        assert (page.status_code, notice(page)) == (403, "Tautan tidak sah")
        assert (await console_site.console.client.get(f"/t/{bad}")).status_code == 403
    assert await console_site.console.counts() == before


async def test_an_expired_link_is_refused(console_site: Site) -> None:
    incident, _ = await console_site.dispatch()
    path = await tap_path(console_site, incident["id"])
    runtime: Any = console_site.live.runtime
    runtime.clock = lambda: time.time() + 12 * 3600 + 60  # the default lifetime, and a minute
    before = await console_site.console.counts()
    page = await tap(console_site, path, "berangkat")
    assert page.status_code == 410
    assert notice(page).startswith("Tautan sudah kedaluwarsa")
    assert (await console_site.console.client.get(path)).status_code == 410
    assert await console_site.console.counts() == before
    runtime.clock = time.time  # (the dispatcher's login has expired too)
    assert await state(console_site, incident["id"]) == "dispatched"
