"""schemathesis against the real server's ``/api/openapi.json``, as a dispatcher, a hospital
account and an officer: no 5xx, no status code the document does not declare, no answer
outside its declared schema or content type. The budget is bounded (a few examples per
operation, a fixed seed) so the run takes the same time on every machine."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer

CHECKS = ",".join(["not_a_server_error", "status_code_conformance",
                   "content_type_conformance", "response_schema_conformance"])
EXAMPLES = 8


@pytest.mark.parametrize("username", ["dispatcher1", "rsud-saleh", "satpol1"])
async def test_schemathesis_finds_nothing(live_server: LiveServer, username: str,
                                          tmp_path: Path) -> None:
    token = await live_server.login(username)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{live_server.http_url}/api/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        "--generation-deterministic", "--seed", "23",
        "--workers", "1",
        "--request-timeout", "20",
        "--report-dir", str(tmp_path),
    ]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                   timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    # Every operation of the document was tried, with some cases each.
    selected = re.search(r"Selected: (\d+)/(\d+)", done.stdout)
    tested = re.search(r"Tested: (\d+)", done.stdout)
    cases = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert selected and tested and cases, done.stdout[-3000:]
    assert selected[1] == selected[2] == tested[1] and int(tested[1]) >= 40
    assert cases[1] == cases[2] and int(cases[1]) >= 10 * int(tested[1])
