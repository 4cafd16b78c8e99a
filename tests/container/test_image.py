"""The container image, built from the Dockerfile with podman and checked (``make image``).

It needs root and podman (and debootstrap when the base image is not there yet), as on CI's
host; elsewhere, such as inside CI's Debian containers, it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/siaga-debian:12"


def _missing() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (the image is built and checked with podman)"
    if os.geteuid() != 0:
        return "podman runs as root here (scripts/containers.conf); not root"
    if shutil.which("runc") is None:
        return "runc is not installed (podman runs with --runtime runc)"
    if shutil.which("curl") is None:
        return "curl is not installed (the checks call the server with it)"
    base = subprocess.run(
        ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "image", "exists",
         BASE], capture_output=True, env={**os.environ,
                                          "CONTAINERS_CONF": str(ROOT / "scripts/containers.conf")})
    if base.returncode != 0 and shutil.which("debootstrap") is None:
        return f"neither {BASE} nor debootstrap to make it is here"
    return None


@pytest.mark.container
def test_image_builds_serves_logs_in_and_carries_voice() -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    done = subprocess.run([str(ROOT / "scripts/image.sh")], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, f"scripts/image.sh failed:\n{done.stdout}\n{done.stderr}"
    assert "packets=" in done.stdout and "timings:" in done.stdout, done.stdout
    print(done.stdout)
