#!/usr/bin/env bash
# The whole test suite, under AddressSanitizer and UndefinedBehaviorSanitizer:
#   1. installs the packages, builds everything with clang, -Werror, ASan+UBSan and
#      libFuzzer coverage (in build-san/), and checks clang-format;
#   2. runs every unit and integration test (ctest); the processes the tests start (the
#      proxy, rolloutctl, the demo servers) are sanitized too, and any report fails a test;
#   3. runs the demo briefly as a smoke test;
#   4. runs each libFuzzer target for FUZZ_SECONDS (default 20) on its checked-in corpus.
# Run as root on a fresh Debian 12 machine:  bash scripts/test.sh
#
# CI runs one build, the sanitized one: on the 2-core CI machine a second, uninstrumented
# build would take the suite past its time budget. scripts/demo.sh builds the plain gcc
# binaries (in build/) and runs them.
set -euo pipefail
export BUILD_DIR="${TEST_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build-san}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

install_deps "${TEST_PACKAGES[@]}"
install_kubectl
# -O1 and line tables only: the sanitizers' reports keep file:line, and the build is a
# third faster than -O2 -g.
build -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" \
  -DROLLOUT_SANITIZE=address,undefined,fuzzer -DROLLOUT_WERROR=ON -DROLLOUT_BUILD_TESTS=ON \
  -DROLLOUT_BUILD_BENCH=ON

echo "== clang-format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

# A report (ASan, UBSan, LeakSanitizer) aborts the process, so its test fails.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "== ctest (ASan+UBSan)"
(cd "$BUILD_DIR" && ctest -j"$JOBS" --output-on-failure --timeout 300)

echo "== demo smoke run (ASan+UBSan)"
rm -f "$BUILD_DIR/dashboard.png"
DEMO_INTERVAL=2s SKIP_SETUP=1 DEMO_DASHBOARD=127.0.0.1:0 DEMO_SCREENSHOT="$BUILD_DIR/dashboard.png" \
  bash "$ROOT/scripts/demo.sh" > "$BUILD_DIR/demo-smoke.log" 2>&1 || {
  cat "$BUILD_DIR/demo-smoke.log"
  echo "error: the demo failed" >&2
  exit 1
}
for expected in "v2 promoted" "v3 aborted automatically" "failed analyses in a row" \
    "gate compatibility: passed" "gate load_test: passed: replayed 100 requests" \
    "gate approval: passed: approved by demo" \
    "v4 aborted on its time to the first token" "first message p99" \
    "candidate v5 is not compatible with v2" "LAST RELEASE" "dashboard: http://127.0.0.1:" \
    "dashboard_screenshot: saved" '"route":"infer","pool":"v'; do
  grep -q "$expected" "$BUILD_DIR/demo-smoke.log" || {
    cat "$BUILD_DIR/demo-smoke.log"
    echo "error: the demo did not show \"$expected\"" >&2
    exit 1
  }
done
# The screenshot of the dashboard during the canary is a real PNG.
head -c 8 "$BUILD_DIR/dashboard.png" | od -An -c | grep -q "P   N   G" || {
  echo "error: the demo's dashboard screenshot is not a PNG" >&2
  exit 1
}
echo "demo: OK"

echo "== fuzz: ${FUZZ_SECONDS:=20} s per target"
for target in config_parser model_name_reader admin_request; do
  corpus="$(mktemp -d)"
  "$BUILD_DIR/fuzz/${target}_fuzz" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$BUILD_DIR/" "$corpus" "$ROOT/fuzz/corpus/$target" \
    > "$BUILD_DIR/fuzz-$target.log" 2>&1 || {
    tail -60 "$BUILD_DIR/fuzz-$target.log"
    echo "error: the $target fuzzer found a failure (the input is saved in $BUILD_DIR)" >&2
    exit 1
  }
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$BUILD_DIR/fuzz-$target.log" |
         grep -oE '[0-9]+$')
  echo "$target: $runs inputs, no failure"
  rm -rf "$corpus"
done
echo "all tests passed"
