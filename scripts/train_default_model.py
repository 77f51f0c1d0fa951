#!/usr/bin/python3
"""Trains the small default model that `mlx-serving serve` uses when no model is given.

The corpus is the fortune cookie collection of Debian's `fortunes` package; the model is a
Llama decoder with a byte-level BPE tokenizer learnt here, a ChatML chat template, written as
GGUF with F16 (or Q8_0) matrices. After training, the script checks that the serving engine computes
the same logits as PyTorch from the written file, and reports held-out perplexity.

Usage: /usr/bin/python3 scripts/train_default_model.py -o models/default.gguf
       [--work DIR] [--minutes 38] [--engine build/src/cli/mlx-serving]
Everything is deterministic given the seed except how far training gets in --minutes.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from default_model import bpe, corpus, llama, train  # noqa: E402

MATRIX_TYPES = {"f32": 0, "f16": 1, "q8_0": 8}  # ggml type ids
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
  print(time.strftime("%H:%M:%S"), msg, flush=True)


def load_or_train_tokenizer(path, docs, vocab_size):
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      state = json.load(f)
    if len(state["tokens"]) == vocab_size:
      log(f"tokenizer: loaded {path}")
      return bpe.Tokenizer(state["tokens"], [tuple(m) for m in state["merges"]],
                           state["specials"])
  t0 = time.time()
  tok = bpe.train(docs, vocab_size, corpus.SPECIAL_TOKENS)
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"tokens": tok.tokens, "merges": tok.merges, "specials": tok.specials}, f)
  log(f"tokenizer: {len(tok.tokens)} tokens, {len(tok.merges)} merges in {time.time() - t0:.0f} s")
  return tok


def stream(tok, docs):
  """Documents, each preceded by <|endoftext|>: BOS at the start, separator in between."""
  eot = tok.special_ids[corpus.ENDOFTEXT]
  ids = []
  for d in docs:
    ids.append(eot)
    ids.extend(tok.encode(d))
  return torch.tensor(ids, dtype=torch.long)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  ap.add_argument("-o", "--output", default=os.path.join(REPO, "models/default.gguf"))
  ap.add_argument("--work", default=os.path.join(REPO, "build/default-model"),
                  help="tokenizer, checkpoint and held-out text (resumable)")
  ap.add_argument("--minutes", type=float, default=38.0, help="training wall-time budget")
  ap.add_argument("--max-steps", type=int, default=4000)
  ap.add_argument("--seed", type=int, default=1234)
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--type", choices=sorted(MATRIX_TYPES), default="f16",
                  help="storage of the weight matrices (f16 is 5 MB and exact; q8_0 is 2.7 MB)")
  ap.add_argument("--engine", default=os.path.join(REPO, "build/src/cli/mlx-serving"),
                  help="mlx-serving binary for the agreement check (skipped if absent)")
  args = ap.parse_args()
  torch.set_num_threads(args.threads)
  os.makedirs(args.work, exist_ok=True)
  cfg = llama.Config()

  fortunes = corpus.read_fortunes()
  train_f, held_f = corpus.split(fortunes)
  docs = corpus.documents(train_f, args.seed)
  log(f"corpus: {len(fortunes)} fortunes, {len(held_f)} held out; {len(docs)} training documents")
  tok = load_or_train_tokenizer(os.path.join(args.work, "tokenizer.json"), docs, cfg.vocab_size)
  train_data = stream(tok, docs)
  held_data = stream(tok, held_f)
  held_text = os.path.join(args.work, "held_out.txt")
  with open(held_text, "w", encoding="utf-8") as f:
    f.write("\n\n".join(held_f) + "\n")
  log(f"tokens: {len(train_data)} training, {len(held_data)} held out")

  model, steps, seconds = train.run(cfg, train_data, held_data,
                                    os.path.join(args.work, "checkpoint.pt"), args.seed,
                                    args.max_steps, args.minutes, log=log)
  held = train.mean_loss(model, held_data, cfg.ctx)
  log(f"held-out perplexity (PyTorch, f32 weights, ctx {cfg.ctx}): {math.exp(held):.2f}")

  from default_model import check, gguf_export  # noqa: E402
  matrix_type = MATRIX_TYPES[args.type]
  gguf_export.write_model(args.output, model, tok, matrix_type)
  log(f"wrote {args.output} ({os.path.getsize(args.output) / 1e6:.2f} MB)")
  if os.path.exists(args.engine):
    check.run_all(args.engine, args.output, model, tok, held_text, matrix_type, log=log)
  else:
    log(f"{args.engine} not found: skipping the engine agreement check")
  log(f"done: {steps} steps, {seconds / 60:.1f} min of training")


if __name__ == "__main__":
  main()
