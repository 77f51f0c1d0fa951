#!/usr/bin/python3
"""Compares mlx-serving's logits with the numpy reference forward pass.

    /usr/bin/python3 compare_logits.py MODEL 1,2,3 --binary BUILD/mlx-serving [--tol X]

MODEL is a GGUF file or a Hugging Face folder (config.json + safetensors).

Runs `mlx-serving logits -m MODEL --tokens 1,2,3`, which prints
{"n_vocab": V, "logits": [[V floats] per input position]}, computes the same logits with
reference_forward.py, and prints the largest absolute error and whether the argmax agrees
at every position. An argmax that differs counts as agreement when the reference logits of
the two tokens are within the tolerance of each other (a tie). Exit status: 0 when all
positions agree and the largest error is within the tolerance, 1 when not, 2 for usage or
engine failures. --engine-json FILE compares a saved engine output instead of running it.
--skip-if-error TEXT: when the engine fails with TEXT (case-insensitive) in its message, the
comparison is reported as skipped with exit status 77 (a feature the engine does not have
yet; the variant runs by itself once the engine accepts the model).
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_forward  # noqa: E402


class EngineFailed(RuntimeError):
    """The engine ran and refused the model (its message is the exception's text)."""


def run_engine(binary, model, tokens, timeout):
    cmd = [binary, "logits", "-m", model, "--tokens", tokens]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"cannot run {' '.join(cmd)}: {e}")
    if p.returncode != 0:
        raise EngineFailed(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout


def parse_engine_output(text, n_tokens):
    # The JSON object is the output; tolerate log lines before it.
    start = text.find("{")
    if start < 0:
        raise RuntimeError("engine printed no JSON object")
    try:
        obj = json.loads(text[start:])
    except json.JSONDecodeError as e:
        raise RuntimeError(f"engine output is not valid JSON: {e}")
    logits = np.asarray(obj.get("logits"), dtype=np.float64)
    n_vocab = obj.get("n_vocab")
    if logits.ndim != 2 or logits.shape[0] != n_tokens or logits.shape[1] != n_vocab:
        raise RuntimeError(f"engine logits have shape {logits.shape}, expected "
                           f"({n_tokens}, {n_vocab}) for n_vocab {n_vocab}")
    return logits


def compare(ref, got, tol):
    """Prints a line per position; returns (max abs error, all argmax agree)."""
    worst = 0.0
    all_agree = True
    for pos in range(ref.shape[0]):
        err = float(np.abs(ref[pos] - got[pos]).max())
        worst = max(worst, err)
        a_ref, a_got = int(np.argmax(ref[pos])), int(np.argmax(got[pos]))
        gap = float(ref[pos, a_ref] - ref[pos, a_got])
        if a_ref == a_got:
            verdict = "agree"
        elif gap <= tol:
            verdict = f"tie ({a_ref} vs {a_got}, reference gap {gap:.2e})"
        else:
            verdict = f"DIFFER (reference {a_ref}, engine {a_got}, reference gap {gap:.2e})"
            all_agree = False
        print(f"  pos {pos:3d}: max abs error {err:.3e}  argmax {verdict}")
    return worst, all_agree


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("tokens", help="comma-separated token ids, e.g. 1,2,3")
    ap.add_argument("--binary", help="path to mlx-serving")
    ap.add_argument("--engine-json", help="compare this saved engine output instead")
    ap.add_argument("--tol", type=float, default=1e-2, help="largest allowed abs error")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip-if-error", metavar="TEXT",
                    help="exit 77 (skipped) when the engine fails with TEXT in its message")
    args = ap.parse_args()
    if not args.binary and not args.engine_json:
        ap.error("give --binary (or --engine-json)")

    try:
        tokens = reference_forward.parse_tokens(args.tokens)
        if args.engine_json:
            with open(args.engine_json) as f:
                text = f.read()
        else:
            text = run_engine(args.binary, args.model, args.tokens, args.timeout)
        got = parse_engine_output(text, len(tokens))
    except EngineFailed as e:
        if args.skip_if_error and args.skip_if_error.lower() in str(e).lower():
            print(f"SKIP: the engine does not support this model yet: {e}")
            return 77
        print(f"compare_logits: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, OSError) as e:
        print(f"compare_logits: {e}", file=sys.stderr)
        return 2

    model = reference_forward.Model(args.model)
    ref = reference_forward.forward(model, tokens)
    if got.shape[1] != ref.shape[1]:
        print(f"compare_logits: engine n_vocab {got.shape[1]} != model vocabulary {ref.shape[1]}",
              file=sys.stderr)
        return 2
    print(f"{os.path.basename(args.model)}: {len(tokens)} tokens, n_vocab {ref.shape[1]}, tol {args.tol:g}")
    worst, agree = compare(ref, got, args.tol)
    ok = worst <= args.tol and agree and np.isfinite(got).all()
    print(f"  max abs error {worst:.3e} (tol {args.tol:g}), argmax "
          f"{'agrees' if agree else 'DIFFERS'}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
