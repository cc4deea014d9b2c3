#!/usr/bin/env bash
# The chaos soak: rollout-proxy in front of 2 pools x 2 demo-model-servers under steady
# KServe traffic, while backends are killed and restarted, health flaps, the config is
# reloaded, weights change and the proxy itself is killed with -9 and restarted. Prints
# the report and, with CHAOS_WRITE=1, puts it in docs/RELIABILITY.md.
#
#   bash scripts/chaos.sh                         # 120 s, an action every 2 s
#   CHAOS_DURATION=600s CHAOS_SEED=7 bash scripts/chaos.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [ -z "${SKIP_SETUP:-}" ]; then
  install_deps
  build -DROLLOUT_BUILD_TESTS=ON
fi
DURATION="${CHAOS_DURATION:-120s}"
SEED="${CHAOS_SEED:-1}"
MARK=soak  # where the report goes in docs/RELIABILITY.md
echo "== rollout-chaos --duration $DURATION --every 2s --clients 4 --seed $SEED"
status=0
report="$("$BUILD_DIR/tests/rollout-chaos" --duration "$DURATION" --every 2s --clients 4 \
  --seed "$SEED")" || status=$?
echo "$report"
if [ "${CHAOS_WRITE:-0}" = 1 ]; then
  {
    sed -n "1,/<!-- $MARK:begin -->/p" docs/RELIABILITY.md
    echo "Run of $(date -u +%Y-%m-%d), \`CHAOS_DURATION=$DURATION CHAOS_SEED=$SEED bash scripts/chaos.sh\`,"
    echo "on $(nproc) cores ($(uname -m)):"
    echo
    echo "$report"
    sed -n "/<!-- $MARK:end -->/,\$p" docs/RELIABILITY.md
  } > docs/RELIABILITY.md.new
  mv docs/RELIABILITY.md.new docs/RELIABILITY.md
  echo "== written to docs/RELIABILITY.md"
fi
exit "$status"
