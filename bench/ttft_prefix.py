#!/usr/bin/env python3
"""Time to first token with the prefix KV cache, through a running server.

Streams four prompts and times the first text event of each: a cold prompt, the same
prompt again, a new question after the same long prefix, and an unrelated cold prompt.
Start the server with ttft_accelerator.kv_prep.enabled and the ttft_pipeline.kv_prep
flag on (docs/TTFT.md), then:

    /usr/bin/python3 bench/ttft_prefix.py --url http://127.0.0.1:3000 [--rules 60]
"""
import argparse
import http.client
import json
import time
import urllib.parse


def ttft(url, prompt):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=600)
    body = {"prompt": prompt, "max_tokens": 4, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.time()
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"HTTP {resp.status}: {resp.read().decode()}")
    first, usage = None, None
    for line in resp:
        line = line.decode().strip()
        if not line.startswith("data: {"):
            continue
        event = json.loads(line[6:])
        if first is None and event.get("choices"):
            first = time.time() - start
        if event.get("usage"):
            usage = event["usage"]
    return first * 1000, usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:3000")
    ap.add_argument("--rules", type=int, default=60, help="length of the shared prefix, in rules")
    args = ap.parse_args()
    system = " ".join(f"Rule {i}: answer politely, cite sources, and keep every reply under "
                      "fifty words." for i in range(args.rules))
    cases = [("cold", system + " Q: what is the capital of France?"),
             ("repeated", system + " Q: what is the capital of France?"),
             ("shared prefix", system + " Q: how tall is Mount Everest?"),
             ("cold, unrelated", "Completely different text. " * (2 * args.rules))]
    cold = None
    print(f"{'prompt':16s} {'TTFT ms':>9s} {'vs cold':>8s} {'tokens':>7s} {'cached':>7s}")
    for name, prompt in cases:
        ms, n, cached = ttft(args.url, prompt)
        cold = cold or ms
        print(f"{name:16s} {ms:9.1f} {ms / cold * 100:7.1f}% {n:7d} {cached:7d}")


if __name__ == "__main__":
    main()
