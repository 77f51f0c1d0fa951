"""QoS monitoring through the real `mlx-serving serve`: SLO policies evaluated on live
traffic, fault injection pushing TTFT or the error rate past a threshold, and the
remediations acting for real: scale_up moves the live concurrency limit (with the
cooldown holding the next one back), shed_load rejects a share of new requests while
running streams finish, circuit_break opens and closes the breaker, alert POSTs to a
local webhook. Removing the fault by reload brings the recovery.

Run: /usr/bin/python3 tests/integration/test_qos_server.py BUILD_DIR
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model, promtool_problems, wait_for  # noqa: E402

BUILD = None
INTERVAL_MS = 300

FLAGS = """phase4_rollout:
  enabled: true
  percentage: 100
qos_monitor:
  enabled: true
  rollout_percentage: 100
  evaluator:
    enabled: true
  executor:
    enabled: true
    dry_run: {dry_run}
  policy_store:
    enabled: true
emergency:
  kill_switch: {kill}
  rollback_to_baseline: false
observability:
  log_feature_decisions: false
"""


def runtime_yaml(model, policies, fault="", alerts="", cooldown_ms=60000, max_active=2):
    return f"""server:
  request_timeout_ms: 60000
model:
  path: {model}
  n_ctx: 512
  threads: 2
scheduler:
  max_sequences: 8
  max_active_streams: {max_active}
qos_monitor:
  enabled: true
  evaluator:
    enabled: true
    evaluation_interval_ms: {INTERVAL_MS}
    window_ms: 2000
    tdigest_compression: 100
  executor:
    enabled: true
    cooldown_ms: {cooldown_ms}
    max_executions_per_window: 5
    execution_window_ms: 300000
    loop_detection_window: 6
  governor:
    min_active_streams: 1
    max_active_streams: 8
{alerts}  policy_store:
    policies:
{policies}
{fault}"""


def ttft_policy(remediation):
    return f"""      - id: ttft_policy
        name: TTFT SLO
        description: keep P95 TTFT under 150 ms
        enabled: true
        priority: 100
        slos:
          - name: ttft_p95
            metric: ttft
            threshold: 150
            window_ms: 2000
            severity: critical
        remediations:
{remediation}"""


def error_policy(remediation):
    return f"""      - id: error_rate_policy
        name: Error Rate SLO
        description: keep errors under 10 %
        enabled: true
        priority: 90
        slos:
          - name: error_rate
            metric: error_rate
            threshold: 0.1
            window_ms: 2000
            severity: warning
        remediations:
{remediation}"""


SLOW = """fault_injection:
  enabled: true
  first_token_delay_ms: 400
  per_token_delay_ms: 15
"""
FAILING = """fault_injection:
  enabled: true
  error_rate: 0.5
  fail_after_tokens: 1
