#!/usr/bin/env bash
# ThreadSanitizer on the units that do not run gRPC: routing, metrics and the rollout
# engine (with its controller, on a fake clock). Debian's gRPC, Abseil and protobuf are not
# built with TSan, so tests that run gRPC's own threads are left out: TSan cannot see
# their synchronisation. Not part of CI (a third build); run by hand:
#   bash scripts/tsan.sh
set -euo pipefail
export BUILD_DIR="${TSAN_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build-tsan}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

install_deps "${TEST_PACKAGES[@]}"
echo "== configuring $BUILD_DIR (clang, -fsanitize=thread)"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None \
  "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" -DROLLOUT_SANITIZE=thread -DROLLOUT_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target routing_test metrics_test control_test
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
"$BUILD_DIR/tests/routing_test"
"$BUILD_DIR/tests/metrics_test"
"$BUILD_DIR/tests/control_test" --gtest_filter='RolloutEngine*:Controller*:ConfigLoader*'
echo "tsan: no report"
