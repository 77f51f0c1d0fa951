#!/usr/bin/env python3
"""Time to first token with the prefix KV cache, through a running server.

Streams prompts and times the first text event of each: a cold prompt, the same prompt
again, a new question after the same long prefix, an unrelated cold prompt, and then
four users at once, each with a new question after a system prompt that one earlier
request has sent (the slowest of the four against that earlier request's cold TTFT).
Start the server with ttft_accelerator.kv_prep.enabled and the ttft_pipeline.kv_prep
flag on (docs/TTFT.md), then:

    /usr/bin/python3 bench/ttft_prefix.py --url http://127.0.0.1:3000 [--rules 60]
"""
import argparse
import threading

from ttft_client import stream_ttft


def ttft(url, prompt):
    return stream_ttft(url, prompt)


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

    # Four users at once sharing a system prompt that one earlier request has sent (the
    # steady state of a shared system prompt): each new question reuses the cached prefix.
    shared = system.replace("Rule", "Guideline")
    ms_cold, _, _ = ttft(args.url, shared + " Q: the first question?")
    results = [None] * 4
    def user(i):
        results[i] = ttft(args.url, shared + f" Q: question number {i} from another user?")
    threads = [threading.Thread(target=user, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    worst = max(r[0] for r in results)
    print(f"{'4 users, shared':16s} {worst:9.1f} {worst / ms_cold * 100:7.1f}% "
          f"{results[0][1]:7d} {min(r[2] for r in results):7d}  (slowest of 4 vs the prefix's cold TTFT)")


if __name__ == "__main__":
    main()
