#!/usr/bin/env python3
"""The spec's TTFT benchmark table, measured on our engine: the TTFT pipeline off and on,
in the same run, on the same model.

Starts two servers from the same binary and model, one with the pipeline off
(ttft_accelerator.enabled: false, the ttft_pipeline flag off) and one with all of it on
(warm queue, first-token speculation without an allowlist, prefix KV cache), and times
the first streamed text of each request. Requests alternate between the two servers, so
both see the same machine; only one server is busy at a time.

Scenarios (each sample is a new prompt unless said otherwise):
  cold       a prompt no server has seen (a unique opening line, then --words words)
  warm       a cold prompt sent while another request is being prefilled: its
             tokenization overlaps that work (the warm queue)
  repeated   the previous cold prompt again (speculation and the prefix cache)
  shared     a new question after a --words-word system prompt sent once before
  p95        --users users at once, --per-user requests each, every one a new question
             after that system prompt: the 95th percentile of all their TTFTs

    /usr/bin/python3 bench/ttft_pipeline.py --model /path/model.gguf [--binary PATH]
        [--words 400] [--samples 3] [--threads 2] [--n-ctx 2048]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from ttft_client import stream_ttft

RUNTIME = """model:
  path: {model}
  n_ctx: {n_ctx}
  threads: {threads}
ttft_accelerator:
  enabled: {on}
  warm_queue:
    max_size: 100
    ttl_ms: 800
    priority_by_tokens: true
  speculation:
    enabled: {on}
    allowlist_only: false
    max_candidates: 1000
    min_confidence: 0.85
    decay_factor: 0.8
  kv_prep:
    enabled: {on}
    prefetch_enabled: true
    cache_warmup_ms: 0
"""

FLAGS = """phase4_rollout:
  enabled: true
  percentage: 100
ttft_pipeline:
  enabled: {on}
  rollout_percentage: 100
  warmup_queue:
    enabled: true
  speculation:
    enabled: true
    allowlist_only: false
  kv_prep:
    enabled: true
observability:
  log_feature_decisions: false
