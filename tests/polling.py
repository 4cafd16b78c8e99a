"""Waiting in tests: poll for what should happen, with a deadline; never sleep "long enough".

``until`` is the one helper for this: a test names the condition it waits for and fails
with that name when the deadline passes, however loaded the machine is short of that.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds between two looks at the condition.
INTERVAL = 0.01


async def until(predicate: Callable[[], T | Awaitable[T]], what: str,
                timeout: float = 5.0) -> T:
    """Wait until ``predicate()`` (a plain or async callable) is truthy; return its value.

    Raises AssertionError naming ``what`` after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(INTERVAL)
