"""`mlx-serving bench-serve` against a real `mlx-serving serve` on a tiny test model.

Run: /usr/bin/python3 tests/integration/test_bench_serve.py BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

BUILD = None


def free_port():
    """A port nothing listens on: bound once by us, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mlx-serving serve` on port 0; the port is read from its log."""

    def __init__(self, model, workdir, *extra):
        self.log = []
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "src/cli/mlx-serving"), "serve", "-m", model, "--port", "0",
             "--host", "127.0.0.1", "--config", "/dev/null",
             "--pid-file", os.path.join(workdir, "serve.pid"), *extra],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        found = threading.Event()

        def drain():  # keeps the pipe from filling and finds the port
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not found.wait(60) or self.port is None:
            self.proc.kill()
            raise RuntimeError("the server did not start:\n" + "".join(self.log))
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError("the model did not load:\n" + "".join(self.log))

    def stop(self):
        """SIGTERM; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            self.reader.join(5)


def bench(*args, timeout=300):
    return subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), "bench-serve", *args],
                          capture_output=True, text=True, timeout=timeout)


DISTRIBUTIONS = ("ttft", "tpot", "itl", "e2el")


class BenchServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-bench-serve-")
        cls.model = os.path.join(cls.tmp, "m.gguf")
        subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", cls.model,
                        "--arch", "llama", "--dim", "128", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "256", "--vocab", "512", "--ctx", "512",
                        "--type", "q8_0", "--tokenizer", "spm", "--seed", "7"],
                       check=True, capture_output=True)
        cls.server = Server(cls.model, cls.tmp, "--max-sequences", "4")

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.server.stop()
            if code != 0:
                log = "".join(cls.server.log)
                raise AssertionError(f"serve exited {code} after SIGTERM:\n{log}")
        finally:
            shutil.rmtree(cls.tmp)

    def run_json(self, *args):
        p = bench("--url", self.server.url, "--json", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def check_consistent(self, r, requests, output_len):
        self.assertEqual(r["completed"], requests)
        self.assertEqual(r["failed"], 0)
        self.assertIsNone(r["first_error"])
        self.assertEqual(r["total_output_tokens"], requests * output_len)  # ignore_eos
        self.assertGreater(r["duration"], 0)
        for key in ("request_throughput", "input_throughput", "output_throughput",
                    "total_token_throughput"):
            self.assertGreater(r[key], 0, key)
        self.assertAlmostEqual(r["request_throughput"] * r["duration"], requests, places=3)
        self.assertAlmostEqual(r["output_throughput"] * r["duration"], requests * output_len,
                               places=3)
        for d in DISTRIBUTIONS:
            median, p95, p99 = r[f"median_{d}_ms"], r[f"p95_{d}_ms"], r[f"p99_{d}_ms"]
            self.assertGreaterEqual(median, 0, d)
            self.assertLessEqual(median, p95, d)
            self.assertLessEqual(p95, p99, d)
            self.assertGreaterEqual(r[f"std_{d}_ms"], 0, d)
        # Every request's first token precedes its end, and no request outlasts the run.
        self.assertLessEqual(r["mean_ttft_ms"], r["mean_e2el_ms"])
        self.assertLessEqual(r["p99_e2el_ms"], r["duration"] * 1000 + 1)
        self.assertGreater(r["mean_tpot_ms"], 0)

    def test_completions_json(self):
        r = self.run_json("--concurrency", "2", "--requests", "6", "--output-len", "8",
                          "--prompt-len", "32")
        self.check_consistent(r, 6, 8)
        self.assertEqual(r["endpoint"], "completions")
        self.assertEqual(r["model"], "m")  # discovered through /v1/models
        self.assertIsNone(r["request_rate"])
        self.assertFalse(r["prompt_lengths_estimated"])
        # Prompts are calibrated with /tokenize; usage.prompt_tokens is what the server saw.
        self.assertGreaterEqual(r["total_input_tokens"], 6 * 28)
        self.assertLessEqual(r["total_input_tokens"], 6 * 36)

    def test_chat_shared_prefix_and_rate(self):
        out = os.path.join(self.tmp, "chat.json")
        r = self.run_json("--endpoint", "chat", "--concurrency", "3", "--requests", "5",
                          "--output-len", "4", "--prompt-len", "120", "--shared-prefix-len", "40",
                          "--rate", "50", "--seed", "5", "--output", out)
        self.check_consistent(r, 5, 4)
        self.assertEqual(r["endpoint"], "chat")
        self.assertEqual(r["request_rate"], 50)
        self.assertEqual(r["shared_prefix_len"], 40)
        # Chat prompts are measured with the template applied.
        self.assertGreaterEqual(r["total_input_tokens"], 5 * 110)
        self.assertLessEqual(r["total_input_tokens"], 5 * 130)
        with open(out) as f:
            self.assertEqual(json.load(f)["completed"], 5)

    def test_text_table(self):
        p = bench("--url", self.server.url, "--requests", "2", "--output-len", "3",
                  "--prompt-len", "16")
        self.assertEqual(p.returncode, 0, p.stderr)
        for label in ("Successful requests:", "Failed requests:", "Request throughput (req/s):",
                      "Output token throughput (tok/s):", "Mean TTFT (ms):", "P99 TPOT (ms):",
                      "Median ITL (ms):", "P95 E2EL (ms):"):
            self.assertIn(label, p.stdout)
        self.assertRegex(p.stdout, r"Successful requests:\s+2\n")
        self.assertRegex(p.stdout, r"Total generated tokens:\s+6\n")

    def test_http_errors_are_failed_requests(self):
        p = bench("--url", self.server.url, "--json", "--requests", "3", "--output-len", "2",
                  "--prompt-len", "8", "--model", "no-such-model")
        self.assertEqual(p.returncode, 1, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual((r["completed"], r["failed"]), (0, 3))
        self.assertIn("HTTP 404", r["first_error"])
        self.assertIn("no-such-model", p.stderr)

    def test_unreachable_server(self):
        p = bench("--url", f"http://127.0.0.1:{free_port()}", "--json", "--requests", "4",
                  "--concurrency", "2")
        self.assertEqual(p.returncode, 1)
        r = json.loads(p.stdout)
        self.assertEqual((r["completed"], r["failed"]), (0, 4))
        self.assertIn("connect", r["first_error"])
        self.assertIn("first error", p.stderr)

    def test_bad_flags_exit_2(self):
        for args in (["--concurrency", "0"], ["--requests", "x"], ["--rate", "-1"],
                     ["--endpoint", "embeddings"], ["--url", "ftp://127.0.0.1"],
                     ["--prompt-len", "4", "--shared-prefix-len", "5"], ["--output-len", "0"],
                     ["--no-such-flag"], ["stray"]):
            p = bench(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("bench-serve:", p.stderr, args)
            self.assertEqual(p.stdout, "", args)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
