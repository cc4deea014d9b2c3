#!/usr/bin/env bash
# The demo: two versions of a model behind rollout-proxy with a 90/10 split, and live
# KServe v2 traffic through it, printed as it happens: which version served each second's
# calls, how many failed, and how fast.
# Run as root on a fresh Debian 12 machine:  bash scripts/demo.sh
#
#   DEMO_SECONDS=60 bash scripts/demo.sh   # run longer (default 20)
#   DEMO_RATE=500 bash scripts/demo.sh     # calls per second (default 200)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [ -z "${SKIP_SETUP:-}" ]; then
  install_deps
  build -DROLLOUT_BUILD_TESTS=OFF -DROLLOUT_BUILD_BENCH=OFF
fi
BIN="$BUILD_DIR/cmd"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start v1 "$BIN/demo-model-server" --port 0 --version v1; V1=$PORT
start v2 "$BIN/demo-model-server" --port 0 --version v2 --extra-latency-ms 2; V2=$PORT
cat > "$WORK/proxy.yaml" <<YAML
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: v1, endpoints: ["127.0.0.1:$V1"] }
  - { name: v2, endpoints: ["127.0.0.1:$V2"] }
routes:
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
YAML
echo "== model servers: v1 on 127.0.0.1:$V1, v2 on 127.0.0.1:$V2 (2 ms slower)"
"$BIN/rollout-proxy" --config "$WORK/proxy.yaml" --check
start proxy "$BIN/rollout-proxy" --config "$WORK/proxy.yaml"; PROXY=$PORT; PROXY_PID=$PID
METRICS=$(grep -oE 'metrics listening on [0-9.]+:[0-9]+' "$WORK/proxy.log" | grep -oE '[0-9]+$')
echo "== rollout-proxy on 127.0.0.1:$PROXY, splitting 90/10; metrics on 127.0.0.1:$METRICS/metrics"
"$BIN/rollout-demo-client" --target "127.0.0.1:$PROXY" --rate "${DEMO_RATE:-200}" \
  --concurrency 4 --duration "${DEMO_SECONDS:-20}s"
echo "== what Prometheus scrapes from the proxy (excerpt of /metrics)"
exec 3<>"/dev/tcp/127.0.0.1/$METRICS"
printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
grep -E '^rollout_proxy_(requests_total|route_weight|request_duration_seconds_count)' <&3 || true
exec 3>&-
echo "== stopping (SIGTERM drains the proxy)"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" && echo "rollout-proxy exited 0"
echo "note: the automated rollout (promote/abort by metrics) is not built yet; see README."
