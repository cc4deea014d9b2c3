#!/usr/bin/env bash
# The whole test suite: installs packages, builds with -Werror, checks formatting, runs every
# unit and integration test (ctest), then runs the demo briefly as a smoke test.
# Run as root on a fresh Debian 12 machine:  bash scripts/test.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

install_deps
build -DROLLOUT_WERROR=ON -DROLLOUT_BUILD_TESTS=ON -DROLLOUT_BUILD_BENCH=ON

echo "== clang-format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

echo "== ctest"
(cd "$BUILD_DIR" && ctest -j"$JOBS" --output-on-failure --timeout 180)

echo "== demo smoke run"
DEMO_INTERVAL=2s SKIP_SETUP=1 bash "$ROOT/scripts/demo.sh" > "$BUILD_DIR/demo-smoke.log" 2>&1 || {
  cat "$BUILD_DIR/demo-smoke.log"
  echo "error: the demo failed" >&2
  exit 1
}
for expected in "v2 promoted" "v3 aborted automatically" "failed analyses in a row"; do
  grep -q "$expected" "$BUILD_DIR/demo-smoke.log" || {
    cat "$BUILD_DIR/demo-smoke.log"
    echo "error: the demo did not show \"$expected\"" >&2
    exit 1
  }
done
echo "demo: OK"
