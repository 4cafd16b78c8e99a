"""The crew's SMS in the console, in Chromium, against the real server paging through the
fake Twilio: the dispatch SMS and its delivery state in the incident's thread, the crew's
signed replies moving the assignment on screen without a reload, and a failed delivery
shown as an escalation with what to do instead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.helpers import open_console
from tests.sms.fake_twilio import FakeTwilio
from tests.sms_flow.conftest import CREW, PUBLIC_URL, Site, twilio_site_for

pytestmark = pytest.mark.browser

CALLSIGN = "AMB-KANIGARAN"  # its crew phone is CREW in the demo data
INBOUND = f"{PUBLIC_URL}/sms/twilio/inbound"


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with twilio_site_for(sqlite_url, tmp_path, demo=True) as running:
        yield running


async def crew_texts(site: Site, body: str) -> None:
    """The crew's phone texts our number: a webhook signed as Twilio signs it."""
    fake = site.provider
    assert isinstance(fake, FakeTwilio)
    _, answer = await fake.deliver_inbound(INBOUND, from_=CREW, to=fake.numbers[0], body=body)
    assert answer.status_code == 200, answer.text
    await site.settle()


async def test_the_crew_is_paged_answers_by_sms_and_a_failed_delivery_escalates(
    site: Site, page: Page,
) -> None:
    fake = site.provider
    assert isinstance(fake, FakeTwilio)
    await open_console(page, site.live)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await page.click("#new-incident")
    form = page.locator("#intake-form")
    await form.locator("[name=kelurahan]").fill("Kanigaran")
    await form.locator("[name=complaint]").select_option("cardiac")
    await form.locator(".triage-pick.merah input").check()
    await form.locator("button[type=submit]").click()

    detail = page.locator(".incident-detail")
    await expect(detail.locator(".rec-unit").first).to_be_visible()
    number = (await detail.locator("h2").inner_text()).strip()
    await expect(detail.locator(".sms-thread")).to_contain_text("Belum ada SMS")
    unit = detail.locator(".rec-unit").filter(has=page.locator(f"b:text-is('{CALLSIGN}')"))
    await unit.locator("button.assign").click()
    assignment = detail.locator(".assignment")
    await expect(assignment).to_have_attribute("data-status", "dispatched")
    await site.settle()

    # The dispatch SMS went to the crew's phone through Twilio...
    [sent] = fake.outbound()
    assert sent.to == CREW
    assert number in sent.body
    # ...and the incident's thread shows it, with its delivery state following the reports.
    page_sms = detail.locator(".sms-thread li.sms[data-kind=dispatch]")
    await expect(page_sms).to_contain_text(number)
    await expect(page_sms).to_contain_text(CREW)
    assert await page_sms.get_attribute("data-state") in ("queued", "accepted")
    assert (await fake.deliver_status(sent.sid, "sent")).status_code == 200
    await expect(page_sms).to_have_attribute("data-state", "sent")
    await expect(page_sms.locator(".sms-state")).to_have_text("terkirim")

    # The crew answers 1 (departed), then 2 (arrived): the screen follows without a reload.
    await page.evaluate("window.__sameDocument = true")
    await crew_texts(site, "1")
    await expect(assignment).to_have_attribute("data-status", "en_route")
    await expect(assignment.locator(".timechain tr[data-step=en_route_at]")).to_have_count(1)
    reply = detail.locator(".sms-thread li.sms[data-direction=in]")
    await expect(reply).to_have_count(1)
    await expect(reply).to_have_attribute("data-state", "applied")
    await expect(reply.locator(".sms-body")).to_have_text("1")
    await crew_texts(site, "2")
    await expect(assignment).to_have_attribute("data-status", "on_scene")
    await expect(assignment.locator(".timechain tr[data-step=on_scene_at]")).to_have_count(1)
    row = page.locator(f"#incident-board tr[data-number='{number}']")
    await expect(row).to_have_attribute("data-status", "on_scene")
    await expect(reply).to_have_count(2)
    assert await page.evaluate("window.__sameDocument") is True

    # A late report that the dispatch SMS failed: an escalation with the advice.
    assert (await fake.deliver_status(sent.sid, "failed", error_code=30008)).status_code == 200
    card = page.locator(".alert.escalation[data-kind=sms-failed]")
    await expect(card).to_contain_text(number)
    await expect(card).to_contain_text(CALLSIGN)
    await expect(card).to_contain_text("Telepon kru / gunakan radio")
    await expect(page_sms).to_have_attribute("data-state", "failed")
    await expect(row).to_have_attribute("data-attention", "escalated")
    await card.locator("button.alert-dismiss").click()
    await expect(card).to_have_count(0)
    await expect(row).to_have_attribute("data-attention", "")


