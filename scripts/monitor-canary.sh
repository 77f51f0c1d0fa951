#!/usr/bin/env bash
# Watches the canary deployment: the spec's text dashboard, refreshed every interval.
#   scripts/monitor-canary.sh [--duration MINUTES] [--output FILE.json] [--interval SECONDS]
#       [--url http://localhost:3000]
# Without --duration it runs until interrupted. --output writes every sample (the time and
# the /health/canary answer) as a JSON array, rewritten after each sample. Exits 1 when
# the server stops answering.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/canary-common.sh"

duration="" output="" interval=5
usage() { sed -n '2,8s/^# \{0,1\}//p' "$0"; }
while (($#)); do
  case "$1" in
    --duration) duration="${2:-}"; shift 2 ;;
    --output) output="${2:-}"; shift 2 ;;
    --interval) interval="${2:-}"; shift 2 ;;
    --url) CANARY_URL="${2:-}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ -z "$duration" || "$duration" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--duration must be minutes"
[[ "$interval" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--interval must be seconds"
need_tools

samples="[]"
now_ms() { date +%s%3N; }
end=""
[[ -n "$duration" ]] && end=$(awk -v s="$(now_ms)" -v m="$duration" 'BEGIN { printf "%.0f", s + m * 60000 }')

dashboard() {
  jq -r '
    def pct(x): (x * 1000 | round) / 10;
    def ms(x): if x == null then "n/a" else "\(x | round)ms" end;
    def delta(a; b): if a == null or b == null or a == 0 then "n/a"
                     else ((b - a) / a * 1000 | round / 10) as $d
                          | (if $d >= 0 then "+" else "" end) + "\($d)%" end;
    .canary as $c
    | ($c.requests.baseline + $c.requests.canary) as $total
    | "=== Canary Monitoring ===",
      "Rollout: \($c.percentage)%",
      "Baseline: \($c.requests.baseline) requests (\(if $total > 0 then pct($c.requests.baseline / $total) else 0 end)%)",
      "Canary: \($c.requests.canary) requests (\(if $total > 0 then pct($c.requests.canary / $total) else 0 end)%)",
      "",
      "Baseline P95 latency: \(ms($c.metrics.baseline.p95Latency))",
      "Canary P95 latency: \(ms($c.metrics.canary.p95Latency))",
      "Latency delta: \(delta($c.metrics.baseline.p95Latency; $c.metrics.canary.p95Latency))",
      "",
      "Baseline error rate: \(pct($c.metrics.baseline.errorRate))%",
      "Canary error rate: \(pct($c.metrics.canary.errorRate))%",
      "Error delta: \((($c.metrics.canary.errorRate - $c.metrics.baseline.errorRate) * 1000 | round) / 10 | if . >= 0 then "+\(.)" else "\(.)" end)%",
      "",
      (if $c.status == "healthy" then "Status: ✓ HEALTHY (all metrics within thresholds)"
       elif $c.status == "degraded" then "Status: ⚠ DEGRADED (" + ([$c.triggers[] | select(.breached) | .why] | join("; ")) + ")"
       elif $c.status == "rolled_back" then "Status: ✗ ROLLED BACK (" + ($c.rollbacks[-1].reason // "?") + ")"
       else "Status: DISABLED" end)'
}

while :; do
  health="$(canary_health)" || die "no answer from $CANARY_URL/health/canary"
  dashboard <<<"$health"
  echo
  if [[ -n "$output" ]]; then
    samples="$(jq -c --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson h "$health" \
      '. + [{time: $t, health: $h}]' <<<"$samples")"
    printf '%s\n' "$samples" > "$output"
  fi
  if [[ -n "$end" ]] && (($(now_ms) >= end)); then break; fi
  sleep "$interval"
  if [[ -n "$end" ]] && (($(now_ms) >= end)); then break; fi
done
