#!/usr/bin/env bash
# The proxy's memory over a long run: rollout-proxy (one worker, the 90/10 split, metrics
# on) under closed-loop load for SOAK_SECONDS (default 600): rollout-bench c8×m16 with
# 100-byte unary calls, and a second client with 64 KiB calls (c1×m4). VmRSS is sampled every
# 10 s. Writes bench/RESULTS-rss.md.
#
# Run as root on Debian 12:  bash bench/rss_soak.sh
#   SOAK_SECONDS=600 bash bench/rss_soak.sh    # the default
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
cd "$ROOT"
PACKAGES+=(python3)
DURATION="${SOAK_SECONDS:-600}"
PLANE=rollout
OUT="${SOAK_OUT:-$ROOT/bench/RESULTS-rss.md}"
if [ -z "${SKIP_SETUP:-}" ]; then
  install_deps
  build -DROLLOUT_BUILD_TESTS=OFF -DROLLOUT_BUILD_BENCH=ON
fi
BENCH="$BUILD_DIR/bench/rollout-bench"
with_work_dir

start_echo_backends
start_bench_proxy "$PLANE"; PROXY=$PROXY_PORT; PROXY_PID=$PROXY_PID_OUT

"$BENCH" --target "127.0.0.1:$PROXY" -c 8 -m 16 --duration "${DURATION}s" --warmup 0s --json \
  > "$WORK/small.json" &
SMALL=$!
"$BENCH" --target "127.0.0.1:$PROXY" -c 1 -m 4 --payload 65536 --duration "${DURATION}s" \
  --warmup 0s --json > "$WORK/large.json" &
LARGE=$!
SAMPLES=()
for t in $(seq 0 10 "$DURATION"); do
  SAMPLES+=("$t $(awk '/VmRSS/ {print $2}' "/proc/$PROXY_PID/status")")
  echo "t=${t}s rss=$(echo "${SAMPLES[-1]}" | cut -d' ' -f2) KiB"
  [ "$t" -lt "$DURATION" ] && sleep 10
done
wait "$SMALL" "$LARGE"

python3 - "$OUT" "$PLANE" "$DURATION" "$WORK/small.json" "$WORK/large.json" "$(git rev-parse --short HEAD)" "${SAMPLES[@]}" <<'PY'
import json, sys, datetime
out, plane, duration, small, large, commit = sys.argv[1:7]
samples = [tuple(int(x) for x in s.split()) for s in sys.argv[7:]]
s = json.load(open(small)); l = json.load(open(large))
rss = [r for _, r in samples]
third = max(1, len(rss) // 3)
first = sorted(rss[:third])[third // 2]; last = sorted(rss[-third:])[third // 2]
with open(out, "w") as f:
    f.write("# Proxy memory over a long run\n\n")
    f.write(f"Written by `bench/rss_soak.sh` on {datetime.date.today()} at commit {commit}: "
            f"One worker, {duration} s of load.\n\n")
    f.write(f"- 100-byte unary calls, c8×m16: {s['calls']} calls, {s['rps']:.0f} rps, codes {s['codes']}\n")
    f.write(f"- 64 KiB unary calls, c1×m4: {l['calls']} calls, {l['rps']:.0f} rps, codes {l['codes']}\n")
    f.write(f"- VmRSS: min {min(rss)/1024:.1f} MiB, max {max(rss)/1024:.1f} MiB; median of the first third "
            f"{first/1024:.1f} MiB, of the last third {last/1024:.1f} MiB "
            f"(change {(last-first)/1024:+.1f} MiB)\n\n")
    f.write("| seconds | VmRSS MiB |\n|---|---|\n")
    for t, r in samples:
        if t % 60 == 0 or t == samples[-1][0]:
            f.write(f"| {t} | {r/1024:.1f} |\n")
    f.write("\n```sh\nbash bench/rss_soak.sh    # SOAK_SECONDS=600\n```\n")
print(open(out).read())
PY
