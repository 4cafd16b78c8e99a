"""Fixtures of the dispatch API tests: a dispatcher console on each backend."""

from __future__ import annotations

import pytest

from tests.conftest import App
from tests.dispatch_api.console import Console


@pytest.fixture
async def console(app: App) -> Console:
    """dispatcher1 logged in, on SQLite and (when configured) PostgreSQL."""
    return Console(app, await app.login("dispatcher1"))


@pytest.fixture
async def sqlite_console(sqlite_app: App) -> Console:
    return Console(sqlite_app, await sqlite_app.login("dispatcher1"))
