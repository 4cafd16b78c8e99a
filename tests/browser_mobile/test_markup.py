"""Text that people type (a talkgroup's name, a display name, a short message, an
incident's caller, address and notes) is shown as text on both screens, never parsed as
HTML: markup in it appears literally, and a script in it never runs."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from kernel.identity import get_user
from tests.browser.conftest import LaunchBrowser, launch  # noqa: F401 - fixture
from tests.browser.helpers import open_console
from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser]


def markup(label: str) -> str:
    """Markup that, parsed as HTML, adds an image whose error handler marks the page."""
    return f'<img src=x onerror="window.__markupRan=1">{label} <b>tebal</b>'


TALKGROUP = markup("Kanal")
OFFICER = markup("Regu")
MESSAGE = markup("Pesan")
CALLER, ADDRESS, NOTES = markup("Penelepon"), markup("Jalan"), markup("Catatan")


async def assert_no_markup_ran(page: Page) -> None:
    """No element came from the markup, and its handler never ran."""
    parsed = await page.evaluate("""() => [...document.querySelectorAll("img[src=x]")]
        .map((el) => el.parentElement.outerHTML.slice(0, 300))""")
    assert parsed == []
    assert await page.evaluate("window.__markupRan === undefined")


async def test_user_text_is_shown_as_text_on_the_console_and_the_phone(
    live_server: LiveServer, launch: LaunchBrowser, phone: Phone,  # noqa: F811
) -> None:
    async with live_server.runtime.sessions() as s, s.begin():
        officer = await get_user(s, "satpol1")
        assert officer is not None
        officer.display_name = OFFICER
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        r = await api.post("/api/talkgroups", json={
            "code": "markup", "name": TALKGROUP, "members": ["dispatcher1", "satpol1"]})
        assert r.status_code == 201, r.text
        r = await api.post("/api/incidents", json={
            "kelurahan": "wonoasih", "complaint": "trauma", "triage": "kuning",
            "caller_name": CALLER, "address": ADDRESS, "notes": NOTES})
        assert r.status_code == 201, r.text
        number = r.json()["number"]

    # The officer, whose display name is markup, sends a message on the new talkgroup.
    handset = await (await phone()).new_page()
    await sign_in(handset, live_server, "satpol1", media=False)
    group = handset.locator("#talkgroups li[data-talkgroup=markup]")
    await expect(group.locator(".tg-name")).to_have_text(TALKGROUP)
    await group.locator(".tg-name").tap()
    await expect(group).to_have_attribute("data-selected", "true")
    await handset.fill("#text-input", MESSAGE)
    await handset.tap("#text-send")
    sent = handset.locator("#message-list li[data-talkgroup=markup]")
    await expect(sent.locator(".body")).to_have_text(MESSAGE)
    await expect(sent.locator(".meta")).to_contain_text(f"{TALKGROUP} · {OFFICER}")
    await expect(handset.locator("#me")).to_contain_text(OFFICER)
    await assert_no_markup_ran(handset)

    # The console: the talkgroup's row, and the push-to-talk line that names the group.
    console = await (await launch()).new_page()
    await open_console(console, live_server)
    row = console.locator("li.tg[data-tg=markup]")
    await expect(row.locator(".tg-name")).to_have_text(TALKGROUP)
    await row.locator(".tg-name").click()
    await expect(row).to_have_attribute("data-selected", "true")
    await expect(console.locator("#ptt-target")).to_have_text(TALKGROUP)
    await console.locator("#ptt").hover()
    await console.mouse.down()
    await expect(console.locator("#ptt")).to_have_attribute("data-state", "talking")
    await expect(console.locator("#ptt-status")).to_contain_text(TALKGROUP)
    # The phone names the console's talker and the group while the dispatcher talks.
    await expect(handset.locator("#now-label")).to_contain_text(TALKGROUP)
    await console.mouse.up()
    await expect(console.locator("#ptt")).to_have_attribute("data-state", "idle")
    await expect(console.locator("#recent li").first).to_contain_text(TALKGROUP)

    # The incident's fields, on the board and in the detail pane.
    board_row = console.locator(f"#incident-board tr[data-number='{number}']")
    await board_row.click()
    detail = console.locator("#incident-pane .incident-detail")
    for text in (CALLER, ADDRESS, NOTES):
        await expect(detail).to_contain_text(text)

    # The officer's name on the units board (from the position the phone sends on duty).
    await console.click("[role=tab][data-tab=units]")
    await expect(console.locator("#units-pane .officers li")).to_contain_text(OFFICER)
    await assert_no_markup_ran(console)
    await assert_no_markup_ran(handset)
