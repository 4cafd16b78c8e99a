#!/usr/bin/env bash
# Install the system packages Siaga needs, when they are missing (Debian 12 and 13).
#   (always)   libopus0 (the Opus binding loads it at import time); gcc, libc6-dev and the
#              Python headers, so the WebRTC fan-out's C extension builds (optional:
#              without them the same loop runs in Python)
#   --browser  the test-only tools instead: Chromium and libatomic1 (Playwright's driver
#              needs it) for the browser tests, opus-tools (opusdec) for the recordings,
#              iproute2, nftables and coturn for the network tests (tests/netns)
# As root this installs with apt-get, in one call; otherwise it prints the command to run.
set -euo pipefail

mode=${1:-}
python=${PYTHON:-python3}
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

missing=()
case "$mode" in
  "")
    has_lib 'libopus\.so\.0' || missing+=(libopus0)
    command -v gcc >/dev/null || missing+=(gcc libc6-dev)
    include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    # Debian's own Python keeps its headers in python3-dev; a Python built elsewhere
    # (pyenv, a container image's) ships them.
    if [ ! -f "$include/Python.h" ] && [[ "$include" == /usr/include/* ]]; then
      missing+=(python3-dev)
    fi
    ;;
  --browser)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    has_lib 'libatomic\.so\.1' || missing+=(libatomic1)
    command -v opusdec >/dev/null || missing+=(opus-tools)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v nft >/dev/null || missing+=(nftables)
    command -v turnserver >/dev/null || missing+=(coturn)
    ;;
  *)
    echo "usage: $0 [--browser]" >&2; exit 2 ;;
esac
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  [ -z "$mode" ] && echo "(without a C compiler and headers the C fan-out is not built)" >&2
  # Without Chromium only the browser tests skip; without libopus nothing works.
  for pkg in "${missing[@]}"; do [ "$pkg" = libopus0 ] && exit 1; done
fi
exit 0
