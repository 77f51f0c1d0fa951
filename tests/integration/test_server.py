"""End-to-end tests of `mlx-serving serve`: the OpenAI API over real HTTP (curl and
urllib as clients), errors, overload, disconnects, metrics under promtool, reload and
graceful shutdown.

Run: /usr/bin/python3 tests/integration/test_server.py BUILD_DIR
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_harness import Server, make_model, parse_sse, promtool_problems  # noqa: E402

BUILD = None
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}


def write_config(path, model, timeout_ms=60000, key_file=None, **sched):
    s = {"max_sequences": 4, "max_active_streams": 4, "max_waiting": 8}
    s.update(sched)
    text = f"""server:
  host: 127.0.0.1
  api_keys: ["{KEY}"]
  request_timeout_ms: {timeout_ms}
  drain_timeout_ms: 20000
  api_keys_file: "{key_file or ''}"
  cors:
    allowed_origins: ["http://app.example"]
model:
  path: {model}
  name: test-model
  n_ctx: 512
  threads: 2
scheduler:
"""
    text += "".join(f"  {k}: {v}\n" for k, v in s.items())
    with open(path, "w") as f:
        f.write(text)


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=timeout)


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-server-")
        # Big enough that a few hundred tokens take a noticeable time, small enough to load fast.
        cls.model = make_model(BUILD, os.path.join(cls.tmp, "m.gguf"), dim=256, layers=4, heads=8,
                               kv_heads=4, ffn=768, vocab=1024, ctx=512, seed=5)
        cls.config = os.path.join(cls.tmp, "runtime.yaml")
        write_config(cls.config, cls.model)
        cls.pid_file = os.path.join(cls.tmp, "server.pid")
        cls.srv = Server(BUILD, ["--config", cls.config, "--pid-file", cls.pid_file]).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.kill()
        shutil.rmtree(cls.tmp)

    def post(self, path, body, headers=AUTH, timeout=60):
        return self.srv.json("POST", path, body, headers, timeout)

    # --- the API ------------------------------------------------------------------------

    def test_completion_with_curl(self):
        body = json.dumps({"model": "test-model", "prompt": "Hello there", "max_tokens": 5,
                           "temperature": 0, "ignore_eos": True})
        p = curl("-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}",
                 "-d", body, "-D", "-", f"{self.srv.url}/v1/completions")
        self.assertEqual(p.returncode, 0, p.stderr)
        head, _, payload = p.stdout.decode().partition("\r\n\r\n")
        self.assertIn("200", head.split("\r\n")[0])
        self.assertIn("x-request-id", head.lower())
        j = json.loads(payload)
        self.assertEqual(j["object"], "text_completion")
        self.assertTrue(j["id"].startswith("cmpl-"))
        self.assertEqual(j["model"], "test-model")
        self.assertEqual(j["choices"][0]["finish_reason"], "length")
        self.assertEqual(j["usage"]["completion_tokens"], 5)
        self.assertEqual(j["usage"]["total_tokens"],
                         j["usage"]["prompt_tokens"] + j["usage"]["completion_tokens"])

    def test_greedy_is_deterministic_and_stream_matches(self):
        req = {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "ignore_eos": True}
        _, _, a = self.post("/v1/completions", req)
        _, _, b = self.post("/v1/completions", req)
        self.assertEqual(a["choices"][0]["text"], b["choices"][0]["text"])
        p = curl("-N", "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}",
                 "-d", json.dumps({**req, "stream": True, "stream_options": {"include_usage": True}}),
                 f"{self.srv.url}/v1/completions")
        events = parse_sse(p.stdout)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
        self.assertEqual(text, a["choices"][0]["text"])
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 12)
        finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        self.assertEqual(finishes[-1], "length")

    def test_chat_stream_and_non_stream(self):
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
        st, _, j = self.post("/v1/chat/completions", {"messages": msgs, "max_tokens": 6,
                                                      "temperature": 0, "seed": 1})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["object"], "chat.completion")
        self.assertEqual(j["choices"][0]["message"]["role"], "assistant")
        self.assertIn(j["choices"][0]["finish_reason"], ("stop", "length"))
        st, hdrs, raw = self.srv.request("POST", "/v1/chat/completions",
                                         {"messages": msgs, "max_tokens": 6, "temperature": 0,
                                          "seed": 1, "stream": True}, AUTH)
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/event-stream"))
        events = parse_sse(raw)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertEqual(chunks[0]["object"], "chat.completion.chunk")
        self.assertEqual(chunks[0]["choices"][0]["delta"].get("role"), "assistant")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        self.assertEqual(text, j["choices"][0]["message"]["content"])

    def test_logprobs(self):
        st, _, j = self.post("/v1/chat/completions", {
            "messages": [{"role": "user", "content": "x"}], "max_tokens": 3, "logprobs": True,
            "top_logprobs": 2, "ignore_eos": True})
        self.assertEqual(st, 200, j)
        content = j["choices"][0]["logprobs"]["content"]
        self.assertEqual(len(content), 3)
        self.assertEqual(len(content[0]["top_logprobs"]), 2)
        self.assertLessEqual(content[0]["logprob"], 0.0)

    def test_models_tokenize_detokenize(self):
        st, _, j = self.srv.json("GET", "/v1/models", headers=AUTH)
        self.assertEqual(st, 200)
        self.assertEqual(j["data"][0]["id"], "test-model")
        st, _, t = self.post("/tokenize", {"prompt": "hello world"})
        self.assertEqual(st, 200, t)
        self.assertGreater(t["count"], 0)
        st, _, d = self.post("/detokenize", {"tokens": t["tokens"]})
        self.assertEqual(st, 200, d)
        self.assertIn("hello world", d["prompt"])

    # --- errors -------------------------------------------------------------------------

    def assert_error(self, status, body, expect_status, param=None):
        self.assertEqual(status, expect_status, body)
        self.assertIn("error", body)
        err = body["error"]
        for k in ("message", "type", "param", "code"):
            self.assertIn(k, err)
        self.assertTrue(err["message"])
        if param:
            self.assertEqual(err["param"], param)

    def test_errors(self):
        st, _, raw = self.srv.request("POST", "/v1/completions", b"{not json", AUTH)
        self.assert_error(st, json.loads(raw), 400)
        st, _, j = self.post("/v1/completions", {"prompt": "x", "max_tokens": "ten"})
        self.assert_error(st, j, 400, "max_tokens")
        st, _, j = self.post("/v1/completions", {"prompt": "x", "n": 2})
        self.assert_error(st, j, 400, "n")
        st, _, j = self.post("/v1/completions", {"prompt": "x", "temperature": 9})
        self.assert_error(st, j, 400, "temperature")
        st, _, j = self.post("/v1/completions", {"model": "gpt-9", "prompt": "x"})
        self.assert_error(st, j, 404)
        self.assertEqual(j["error"]["code"], "model_not_found")
        st, _, j = self.post("/v1/chat/completions", {"messages": []})
        self.assert_error(st, j, 400, "messages")
        st, _, j = self.post("/v1/completions", {"prompt": "hello " * 50, "max_tokens": 500})
        self.assert_error(st, j, 400)
        self.assertIn("512", j["error"]["message"])
        self.assertIn("500", j["error"]["message"])
        st, _, j = self.post("/v1/completions", {"prompt": "x"}, headers={"Authorization": "Bearer nope"})
        self.assert_error(st, j, 401)
        st, _, j = self.post("/v1/completions", {"prompt": "x"}, headers={})
        self.assert_error(st, j, 401)
        st, _, j = self.srv.json("GET", "/v1/nothing-here", headers=AUTH)
        self.assert_error(st, j, 404)
        st, _, j = self.srv.json("GET", "/v1/completions", headers=AUTH)
        self.assert_error(st, j, 405)

    def test_cors(self):
        st, hdrs, _ = self.srv.request("OPTIONS", "/v1/completions",
                                       headers={"Origin": "http://app.example",
                                                "Access-Control-Request-Method": "POST"})
        self.assertEqual(st, 204)
        self.assertEqual(hdrs.get("access-control-allow-origin"), "http://app.example")
        self.assertIn("POST", hdrs.get("access-control-allow-methods", ""))
        st, hdrs, _ = self.srv.request("GET", "/health", headers={"Origin": "http://evil.example"})
        self.assertNotIn("access-control-allow-origin", hdrs)

    # --- load, disconnects, metrics -----------------------------------------------------

    def test_disconnect_cancels_and_frees_blocks(self):
        body = json.dumps({"prompt": "a long story", "max_tokens": 400, "stream": True,
                           "ignore_eos": True}).encode()
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                  + body)
        got = b""
        while b"data: " not in got:
            got += s.recv(4096)
        s.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            _, _, streams = self.srv.json("GET", "/v1/streams", headers=AUTH)
            _, _, health = self.srv.json("GET", "/health")
            if not streams["data"] and health["kv_blocks_used"] == 0:
                break
            time.sleep(0.05)
        self.assertEqual(streams["data"], [])
        self.assertEqual(health["kv_blocks_used"], 0)
        self.assertIn("status=499", self.srv.log())

    def test_metrics_pass_promtool(self):
        self.post("/v1/completions", {"prompt": "metrics", "max_tokens": 3, "ignore_eos": True})
        st, hdrs, raw = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"))
        text = raw.decode()
        for name in ("mlx_serving_requests_total", "mlx_serving_prompt_tokens_total",
                     "mlx_serving_generation_tokens_total", "mlx_serving_active_streams",
                     "mlx_serving_waiting_streams", "mlx_serving_kv_blocks_used",
                     "mlx_serving_kv_blocks_capacity", "mlx_serving_time_to_first_token_seconds_bucket",
                     "mlx_serving_inter_token_latency_seconds_bucket",
                     "mlx_serving_e2e_request_latency_seconds_bucket",
                     "mlx_serving_request_queue_time_seconds_bucket"):
            self.assertIn(name, text)
        self.assertIn('endpoint="/v1/completions",status="200"', text)
        problems = promtool_problems(text)
        if problems is None:
            self.skipTest("promtool not installed")
        self.assertEqual(problems, [])

    def test_overload_gets_429_and_health_stays_fast(self):
        # A second server with one slot and a one-request queue.
        cfg = os.path.join(self.tmp, "small.yaml")
        write_config(cfg, self.model, max_sequences=1, max_active_streams=1, max_waiting=1)
        srv = Server(BUILD, ["--config", cfg, "--pid-file", os.path.join(self.tmp, "s2.pid")]).start()
        try:
            results = []
            lock = threading.Lock()

            def run():
                r = srv.json("POST", "/v1/completions",
                             {"prompt": "busy", "max_tokens": 300, "ignore_eos": True}, AUTH)
                with lock:
                    results.append(r)

            threads = [threading.Thread(target=run) for _ in range(5)]
            for t in threads:
                t.start()
                time.sleep(0.05)
            # While the slot is busy, /health and /metrics answer at once.
            t0 = time.time()
            st, _, _ = srv.request("GET", "/health")
            st2, _, _ = srv.request("GET", "/metrics")
            health_s = time.time() - t0
            for t in threads:
                t.join()
            statuses = sorted(r[0] for r in results)
            self.assertEqual(st, 200)
            self.assertEqual(st2, 200)
            self.assertLess(health_s, 2.0)
            self.assertIn(429, statuses)
            self.assertIn(200, statuses)
            rejected = [r for r in results if r[0] == 429][0]
            self.assertIn("retry-after", rejected[1])
            self.assertEqual(rejected[2]["error"]["type"], "rate_limit_error")
        finally:
            srv.stop()

    def test_request_timeout(self):
        # A model slow enough that 480 tokens take seconds on any machine.
        slow = make_model(BUILD, os.path.join(self.tmp, "slow.gguf"), dim=768, layers=8, heads=12,
                          kv_heads=4, ffn=2048, vocab=2048, ctx=512, seed=9)
        cfg = os.path.join(self.tmp, "timeout.yaml")
        write_config(cfg, slow, timeout_ms=300)
        srv = Server(BUILD, ["--config", cfg, "--pid-file", os.path.join(self.tmp, "s3.pid")]).start()
        try:
            st, _, j = srv.json("POST", "/v1/completions",
                                {"prompt": "slow", "max_tokens": 480, "ignore_eos": True}, AUTH)
            self.assertEqual(st, 504, j)
            self.assertEqual(j["error"]["code"], "timeout")
            st, _, raw = srv.request("POST", "/v1/completions",
                                     {"prompt": "slow", "max_tokens": 480, "ignore_eos": True,
                                      "stream": True}, AUTH)
            events = parse_sse(raw)
            self.assertEqual(events[-1], "[DONE]")
            self.assertIn("error", json.loads(events[-2]))
        finally:
            srv.stop()

    def test_reload_on_sighup(self):
        cfg = os.path.join(self.tmp, "reload.yaml")
        write_config(cfg, self.model, max_active_streams=4)
        srv = Server(BUILD, ["--config", cfg, "--pid-file", os.path.join(self.tmp, "s4.pid")]).start()
        try:
            _, _, h = srv.json("GET", "/health")
            self.assertEqual(h["max_active_streams"], 4)
            write_config(cfg, self.model, max_active_streams=2)
            srv.signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline:
                _, _, h = srv.json("GET", "/health")
                if h["max_active_streams"] == 2:
                    break
                time.sleep(0.05)
            self.assertEqual(h["max_active_streams"], 2)
            # A broken file is rejected and the running settings stay.
            with open(cfg, "a") as f:
                f.write("bogus_section: 1\n")
            srv.signal(signal.SIGHUP)
            time.sleep(0.5)
            _, _, h = srv.json("GET", "/health")
            self.assertEqual(h["max_active_streams"], 2)
            self.assertIn("reload failed", srv.log())
        finally:
            srv.stop()

    def test_api_key_file_is_reread_on_sighup(self):
        cfg = os.path.join(self.tmp, "keys.yaml")
        keys = os.path.join(self.tmp, "keys.txt")
        with open(keys, "w") as f:
            f.write("# rotated weekly\nfirst-key\n")
        write_config(cfg, self.model, key_file=keys)
        srv = Server(BUILD, ["--config", cfg, "--pid-file", os.path.join(self.tmp, "s6.pid")]).start()
        try:
            def status(key):
                return srv.request("GET", "/v1/models", headers={"Authorization": f"Bearer {key}"})[0]
            self.assertEqual(status("first-key"), 200)
            self.assertEqual(status(KEY), 200)  # api_keys and the file's keys both count
            with open(keys, "w") as f:
                f.write("second-key\n")
            srv.signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline and status("second-key") != 200:
                time.sleep(0.05)
            self.assertEqual(status("second-key"), 200)
            self.assertEqual(status("first-key"), 401)
        finally:
            srv.stop()

    def test_tls(self):
        openssl = shutil.which("openssl")
        if not openssl:
            self.skipTest("openssl command not installed")
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        cfg = os.path.join(self.tmp, "tls.yaml")
        write_config(cfg, self.model)
        text = open(cfg).read().replace("server:\n", f"server:\n  tls_cert_file: {cert}\n  tls_key_file: {key}\n")
        open(cfg, "w").write(text)
        srv = Server(BUILD, ["--config", cfg, "--pid-file", os.path.join(self.tmp, "s7.pid")])
        srv.start(wait_ready=False)
        try:
            self.assertIn("https://", srv.log())
            body = json.dumps({"prompt": "secure", "max_tokens": 3, "ignore_eos": True})
            deadline = time.time() + 60
            while True:
                p = curl("-k", "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}",
                         "-d", body, f"https://127.0.0.1:{srv.port}/v1/completions")
                if p.returncode == 0 and b"text_completion" in p.stdout or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(json.loads(p.stdout)["usage"]["completion_tokens"], 3)
            # Plain HTTP to the TLS port gets no answer.
            p = curl("--max-time", "5", f"http://127.0.0.1:{srv.port}/health")
            self.assertNotEqual(p.returncode, 0)
        finally:
            srv.stop()

    def test_sigterm_drains_running_stream_then_exits_zero(self):
        pid_file = os.path.join(self.tmp, "s5.pid")
        srv = Server(BUILD, ["--config", self.config, "--pid-file", pid_file]).start()
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), srv.proc.pid)
        result = {}

        def run():
            result["r"] = srv.request("POST", "/v1/completions",
                                      {"prompt": "drain", "max_tokens": 200, "ignore_eos": True,
                                       "stream": True}, AUTH)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            _, _, s = srv.json("GET", "/v1/streams", headers=AUTH)
            if s["data"]:
                break
            time.sleep(0.02)
        srv.signal(signal.SIGTERM)
        t.join(60)
        code = srv.proc.wait(60)
        self.assertEqual(code, 0, srv.log())
        st, _, raw = result["r"]
        self.assertEqual(st, 200)
        events = parse_sse(raw)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks][-1], "length")
        self.assertFalse(os.path.exists(pid_file))


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main()
