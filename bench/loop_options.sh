#!/usr/bin/env bash
# What the worker loop's options buy and cost, side by side in one run: one rollout-proxy
# process per option set, in front of the same echo backends:
#  - the defaults (one sendmsg per connection per turn, sleeping in epoll_wait);
#  - busy_poll 50us and 200us: after a turn with work, spin on epoll that long before sleeping,
#    which skips the sleep and wakeup of each turn at c1×m1, for CPU;
# (The io_uring trial of issue 21 ran here too; it did not win and was removed: PROFILE.md.)
# The servers (backends and proxies) share CPU 1, the load generator runs alone on CPU 0, and
# the option sets alternate within each round.
#
#   bash bench/loop_options.sh            # after a build with -DROLLOUT_BUILD_BENCH=ON
#   BENCH_SECONDS=5 BENCH_ROUNDS=3 bash bench/loop_options.sh   # the defaults
# Writes bench/RESULTS-loop-options.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS-loop-options.md}"
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0
MODES=(default poll50 poll200)
declare -A CONFIG=([default]="" [poll50]="busy_poll: 50us" [poll200]="busy_poll: 200us")
declare -A LABEL=([default]="defaults" [poll50]="busy_poll 50us" [poll200]="busy_poll 200us")

start_echo_backends $SERVER_CPU
declare -A PORT PID R
for mode in "${MODES[@]}"; do
  BENCH_PROXY_EXTRA="${CONFIG[$mode]}" start_bench_proxy "loop-$mode" $SERVER_CPU
  PORT[$mode]=$PROXY_PORT; PID[$mode]=$PROXY_PID_OUT
done
for round in $(seq 1 "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    R[$mode,hi,$round]=$(run_variant "$mode" 8 16)
    R[$mode,lo,$round]=$(run_variant "$mode" 1 1)
    R[$mode,mib,$round]=$(run_variant "$mode" 1 2 1048576)
    echo "round $round ${LABEL[$mode]}: c8xm16 ${R[$mode,hi,$round]} | c1xm1 ${R[$mode,lo,$round]} | 1MiB ${R[$mode,mib,$round]}"
  done
done
{
  echo "# What the worker loop's options buy and cost"
  echo
  echo "Measured by \`bash bench/loop_options.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD),"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr). One worker"
  echo "per proxy; the proxies and the echo backends share CPU 1, rollout-bench runs on CPU 0;"
  echo "the median of $ROUNDS rounds of ${SECONDS_PER_RUN} s, the option sets alternating in each round."
  echo "CPU/call is the proxy process's own CPU (user + system), spinning included; CPU/MiB is"
  echo "per MiB carried, both ways (a 1 MiB call carries 2 MiB through the proxy)."
  echo
  echo "| options | c8×m16 calls/s, median (min..max) | CPU/call µs | c1×m1 p50 / p99 µs | CPU/call at c1×m1 µs | 1 MiB calls/s | CPU/MiB µs |"
  echo "|---|---|---|---|---|---|---|"
  for mode in "${MODES[@]}"; do
    mib_cpu=$(awk -v v="$(median "$mode" mib 4)" 'BEGIN{printf "%.0f", v/2}')
    echo "| ${LABEL[$mode]} | $(spread "$mode" hi 1) | $(spread "$mode" hi 4) | $(median "$mode" lo 2) / $(median "$mode" lo 3) | $(spread "$mode" lo 4) | $(median "$mode" mib 1) | $mib_cpu |"
  done
  echo
  echo "Each run: \`taskset -c $LOAD_CPU rollout-bench --target 127.0.0.1:PORT -c 8 -m 16 --payload 100"
  echo "--duration ${SECONDS_PER_RUN}s --warmup 1s --json\`, the same with \`-c 1 -m 1\`, and with"
  echo "\`-c 1 -m 2 --payload 1048576\`."
} > "$OUT"
cat "$OUT"
