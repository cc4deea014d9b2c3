#!/usr/bin/env bash
# The demo: three versions of a model behind rollout-proxy, live KServe v2 traffic through
# it, and automated canary releases, shown as they happen:
#   0. v1..v5 are registered as versions (rolloutctl version add / version list);
#   1. v2 passes the compatibility gate and a 10 s load test (a sample of the users' calls
#      replayed to v2 alone), waits for a person's approval (rolloutctl rollout approve), is
#      released in steps (10% -> 25% -> 50%) and promoted on good metrics;
#   2. v3, which fails 20% of its calls (demo-model-server --error-rate 0.2), is aborted by
#      the metrics, traffic goes back to v2, and the reason is printed;
#   3. v4, a generative model that streams its tokens in about v2's total time but starts
#      7x later, is aborted on its time to the first message (the route "generate", which
#      carries ModelStreamInfer streams), while its whole-stream p99 passes;
#   4. v5, whose model takes 5 features instead of 4, is refused by the compatibility gate
#      before any call reaches it.
# The web dashboard (http://127.0.0.1:8502/, its URL and tokens are printed) shows it all
# live while the demo runs; the access log's first lines are printed at the end.
# Run as root on a fresh Debian 12 machine:  bash scripts/demo.sh
#
#   DEMO_INTERVAL=10s bash scripts/demo.sh   # analysis interval (default 5s; the demo
#                                            # takes about 10 intervals)
#   DEMO_RATE=500 bash scripts/demo.sh       # calls per second (default 200)
#   DEMO_LOAD_TEST=30s bash scripts/demo.sh  # v2's load test (default 10s)
#   DEMO_DASHBOARD=0.0.0.0:8502 bash scripts/demo.sh  # where the dashboard listens
#   DEMO_HOLD=1 bash scripts/demo.sh         # keep the proxy and dashboard up at the end
#   DEMO_SCREENSHOT=docs/dashboard.png bash scripts/demo.sh  # save the dashboard during
#                                            # v2's canary (needs chromium, chromium-driver
#                                            # and python3-selenium)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [ -z "${SKIP_SETUP:-}" ]; then
  install_deps
  build -DROLLOUT_BUILD_TESTS=OFF -DROLLOUT_BUILD_BENCH=OFF
fi
BIN="$BUILD_DIR/cmd"
with_work_dir
INTERVAL="${DEMO_INTERVAL:-5s}"

start v1 "$BIN/demo-model-server" --port 0 --version v1; V1=$PORT
# v2 and v4 also answer ModelStreamInfer as generative models: 8 tokens each, v2's first after
# 20 ms and then every 20 ms, v4's first after 150 ms and then every 2 ms.
start v2 "$BIN/demo-model-server" --port 0 --version v2 --generate 8 --first-token-ms 20 \
  --token-ms 20; V2=$PORT
start v3 "$BIN/demo-model-server" --port 0 --version v3 --error-rate 0.2; V3=$PORT
start v4 "$BIN/demo-model-server" --port 0 --version v4 --generate 8 --first-token-ms 150 \
  --token-ms 2; V4=$PORT
start v5 "$BIN/demo-model-server" --port 0 --version v5 --features 5; V5=$PORT
echo "demo admin demo-secret-$(date +%s%N)" > "$WORK/admin.tokens"
echo "watcher viewer viewer-secret-$(date +%s%N)" >> "$WORK/admin.tokens"
head -1 "$WORK/admin.tokens" | cut -d' ' -f3 > "$WORK/demo.token"
cat > "$WORK/proxy.yaml" <<YAML
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0, token_file: admin.tokens }
dashboard: { listen: ${DEMO_DASHBOARD:-127.0.0.1:8502} }
access_log: { path: access.log, sample: 0.01, format: json }
state_dir: state
pools:
  - { name: v1, endpoints: ["127.0.0.1:$V1"] }
  - { name: v2, endpoints: ["127.0.0.1:$V2"] }
  - { name: v3, endpoints: ["127.0.0.1:$V3"] }
  - { name: v4, endpoints: ["127.0.0.1:$V4"] }
  - { name: v5, endpoints: ["127.0.0.1:$V5"] }
