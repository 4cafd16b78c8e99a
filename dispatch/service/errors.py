"""Refusals of the dispatch service, below :class:`~dispatch.errors.DispatchError`.

Tree (adds to the one in :mod:`dispatch.errors`)::

    DispatchError
    ├── LocalDispatchError
    │   ├── IllegalTransition      (core) the state machine refused: HTTP 409
    │   ├── Conflict               the state changed under the request, or forbids it: 409
    │   └── Forbidden              the actor may not touch this record: 403
    └── RemoteDispatchError
        ├── InvalidInput           the request is wrong (unknown kelurahan, bad phone...): 422
        └── NotFound               no such record: 404

Each carries ``status`` (the HTTP answer) and ``details`` (JSON-ready data, e.g. the unit's
current state when it is busy) so the API layer maps every one the same way. Raising one inside
a service command rolls its transaction back: nothing is written.
"""

from __future__ import annotations

from typing import Any

from dispatch.domain import Label
from dispatch.errors import LocalDispatchError, RemoteDispatchError


class Conflict(LocalDispatchError):
    status = 409

    def __init__(self, code: str, message: Label, details: dict[str, Any] | None = None):
        super().__init__(code, message)
        self.details = details or {}


class Forbidden(LocalDispatchError):
    status = 403

    def __init__(self, code: str, message: Label, details: dict[str, Any] | None = None):
        super().__init__(code, message)
        self.details = details or {}


class InvalidInput(RemoteDispatchError):
    status = 422

    def __init__(self, code: str, message: Label, details: dict[str, Any] | None = None):
        super().__init__(code, message)
        self.details = details or {}


class NotFound(RemoteDispatchError):
    status = 404

    def __init__(self, what: str, ident: object):
        super().__init__(
            f"unknown_{what}",
            Label(f"{_NAMES.get(what, what)} {ident} tidak ditemukan", f"No {what} {ident}"),
        )
        self.details = {what: ident}


_NAMES = {
    "incident": "Kejadian", "assignment": "Penugasan", "unit": "Unit",
    "hospital": "Rumah sakit", "alert": "Alarm radio", "kelurahan": "Kelurahan",
}

ServiceError = Conflict | Forbidden | InvalidInput | NotFound
