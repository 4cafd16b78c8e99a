"""Agencies, users and roles, and the password rules that go with them.

Rights in the radio and in dispatch are derived from two facts about a user: the agency
they belong to (Satpol PP, Dishub, PSC 119, a hospital) and their role. Passwords are
argon2id hashes; a ``token_version`` counter lets a password change or a disabled
account invalidate every token issued before it.

Hashing and verifying take a few hundred milliseconds of CPU each (that is their point),
so the async functions here run them off the event loop, on the executor given (the
runtime's password pool in the server) or the loop's default one (the CLI).
"""

from __future__ import annotations

import asyncio
import enum
from concurrent.futures import Executor
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.db import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    OFFICER = "officer"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    HOSPITAL = "hospital"


class AgencyKind(enum.StrEnum):
    SATPOLPP = "satpolpp"
    DISHUB = "dishub"
    PSC119 = "psc119"
    HOSPITAL = "hospital"
    PEMKOT = "pemkot"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    """Store the enum's value (``"officer"``), as a checked string on every backend."""
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AgencyKind] = mapped_column(_enum(AgencyKind))

    users: Mapped[list[User]] = relationship(back_populates="agency")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    unit_callsign: Mapped[str | None] = mapped_column(String(40), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="users", lazy="joined")


class IdentityError(Exception):
    """A user-management command cannot be carried out (the message says why)."""


_hasher = PasswordHasher()
# A hash to verify against when the account does not exist, so that a failed login takes
# the same time whether or not the username is known.
_DUMMY_HASH = _hasher.hash("not a password")

MIN_PASSWORD_LENGTH = 4


def hash_password(password: str) -> str:
    """Blocking (hundreds of ms of CPU): call it off the loop, see :func:`hash_off_loop`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IdentityError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


async def hash_off_loop(password: str, executor: Executor | None = None) -> str:
    return await asyncio.get_running_loop().run_in_executor(executor, hash_password, password)


def verify_password(user: User | None, password: str) -> bool:
    """Blocking like :func:`hash_password`; the server runs it on its password pool."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and (
            user is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def get_user(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalar_one_or_none()


async def get_agency(session: AsyncSession, code: str) -> Agency | None:
    result = await session.execute(select(Agency).where(Agency.code == code))
    return result.scalar_one_or_none()


async def add_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    agency_code: str,
    display_name: str | None = None,
    unit_callsign: str | None = None,
    phone: str | None = None,
    executor: Executor | None = None,
) -> User:
    if await get_user(session, username) is not None:
        raise IdentityError(f"user {username!r} already exists")
    agency = await get_agency(session, agency_code)
    if agency is None:
        raise IdentityError(f"unknown agency {agency_code!r}")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=await hash_off_loop(password, executor),
        role=role,
        agency=agency,
        unit_callsign=unit_callsign,
        phone=phone,
    )
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, username: str, password: str,
                       executor: Executor | None = None) -> User:
    user = await _require(session, username)
    user.password_hash = await hash_off_loop(password, executor)
    user.token_version += 1
    return user


async def set_disabled(session: AsyncSession, username: str, disabled: bool = True) -> User:
    user = await _require(session, username)
    user.disabled = disabled
    user.token_version += 1
    return user


async def _require(session: AsyncSession, username: str) -> User:
    user = await get_user(session, username)
    if user is None:
        raise IdentityError(f"no such user {username!r}")
    return user