"""

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above "
         "quiet hills and rivers carry stories toward distant cities where people gather "
         "to share bread music and long evenings of careful conversation").split()


class Server:
    def __init__(self, binary, workdir, on, args):
        os.makedirs(workdir)
        b = "true" if on else "false"
        cfg = os.path.join(workdir, "runtime.yaml")
        with open(cfg, "w") as f:
            f.write(RUNTIME.format(model=args.model, n_ctx=args.n_ctx, threads=args.threads, on=b))
        with open(os.path.join(workdir, "feature-flags.yaml"), "w") as f:
            f.write(FLAGS.format(on=b))
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg, "--port", "0",
                                      "--log-level", "info"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        for line in self.proc.stderr:
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise SystemExit("the server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not load the model")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)

    def ttft(self, prompt, max_tokens=4):
        """(TTFT ms, prompt tokens, cached tokens) of one streamed greedy completion."""
        return stream_ttft(f"http://127.0.0.1:{self.port}", prompt, max_tokens)

    def admin(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/admin/ttft")
        return json.loads(c.getresponse().read())


def text(n_words, seed):
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(n_words))


counter = [0]


def cold_prompt(words):
    counter[0] += 1
    n = counter[0]
    # A unique first line: no prefix in common with anything sent before.
    return f"Document {n * 7919 % 100003} of the archive, entry {n}.\n" + text(words, n)


def p95(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--binary", default=os.path.join(here, "..", "build", "src", "cli", "mlx-serving"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--words", type=int, default=400)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--per-user", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=2048)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="mlxs-ttft-bench-")
    servers = {}
    try:
        servers["off"] = Server(args.binary, os.path.join(tmp, "off"), False, args)
        servers["on"] = Server(args.binary, os.path.join(tmp, "on"), True, args)
        results = {k: {"cold": [], "warm": [], "repeated": [], "shared": [], "p95": None}
                   for k in servers}
        tokens = {}

        # cold, then the same prompt again (repeated); off and on alternate.
        for i in range(args.samples):
            for name in (("off", "on") if i % 2 == 0 else ("on", "off")):
                p = cold_prompt(args.words)
                ms, n, _ = servers[name].ttft(p)
                results[name]["cold"].append(ms)
                tokens["cold"] = n
                ms, n, cached = servers[name].ttft(p)
                results[name]["repeated"].append(ms)
                tokens.setdefault("repeated cached " + name, cached)

        # warm: a cold prompt arriving while another cold prompt is being prefilled.
        for i in range(args.samples):
            for name in (("off", "on") if i % 2 == 0 else ("on", "off")):
                bg = threading.Thread(target=servers[name].ttft, args=(cold_prompt(args.words), 8))
                bg.start()
                time.sleep(0.2)
                ms, _, _ = servers[name].ttft(cold_prompt(args.words))
                bg.join()
                results[name]["warm"].append(ms)

        # shared: a system prompt sent once, then new questions after it.
        system = "System instructions.\n" + text(args.words, 999)
        for name in servers:
            servers[name].ttft(system + "\nQuestion 0: where do we start?")
        for i in range(args.samples):
            for name in (("off", "on") if i % 2 == 0 else ("on", "off")):
                ms, n, cached = servers[name].ttft(system + f"\nQuestion {i + 1}: what comes next?")
                results[name]["shared"].append(ms)
                tokens["shared"] = n
                tokens["shared cached " + name] = cached

        # p95: users at once, each with a few new questions after the system prompt.
        for name in ("off", "on"):
            out = []
            lock = threading.Lock()

            first_round = []

            def user(u, name=name, out=out, lock=lock, first_round=first_round):
                for k in range(args.per_user):
                    ms, _, _ = servers[name].ttft(system + f"\nUser {u} asks question {k}: why?")
                    with lock:
                        out.append(ms)
                        if k == 0:
                            first_round.append(ms)

            threads = [threading.Thread(target=user, args=(u,)) for u in range(args.users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results[name]["p95"] = p95(out)
            results[name]["p95_all"] = out
            # The users' first requests, all at once: the slowest of them.
            results[name]["together"] = max(first_round)

        med = {k: {s: statistics.median(v) for s, v in r.items() if isinstance(v, list) and v and s != "p95_all"}
               for k, r in results.items()}
        for k in results:
            med[k]["p95"] = results[k]["p95"]
            med[k]["together"] = results[k]["together"]
        rows = [("Cold prompt", "cold"), ("Warm prompt (queue)", "warm"),
                ("Repeated prompt (speculation + prefix cache)", "repeated"),
                ("Shared system prompt, new question", "shared"),
                (f"{args.users} users at once, new questions after that system prompt (slowest)",
                 "together"),
                (f"P95 latency ({args.users} users x {args.per_user}, shared system prompt)", "p95")]
        print(f"model {os.path.basename(args.model)}, {tokens.get('cold')}-token cold prompts "
              f"({args.words} words), {args.threads} threads, median of {args.samples}\n")
        print("| Scenario | Pipeline off TTFT | Pipeline on TTFT | On vs off | On vs cold (off) |")
        print("|---|---|---|---|---|")
        cold_off = med["off"]["cold"]
        for label, key in rows:
            off, on = med["off"][key], med["on"][key]
            print(f"| {label} | {off:.0f} ms | {on:.0f} ms | {on / off * 100:.1f} % | "
                  f"{on / cold_off * 100:.1f} % |")
        print()
        for k in ("on", "off"):
            a = servers[k].admin()
            print(f"{k}: queue {a['queue']['totalQueued']} queued, hit rate {a['queue']['hitRate']:.2f}; "
                  f"speculation {a['speculation']['totalHits']} hits / {a['speculation']['totalMisses']} misses; "
                  f"prefix cache {a['prefix_cache']['hits']} hits")
        print("raw:", json.dumps({k: {s: [round(x) for x in v] if isinstance(v, list) else round(v)
                                      for s, v in r.items()} for k, r in results.items()}))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