routes:
  - name: generate
    match: { method_prefix: /inference.GRPCInferenceService/ModelStreamInfer }
    split: [ { pool: v2, weight: 100 } ]
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: v1, weight: 100 } ]
YAML
echo "== model servers: v1 on :$V1, v2 on :$V2, v3 on :$V3 (v3 fails 20% of its calls)," \
     "v4 on :$V4 (generative, slow first token), v5 on :$V5 (its model takes 5 features, not 4)"
"$BIN/rollout-proxy" --config "$WORK/proxy.yaml" --check
start proxy "$BIN/rollout-proxy" --config "$WORK/proxy.yaml"; PROXY=$PORT; PROXY_PID=$PID
METRICS=$(grep -oE 'metrics listening on [0-9.]+:[0-9]+' "$WORK/proxy.log" | grep -oE '[0-9]+$')
ADMIN=$(grep -oE 'admin listening on [0-9.]+:[0-9]+' "$WORK/proxy.log" | grep -oE '[0-9]+$')
ctl() { "$BIN/rolloutctl" --admin "127.0.0.1:$ADMIN" --token-file "$WORK/demo.token" "$@"; }
DASHBOARD=$(grep -oE 'dashboard listening on http://[0-9.]+:[0-9]+/' "$WORK/proxy.log" | grep -oE 'http://.*')
echo "== rollout-proxy on 127.0.0.1:$PROXY (all traffic to v1), admin on :$ADMIN," \
     "metrics on :$METRICS/metrics"
echo "== dashboard: $DASHBOARD (up while the demo runs); sign in with the admin token" \
     "$(cat "$WORK/demo.token"), or the viewer token $(tail -1 "$WORK/admin.tokens" | cut -d' ' -f3)"

"$BIN/rollout-demo-client" --target "127.0.0.1:$PROXY" --rate "${DEMO_RATE:-200}" \
  --concurrency 4 --duration 600s > "$WORK/client.log" 2>&1 &
PIDS+=($!)
"$BIN/rollout-demo-client" --target "127.0.0.1:$PROXY" --rate "${DEMO_STREAM_RATE:-40}" --stream \
  --concurrency 16 --duration 600s > "$WORK/stream-client.log" 2>&1 &
PIDS+=($!)
echo "== live KServe traffic: ${DEMO_RATE:-200} calls/s from rollout-demo-client, and" \
     "${DEMO_STREAM_RATE:-40} generative streams/s (ModelStreamInfer) on the route generate"
echo
echo "== register the versions (rolloutctl version add), then list them"
for v in v1 v2 v3 v4 v5; do
  echo "\$ rolloutctl version add $v --pool $v --model classifier --artifact file:///models/classifier/$v"
  ctl version add "$v" --pool "$v" --model classifier --artifact "file:///models/classifier/$v" \
    --notes "demo build of $v" > /dev/null
done
echo "\$ rolloutctl version list"
ctl version list
sleep 1

why() {  # why ROUTE: the outcome reason of ROUTE's last rollout
  ctl --json rollout get "$1" | grep -oE '"outcome_reason": "[^"]*"' | sed 's/^/   /'
}

release() {  # release VERSION FROM [FLAGS...]: start a canary, print its decisions as they happen
  echo
  echo "== release $1 as a canary of $2: 10% -> 25% -> 50% -> 100%, judged every $INTERVAL;"
  echo "   each window needs at least 50 calls, an error rate of at most 1% and a p99 of at most"
  echo "   100 ms; 2 failed windows in a row abort"
  echo "\$ rolloutctl rollout start infer --stable $2 --candidate $1 --steps 10,25,50 ..."
  ctl rollout start infer --stable "$2" --candidate "$1" --steps 10,25,50 \
    --interval "$INTERVAL" --min-requests 50 --max-error-rate 0.01 --max-p99 100ms \
    --failure-limit 2 --notes "demo release of $1" --reason "demo" "${@:3}" | grep "gate " || true
  if [[ " ${*:3} " == *" --load-test "* ]]; then
    echo "-> $1 first gets a load test: a sample of the users' calls (all still served by $2)"
    echo "   is replayed to $1 alone, and judged on the same thresholds; nobody sees its answers"
    local gate=""
    until [[ "$gate" == *"load_test: passed"* || "$gate" == *"load_test: failed"* ]]; do
      sleep 2
      gate=$(ctl rollout get infer | grep "gate load_test" || true)
      echo "$gate"
    done
  fi
  if [[ " ${*:3} " == *" --approval "* ]]; then
    sleep 1
    echo "-> $1 waits at its approval gate, with no traffic; a person signs off:"
    echo "\$ rolloutctl rollout approve infer --reason \"security review SR-7 passed\""
    ctl rollout approve infer --reason "security review SR-7 passed" | grep "gate approval" || true
    if [ -n "${DEMO_SCREENSHOT:-}" ]; then  # the dashboard during this canary
      /usr/bin/python3 "$ROOT/scripts/dashboard_screenshot.py" "$DASHBOARD" "$WORK/demo.token" \
        "$DEMO_SCREENSHOT" infer > "$WORK/screenshot.log" 2>&1 &
      SHOT_PID=$!
      PIDS+=($SHOT_PID)
    fi
  fi
  echo "\$ rolloutctl rollout events infer --until-done"
  local code=0
  ctl rollout events infer --until-done || code=$?
  return $code
}

