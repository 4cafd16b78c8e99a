#!/usr/bin/env bash
# Install the system packages Siaga needs, when they are missing (Debian 12 and 13).
#   --build    before the Python install: gcc, libc6-dev and the Python headers, so the
#              WebRTC fan-out's C extension builds (optional: without them the same loop
#              runs in Python)
#   (none)     libopus0 (the Opus binding loads it at import time)
#   --browser  also the test-only tools: Chromium and libatomic1 (Playwright's driver
#              needs it) for the browser tests, opus-tools (opusdec) for the recordings
# As root this installs with apt-get; otherwise it prints the one command to run.
set -euo pipefail

mode=${1:-}
python=${PYTHON:-python3}
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

missing=()
optional=0
case "$mode" in
  --build)
    optional=1
    command -v gcc >/dev/null || missing+=(gcc libc6-dev)
    include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    if [ ! -f "$include/Python.h" ]; then
      # Debian's own Python keeps its headers in python3-dev; a Python built elsewhere
      # (pyenv, a container image) ships them.
      [[ "$include" == /usr/include/* ]] && missing+=(python3-dev)
    fi
    ;;
  ""|--browser)
    has_lib 'libopus\.so\.0' || missing+=(libopus0)
    if [ "$mode" = --browser ]; then
      [ -x /usr/bin/chromium ] || missing+=(chromium)
      has_lib 'libatomic\.so\.1' || missing+=(libatomic1)
      command -v opusdec >/dev/null || missing+=(opus-tools)
    fi
    ;;
  *)
    echo "usage: $0 [--build|--browser]" >&2; exit 2 ;;
esac
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  [ "$optional" = 1 ] && echo "(going on without them: the C fan-out will not be built)" >&2
  # Without Chromium only the browser tests skip; without libopus nothing works.
  for pkg in "${missing[@]}"; do [ "$pkg" = libopus0 ] && exit 1; done
fi
exit 0
