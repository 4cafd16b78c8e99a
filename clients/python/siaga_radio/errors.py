"""Errors of the radio client, one tree::

    RadioError
    +-- LoginFailed        the server refused the username/password (or is unreachable)
    +-- ServerRefused      the server answered a command with an ``error`` message
    |   +-- FloorDenied    the floor was denied, withdrawn or revoked
    +-- ConnectionLost     the socket is gone and could not be resumed (or was replaced)
    +-- NoAudioDevice      a microphone was asked for and none can be opened
    +-- TransportUnavailable  the chosen voice transport cannot run here

"The server said no" (``ServerRefused``) is kept apart from "this machine cannot do it"
(``NoAudioDevice``, ``TransportUnavailable``) so that a gateway can tell a retry from a
configuration problem.
"""

from __future__ import annotations

from typing import Any


class RadioError(Exception):
    """Root of every error the radio client raises on purpose."""


class LoginFailed(RadioError):
    pass


class ServerRefused(RadioError):
    def __init__(self, code: str, message: str, msg: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.msg = msg or {}


class FloorDenied(ServerRefused):
    pass


class ConnectionLost(RadioError):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NoAudioDevice(RadioError):
    pass


class TransportUnavailable(RadioError):
    pass
