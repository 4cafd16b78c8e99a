#!/usr/bin/env bash
# Siaga on a fresh Debian, in a container: the system a city most likely installs it on.
#
#   scripts/container.sh image DEBIAN          build the base image (12 or 13) if missing
#   scripts/container.sh test DEBIAN [ARGS…]   `make test` in a fresh container; ARGS go to
#                                              pytest (PYTEST_ARGS), e.g. tests/media
#   scripts/container.sh run-time DEBIAN       `make run` in a fresh container; prints the
#                                              seconds until /healthz answers
#
# The base image is Debian's minimal system made with debootstrap from Debian's own
# packages, plus only python3, python3-venv and make (and ca-certificates), imported into
# podman: no registry of container images is needed. Everything else (Python packages,
# libopus0, a C compiler for the fan-out extension, Chromium and libatomic1 for the browser
# tests) is installed by `make run` / `make test` themselves, as on a new server.
#
# The container shares the host's network (PostgreSQL and NATS on the host are reachable
# at 127.0.0.1) and gets the working tree as a copy (no .venv, no var, no .git), so the
# host's files are never touched. It needs root, podman, runc and debootstrap
# (`apt-get install podman runc debootstrap`); podman runs with runc, cgroupfs and no
# default ulimits (scripts/containers.conf). The machine's CA bundle ($SSL_CERT_FILE) is
# passed in at another path than Debian's own bundle, which ca-certificates rewrites.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF="$here/scripts/containers.conf"
podman_() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

suite_of() {
  case "$1" in
    12) echo bookworm ;;
    13) echo trixie ;;
    *) echo "unsupported Debian release: $1 (12 or 13)" >&2; exit 2 ;;
  esac
}

image_of() { echo "localhost/siaga-debian:$1"; }

build_image() {
  local release=$1 suite image root
  suite=$(suite_of "$release")
  image=$(image_of "$release")
  if podman_ image exists "$image"; then return 0; fi
  root=$(mktemp -d /var/tmp/siaga-rootfs.XXXXXX)
  echo "building $image: debootstrap $suite (minbase + python3, python3-venv, make)"
  local start=$SECONDS
  debootstrap --variant=minbase --include=python3,python3-venv,make,ca-certificates \
    "$suite" "$root" http://deb.debian.org/debian >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; rm -rf "$root" "$root.log"; return 1; }
  rm -f "$root.log"
  # Security and point-release updates, as any installed Debian has them.
  cat >"$root/etc/apt/sources.list" <<EOF
deb http://deb.debian.org/debian $suite main
deb http://deb.debian.org/debian $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  tar -C "$root" -c . | podman_ import --quiet - "$image" >/dev/null
  rm -rf "$root"
  echo "built $image in $((SECONDS - start)) s"
}

ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}

# Options of the test containers only: the network tests (tests/netns) build network
# namespaces, veth pairs and nftables rules and set forwarding sysctls inside the container,
# which podman's default capabilities and read-only /proc/sys do not allow.
test_opts=(--privileged)
extra_opts=()

# Run COMMAND in a fresh container of RELEASE with a copy of the working tree in /src.
in_container() {
  local release=$1; shift
  local name="siaga-ci-$release-$$"
  local env=(-e CI="${CI:-}" -e DEBIAN_FRONTEND=noninteractive -e PYTHONUNBUFFERED=1
             -e SSL_CERT_FILE=/etc/siaga-ca.crt -e PIP_CERT=/etc/siaga-ca.crt
             -e REQUESTS_CA_BUNDLE=/etc/siaga-ca.crt)
  local var
  for var in SIAGA_TEST_DATABASE_URL SIAGA_TEST_NATS_URL SIAGA_REQUIRE_NATIVE PIP_INDEX_URL; do
    [ -n "${!var:-}" ] && env+=(-e "$var=${!var}")
  done
  tar -C "$here" --exclude=./.venv --exclude='./.venv*' --exclude=./var --exclude=./.git \
      --exclude='*/__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache \
      --exclude=./.pytest_cache --exclude=./.hypothesis --exclude=./node_modules -c . |
    podman_ run --rm -i --name "$name" --network host --shm-size 1g "${extra_opts[@]}" \
      -v "$ca_bundle:/etc/siaga-ca.crt:ro" "${env[@]}" "$(image_of "$release")" \
      bash -c 'mkdir -p /src && tar -x -C /src && cd /src && '"$*"
}

cmd=${1:-}; release=${2:-}
[ -n "$cmd" ] && [ -n "$release" ] || { sed -n '2,9p' "$0" >&2; exit 2; }
shift 2
case "$cmd" in
  image)
    build_image "$release"
    ;;
  test)
    build_image "$release"
    args=""
    [ $# -gt 0 ] && args=$(printf '%q ' "$@")
    start=$SECONDS
    extra_opts=("${test_opts[@]}")
    in_container "$release" "python3 --version && make test PYTEST_ARGS=$(printf '%q' "$args")"
    echo "Debian $release: make test passed in a fresh container in $((SECONDS - start)) s"
    ;;
  run-time)
    build_image "$release"
    port=${SIAGA_PORT:-18080}
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is taken; set SIAGA_PORT" >&2; exit 1
    fi
    log=$(mktemp)
    start=$SECONDS
    in_container "$release" "SIAGA_PORT=$port make run" >"$log" 2>&1 &
    runner=$!
    ok=0
    while [ $((SECONDS - start)) -lt 300 ] && kill -0 "$runner" 2>/dev/null; do
      if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
      sleep 1
    done
    took=$((SECONDS - start))
    podman_ stop --time 5 "siaga-ci-$release-$$" >/dev/null 2>&1 || true
    wait "$runner" 2>/dev/null || true
    if [ "$ok" = 1 ]; then
      echo "Debian $release: a fresh container served /healthz $took s after make run"
      rm -f "$log"
      # A goal, printed rather than enforced: the time depends on the package mirrors' speed.
      [ "$took" -le 120 ] || echo "that is over the 2-minute goal" >&2
    else
      echo "Debian $release: /healthz did not answer within $took s; make run said:" >&2
      tail -n 40 "$log" >&2; rm -f "$log"; exit 1
    fi
    ;;
  *)
    sed -n '2,9p' "$0" >&2; exit 2
    ;;
esac
