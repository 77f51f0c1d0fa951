#!/usr/bin/env bash
# Deploys the canary at a new share of traffic, with zero downtime:
#   scripts/deploy-canary.sh --percentage N [--duration HOURS] [--dry-run] [--force]
#       [--url http://localhost:3000] [--config config/canary.yaml]
#       [--pid-file /var/run/mlx-serving.pid] [--timeout SECONDS]
# 1. pre-deployment checks (skipped by --force): the build is up to date, the canary
#    tests pass, the server answers;
# 2. the new config/canary.yaml is written to a temporary file and validated;
#    --dry-run prints the change and stops there;
# 3. the file is replaced (the old one kept as FILE.bak) and the server reloads (SIGHUP);
# 4. /health/canary must report the new percentage within --timeout seconds, otherwise
#    the old file is restored, reloaded, and the script exits 1;
# 5. --duration HOURS then watches the canary for that long and exits 1 if it is rolled
#    back meanwhile.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/canary-common.sh"

percentage="" duration="" dry_run=0 force=0
usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
while (($#)); do
  case "$1" in
    --percentage) percentage="${2:-}"; shift 2 ;;
    --duration) duration="${2:-}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --force) force=1; shift ;;
    --url) CANARY_URL="${2:-}"; shift 2 ;;
    --config) CANARY_CONFIG="${2:-}"; shift 2 ;;
    --pid-file) CANARY_PID_FILE="${2:-}"; shift 2 ;;
    --timeout) CANARY_TIMEOUT="${2:-}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ -n "$percentage" ]] || { usage >&2; exit 2; }
is_number "$percentage" || die "--percentage must be a number from 0 to 100 (got '$percentage')"
if [[ -n "$duration" ]] && ! [[ "$duration" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  die "--duration must be a number of hours (got '$duration')"
fi
need_tools
bin="$(find_binary)"
[[ -r "$CANARY_CONFIG" ]] || die "cannot read $CANARY_CONFIG (use --config)"

if ((force)); then
  echo "pre-deployment checks skipped (--force)"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [[ -d "$root/build" && -z "${MLXS_BIN:-}" ]]; then
    echo "checking the build..."
    cmake --build "$root/build" >/dev/null || die "the build failed"
    echo "running the canary tests..."
    ctest --test-dir "$root/build" -R 'Canary|Router|Rollback|HealthMonitor' --output-on-failure \
      >/dev/null || die "the canary tests failed"
  fi
  canary_health >/dev/null || die "the server at $CANARY_URL does not answer /health/canary"
fi

tmp="$(mktemp "$(dirname "$CANARY_CONFIG")/.canary.yaml.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cp "$CANARY_CONFIG" "$tmp"
"$bin" canary set-percentage "$tmp" "$percentage" >/dev/null || die "cannot set the percentage"
summary="$("$bin" canary validate "$tmp")" || die "the new config is invalid"
if grep -q '^  canary: disabled' <<<"$summary" && awk -v p="$percentage" 'BEGIN { exit !(p > 0) }'; then
  die "canary.enabled is false in $CANARY_CONFIG: define variants.canary and set canary.enabled: true first"
fi

if ((dry_run)); then
  echo "dry run: $CANARY_CONFIG would change as follows (nothing was changed)"
  diff -u "$CANARY_CONFIG" "$tmp" || true
  exit 0
fi

cp "$CANARY_CONFIG" "$CANARY_CONFIG.bak"
mv "$tmp" "$CANARY_CONFIG"
trap - EXIT
echo "updated $CANARY_CONFIG: rolloutPercentage $percentage (previous file: $CANARY_CONFIG.bak)"
reload_server
if ! wait_for_percentage "$percentage"; then
  echo "the server did not take the new percentage within ${CANARY_TIMEOUT}s: restoring" >&2
  mv "$CANARY_CONFIG.bak" "$CANARY_CONFIG"
  reload_server
  exit 1
fi
echo "canary live at ${percentage}% ($CANARY_URL/health/canary)"

if [[ -n "$duration" ]]; then
  end=$((SECONDS + $(awk -v h="$duration" 'BEGIN { printf "%d", h * 3600 }')))
  echo "watching the canary for $duration hour(s)..."
  while ((SECONDS < end)); do
    status="$(canary_health | jq -r '.canary.status')" || die "the server stopped answering"
    if [[ "$status" == "rolled_back" ]]; then
      canary_health | jq -r '.canary.rollbacks[-1] | "rolled back: \(.reason): \(.detail)"' >&2
      exit 1
    fi
    sleep "$(( end - SECONDS < 30 ? (end - SECONDS > 0 ? end - SECONDS : 1) : 30 ))"
  done
  echo "the canary stayed healthy for $duration hour(s): ready for the next stage"
fi
