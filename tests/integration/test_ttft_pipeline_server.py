"""The TTFT acceleration pipeline through the real `mlx-serving serve`: prompts tokenized
on the warm queue give exactly the answers of a server without it, and its errors are the
same; first-token speculation streams an allowlisted prompt's remembered first token and
checks it (GET /admin/ttft counts hits); POST /v1/ttft/prefetch fills the prefix cache for
the request to come; ttft_hint is validated; the events and metrics are exported.

Run: /usr/bin/python3 tests/integration/test_ttft_pipeline_server.py BUILD_DIR
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model, parse_sse, promtool_problems, wait_for  # noqa: E402

BUILD = None

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
    allowlist_only: {flag_allowlist_only}
  kv_prep:
    enabled: true
observability:
  log_feature_decisions: false
"""

RUNTIME = """model:
  path: {model}
  n_ctx: 512
  threads: 2
ttft_accelerator:
  enabled: {on}
  warm_queue:
    max_size: 100
    ttl_ms: 800
    priority_by_tokens: true
  speculation:
    enabled: true
    allowlist_only: true
    max_candidates: 100
    min_confidence: 0.85
    decay_factor: 0.8
    allowlist:
      - "Tell me about the sea."
  kv_prep:
    enabled: {on}
    prefetch_enabled: {prefetch}
    cache_warmup_ms: 0
"""

SYSTEM = " ".join(f"rule {i} is kind." for i in range(8))


class TtftPipelineServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-ttft-")
        cls.model = make_model(BUILD, os.path.join(cls.tmp, "m.gguf"), seed=13)
        cls.on = cls.start_server("on")
        cls.off = cls.start_server("off", on=False)

    @classmethod
    def tearDownClass(cls):
        cls.on.kill()
        cls.off.kill()
        shutil.rmtree(cls.tmp)

    @classmethod
    def start_server(cls, name, on=True, prefetch=True, flag_allowlist_only=True):
        d = os.path.join(cls.tmp, name)
        os.makedirs(d)
        b = lambda v: str(v).lower()  # noqa: E731
        with open(os.path.join(d, "runtime.yaml"), "w") as f:
            f.write(RUNTIME.format(model=cls.model, on=b(on), prefetch=b(prefetch)))
        with open(os.path.join(d, "feature-flags.yaml"), "w") as f:
            f.write(FLAGS.format(on=b(on), flag_allowlist_only=b(flag_allowlist_only)))
        return Server(BUILD, ["--config", os.path.join(d, "runtime.yaml"),
                              "--pid-file", os.path.join(d, "pid")]).start()

    def complete(self, srv, prompt, **extra):
        body = {"prompt": prompt, "max_tokens": 8, "temperature": 0, "ignore_eos": True}
        body.update(extra)
        status, _, j = srv.json("POST", "/v1/completions", body)
        self.assertEqual(status, 200, j)
        return j

    def admin(self, srv):
        status, _, j = srv.json("GET", "/admin/ttft")
        self.assertEqual(status, 200, j)
        return j

    def wait_for(self, predicate, what, timeout=30):
        return wait_for(predicate, what, timeout)

    def test_warm_queue_answers_exactly_like_the_plain_path(self):
        before = self.admin(self.on)["queue"]
        prompts = ["The warm queue tokenizes this.", SYSTEM + " And a longer one?"]
        for p in prompts:
            on = self.complete(self.on, p)
            off = self.complete(self.off, p)
            self.assertEqual(on["choices"][0]["text"], off["choices"][0]["text"])
            self.assertEqual(on["usage"]["prompt_tokens"], off["usage"]["prompt_tokens"])
        status, _, chat_on = self.on.json("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 6,
            "temperature": 0})
        self.assertEqual(status, 200, chat_on)
        _, _, chat_off = self.off.json("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 6,
            "temperature": 0})
        self.assertEqual(chat_on["choices"][0]["message"]["content"],
                         chat_off["choices"][0]["message"]["content"])
        q = self.admin(self.on)["queue"]
        self.assertEqual(q["maxSize"], 100)
        self.assertGreaterEqual(q["totalQueued"] - before["totalQueued"], 3)
        self.assertEqual(q["totalQueued"], q["totalWarmed"] + q["totalExpired"])
        self.assertEqual(q["hits"] + q["misses"], q["totalQueued"])
        self.assertGreaterEqual(q["hitRate"], 0.0)
        self.assertLessEqual(q["hitRate"], 1.0)
        self.assertEqual(self.admin(self.off)["queue"]["totalQueued"], 0)
        events = self.admin(self.on)["events"]
        self.assertGreaterEqual(events["stage:queued"], 3)
        self.assertGreaterEqual(events["stage:warmed"], 3)
        self.assertGreaterEqual(events["stage:firstToken"], 3)

    def test_warm_queue_errors_are_the_plain_paths_errors(self):
        long_prompt = "word " * 600
        for srv in (self.on, self.off):
            for stream in (False, True):
                status, _, j = srv.json("POST", "/v1/completions", {
                    "prompt": long_prompt, "max_tokens": 4, "stream": stream})
                self.assertEqual(status, 400, j)
                self.assertEqual(j["error"]["code"], "context_length_exceeded")
                self.assertEqual(j["error"]["param"], "prompt")
            status, _, j = srv.json("POST", "/v1/completions",
                                    {"prompt": "hello", "max_tokens": 510})
            self.assertEqual(status, 400, j)
            self.assertEqual(j["error"]["param"], "max_tokens")
        # The server is still serving.
        self.complete(self.on, "still fine?")

    def test_speculation_streams_the_remembered_first_token_of_allowlisted_prompts(self):
        prompt = "Tell me about the sea."
        before = self.admin(self.on)["speculation"]
        first = self.complete(self.on, prompt)  # learns
        status, _, raw = self.on.request("POST", "/v1/completions", {
            "prompt": prompt, "max_tokens": 8, "temperature": 0, "ignore_eos": True,
            "stream": True})
        self.assertEqual(status, 200)
        events = [json.loads(d) for d in parse_sse(raw) if d != "[DONE]"]
        text = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
        self.assertEqual(text, first["choices"][0]["text"])
        s = self.wait_for(lambda: (lambda s: s if s["totalHits"] > before["totalHits"] else None)(
            self.admin(self.on)["speculation"]), "a speculation hit")
        self.assertEqual(s["totalMisses"], before["totalMisses"])
        self.assertGreaterEqual(s["candidateCount"], 1)
        self.assertIn("Tell me about the sea.", s["allowlist"])
        self.wait_for(lambda: "speculation=hit" in self.on.log(), "the access log's speculation=hit")
        # A prompt not on the allowlist is neither tracked nor speculated.
        n = s["candidateCount"]
        self.complete(self.on, "Not on the list.")
        self.complete(self.on, "Not on the list.")
        self.assertEqual(self.admin(self.on)["speculation"]["candidateCount"], n)
        # Sampling requests are never speculated.
        self.complete(self.on, prompt, temperature=0.7)
        self.assertEqual(self.admin(self.on)["speculation"]["totalHits"], s["totalHits"])

    def test_allowlist_endpoint_adds_and_removes(self):
        prompt = "What is the weather today?"
        status, _, j = self.on.json("POST", "/admin/ttft/allowlist", {"prompt": prompt})
        self.assertEqual(status, 200, j)
        self.assertIn(prompt, j["allowlist"])
        first = self.complete(self.on, prompt)
        hits = self.admin(self.on)["speculation"]["totalHits"]
        again = self.complete(self.on, prompt)
        self.assertEqual(again["choices"][0]["text"], first["choices"][0]["text"])
        self.wait_for(lambda: self.admin(self.on)["speculation"]["totalHits"] > hits, "a hit")
        status, _, j = self.on.json("DELETE", "/admin/ttft/allowlist", {"prompts": [prompt]})
        self.assertEqual(status, 200, j)
        self.assertNotIn(prompt, j["allowlist"])
        for body in ({}, {"prompt": 5}, {"prompts": "x"}, {"prompt": "  "}, {"other": "x"}, "[]"):
            status, _, j = self.on.json("POST", "/admin/ttft/allowlist", body)
            self.assertEqual(status, 400, (body, j))
            self.assertEqual(j["error"]["type"], "invalid_request_error")
        status, _, _ = self.on.json("GET", "/admin/ttft/allowlist")
        self.assertEqual(status, 405)

    def test_prefetch_fills_the_cache_for_the_next_request(self):
        system = " ".join(f"fact {i} is true." for i in range(10))
        status, _, j = self.on.json("POST", "/v1/ttft/prefetch", {"prompt": system})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["object"], "ttft.prefetch")
        self.assertTrue(j["complete"])
        self.assertGreater(j["computed_tokens"], 16)
        # Only the leading tokens every prompt shares (BOS) can be cached already.
        self.assertLess(j["cached_tokens"], 16)
        self.assertEqual(j["cached_tokens"] + j["computed_tokens"], j["prompt_tokens"])
        usage = self.complete(self.on, system + " What now?")["usage"]
        self.assertGreaterEqual(usage["prompt_tokens_details"]["cached_tokens"], 16)
        # Prefetching it again finds it cached.
        _, _, again = self.on.json("POST", "/v1/ttft/prefetch", {"prompt": system})
        self.assertGreater(again["cached_tokens"], 0)
        # Chat messages work too.
        status, _, j = self.on.json("POST", "/v1/ttft/prefetch", {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}]})
        self.assertEqual(status, 200, j)
        p = self.admin(self.on)["prefetch"]
        self.assertGreaterEqual(p["complete"], 3)
        # Bad input.
        for body in ({}, {"prompt": ""}, {"prompt": "word " * 600}, {"messages": []}, "nope"):
            status, _, j = self.on.json("POST", "/v1/ttft/prefetch", body)
            self.assertEqual(status, 400, (body, j))
        status, _, j = self.off.json("POST", "/v1/ttft/prefetch", {"prompt": system})
        self.assertEqual(status, 400, j)
        self.assertEqual(j["error"]["code"], "prefetch_disabled")

    def test_ttft_hint_is_validated(self):
        self.complete(self.on, "hinted", ttft_hint={"priority": "high", "estimated_tokens": 3,
                                                    "streamId": "s-1", "model": "x"})
        for hint, param in (({"priority": "urgent"}, "ttft_hint.priority"),
                            ({"estimated_tokens": 0}, "ttft_hint.estimated_tokens"),
                            ({"estimatedTokens": "many"}, "ttft_hint.estimatedTokens"),
                            ({"color": "red"}, "ttft_hint.color"),
                            ("high", "ttft_hint")):
            status, _, j = self.on.json("POST", "/v1/completions",
                                        {"prompt": "x", "max_tokens": 2, "ttft_hint": hint})
            self.assertEqual(status, 400, j)
            self.assertEqual(j["error"]["param"], param)

    def test_reload_applies_the_settings_live(self):
        srv = self.start_server("reload")
        try:
            cfg = os.path.join(self.tmp, "reload", "runtime.yaml")
            with open(cfg) as f:
                text = f.read()
            with open(cfg, "w") as f:
                f.write(text.replace("max_size: 100", "max_size: 7")
                        .replace("min_confidence: 0.85", "min_confidence: 0.95")
                        .replace('- "Tell me about the sea."', '- "Another prompt."'))
            status, _, j = srv.json("POST", "/admin/reload")
            self.assertEqual(status, 200, j)
            a = self.admin(srv)
            self.assertEqual(a["queue"]["maxSize"], 7)
            self.assertEqual(a["speculation"]["minConfidence"], 0.95)
            self.assertEqual(a["speculation"]["allowlist"], ["Another prompt."])
            # A broken section changes nothing.
            with open(cfg, "w") as f:
                f.write(text.replace("max_size: 100", "max_size: -1"))
            status, _, j = srv.json("POST", "/admin/reload")
            self.assertEqual(status, 422, j)
            self.assertIn("max_size", j["error"]["message"])
            self.assertEqual(self.admin(srv)["queue"]["maxSize"], 7)
            # The master switch off: no warm queue, no cache use, no speculation; the
            # cache itself stays built until a restart.
            with open(cfg, "w") as f:
                f.write(text.replace("ttft_accelerator:\n  enabled: true",
                                     "ttft_accelerator:\n  enabled: false"))
            status, _, j = srv.json("POST", "/admin/reload")
            self.assertEqual(status, 200, j)
            self.assertIn("ttft_accelerator.kv_prep.enabled", j["restart_required"])
            queued = self.admin(srv)["queue"]["totalQueued"]
            self.complete(srv, SYSTEM + " off now?")
            usage = self.complete(srv, SYSTEM + " off now?")["usage"]
            self.assertEqual(usage["prompt_tokens_details"]["cached_tokens"], 0)
            a = self.admin(srv)
            self.assertFalse(a["enabled"])
            self.assertEqual(a["queue"]["totalQueued"], queued)
        finally:
            srv.kill()

    def test_metrics_export_the_pipeline(self):
        self.complete(self.on, "metrics please")
        status, _, raw = self.on.request("GET", "/metrics")
        self.assertEqual(status, 200)
        m = raw.decode()
        for name in ("mlx_serving_ttft_warm_queue_size", "mlx_serving_ttft_warm_queue_max_size 100",
                     'mlx_serving_ttft_warm_queue_jobs_total{result="warmed"}',
                     'mlx_serving_ttft_speculation_total{result="hit"}',
                     "mlx_serving_ttft_speculation_candidates",
                     'mlx_serving_ttft_events_total{event="stage:queued"}',
                     'mlx_serving_ttft_stage_seconds_bucket{stage="warmed"',
                     'mlx_serving_ttft_prefetch_total{result="complete"}'):
            self.assertIn(name, m)
        problems = promtool_problems(m)
        if problems is not None:
            self.assertEqual(problems, [])


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
