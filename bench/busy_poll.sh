#!/usr/bin/env bash
# What busy_poll buys and costs, side by side in one run: three rollout-proxy processes in
# front of the same echo backends, with busy_poll 0s (the default), 50us and 200us. The
# servers (backends and proxies) share CPU 1, the load generator runs alone on CPU 0, and the
# modes alternate within each round. At c1×m1 a spinning worker skips the sleep and wakeup of
# each turn; the price is CPU: it spins up to busy_poll after every turn that had work.
#
#   bash bench/busy_poll.sh            # after a build with -DROLLOUT_BUILD_BENCH=ON
#   BENCH_SECONDS=5 BENCH_ROUNDS=3 bash bench/busy_poll.sh   # the defaults
# Writes bench/RESULTS-busy-poll.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS-busy-poll.md}"
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0
MODES=(0s 50us 200us)

start_echo_backends $SERVER_CPU
declare -A PORT PID R
for mode in "${MODES[@]}"; do
  BENCH_PROXY_EXTRA="busy_poll: $mode" start_bench_proxy "busy-$mode" $SERVER_CPU
  PORT[$mode]=$PROXY_PORT; PID[$mode]=$PROXY_PID_OUT
done
for round in $(seq 1 "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    R[$mode,hi,$round]=$(run_variant "$mode" 8 16)
    R[$mode,lo,$round]=$(run_variant "$mode" 1 1)
    echo "round $round busy_poll $mode: c8xm16 ${R[$mode,hi,$round]} | c1xm1 ${R[$mode,lo,$round]}"
  done
done
{
  echo "# What busy_poll buys and costs"
  echo
  echo "Measured by \`bash bench/busy_poll.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD),"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')). One worker per proxy;"
  echo "the proxies and the echo backends share CPU 1, rollout-bench runs on CPU 0; 100-byte unary"
  echo "calls; the median of $ROUNDS rounds of ${SECONDS_PER_RUN} s, the modes alternating in each round."
  echo "CPU/call is the proxy process's own CPU (user + system), spinning included."
  echo
  echo "| busy_poll | c8×m16 calls/s, median (min..max) | CPU/call µs | c1×m1 p50 / p99 µs | c1×m1 calls/s | CPU/call at c1×m1 µs |"
  echo "|---|---|---|---|---|---|"
  for mode in "${MODES[@]}"; do
    echo "| $mode | $(spread "$mode" hi 1) | $(spread "$mode" hi 4) | $(median "$mode" lo 2) / $(median "$mode" lo 3) | $(median "$mode" lo 1) | $(spread "$mode" lo 4) |"
  done
  echo
  echo "Each run: \`taskset -c $LOAD_CPU rollout-bench --target 127.0.0.1:PORT -c 8 -m 16 --payload 100"
  echo "--duration ${SECONDS_PER_RUN}s --warmup 1s --json\`, and the same with \`-c 1 -m 1\`."
} > "$OUT"
cat "$OUT"
