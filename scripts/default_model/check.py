"""Checks that the serving engine reads the written GGUF exactly as PyTorch computes it.

The reference is the PyTorch model with its matrices rounded to the stored values (F16 or
Q8_0), and the engine keeps its KV cache in f32 here. With F16 matrices the logits then agree
to float rounding; with Q8_0 the engine also rounds activations to 8 bits inside its dot
products, so they agree to a few percent of the logits' spread.
"""
import json
import subprocess

import torch

from . import corpus, gguf_export
from . import gguf_writer as gw

CHECK_PROMPT = "A fool and his money are soon"
# Largest logit difference accepted, relative to the spread (std) of the logits.
MAX_REL_DIFF = {gw.F16: 1e-3, gw.F32: 1e-4, gw.Q8_0: 0.1}


def engine(binary, *args):
  p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
  if p.returncode != 0:
    raise SystemExit(f"{binary} {' '.join(args[:1])} failed ({p.returncode}): {p.stderr}")
  return p.stdout


@torch.no_grad()
def greedy(model, ids, n):
  ids = list(ids)
  for _ in range(n):
    ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
  return ids


def check_tokenizer(binary, path, tok, log):
  text = "Don't panic!  It's 42 o'clock -- the answer is \"ALWAYS\" maybe.\n\tIt's e=mc^2."
  mine = [tok.special_ids[corpus.ENDOFTEXT]] + tok.encode(text, parse_special=False)
  theirs = json.loads(engine(binary, "tokenize", "-m", path, "--no-parse-special", text))
  log(f"tokenizer: {'same' if mine == theirs else 'DIFFERENT'} ids for {len(mine)} tokens")
  if mine != theirs:
    raise SystemExit(f"tokenizers disagree:\n python {mine}\n engine {theirs}")


def check_logits(binary, path, ref, tok, log, tolerance):
  ids = [tok.special_ids[corpus.ENDOFTEXT]] + tok.encode(CHECK_PROMPT)
  with torch.no_grad():
    want = ref(torch.tensor([ids]))[0]
  out = json.loads(engine(binary, "logits", "-m", path, "--kv-type", "f32",
                          "--tokens", ",".join(map(str, ids))))
  got = torch.tensor(out["logits"])
  diff = (got - want).abs().max().item()
  spread = want.std().item()
  same_top = (got.argmax(-1) == want.argmax(-1)).float().mean().item()
  log(f"logits: {len(ids)} positions, max |engine - torch| = {diff:.4f} "
      f"(logit std {spread:.2f}, relative {diff / spread:.4f}); same argmax at "
      f"{same_top * 100:.0f}% of positions")
  if diff > tolerance * spread:
    raise SystemExit(f"engine logits differ from PyTorch by {diff:.4f} (> {tolerance} * std)")


def check_greedy(binary, path, ref, tok, log, tolerance, n=24):
  ids = [tok.special_ids[corpus.ENDOFTEXT]] + tok.encode(CHECK_PROMPT)
  want = greedy(ref, ids, n)[len(ids):]
  out = json.loads(engine(binary, "generate", "-m", path, "-p", CHECK_PROMPT, "-n", str(n),
                          "--temperature", "0", "--ignore-eos", "--kv-type", "f32", "--json"))
  got = out["tokens"]
  agree = 0
  while agree < min(len(got), len(want)) and got[agree] == want[agree]:
    agree += 1
  log(f"greedy: engine and torch agree on {agree}/{n} tokens: {tok.decode(want)!r}")
  if agree < n:
    # Only acceptable where torch itself sees a near tie between the two choices.
    with torch.no_grad():
      row = ref(torch.tensor([ids + want[:agree]]))[0, -1]
    top2 = row.topk(2).values
    margin = (top2[0] - top2[1]).item()
    log(f"greedy: first difference at token {agree}, torch's top-2 margin {margin:.4f}")
    if margin > tolerance * row.std().item():
      raise SystemExit("greedy continuations differ where PyTorch has a clear choice")


def perplexity(binary, path, held_text, ctx, log):
  out = subprocess.run([binary, "perplexity", "-m", path, "-f", held_text, "-c", str(ctx)],
                       capture_output=True, text=True, timeout=1200)
  if out.returncode != 0:
    raise SystemExit(f"perplexity failed: {out.stderr}")
  line = [l for l in out.stdout.splitlines() if l.startswith("PPL")][-1]
  log(f"held-out perplexity (engine, ctx {ctx}, second half of each chunk): {line}")
  return line


def samples(binary, path, log):
  runs = [
    ("The", []), ("A wise man", []), ("Computers are", []),
    ("Tell me a fortune.", ["--chat"]), ("Say something about love.", ["--chat"]),
  ]
  for prompt, extra in runs:
    for flags in (["--temperature", "0"], ["--temperature", "0.7", "--seed", "7"]):
      text = engine(binary, "generate", "-m", path, "-p", prompt, "-n", "60",
                    "--repeat-penalty", "1.1", *flags, *extra)
      kind = "chat" if extra else "plain"
      log(f"sample ({kind}, {' '.join(flags)}): {prompt!r} -> {text.strip()!r}")


def run_all(binary, path, model, tok, held_text, matrix_type, log=print):
  ref = gguf_export.quantized_copy(model, matrix_type)
  ref.eval()
  tolerance = MAX_REL_DIFF[matrix_type]
  check_tokenizer(binary, path, tok, log)
  check_logits(binary, path, ref, tok, log, tolerance)
  check_greedy(binary, path, ref, tok, log, tolerance)
  perplexity(binary, path, held_text, model.cfg.ctx, log)
  samples(binary, path, log)