"""


class Webhook:
    """A local webhook receiver: records every POSTed JSON body."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class QosServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-qos-")
        cls.model = make_model(BUILD, os.path.join(cls.tmp, "m.gguf"), dim=128, layers=2, heads=4,
                               kv_heads=2, ffn=256, vocab=600, ctx=512, seed=7)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def start(self, name, policies, fault="", alerts="", dry_run=False, **kw):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        self.config = os.path.join(d, "runtime.yaml")
        self.policies, self.alerts, self.kw = policies, alerts, kw
        with open(self.config, "w") as f:
            f.write(runtime_yaml(self.model, policies, fault, alerts, **kw))
        self.flags = os.path.join(d, "feature-flags.yaml")
        with open(self.flags, "w") as f:
            f.write(FLAGS.format(dry_run=str(dry_run).lower(), kill="false"))
        srv = Server(BUILD, ["--config", self.config, "--pid-file", os.path.join(d, "pid")]).start()
        self.addCleanup(srv.kill)
        return srv

    def set_fault(self, srv, fault):
        with open(self.config, "w") as f:
            f.write(runtime_yaml(self.model, self.policies, fault, self.alerts, **self.kw))
        status, _, body = srv.json("POST", "/admin/reload")
        self.assertEqual(status, 200, body)

    def complete(self, srv, max_tokens=2, stream=False):
        return srv.json("POST", "/v1/completions", {"prompt": "Hello", "max_tokens": max_tokens,
                                                    "temperature": 0, "ignore_eos": True,
                                                    "stream": stream}, timeout=60)

    def qos(self, srv):
        status, _, j = srv.json("GET", "/admin/qos")
        self.assertEqual(status, 200)
        return j

    def wait_for(self, predicate, what, timeout=20):
        return wait_for(predicate, what, timeout)

    def metrics(self, srv):
        return srv.request("GET", "/metrics")[2].decode()

    # --- scale_up, cooldown, recovery --------------------------------------------------

    def test_ttft_violation_scales_up_once_then_cooldown_then_recovers(self):
        srv = self.start("scale", ttft_policy("""          - type: scale_up
            target: governor
            params:
              delta: 3
            reason: TTFT SLO violated - scaling up concurrency"""), SLOW)
        self.assertEqual(self.qos(srv)["governor"]["max_active_streams"], 2)
        for _ in range(3):
            self.assertEqual(self.complete(srv)[0], 200)
        done = time.time()
        # Detected within two evaluation intervals of the data being there.
        self.wait_for(lambda: "qos slo:violated policy=ttft_policy slo=ttft_p95" in srv.log(),
                      "the violation", timeout=10)
        self.assertLess(time.time() - done, 2 * INTERVAL_MS / 1000 + 1.0)
        j = self.wait_for(lambda: (lambda q: q if q["governor"]["max_active_streams"] == 5 else None)(
            self.qos(srv)), "scale_up to 5")
        self.assertEqual(j["executor"]["total_executions"], 1)
        self.assertTrue(j["executor"]["in_cooldown"])
        self.assertGreater(j["telemetry"]["p95_ttft_ms"], 150)
        m = self.metrics(srv)
        self.assertIn("mlx_serving_max_active_streams 5", m)
        self.assertIn("mlx_serving_qos_governor_max_active_streams 5", m)
        self.assertIn('mlx_serving_qos_remediations_total{action="scale_up",success="true"} 1', m)
        self.assertRegex(m, r'mlx_serving_qos_slo_violations_total\{policy="ttft_policy",severity="critical"\} [1-9]')
        self.assertRegex(m, r'mlx_serving_qos_ttft_p95_ms\{window="2s"\} \d')
        # Still violated: the cooldown holds the next scale_up back.
        self.wait_for(lambda: any(a["outcome"] == "cooldown" for a in self.qos(srv)["audit"]),
                      "a suppressed remediation")
        self.wait_for(lambda: "qos remediation:suppressed" in srv.log(), "the suppression in the log")
        self.assertEqual(self.qos(srv)["governor"]["max_active_streams"], 5)

        # The fault goes away: fast requests, the slow ones leave the window, recovered.
        self.set_fault(srv, "")
        def recovered():
            self.complete(srv)
            return "qos slo:recovered policy=ttft_policy slo=ttft_p95" in srv.log()
        self.wait_for(recovered, "the recovery")
        self.assertEqual(self.qos(srv)["executor"]["total_executions"], 1)

    # --- shed_load -----------------------------------------------------------------------

    def test_shed_load_rejects_new_requests_but_never_cuts_a_running_stream(self):
        srv = self.start("shed", ttft_policy("""          - type: shed_load
            target: stream_registry
            params:
              percentage: 50
            reason: TTFT SLO violated - shedding load"""), SLOW, max_active=8)
        result = {}

        def long_stream():
            result["r"] = srv.request("POST", "/v1/completions",
                                      {"prompt": "Once", "max_tokens": 200, "stream": True,
                                       "ignore_eos": True, "temperature": 0}, timeout=120)
        # A stream admitted before the shedding starts, still running while it sheds.
        t = threading.Thread(target=long_stream)
        t.start()
        self.wait_for(lambda: srv.json("GET", "/v1/streams")[2]["data"], "the long stream")
        for _ in range(3):
            self.assertEqual(self.complete(srv)[0], 200)
        self.wait_for(lambda: self.qos(srv)["admission"]["shed_percentage"] == 50, "shedding")
        self.assertTrue(t.is_alive(), "the long stream ended before the shedding started")
        answers = [srv.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})
                   for _ in range(10)]
        statuses = [a[0] for a in answers]
        self.assertEqual(statuses.count(503), 5, statuses)  # exactly the configured share
        self.assertEqual(statuses.count(200), 5, statuses)
        status, hdrs, body = next(a for a in answers if a[0] == 503)
        self.assertIn("retry-after", hdrs)
        self.assertEqual(json.loads(body)["error"]["code"], "load_shed")
        t.join(120)
        status, _, raw = result["r"]
        self.assertEqual(status, 200)
        events = [e for e in raw.decode().split("\n\n") if e.startswith("data: ")]
        self.assertEqual(events[-1], "data: [DONE]")
        last = json.loads(events[-2][6:])
        self.assertEqual(last["choices"][0]["finish_reason"], "length")
        m = self.metrics(srv)
        self.assertRegex(m, r'mlx_serving_qos_rejected_requests_total\{reason="shed_load"\} [5-9]')
        self.assertIn("mlx_serving_qos_shed_percentage 50", m)

        self.set_fault(srv, "")
        def lifted():
            self.complete(srv)
            return self.qos(srv)["admission"]["shed_percentage"] == 0
        self.wait_for(lifted, "shedding to be lifted")
        self.assertEqual([self.complete(srv)[0] for _ in range(4)], [200] * 4)

    # --- circuit_break and alert ---------------------------------------------------------

    def test_errors_open_the_circuit_and_alert_a_webhook(self):
        hook = Webhook()
        self.addCleanup(hook.close)
        alerts = f"""  alerts:
    channels:
      ops:
        url: http://127.0.0.1:{hook.port}/hooks/mlx
        timeout_ms: 2000
"""
        srv = self.start("circuit", error_policy("""          - type: alert
            target: stream_registry
            params:
              channel: ops
            reason: Error rate SLO violated - alerting team
          - type: circuit_break
            target: transport
            params:
              duration_ms: 1500
            reason: Error rate SLO violated - opening the circuit"""), FAILING, alerts=alerts)
        statuses = []
        while len(statuses) < 60 and 503 not in statuses:
            statuses.append(self.complete(srv)[0])
            time.sleep(0.02)
        served = [x for x in statuses if x != 503]
        self.assertGreaterEqual(len(served), 2, statuses)
        self.assertEqual(served[0::2], [200] * len(served[0::2]), statuses)  # exactly every
        self.assertEqual(served[1::2], [500] * len(served[1::2]), statuses)  # second one fails
        self.wait_for(lambda: self.qos(srv)["admission"]["circuit"] == "open", "the open circuit")
        status, hdrs, body = srv.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body)["error"]["code"], "circuit_open")
        self.assertIn("retry-after", hdrs)

        alert = self.wait_for(lambda: hook.bodies and hook.bodies[0], "the webhook")
        self.assertEqual(alert["policy"], "error_rate_policy")
        self.assertEqual(alert["slo"], "error_rate")
        self.assertEqual(alert["severity"], "warning")
        self.assertEqual(alert["threshold"], 0.1)
        self.assertGreater(alert["value"], 0.1)
        self.assertRegex(alert["time"], r"^\d{4}-\d\d-\d\dT")
        self.wait_for(lambda: 'mlx_serving_qos_alerts_total{channel="ops",result="sent"} 1'
                      in self.metrics(srv), "the alert metric")

        # Healthy again: after the open period one probe goes through and closes it.
        self.set_fault(srv, "")
        def closed():
            self.complete(srv)
            return self.qos(srv)["admission"]["circuit"] == "closed"
        self.wait_for(closed, "the circuit to close")
        self.wait_for(lambda: "succeeded: the circuit closes" in srv.log(), "the probe in the log")

    # --- switches and bad input ----------------------------------------------------------

    def test_dry_run_flag_decides_but_changes_nothing(self):
        srv = self.start("dry", ttft_policy("""          - type: scale_up
            target: governor
            params:
              delta: 3
            reason: TTFT SLO violated"""), SLOW, dry_run=True)
        for _ in range(3):
            self.complete(srv)
        self.wait_for(lambda: any(a["outcome"] == "dry_run" for a in self.qos(srv)["audit"]),
                      "a dry-run decision")
        j = self.qos(srv)
        self.assertEqual(j["governor"]["max_active_streams"], 2)
        self.assertTrue(j["switches"]["dry_run"])
        self.assertEqual(j["executor"]["total_executions"], 0)

    def test_invalid_qos_config_is_refused_at_start_and_on_reload(self):
        d = os.path.join(self.tmp, "bad")
        os.makedirs(d)
        cfg = os.path.join(d, "runtime.yaml")
        bad = runtime_yaml(self.model, ttft_policy("""          - type: scale_up
            target: transport
            params:
              delta: 3
            reason: wrong target""")).replace("metric: ttft", "metric: tft")
        with open(cfg, "w") as f:
            f.write(bad)
        p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), "serve", "--config", cfg,
                            "--port", "0", "--pid-file", os.path.join(d, "pid")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = {i + 1: l for i, l in enumerate(bad.split("\n"))}
        tft = next(n for n, l in lines.items() if "metric: tft" in l)
        target = next(n for n, l in lines.items() if "target: transport" in l)
        self.assertIn(f"{cfg}:{tft}:", p.stderr)
        self.assertIn(f"{cfg}:{target}:", p.stderr)
        # Faults set without enabling them are refused too.
        with open(cfg, "w") as f:
            f.write(runtime_yaml(self.model, ttft_policy("          []"),
                                 "fault_injection:\n  first_token_delay_ms: 100\n"))
        p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), "serve", "--config", cfg,
                            "--port", "0", "--pid-file", os.path.join(d, "pid")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("fault_injection.enabled is false", p.stderr)

        srv = self.start("reload-bad", ttft_policy("          []"))
        self.wait_for(lambda: self.qos(srv)["evaluator"]["policies_enabled"] == 1, "an evaluation")
        with open(self.config, "w") as f:
            f.write(bad)
        status, _, j = srv.json("POST", "/admin/reload")
        self.assertEqual(status, 422)
        self.assertIn("tft", j["error"]["message"])
        before = self.qos(srv)["evaluator"]["total_evaluations"]
        self.wait_for(lambda: self.qos(srv)["evaluator"]["total_evaluations"] > before + 1,
                      "more evaluations")
        j = self.qos(srv)
        self.assertEqual(j["evaluator"]["policies_enabled"], 1)
        self.assertEqual([p["id"] for p in j["policies"]], ["ttft_policy"])
        self.assertEqual(j["slos"][0]["metric"], "ttft")

    def test_metrics_pass_promtool_apart_from_the_specs_ms_names(self):
        srv = self.start("promtool", ttft_policy("""          - type: scale_up
            target: governor
            params:
              delta: 1
            reason: TTFT"""), SLOW)
        self.complete(srv)
        self.wait_for(lambda: "mlx_serving_qos_ttft_p95_ms{" in self.metrics(srv), "the TTFT gauges")
        m = self.metrics(srv)
        for name in ["mlx_serving_qos_slo_violations_total", "mlx_serving_qos_remediations_total",
                     "mlx_serving_qos_evaluations_total", "mlx_serving_qos_ttft_p95_ms",
                     "mlx_serving_qos_ttft_p99_ms", "mlx_serving_qos_error_rate"]:
            self.assertIn(f"# TYPE {name} ", m)
        problems = promtool_problems(m)
        if problems is None:
            self.skipTest("promtool not installed")
        self.assertEqual(problems, [])

if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
