#!/usr/bin/env bash
# Builds rollout-proxy's container image with podman (or buildah), with no daemon, then runs
# it and checks it:
#   1. a Debian 12 base (localhost/rollout-proxy-base:bookworm) is made with mmdebstrap,
#      if there is none, holding the runtime libraries the binaries link (ldd) and a
#      non-root user 10001;
#   2. the image (localhost/rollout-proxy:VERSION) is built from deploy/docker/Containerfile
#      with the binaries of BIN_DIR;
#   3. it is run (host network) in front of a demo-model-server on the host: `rolloutctl
#      health` inside it must answer SERVING, and a call through it must reach the server.
#      Its size and its start time (run to SERVING) are printed.
#
#   bash deploy/docker/build.sh [BIN_DIR]    # default build/cmd (a Release build is best)
#   NO_RUN=1 bash deploy/docker/build.sh     # build only
#
# Exit codes: 0 built and checked; 1 a step failed (it says which); 77 this machine cannot
# build or run containers (no podman, mmdebstrap, or a runtime that starts), with the reason.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="$(cd "${1:-$ROOT/build/cmd}" && pwd)"
VERSION="$(grep -oE 'kVersion\[\] = "[^"]+"' "$ROOT/serve/server.h" | grep -oE '[0-9][^"]*')"
BASE=localhost/rollout-proxy-base:bookworm
IMAGE="localhost/rollout-proxy:$VERSION"
WORK="$(mktemp -d)"
CONTAINER=""
SERVER_PID=""
cleanup() {
  [ -n "$CONTAINER" ] && podman rm -f "$CONTAINER" > /dev/null 2>&1 || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v podman > /dev/null || skip "podman is not installed (Debian: apt-get install podman)"
command -v mmdebstrap > /dev/null || skip "mmdebstrap is not installed"
for b in rollout-proxy rolloutctl demo-model-server rollout-demo-client; do
  [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing: build first (scripts/demo.sh builds it)"
done

# The Debian packages that hold the libraries the binaries link.
runtime_packages() {
  local lib pkg
  for lib in $(ldd "$BIN_DIR/rollout-proxy" "$BIN_DIR/rolloutctl" | awk '$3 ~ /^\// {print $3}' | sort -u); do
    pkg=$(dpkg -S "$lib" 2> /dev/null || dpkg -S "$(readlink -f "$lib")" 2> /dev/null ||
          dpkg -S "/usr$lib" 2> /dev/null || dpkg -S "${lib#/usr}" 2> /dev/null) ||
      fail "no Debian package holds $lib"
    echo "${pkg%%:*}"
  done | sort -u | paste -sd, -
}

# 1. The base, once (or again when the binaries need other libraries).
PACKAGES="ca-certificates,$(runtime_packages)"
if [ "$(podman image inspect --format '{{index .Labels "packages"}}' "$BASE" 2> /dev/null)" != "$PACKAGES" ]; then
  echo "== making the bookworm base with mmdebstrap: $PACKAGES"
  # The host's Debian sources (its mirror, and its security updates), else deb.debian.org.
  SOURCES=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ] && grep -qE '^[^#]*debian' "$f"; then SOURCES+=("$f"); fi
  done
  [ ${#SOURCES[@]} -gt 0 ] || SOURCES=("deb http://deb.debian.org/debian bookworm main"
    "deb http://deb.debian.org/debian bookworm-updates main"
    "deb http://deb.debian.org/debian-security bookworm-security main")
  mmdebstrap --variant=essential --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='echo "rollout:x:10001:10001:rollout-proxy:/var/lib/rollout-proxy:/usr/sbin/nologin" >> "$1/etc/passwd"' \
    --customize-hook='echo "rollout:x:10001:" >> "$1/etc/group"' \
    --customize-hook='mkdir -p "$1/var/lib/rollout-proxy" && chown 10001:10001 "$1/var/lib/rollout-proxy"' \
    --customize-hook='rm -rf "$1/var/cache/apt" "$1/var/lib/apt/lists"' \
    bookworm "$WORK/base.tar" "${SOURCES[@]}" < /dev/null > "$WORK/mmdebstrap.log" 2>&1 || {
      tail -20 "$WORK/mmdebstrap.log"; fail "mmdebstrap could not make the base"; }
  podman import --change "LABEL packages=$PACKAGES" "$WORK/base.tar" "$BASE" > /dev/null ||
    fail "podman import of the base"
  rm -f "$WORK/base.tar"
fi

# 2. The image. The docker format keeps the HEALTHCHECK (OCI images have none).
mkdir "$WORK/context"
cp "$BIN_DIR/rollout-proxy" "$BIN_DIR/rolloutctl" "$WORK/context/"
strip "$WORK/context/rollout-proxy" "$WORK/context/rolloutctl"  # no debug info in the image
cp "$ROOT/deploy/config/rollout-proxy.yaml" "$WORK/context/"
echo "== building $IMAGE from deploy/docker/Containerfile"
if podman build --format docker --build-arg "BASE=$BASE" -f "$ROOT/deploy/docker/Containerfile" \
     -t "$IMAGE" "$WORK/context" > "$WORK/build.log" 2>&1; then
  :
elif command -v buildah > /dev/null &&
     buildah bud --format docker --build-arg "BASE=$BASE" -f "$ROOT/deploy/docker/Containerfile" \
       -t "$IMAGE" "$WORK/context" > "$WORK/build.log" 2>&1; then
  :
else
  cat "$WORK/build.log"; fail "the image did not build"
fi
SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $((SIZE / 1000000)) MB"
[ -n "${NO_RUN:-}" ] && exit 0

# 3. Run it. Some sandboxes refuse the rlimits podman asks for, or crun's cgroup setup: the
# limits are the host's own, and runc is tried when the default runtime cannot start.
PODMAN=(podman)
RUN_FLAGS=(--network host --ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit nproc=16384:16384)
# Sanitized binaries (the test suite's) take their options into the container too.
for v in ASAN_OPTIONS UBSAN_OPTIONS; do
  if [ -n "${!v:-}" ]; then RUN_FLAGS+=(-e "$v=${!v}"); fi
done
if ! podman run --rm "${RUN_FLAGS[@]}" --entrypoint /usr/local/bin/rolloutctl "$IMAGE" --help \
     > "$WORK/probe.log" 2>&1; then
  if command -v runc > /dev/null &&
     podman --runtime runc run --rm "${RUN_FLAGS[@]}" --entrypoint /usr/local/bin/rolloutctl \
       "$IMAGE" --help > "$WORK/probe-runc.log" 2>&1; then
    echo "(the default OCI runtime cannot start a container here: $(tail -1 "$WORK/probe.log"); using runc)"
    PODMAN=(podman --runtime runc)
  else
    skip "podman cannot run a container on this machine: $(tail -1 "$WORK/probe.log")"
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$BIN_DIR/demo-model-server" --port 0 --version v1 > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.05; done
SERVER=$(grep -oE 'listening on [0-9.]+:[0-9]+' "$WORK/server.log" | grep -oE '[0-9]+$') ||
  fail "demo-model-server did not start"
DATA=$(free_port)
cat > "$WORK/proxy.yaml" <<YAML
listen: 127.0.0.1:$DATA
workers: 1
pools: [ { name: v1, endpoints: ["127.0.0.1:$SERVER"] } ]
routes: [ { name: infer, split: [ { pool: v1, weight: 1 } ] } ]
YAML
chmod 644 "$WORK/proxy.yaml"
started=$(date +%s%N)
# (podman's stderr: without systemd it says it cannot schedule the HEALTHCHECK timer.)
CONTAINER=$("${PODMAN[@]}" run -d "${RUN_FLAGS[@]}" -v "$WORK/proxy.yaml:/etc/rollout-proxy/proxy.yaml:ro" \
  "$IMAGE" 2> "$WORK/run.log") || { cat "$WORK/run.log"; fail "podman run"; }
serving=""
for _ in $(seq 200); do
  if out=$(podman exec "$CONTAINER" rolloutctl health --target "127.0.0.1:$DATA" 2>&1) &&
     [[ "$out" == *SERVING* ]]; then
    serving=$(( ($(date +%s%N) - started) / 1000000 ))
    break
  fi
  sleep 0.05
done
[ -n "$serving" ] || { podman logs "$CONTAINER"; fail "rolloutctl health inside the image: ${out:-no answer}"; }
echo "rolloutctl health inside the image: $out"
echo "start time: ${serving} ms from podman run to SERVING"
"$BIN_DIR/rollout-demo-client" --target "127.0.0.1:$DATA" --rate 50 --duration 2s --json \
  > "$WORK/client.json" 2> "$WORK/client.log" || { cat "$WORK/client.log"; fail "calls through the image"; }
grep -q '"v1"' "$WORK/client.json" || { cat "$WORK/client.json"; fail "no call reached v1 through the image"; }
echo "calls through the image reached demo-model-server v1 on the host: $(tr -d '\n' < "$WORK/client.json" | cut -c1-200)"
echo "image OK"
