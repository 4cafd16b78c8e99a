"""Login tokens, and who is asking.

Tokens are HS256 JWTs carrying the user id and the account's ``token_version``; every
use checks the signature, the expiry, and that the account is still enabled and its
version unchanged, so disabling a user or changing a password takes effect at once.
The same token authenticates HTTP requests (``Authorization: Bearer``) and WebSocket
connections (``?token=`` or the protocol's ``hello`` message).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.identity import AgencyKind, Role, User


class TokenError(Exception):
    """The token cannot be used; ``code`` is ``token_invalid`` or ``token_expired``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as the rest of the server sees them."""

    user_id: int
    username: str
    display_name: str
    role: Role
    agency: str
    agency_kind: AgencyKind
    unit_callsign: str | None
    #: The account's ``token_version`` the caller's token carries (see :mod:`kernel.revocation`).
    token_version: int = 0

    @property
    def is_dispatcher(self) -> bool:
        return self.role in (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            agency=user.agency.code,
            agency_kind=user.agency.kind,
            unit_callsign=user.unit_callsign,
            token_version=user.token_version,
        )


@dataclass(frozen=True)
class TokenService:
    secret: str
    ttl_seconds: int
    issuer: str = "siaga"

    def issue(self, user: User, now: float) -> str:
        claims = {
            "iss": self.issuer,
            "sub": str(user.id),
            "usr": user.username,
            "ver": user.token_version,
            "iat": int(now),
            "exp": int(now) + self.ttl_seconds,
            "jti": secrets.token_urlsafe(8),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def decode(self, token: str, now: float) -> tuple[int, int]:
        """Return ``(user_id, token_version)`` or raise :class:`TokenError`."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                options={"require": ["exp", "sub", "ver"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenError("token_invalid", f"invalid token: {exc}") from None
        if int(claims["exp"]) <= now:
            raise TokenError("token_expired", "token expired; log in again")
        try:
            return int(claims["sub"]), int(claims["ver"])
        except (TypeError, ValueError):
            raise TokenError("token_invalid", "invalid token: malformed claims") from None

    async def authenticate(self, session: AsyncSession, token: str, now: float) -> Principal:
        user_id, version = self.decode(token, now)
        user = await session.get(User, user_id)
        if user is None or user.disabled:
            raise TokenError("token_invalid", "account unknown or disabled")
        if user.token_version != version:
            raise TokenError("token_invalid", "token revoked; log in again")
        return Principal.of(user)
