#!/bin/bash
# Compares mlx-serving's logits with the numpy reference on tiny random models of every
# supported weight type and architecture variant, as GGUF files and as Hugging Face folders.
#
#   tests/reference/run_reference_tests.sh BINARY_DIR
#
# BINARY_DIR is the CMake build directory. MLXS_TESTMODEL and MLXS_SERVING override where
# mlx-testmodel and mlx-serving are found; MLXS_REF_ONLY=REGEX runs only matching variants;
# MLXS_REF_TOL_SCALE multiplies every tolerance. Exit 0: all pass (some variants may be
# reported skipped: MLX-quantized folders while the engine answers that it does not support
# quantized folders); 1: a variant failed; 77: mlx-serving is not built (CTest reports the
# test as skipped).
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY_DIR" >&2
  exit 2
fi
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# Debian's python has numpy; a pyenv python3 first on PATH may not.
PY=/usr/bin/python3

TESTMODEL=${MLXS_TESTMODEL:-$BIN/tools/mlx-testmodel}
SERVING=${MLXS_SERVING:-}
if [ -z "$SERVING" ]; then
  for c in "$BIN/src/cli/mlx-serving" "$BIN/mlx-serving" "$BIN/bin/mlx-serving"; do
    if [ -x "$c" ]; then SERVING=$c; break; fi
  done
fi
if [ ! -x "$TESTMODEL" ]; then
  echo "error: mlx-testmodel not found at $TESTMODEL" >&2
  exit 1
fi
if [ -z "$SERVING" ] || [ ! -x "$SERVING" ]; then
  echo "SKIP: mlx-serving is not built under $BIN (set MLXS_SERVING to point at it)"
  exit 77
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Dimensions are multiples of 256 so the K-quants apply to every matrix.
SHAPE=(--dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --vocab 512 --ctx 256)
# Sixteen positions: enough for RoPE (and rope_freqs) to matter, all inside the vocabulary.
TOKENS=1,15,300,42,7,99,260,511,3,128,77,400,5,6,200,301

# Tolerances on the largest absolute logit error (logits have a spread of about 1). The
# engine may quantize activations for quantized weights (to Q8_0 or Q8_K, as llama.cpp does)
# and round them to f16/bf16 for half-precision weights; a numpy simulation of Q8
# activations gives errors up to about 0.1. The bugs this test exists for (wrong RoPE mode,
# missing bias, wrong head grouping, wrong block layout) give errors of 0.1 to several units.
tol_for() {
  case $1 in
    f32) echo 5e-3 ;;
    f16) echo 2e-2 ;;
    bf16) echo 1e-1 ;;
    *) echo 2.5e-1 ;;
  esac
}
SCALE=${MLXS_REF_TOL_SCALE:-1}

failed=()
skipped=()
passed=0
run_variant() {  # NAME TYPE [mlx-testmodel options...]
  local name=$1 type=$2
  shift 2
  if [ -n "${MLXS_REF_ONLY:-}" ] && ! [[ $name =~ $MLXS_REF_ONLY ]]; then return; fi
  local model=$WORK/$name.gguf
  local tol
  tol=$($PY -c "print(float('$(tol_for "$type")') * float('$SCALE'))")
  echo "=== $name"
  if ! "$TESTMODEL" -o "$model" "${SHAPE[@]}" --type "$type" --seed 7 "$@"; then
    failed+=("$name (mlx-testmodel failed)")
    return
  fi
  if "$PY" "$HERE/compare_logits.py" "$model" "$TOKENS" --binary "$SERVING" --tol "$tol"; then
    passed=$((passed + 1))
  else
    failed+=("$name")
  fi
  rm -f "$model"
}

# A Hugging Face folder (config.json + safetensors + tokenizer.json) of the same options.
# MLX-quantized folders count as skipped while the engine refuses them with a message about
# quantization, and run as soon as it accepts them.
run_folder_variant() {  # NAME TYPE [mlx-testmodel options...]
  local name=$1 type=$2
  shift 2
  if [ -n "${MLXS_REF_ONLY:-}" ] && ! [[ $name =~ $MLXS_REF_ONLY ]]; then return; fi
  local model=$WORK/$name
  local tol
  tol=$($PY -c "print(float('$(tol_for "$type")') * float('$SCALE'))")
  local skip=()
  case $type in mlx*) skip=(--skip-if-error quantiz) ;; esac
  echo "=== $name"
  if ! "$TESTMODEL" -o "$model" --format hf "${SHAPE[@]}" --type "$type" --seed 7 "$@"; then
    failed+=("$name (mlx-testmodel failed)")
    return
  fi
  "$PY" "$HERE/compare_logits.py" "$model" "$TOKENS" --binary "$SERVING" --tol "$tol" "${skip[@]}"
  case $? in
    0) passed=$((passed + 1)) ;;
    77) skipped+=("$name") ;;
    *) failed+=("$name") ;;
  esac
  rm -rf "$model"
}

for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m; do
  run_variant "llama_$t" "$t"
done
run_variant qwen2_f32 f32 --arch qwen2
run_variant qwen2_q8_0 q8_0 --arch qwen2
run_variant llama_tied_f32 f32 --tied-output
run_variant llama_rope_freqs_f32 f32 --rope-freqs --rope-base 500000
run_variant llama_mha_f32 f32 --kv-heads 4

run_folder_variant hf_llama_f32 f32
run_folder_variant hf_llama_bf16 bf16
run_folder_variant hf_qwen2_f16 f16 --arch qwen2
run_folder_variant hf_llama_tied_f32 f32 --tied-output
run_folder_variant hf_llama_rope_freqs_f32 f32 --rope-freqs --rope-base 500000
run_folder_variant hf_llama_sharded_f32 f32 --shards 3
run_folder_variant hf_llama_mlx4_g64 mlx4
run_folder_variant hf_llama_mlx4_g32 mlx4 --group-size 32
run_folder_variant hf_llama_mlx8_g128 mlx8 --group-size 128
run_folder_variant hf_qwen2_mlx4_g64 mlx4 --arch qwen2

echo
echo "reference logits: $passed passed, ${#skipped[@]} skipped, ${#failed[@]} failed"
for f in "${skipped[@]}"; do echo "  skipped: $f"; done
for f in "${failed[@]}"; do echo "  FAILED: $f"; done
[ ${#failed[@]} -eq 0 ]
