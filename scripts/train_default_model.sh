#!/usr/bin/env bash
# Trains models/default.gguf, the model `mlx-serving serve` uses when given none.
# Installs the Debian packages it needs (idempotent), then runs train_default_model.py.
#
# Usage: scripts/train_default_model.sh [extra train_default_model.py options]
# Run time: about 40 minutes on 2 busy CPU cores (38 minutes of training, bounded by
# --minutes, plus tokenizer training, export and checks); extra cores finish more steps in
# the same time. If build/src/cli/mlx-serving exists, the script also checks that the
# engine computes the same logits as PyTorch and reports the engine's perplexity.
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas0 matters: Debian's torch calls the system BLAS, and the reference BLAS is
# about 40 times slower for the matrix products training spends its time in.
PACKAGES=(python3 python3-torch python3-numpy fortunes libopenblas0-pthread)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "train_default_model: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

mkdir -p models build/default-model
exec /usr/bin/python3 -u scripts/train_default_model.py -o models/default.gguf \
  --work build/default-model --engine build/src/cli/mlx-serving "$@"
