"""The training loop: random windows of the token stream, AdamW, warm-up then cosine decay.

Training is bounded by steps and by wall time: the schedule follows whichever runs out
first, so a slow machine ends with a fully decayed learning rate instead of being cut off.
A checkpoint is written every few minutes and training resumes from it.
"""
import math
import os
import time

import torch
import torch.nn.functional as F

from . import llama


def lr_at(progress, step, peak, warmup, floor=0.1):
  if step < warmup:
    return peak * (step + 1) / warmup
  return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def batch(data, batch_size, ctx, gen):
  starts = torch.randint(0, len(data) - ctx - 1, (batch_size,), generator=gen)
  x = torch.stack([data[s:s + ctx] for s in starts])
  y = torch.stack([data[s + 1:s + ctx + 1] for s in starts])
  return x, y


@torch.no_grad()
def mean_loss(model, data, ctx, max_windows=None):
  """Mean next-token loss over consecutive windows of `data`."""
  model.eval()
  total, count = 0.0, 0
  n = (len(data) - 1) // ctx
  if max_windows:
    n = min(n, max_windows)
  for w in range(0, n, 8):
    rows = range(w, min(n, w + 8))
    x = torch.stack([data[r * ctx:(r + 1) * ctx] for r in rows])
    y = torch.stack([data[r * ctx + 1:(r + 1) * ctx + 1] for r in rows])
    logits = model(x)
    total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                             reduction="sum").item()
    count += y.numel()
  model.train()
  return total / count


def save(path, model, opt, step, elapsed):
  tmp = path + ".tmp"
  torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
              "elapsed": elapsed, "config": model.cfg.__dict__}, tmp)
  os.replace(tmp, path)


def run(cfg, train_data, held_data, ckpt_path, seed, max_steps, minutes, batch_size=8,
        peak_lr=3e-3, warmup=30, log=print):
  torch.manual_seed(seed)
  model = llama.Llama(cfg)
  decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
  no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
  opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=peak_lr, betas=(0.9, 0.95))
  step, elapsed = 0, 0.0
  if os.path.exists(ckpt_path):
    state = torch.load(ckpt_path)
    if state["config"] != cfg.__dict__:
      raise SystemExit(f"{ckpt_path} holds a model of another shape; delete it to start over")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    step, elapsed = state["step"], state["elapsed"]
    log(f"resuming at step {step} ({elapsed / 60:.1f} min done)")
  log(f"model: {model.n_params() / 1e6:.2f}M parameters; {len(train_data)} training tokens")
  gen = torch.Generator().manual_seed(seed + step)
  budget = minutes * 60
  start = time.time() - elapsed
  last_save = time.time()
  while True:
    elapsed = time.time() - start
    progress = max(step / max_steps, elapsed / budget)
    if progress >= 1:
      break
    lr = lr_at(progress, step, peak_lr, warmup)
    for g in opt.param_groups:
      g["lr"] = lr
    x, y = batch(train_data, batch_size, cfg.ctx, gen)
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    step += 1
    if step % 10 == 0:
      log(f"step {step} loss {loss.item():.3f} lr {lr:.2e} {elapsed / 60:.1f} min "
          f"({step * batch_size * cfg.ctx / max(elapsed, 1):.0f} tok/s)")
    if time.time() - last_save > 180:
      held = mean_loss(model, held_data, cfg.ctx, max_windows=16)
      log(f"step {step} held-out loss {held:.3f} (ppl {math.exp(held):.1f}); checkpoint saved")
      save(ckpt_path, model, opt, step, time.time() - start)
      last_save = time.time()
  save(ckpt_path, model, opt, step, time.time() - start)
  log(f"trained {step} steps in {(time.time() - start) / 60:.1f} min")
  model.eval()
  return model, step, time.time() - start
