"""Who did something: a logged-in user, the system (timers), or a crew phone (SMS, link).

The audit trail stores :attr:`Actor.name` (``dispatcher1``, ``system``, ``sms:+62812...``)
and, for users, the id. ``role``/``agency`` decide what a hospital user may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PrincipalLike(Protocol):
    """The fields of :class:`kernel.auth.Principal` the service needs (no import of the kernel)."""

    @property
    def user_id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def agency(self) -> str: ...

    @property
    def role(self) -> object: ...


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    user_id: int | None = None
    role: str | None = None
    agency: str | None = None

    @classmethod
    def of(cls, principal: PrincipalLike) -> Actor:
        role = getattr(principal.role, "value", principal.role)
        return cls(principal.username, principal.user_id, str(role), principal.agency)

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def sms(cls, phone: str) -> Actor:
        """A crew member replying by SMS from ``phone`` (E.164)."""
        return cls(f"sms:{phone}")

    @classmethod
    def link(cls, phone_or_unit: str) -> Actor:
        """A crew member tapping the signed status link."""
        return cls(f"link:{phone_or_unit}")

    @property
    def is_hospital(self) -> bool:
        return self.role == "hospital"
