"""The Dockerfile, read as text: what the image build depends on without building it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _copied() -> set[str]:
    """Source directories copied from the build context (not from another stage)."""
    found: set[str] = set()
    for line in DOCKERFILE.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            found.update(w.rstrip("/") for w in words[1:-1])
    return found


def test_every_package_is_copied_into_the_build() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]
    copied = _copied()
    for pattern in find["include"]:
        name = pattern.rstrip("*")
        homes = [f"{where}/{name}".removeprefix("./") for where in find["where"]
                 if (ROOT / where / name).is_dir()]
        assert homes, f"package {name} is in neither of {find['where']}"
        for home in homes:
            where = str(Path(home).parent)
            assert home in copied or (where != "." and where in copied), (
                f"the Dockerfile does not COPY {home} (package {name} of pyproject)")


def test_both_stages_build_from_the_base_argument() -> None:
    assert re.search(r"^ARG BASE=python:3\.\d+-slim-\w+$", DOCKERFILE, re.M)
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert froms == ["${BASE}", "${BASE}"], froms


def test_the_ca_bundle_is_a_build_secret_never_a_file_of_the_image() -> None:
    assert "--mount=type=secret,id=ca" in DOCKERFILE
    assert "ca-certificates.crt" not in DOCKERFILE
    assert not re.search(r"^(COPY|ADD|ENV)\b.*(PIP_CERT|SSL_CERT_FILE|\.crt)", DOCKERFILE, re.M)
