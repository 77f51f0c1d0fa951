"""The prefix KV cache through the real `mlx-serving serve`: a repeated prompt and a
shared prefix are served from cached blocks (usage.prompt_tokens_details.cached_tokens),
with exactly the same greedy output as a server without the cache; the
ttft_pipeline.kv_prep flag decides per request; the metrics count hits.

Run: /usr/bin/python3 tests/integration/test_prefix_cache_server.py BUILD_DIR
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model  # noqa: E402

BUILD = None

FLAGS = """phase4_rollout:
  enabled: true
  percentage: 100
ttft_pipeline:
  enabled: true
  rollout_percentage: 100
  kv_prep:
    enabled: {kv_prep}
observability:
  log_feature_decisions: false
"""

RUNTIME = """model:
  path: {model}
  n_ctx: 512
  threads: 2
ttft_accelerator:
  enabled: true
  kv_prep:
    enabled: {cache}
"""

SYSTEM = " ".join(f"rule {i} is kind." for i in range(8))


class PrefixCacheServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-prefix-")
        cls.model = make_model(BUILD, os.path.join(cls.tmp, "m.gguf"), seed=11)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def start(self, name, cache=True, kv_prep=True):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        with open(os.path.join(d, "runtime.yaml"), "w") as f:
            f.write(RUNTIME.format(model=self.model, cache=str(cache).lower()))
        with open(os.path.join(d, "feature-flags.yaml"), "w") as f:
            f.write(FLAGS.format(kv_prep=str(kv_prep).lower()))
        srv = Server(BUILD, ["--config", os.path.join(d, "runtime.yaml"),
                             "--pid-file", os.path.join(d, "pid")]).start()
        self.addCleanup(srv.kill)
        return srv

    def complete(self, srv, prompt):
        status, _, j = srv.json("POST", "/v1/completions",
                                {"prompt": prompt, "max_tokens": 8, "temperature": 0,
                                 "ignore_eos": True})
        self.assertEqual(status, 200, j)
        return j["choices"][0]["text"], j["usage"]

    def test_repeated_and_shared_prefixes_are_cached_and_exact(self):
        cached = self.start("on")
        plain = self.start("off", cache=False)
        first_text, first = self.complete(cached, SYSTEM + " Question one?")
        self.assertEqual(first["prompt_tokens_details"]["cached_tokens"], 0)
        again_text, again = self.complete(cached, SYSTEM + " Question one?")
        self.assertEqual(again_text, first_text)
        n = again["prompt_tokens_details"]["cached_tokens"]
        self.assertGreater(n, 0)
        self.assertLess(n, again["prompt_tokens"])
        # Whole blocks shared, and the leading slots of the first divergent block copied:
        # all of the prompt but its last token.
        self.assertEqual(n, again["prompt_tokens"] - 1)
        # A different question after the same long prefix reuses the prefix, and answers
        # exactly as a server without the cache.
        text, usage = self.complete(cached, SYSTEM + " Something else entirely?")
        self.assertGreaterEqual(usage["prompt_tokens_details"]["cached_tokens"], 16)
        ref_text, ref = self.complete(plain, SYSTEM + " Something else entirely?")
        self.assertEqual(text, ref_text)
        self.assertEqual(ref["prompt_tokens_details"]["cached_tokens"], 0)
        m = cached.request("GET", "/metrics")[2].decode()
        self.assertRegex(m, r"mlx_serving_prefix_cache_hits_total [2-9]")
        self.assertRegex(m, r"mlx_serving_prefix_cache_hit_tokens_total [1-9]")
        self.assertRegex(m, r"mlx_serving_prefix_cache_block_copies_total [1-9]")

    def test_the_kv_prep_flag_decides_per_request(self):
        srv = self.start("flag-off", kv_prep=False)
        self.complete(srv, SYSTEM + " Q?")
        _, usage = self.complete(srv, SYSTEM + " Q?")
        self.assertEqual(usage["prompt_tokens_details"]["cached_tokens"], 0)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
