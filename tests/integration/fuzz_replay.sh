#!/usr/bin/env bash
# Replays the GGUF fuzz target over generated models of both tokenizer kinds and over the
# real vocabulary files in ../shared/testdata when they are present.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tools/mlx-testmodel" -o "$tmp/spm.gguf" --dim 64 --layers 1 --heads 2 --kv-heads 1 --ffn 128 --vocab 300 --type q4_0 >/dev/null
"$build/tools/mlx-testmodel" -o "$tmp/bpe.gguf" --arch qwen2 --dim 64 --layers 1 --heads 2 --kv-heads 1 --ffn 128 --vocab 400 --tokenizer gpt2 --type q8_0 >/dev/null
files=("$tmp/spm.gguf" "$tmp/bpe.gguf")
for v in "$src"/../shared/testdata/tokenizers/ggml-vocab-{gpt-2,llama-spm}.gguf; do
  [ -f "$v" ] && files+=("$v")
done
exec "$build/tests/integration/fuzz_replay" "${files[@]}"
