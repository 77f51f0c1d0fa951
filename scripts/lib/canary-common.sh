# Shared by the canary scripts: option defaults (the spec's), the binary, HTTP helpers.
# Needs bash, curl and jq.

CANARY_URL="${MLXS_URL:-http://localhost:3000}"
CANARY_CONFIG="config/canary.yaml"
CANARY_PID_FILE="/var/run/mlx-serving.pid"
CANARY_API_KEY="${MLXS_API_KEY:-}"
CANARY_TIMEOUT=30

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

need_tools() {
  for t in curl jq; do
    command -v "$t" >/dev/null 2>&1 || die "$t is required (scripts/setup.sh installs it)"
  done
}

# The mlx-serving binary: $MLXS_BIN, the repository's build, or PATH.
find_binary() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [[ -n "${MLXS_BIN:-}" ]]; then
    echo "$MLXS_BIN"
  elif [[ -x "$root/build/src/cli/mlx-serving" ]]; then
    echo "$root/build/src/cli/mlx-serving"
  elif command -v mlx-serving >/dev/null 2>&1; then
    command -v mlx-serving
  else
    die "no mlx-serving binary: build it (scripts/setup.sh) or set MLXS_BIN"
  fi
}

auth_args() {
  if [[ -n "$CANARY_API_KEY" ]]; then
    printf '%s\n' -H "Authorization: Bearer $CANARY_API_KEY"
  fi
}

# GET /health/canary as JSON; fails when the server does not answer.
canary_health() {
  curl -fsS --max-time 5 "$CANARY_URL/health/canary"
}

# Sends SIGHUP to the server named by the pid file.
reload_server() {
  [[ -r "$CANARY_PID_FILE" ]] || die "cannot read the pid file $CANARY_PID_FILE (use --pid-file)"
  local pid
  pid="$(tr -d '[:space:]' < "$CANARY_PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "$CANARY_PID_FILE does not hold a pid"
  kill -HUP "$pid" || die "cannot signal process $pid (from $CANARY_PID_FILE)"
}

# Waits until /health/canary reports `percentage` (and, for > 0, enabled); 0 on success.
wait_for_percentage() {
  local want="$1" deadline=$((SECONDS + CANARY_TIMEOUT)) got
  while ((SECONDS < deadline)); do
    if got="$(canary_health 2>/dev/null)"; then
      if jq -e --argjson p "$want" \
          '.canary.percentage == $p and ($p == 0 or .canary.enabled == true)' \
          >/dev/null <<<"$got"; then
        return 0
      fi
    fi
    sleep 0.2
  done
  return 1
}

is_number() {
  [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v p="$1" 'BEGIN { exit !(p >= 0 && p <= 100) }'
}
