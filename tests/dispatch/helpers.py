"""Builders for dispatch core tests: a fixed UTC clock and records in any status."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from dispatch.domain import Assignment, AssignmentStatus, CancelReason, TimeChain
from dispatch.lifecycle import ORDER

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 09:00 WIB


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``: tests step time by hand."""
    return T0 + timedelta(seconds=seconds)


def assignment_in(status: AssignmentStatus, *, assignment_id: int = 1, unit_id: int = 10,
                  incident_id: int = 100) -> Assignment:
    """An assignment that reached ``status`` through every earlier step, one minute apart."""
    times = TimeChain(T0)
    if status is AssignmentStatus.CANCELLED:
        return Assignment(assignment_id, incident_id, unit_id, status,
                          dataclasses.replace(times, cancelled_at=at(60)),
                          cancel_reason=CancelReason.DISPATCHER)
    for minute, step in enumerate(ORDER[1 : ORDER.index(status) + 1], start=1):
        times = times.stamped(step, at(60 * minute))
    return Assignment(assignment_id, incident_id, unit_id, status, times)
