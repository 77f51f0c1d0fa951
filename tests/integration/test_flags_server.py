"""Feature flags through the real `mlx-serving serve`: per-request decisions keyed by a
header, the OpenAI "user" field or the request id, bucketed exactly like the spec's MD5
sample (checked against Python's hashlib); reload by SIGHUP (through the pid file) and
POST /admin/reload while a stream runs; invalid files that change nothing; GET
/admin/flags; the flag metrics under promtool.

Run: /usr/bin/python3 tests/integration/test_flags_server.py BUILD_DIR
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model, parse_sse, promtool_problems  # noqa: E402

BUILD = None
KEY = "flags-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TTFT_SEED = "ttft-pipeline-test"


def bucket(key, seed):
    """The spec's bucketing, computed independently of the server."""
    return int(hashlib.md5(f"{key}:{seed}".encode()).hexdigest()[:8], 16) % 100


def flags_yaml(ttft_enabled=True, ttft_pct=100, kill=False, log=True, prefix="mlx_serving_feature_flags",
               export=True):
    return f"""phase4_rollout:
  enabled: true
  percentage: 100
  hash_seed: "phase4-test"
ttft_pipeline:
  enabled: {str(ttft_enabled).lower()}
  rollout_percentage: {ttft_pct}
  hash_seed: "{TTFT_SEED}"
  warmup_queue:
    enabled: true
  speculation:
    enabled: false
    allowlist_only: true
  kv_prep:
    enabled: false
qos_monitor:
  enabled: true
  rollout_percentage: 100
  hash_seed: "qos-test"
  evaluator:
    enabled: true
  executor:
    enabled: true
    dry_run: true
  policy_store:
    enabled: true
canary:
  enabled: false
  rolloutPercentage: 0
emergency:
  kill_switch: {str(kill).lower()}
  rollback_to_baseline: false
observability:
  log_feature_decisions: {str(log).lower()}
  export_metrics: {str(export).lower()}
  metric_prefix: "{prefix}"
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def features_of(headers):
    value = headers.get("x-feature-flags", "")
    return set() if value in ("", "none") else set(value.split(","))


class StreamReader(threading.Thread):
    """Reads one streamed completion incrementally; `first` is set at the first event."""

    def __init__(self, port, body):
        super().__init__(daemon=True)
        self.port, self.body = port, body
        self.first = threading.Event()
        self.events, self.status, self.error = [], None, None

    def run(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            conn.request("POST", "/v1/completions", json.dumps(self.body),
                         {"Content-Type": "application/json", **AUTH})
            resp = conn.getresponse()
            self.status = resp.status
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
            while True:
                line = resp.readline()
                if not line:
                    break
                line = line.decode().strip()
                if line.startswith("data: "):
                    self.events.append(line[6:])
                    self.first.set()
            conn.close()
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.first.set()


class FlagsServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-flags-")
        cls.model = make_model(BUILD, os.path.join(cls.tmp, "m.gguf"), dim=256, layers=4, heads=8,
                               kv_heads=4, ffn=768, vocab=1024, ctx=2048, seed=5)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def start(self, name, flags_text, extra_args=()):
        """A server of its own per test: reloads must not leak between tests."""
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        self.flags = os.path.join(d, "feature-flags.yaml")
        write(self.flags, flags_text)
        self.config = os.path.join(d, "runtime.yaml")
        write(self.config, f"""server:
  api_keys: ["{KEY}"]
model:
  path: {self.model}
  n_ctx: 2048
  threads: 2
feature_flags:
  key_header: X-User-Id
