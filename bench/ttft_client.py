"""Time to first token of one streamed greedy completion, as a client sees it: the time
from sending the request to the first SSE event that carries text. Shared by the TTFT
benchmarks."""
import http.client
import json
import time
import urllib.parse


def stream_ttft(url, prompt, max_tokens=4):
    """(TTFT ms, prompt tokens, cached prompt tokens) of a streamed completion of `prompt`
    at `url` (http://host:port)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=900)
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "ignore_eos": True, "stream_options": {"include_usage": True}}
    start = time.perf_counter()
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
            first = time.perf_counter() - start
        if event.get("usage"):
            usage = event["usage"]
    conn.close()
    return first * 1000, usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]
