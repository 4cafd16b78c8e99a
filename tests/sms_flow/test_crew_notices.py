"""Crews are told of every change to their job, through Twilio, end to end.

A cancel, a reassignment (the old unit stands down), a new destination and a unit taken out
of service mid-job each send the crew a short GSM-7 SMS through the real ``twilio`` library
and change the page behind their status link. A crew that replies about a job the dispatch
room ended is told so, and by whom; a crew cannot undo the dispatch room's out-of-service
decision, neither by "5 SIAP" (a signed Twilio webhook) nor by an old status link.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from dispatch.sms_text import WIB, is_gsm7, septets, sms_parts
from tests.dispatch_api.console import error
from tests.sms.fake_twilio import FakeTwilio
from tests.sms_flow.conftest import CREW, PUBLIC_URL, Site
from tests.sms_flow.test_twilio_flow import text

OTHER = "AMB-JATI"


def fake_of(site: Site) -> FakeTwilio:
    assert isinstance(site.provider, FakeTwilio)
    return site.provider


def sent_to(site: Site, phone: str) -> list[str]:
    """Bodies of the SMS the provider was asked to send to ``phone``, oldest first."""
    return [p.form["Body"] for p in fake_of(site).posts() if p.form.get("To") == phone]


def link_path(body: str, label: str) -> str:
    found = re.search(rf"{label}: (\S+)$", body)
    assert found is not None, body
    assert found[1].startswith(f"{PUBLIC_URL}/t/")
    return urlsplit(found[1]).path


def wib(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(WIB):%H:%M}"


def assert_one_gsm7_sms(body: str) -> None:
    assert is_gsm7(body) and sms_parts(body) == 1 and septets(body) <= 160, body


async def last_answer(site: Site) -> str:
    [*_, answer] = [m for m in fake_of(site).outbound() if m.to == CREW]
    return str(answer.body)


async def unit_status(site: Site, callsign: str) -> str:
    return str((await site.console.unit(await site.console.unit_id(callsign)))["status"])


class TestCancel:
    async def test_the_crew_is_told_and_a_late_reply_is_answered_with_who_cancelled(
            self, twilio_site: Site) -> None:
        incident, assignment = await twilio_site.dispatch()
        [dispatch_sms] = sent_to(twilio_site, CREW)
        response = await twilio_site.console.post(
            f"/api/assignments/{assignment['id']}/cancel")
        assert response.status_code == 200, response.text
        await twilio_site.settle()

        [_, notice] = sent_to(twilio_site, CREW)
        cancelled_at = wib((await twilio_site.assignment(incident["id"]))["times"]
                           ["cancelled_at"])
        assert notice.split("\n")[:2] == [
            f"{incident['number']} DIBATALKAN oleh dispatcher1 {cancelled_at} WIB.",
            "Hentikan tugas, unit siaga kembali."]
        assert_one_gsm7_sms(notice)
        [row] = [m for m in await twilio_site.thread(incident["id"]) if m["kind"] == "notice"]
        assert (row["phone"], row["parts"], row["state"]) == (CREW, 1, "sent")

        page = await twilio_site.console.client.get(link_path(notice, "Info"))
        assert page.status_code == 200
        assert "Tugas dibatalkan oleh dispatcher1 (" in page.text
        assert "<button" not in page.text  # nothing left to report on this job
        old = await twilio_site.console.client.get(link_path(dispatch_sms, "Lapor"))
        assert "Tugas dibatalkan oleh dispatcher1" in old.text

        assert await text(twilio_site, "2") == 200
        assert await last_answer(twilio_site) == (
            f"PSC 119: Tugas {incident['number']} sudah dibatalkan oleh dispatcher1 pukul "
            f"{cancelled_at} WIB. Hentikan tugas ini")
        assert (await twilio_site.assignment(incident["id"]))["status"] == "cancelled"

    async def test_cancelling_the_incident_tells_its_crew(self, twilio_site: Site) -> None:
        incident, _ = await twilio_site.dispatch()
        response = await twilio_site.console.post(f"/api/incidents/{incident['id']}/cancel")
        assert response.status_code == 200, response.text
        await twilio_site.settle()
        [_, notice] = sent_to(twilio_site, CREW)
        assert notice.startswith(f"{incident['number']} DIBATALKAN oleh dispatcher1 ")


class TestReassign:
    async def test_the_old_crew_stands_down_and_the_new_one_is_paged(
            self, twilio_site: Site) -> None:
        incident, assignment = await twilio_site.dispatch()
        other = await twilio_site.console.unit_id(OTHER)
        other_phone = (await twilio_site.console.unit(other))["crew_phones"][0]
        response = await twilio_site.console.post(
            f"/api/assignments/{assignment['id']}/reassign", {"unit_id": other})
        assert response.status_code == 201, response.text
        await twilio_site.settle()

        [_, stand_down] = sent_to(twilio_site, CREW)
        assert stand_down.startswith(
            f"{incident['number']} DIALIHKAN ke unit lain oleh dispatcher1 ")
        assert_one_gsm7_sms(stand_down)
        [paged] = sent_to(twilio_site, other_phone)
        assert paged.startswith(f"{incident['number']} MERAH Jantung\n")
        page = await twilio_site.console.client.get(link_path(stand_down, "Info"))
        assert "Tugas dialihkan ke unit lain oleh dispatcher1" in page.text


class TestDestination:
    async def test_a_new_hospital_reaches_the_crew_and_their_page(
            self, twilio_site: Site) -> None:
        incident, assignment = await twilio_site.dispatch(hospital="rsud-saleh")
        hospitals = (await twilio_site.console.get("/api/hospitals")).json()
        rozy = next(h for h in hospitals if h["code"] != "rsud-saleh")
        path = f"/api/assignments/{assignment['id']}/destination"
        response = await twilio_site.console.put(path, {"hospital_id": rozy["id"]})
        assert response.status_code == 200, response.text
        await twilio_site.settle()
        [dispatch_sms, notice] = sent_to(twilio_site, CREW)
        assert notice.split("\n")[0] == (
            f"{incident['number']} RS TUJUAN BARU: {rozy['name'][:32]}".rstrip())
        assert_one_gsm7_sms(notice)
        page = await twilio_site.console.client.get(link_path(dispatch_sms, "Lapor"))
        assert rozy["name"] in page.text and "<button" in page.text

        # The same hospital again is no change and sends nothing.
        assert (await twilio_site.console.put(path, {"hospital_id": rozy["id"]})
                ).status_code == 200
        await twilio_site.settle()
        assert len(sent_to(twilio_site, CREW)) == 2


class TestOutOfService:
    async def test_a_unit_taken_out_mid_job_cannot_be_put_back_by_its_crew(
            self, twilio_site: Site) -> None:
        incident, assignment = await twilio_site.dispatch()
        [dispatch_sms] = sent_to(twilio_site, CREW)
        assert await text(twilio_site, "1") == 200  # en route
        unit = assignment["unit"]["id"]
        response = await twilio_site.console.post(f"/api/units/{unit}/service",
                                                  {"in_service": False})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "out_of_service"
        escalation = await twilio_site.next_event("escalation")
        assert (escalation["cause"], escalation["incident_id"]) == (
            "out_of_service", incident["id"])
        await twilio_site.settle()

        notice = sent_to(twilio_site, CREW)[-1]
        assert notice.split("\n")[0].startswith(
            f"{incident['number']} dihentikan: unit AMB-KANIGARAN DINONAKTIFKAN oleh "
            "dispatcher1 ")
        assert is_gsm7(notice) and sms_parts(notice) <= 2
        detail = await twilio_site.assignment(incident["id"])
        assert (detail["status"], detail["cancel_reason"]) == ("cancelled", "out_of_service")

        # "5 SIAP" by SMS: refused with the reason, the unit stays out of service.
        assert await text(twilio_site, "5 SIAP") == 200
        assert await last_answer(twilio_site) == (
            "PSC 119: Unit dinonaktifkan oleh dispatcher: hanya dispatcher yang bisa "
            "mengaktifkan kembali; hubungi PSC 119")
        assert await unit_status(twilio_site, "AMB-KANIGARAN") == "out_of_service"

        # The old status link: no buttons, and a forged press of SIAP is refused too.
        path = link_path(dispatch_sms, "Lapor")
        page = await twilio_site.console.client.get(path)
        assert "Tugas dihentikan: unit dinonaktifkan oleh dispatcher1" in page.text
        assert "<button" not in page.text
        pressed = await twilio_site.console.client.post(path, data={"status": "siap"})
        assert pressed.status_code == 409
        assert "hanya dispatcher yang bisa" in pressed.text
        assert await unit_status(twilio_site, "AMB-KANIGARAN") == "out_of_service"

        # A status about the withdrawn job is answered with what happened.
        assert await text(twilio_site, "2") == 200
        assert "sudah dihentikan, unit dinonaktifkan oleh dispatcher1" in (
            await last_answer(twilio_site))

        # The dispatcher (the same authority) puts it back.
        back = await twilio_site.console.post(f"/api/units/{unit}/service",
                                              {"in_service": True})
        assert (back.status_code, back.json()["status"]) == (200, "available")

    async def test_a_crew_decline_is_undone_by_the_crew(self, twilio_site: Site) -> None:
        incident, _ = await twilio_site.dispatch()
        assert await text(twilio_site, "BATAL") == 200
        assert await unit_status(twilio_site, "AMB-KANIGARAN") == "out_of_service"
        assert await text(twilio_site, "5 SIAP") == 200
        assert await unit_status(twilio_site, "AMB-KANIGARAN") == "available"
        assert len(sent_to(twilio_site, CREW)) == 1  # no notice for the crew's own decision

    async def test_a_supervisor_decision_is_not_undone_by_a_dispatcher(
            self, twilio_site: Site) -> None:
        unit = await twilio_site.console.unit_id("AMB-KANIGARAN")
        admin = {"Authorization": "Bearer " + await twilio_site.live.login("admin")}
        response = await twilio_site.console.client.post(
            f"/api/units/{unit}/service", json={"in_service": False}, headers=admin)
        assert response.status_code == 200, response.text
        refused = await twilio_site.console.post(f"/api/units/{unit}/service",
                                                 {"in_service": True})
        assert refused.status_code == 409
        assert error(refused)["code"] == "out_of_service_held"
        assert await unit_status(twilio_site, "AMB-KANIGARAN") == "out_of_service"
        assert await text(twilio_site, "5 SIAP") == 200
        assert "hanya supervisor yang bisa" in await last_answer(twilio_site)
        assert (await twilio_site.console.client.post(
            f"/api/units/{unit}/service", json={"in_service": True}, headers=admin)
        ).json()["status"] == "available"


class TestDispatchSmsContent:
    async def test_callback_patients_landmark_and_an_approximate_position(
            self, twilio_site: Site) -> None:
        incident, _ = await twilio_site.dispatch(
            lat=None, lon=None, landmark="depan SDN Kanigaran 1", patients=3,
            notes="Tabrakan motor, " * 20)
        [body] = sent_to(twilio_site, CREW)
        lines = body.split("\n")
        assert lines[:4] == [
            f"{incident['number']} MERAH Jantung",
            "Jl. Suroyo No. 12, Kel. Kanigaran",
            "Patokan: depan SDN Kanigaran 1",
            "3 pasien, telp +6281234567890",
        ]
        assert any(line.startswith("Peta (perkiraan): https://maps.google.com/?q=")
                   for line in lines)
        notes = [line for line in lines if line.startswith("Ket: ")]
        assert notes == [] or notes[0].endswith("..")  # cut first, never beyond two parts
        assert is_gsm7(body) and sms_parts(body) == 2
        [row] = await twilio_site.thread(incident["id"])
        assert row["parts"] == 2
        page = await twilio_site.console.client.get(link_path(body, "Lapor"))
        for shown in ("depan SDN Kanigaran 1", "Tabrakan motor, Tabrakan motor",
                      'href="tel:+6281234567890"', "perkiraan: pusat kelurahan",
                      "<dt>Pasien</dt><dd>3</dd>", "Ibu Sari"):
            assert shown in page.text
