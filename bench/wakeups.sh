#!/bin/bash
# Context switches per call at c1xm1: direct, haproxy mode tcp relay, rollout-proxy (v1 only).
# Run: bash bench/wakeups.sh (after a build in build/); bench/PROFILE.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
V1=$(port); R=$(port); P=$(port)
taskset -c 1 $B/bench/rollout-bench-server --port $V1 --name v1 > $W/v1.log 2>&1 & BK=$!
cat > $W/tcp.cfg <<CFG
global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind 127.0.0.1:$R
  default_backend b
backend b
  server v1 127.0.0.1:$V1
CFG
taskset -c 1 haproxy -db -f $W/tcp.cfg > $W/h.log 2>&1 & HP=$!
cat > $W/p.yaml <<Y
listen: 127.0.0.1:$P
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: v1, endpoints: ["127.0.0.1:$V1"] }
routes:
  - name: all
    split: [ { pool: v1, weight: 100 } ]
Y
taskset -c 1 $B/cmd/rollout-proxy --config $W/p.yaml > $W/p.log 2>&1 & PP=$!
sleep 2
cs() { local t=0; for p in "$@"; do for f in /proc/$p/task/*/status; do
  t=$((t + $(awk '/^voluntary_ctxt_switches/{s+=$2} END{print s}' $f))); done; done; echo $t; }
for round in 1 2; do
for tgt in direct:$V1: relay:$R:$HP proxy:$P:$PP; do
  IFS=: read name tp mid <<< "$tgt"
  b0=$(cs $BK); m0=0; [ -n "$mid" ] && m0=$(cs $mid)
  j=$(taskset -c 0 $B/bench/rollout-bench --target 127.0.0.1:$tp -c 1 -m 1 --duration 4s --warmup 1s --json)
  b1=$(cs $BK); m1=0; [ -n "$mid" ] && m1=$(cs $mid)
  python3 - "$j" $name $((b1-b0)) $((m1-m0)) <<'PY'
import json,sys
r=json.loads(sys.argv[1]); n=r["calls"]*1.25
print("%-6s rps %6.0f p50 %5.1f us  backend cs/call %.2f  middle cs/call %.2f" % (sys.argv[2], r["rps"], r["latency_seconds"]["p50"]*1e6, int(sys.argv[3])/n, int(sys.argv[4])/n))
PY
done; done