release v2 v1 --load-test "${DEMO_LOAD_TEST:-10s}" --approval || { echo "error: v2 should have been promoted" >&2; exit 1; }
echo "-> v2 promoted: it now serves 100% of the calls"
if release v3 v2; then
  echo "error: v3 should have been aborted" >&2; exit 1
fi
echo "-> v3 aborted automatically, and v2 serves 100% again. Why:"
why infer

echo
echo "== release v4, a generative model, on the route generate (ModelStreamInfer streams). It"
echo "   streams its 8 tokens in about v2's total time, but its first token comes after 150 ms,"
echo "   not 20 ms. Judged on the time to the first message (p99 at most 100 ms) as well as on"
echo "   the whole stream (p99 at most 1 s)"
echo "\$ rolloutctl rollout start generate --stable v2 --candidate v4 --steps 20,50 --max-first-message-p99 100ms ..."
ctl rollout start generate --stable v2 --candidate v4 --steps 20,50 --interval "$INTERVAL" \
  --min-requests 20 --max-error-rate 0.01 --max-p99 1s --max-first-message-p99 100ms \
  --failure-limit 2 --notes "demo release of v4" --reason "demo" | grep "gate " || true
echo "\$ rolloutctl rollout events generate --until-done"
if ctl rollout events generate --until-done; then
  echo "error: v4 should have been aborted" >&2; exit 1
fi
echo "-> v4 aborted on its time to the first token, and v2 serves every stream again. Why:"
why generate

echo
echo "== release v5: the compatibility gate compares its tensors with v2's before any call"
echo "\$ rolloutctl rollout start infer --stable v2 --candidate v5 --steps 10,25,50 ..."
if ctl rollout start infer --stable v2 --candidate v5 --steps 10,25,50 --max-error-rate 0.01 \
    --reason "demo"; then
  echo "error: v5 should have been refused by the compatibility gate" >&2; exit 1
fi
echo "-> v5 refused before any user call reached it"

echo
echo "== the versions now (rolloutctl version list)"
ctl version list

echo
echo "== what each version served over the last 30 s (rolloutctl status)"
ctl status | sed -n '1,14p'
echo
echo "== release history (rolloutctl history)"
ctl history infer
echo
echo "== what Prometheus scrapes from the proxy (excerpt of /metrics)"
exec 3<>"/dev/tcp/127.0.0.1/$METRICS"
printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
grep -E '^rollout_proxy_(requests_total|route_weight|rollout_step|rollout_phase.* 1$)' <&3 || true
exec 3>&-
echo
echo "== the access log (access_log: sample 0.01): one line of each route, of its" \
     "$(wc -l < "$WORK/access.log")"
grep -m1 '"route":"infer"' "$WORK/access.log" || true
grep -m1 '"route":"generate"' "$WORK/access.log" || true
if [ -n "${SHOT_PID:-}" ]; then
  wait "$SHOT_PID" 2>/dev/null || true
  cat "$WORK/screenshot.log"
fi
if [ -n "${DEMO_HOLD:-}" ]; then
  echo "== DEMO_HOLD: the proxy and its dashboard ($DASHBOARD) stay up; Ctrl-C ends the demo"
  wait "$PROXY_PID" || true
fi
echo
echo "== stopping (SIGTERM drains the proxy)"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" && echo "rollout-proxy exited 0"
