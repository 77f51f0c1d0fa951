#!/usr/bin/env bash
# Sets everything up and runs the OpenAI-compatible server on the embedded default model
# (models/default.gguf) at http://127.0.0.1:3000, with config/runtime.yaml. Extra arguments
# go to `mlx-serving serve` (e.g. -m MODEL, --port N). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec ./build/src/cli/mlx-serving serve "$@"
