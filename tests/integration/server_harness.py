"""Starts the real `mlx-serving serve` on a loopback port for integration tests.

The server is started with --port 0; the port is read from its "listening on" log line.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, build_dir, args, env=None):
        self.build_dir = build_dir
        self.args = args
        self.env = env
        self.proc = None
        self.port = None
        self.log_lines = []
        self._lock = threading.Lock()
        self._port_seen = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready=True, timeout=120):
        exe = os.path.join(self.build_dir, "src/cli/mlx-serving")
        self.proc = subprocess.Popen([exe, "serve", "--port", "0", *self.args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=self.env, text=True)
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._port_seen.wait(timeout):
            self.kill()
            raise AssertionError("server did not start listening:\n" + self.log())
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _read_log(self):
        for line in self.proc.stderr:
            with self._lock:
                self.log_lines.append(line.rstrip("\n"))
            m = re.search(r"listening on https?://[^:]+:(\d+)", line)
            if m and not self._port_seen.is_set():
                self.port = int(m.group(1))
                self._port_seen.set()
        self.proc.stderr.close()

    def log(self):
        with self._lock:
            return "\n".join(self.log_lines)

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.log())
            status, _, _ = self.request("GET", "/health")
            if status == 200:
                return
            time.sleep(0.05)
        raise AssertionError("server not ready in time:\n" + self.log())

    def request(self, method, path, body=None, headers=None, timeout=60):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def json(self, method, path, body=None, headers=None, timeout=60):
        status, hdrs, raw = self.request(method, path, body, headers, timeout)
        return status, hdrs, json.loads(raw) if raw else None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("server did not stop on SIGTERM:\n" + self.log())
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()




def wait_for(predicate, what, timeout=30):
    """Polls `predicate` until it returns something truthy (returned); AssertionError
    naming `what` after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)

def make_model(build_dir, path, *, dim=128, layers=2, heads=4, kv_heads=2, ffn=256, vocab=600,
               ctx=512, seed=3, tokenizer="spm"):
    subprocess.run([os.path.join(build_dir, "tools/mlx-testmodel"), "-o", path, "--arch", "llama",
                    "--dim", str(dim), "--layers", str(layers), "--heads", str(heads),
                    "--kv-heads", str(kv_heads), "--ffn", str(ffn), "--vocab", str(vocab),
                    "--ctx", str(ctx), "--type", "q8_0", "--tokenizer", tokenizer,
                    "--seed", str(seed)], check=True, capture_output=True)
    return path


def parse_sse(raw):
    """Splits an SSE body into its data payloads (strings), in order."""
    events = []
    for block in raw.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                events.append(line[len("data: "):])
    return events


# The spec names some gauges in milliseconds; promtool's linter asks for base units and
# says so. Those names are kept (with *_seconds twins beside them); any other message from
# promtool is a real problem.
SPEC_MS_NAMES = re.compile(
    r"^mlx_serving_(qos_ttft_p9[59]|canary_latency_p95)_ms metric names should not contain "
    r"abbreviated units$")


def promtool_problems(text):
    """What `promtool check metrics` finds wrong with `text` beyond the spec's _ms names;
    None when promtool is not installed."""
    promtool = shutil.which("promtool")
    if not promtool:
        return None
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    lines = [l for l in (p.stdout + p.stderr).decode().splitlines() if l.strip()]
    problems = [l for l in lines if not SPEC_MS_NAMES.match(l)]
    if p.returncode not in (0, 3) and not problems:
        problems = [f"promtool exited with {p.returncode}"]
    return problems
