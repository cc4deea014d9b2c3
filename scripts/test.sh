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
DEMO_SECONDS=3 SKIP_SETUP=1 bash "$ROOT/scripts/demo.sh" > "$BUILD_DIR/demo-smoke.log" 2>&1 || {
  cat "$BUILD_DIR/demo-smoke.log"
  echo "error: the demo failed" >&2
  exit 1
}
grep -q "pool v2" "$BUILD_DIR/demo-smoke.log" || {
  cat "$BUILD_DIR/demo-smoke.log"
  echo "error: the demo served no traffic from v2" >&2
  exit 1
}
echo "demo: OK"
