# Shared by demo.sh and test.sh: install the Debian packages the project needs, and build.
# Both are idempotent: a second run skips what is already done.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"

PACKAGES=(
  build-essential cmake pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libre2-dev
  libabsl-dev libnghttp2-dev libssl-dev libc-ares-dev zlib1g-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev libcurl4-openssl-dev libspdlog-dev
  libcpp-httplib-dev
  golang-etcd-server-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus openssl
)

# Only the test suite needs these: clang and its runtimes for the sanitizer and fuzzing
# build, python3-h2 for a test backend that speaks raw HTTP/2, etcd for the state store's
# tests (a real cluster on loopback), and Chromium with chromedriver and Selenium for the
# dashboard's tests in a real browser, and podman, buildah, mmdebstrap and runc to build and
# run the container image (deploy/docker/build.sh).
TEST_PACKAGES=(clang libclang-rt-14-dev python3-h2 etcd-server etcd-client
  chromium chromium-driver python3-selenium podman buildah mmdebstrap runc uidmap)

# install_deps [EXTRA_PACKAGE...]: installs what is missing of PACKAGES and the extras.
install_deps() {
  local wanted=("${PACKAGES[@]}" "$@")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "== packages: all ${#wanted[@]} installed"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's kubernetes-client, for the test that renders deploy/kubernetes with `kubectl
# kustomize`. It is unpacked into KUBECTL_DIR, not installed: /usr/bin/kubectl may already
# belong to another package (Google Cloud's kubectl is on some machines), and dpkg would
# refuse to overwrite it. tests/deploy/kustomize_render_test.cc looks there first.
KUBECTL_DIR=/opt/debian-kubernetes-client
install_kubectl() {
  if dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed" ||
     [ -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
    return
  fi
  echo "== unpacking Debian's kubernetes-client into $KUBECTL_DIR"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && { apt-get download -qq kubernetes-client 2>/dev/null ||
                  { apt-get update -qq && apt-get download -qq kubernetes-client; }; })
  mkdir -p "$KUBECTL_DIR"
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$KUBECTL_DIR"
  rm -rf "$tmp"
}

build() {
  echo "== building in $BUILD_DIR (-j$JOBS)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j"$JOBS"
}

# with_work_dir: sets WORK to a new temporary folder and PIDS to an empty list; when the
# script exits, every process in PIDS is killed and WORK is removed.
cleanup_work() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
with_work_dir() {
  WORK="$(mktemp -d)"
  PIDS=()
  trap cleanup_work EXIT
}

# A free loopback port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT: until something listens on it
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "error: nothing listens on port $1" >&2; exit 1
}

# start NAME COMMAND...: runs COMMAND in the background with its output in $WORK/NAME.log,
# waits for its "listening on HOST:PORT" line, and sets PORT and PID (globals: a $(...)
# subshell would lose the PID needed for cleanup). Appends PID to PIDS. Needs WORK.
start() {
  local name="$1"; shift
  "$@" > "$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 200); do
    if PORT=$(grep -oE '(data plane |model .* )listening on [0-9.]+:[0-9]+' "$WORK/$name.log" |
              grep -oE '[0-9]+$'); then
      return
    fi
    sleep 0.05
  done
  echo "error: $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}
