#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus from readable sources: configs from the repo,
# admin requests encoded from text with protoc, model-name prefixes built byte by byte.
# Run from anywhere:  bash fuzz/make_corpus.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=fuzz/corpus

cp deploy/config/rollout-proxy.yaml "$out/config_parser/shipped.yaml"
cp deploy/config/demo.yaml "$out/config_parser/demo.yaml" 2>/dev/null || true
cat > "$out/config_parser/full.yaml" <<'YAML'
listen: 127.0.0.1:0
workers: 2
drain_timeout: 3s
max_message_bytes: 65536
max_concurrent_calls: 100
pools:
  - name: v1
    endpoints: ["127.0.0.1:9001", "127.0.0.1:9011"]
    max_concurrent_calls: 10
    health_check: { interval: 1s, timeout: 200ms, healthy_threshold: 2, unhealthy_threshold: 3 }
    outlier_detection: { consecutive_failures: 5, base_ejection: 10s, max_ejection: 300s, max_ejection_percent: 50 }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
routes:
  - name: infer
    match:
      method_prefix: /inference.GRPCInferenceService/
      model: resnet
      metadata: [ { key: x-tenant, equals: acme }, { key: x-user, regex: "beta-[a-z]+" } ]
    sticky_key: x-user-id
    override_header: x-rollout-pool
    override_pools: [ v2 ]
    mirror: { pool: v2, percent: 5, max_inflight: 10, tolerance: 0.001 }
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
analysis: { source: in_process }
rollouts:
  - { route: infer, strategy: canary, stable: v1, candidate: v2, steps: [5, 25, 50],
      interval: 30s, min_requests: 100, max_error_rate: 0.01, max_p99_ratio: 1.5 }
YAML

proto=proto/rollout/admin/v1/admin.proto
encode() {  # selector-byte message-type text-proto file
  { printf "\\x$(printf %02x "$1")"; echo "$3" | protoc -Iproto --encode="rollout.admin.v1.$2" "$proto"; } \
    > "$out/admin_request/$4"
}
encode 0 SetWeightsRequest 'route: "infer" weights { key: "v1" value: 50 } weights { key: "v2" value: 50 } reason: "r"' set_weights
encode 0 SetWeightsRequest 'route: "infer" weights { key: "v9" value: -1 } expected_generation: 7 reason: ""' set_weights_bad
encode 1 StartRolloutRequest 'route: "infer" strategy: "canary" stable: "v1" candidate: "v2" steps: 10 steps: 50 interval_seconds: 1 min_requests: 1 max_error_rate: 0.01 reason: "r"' start_canary
encode 1 StartRolloutRequest 'route: "infer" strategy: "blue_green" stable: "v1" candidate: "v3" mirror_percent: 10 rollback_window_seconds: 5 reason: "r"' start_blue_green
encode 1 StartRolloutRequest 'route: "rest" strategy: "ab_test" stable: "v1" candidate: "v2" duration_seconds: 1 sample_size: 10 alpha: 0.05 reason: "r"' start_ab
encode 1 StartRolloutRequest 'route: "infer" strategy: "shadow" stable: "v1" candidate: "v2" max_mismatch_rate: 0.1 reason: "r"' start_shadow
encode 2 RolloutRequest 'route: "infer" reason: "r"' pause
encode 3 RolloutRequest 'route: "infer" reason: "r"' resume
encode 4 RolloutRequest 'route: "infer" reason: "r"' promote
encode 5 RolloutRequest 'route: "infer" reason: "r"' abort
encode 6 RolloutRequest 'route: "infer" id: 1' get
encode 7 GetAuditLogRequest 'route: "infer" since: "2026-01-01T00:00:00Z" page_size: 2 page_token: "3"' audit
encode 8 ListReleasesRequest 'route: "infer"' releases
encode 9 ListRoutesRequest 'window_seconds: 90' routes

# The first byte says whether the bytes are the whole message (odd) or only a prefix.
printf '\x01\x0a\x06resnet\x12\x011' > "$out/model_name_reader/complete"
printf '\x00\x0a\x06res' > "$out/model_name_reader/prefix"
printf '\x01\x12\x02v1\x0a\x03abc' > "$out/model_name_reader/not_first"
printf '\x01\x0a\xff\xff\xff\xff\x0f' > "$out/model_name_reader/huge_length"
