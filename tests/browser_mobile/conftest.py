"""Fixtures for the officers' app in a phone: Debian's headless Chromium through Playwright,
a phone-sized touch viewport, a fake microphone playing a tone, a fixed GPS position.

Each test launches its own Chromium (the fake microphone file is fixed per launch). A failing
test leaves a screenshot of every page it opened in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Playwright, async_playwright

from tests.browser.helpers import CHROMIUM, chromium_args, write_tone
from tests.browser_mobile.helpers import PHONE, POSITION

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
    for item in items:
        if "browser_mobile" in str(item.fspath):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


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
