"""A crew paged through the generic HTTP gateway (a GSM-modem box) and answering by SMS.

The fake gateway implements the documented protocol on its own: it receives our signed send
requests and posts the crew's replies and delivery reports to us, signed with the shared
secret (HMAC-SHA256 over timestamp and body).
"""

from __future__ import annotations

import time

from tests.sms.fake_http_gateway import FakeHttpGateway
from tests.sms_flow.conftest import CREW, Site


def gateway_of(site: Site) -> FakeHttpGateway:
    assert isinstance(site.provider, FakeHttpGateway)
    return site.provider


async def test_paged_then_replies_move_the_assignment(http_site: Site) -> None:
    gateway = gateway_of(http_site)
    incident, assignment = await http_site.dispatch()
    [message] = gateway.messages.values()
    assert (message.to, message.dedup_key) == (CREW, f"dispatch:{assignment['id']}:{CREW}")
    assert message.callback_url == f"{http_site.live.http_url}/sms/http/status"
    assert message.body.startswith(f"{incident['number']} MERAH Jantung")
    [request] = gateway.requests
    assert request.authorized

    inbound = f"{http_site.live.http_url}/sms/http/inbound"
    national = "0" + CREW[3:]  # a modem reports the number as the phone shows it: 0812...
    reply_id, answer = await gateway.deliver_inbound(inbound, from_=national,
                                                     to="+6285100000000", body="1")
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    again = await gateway.post_signed(inbound, {"id": reply_id, "from": CREW, "body": "1"})
    assert again.status_code == 200  # a retried delivery: answered, applied once
    await http_site.settle()
    assert (await http_site.assignment(incident["id"]))["status"] == "en_route"
    _, answer = await gateway.deliver_inbound(inbound, from_=CREW, to="", body="tiba")
    await http_site.settle()
    assert (await http_site.assignment(incident["id"]))["status"] == "on_scene"
    inbound_rows = [m for m in await http_site.thread(incident["id"]) if m["direction"] == "in"]
    assert [(m["phone"], m["body"], m["result"]) for m in inbound_rows] == [
        (CREW, "1", "applied"), (CREW, "tiba", "applied")]


async def test_unsigned_forged_and_stale_webhooks_are_refused(http_site: Site) -> None:
    gateway = gateway_of(http_site)
    incident, _ = await http_site.dispatch()
    url = f"{http_site.live.http_url}/sms/http/inbound"
    before = (await http_site.console.counts(), await http_site.sms_rows())
    for knobs in ({"sign": False}, {"secret": "wrong-secret"},
                  {"timestamp": int(time.time()) - 3600}, {"tamper": {"body": "2"}}):
        _, answer = await gateway.deliver_inbound(url, from_=CREW, to="", body="1", **knobs)
        assert answer.status_code == 403, knobs
    await http_site.settle()
    assert (await http_site.console.counts(), await http_site.sms_rows()) == before
    assert (await http_site.assignment(incident["id"]))["status"] == "dispatched"


async def test_a_failed_report_escalates(http_site: Site) -> None:
    gateway = gateway_of(http_site)
    incident, _ = await http_site.dispatch()
    [message] = gateway.messages.values()
    answer = await gateway.deliver_status(message.id, "failed", error_code="no_signal")
    assert answer.status_code == 200
    event = await http_site.next_event("sms.failed")
    assert (event["incident_id"], event["phone"], event["status"], event["error_code"]) == (
        incident["id"], CREW, "failed", "no_signal")
    [row] = await http_site.thread(incident["id"])
    assert (row["provider_id"], row["provider_status"]) == (message.id, "failed")


async def test_the_other_gateways_webhooks_are_not_served(http_site: Site) -> None:
    client = http_site.console.client
    assert (await client.post("/sms/twilio/inbound", content=b"Body=1")).status_code == 404
    assert (await client.post("/sms/twilio/status", content=b"")).status_code == 404
