"""The ``siaga`` command: serve, configuration, database, demo data and users.

Operator mistakes (a bad setting, an unreachable database, a port in use, an unknown
user) end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import ConfigError, Settings, load_settings
from kernel.db import (
    DatabaseUnavailable,
    check_reachable,
    create_engine,
    session_factory,
    transaction,
)
from kernel.identity import IdentityError, Role, User, add_user, set_disabled, set_password

if TYPE_CHECKING:
    from siaga.tls import TlsFiles

T = TypeVar("T")

app = typer.Typer(help="Siaga: push-to-talk radio and SPGDT dispatch server.",
                  no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Kota Probolinggo demo data.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
recordings_app = typer.Typer(help="Recorded transmissions.", no_args_is_help=True)
hospital_app = typer.Typer(help="Hospitals of dispatch.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(user_app, name="user")
app.add_typer(recordings_app, name="recordings")
app.add_typer(hospital_app, name="hospital")


class OperatorError(Exception):
    """Ends the command with its message and status 2."""


def _settings() -> Settings:
    return load_settings()


def _with_db(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await check_reachable(engine)
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _transact(action: Callable[[AsyncSession], Awaitable[object]]) -> None:
    """Run ``action`` in one transaction on the configured database."""
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with transaction(sessions) as session:
            await action(session)

    _with_db(_settings(), work)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OperatorError(f"port {port} on {host} is already in use "
                                    "(set SIAGA_PORT to another port)") from None
            raise OperatorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _check_media() -> None:
    """Refuse to serve, before the database or the port is touched, where the media layer
    cannot work: a Python, asyncio or media library without what it relies on
    (``ptt.media.preflight``). Better now than audio lost in the middle of a call."""
    from ptt.media.preflight import MediaSupportError, check_media_support

    try:
        check_media_support()
    except MediaSupportError as exc:
        raise OperatorError(f"cannot serve voice: {exc}") from None


def _upgrade(settings: Settings) -> None:
    from siaga.migrate import upgrade

    async def reachable(_sessions: object) -> None:
        return None

    _with_db(settings, reachable)
    upgrade(settings.database_url)


@app.command()
def serve(
    migrate: Annotated[bool, typer.Option(help="Apply pending migrations first.")] = True,
    tls: Annotated[bool, typer.Option(
        "--tls", help="Serve HTTPS (a self-signed certificate under data_dir/tls unless "
        "--cert/--key are given); phones need it for the microphone.")] = False,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM); implies --tls.")
                    ] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    fd: Annotated[int | None, typer.Option(
        help="Serve on this already bound socket, inherited as a file descriptor (socket "
        "activation), instead of binding SIAGA_HOST:SIAGA_PORT.")] = None,
) -> None:
    """Serve the console, the app, the API and the radio on one port."""
    _check_media()

    from kernel.logs import configure_logging
    from siaga.app import create_app
    from siaga.server import DrainingServer, uvicorn_config

    settings = _settings()
    sockets = None
    if fd is not None:
        sockets = [socket.socket(fileno=fd)]  # family and type read from the socket
        address = sockets[0].getsockname()
        settings = settings.model_copy(update={"host": address[0], "port": address[1]})
    files = _tls_files(settings, tls, cert, key)
    if sockets is None:
        _check_port(settings.host, settings.port)
    if migrate:
        _upgrade(settings)
    else:
        _with_db(settings, _noop)
    configure_logging(settings.log_level, settings.log_format)
    base = f"{'https' if files else 'http'}://{settings.host}:{settings.port}"
    if files is not None:
        made = " (created now)" if files.created else ""
        typer.echo(f"TLS certificate {files.cert}{made}\n"
                   f"  SHA-256 fingerprint {files.fingerprint}")
    typer.echo(
        f"Siaga serving at {base}\n"
        f"  dispatcher console  {base}/\n"
        f"  officers' app       {base}/app\n"
        f"  API docs            {base}/api/docs\n"
        f"  health              {base}/healthz"
    )
    app = create_app(settings)
    config = uvicorn_config(
        # Forwarded headers are believed only from SIAGA_FORWARDED_ALLOW_IPS (the app's own
        # middleware), never from whatever uvicorn trusts by default.
        app, settings.host, settings.port, proxy_headers=False,
        ssl_certfile=files.cert if files else None, ssl_keyfile=files.key if files else None,
    )
    DrainingServer(config, app.state.runtime).run(sockets=sockets)


def _tls_files(settings: Settings, tls: bool, cert: Path | None,
               key: Path | None) -> TlsFiles | None:
    from siaga.tls import TlsError, ensure_self_signed, given, local_names

    if cert is not None or key is not None:
        if cert is None or key is None:
            raise OperatorError("--cert and --key go together")
        try:
            return given(cert, key)
        except TlsError as exc:
            raise OperatorError(str(exc)) from None
    if not tls:
        return None
    return ensure_self_signed(settings.data_dir,
                              local_names(settings.host, settings.public_url))


async def _noop(_sessions: object) -> None:
    return None


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (secrets masked)."""
    typer.echo(json.dumps(_settings().masked(), indent=2))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = _settings()
    _upgrade(settings)
    typer.echo("database schema is current")


