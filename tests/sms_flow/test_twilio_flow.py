"""A crew paged through Twilio and answering by SMS, end to end.

The server runs on a loopback port behind a simulated proxy at ``https://siaga.example.id``;
the dispatch SMS goes out through the real ``twilio`` library to the fake Twilio, and the
crew's replies and delivery reports come back as Twilio sends them: form posts signed with
``RequestValidator`` over the public URL.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from dispatch.replies import HELP_TEXT
from dispatch.sms.outbox import SqlDedupStore
from dispatch.sms.twilio import TwilioGateway
from dispatch.sms.wiring import SmsFeature
from dispatch.sms_text import is_gsm7, sms_parts
from tests.sms.fake_twilio import FakeTwilio, new_sid
from tests.sms.servers import Fault
from tests.sms_flow.conftest import CREW, PUBLIC_URL, STRANGER, Site

INBOUND = f"{PUBLIC_URL}/sms/twilio/inbound"
STATUS = f"{PUBLIC_URL}/sms/twilio/status"


def fake_of(site: Site) -> FakeTwilio:
    assert isinstance(site.provider, FakeTwilio)
    return site.provider


async def text(site: Site, body: str, from_: str = CREW, **knobs: Any) -> int:
    """The crew texts our number; returns our answer's status once the reply is applied."""
    fake = fake_of(site)
    _, answer = await fake.deliver_inbound(INBOUND, from_=from_, to=fake.numbers[0], body=body,
                                           **knobs)
    await site.settle()
    return answer.status_code


def inbound_params(fake: FakeTwilio, sid: str, body: str, from_: str = CREW) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid":
            fake.account_sid, "From": from_, "To": fake.numbers[0], "Body": body,
            "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
            "ApiVersion": "2010-04-01"}


async def audit_actors(site: Site, incident_id: int, entity: str = "assignment") -> list[str]:
    detail = await site.console.detail(incident_id)
    return [f"{e['actor']}:{e['action']}" for e in detail["audit"]
            if e["entity_type"] == entity]


