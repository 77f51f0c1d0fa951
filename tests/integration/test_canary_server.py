"""Canary deployment through the real `mlx-serving serve`: two local variants (two test
models) and an upstream variant (a second server process), deployed with
scripts/deploy-canary.sh, a sticky MD5 split checked against Python's hashlib over
1 000 keys, faults injected into the canary only, automatic rollback persisted to
canary.yaml, the minimum sample count, crash_rate when the upstream dies, and the
monitor and rollback scripts.

Run: /usr/bin/python3 tests/integration/test_canary_server.py BUILD_DIR
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model, parse_sse, promtool_problems, wait_for  # noqa: E402

BUILD = None
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = "canary-test"

FLAGS = """phase4_rollout:
  enabled: true
  percentage: 100
canary:
  enabled: true
  rolloutPercentage: 100
observability:
  log_feature_decisions: false
"""


def bucket(key):
    return int(hashlib.md5(f"{key}:{SEED}".encode()).hexdigest()[:8], 16) % 10000


def on_canary(key, pct):
    return bucket(key) < pct * 100


def canary_yaml(variant, pct=0, min_samples=20, extra_triggers="", enabled=True):
    return f"""# canary under test
canary:
  enabled: {str(enabled).lower()}
  rolloutPercentage: {pct}   # changed by the scripts
  strategy: hash
  hashKey: user_id
  enableCache: true
  cacheSize: 10000
  hashSeed: "{SEED}"
rollback:
  enabled: true
  cooldownMs: 0
  gradual: false
  minSamples: {min_samples}
  triggers:
    - name: high_error_rate
      threshold: 2.0
      severity: critical
    - name: crash_rate
      threshold: 0.001
      severity: critical
{extra_triggers}monitoring:
  enabled: true
  intervalMs: 200
  retentionHours: 1
  windowMs: 60000
variants:
  baseline:
    kind: server
  canary:
{variant}"""


def runtime_yaml(model, fault=""):
    return f"""model:
  path: {model}
  n_ctx: 256
  threads: 1
scheduler:
  max_sequences: 4
  max_active_streams: 4
feature_flags:
  key_header: X-User-Id
{fault}"""


CANARY_FAULTS = """fault_injection:
  enabled: true
  error_rate: 1.0
  fail_after_tokens: 0
  variant: canary