""")
        self.pid_file = os.path.join(d, "server.pid")
        srv = Server(BUILD, ["--config", self.config, "--pid-file", self.pid_file, *extra_args]).start()
        self.addCleanup(srv.kill)
        return srv

    def complete(self, srv, headers=None, body=None):
        b = {"prompt": "Hello", "max_tokens": 1, "temperature": 0}
        b.update(body or {})
        status, hdrs, j = srv.json("POST", "/v1/completions", b, {**AUTH, **(headers or {})})
        self.assertEqual(status, 200, j)
        return features_of(hdrs)

    def sighup(self):
        with open(self.pid_file) as f:
            os.kill(int(f.read().strip()), signal.SIGHUP)

    def wait_for(self, predicate, what, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    # --- decisions -----------------------------------------------------------------------

    def test_decisions_follow_md5_buckets_for_header_user_and_request_id(self):
        srv = self.start("buckets", flags_yaml(ttft_pct=50))
        keys = [f"user-{i}" for i in range(40)]
        expected_in = [k for k in keys if bucket(k, TTFT_SEED) < 50]
        self.assertTrue(0 < len(expected_in) < len(keys))  # the sample straddles the boundary
        for k in keys:
            got = self.complete(srv, headers={"X-User-Id": k})
            want = bucket(k, TTFT_SEED) < 50
            self.assertEqual("ttft_pipeline" in got, want, k)
            # Sub-features follow their parent and their own switch.
            self.assertEqual("ttft_pipeline.warmup_queue" in got, want, k)
            self.assertNotIn("ttft_pipeline.speculation", got)
            self.assertIn("qos_monitor.executor", got)
            self.assertNotIn("canary", got)
        # The same user always gets the same answer, through the OpenAI "user" field too.
        for k in keys[:10]:
            self.assertEqual("ttft_pipeline" in self.complete(srv, body={"user": k}),
                             bucket(k, TTFT_SEED) < 50, k)
        # Without a header or user, the request id is the key.
        for i in range(10):
            rid = f"req-{i}"
            got = self.complete(srv, headers={"X-Request-Id": rid})
            self.assertEqual("ttft_pipeline" in got, bucket(rid, TTFT_SEED) < 50, rid)
        # Every decision is logged with its request id when log_feature_decisions is on.
        self.assertRegex(srv.log(), r'feature flags id=req-3 key="req-3" .*ttft_pipeline=')
        # Chat completions are decided the same way.
        status, hdrs, _ = srv.json("POST", "/v1/chat/completions",
                                   {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
                                   {**AUTH, "X-User-Id": keys[0]})
        self.assertEqual(status, 200)
        self.assertEqual("ttft_pipeline" in features_of(hdrs), bucket(keys[0], TTFT_SEED) < 50)

    def test_admin_flags_shows_live_config_source_and_stats(self):
        srv = self.start("admin", flags_yaml(ttft_pct=25))
        self.assertEqual(srv.request("GET", "/admin/flags")[0], 401)
        self.assertEqual(srv.request("POST", "/admin/flags", headers=AUTH)[0], 405)
        for i in range(20):
            self.complete(srv, headers={"X-User-Id": f"u{i}"})
        status, _, j = srv.json("GET", "/admin/flags", headers=AUTH)
        self.assertEqual(status, 200)
        self.assertEqual(os.path.realpath(j["source"]), os.path.realpath(self.flags))
        with open(self.flags, "rb") as f:
            self.assertEqual(j["sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertRegex(j["loaded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(j["config"]["ttft_pipeline"]["rollout_percentage"], 25)
        self.assertEqual(j["config"]["qos_monitor"]["executor"]["dry_run"], True)
        t = j["stats"]["features"]["ttft_pipeline"]
        want_on = sum(bucket(f"u{i}", TTFT_SEED) < 25 for i in range(20))
        self.assertEqual((t["total"], t["enabled"]), (20, want_on))
        self.assertAlmostEqual(t["actual_percentage"], want_on * 100 / 20)
        self.assertEqual(t["target_percentage"], 25)
        self.assertEqual(j["reloads"], {"successes": 0, "failures": 0, "last_error": None})

    # --- reload --------------------------------------------------------------------------

    def test_sighup_changes_decisions_while_a_running_stream_keeps_its_own(self):
        srv = self.start("sighup", flags_yaml(ttft_pct=100))
        reader = StreamReader(srv.port, {"prompt": "Once", "max_tokens": 1500, "stream": True,
                                         "ignore_eos": True, "temperature": 0, "user": "alice",
                                         "stream_options": {"include_usage": True}})
        reader.start()
        self.assertTrue(reader.first.wait(60))
        self.assertIsNone(reader.error)
        self.assertIn("ttft_pipeline", features_of(reader.headers))

        write(self.flags, flags_yaml(ttft_enabled=False))
        self.sighup()
        self.wait_for(lambda: "ttft_pipeline" not in self.complete(srv, body={"user": "alice"}),
                      "the reloaded flags")
        # The stream that started before the reload is still running with its decisions.
        _, _, streams = srv.json("GET", "/v1/streams", headers=AUTH)
        running = [s for s in streams["data"] if s["stream"]]
        self.assertEqual(len(running), 1, streams)
        self.assertIn("ttft_pipeline", running[0]["features"])
        self.assertTrue(reader.is_alive(), "the stream ended before the reload took effect")

        reader.join(120)
        self.assertIsNone(reader.error)
        self.assertEqual(reader.status, 200)
        self.assertEqual(reader.events[-1], "[DONE]")
        chunks = [json.loads(e) for e in reader.events[:-1]]
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "length")
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 1500)
        self.wait_for(lambda: "reloaded" in srv.log(), "the reload in the log")
        metrics = srv.request("GET", "/metrics")[2].decode()
        self.assertIn('mlx_serving_feature_flags_reloads_total{result="success"} 1', metrics)
        self.assertIn('mlx_serving_config_reloads_total{result="success"} 1', metrics)

    def test_invalid_file_is_rejected_and_the_last_good_config_keeps_serving(self):
        srv = self.start("invalid", flags_yaml(ttft_pct=100))
        self.assertIn("ttft_pipeline", self.complete(srv, headers={"X-User-Id": "bob"}))
        with open(self.flags) as f:
            good = f.read()
        bad = good.replace("rollout_percentage: 100\n  hash_seed: \"ttft",
                           "rollout_percentage: 150\n  hash_seed: \"ttft")
        bad = bad.replace("kill_switch: false", "kill_switch: false\n  kill_swich: true")
        self.assertNotEqual(bad, good)
        write(self.flags, bad)
        self.sighup()
        self.wait_for(lambda: "reload failed" in srv.log(), "the failed reload in the log")
        log = srv.log()
        self.assertRegex(log, re.escape(self.flags) + r":\d+: error: .*rollout_percentage")
        self.assertRegex(log, re.escape(self.flags) + r":\d+: error: .*kill_swich")
        self.assertIn("ttft_pipeline", self.complete(srv, headers={"X-User-Id": "bob"}))

        # POST /admin/reload says why, with the same file:line problems.
        status, _, j = srv.json("POST", "/admin/reload", headers=AUTH)
        self.assertEqual(status, 422)
        self.assertEqual(j["error"]["code"], "invalid_config")
        self.assertIn("kill_swich", j["error"]["message"])
        _, _, flags = srv.json("GET", "/admin/flags", headers=AUTH)
        self.assertEqual(flags["reloads"]["failures"], 2)
        self.assertIn("150", flags["reloads"]["last_error"])
        self.assertEqual(flags["config"]["ttft_pipeline"]["rollout_percentage"], 100)
        metrics = srv.request("GET", "/metrics")[2].decode()
        self.assertIn('mlx_serving_feature_flags_reloads_total{result="failure"} 2', metrics)
        self.assertIn('mlx_serving_config_reloads_total{result="failure"} 2', metrics)

        # A broken runtime.yaml is refused the same way, even with a good flags file.
        write(self.flags, flags_yaml(kill=True))
        with open(self.config) as f:
            runtime = f.read()
        write(self.config, runtime + "bogus_section: 1\n")
        self.assertEqual(srv.request("POST", "/admin/reload", headers=AUTH)[0], 422)
        self.assertIn("ttft_pipeline", self.complete(srv, headers={"X-User-Id": "bob"}))

        # Fixed: the reload applies, here the kill switch.
        write(self.config, runtime)
        status, _, j = srv.json("POST", "/admin/reload", headers=AUTH)
        self.assertEqual(status, 200, j)
        self.assertIn(self.flags, j["files"])
        self.assertEqual(self.complete(srv, headers={"X-User-Id": "bob"}), set())
        metrics = srv.request("GET", "/metrics")[2].decode()
        self.assertIn('mlx_serving_feature_flags_kill_switch{value="true"} 1', metrics)

    def test_metric_prefix_and_export_follow_the_file_and_pass_promtool(self):
        srv = self.start("metrics", flags_yaml(ttft_pct=50))
        for i in range(10):
            self.complete(srv, headers={"X-User-Id": f"m{i}"})
        metrics = srv.request("GET", "/metrics")[2].decode()
        on = sum(bucket(f"m{i}", TTFT_SEED) < 50 for i in range(10))
        self.assertIn(f'mlx_serving_feature_flags_decisions_total{{feature="ttft_pipeline",enabled="true"}} {on}',
                      metrics)
        self.assertIn(f'mlx_serving_feature_flags_decisions_total{{feature="ttft_pipeline",enabled="false"}} {10 - on}',
                      metrics)
        self.assertIn('mlx_serving_feature_flags_rollout_percentage{feature="ttft_pipeline"} 50', metrics)
        self.assertIn('mlx_serving_feature_flags_kill_switch{value="false"} 1', metrics)
        self.assertIn("mlx_serving_feature_flags_config_loaded_timestamp_seconds", metrics)
        problems = promtool_problems(metrics)
        if problems is not None:
            self.assertEqual(problems, [])

        write(self.flags, flags_yaml(prefix="acme_flags", log=False))
        self.assertEqual(srv.request("POST", "/admin/reload", headers=AUTH)[0], 200)
        metrics = srv.request("GET", "/metrics")[2].decode()
        self.assertIn("acme_flags_decisions_total", metrics)
        self.assertNotIn("mlx_serving_feature_flags_decisions_total", metrics)
        before = srv.log().count("feature flags id=")
        self.complete(srv, headers={"X-User-Id": "quiet"})
        self.assertEqual(srv.log().count("feature flags id="), before)  # logging switched off

        write(self.flags, flags_yaml(export=False))
        self.assertEqual(srv.request("POST", "/admin/reload", headers=AUTH)[0], 200)
        metrics = srv.request("GET", "/metrics")[2].decode()
        self.assertNotIn("feature_flags_decisions_total", metrics)
        self.assertNotIn("acme_flags", metrics)

    def test_invalid_flags_file_at_startup_exits_2_with_every_problem(self):
        d = os.path.join(self.tmp, "startup")
        os.makedirs(d)
        bad = os.path.join(d, "flags.yaml")
        write(bad, "ttft_pipeline:\n  enabled: yes\n  rollout_percentage: 30\nunknown_block: {}\n")
        p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), "serve", "-m", self.model,
                            "--port", "0", "--feature-flags", bad, "--pid-file", os.path.join(d, "p")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{bad}:2: error:", p.stderr)   # enabled: yes is not a boolean
        self.assertIn(f"{bad}:3: error:", p.stderr)   # 30 % without a hash_seed
        self.assertIn(f"{bad}:4: error:", p.stderr)   # unknown section
        missing = os.path.join(d, "missing.yaml")
        p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), "serve", "-m", self.model,
                            "--port", "0", "--feature-flags", missing], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(missing, p.stderr)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
