#!/usr/bin/env bash
# Siaga's container image (Dockerfile), built and checked without a registry of container
# images: `make image`.
#
#   scripts/image.sh [DEBIAN]    build $SIAGA_IMAGE (default localhost/siaga:dev) FROM the
#                                debootstrap base localhost/siaga-debian:DEBIAN (12 unless
#                                given; made by scripts/container.sh when missing), run it
#                                and check it; prints the image size and the timings
#
# The checks run against the image as a city would run it, on the host's network on a free
# port (or $SIAGA_PORT), with a new volume at /app/var: `siaga db upgrade` and `siaga demo
# load` in one-off containers, then the default command (`siaga serve`); /healthz answers,
# the image's own HEALTHCHECK passes, the demo dispatcher logs in, and two `siaga-radio`
# clients from the same image do a voice round trip over WebSocket (one talks a 440 Hz tone
# on satpolpp, the other receives and saves the Opus packets). The machine's CA bundle
# ($SSL_CERT_FILE) reaches pip inside the build as the build secret `ca`, never the image.
# Needs root, podman, runc, curl (and debootstrap for the base), like scripts/container.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF="$here/scripts/containers.conf"
podman_() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

release=${1:-12}
base="localhost/siaga-debian:$release"
image=${SIAGA_IMAGE:-localhost/siaga:dev}
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
run_id="siaga-image-$$"
server="$run_id-server"
volume="$run_id-var"
tmp=$(mktemp -d)
total_start=$SECONDS

cleanup() {
  podman_ rm --force --ignore --time 5 "$server" "$run_id-listener" >/dev/null 2>&1 || true
  podman_ volume rm --force "$volume" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "image check failed: $*" >&2
  if podman_ container exists "$server"; then
    echo "--- the server's log:" >&2
    podman_ logs --tail 40 "$server" >&2 || true
  fi
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Base image (debootstrap, Debian's packages only).
"$here/scripts/container.sh" image "$release"

# Build.
secret=()
[ -s "$ca_bundle" ] && secret=(--secret "id=ca,src=$ca_bundle")
previous=$(podman_ image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
echo "building $image FROM $base"
start=$SECONDS
podman_ build --format docker --network host --build-arg "BASE=$base" "${secret[@]}" \
  --tag "$image" "$here" >"$tmp/build.log" 2>&1 \
  || { tail -n 40 "$tmp/build.log" >&2; fail "podman build"; }
build_s=$((SECONDS - start))
current=$(podman_ image inspect --format '{{.Id}}' "$image")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  podman_ rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(podman_ image inspect --format '{{.Size}}' "$image")

port=${SIAGA_PORT:-$(free_port)}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  fail "port $port is taken; set SIAGA_PORT"
fi
url="http://127.0.0.1:$port"
common=(--network host -e "SIAGA_PORT=$port" -e "SIAGA_PUBLIC_URL=$url")
# The image's HEALTHCHECK is for the server; podman would want systemd for its timer.
once=(--rm --no-healthcheck "${common[@]}")

# Schema and demo data on a new volume, as an operator would: the image's entry point is
# `siaga`, so the command is what follows the image name.
start=$SECONDS
podman_ volume create "$volume" >/dev/null
podman_ run "${once[@]}" -v "$volume:/app/var" "$image" db upgrade >"$tmp/setup.log" 2>&1 \
  && podman_ run "${once[@]}" -v "$volume:/app/var" "$image" demo load >>"$tmp/setup.log" 2>&1 \
  || { cat "$tmp/setup.log" >&2; fail "siaga db upgrade / siaga demo load"; }
demo_s=$((SECONDS - start))

# Serve (the default command). Its HEALTHCHECK is run once below, not on a timer; podman
# still complains that it cannot reach systemd for one, hence the quiet start and stop.
start=$SECONDS
podman_ run --detach --name "$server" "${common[@]}" -v "$volume:/app/var" \
  --health-interval disable "$image" >/dev/null 2>"$tmp/run.log" \
  || { cat "$tmp/run.log" >&2; fail "podman run $image"; }
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
  [ "$(podman_ inspect --format '{{.State.Running}}' "$server")" = true ] \
    || fail "the server exited"
  [ $((SECONDS - start)) -lt 120 ] || fail "/healthz did not answer within 120 s"
  sleep 0.5
done
serve_s=$((SECONDS - start))
echo "/healthz answers: $(curl -fsS "$url/healthz")"

podman_ healthcheck run "$server" >/dev/null 2>&1 || fail "the image's HEALTHCHECK failed"
echo "HEALTHCHECK: $(podman_ inspect --format '{{.State.Health.Status}}' "$server")"

curl -fsS -X POST "$url/api/auth/login" -H 'content-type: application/json' \
  -d '{"username": "dispatcher1", "password": "demo"}' >"$tmp/login.json" \
  || fail "POST /api/auth/login as dispatcher1"
grep -q '"access_token"' "$tmp/login.json" || fail "no access_token: $(cat "$tmp/login.json")"
echo "login: dispatcher1 has a token"

# Voice over WebSocket: satpol2 listens, satpol1 talks a tone for 2 s (100 packets).
start=$SECONDS
radio=("${once[@]}" --entrypoint siaga-radio "$image" --server "$url"
       --password demo --transport websocket)
podman_ run --name "$run_id-listener" "${radio[@]}" --user satpol2 listen -g satpolpp \
  --count 1 --seconds 60 --out /tmp/recordings >"$tmp/listen.log" 2>&1 &
listener=$!
until grep -q '^listening to' "$tmp/listen.log"; do
  kill -0 "$listener" 2>/dev/null || { cat "$tmp/listen.log" >&2; fail "the listener exited"; }
  [ $((SECONDS - start)) -lt 60 ] || fail "the listener did not connect within 60 s"
  sleep 0.2
done
podman_ run "${radio[@]}" --user satpol1 talk -g satpolpp --tone 440 --seconds 2 \
  >"$tmp/talk.log" 2>&1 || { cat "$tmp/talk.log" >&2; fail "siaga-radio talk"; }
wait "$listener" || { cat "$tmp/listen.log" >&2; fail "siaga-radio listen"; }
voice_s=$((SECONDS - start))
sed 's/^/  /' "$tmp/talk.log"
saved=$(grep '^saved ' "$tmp/listen.log") || { cat "$tmp/listen.log" >&2; fail "nothing heard"; }
echo "  $saved"
packets=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' <<<"$saved")
[ "${packets:-0}" -ge 90 ] || fail "the listener received $packets Opus packets of 100"

podman_ stop --time 10 "$server" >/dev/null 2>&1 || fail "podman stop"
echo "image $image (FROM $base): $((size / 1000000)) MB"
echo "timings: build ${build_s} s, db upgrade + demo load ${demo_s} s," \
     "serve to /healthz ${serve_s} s, voice round trip ${voice_s} s," \
     "total $((SECONDS - total_start)) s"
