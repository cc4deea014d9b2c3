#!/bin/bash
# What one hop adds, and where: direct to v1, through the tcp relay (compare.sh's floor),
# through rollout-proxy to v1 alone (the relay's path, with HTTP/2 work) and through
# rollout-proxy splitting 90/10 over v1 and v2 (compare.sh's row). Servers on CPU 1,
# rollout-bench alone on CPU 0, as in compare.sh. For each run: the p50, voluntary context
# switches per call, and CPU per call (user and system apart) of the middle process, the
# backends and the client. Then the same at 1 MiB messages, per MiB carried both ways. The
# figures are in bench/PROFILE.md. Run after a build (BUILD_DIR, default build/):
#   bash bench/hop_cost.sh        # BENCH_SECONDS=4 BENCH_ROUNDS=2
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
BENCH_PROXY_SPLIT='[ { pool: v1, weight: 100 } ]' start_bench_proxy one-pool $SERVER_CPU
ONE_POOL_PORT=$PROXY_PORT ONE_POOL_PID=$PROXY_PID_OUT
start_bench_proxy split $SERVER_CPU

# proc_stats PID...: "user_ticks system_ticks voluntary_switches" of PID... so far.
proc_stats() {
  local user=0 sys=0 vcs=0 p f
  for p in "$@"; do
    read -r u s < <(awk '{print $14, $15}' "/proc/$p/stat")
    user=$((user + u)); sys=$((sys + s))
    for f in /proc/"$p"/task/*/status; do
      vcs=$((vcs + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$f")))
    done
  done
  echo "$user $sys $vcs"
}

declare -A PORT_OF=([direct]=$V1 [relay]=$TCP_RELAY [one-pool]=$ONE_POOL_PORT [split]=$PROXY_PORT)
declare -A MIDDLE_OF=([direct]="" [relay]=$TCP_RELAY_PID [one-pool]=$ONE_POOL_PID
                      [split]=$PROXY_PID_OUT)
# measure TARGET M PAYLOAD: one rollout-bench run at c1×M; prints its line.
measure() {
  local target=$1 m=$2 payload=$3 middle=${MIDDLE_OF[$1]} b0 m0 b1 m1 out
  b0=$(proc_stats "${BACKENDS[@]}"); m0=$(proc_stats $middle)
  # The client's own CPU and switches: getrusage of the waited child.
  out=$(python3 - "$BUILD_DIR/bench/rollout-bench" "${PORT_OF[$target]}" "$m" "$payload" \
          "$SECONDS_PER_RUN" "$LOAD_CPU" <<'PY'
import json, resource, subprocess, sys
bench, port, m, payload, secs, cpu = sys.argv[1:]
r = subprocess.run(["taskset", "-c", cpu, bench, "--target", "127.0.0.1:" + port, "-c", "1",
                    "-m", m, "--payload", payload, "--duration", secs + "s", "--warmup", "1s",
                    "--json"], check=True, capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
j = json.loads(r.stdout)
print(j["calls"], j["latency_seconds"]["p50"] * 1e6, u.ru_utime + u.ru_stime, u.ru_nvcsw)
PY
)
  b1=$(proc_stats "${BACKENDS[@]}"); m1=$(proc_stats $middle)
  python3 - "$target" "$payload" "$SECONDS_PER_RUN" "$out" "$b0" "$b1" "$m0" "$m1" <<'PY'
import sys
target, payload, secs, out, b0, b1, m0, m1 = sys.argv[1:]
calls, p50, client_cpu, client_vcs = out.split()
s = float(secs)
# /proc counts span the warm-up too: scale the measured calls to the whole run.
calls = float(calls) * (s + 1) / s
d = lambda a, b: [int(y) - int(x) for x, y in zip(a.split() or [0, 0, 0], b.split() or [0, 0, 0])]
back, mid = d(b0, b1), d(m0, m1)
tick_us = 1e6 / 100
if payload == "100":
    per = lambda ticks: ticks * tick_us / calls
    print("%-8s p50 %6.1f us | switches/call: middle %.2f, backends %.2f, client %.2f | "
          "CPU/call us: middle %.1f user + %.1f sys, backends %.1f, client %.1f" % (
          target, float(p50), mid[2] / calls, back[2] / calls, int(client_vcs) / calls,
          per(mid[0]), per(mid[1]), per(back[0] + back[1]), float(client_cpu) * 1e6 / calls))
else:
    mib = calls * 2 * int(payload) / 1048576  # echoed: both ways
    per = lambda ticks: ticks * tick_us / mib
    print("%-8s 1 MiB p50 %5.2f ms | CPU/MiB us: middle %.0f user + %.0f sys, backends %.0f" % (
          target, float(p50) / 1000, per(mid[0]), per(mid[1]), per(back[0] + back[1])))
PY
}

for round in $(seq 1 "$ROUNDS"); do
  for target in direct relay one-pool split; do measure "$target" 1 100; done
done
for round in $(seq 1 "$ROUNDS"); do
  for target in direct relay one-pool; do measure "$target" 2 1048576; done
done
