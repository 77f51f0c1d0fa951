#!/usr/bin/python3
"""Cross-checks two dequantizers: numpy's (gguf_reader.py) against the C++ kernels'
quant_ops, via the mlx-dequant tool, on every tensor of the given GGUF files.

    /usr/bin/python3 check_dequant.py --tool BUILD/tools/mlx-dequant MODEL.gguf...
    /usr/bin/python3 check_dequant.py --tool BUILD/tools/mlx-dequant \
        --testmodel BUILD/tools/mlx-testmodel      # generates one model per type first

Exits 1 when any tensor differs by more than --tol (relative to the tensor's largest
magnitude); both follow ggml's float32 arithmetic, so differences should be zero or at
rounding level.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader  # noqa: E402


def check_file(tool, path, tol):
    f = gguf_reader.GgufFile(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "dequant.f32")
        subprocess.run([tool, path, out], check=True)
        cpp = np.fromfile(out, dtype="<f4")
    expected = sum(t.n_elements for t in f.tensors.values())
    if cpp.size != expected:
        print(f"FAIL {path}: mlx-dequant wrote {cpp.size} values, expected {expected}")
        return False
    ok = True
    pos = 0
    worst = {}
    for t in f.tensors.values():
        a = cpp[pos:pos + t.n_elements]
        pos += t.n_elements
        b = f.dequantize(t.name).reshape(-1)
        scale = max(float(np.abs(b).max()), 1e-30)
        err = float(np.abs(a.astype(np.float64) - b).max()) / scale
        worst[t.type_name] = max(worst.get(t.type_name, 0.0), err)
        if not np.isfinite(a).all() or err > tol:
            print(f"FAIL {path}: {t.name} ({t.type_name}): max relative difference {err:.3g}")
            ok = False
    summary = ", ".join(f"{k} {v:.2g}" for k, v in sorted(worst.items()))
    print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(path)}: {len(f.tensors)} tensors; "
          f"max relative difference by type: {summary}")
    return ok


# One small model per matrix type, plus a shape whose rows force the K-quant fallbacks.
GENERATED = [["--type", t] for t in ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0",
                                     "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q4_k_m")]
GENERATED += [["--type", t, "--dim", "96", "--ffn", "160", "--heads", "4"]
              for t in ("q2_k", "q4_k", "q5_k", "q6_k")]


def generate(testmodel, tmp):
    paths = []
    for k, args in enumerate(GENERATED):
        path = os.path.join(tmp, f"m{k}_{args[1]}.gguf")
        subprocess.run([testmodel, "-o", path, "--seed", str(k), *args], check=True,
                       stderr=subprocess.DEVNULL)
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", required=True, help="path to mlx-dequant")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--testmodel", help="path to mlx-testmodel: check freshly generated models")
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    if not args.models and not args.testmodel:
        ap.error("give model files or --testmodel")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        models = list(args.models)
        if args.testmodel:
            models += generate(args.testmodel, tmp)
        for m in models:
            ok = check_file(args.tool, m, args.tol) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
