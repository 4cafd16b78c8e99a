"""Fixtures for the PTT control-plane tests: a bench and a few people on the radio net."""

from __future__ import annotations

import pytest
from helpers import Bench, dispatcher, officer

from ptt.talkgroup import DISHUB, Identity


@pytest.fixture
def bench() -> Bench:
    return Bench()


@pytest.fixture
def ani(bench: Bench) -> Identity:
    """A Satpol PP officer on the Satpol PP talkgroup."""
    return bench.online(officer("Ani"), "satpol")


@pytest.fixture
def budi(bench: Bench) -> Identity:
    """A second Satpol PP officer on the Satpol PP talkgroup."""
    return bench.online(officer("Budi"), "satpol")


@pytest.fixture
def citra(bench: Bench) -> Identity:
    """A third Satpol PP officer on the Satpol PP talkgroup."""
    return bench.online(officer("Citra"), "satpol")


@pytest.fixture
def dedi(bench: Bench) -> Identity:
    """A Dishub officer on the Dishub talkgroup."""
    return bench.online(officer("Dedi", DISHUB), "dishub")


@pytest.fixture
def dina(bench: Bench) -> Identity:
    """A dispatcher monitoring the Satpol PP and Dishub talkgroups."""
    return bench.online(dispatcher("Dina"), "satpol", "dishub")
