"""Errors of the dispatch package.

Tree::

    DispatchError              root: a stable ``code`` plus a bilingual ``message`` (Label)
    ├── LocalDispatchError     we asked a core for something illegal (a dispatcher action or
    │   │                      a service bug): refuse it and tell the person who asked
    │   └── IllegalTransition  the lifecycle table has no such transition
    └── RemoteDispatchError    someone outside sent something we cannot use
        └── BadReply           an SMS reply from a crew that does not parse or does not fit

``code`` is snake_case and stable (clients and tests branch on it); ``message`` is for people.
A parser never raises: :func:`dispatch.replies.parse_reply` *returns* a :class:`BadReply` so
the webhook adapter can answer the crew with help text instead of failing the request.
"""

from __future__ import annotations

from dispatch.domain import Label, Lang


class DispatchError(Exception):
    """Root of every error raised (or returned) by the dispatch cores."""

    def __init__(self, code: str, message: Label) -> None:
        super().__init__(f"{code}: {message.en}")
        self.code = code
        self.message = message

    def text(self, lang: Lang = "id") -> str:
        return self.message.text(lang)


class LocalDispatchError(DispatchError):
    """An illegal local action: the caller must not retry it unchanged."""


class IllegalTransition(LocalDispatchError):
    """The assignment or unit state machine refused an input.

    ``state`` and ``trigger`` are the enum members involved, kept for logs and tests.
    """

    def __init__(self, code: str, message: Label, *, state: object, trigger: object) -> None:
        super().__init__(code, message)
        self.state = state
        self.trigger = trigger


class RemoteDispatchError(DispatchError):
    """Bad input from outside (a crew's SMS, a hospital's link): answer it, never crash."""


class BadReply(RemoteDispatchError):
    """A crew SMS reply that could not be used; ``text`` is what the crew sent."""

    def __init__(self, code: str, message: Label, *, raw: str) -> None:
        super().__init__(code, message)
        self.raw = raw
