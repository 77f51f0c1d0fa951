#!/usr/bin/env bash
# Aggregate output tokens/s of one server at several client concurrencies, measured with
# `mlx-serving bench-serve` (streamed requests, fixed prompt and output lengths).
#
# Usage: bench/serve_scaling.sh MODEL [BUILD_DIR] [CONCURRENCIES...]
#   env: PROMPT_LEN (128), OUTPUT_LEN (64), THREADS (2), MAX_SEQ (8), REQ_PER_CLIENT (4)
# Prints one line per concurrency and the ratio of each to concurrency 1.
set -euo pipefail
MODEL=${1:?usage: bench/serve_scaling.sh MODEL [BUILD_DIR] [CONCURRENCIES...]}
BUILD=${2:-build}
shift $(( $# >= 2 ? 2 : 1 ))
LEVELS=("$@")
[ ${#LEVELS[@]} -eq 0 ] && LEVELS=(1 4 8)
BIN="$BUILD/src/cli/mlx-serving"
PORT=${PORT:-3917}
LOG=$(mktemp)

"$BIN" serve -m "$MODEL" --port "$PORT" -t "${THREADS:-2}" --max-sequences "${MAX_SEQ:-8}" \
  --max-waiting 1000 --pid-file "$LOG.pid" --config /dev/null 2> "$LOG" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$LOG" "$LOG.pid"' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break
  sleep 0.1
done

base=""
for c in "${LEVELS[@]}"; do
  out=$("$BIN" bench-serve --url "http://127.0.0.1:$PORT" --concurrency "$c" \
        --requests $(( c * ${REQ_PER_CLIENT:-4} )) --prompt-len "${PROMPT_LEN:-128}" \
        --output-len "${OUTPUT_LEN:-64}" --json)
  tps=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["output_throughput"], 2))')
  ttft=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["mean_ttft_ms"], 1))')
  [ -z "$base" ] && base=$tps
  ratio=$(/usr/bin/python3 -c "print(round($tps / $base, 2))")
  echo "concurrency $c: output $tps tok/s, mean TTFT $ttft ms, x$ratio vs concurrency ${LEVELS[0]}"
done
