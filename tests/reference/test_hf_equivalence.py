#!/usr/bin/python3
"""GGUF file vs Hugging Face folder of the same mlx-testmodel options and seed, through the
engine: `mlx-serving logits` must agree within a small tolerance (the folder rotates with
NEOX on rows in Hugging Face order, the GGUF with adjacent pairs on permuted rows: the same
function, summed in another order), and greedy `mlx-serving generate` must give the same
prompt tokens and the same 16 generated tokens.

    /usr/bin/python3 test_hf_equivalence.py --testmodel BUILD/tools/mlx-testmodel \\
        --serving BUILD/src/cli/mlx-serving

Exit 77 (CTest: skipped) when mlx-serving is not built. Prints the largest logit difference
seen per variant and overall.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

SHAPE = ["--dim", "256", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "512",
         "--vocab", "512", "--ctx", "256"]
TOKENS = "1,15,300,42,7,99,260,511,3,128,77,400,5,6,200,301"
PROMPT = "the quick brown fox jumps over the lazy dog"
TOL = 1e-3  # the logits have a spread of about 1; a wrong rotation or row order gives ~1
VARIANTS = [  # name, mlx-testmodel options
    ("llama_f32", ["--type", "f32"]),
    ("llama_f16", ["--type", "f16"]),
    ("llama_bf16", ["--type", "bf16"]),
    ("llama_mha_f32", ["--type", "f32", "--kv-heads", "4"]),
    ("llama_tied_f32", ["--type", "f32", "--tied-output"]),
    ("llama_rope_freqs_f32", ["--type", "f32", "--rope-freqs", "--rope-base", "500000"]),
    ("llama_sharded_f16", ["--type", "f16", "--shards", "3"]),
    ("qwen2_gpt2_f32", ["--type", "f32", "--arch", "qwen2", "--tokenizer", "gpt2"]),
    ("qwen2_bf16", ["--type", "bf16", "--arch", "qwen2"]),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout


def logits(serving, model):
    return np.asarray(json.loads(run([serving, "logits", "-m", model, "--tokens", TOKENS]))["logits"])


def generate(serving, model):
    out = json.loads(run([serving, "generate", "-m", model, "-p", PROMPT, "--temperature", "0",
                          "--ignore-eos", "-n", "16", "--json"]))
    return out["prompt_tokens"], out["tokens"]


def check(testmodel, serving, tmp, name, opts):
    gguf = os.path.join(tmp, name + ".gguf")
    folder = os.path.join(tmp, name)
    args = [*SHAPE, "--seed", "11", *opts]
    # The GGUF cannot be sharded; every other option means the same for both formats.
    gguf_args = [a for i, a in enumerate(args) if a != "--shards" and (i == 0 or args[i - 1] != "--shards")]
    run([testmodel, "-o", gguf, *gguf_args])
    run([testmodel, "-o", folder, "--format", "hf", *args])
    a, b = logits(serving, gguf), logits(serving, folder)
    err = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
    ga, gb = generate(serving, gguf), generate(serving, folder)
    ok = err <= TOL and ga == gb
    print(f"{name:24s} max |logit(gguf) - logit(folder)| = {err:.3e}  "
          f"greedy tokens {'equal' if ga == gb else f'DIFFER: {ga} vs {gb}'}  {'PASS' if ok else 'FAIL'}")
    os.remove(gguf)
    shutil.rmtree(folder)
    return ok, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testmodel", required=True)
    ap.add_argument("--serving")
    args = ap.parse_args()
    if not args.serving or not os.access(args.serving, os.X_OK):
        print("SKIP: mlx-serving is not built")
        return 77
    failed, worst = [], 0.0
    with tempfile.TemporaryDirectory(prefix="mlxs-hf-eq-") as tmp:
        for name, opts in VARIANTS:
            try:
                ok, err = check(args.testmodel, args.serving, tmp, name, opts)
            except (RuntimeError, ValueError, KeyError) as e:
                print(f"{name:24s} ERROR: {e}")
                ok, err = False, float("inf")
            worst = max(worst, err)
            if not ok:
                failed.append(name)
    print(f"\nGGUF vs folder: {len(VARIANTS) - len(failed)} passed, {len(failed)} failed; "
          f"largest logit difference {worst:.3e} (tol {TOL:g})")
    for f in failed:
        print(f"  FAILED: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
