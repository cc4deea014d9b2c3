#!/usr/bin/env bash
# A mixed, realistic load through rollout-proxy (issue 21): an open loop of RATE calls per
# second, 90% small unary ModelInfer calls and 10% ModelStreamInfer streams of 100
# messages, against the same echo backends, in four modes side by side:
#   direct      straight to the v1 backend, no proxy (the baseline);
#   plain       the 90/10 split, nothing else;
#   rollout     a canary rollout v1 -> v2 running through the whole measurement (declared
#               in the config: ten steps of 5%, one every 5 s, analysed on live metrics);
#   access-log  the plain config with the access log on for every call (sample 1, JSON).
# The servers (backends and proxies) share CPU 1, the load generator runs alone on CPU 0.
# Reports the unary calls' latency percentiles and the stream messages' round trips.
#
#   bash bench/mixed_load.sh            # after a build with -DROLLOUT_BUILD_BENCH=ON
#   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_RATE=1000 bash bench/mixed_load.sh   # the defaults
# Writes bench/RESULTS-mixed.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
RATE="${BENCH_RATE:-1000}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS-mixed.md}"
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0
MODES=(direct plain rollout access-log)
ROLLOUT="rollouts:
  - { route: all, strategy: canary, stable: v1, candidate: v2,
      steps: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50], interval: 5s, min_requests: 50,
      max_error_rate: 0.05 }"

start_echo_backends $SERVER_CPU

# run MODE -> "unary_rps p50 p90 p99 p999 stream_msgs_per_s s_p50 s_p99 streams failed late cpu_pct"
run() {
  local mode=$1 before after json
  before=$(cpu_ticks "$PROXY_PID_OUT")
  json=$(taskset -c $LOAD_CPU "$BENCH" --target "127.0.0.1:$TARGET_PORT" --rate "$RATE" \
         --stream-share 0.1 --stream-messages 100 --model resnet \
         --stream-method /inference.GRPCInferenceService/ModelStreamInfer -c 4 --threads 2 \
         --payload 100 --duration "${SECONDS_PER_RUN}s" --warmup 1s --json)
  after=$(cpu_ticks "$PROXY_PID_OUT")
  echo "$json" >> "$WORK/bench-$mode.log"
  python3 - "$json" $((after - before)) "$SECONDS_PER_RUN" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); ticks = int(sys.argv[2]); s = float(sys.argv[3])
l = r["latency_seconds"]; st = r.get("streams", {"ended": 0, "messages": 0, "latency_seconds": {}})
sl = st["latency_seconds"]
ok = r["codes"].get("OK", 0); failed = sum(v for k, v in r["codes"].items() if k != "OK")
cpu_pct = ticks / (s + 1)  # clock ticks are 10 ms: ticks per second = percent of a core
print("%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %d %d %d %.0f" % (
    r["rps"], l["p50"] * 1e6, l["p90"] * 1e6, l["p99"] * 1e6, l["p999"] * 1e6,
    st["messages"] / s, sl.get("p50", 0) * 1e6, sl.get("p99", 0) * 1e6, st["ended"], failed,
    r["late"], cpu_pct))
PY
}

