"""Fixtures for the console's browser tests: Debian's headless Chromium driven by Playwright.

Each test gets the real server (``live_server``) and launches Chromium itself, because the
fake microphone (a WAV file the browser loops) is fixed per browser launch. A failing test
leaves a screenshot of every page it opened in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Playwright

from tests.browser.helpers import chromium_args, write_tone
from tests.conftest import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


LaunchBrowser = Callable[..., Awaitable[Browser]]


@pytest.fixture
async def launch(playwright: Playwright, tmp_path: Path,
                 request: pytest.FixtureRequest) -> AsyncIterator[LaunchBrowser]:
    """``await launch(tone_hz=440.0)``: a Chromium whose fake microphone plays that tone
    (None: Chromium's built-in fake beep); ``autoplay`` and ``microphone`` as in
    :func:`chromium_args`. Pages of every launched browser are screenshot
    into test-artifacts/ if the test fails, then the browsers are closed."""
    browsers: list[Browser] = []

    async def start(tone_hz: float | None = None, *, autoplay: bool = True,
                    microphone: bool = True) -> Browser:
        wav = write_tone(tmp_path / f"tone-{tone_hz}.wav", tone_hz) if tone_hz else None
        args = chromium_args(wav, autoplay=autoplay, microphone=microphone)
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        browsers.append(browser)
        return browser

    yield start
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for b, browser in enumerate(browsers):
            for c, context in enumerate(browser.contexts):
                for p, page in enumerate(context.pages):
                    with contextlib.suppress(Exception):
                        await page.screenshot(path=ARTIFACTS / f"{name}-{b}{c}{p}.png",
                                              full_page=True)
    for browser in browsers:
        with contextlib.suppress(Exception):
            await browser.close()


@pytest.fixture
async def page(launch: LaunchBrowser) -> Page:
    """A console page in a browser with the default fake microphone (no audio checks)."""
    browser = await launch()
    return await browser.new_page(viewport={"width": 1600, "height": 950})
