#!/usr/bin/env bash
# Sets everything up and runs mlx-serving on the default model.
# The default model is a small random-weight test model written by mlx-testmodel into
# .models/ (the OpenAI server and an embedded trained model come with later work); this
# streams a completion from it through the real engine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL=.models/default-q8_0.gguf
if [ ! -f "$MODEL" ]; then
  mkdir -p .models
  ./build/tools/mlx-testmodel -o "$MODEL" --arch llama --dim 512 --layers 4 --heads 8 \
    --kv-heads 4 --ffn 1536 --vocab 2048 --tokenizer spm --type q8_0 --seed 1
fi
exec ./build/src/cli/mlx-serving generate -m "$MODEL" -p "${PROMPT:-Once upon a time}" -n "${N:-64}" "$@"
