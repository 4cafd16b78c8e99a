"""The dispatch service: the cores wired to the database, the bus and the console stream.

Layers (each module adds one, on top of the previous)::

    base          transaction per command, outbox delivered after commit, audit, views
    recommending  ranking with routed or straight-line travel times
    assignments   assign / reassign / cancel, crew and unit statuses (lifecycle core)
    incidents     create / update / cancel incidents, input checks
    alerts        radio alerts from the PTT side, turned into incidents or dismissed
    hospitals     bed reports, acceptance, unit and hospital boards
    timers        the lifecycle timers on one ``loop.call_at``
    queries       lists, details, audit trail, report rows, EIDO export
    desk          the hospital desk: incoming patients (live), capabilities, phone, CAP

Commands take an :class:`Actor` and an optional ``now`` (default: the service clock).
"""

from dispatch.service.actor import Actor
from dispatch.service.alerts import AlertIncidentInput
from dispatch.service.assignments import CrewContext
from dispatch.service.base import DispatchConfig, Outbox
from dispatch.service.desk import HospitalDesk, IncomingList, IncomingPatient
from dispatch.service.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from dispatch.service.hospitals import BedInput
from dispatch.service.incidents import EDITABLE, IncidentInput
from dispatch.service.stream import StreamHub


class DispatchService(HospitalDesk):
    """Everything dispatch can do; see the module docstring for the layers."""


__all__ = [
    "EDITABLE",
    "Actor",
    "AlertIncidentInput",
    "BedInput",
    "Conflict",
    "CrewContext",
    "DispatchConfig",
    "DispatchService",
    "Forbidden",
    "IncidentInput",
    "IncomingList",
    "IncomingPatient",
    "InvalidInput",
    "NotFound",
    "Outbox",
    "ServiceError",
    "StreamHub",
]
