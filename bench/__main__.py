"""Run every benchmark module in its own process, one after the other.

Each ``bench/bench_*.py`` is a script with a ``main()`` that prints its own table
(figures and ratios against a baseline measured in the same run). Separate processes
keep one benchmark's memory and threads from skewing the next. ``--quick`` is passed
through for a short smoke run; naming modules runs only those.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    names = [a for a in argv if not a.startswith("-")]
    modules = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    if not modules:
        print("no benchmarks found", file=sys.stderr)
        return 1
    failed = []
    for module in modules:
        print(f"\n=== {module} ===", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"bench.{module}", *flags])
        if rc != 0:
            failed.append(module)
    if failed:
        print(f"\nbenchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