class TestDispatchSms:
    async def test_the_crew_is_paged_with_everything_and_a_signed_link(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, assignment = await twilio_site.dispatch(hospital="rsud-saleh")
        [post] = fake.posts()
        form = post.form
        assert (form["To"], form["From"]) == (CREW, fake.numbers[0])
        assert form["StatusCallback"] == STATUS
        body = form["Body"]
        assert body.startswith(f"{incident['number']} MERAH Jantung\n")
        for part in ("Jl. Suroyo No. 12, Kel. Kanigaran", "Ket: Nyeri dada, sadar",
                     "Peta: https://maps.google.com/?q=-7.75810,113.22360",
                     "RS: RSUD dr. Mohamad Saleh",
                     "Balas 1 BERANGKAT 2 TIBA 3 ANGKUT 4 RS 5 SIAP BATAL"):
            assert part in body
        link = re.search(r"Lapor: (\S+)$", body)
        assert link is not None and link[1].startswith(f"{PUBLIC_URL}/t/")
        assert len(link[1]) <= 60
        assert is_gsm7(body) and sms_parts(body) <= 2

        [row] = await twilio_site.thread(incident["id"])
        [message] = fake.outbound()
        assert (row["direction"], row["kind"], row["phone"]) == ("out", "dispatch", CREW)
        assert (row["state"], row["provider_id"]) == ("sent", message.sid)
        assert row["assignment_id"] == assignment["id"] and row["body"] == body
        assert row["parts"] == sms_parts(body) and row["attempts"] == 1

    async def test_an_announcement_handled_twice_pages_once(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        _, assignment = await twilio_site.dispatch()
        brief = await twilio_site.service.dispatch_brief(assignment["id"])
        assert await twilio_site.sms.outbox.send_dispatch(brief) == []
        assert len(fake.outbound()) == 1


class TestReplies:
    async def test_1_then_2_move_the_assignment_en_route_then_on_scene(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, _ = await twilio_site.dispatch()
        assert await text(twilio_site, "1") == 200
        assert (await twilio_site.assignment(incident["id"]))["status"] == "en_route"
        assert await text(twilio_site, "2 TIBA") == 200
        assert (await twilio_site.assignment(incident["id"]))["status"] == "on_scene"
        assert await audit_actors(twilio_site, incident["id"]) == [
            "dispatcher1:dispatched", f"sms:{CREW}:depart", f"sms:{CREW}:arrive"]
        assert len(fake.outbound()) == 1  # an applied reply is not answered
        thread = await twilio_site.thread(incident["id"])
        assert [(m["direction"], m["body"], m["result"]) for m in thread[1:]] == [
            ("in", "1", "applied"), ("in", "2 TIBA", "applied")]

    async def test_the_webhook_answers_empty_twiml(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        await twilio_site.dispatch()
        _, answer = await fake.deliver_inbound(INBOUND, from_=CREW, to=fake.numbers[0],
                                               body="OK")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/xml")
        assert answer.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

    async def test_a_webhook_delivered_twice_is_applied_once(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, _ = await twilio_site.dispatch()
        params = inbound_params(fake, new_sid("SM"), "BANTUAN")
        answers = await asyncio.gather(fake.call_webhook(INBOUND, params),
                                       fake.call_webhook(INBOUND, params))
        again = await fake.call_webhook(INBOUND, params)
        await twilio_site.settle()
        assert [a.status_code for a in (*answers, again)] == [200, 200, 200]
        helps = [m for m in fake.outbound() if m.body == HELP_TEXT]
        assert len(helps) == 1
        inbound = [m for m in await twilio_site.thread(incident["id"]) if m["direction"] == "in"]
        assert len(inbound) == 1 and inbound[0]["provider_id"] == params["MessageSid"]

    async def test_an_unknown_number_changes_nothing_and_gets_no_answer(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        await twilio_site.dispatch()
        before = await twilio_site.console.counts()
        assert await text(twilio_site, "1", from_=STRANGER) == 200
        assert await twilio_site.console.counts() == before
        assert len(fake.outbound()) == 1
        [latest] = (await twilio_site.console.get("/api/sms?limit=1")).json()
        assert (latest["phone"], latest["result"]) == (STRANGER, "unknown_sender")
        assert latest["incident_id"] is None

    async def test_unreadable_refused_and_help_replies_are_answered(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, _ = await twilio_site.dispatch()
        before = await twilio_site.console.counts()
        await text(twilio_site, "halo pak")
        assert (fake.outbound()[-1].to, fake.outbound()[-1].body) == (CREW, HELP_TEXT)
        await text(twilio_site, "5 SIAP")  # back in service before reaching the scene
        assert fake.outbound()[-1].body == ("PSC 119: Belum tiba di lokasi: balas BATAL bila "
                                            "tidak bisa, atau hubungi dispatcher")
        await text(twilio_site, "2 0099")
        assert fake.outbound()[-1].body == "PSC 119: Tidak ada tugas aktif no 0099"
        assert await twilio_site.console.counts() == before
        thread = await twilio_site.thread(incident["id"])
        assert [(m["direction"], m["kind"], m["result"], m["error_code"]) for m in thread[1:]] == [
            ("in", "crew", "bad_reply", "unknown_command"), ("out", "reply", None, None),
            ("in", "crew", "refused", "scene_not_reached"), ("out", "reply", None, None),
            ("in", "crew", "refused", "unknown_incident"), ("out", "reply", None, None)]
        assert [m["reply_to_id"] for m in thread[2::2]] == [m["id"] for m in thread[1::2]]

    async def test_stop_is_recorded_for_the_dispatcher_and_not_answered(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, _ = await twilio_site.dispatch()
        await twilio_site.pending_events()
        await text(twilio_site, "STOP")
        event = await twilio_site.next_event("sms.opt_out")
        assert event["phone"] == CREW and event["incident_id"] == incident["id"]
        assert "telepon atau radio" in event["label"]["id"]
        assert len(fake.outbound()) == 1


class TestSignatures:
    @pytest.mark.parametrize("knobs", [
        pytest.param({"sign": False}, id="missing"),
        pytest.param({"token": "f" * 32}, id="forged"),
        pytest.param({"signed_for": "https://other.example.id/sms/twilio/inbound"},
                     id="signed-for-another-url"),
        pytest.param({"signed_for": f"{PUBLIC_URL}/sms/twilio/status"}, id="another-path"),
        pytest.param({"tamper": {"Body": "5"}}, id="changed-after-signing"),
    ])
    async def test_refused_with_403_and_nothing_changes(
            self, twilio_site: Site, knobs: dict[str, Any],
            caplog: pytest.LogCaptureFixture) -> None:
        incident, _ = await twilio_site.dispatch()
        before = (await twilio_site.console.counts(), await twilio_site.sms_rows())
        assert await text(twilio_site, "2", **knobs) == 403
        assert (await twilio_site.console.counts(), await twilio_site.sms_rows()) == before
        assert (await twilio_site.assignment(incident["id"]))["status"] == "dispatched"
        assert any(r.getMessage() == "sms webhook rejected" for r in caplog.records)

    async def test_a_forged_status_report_is_refused(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, _ = await twilio_site.dispatch()
        [message] = fake.outbound()
        answer = await fake.deliver_status(message.sid, "failed", token="0" * 32)
        assert answer.status_code == 403
        [row] = await twilio_site.thread(incident["id"])
        assert row["provider_status"] == "queued"
        assert not [e for e in await twilio_site.pending_events() if e["type"] == "sms.failed"]


class TestDelivery:
    async def test_a_failed_delivery_raises_an_escalation_once(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        incident, assignment = await twilio_site.dispatch()
        [message] = fake.outbound()
        assert (await fake.deliver_status(message.sid, "sent")).status_code == 200
        answer = await fake.deliver_status(message.sid, "undelivered", error_code=30003)
        assert answer.status_code == 200
        event = await twilio_site.next_event("sms.failed")
        assert (event["incident_id"], event["number"]) == (incident["id"], incident["number"])
        assert (event["assignment_id"], event["callsign"]) == (assignment["id"],
                                                               "AMB-KANIGARAN")
        assert (event["phone"], event["status"], event["error_code"]) == (
            CREW, "undelivered", "30003")
        assert event["advice"]["id"] == "Telepon kru / gunakan radio / tugaskan unit berikutnya"
        assert (await fake.deliver_status(message.sid, "undelivered")).status_code == 200
        assert (await fake.deliver_status(message.sid, "sent")).status_code == 200
        assert not [e for e in await twilio_site.pending_events() if e["type"] == "sms.failed"]
        [row] = await twilio_site.thread(incident["id"])
        assert (row["provider_status"], row["summary"]["id"]) == (
            "undelivered", "Gagal sampai ke ponsel")

    async def test_no_acknowledgement_escalates_with_the_sms_status(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        _, assignment = await twilio_site.dispatch()
        await fake.deliver_status(fake.outbound()[0].sid, "sent")
        dispatched = datetime.fromisoformat(assignment["times"]["dispatched_at"])
        await twilio_site.service.run_timers(now=dispatched + timedelta(seconds=121))
        await twilio_site.settle()
        escalation = await twilio_site.next_event("escalation")
        sms = await twilio_site.next_event("escalation.sms")
        assert sms["assignment_id"] == escalation["assignment_id"] == assignment["id"]
        assert [(m["phone"], m["provider_status"]) for m in sms["sms"]] == [(CREW, "sent")]
        assert sms["label"]["id"] == (f"SMS ke {CREW}: terkirim ke operator; "
                                      "kru belum membalas")


class TestUnknownOutcome:
    async def test_a_twilio_500_is_reconciled_not_resent(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        fake.faults.add(Fault(status=500, create=True))  # created, then a 500
        incident, _ = await twilio_site.dispatch()
        [row] = await twilio_site.thread(incident["id"])
        assert (row["state"], row["error_code"]) == ("retrying", "20500")
        outbox = twilio_site.sms.outbox
        assert await outbox.retry_due(datetime.fromisoformat(row["next_attempt_at"])) == 1
        [message] = fake.outbound()
        [row] = await twilio_site.thread(incident["id"])
        assert (row["state"], row["provider_id"], row["attempts"]) == ("sent", message.sid, 2)
        assert len(fake.posts()) == 1

    async def test_a_timeout_then_a_restart_still_pages_once(self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        runtime = twilio_site.live.runtime
        outbox = twilio_site.sms.outbox
        outbox.gateway = TwilioGateway(
            fake.account_sid, fake.auth_token, public_url=PUBLIC_URL,
            from_number=fake.numbers[0], api_base=fake.base_url, timeout=0.5,
            connect_timeout=0.5, store=SqlDedupStore(runtime.sessions))
        fake.faults.add(Fault(hold_after=5.0))  # Twilio takes it, the answer never comes
        incident, _ = await twilio_site.dispatch()
        [row] = await twilio_site.thread(incident["id"])
        assert (row["state"], row["error_code"]) == ("retrying", "timeout")

        feature = SmsFeature()  # the server restarts: nothing of the old outbox survives
        await feature.stop(runtime)
        await feature.start(runtime)
        assert await twilio_site.sms.outbox.retry_due(
            datetime.fromisoformat(row["next_attempt_at"])) == 1
        [message] = fake.outbound()
        [row] = await twilio_site.thread(incident["id"])
        assert (row["state"], row["provider_id"]) == ("sent", message.sid)
        assert len(fake.posts()) == 1

    async def test_a_page_lost_in_a_restart_is_sent_at_start_and_only_once(
            self, twilio_site: Site) -> None:
        fake = fake_of(twilio_site)
        runtime = twilio_site.live.runtime
        feature = SmsFeature()
        await feature.stop(runtime)  # the process dies between the commit and the send
        incident = await twilio_site.console.create_incident()
        await twilio_site.console.assign(incident["id"],
                                         await twilio_site.console.unit_id("AMB-KANIGARAN"))
        await runtime.services["bus"].drain()
        assert fake.outbound() == []
        for _ in range(2):
            await feature.start(runtime)
            await twilio_site.settle()
            await feature.stop(runtime)
        await feature.start(runtime)
        [message] = fake.outbound()
        assert message.to == CREW and message.body.startswith(incident["number"])
        assert [m["kind"] for m in await twilio_site.thread(incident["id"])] == ["dispatch"]


async def test_the_round_trip_on_each_backend(twilio_site_each_backend: Site) -> None:
    """Paging, a reply delivered twice, a report and an unknown outcome, on SQLite and
    PostgreSQL (the partial unique index and the conditional updates are backend SQL)."""
    site = twilio_site_each_backend
    fake = fake_of(site)
    fake.faults.add(Fault(status=500, create=True))
    incident, _ = await site.dispatch()
    [row] = await site.thread(incident["id"])
    assert row["state"] == "retrying"
    assert await site.sms.outbox.retry_due(datetime.fromisoformat(row["next_attempt_at"])) == 1
    [message] = fake.outbound()
    params = inbound_params(fake, new_sid("SM"), "1")
    answers = await asyncio.gather(*(fake.call_webhook(INBOUND, params) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    await site.settle()
    assert (await fake.deliver_status(message.sid, "delivered")).status_code == 200
    assert (await site.assignment(incident["id"]))["status"] == "en_route"
    thread = await site.thread(incident["id"])
    assert [(m["direction"], m["state"], m["provider_status"]) for m in thread] == [
        ("out", "sent", "delivered"), ("in", "done", "received")]
    assert len(fake.posts()) == 1
