#!/bin/bash
# Context switches per call at c1×m1: direct to v1, through the tcp relay (the floor of
# compare.sh) and through rollout-proxy (its bench setup, 90/10 over v1 and v2). Servers on
# CPU 1, rollout-bench alone on CPU 0, as in compare.sh. Prints one line per run; the figures
# are in bench/PROFILE.md. Run after a build (BUILD_DIR, default build/):
#   bash bench/wakeups.sh        # BENCH_SECONDS=4 BENCH_ROUNDS=2
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-4}"
ROUNDS="${BENCH_ROUNDS:-2}"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0

start_echo_backends $SERVER_CPU
BACKENDS=("${PIDS[@]}")
start_tcp_relay $SERVER_CPU
start_bench_proxy rollout $SERVER_CPU

# voluntary_switches PID...: the voluntary context switches of every thread of PID... so far.
voluntary_switches() {
  local total=0 f
  for p in "$@"; do
    for f in /proc/"$p"/task/*/status; do
      total=$((total + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$f")))
    done
  done
  echo "$total"
}

declare -A PORT_OF=([direct]=$V1 [relay]=$TCP_RELAY [proxy]=$PROXY_PORT)
declare -A MIDDLE_OF=([direct]="" [relay]=$TCP_RELAY_PID [proxy]=$PROXY_PID_OUT)
for round in $(seq 1 "$ROUNDS"); do
  for target in direct relay proxy; do
    middle=${MIDDLE_OF[$target]}
    b0=$(voluntary_switches "${BACKENDS[@]}"); m0=$(voluntary_switches $middle)
    json=$(taskset -c $LOAD_CPU "$BUILD_DIR/bench/rollout-bench" --target "127.0.0.1:${PORT_OF[$target]}" \
           -c 1 -m 1 --duration "${SECONDS_PER_RUN}s" --warmup 1s --json)
    b1=$(voluntary_switches "${BACKENDS[@]}"); m1=$(voluntary_switches $middle)
    # The switch counts span the warm-up too: scale the measured calls to the whole run.
    python3 - "$json" "$target" $((b1 - b0)) $((m1 - m0)) "$SECONDS_PER_RUN" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); s = float(sys.argv[5])
calls = r["calls"] * (s + 1) / s
print("%-6s p50 %6.1f us  switches per call: middle %.2f, backends %.2f" % (
    sys.argv[2], r["latency_seconds"]["p50"] * 1e6, int(sys.argv[4]) / calls,
    int(sys.argv[3]) / calls))
PY
  done
done
