#!/usr/bin/env bash
# Side by side, on this machine, in one run: the same echo backends reached directly, through
# rollout-proxy, through nginx (grpc_pass, split_clients 90/10), haproxy (h2, weights 90/10),
# nghttpx (nghttp2's own proxy, h2 both ways, weights 90/10) and Caddy 2 (h2c both ways,
# round robin over 9 × v1 and 1 × v2); then TLS on the listener for rollout-proxy, haproxy
# and nghttpx. Every peer gets one worker,
# and the servers (backends and proxy) share CPU 1 while the load generator runs alone on
# CPU 0 (taskset). Two load generators: h2load (nghttp2) and rollout-bench. Several
# rounds each; the table shows the median and the spread (min..max). Writes bench/RESULTS.md.
#
# Run as root on Debian 12:  bash bench/compare.sh
#   BENCH_SECONDS=5 BENCH_ROUNDS=3 bash bench/compare.sh    # the defaults
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
PACKAGES+=(nginx-light haproxy nghttp2-client nghttp2-proxy caddy openssl python3)
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS.md}"
if [ -z "${SKIP_SETUP:-}" ]; then
  install_deps
  build -DROLLOUT_BUILD_TESTS=OFF -DROLLOUT_BUILD_BENCH=ON
fi
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir
SERVER_CPU=1
LOAD_CPU=0

start_echo_backends $SERVER_CPU
start_bench_proxy rollout $SERVER_CPU; PROXY_H2=$PROXY_PORT; PROXY_H2_PID=$PROXY_PID_OUT
# The same with busy_poll (bench/loop_options.sh): fewer sleeps per call, for CPU.
BENCH_PROXY_EXTRA="busy_poll: 50us" start_bench_proxy rollout-bp $SERVER_CPU
PROXY_BP=$PROXY_PORT; PROXY_BP_PID=$PROXY_PID_OUT

# One self-signed certificate for every TLS listener.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2> /dev/null
cat "$WORK/tls.crt" "$WORK/tls.key" > "$WORK/tls.pem"
BENCH_PROXY_EXTRA="tls: { cert_file: $WORK/tls.crt, key_file: $WORK/tls.key }" \
  start_bench_proxy rollout-tls $SERVER_CPU
PROXY_TLS=$PROXY_PORT; PROXY_TLS_PID=$PROXY_PID_OUT

# nginx at its best for gRPC: upstream keepalive above the concurrency, and keepalive_requests
# raised on both sides (its defaults of 1000 requests per connection make it reconnect).
NGINX=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  upstream v1 { server 127.0.0.1:$V1; keepalive 256; keepalive_requests 100000000; }
  upstream v2 { server 127.0.0.1:$V2; keepalive 256; keepalive_requests 100000000; }
  split_clients "\${request_id}" \$pool { 90% v1; * v2; }
  server {
    listen 127.0.0.1:$NGINX http2;
    keepalive_requests 100000000;
    http2_max_concurrent_streams 1024;
    client_max_body_size 0;  # the 1 MiB run: its default of 1m refuses those with 413
    location / { grpc_pass grpc://\$pool; }
  }
}
CONF
taskset -c $SERVER_CPU nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!; PIDS+=($NGINX_PID)
wait_port "$NGINX"
NGINX_PIDS=("$NGINX_PID" $(pgrep -P "$NGINX_PID"))

# haproxy: one thread, HTTP/2 both sides, weights 90/10.
HAPROXY=$(free_port)
cat > "$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend grpc
  bind 127.0.0.1:$HAPROXY proto h2
  default_backend versions
backend versions
  balance roundrobin
  server v1 127.0.0.1:$V1 proto h2 weight 90
  server v2 127.0.0.1:$V2 proto h2 weight 10
CONF
taskset -c $SERVER_CPU haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)
wait_port "$HAPROXY"

# The floor (bench_lib.sh): haproxy relaying bytes to v1, no HTTP/2 work.
start_tcp_relay $SERVER_CPU

# haproxy with TLS on its listener (ALPN h2), otherwise the same.
HAPROXY_TLS=$(free_port)
sed -e "s|bind 127.0.0.1:$HAPROXY proto h2|bind 127.0.0.1:$HAPROXY_TLS ssl crt $WORK/tls.pem alpn h2|" \
  "$WORK/haproxy.cfg" > "$WORK/haproxy-tls.cfg"