declare -A R
ROLLOUT_STATE="(not read)"
for mode in "${MODES[@]}"; do
  if [ "$mode" = direct ]; then
    PROXY_PID_OUT=${PIDS[0]}; TARGET_PORT=$V1  # the CPU column is then the backend's
    for round in $(seq 1 "$ROUNDS"); do
      R[$mode,$round]=$(run "$mode")
      echo "$mode round $round: ${R[$mode,$round]}"
    done
    continue
  fi
  case $mode in
    plain) BENCH_PROXY_EXTRA="" ;;
    rollout) BENCH_PROXY_EXTRA="$ROLLOUT" ;;
    access-log) BENCH_PROXY_EXTRA="access_log: { path: $WORK/access.log, sample: 1 }" ;;
  esac
  BENCH_PROXY_EXTRA=$BENCH_PROXY_EXTRA start_bench_proxy "$mode" $SERVER_CPU
  TARGET_PORT=$PROXY_PORT
  for round in $(seq 1 "$ROUNDS"); do
    R[$mode,$round]=$(run "$mode")
    echo "$mode round $round: ${R[$mode,$round]}"
  done
  if [ "$mode" = rollout ]; then  # where the canary got to: it must still be progressing
    metrics=$(grep -oE '127\.0\.0\.1:[0-9]+/metrics' "$WORK/proxy-$mode.log" | head -1)
    ROLLOUT_STATE=$(curl -s "http://$metrics" | awk '
      /^rollout_proxy_rollout_step\{/ { step = $2 }
      /^rollout_proxy_rollout_phase\{/ && $2 == 1 { match($0, /phase="[a-z_]+"/); phase = substr($0, RSTART + 7, RLENGTH - 8) }
      END { printf "step %s of 10, phase %s", step, phase }')
  fi
  kill "$PROXY_PID_OUT"; wait "$PROXY_PID_OUT" 2> /dev/null || true
done

median() {  # MODE FIELD
  for round in $(seq 1 "$ROUNDS"); do echo "${R[$1,$round]}" | cut -d' ' -f"$2"; done |
    sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
total() {  # MODE FIELD
  for round in $(seq 1 "$ROUNDS"); do echo "${R[$1,$round]}" | cut -d' ' -f"$2"; done |
    awk '{t += $1} END {print t}'
}
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
{
  echo "# A mixed load: 90% unary ModelInfer, 10% streams of 100 messages"
  echo
  echo "Measured by \`bash bench/mixed_load.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD),"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))."
  echo "An open loop of $RATE calls/s (so $((RATE * 9 / 10)) unary calls/s and $((RATE / 10)) streams/s of 100 round"
  echo "trips each: about $((RATE * 10)) stream messages/s), 100-byte KServe ModelInferRequests for model"
  echo "\`resnet\`, through one rollout-proxy worker with the 90/10 split to two echo backends. Proxy"
  echo "and backends share CPU 1, rollout-bench runs on CPU 0. Unary latency counts from each call's"
  echo "due time (no coordinated omission). Median of $ROUNDS runs of ${SECONDS_PER_RUN} s, after 1 s of warm-up each."
  echo
  echo "| mode | unary calls/s | unary p50 / p90 / p99 / p99.9 µs | stream msgs/s | stream msg p50 / p99 µs | streams ended | failed | late sends | proxy CPU % of a core |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for mode in "${MODES[@]}"; do
    echo "| $mode | $(median "$mode" 1) | $(median "$mode" 2) / $(median "$mode" 3) / $(median "$mode" 4) / $(median "$mode" 5) | $(median "$mode" 6) | $(median "$mode" 7) / $(median "$mode" 8) | $(total "$mode" 9) | $(total "$mode" 10) | $(total "$mode" 11) | $(median "$mode" 12) |"
  done
  echo
  echo "At the end of its runs the rollout mode's canary was at $ROLLOUT_STATE (read from"
  echo "\`rollout_proxy_rollout_step\` and \`rollout_proxy_rollout_phase\`). The direct row's CPU is the backend's;"
  echo "the access-log mode wrote $(lines "$WORK/access.log") lines ($(du -h "$WORK/access.log" 2>/dev/null | cut -f1))."
  echo "\"late sends\" are calls the load generator sent more than 1 ms after they were due (its own"
  echo "lag, counted so that a saturated generator shows). Each round's unary p99.9 and late sends,"
  echo "to tell a tail of the proxy's from one of the generator's (CPU 0 also runs kernel threads,"
  echo "such as the writeback of the access log's file):"
  echo
  for mode in "${MODES[@]}"; do
    echo "- $mode: $(for round in $(seq 1 "$ROUNDS"); do echo "${R[$mode,$round]}" | awk '{printf "%s µs (%s late); ", $5, $11}'; done | sed 's/; $//')"
  done
  echo
  echo
  echo "Each run: \`taskset -c $LOAD_CPU rollout-bench --target 127.0.0.1:PORT --rate $RATE --stream-share 0.1"
  echo "--stream-messages 100 --model resnet --stream-method /inference.GRPCInferenceService/ModelStreamInfer"
  echo "-c 4 --threads 2 --payload 100 --duration ${SECONDS_PER_RUN}s --warmup 1s --json\`."
} > "$OUT"
cat "$OUT"