@demo_app.command("load")
def demo_load() -> None:
    """Load the Kota Probolinggo demo data (idempotent)."""
    from siaga.demo import data
    from siaga.demo.loader import load_demo

    settings = _settings()
    report = _with_db(settings, load_demo)
    if report.total:
        added = ", ".join(f"{n} {k}" for k, n in sorted(report.added.items()))
        typer.echo(f"demo data loaded: {added}")
    else:
        typer.echo("demo data already present; nothing added")
    typer.echo(f"demo accounts (password '{data.DEMO_PASSWORD}', demo data only): "
               + ", ".join(u[0] for u in data.USERS))


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="officer, dispatcher, supervisor, admin, hospital")],
    agency: Annotated[str, typer.Option(help="Agency code, e.g. satpolpp, dishub, psc119")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True)],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit callsign")] = None,
) -> None:
    """Create a user."""
    _transact(lambda s: add_user(s, username=username, password=password, role=role,
                                 agency_code=agency, display_name=name, unit_callsign=unit))
    typer.echo(f"user {username} added")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[User]:
        async with sessions() as s:
            return list((await s.execute(select(User).order_by(User.username))).scalars())

    for user in _with_db(_settings(), work):
        state = "disabled" if user.disabled else "active"
        typer.echo(f"{user.username:<16} {user.role.value:<11} {user.agency.code:<12} "
                   f"{user.unit_callsign or '-':<12} {state}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True)],
) -> None:
    """Set a user's password (logs them out everywhere)."""
    _transact(lambda s: set_password(s, username, password))
    typer.echo(f"password of {username} changed")


@user_app.command("disable")
def user_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead")] = False,
) -> None:
    """Disable a user (their tokens stop working at once)."""
    _transact(lambda s: set_disabled(s, username, not enable))
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@hospital_app.command("list")
def hospital_list() -> None:
    """List hospitals: code, phone for pre-arrival SMS, acceptance, name."""
    from dispatch.service import DispatchService

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, ...]]:
        return [(h.code, h.phone or "-", "accepting" if h.accepting else "diverting", h.name)
                for h in await DispatchService(sessions).list_hospitals()]

    for code, phone, state, name in _with_db(_settings(), work):
        typer.echo(f"{code:<16} {phone:<16} {state:<10} {name}")


@hospital_app.command("phone")
def hospital_phone(
    code: str,
    number: Annotated[str | None, typer.Argument(
        help="E.164 or Indonesian local form (0335 ...); omit with --clear")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the number")] = False,
) -> None:
    """Set the number a hospital's pre-arrival SMS goes to (audited as 'cli')."""
    from dispatch.errors import DispatchError
    from dispatch.service import Actor, DispatchService

    if (number is None) != clear:
        raise OperatorError("give a number, or --clear")

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str | None:
        service = DispatchService(sessions)
        try:
            hospital_id = await service.hospital_id_by_code(code)
            view = await service.set_hospital_phone(hospital_id, number, actor=Actor("cli"))
        except DispatchError as exc:
            raise OperatorError(exc.message.en) from None
        return view.phone

    phone = _with_db(_settings(), work)
    typer.echo(f"hospital {code}: phone {phone or 'removed'}")


@recordings_app.command("purge")
def recordings_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go")] = False,
) -> None:
    """Delete recordings (files and rows) older than their talkgroup's retention."""
    from datetime import UTC, datetime

    from ptt.server.recorder import PurgeReport, purge_expired

    settings = _settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> PurgeReport:
        return await purge_expired(sessions, settings.recordings_path, datetime.now(UTC),
                                   dry_run=dry_run)

    report = _with_db(settings, work)
    verb = "would purge" if dry_run else "purged"
    typer.echo(f"{verb} {report.rows} transmissions, {report.files} files"
               + ("" if dry_run else f", {report.bytes} bytes"))
    for error in report.errors:
        typer.echo(f"siaga: cannot delete {error}", err=True)
    if report.errors:
        raise typer.Exit(1)


def main() -> None:
    try:
        app(standalone_mode=False)
    except (ConfigError, DatabaseUnavailable, IdentityError, OperatorError) as exc:
        typer.echo(f"siaga: {exc}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("siaga: aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