taskset -c $SERVER_CPU haproxy -db -f "$WORK/haproxy-tls.cfg" > "$WORK/haproxy-tls.log" 2>&1 &
HAPROXY_TLS_PID=$!; PIDS+=($HAPROXY_TLS_PID)
wait_port "$HAPROXY_TLS"

# nghttpx at its best for gRPC: one worker, HTTP/2 to the backends, weights 90/10, no Via
# header, and stream windows as large as rollout-proxy's (1 MiB; 8 MiB per connection).
start_nghttpx() {  # NAME PORT FRONTEND_PARAMS [EXTRA ARGS] -> sets NGHTTPX_PID_OUT
  local name=$1 port=$2 frontend=$3; shift 3
  taskset -c $SERVER_CPU nghttpx --conf=/dev/null --workers=1 --no-via --no-ocsp \
    --frontend="127.0.0.1,$port$frontend" \
    --backend="127.0.0.1,$V1;;proto=h2;weight=90" --backend="127.0.0.1,$V2;;proto=h2;weight=10" \
    --frontend-http2-window-size=1048576 --frontend-http2-connection-window-size=8388608 \
    --backend-http2-window-size=1048576 --backend-http2-connection-window-size=8388608 \
    --errorlog-file="$WORK/$name.log" --pid-file="$WORK/$name.pid" "$@" > /dev/null 2>&1 &
  NGHTTPX_PID_OUT=$!; PIDS+=($NGHTTPX_PID_OUT)
  wait_port "$port"
}
NGHTTPX=$(free_port)
start_nghttpx nghttpx "$NGHTTPX" ";no-tls"; NGHTTPX_PID=$NGHTTPX_PID_OUT
NGHTTPX_TLS=$(free_port)
start_nghttpx nghttpx-tls "$NGHTTPX_TLS" "" "$WORK/tls.key" "$WORK/tls.crt"
NGHTTPX_TLS_PID=$NGHTTPX_PID_OUT

# Caddy 2 (Debian's 2.6, which has no weighted load balancing): h2c from clients and to the
# backends, round robin over v1 listed nine times and v2 once, one OS thread (GOMAXPROCS=1).
CADDY=$(free_port)
UPSTREAMS="$(for i in 1 2 3 4 5 6 7 8 9; do printf 'h2c://127.0.0.1:%s ' "$V1"; done)h2c://127.0.0.1:$V2"
cat > "$WORK/Caddyfile" <<CONF
{
	admin off
	auto_https off
	servers {
		protocols h1 h2 h2c
	}
}
http://127.0.0.1:$CADDY {
	bind 127.0.0.1
	reverse_proxy $UPSTREAMS {
		lb_policy round_robin
		transport http {
			versions h2c 2
		}
	}
}
CONF
GOMAXPROCS=1 taskset -c $SERVER_CPU caddy run --config "$WORK/Caddyfile" --adapter caddyfile \
  > "$WORK/caddy.log" 2>&1 &
CADDY_PID=$!; PIDS+=($CADDY_PID)
wait_port "$CADDY"

# h2load's request body: one gRPC frame (uncompressed, 100-byte message).
python3 -c 'import sys; sys.stdout.buffer.write(b"\x00\x00\x00\x00\x64" + b"x" * 100)' > "$WORK/body.bin"

TARGETS=(direct tcp-relay rollout-nghttp2 rollout-bp nginx haproxy nghttpx caddy)
TLS_TARGETS=(rollout-tls haproxy-tls nghttpx-tls)
declare -A PORT_OF=([direct]=$V1 [tcp-relay]=$TCP_RELAY [rollout-nghttp2]=$PROXY_H2 [rollout-bp]=$PROXY_BP
                    [nginx]=$NGINX [haproxy]=$HAPROXY [nghttpx]=$NGHTTPX [caddy]=$CADDY
                    [rollout-tls]=$PROXY_TLS [haproxy-tls]=$HAPROXY_TLS
                    [nghttpx-tls]=$NGHTTPX_TLS)
declare -A NAME_OF=([direct]=direct [tcp-relay]="tcp relay (floor)" [rollout-nghttp2]="rollout-proxy"
                    [rollout-bp]="rollout-proxy, busy_poll 50us"
                    [nginx]=nginx
                    [haproxy]=haproxy [nghttpx]=nghttpx [caddy]=Caddy
                    [rollout-tls]="rollout-proxy, TLS" [haproxy-tls]="haproxy, TLS"
                    [nghttpx-tls]="nghttpx, TLS")
