"""Branch coverage of the pure cores by their own unit tests: every line and branch, or fail.

The cores are the modules of the import-linter contract "pure cores do no I/O" in
pyproject.toml (one list, kept there). They are measured with the unit tests that drive them
without sockets or a database; the stateful tests search the same rules longer and are left
to ``make test``. Hypothesis runs its "coverage" profile (tests/conftest.py): few examples,
the same on every run.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = "pure cores do no I/O"
UNIT_TESTS = [
    "tests/ptt",
    "tests/dispatch",
    "tests/media/test_rtp.py",
    "tests/media/test_oggopus.py",
    "tests/media/test_audioframe.py",
    "tests/media/test_numbering.py",
    "tests/media/test_nat.py",
    "tests/sms_flow/test_taplink_core.py",
    "tests/core/test_ratelimit.py",
    "tests/core/test_revocation.py",
    "tests/core/test_origin.py",
]
NOT_UNIT_TESTS = [
    "--ignore=tests/ptt/test_floor_stateful.py",
    "--ignore=tests/ptt/test_radio_stateful.py",
    "--ignore=tests/dispatch/test_lifecycle_stateful.py",
    "--ignore=tests/dispatch/test_osrm.py",  # the OSRM client is an adapter
    "--deselect=tests/media/test_rtp.py::TestDownlinkMachine",
]


def pure_cores() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"] == CONTRACT:
            return list(contract["source_modules"])
    raise SystemExit(f"pyproject.toml has no import-linter contract {CONTRACT!r}")


def main(argv: list[str]) -> int:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--hypothesis-profile=coverage", "--cov-branch", "--cov-fail-under=100",
        "--cov-report=term-missing:skip-covered",
        *(f"--cov={module}" for module in pure_cores()),
        *UNIT_TESTS, *NOT_UNIT_TESTS, *argv,
    ]
    return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
