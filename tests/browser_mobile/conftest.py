"""Fixtures for the officers' app in a phone: Debian's headless Chromium through Playwright,
a phone-sized touch viewport, a fake microphone playing a tone, a fixed GPS position.

Each test launches its own Chromium (the fake microphone file is fixed per launch). A failing
test leaves a screenshot of every page it opened in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Playwright

from tests.browser.helpers import chromium_args, write_tone
from tests.browser_mobile.helpers import PHONE, POSITION
from tests.conftest import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


Phone = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def phone(playwright: Playwright, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Phone]:
    """``await phone(tone_hz=440.0)``: a phone-sized touch browser context whose microphone
    plays that tone and whose GPS says :data:`POSITION`."""
    browsers = []

    async def start(tone_hz: float = 440.0) -> BrowserContext:
        wav = write_tone(tmp_path / f"tone-{tone_hz}.wav", tone_hz)
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=chromium_args(wav))
        browsers.append(browser)
        return await browser.new_context(
            **PHONE, geolocation=POSITION, permissions=["geolocation", "microphone"],
            locale="id-ID", timezone_id="Asia/Jakarta")

    yield start
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for b, browser in enumerate(browsers):
            for c, context in enumerate(browser.contexts):
                for p, page in enumerate(context.pages):
                    with contextlib.suppress(Exception):
                        await page.screenshot(path=ARTIFACTS / f"mobile-{name}-{b}{c}{p}.png",
                                              full_page=True)
    for browser in browsers:
        with contextlib.suppress(Exception):
            await browser.close()