pids_of() {
  case "$1" in
    direct) echo "${PIDS[0]}" ;;
    tcp-relay) echo "$TCP_RELAY_PID" ;;
    rollout-bp) echo "$PROXY_BP_PID" ;;
    rollout-nghttp2) echo "$PROXY_H2_PID" ;;
    nginx) echo "${NGINX_PIDS[@]}" ;;
    haproxy) echo "$HAPROXY_PID" ;;
    nghttpx) echo "$NGHTTPX_PID" $(pgrep -P "$NGHTTPX_PID") ;;
    caddy) echo "$CADDY_PID" ;;
    rollout-tls) echo "$PROXY_TLS_PID" ;;
    haproxy-tls) echo "$HAPROXY_TLS_PID" ;;
    nghttpx-tls) echo "$NGHTTPX_TLS_PID" $(pgrep -P "$NGHTTPX_TLS_PID") ;;
  esac
}

# run_h2load TARGET C M -> "rps mean_us failed cpu_us_per_call"
run_h2load() {
  local target=$1 c=$2 m=$3 port=${PORT_OF[$1]} pids
  pids=$(pids_of "$target")
  local before; before=$(cpu_ticks $pids)
  local out
  out=$(taskset -c $LOAD_CPU h2load -c "$c" -m "$m" -D "$SECONDS_PER_RUN" --warm-up-time=1 \
        -d "$WORK/body.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
        "$(case $target in *-tls) echo https ;; *) echo http ;; esac)://127.0.0.1:$port/rollout.testing.Echo/Unary" 2>&1)
  local after; after=$(cpu_ticks $pids)
  local rps mean count failed
  rps=$(echo "$out" | grep -oE 'finished in [0-9.]+s, [0-9.]+ req/s' | grep -oE '[0-9.]+ req/s' | cut -d' ' -f1)
  count=$(echo "$out" | grep -oE 'requests: [0-9]+ total, [0-9]+ started, [0-9]+ done' | grep -oE '[0-9]+ done' | cut -d' ' -f1)
  failed=$(echo "$out" | grep -oE '[0-9]+ failed' | head -1 | cut -d' ' -f1)
  mean=$(echo "$out" | awk '/time for request:/ {print $6}')  # min max mean sd
  echo "$out" >> "$WORK/h2load-$target.log"
  # The warm-up second is in the CPU time too: divide by every request done.
  local cpu_us
  cpu_us=$(awk -v t=$((after - before)) -v n="$count" -v s="$SECONDS_PER_RUN" \
           'BEGIN { printf "%.1f", (n > 0 ? t * 10000 / (n * (s + 1) / s) : 0) }')
  echo "${rps:-0} $(to_us "${mean:-0}") ${failed:-0} $cpu_us"
}
# to_us 1.23ms | 456us | 1.2s -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.1f", v * 1000 }
    else if (v ~ /us$/) { sub(/us$/, "", v); printf "%.1f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.1f", v * 1000000 }
    else printf "%s", v }'
}
# run_bench TARGET C M [PAYLOAD] -> "rps p50_us p99_us errors cpu_us_per_call v2_share"
run_bench() {
  local target=$1 c=$2 m=$3 payload=${4:-100} port=${PORT_OF[$1]} pids
  pids=$(pids_of "$target")
  local before; before=$(cpu_ticks $pids)
  local json
  json=$(taskset -c $LOAD_CPU "$BENCH" --target "127.0.0.1:$port" -c "$c" -m "$m" \
         --payload "$payload" --duration "${SECONDS_PER_RUN}s" --warmup 1s --json)
  local after; after=$(cpu_ticks $pids)
  echo "$json" >> "$WORK/bench-$target.log"
  python3 - "$json" $((after - before)) "$SECONDS_PER_RUN" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); ticks = int(sys.argv[2]); s = float(sys.argv[3])
calls = r["calls"]; ok = r["codes"].get("OK", 0)
b = r.get("backends", {}); total = sum(b.values()) or 1
cpu = ticks * 10000 / (calls * (s + 1) / s) if calls else 0
print("%.0f %.1f %.1f %d %.1f %.3f" % (r["rps"], r["latency_seconds"]["p50"] * 1e6,
      r["latency_seconds"]["p99"] * 1e6, calls - ok, cpu, b.get("v2", 0) / total))
PY
}

