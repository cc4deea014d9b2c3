# Shared by bench/compare.sh and bench/rss_soak.sh: the echo backends and the proxy they
# measure. Source after scripts/lib.sh and with_work_dir.

# exec_on_cpu CPU COMMAND...: replaces the shell with COMMAND, pinned to CPU with taskset (or
# unpinned when CPU is empty). Only in the background (`exec_on_cpu ... &`), where the
# shell it replaces is the background subshell, so that $! is COMMAND's own pid.
exec_on_cpu() {
  local cpu=$1; shift
  if [ -n "$cpu" ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

# cpu_ticks PID...: the CPU time (utime + stime, clock ticks) the given processes used so far.
cpu_ticks() {
  local total=0
  for p in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

# start_echo_backends [CPU]: two rollout-bench-server echo backends, v1 and v2; sets V1, V2.
start_echo_backends() {
  local cpu=${1:-}
  V1=$(free_port); V2=$(free_port)
  exec_on_cpu "$cpu" "$BUILD_DIR/bench/rollout-bench-server" --port "$V1" --name v1 > "$WORK/v1.log" 2>&1 &
  PIDS+=($!)
  exec_on_cpu "$cpu" "$BUILD_DIR/bench/rollout-bench-server" --port "$V2" --name v2 > "$WORK/v2.log" 2>&1 &
  PIDS+=($!)
  wait_port "$V1"; wait_port "$V2"
}

# start_bench_proxy NAME [CPU]: rollout-proxy (its files named NAME) in front of V1 and V2, as
# measured: one worker, the 90/10 split, metrics on (as in production). Sets PROXY_PORT and
# PROXY_PID_OUT.
# BENCH_PROXY_EXTRA: more top-level config lines (such as a tls: section);
# BENCH_PROXY_WORKERS: the worker count (default 1).
# BENCH_PROXY_SPLIT: the route's split instead of 90/10 (a YAML flow list).
start_bench_proxy() {
  local plane=$1 cpu=${2:-} port; port=$(free_port)
  local split=${BENCH_PROXY_SPLIT:-'[ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]'}
  cat > "$WORK/proxy-$plane.yaml" <<YAML
listen: 127.0.0.1:$port
workers: ${BENCH_PROXY_WORKERS:-1}
metrics: { listen: 127.0.0.1:0 }
${BENCH_PROXY_EXTRA:-}
pools:
  - { name: v1, endpoints: ["127.0.0.1:$V1"] }
  - { name: v2, endpoints: ["127.0.0.1:$V2"] }
routes:
  - name: all
    split: $split
YAML
  exec_on_cpu "$cpu" "$BUILD_DIR/cmd/rollout-proxy" --config "$WORK/proxy-$plane.yaml" \
    > "$WORK/proxy-$plane.log" 2>&1 &
  PROXY_PID_OUT=$!; PIDS+=($PROXY_PID_OUT)
  PROXY_PORT=$port
  wait_port "$port"
}

# start_tcp_relay [CPU]: the floor, haproxy in `mode tcp` relaying bytes to V1 with no HTTP/2
# work at all: what one more hop costs on this machine (two more wakeups per round trip)
# without a proxy's work. Sets TCP_RELAY (its port) and TCP_RELAY_PID.
start_tcp_relay() {
  local cpu=${1:-}
  TCP_RELAY=$(free_port)
  cat > "$WORK/tcp-relay.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend relay
  bind 127.0.0.1:$TCP_RELAY
  default_backend v1
backend v1
  server v1 127.0.0.1:$V1
CONF
  exec_on_cpu "$cpu" haproxy -db -f "$WORK/tcp-relay.cfg" > "$WORK/tcp-relay.log" 2>&1 &
  TCP_RELAY_PID=$!; PIDS+=($TCP_RELAY_PID)
  wait_port "$TCP_RELAY"
}

# run_variant MODE C M [PAYLOAD] -> "rps p50_us p99_us cpu_us_per_call": rollout-bench against
# the proxy PORT[MODE] (pid PID[MODE]) from LOAD_CPU, with PAYLOAD-byte messages (100 by
# default); CPU is that proxy's own.
run_variant() {
  local mode=$1 c=$2 m=$3 payload=${4:-100} before after json
  before=$(cpu_ticks "${PID[$mode]}")
  json=$(taskset -c $LOAD_CPU "$BENCH" --target "127.0.0.1:${PORT[$mode]}" -c "$c" -m "$m" \
         --payload "$payload" --duration "${SECONDS_PER_RUN}s" --warmup 1s --json)
  after=$(cpu_ticks "${PID[$mode]}")
  python3 - "$json" $((after - before)) "$SECONDS_PER_RUN" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); ticks = int(sys.argv[2]); s = float(sys.argv[3])
calls = r["calls"]
cpu = ticks * 10000 / (calls * (s + 1) / s) if calls else 0
print("%.0f %.1f %.1f %.2f" % (r["rps"], r["latency_seconds"]["p50"] * 1e6,
      r["latency_seconds"]["p99"] * 1e6, cpu))
PY
}

# median MODE LOAD FIELD over the ROUNDS of R[MODE,LOAD,ROUND]; spread: "median (min..max)"
median() {
  local mode=$1 load=$2 field=$3
  for round in $(seq 1 "$ROUNDS"); do echo "${R[$mode,$load,$round]}" | cut -d' ' -f"$field"; done |
    sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
spread() {
  local mode=$1 load=$2 field=$3
  for round in $(seq 1 "$ROUNDS"); do echo "${R[$mode,$load,$round]}" | cut -d' ' -f"$field"; done |
    sort -n | awk '{a[NR]=$1} END {printf "%s (%s..%s)", a[int((NR+1)/2)], a[1], a[NR]}'
}
