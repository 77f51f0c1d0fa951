"""The official `openai` npm package (tests/integration/openai_node) against a real
`mlx-serving serve` started with --api-key on a tiny test model.

The package is installed with `npm ci` from the pinned lock file into BUILD_DIR/openai_node,
so the source tree stays clean. Exits 77 (skipped) when node or npm is missing or the npm
registry cannot be reached.

Run: /usr/bin/python3 tests/integration/test_openai_node.py BUILD_DIR
"""
import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_FILES = ("package.json", "package-lock.json", "client_test.mjs")
API_KEY = "secret"


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def install_client(build):
    """Copies the package into the build tree and runs `npm ci` there when needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        skip("node and npm are needed for the openai npm client test")
    dest = os.path.join(build, "openai_node")
    os.makedirs(dest, exist_ok=True)
    lock_changed = not os.path.exists(os.path.join(dest, "package-lock.json")) or not filecmp.cmp(
        os.path.join(HERE, "openai_node", "package-lock.json"),
        os.path.join(dest, "package-lock.json"), shallow=False)
    for name in PACKAGE_FILES:
        shutil.copyfile(os.path.join(HERE, "openai_node", name), os.path.join(dest, name))
    installed = os.path.exists(os.path.join(dest, "node_modules", "openai", "package.json"))
    if installed and not lock_changed:
        return node, dest
    env = dict(os.environ, npm_config_fetch_retries="1", npm_config_update_notifier="false")
    p = subprocess.run([npm, "ci", "--prefix", dest, "--no-audit", "--no-fund"],
                       capture_output=True, text=True, timeout=600, env=env)
    if p.returncode != 0:
        ping = subprocess.run([npm, "ping"], capture_output=True, text=True, timeout=120, env=env)
        if ping.returncode != 0:
            skip("the npm registry is unreachable (npm ping failed):\n" + ping.stderr[-2000:])
        print("npm ci failed:\n" + p.stdout[-4000:] + p.stderr[-4000:])
        sys.exit(1)
    return node, dest


def start_server(build, model, workdir):
    proc = subprocess.Popen(
        [os.path.join(build, "src/cli/mlx-serving"), "serve", "-m", model, "--port", "0",
         "--host", "127.0.0.1", "--config", "/dev/null", "--api-key", API_KEY,
         "--pid-file", os.path.join(workdir, "serve.pid")],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log, port, found = [], [], threading.Event()

    def drain():  # keeps the pipe from filling and finds the port
        for line in proc.stderr:
            log.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m and not port:
                port.append(int(m.group(1)))
                found.set()
        found.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if not found.wait(60) or not port:
        proc.kill()
        raise RuntimeError("the server did not start:\n" + "".join(log))
    url = f"http://127.0.0.1:{port[0]}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        if time.time() > deadline:
            proc.kill()
            raise RuntimeError("the model did not load:\n" + "".join(log))
        time.sleep(0.1)
    return proc, reader, log, url


def main():
    build = os.path.abspath(sys.argv[1])
    node, client_dir = install_client(build)
    tmp = tempfile.mkdtemp(prefix="mlxs-openai-node-")
    try:
        model = os.path.join(tmp, "m.gguf")
        subprocess.run([os.path.join(build, "tools/mlx-testmodel"), "-o", model, "--arch", "llama",
                        "--dim", "128", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                        "--ffn", "256", "--vocab", "512", "--ctx", "512", "--type", "q8_0",
                        "--tokenizer", "spm", "--seed", "7"], check=True, capture_output=True)
        proc, reader, log, url = start_server(build, model, tmp)
        try:
            client = subprocess.run([node, "client_test.mjs", url + "/v1", API_KEY],
                                    cwd=client_dir, capture_output=True, text=True, timeout=300)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            reader.join(5)
        print(client.stdout + client.stderr)
        if client.returncode != 0:
            print(f"client_test.mjs failed ({client.returncode}); server log:\n" + "".join(log))
            return 1
        if code != 0:
            print(f"serve exited {code} after SIGTERM:\n" + "".join(log))
            return 1
        return 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