declare -A RESULT
for round in $(seq 1 "$ROUNDS"); do
  for target in "${TARGETS[@]}"; do
    echo "== round $round/$ROUNDS: $target"
    RESULT[$target,h2,hi,$round]=$(run_h2load "$target" 8 16)
    RESULT[$target,h2,lo,$round]=$(run_h2load "$target" 1 1)
    RESULT[$target,rb,hi,$round]=$(run_bench "$target" 8 16)
    RESULT[$target,rb,lo,$round]=$(run_bench "$target" 1 1)
    RESULT[$target,rb,mib,$round]=$(run_bench "$target" 1 2 1048576)
    echo "   h2load c8xm16: ${RESULT[$target,h2,hi,$round]}  c1xm1: ${RESULT[$target,h2,lo,$round]}"
    echo "   rollout-bench c8xm16: ${RESULT[$target,rb,hi,$round]}  c1xm1: ${RESULT[$target,rb,lo,$round]}"
    echo "   rollout-bench 1 MiB c1xm2: ${RESULT[$target,rb,mib,$round]}"
  done
  for target in "${TLS_TARGETS[@]}"; do
    echo "== round $round/$ROUNDS: $target"
    RESULT[$target,h2,hi,$round]=$(run_h2load "$target" 8 16)
    RESULT[$target,h2,lo,$round]=$(run_h2load "$target" 1 1)
    echo "   h2load c8xm16: ${RESULT[$target,h2,hi,$round]}  c1xm1: ${RESULT[$target,h2,lo,$round]}"
  done
done
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
RSS_H2_END=$(rss_kib "$PROXY_H2_PID")

# stat TARGET KEY FIELD -> "median [min..max]" over the rounds
stat() {
  local values=()
  for round in $(seq 1 "$ROUNDS"); do
    values+=("$(echo "${RESULT[$1,$2,$round]}" | cut -d' ' -f"$3")")
  done
  printf '%s\n' "${values[@]}" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (v[NR] >= 100) printf "%.0f [%.0f..%.0f]", m, v[1], v[NR]
    else printf "%.1f [%.1f..%.1f]", m, v[1], v[NR] }'
}
median() { stat "$@" | cut -d' ' -f1; }

