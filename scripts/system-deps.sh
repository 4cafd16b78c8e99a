#!/usr/bin/env bash
# Install the system libraries Siaga needs, when they are missing.
#   libopus0  always (the Opus binding loads it at import time)
#   chromium, opus-tools  with --browser (tests only: headless browser; opusdec)
# As root this installs with apt-get; otherwise it prints the one command to run.
set -euo pipefail

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'libopus\.so\.0'; then
  missing+=(libopus0)
fi
if [ "$want_browser" = 1 ]; then
  # Test-only tools: the browser for the console and app tests, opusdec to check that
  # recordings play in a reference decoder.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v opusdec >/dev/null || missing+=(opus-tools)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  # Without Chromium only the browser tests skip; without libopus nothing works.
  for pkg in "${missing[@]}"; do [ "$pkg" = libopus0 ] && exit 1; done
fi
exit 0
