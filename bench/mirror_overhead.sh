#!/usr/bin/env bash
# What a 100% mirror adds to the primary's latency, measured side by side in one run.
#
#   bash bench/mirror_overhead.sh            # after a build (scripts/test.sh or demo.sh)
#   ROUNDS=5 SECONDS_PER_RUN=5 RATE=500 bash bench/mirror_overhead.sh
#
# Two demo-model-servers (primary and shadow, same model) and two proxies: one without a
# mirror, one mirroring 100% of calls to the shadow. rollout-demo-client sends the same
# fixed-rate load to each, alternating, for ROUNDS rounds; it reports the p50 and p99 of
# each run and the median ratio of the p50s. Everything runs on 127.0.0.1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
BIN="$BUILD_DIR/cmd"
ROUNDS="${ROUNDS:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-4}"
RATE="${RATE:-400}"
WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

start primary "$BIN/demo-model-server" --port 0 --version v1; PRIMARY=$PORT
start shadow "$BIN/demo-model-server" --port 0 --version v1; SHADOW=$PORT
for mode in plain mirrored; do
  {
    echo "listen: 127.0.0.1:0"
    echo "workers: 1"
    echo "pools:"
    echo "  - { name: primary, endpoints: [\"127.0.0.1:$PRIMARY\"] }"
    echo "  - { name: shadow, endpoints: [\"127.0.0.1:$SHADOW\"] }"
    echo "routes:"
    echo "  - name: infer"
    [ "$mode" = mirrored ] && echo "    mirror: { pool: shadow, percent: 100, max_inflight: 1000 }"
    echo "    split: [ { pool: primary, weight: 1 } ]"
  } > "$WORK/$mode.yaml"
  start "proxy-$mode" "$BIN/rollout-proxy" --config "$WORK/$mode.yaml"
  eval "PROXY_${mode}=$PORT"
done

p50() { python3 -c 'import json,sys; p=json.load(sys.stdin)["pools"]["primary"]["latency_seconds"]; print("%.0f %.0f" % (p["p50"]*1e6, p["p99"]*1e6))'; }
echo "| round | no mirror p50 / p99 (µs) | 100% mirror p50 / p99 (µs) | p50 ratio |"
echo "|---|---|---|---|"
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  read -r plain_p50 plain_p99 < <("$BIN/rollout-demo-client" --target "127.0.0.1:$PROXY_plain" --rate "$RATE" --concurrency 4 --duration "${SECONDS_PER_RUN}s" --json | p50)
  read -r mir_p50 mir_p99 < <("$BIN/rollout-demo-client" --target "127.0.0.1:$PROXY_mirrored" --rate "$RATE" --concurrency 4 --duration "${SECONDS_PER_RUN}s" --json | p50)
  ratio=$(python3 -c "print(f'{$mir_p50/$plain_p50:.3f}')")
  ratios+=("$ratio")
  echo "| $round | $plain_p50 / $plain_p99 | $mir_p50 / $mir_p99 | $ratio |"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo
echo "median p50 ratio (mirrored / plain): $median   ($ROUNDS rounds of ${SECONDS_PER_RUN}s at $RATE calls/s, 1 worker each)"