"""


class CanaryServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-canary-")
        cls.base_model = make_model(BUILD, os.path.join(cls.tmp, "base.gguf"), seed=5)
        cls.canary_model = make_model(BUILD, os.path.join(cls.tmp, "canary.gguf"), seed=6)
        cls.bin = os.path.join(BUILD, "src/cli/mlx-serving")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def start(self, name, variant, pct=0, min_samples=20, model=None, enabled=True):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        self.dir = d
        self.runtime = os.path.join(d, "runtime.yaml")
        with open(self.runtime, "w") as f:
            f.write(runtime_yaml(model or self.base_model))
        with open(os.path.join(d, "feature-flags.yaml"), "w") as f:
            f.write(FLAGS)
        self.canary_file = os.path.join(d, "canary.yaml")
        with open(self.canary_file, "w") as f:
            f.write(canary_yaml(variant, pct, min_samples, enabled=enabled))
        self.pid_file = os.path.join(d, "pid")
        srv = Server(BUILD, ["--config", self.runtime, "--pid-file", self.pid_file]).start()
        self.addCleanup(srv.kill)
        return srv

    def script(self, srv, name, *args, check=True):
        env = dict(os.environ, MLXS_BIN=self.bin)
        p = subprocess.run(["bash", os.path.join(SRC, "scripts", name), "--url", srv.url, *args],
                           capture_output=True, text=True, timeout=120, env=env, cwd=self.dir)
        if check:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def deploy(self, srv, pct):
        self.script(srv, "deploy-canary.sh", "--percentage", str(pct), "--force",
                    "--config", self.canary_file, "--pid-file", self.pid_file)

    def health(self, srv):
        status, _, j = srv.json("GET", "/health/canary")
        self.assertEqual(status, 200)
        return j["canary"]

    def ask(self, srv, user, stream=False):
        status, hdrs, raw = srv.request("POST", "/v1/completions",
                                        {"prompt": "Hello", "max_tokens": 2, "temperature": 0,
                                         "stream": stream}, headers={"X-User-Id": user})
        return status, hdrs.get("x-canary-variant"), raw

    def wait_for(self, predicate, what, timeout=30):
        return wait_for(predicate, what, timeout)

    def file_percentage(self):
        with open(self.canary_file) as f:
            text = f.read()
        return float(re.search(r"rolloutPercentage:\s*([0-9.]+)", text).group(1)), text

    # --- local variants ------------------------------------------------------------------

    def test_local_canary_split_errors_and_automatic_rollback(self):
        variant = f"    kind: local\n    model: {self.canary_model}\n    n_ctx: 256\n    threads: 1\n"
        srv = self.start("local", variant)
        self.wait_for(lambda: self.health(srv)["canaryReady"], "the canary model")
        self.assertEqual(self.health(srv)["percentage"], 0)

        self.deploy(srv, 10)
        self.assertEqual(self.file_percentage()[0], 10)
        self.assertIn("# changed by the scripts", self.file_percentage()[1])  # comments kept
        h = self.health(srv)
        self.assertEqual((h["percentage"], h["enabled"], h["status"]), (10, True, "healthy"))

        # The split over 1 000 users is exactly the MD5 buckets, and sticky.
        keys = [f"user-{i}" for i in range(1000)]
        seen = {}
        for k in keys:
            status, v, _ = self.ask(srv, k)
            self.assertEqual(status, 200)
            seen[k] = v
            self.assertEqual(v, "canary" if on_canary(k, 10) else "baseline", k)
        n_canary = sum(v == "canary" for v in seen.values())
        self.assertTrue(70 <= n_canary <= 130, n_canary)
        for k in keys[:50]:
            self.assertEqual(self.ask(srv, k)[1], seen[k])
        # The two variants are different models: the canary's greedy text differs.
        base_key = next(k for k in keys if seen[k] == "baseline")
        can_key = next(k for k in keys if seen[k] == "canary")
        texts = {}
        for k in (base_key, can_key):
            _, _, raw = self.ask(srv, k)
            texts[k] = json.loads(raw)["choices"][0]["text"]
        self.assertNotEqual(texts[base_key], texts[can_key])

        # Faults in the canary only: every canary request fails, the baseline never does.
        with open(self.runtime, "w") as f:
            f.write(runtime_yaml(self.base_model, CANARY_FAULTS))
        self.assertEqual(srv.request("POST", "/admin/reload")[0], 200)
        canary_keys = [k for k in keys if seen[k] == "canary"][:25]
        baseline_keys = [k for k in keys if seen[k] == "baseline"][:25]
        baseline_statuses = []
        for ck, bk in zip(canary_keys, baseline_keys):
            status, v, _ = self.ask(srv, ck)
            if v == "canary":
                self.assertEqual(status, 500)
            baseline_statuses.append(self.ask(srv, bk)[0])
        self.assertEqual(set(baseline_statuses), {200})

        h = self.wait_for(lambda: (lambda c: c if c["status"] == "rolled_back" else None)(self.health(srv)),
                          "the automatic rollback", timeout=20)
        self.assertEqual(h["percentage"], 0)
        self.assertEqual(h["rollbacks"][-1]["reason"], "high_error_rate")
        self.assertEqual(h["rollbacks"][-1]["from"], 10)
        self.assertEqual(self.file_percentage()[0], 0)  # persisted: a restart keeps it
        # Everyone is on the baseline now, and it still answers.
        for k in canary_keys[:5]:
            status, v, _ = self.ask(srv, k)
            self.assertEqual(status, 200)
            self.assertNotEqual(v, "canary")
        m = srv.request("GET", "/metrics")[2].decode()
        self.assertIn('mlx_serving_canary_rollbacks_total{reason="high_error_rate"} 1', m)
        self.assertRegex(m, r'mlx_serving_canary_rollback_triggers_total\{trigger="high_error_rate"\} [1-9]')
        self.assertRegex(m, r'mlx_serving_canary_requests_total\{variant="canary"\} [1-9]')
        self.assertIn('mlx_serving_canary_error_rate{variant="baseline"} 0', m)
        self.wait_for(lambda: "canary rolled back from 10% to 0% (high_error_rate)" in srv.log(),
                      "the rollback in the log")
        problems = promtool_problems(m)
        if problems is not None:
            self.assertEqual(problems, [])

        # A restart reads 0 from the file: the canary stays off.
        srv.stop()
        srv2 = Server(BUILD, ["--config", self.runtime, "--pid-file", self.pid_file]).start()
        self.addCleanup(srv2.kill)
        self.assertEqual(self.health(srv2)["percentage"], 0)

    def test_one_canary_error_under_the_minimum_sample_count_does_not_roll_back(self):
        variant = f"    kind: local\n    model: {self.canary_model}\n    n_ctx: 256\n    threads: 1\n"
        srv = self.start("few", variant, pct=10, min_samples=20)
        self.wait_for(lambda: self.health(srv)["canaryReady"], "the canary model")
        with open(self.runtime, "w") as f:
            f.write(runtime_yaml(self.base_model, CANARY_FAULTS))
        self.assertEqual(srv.request("POST", "/admin/reload")[0], 200)
        canary_key = next(f"u{i}" for i in range(10000) if on_canary(f"u{i}", 10))
        self.assertEqual(self.ask(srv, canary_key)[0], 500)
        for i in range(30):
            k = f"b{i}"
            if not on_canary(k, 10):
                self.assertEqual(self.ask(srv, k)[0], 200)
        time.sleep(1.0)  # five monitoring intervals
        h = self.health(srv)
        self.assertEqual(h["percentage"], 10)
        self.assertNotEqual(h["status"], "rolled_back")
        err = next(t for t in h["triggers"] if t["name"] == "high_error_rate")
        self.assertFalse(err["fired"])
        self.assertIn("20", err["why"])  # says how many samples it waits for

    def test_a_disabled_canary_is_not_deployed_until_enabled_then_loads_on_reload(self):
        variant = f"    kind: local\n    model: {self.canary_model}\n    n_ctx: 256\n    threads: 1\n"
        srv = self.start("enable", variant, enabled=False)
        self.assertEqual(self.health(srv)["status"], "disabled")
        p = self.script(srv, "deploy-canary.sh", "--percentage", "10", "--force",
                        "--config", self.canary_file, "--pid-file", self.pid_file, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("canary.enabled is false", p.stderr)
        self.assertEqual(self.file_percentage()[0], 0)
        with open(self.canary_file) as f:
            text = f.read()
        with open(self.canary_file, "w") as f:
            f.write(text.replace("enabled: false", "enabled: true", 1))
        self.assertEqual(srv.request("POST", "/admin/reload")[0], 200)
        self.wait_for(lambda: self.health(srv)["canaryReady"], "the canary model after the reload")
        self.deploy(srv, 10)
        key = next(f"u{i}" for i in range(1000) if on_canary(f"u{i}", 10))
        self.assertEqual(self.ask(srv, key)[:2], (200, "canary"))

    # --- upstream variant, scripts -------------------------------------------------------

    def test_upstream_canary_is_proxied_and_its_crash_rolls_back(self):
        up_dir = os.path.join(self.tmp, "upstream")
        os.makedirs(up_dir)
        upstream = Server(BUILD, ["-m", self.canary_model, "-c", "256", "-t", "1", "--name", "m",
                                  "--pid-file", os.path.join(up_dir, "pid")]).start()
        self.addCleanup(upstream.kill)
        variant = f"    kind: upstream\n    url: http://127.0.0.1:{upstream.port}\n    timeout_ms: 5000\n"
        srv = self.start("up", variant, min_samples=5)
        self.deploy(srv, 50)
        can_key = next(f"u{i}" for i in range(1000) if on_canary(f"u{i}", 50))
        base_key = next(f"u{i}" for i in range(1000) if not on_canary(f"u{i}", 50))
        status, v, raw = self.ask(srv, can_key)
        self.assertEqual((status, v), (200, "canary"))
        self.assertEqual(json.loads(raw)["choices"][0]["finish_reason"], "length")
        status, v, raw = self.ask(srv, can_key, stream=True)
        self.assertEqual((status, v), (200, "canary"))
        events = parse_sse(raw)
        self.assertEqual(events[-1], "[DONE]")
        self.assertGreaterEqual(len(events), 3)  # passed through event by event
        self.assertEqual(self.ask(srv, base_key)[:2], (200, "baseline"))
        # The upstream's memory is scraped from its /metrics.
        self.wait_for(lambda: self.health(srv)["metrics"]["canary"]["memoryMb"], "the upstream memory")

        # The upstream dies: its requests fail as crashes and crash_rate rolls back.
        upstream.kill()
        for i in range(8):
            status, v, _ = self.ask(srv, can_key)
            self.assertEqual(status, 502)
            self.assertEqual(self.ask(srv, base_key)[0], 200)
            if self.health(srv)["percentage"] == 0:
                break
        h = self.wait_for(lambda: (lambda c: c if c["status"] == "rolled_back" else None)(self.health(srv)),
                          "the crash_rate rollback")
        # Crashes are errors too, so high_error_rate may fire in the same evaluation; the
        # crash_rate trigger must have fired.
        self.assertIn(h["rollbacks"][-1]["reason"], ("crash_rate", "high_error_rate"))
        m = srv.request("GET", "/metrics")[2].decode()
        self.assertRegex(m, r'mlx_serving_canary_rollback_triggers_total\{trigger="crash_rate"\} [1-9]')
        status, v, _ = self.ask(srv, can_key)
        self.assertEqual(status, 200)
        self.assertIsNone(v)  # no canary any more: the baseline answers, no routing

    def test_monitor_and_gradual_rollback_scripts(self):
        variant = f"    kind: local\n    model: {self.canary_model}\n    n_ctx: 256\n    threads: 1\n"
        srv = self.start("scripts", variant)
        self.wait_for(lambda: self.health(srv)["canaryReady"], "the canary model")
        # A dry run changes nothing.
        p = self.script(srv, "deploy-canary.sh", "--percentage", "10", "--dry-run", "--force",
                        "--config", self.canary_file, "--pid-file", self.pid_file)
        self.assertIn("rolloutPercentage", p.stdout)
        self.assertEqual(self.file_percentage()[0], 0)
        # A bad percentage fails and leaves the file.
        p = self.script(srv, "deploy-canary.sh", "--percentage", "150", "--force",
                        "--config", self.canary_file, "--pid-file", self.pid_file, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.file_percentage()[0], 0)
        self.deploy(srv, 10)
        for i in range(40):
            self.ask(srv, f"m{i}")
        out = os.path.join(self.dir, "samples.json")
        p = self.script(srv, "monitor-canary.sh", "--duration", "0.04", "--interval", "1",
                        "--output", out)
        for line in ["=== Canary Monitoring ===", "Rollout: 10%", "Baseline P95 latency:",
                     "Canary P95 latency:", "Latency delta:", "Baseline error rate:",
                     "Error delta:", "Status: ✓ HEALTHY"]:
            self.assertIn(line, p.stdout)
        self.assertRegex(p.stdout, r"Baseline: \d+ requests \([0-9.]+%\)")
        with open(out) as f:
            samples = json.load(f)
        self.assertGreaterEqual(len(samples), 2, p.stdout + p.stderr)
        self.assertEqual(samples[0]["health"]["canary"]["percentage"], 10)

        p = self.script(srv, "rollback-canary.sh", "--gradual", "--step-interval", "0",
                        "--config", self.canary_file, "--pid-file", self.pid_file)
        self.assertIn("canary at 5%", p.stdout)
        self.assertIn("canary at 0%", p.stdout)
        h = self.health(srv)
        self.assertEqual([(r["from"], r["to"]) for r in h["rollbacks"]], [(10, 5), (5, 0)])
        self.assertEqual(h["status"], "rolled_back")
        self.assertEqual(self.file_percentage()[0], 0)
        p = self.script(srv, "rollback-canary.sh", "--config", self.canary_file,
                        "--pid-file", self.pid_file)
        self.assertIn("already at 0%", p.stdout)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