{
  echo "# Side-by-side proxy benchmark"
  echo
  echo "Written by \`bench/compare.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)."
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)."
  echo "Peers: $(nginx -v 2>&1 | cut -d: -f2 | xargs), $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nghttpx --version | head -1), Caddy $(caddy version | cut -d' ' -f1), $(h2load --version | head -1)."
  echo
  echo "Setup: two rollout-bench-server echo backends (v1, v2). Every proxy has one worker and"
  echo "splits 90/10; backends and proxy share CPU $SERVER_CPU, the load generator runs alone on"
  echo "CPU $LOAD_CPU (taskset). Unary calls with a 100-byte message. ${SECONDS_PER_RUN} s measured per"
  echo "run after 1 s of warm-up, $ROUNDS rounds; each cell is the median [min..max] of the rounds."
  echo "\"CPU/call\" is the proxy's own CPU time (utime+stime from /proc) over the calls it"
  echo "carried in the h2load run, in µs; for \"direct\" it is the backend's."
  echo
  echo "| target | h2load c8×m16 rps | CPU/call µs | h2load c1×m1 mean µs | CPU/call at c1×m1 µs | rollout-bench c8×m16 rps | rollout-bench c1×m1 p50 / p99 µs | v2 share | failed calls |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for target in "${TARGETS[@]}"; do
    failed=0
    for round in $(seq 1 "$ROUNDS"); do
      for k in h2,hi h2,lo; do failed=$((failed + $(echo "${RESULT[$target,$k,$round]}" | cut -d' ' -f3))); done
      for k in rb,hi rb,lo rb,mib; do failed=$((failed + $(echo "${RESULT[$target,$k,$round]}" | cut -d' ' -f4))); done
    done
    echo "| ${NAME_OF[$target]} | $(stat "$target" h2,hi 1) | $(stat "$target" h2,hi 4) | $(stat "$target" h2,lo 2) | $(stat "$target" h2,lo 4) | $(stat "$target" rb,hi 1) | $(median "$target" rb,lo 2) / $(median "$target" rb,lo 3) | $(median "$target" rb,hi 6) | $failed |"
  done
  echo
  echo "1 MiB messages (rollout-bench --payload 1048576 -c 1 -m 2, echoed back, so 2 MiB"
  echo "cross each hop per call). CPU/MiB is the target's CPU time per MiB carried (both ways)."
  echo
  echo "| target | calls/s | MiB/s each way | p50 ms | CPU/MiB µs |"
  echo "|---|---|---|---|---|"
  for target in "${TARGETS[@]}"; do
    rps=$(median "$target" rb,mib 1); p50=$(median "$target" rb,mib 2); cpu=$(median "$target" rb,mib 5)
    echo "| ${NAME_OF[$target]} | $(stat "$target" rb,mib 1) | $rps | $(awk -v v="$p50" 'BEGIN{printf "%.1f", v/1000}') | $(awk -v v="$cpu" 'BEGIN{printf "%.0f", v/2}') |"
  done
  echo
  echo "Proxy RSS at the end of the run: $((RSS_H2_END / 1024)) MiB."
  echo
  echo "TLS on the listener (h2load over TLS, ALPN h2, to the same plaintext backends):"
  echo
  echo "| target | h2load c8×m16 rps | CPU/call µs | h2load c1×m1 mean µs | CPU/call at c1×m1 µs |"
  echo "|---|---|---|---|---|"
  for target in "${TLS_TARGETS[@]}"; do
    echo "| ${NAME_OF[$target]} | $(stat "$target" h2,hi 1) | $(stat "$target" h2,hi 4) | $(stat "$target" h2,lo 2) | $(stat "$target" h2,lo 4) |"
  done
  echo
  ratio() { awk -v a="$(median "$1" "$2" "$3")" -v b="$(median "$4" "$2" "$3")" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}'; }
  echo "Ratios of medians, rollout-proxy over each peer: throughput at h2load c8×m16, and CPU per call."
  echo
  echo "| peer | throughput × | CPU per call × |"
  echo "|---|---|---|"
  for peer in nginx haproxy nghttpx caddy; do
    echo "| ${NAME_OF[$peer]} | $(ratio rollout-nghttp2 h2,hi 1 "$peer") | $(ratio rollout-nghttp2 h2,hi 4 "$peer") |"
  done
  for peer in haproxy-tls nghttpx-tls; do
    echo "| ${NAME_OF[$peer]} (rollout-proxy with TLS) | $(ratio rollout-tls h2,hi 1 "$peer") | $(ratio rollout-tls h2,hi 4 "$peer") |"
  done
  echo
  n=$(median nginx h2,hi 1); h=$(median haproxy h2,hi 1); d_lo=$(median direct h2,lo 2)
  d_p50=$(median direct rb,lo 2)
  for target in rollout-nghttp2; do
    p=$(median "$target" h2,hi 1); p_lo=$(median "$target" h2,lo 2); p_p50=$(median "$target" rb,lo 2)
    echo "${NAME_OF[$target]}: / nginx = $(awk -v a="$p" -v b="$n" 'BEGIN{printf "%.2f", a/b}'),"
    echo "/ haproxy = $(awk -v a="$p" -v b="$h" 'BEGIN{printf "%.2f", a/b}') (h2load c8×m16 medians);"
    echo "added latency at c1×m1 over direct: $(awk -v a="$p_lo" -v b="$d_lo" 'BEGIN{printf "%.1f", a-b}') µs mean (h2load),"
    echo "$(awk -v a="$p_p50" -v b="$d_p50" 'BEGIN{printf "%.1f", a-b}') µs p50 (rollout-bench)."
    echo
  done
  echo "## Issue 21's targets, on this run"
  echo
  verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "**met**" : "**not met**") }'; }
  at_most() { awk -v r="$1" -v m="$2" 'BEGIN{print (r > 0 && r <= m)}'; }
  at_least() { awk -v r="$1" -v m="$2" 'BEGIN{print (r >= m)}'; }
  c_h=$(ratio rollout-nghttp2 h2,hi 4 haproxy); c_n=$(ratio rollout-nghttp2 h2,hi 4 nghttpx)
  r_n=$(ratio rollout-nghttp2 h2,hi 1 nghttpx); r_h=$(ratio rollout-nghttp2 h2,hi 1 haproxy)
  added=$(awk -v a="$(median rollout-nghttp2 rb,lo 2)" -v b="$d_p50" 'BEGIN{printf "%.0f", a-b}')
  floor=$(awk -v a="$(median tcp-relay rb,lo 2)" -v b="$d_p50" 'BEGIN{printf "%.0f", a-b}')
  r_floor=$(awk -v a="$added" -v b="$floor" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
  added_bp=$(awk -v a="$(median rollout-bp rb,lo 2)" -v b="$d_p50" 'BEGIN{printf "%.0f", a-b}')
  r_floor_bp=$(awk -v a="$added_bp" -v b="$floor" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
  mib=$(awk -v a="$(median rollout-nghttp2 rb,mib 5)" -v b="$(median direct rb,mib 5)" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
  echo "- CPU per call at c8×m16 ≤ 0.5× haproxy's: ${c_h}×, $(verdict "$(at_most "$c_h" 0.5)");"
  echo "  below nghttpx's: ${c_n}×, $(verdict "$(awk -v r="$c_n" 'BEGIN{print (r > 0 && r < 1)}')");"
  echo "- throughput at c8×m16 ≥ 1.1× nghttpx: ${r_n}×, $(verdict "$(at_least "$r_n" 1.1)");"
  echo "  ≥ 1.5× haproxy: ${r_h}×, $(verdict "$(at_least "$r_h" 1.5)");"
  echo "- added p50 at c1×m1 (rollout-bench, over direct) ≤ 1.1× the tcp relay's: ${added} µs"
  echo "  against ${floor} µs, ${r_floor}×, $(verdict "$(at_most "$r_floor" 1.1)"); with \`busy_poll: 50us\`"
  echo "  ${added_bp} µs, ${r_floor_bp}×, $(verdict "$(awk -v r="$r_floor_bp" 'BEGIN{print (r <= 1.1)}')") (a spinning worker also keeps CPU $SERVER_CPU,"
  echo "  which the backends share, out of its idle states; its CPU per call is in the table);"
  echo "- 1 MiB messages, CPU per MiB ≤ 1.2× direct's: ${mib}×, $(verdict "$(at_most "$mib" 1.2)");"
  echo "- RSS flat over 10 minutes: \`bench/RESULTS-rss.md\` (\`bash bench/rss_soak.sh\`)."
  echo
  echo "Earlier targets (issues 7 and 15: ≥ 1.25× nginx, ≥ 1.2× haproxy, ≤ 0.6× haproxy's CPU)"
  echo "and the move off the gRPC library's plane are in this file's git history and"
  echo "\`bench/PROFILE.md\`."
  echo
  echo "## Commands"
  echo '```sh'
  echo "bash bench/compare.sh        # BENCH_SECONDS=$SECONDS_PER_RUN BENCH_ROUNDS=$ROUNDS"
  echo "# each run, per target port:"
  echo "taskset -c $LOAD_CPU h2load -c 8 -m 16 -D $SECONDS_PER_RUN --warm-up-time=1 -d body.bin \\"
  echo "  -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:PORT/rollout.testing.Echo/Unary"
  echo "taskset -c $LOAD_CPU rollout-bench --target 127.0.0.1:PORT -c 8 -m 16 --duration ${SECONDS_PER_RUN}s --warmup 1s --json"
  echo "taskset -c $LOAD_CPU h2load ... https://127.0.0.1:PORT/rollout.testing.Echo/Unary   # the TLS rows"
  echo '```'
  echo "The peers' configs are written by the script (see it for every setting):"
  echo "nginx has upstream \`keepalive 256\` and \`keepalive_requests\` raised on both sides,"
  echo "since its defaults reconnect every 1000 requests, and \`client_max_body_size 0\` for the"
  echo "1 MiB run (its default refuses those with 413); haproxy uses \`proto h2\` on both sides"
  echo "and its default buffers. nghttpx runs \`--workers=1 --no-via\`, \`proto=h2\` with weights 90/10"
  echo "to the backends and 1 MiB stream windows both sides (8 MiB per connection), as rollout-proxy."
  echo "Caddy (Debian's 2.6.2, without weighted balancing) proxies h2c to h2c with round robin over"
  echo "v1 listed nine times and v2 once, \`GOMAXPROCS=1\`, no access log. The TLS rows use one"
  echo "self-signed RSA-2048 certificate; haproxy \`ssl crt ... alpn h2\`, nghttpx's default TLS."
  echo "The 1 MiB run: \`rollout-bench --payload 1048576 -c 1 -m 2\`. The floor row is haproxy in"
  echo "\`mode tcp\` relaying bytes to v1 only (no HTTP/2 parsing, no split)."
} > "$OUT"
echo "== wrote $OUT"
cat "$OUT"
