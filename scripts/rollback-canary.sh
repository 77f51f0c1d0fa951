#!/usr/bin/env bash
# Rolls the canary back to baseline (0 % canary traffic):
#   scripts/rollback-canary.sh [--force] [--gradual] [--step-interval SECONDS]
#       [--url http://localhost:3000] [--api-key KEY] [--config config/canary.yaml]
#       [--pid-file /var/run/mlx-serving.pid] [--timeout SECONDS]
# The server records the rollback in its history, writes 0 to config/canary.yaml (a
# restart keeps it) and reports it on /health/canary, which this script checks.
# --gradual steps down instead: half the current percentage, then 0 (10 -> 5 -> 0),
# waiting --step-interval seconds (default 60) between the steps.
# --force skips the checks (server answering, canary live); when the server cannot be
# asked, it writes 0 into the file itself and reloads the server by SIGHUP.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/canary-common.sh"

force=0 gradual=0 step_interval=60
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }
while (($#)); do
  case "$1" in
    --force) force=1; shift ;;
    --gradual) gradual=1; shift ;;
    --step-interval) step_interval="${2:-}"; shift 2 ;;
    --url) CANARY_URL="${2:-}"; shift 2 ;;
    --api-key) CANARY_API_KEY="${2:-}"; shift 2 ;;
    --config) CANARY_CONFIG="${2:-}"; shift 2 ;;
    --pid-file) CANARY_PID_FILE="${2:-}"; shift 2 ;;
    --timeout) CANARY_TIMEOUT="${2:-}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$step_interval" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--step-interval must be seconds"
need_tools

current=""
if health="$(canary_health 2>/dev/null)"; then
  current="$(jq -r '.canary.percentage' <<<"$health")"
elif ((!force)); then
  die "the server at $CANARY_URL does not answer /health/canary (--force writes the file instead)"
fi
if ((!force)) && [[ -n "$current" ]] && awk -v p="$current" 'BEGIN { exit !(p == 0) }'; then
  echo "the canary is already at 0%"
  exit 0
fi

# One step: through the server when it answers, else (with --force) file + SIGHUP.
step_to() {
  local to="$1" reason="$2" auth=()
  mapfile -t auth < <(auth_args)
  if curl -fsS --max-time 10 -X POST "${auth[@]}" -H 'Content-Type: application/json' \
      -d "{\"to\": $to, \"reason\": \"$reason\"}" "$CANARY_URL/admin/canary/rollback" >/dev/null; then
    :
  elif ((force)); then
    local bin
    bin="$(find_binary)"
    "$bin" canary set-percentage "$CANARY_CONFIG" "$to" >/dev/null || die "cannot write $CANARY_CONFIG"
    reload_server
  else
    die "the server refused the rollback (wrong --api-key?)"
  fi
  if ((force)) && ! canary_health >/dev/null 2>&1; then
    echo "$CANARY_CONFIG says ${to}%; the server does not answer, so it is not verified"
    return
  fi
  wait_for_percentage "$to" || die "the server does not report ${to}% after ${CANARY_TIMEOUT}s"
  echo "canary at ${to}%"
}

if ((gradual)) && [[ -n "$current" ]] && awk -v p="$current" 'BEGIN { exit !(p > 1) }'; then
  half="$(awk -v p="$current" 'BEGIN { printf "%g", p / 2 }')"
  step_to "$half" manual_gradual
  sleep "$step_interval"
fi
step_to 0 manual
if health="$(canary_health 2>/dev/null)"; then
  jq -r '.canary | "status: \(.status); rollbacks recorded: \(.rollbacks | length)"' <<<"$health"
fi
