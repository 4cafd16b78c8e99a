"""Real ``siaga serve`` processes for tests that kill, restart or cluster them.

Each process gets a loopback socket bound by the test (``--fd``), so its port is known and
never raced for, and runs the CLI exactly as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from tests.conftest import loopback_socket, port_of
from tests.polling import until

SIAGA = str(Path(sys.executable).parent / "siaga")


def base_env(**settings: str) -> dict[str, str]:
    """This process's environment without any SIAGA_* variable, plus ``settings``
    (``database_url="..."`` becomes ``SIAGA_DATABASE_URL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env["SIAGA_LOG_LEVEL"] = "WARNING"
    env.update({f"SIAGA_{key.upper()}": value for key, value in settings.items()})
    return env


async def run(env: dict[str, str], *args: str) -> None:
    """Run one ``siaga`` command (``db upgrade``, ``demo load``) to completion."""
    proc = await asyncio.create_subprocess_exec(SIAGA, *args, env=env,
                                                stdout=asyncio.subprocess.DEVNULL)
    assert await proc.wait() == 0, f"siaga {' '.join(args)} failed"


class ServerProcess:
    """One ``siaga serve`` process, restartable on the same port."""

    def __init__(self, env: dict[str, str], *, log: Path | None = None) -> None:
        self.env = dict(env)
        self.sock = loopback_socket()
        self.port = port_of(self.sock)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env["SIAGA_PORT"] = str(self.port)
        self.env.setdefault("SIAGA_PUBLIC_URL", self.url)
        self.env.setdefault("SIAGA_NODE_URL", self.url)
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, http: httpx.AsyncClient, *, ready: str = "/healthz") -> None:
        out = open(self.log, "ab") if self.log is not None else None  # noqa: SIM115
        try:
            self.proc = await asyncio.create_subprocess_exec(
                SIAGA, "serve", "--no-migrate", "--fd", str(self.sock.fileno()),
                env=self.env, pass_fds=(self.sock.fileno(),),
                stdout=out or asyncio.subprocess.DEVNULL,
                stderr=out or asyncio.subprocess.DEVNULL)
        finally:
            if out is not None:
                out.close()

        async def up() -> bool:
            assert self.proc is not None
            assert self.proc.returncode is None, f"siaga serve exited: {self.proc.returncode}"
            try:
                return (await http.get(f"{self.url}{ready}")).status_code == 200
            except httpx.TransportError:
                return False
        await until(up, "siaga serve to answer", timeout=60)

    async def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops a service; returns the exit status (uvicorn raises
        the signal again once it has shut down cleanly, so that is -15 too)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def close(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
        self.sock.close()