async def test_an_unanswered_page_escalates_with_its_sms_state_and_stop_is_shown(
    site: Site, page: Page,
) -> None:
    fake = site.provider
    assert isinstance(fake, FakeTwilio)
    incident, _ = await site.dispatch(CALLSIGN)
    [sent] = fake.outbound()
    assert (await fake.deliver_status(sent.sid, "sent")).status_code == 200
    await site.settle()
    await open_console(page, site.live, lang="en")
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")

    # No acknowledgement within the timer: the escalation card says what the SMS did.
    await site.service.run_timers(now=datetime.now(UTC) + timedelta(minutes=3))
    card = page.locator(".alert.escalation").filter(has_text=incident["number"])
    await expect(card).to_contain_text(f"SMS to {CREW}: handed to the carrier")
    await expect(card).to_contain_text("no answer from the crew")
    await expect(card).to_contain_text("Call the crew / use the radio")

    # The crew texts STOP: the dispatcher is told SMS may no longer reach them.
    await page.locator(f"#incident-board tr[data-number='{incident['number']}']").click()
    thread = page.locator(".incident-detail .sms-thread")
    await expect(thread.locator("li.sms[data-kind=dispatch]")).to_have_attribute(
        "data-state", "sent")
    await expect(thread.locator("li.sms[data-kind=dispatch] .sms-state")).to_have_text("sent")
    await crew_texts(site, "STOP")
    stop = page.locator(".alert.escalation[data-kind=sms-opt-out]")
    await expect(stop).to_contain_text(f"Crew {CREW} sent STOP")
    await expect(stop).to_contain_text("use the phone or the radio")
    await expect(thread.locator("li.sms[data-direction=in]")).to_have_attribute(
        "data-state", "opt_out")


async def test_a_delivery_report_that_arrives_during_a_refresh_is_not_lost_to_it(
    site: Site, page: Page,
) -> None:
    """The console refreshes the incident (the crew's reply moved the assignment) and the
    server reads its SMS before the carrier reports the dispatch SMS sent; the report reaches
    the console by the stream before that older list does. The thread must keep the newer
    state, not fall back to the one the refresh read."""
    fake = site.provider
    assert isinstance(fake, FakeTwilio)
    incident, _ = await site.dispatch(CALLSIGN)
    [sent] = fake.outbound()
    await open_console(page, site.live)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await page.locator(f"#incident-board tr[data-number='{incident['number']}']").click()
    detail = page.locator(".incident-detail")
    page_sms = detail.locator(".sms-thread li.sms[data-kind=dispatch]")
    assignment = detail.locator(".assignment")
    await expect(assignment).to_have_attribute("data-status", "dispatched")
    assert await page_sms.get_attribute("data-state") in ("queued", "accepted")

    # The next SMS lists the console asks for are read by the server now, delivered later.
    read, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        response = await route.fetch()
        read.set()
        await release.wait()
        await route.fulfill(response=response)

    await page.route("**/api/incidents/*/sms", hold)
    await crew_texts(site, "1")  # departed: the console refreshes the incident
    await asyncio.wait_for(read.wait(), 10)
    assert (await fake.deliver_status(sent.sid, "sent")).status_code == 200
    await expect(page_sms).to_have_attribute("data-state", "sent")  # by the stream

    release.set()
    # Only the refresh brings the assignment's new status: once it shows, the refresh's
    # older SMS list has been applied too.
    await expect(assignment).to_have_attribute("data-status", "en_route")
    await page.unroute("**/api/incidents/*/sms")
    assert await page_sms.get_attribute("data-state") == "sent"
    assert await page_sms.locator(".sms-state").inner_text() == "terkirim"

