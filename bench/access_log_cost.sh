#!/usr/bin/env bash
# What the access log costs, measured side by side in one run: three rollout-proxy
# processes in front of the same echo backends, one without an access log, one with
# `sample: 0.01` and one with `sample: 1` (every call: the worst case), each writing JSON to
# a file on this machine's disk. The servers (backends and proxies) share CPU 1, the load
# generator runs alone on CPU 0, and the modes alternate within each round.
#
#   bash bench/access_log_cost.sh            # after a build with -DROLLOUT_BUILD_BENCH=ON
#   BENCH_SECONDS=5 BENCH_ROUNDS=3 bash bench/access_log_cost.sh   # the defaults
# Writes bench/RESULTS-access-log.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS-access-log.md}"
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0
MODES=(off sample-0.01 sample-1)

start_echo_backends $SERVER_CPU
declare -A PORT PID
for mode in "${MODES[@]}"; do
  case $mode in
    off) BENCH_PROXY_EXTRA="" ;;
    sample-0.01) BENCH_PROXY_EXTRA="access_log: { path: $WORK/access-0.01.log, sample: 0.01 }" ;;
    sample-1) BENCH_PROXY_EXTRA="access_log: { path: $WORK/access-1.log, sample: 1 }" ;;
  esac
  BENCH_PROXY_EXTRA=$BENCH_PROXY_EXTRA start_bench_proxy "$mode" $SERVER_CPU
  PORT[$mode]=$PROXY_PORT; PID[$mode]=$PROXY_PID_OUT
done

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    R[$mode,hi,$round]=$(run_variant "$mode" 8 16)
    R[$mode,lo,$round]=$(run_variant "$mode" 1 1)
    echo "round $round $mode: c8xm16 ${R[$mode,hi,$round]} | c1xm1 ${R[$mode,lo,$round]}"
  done
done

lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
{
  echo "# What the access log costs"
  echo
  echo "Measured by \`bash bench/access_log_cost.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')). One worker per proxy;"
  echo "the proxies and the echo backends share CPU 1, rollout-bench runs on CPU 0; 100-byte"
  echo "unary calls; the median of $ROUNDS rounds of ${SECONDS_PER_RUN} s, the modes alternating in each round."
  echo "CPU/call is the proxy process's own CPU (user + system, its writer thread included)."
  echo
  echo "| access log | c8×m16 calls/s, median (min..max) | CPU/call µs | c1×m1 p50 / p99 µs | CPU/call at c1×m1 µs |"
  echo "|---|---|---|---|---|"
  for mode in "${MODES[@]}"; do
    echo "| $mode | $(spread "$mode" hi 1) | $(spread "$mode" hi 4) | $(median "$mode" lo 2) / $(median "$mode" lo 3) | $(spread "$mode" lo 4) |"
  done
  echo
  off=$(median off hi 4); one=$(median sample-1 hi 4); hundredth=$(median sample-0.01 hi 4)
  echo "Against no log, CPU per call at c8×m16: sample 0.01 $(python3 -c "print(f'{$hundredth/$off:.3f}')")×,"
  echo "sample 1 $(python3 -c "print(f'{$one/$off:.3f}')")×. The sample-1 proxy wrote $(lines "$WORK/access-1.log") lines"
  echo "($(du -h "$WORK/access-1.log" 2>/dev/null | cut -f1)), the sample-0.01 one $(lines "$WORK/access-0.01.log")."
  echo
  echo "Each run: \`taskset -c $LOAD_CPU rollout-bench --target 127.0.0.1:PORT -c 8 -m 16 --payload 100"
  echo "--duration ${SECONDS_PER_RUN}s --warmup 1s --json\`, and the same with \`-c 1 -m 1\`."
} > "$OUT"
cat "$OUT"
