"""Dead zones: the phone loses the network and the server's socket, says so, and comes back
by itself into the same session (its talkgroups, its position) without the officer doing
anything; and the app shell itself opens without a network."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import Finger, body_data, sign_in
from tests.clients.helpers import radio
from tests.conftest import LiveServer
from tests.radio.client import RadioClient as Dispatcher

pytestmark = [pytest.mark.browser]


def drop_server_side(server: LiveServer, username: str) -> None:
    """Close the user's socket from the server if it is still open, as the server's own
    heartbeat would after a dead zone. (The phone has dropped its side on the browser's
    `offline` event; whether its close frame reached the server depends on how the
    browser emulates the lost network, and a real dead zone lets nothing through.)"""
    service = server.runtime.services["radio"]
    for client in service.clients.values():
        if client.identity.username == username and client.connection is not None:
            client.connection.close(1012, "network lost")


async def test_offline_then_online_resumes_the_session_without_the_user(
    live_server: LiveServer, phone: Phone,
) -> None:
    context = await phone()
    page = await context.new_page()
    await page.clock.install()  # the page's timers run as usual until the test runs them
    dispatcher = await Dispatcher.connect(live_server, "dispatcher1")
    try:
        await sign_in(page, live_server, "satpol1", media=False)
        await page.locator('#talkgroups li[data-talkgroup="gabungan"] .scan').tap()  # unscan
        await expect(page.locator('#talkgroups li[data-talkgroup="gabungan"]')
                     ).to_have_attribute("data-joined", "false")
        session = await body_data(page, "session")
        await dispatcher.expect("location")  # on duty: the first fix went out
        await context.set_offline(True)
        attempts: list[str] = []
        page.on("websocket", lambda ws: attempts.append(ws.url))
        drop_server_side(live_server, "satpol1")
        banner = page.locator("#net-banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_have_attribute("data-kind", "net.offline")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "offline")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
        # Every timer of the next 1.5 s runs now, past the first two reconnect delays
        # (0.25 s, 1 s). No network at all: no attempt is made (none could succeed; each
        # costs battery).
        await page.clock.run_for(1500)
        assert attempts == []
        await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")

        await context.set_offline(False)  # the `online` event: it reconnects at once
        await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        await expect(banner).to_be_hidden()
        assert len(attempts) == 1
        assert await body_data(page, "resumed") == "true"
        assert await body_data(page, "session") == session
        assert int(await body_data(page, "connections") or 0) >= 2
        # Back in the same talkgroups (gabungan still off), heard by the net at once...
        await expect(page.locator('#talkgroups li[data-talkgroup="satpolpp"]')
                     ).to_have_attribute("data-joined", "true")
        await expect(page.locator('#talkgroups li[data-talkgroup="gabungan"]')
                     ).to_have_attribute("data-joined", "false")
        where = await dispatcher.expect("location", timeout=5)  # ...and seen on the map
        assert where["user"]["username"] == "satpol1"
        async with radio(live_server, "satpol2", transport="websocket",
                         join=["satpolpp"]) as other:
            await other.send_text("satpolpp", "Cek, masih dengar?")
            await expect(page.locator('#message-list li[data-sender="satpol2"]')
                         ).to_contain_text("Cek, masih dengar?")
            heard = other.waiter(lambda m: m.get("type") == "text"
                                 and m["sender"]["username"] == "satpol1")
            await page.fill("#text-input", "Dengar, jelas.")
            await page.tap("#text-send")
            assert (await asyncio.wait_for(heard, 3))["body"] == "Dengar, jelas."
    finally:
        await dispatcher.close()


async def test_the_app_installs_and_opens_offline(live_server: LiveServer, phone: Phone) -> None:
    context = await phone()
    page = await context.new_page()
    await page.goto(f"{live_server.http_url}/app")  # the address the server prints
    assert page.url == f"{live_server.http_url}/app/"
    manifest = await (await page.request.get(f"{live_server.http_url}/app/manifest.webmanifest")
                      ).json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "./"
    sizes = set()
    for icon in manifest["icons"]:
        response = await page.request.get(f"{live_server.http_url}/app/{icon['src']}")
        assert response.ok, icon
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes
    await page.evaluate("navigator.serviceWorker.ready")
    cached = await page.evaluate("""async () => {
        const cache = await caches.open("siaga-app-v4");
        return (await cache.keys()).map((r) => new URL(r.url).pathname);
    }""")
    shared = {f"/shared/{name}.js" for name in ("radio", "tones", "i18n", "fmt", "dom")}
    assert {"/app/", "/app/js/i18n.js", "/app/js/pending.js"} | shared <= set(cached)

    await context.set_offline(True)
    await page.reload()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-submit")).to_have_text("Masuk")
    await page.locator("#login-view .lang-toggle").tap()
    await expect(page.locator("#login-submit")).to_have_text("Sign in")
    await page.fill("#login-username", "satpol1")
    await page.fill("#login-password", "demo")
    await page.tap("#login-submit")
    await expect(page.locator("#login-error")).to_have_text(
        "Cannot sign in: the server cannot be reached.")


async def test_an_officer_dropped_mid_talk_is_not_shown_as_the_talker(
    live_server: LiveServer, phone: Phone,
) -> None:
    context = await phone()
    page = await context.new_page()
    await sign_in(page, live_server, "satpol1")
    now = page.locator("#now")
    finger = Finger(page)
    await finger.press("#ptt")
    await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
    await expect(now).to_have_attribute("data-state", "self")
    await context.set_offline(True)  # a dead zone while the button is still held
    drop_server_side(live_server, "satpol1")
    await expect(page.locator("#ptt")).to_have_attribute("data-state", "offline")
    await expect(now).to_have_attribute("data-state", "idle")
    await expect(now).to_have_attribute("data-talker", "")
    await expect(page.locator("#now-label")).to_have_text("Kanal sepi")
    await finger.lift()
    await context.set_offline(False)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    await expect(now).to_have_attribute("data-state", "idle")
