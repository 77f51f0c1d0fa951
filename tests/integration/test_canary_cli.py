"""End-to-end tests of `mlx-serving canary validate|route|set-percentage`.

Run: /usr/bin/python3 tests/integration/test_canary_cli.py BUILD_DIR
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = None
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(SRC, "config", "canary.yaml")


def binary():
    return os.path.join(BUILD, "src/cli/mlx-serving")


def mlx(*args, stdin=None):
    return subprocess.run([binary(), *args], capture_output=True, text=True, input=stdin,
                          timeout=60)


def bucket(key, seed):
    """The canary bucket, computed independently of the binary."""
    return int(hashlib.md5(f"{key}:{seed}".encode()).hexdigest()[:8], 16) % 10000


DEPLOYED = """\
# rollout under test
canary:
  enabled: true
  rolloutPercentage: 10              # raised by the deploy script
  strategy: hash
  hashSeed: rollout-7

rollback:
  cooldownMs: 1000

variants:
  canary:
    kind: upstream
    url: http://127.0.0.1:8081
"""


class CanaryCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mlxs-canary-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def read(self, path):
        with open(path) as f:
            return f.read()

    # validate

    def test_validate_shipped_file(self):
        p = mlx("canary", "validate", SHIPPED)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines()[0], f"{SHIPPED}: valid")
        self.assertIn('canary: disabled, 0%, strategy hash, hashKey user_id, hashSeed "canary"',
                      p.stdout)
        self.assertIn("baseline: server", p.stdout)
        self.assertIn("canary variant: none", p.stdout)
        for trigger in ["high_error_rate > 2 (critical)", "high_latency > 1.5 (critical)",
                        "memory_leak > 50 (warning)", "crash_rate > 0.001 (critical)"]:
            self.assertIn("trigger " + trigger, p.stdout)

    def test_validate_reports_every_problem_with_its_line(self):
        path = self.write("bad.yaml", "\n".join([
            "canary:",
            "  enabled: yes",               # 2: not a boolean
            "  rolloutPercentage: 150",     # 3: out of range
            "rollback:",
            "  triggers:",
            "    - name: high_latency",
            "      threshold: 0",           # 7: must be above 0
            "variants:",
            "  canary:",
            "    kind: local",
            "    model: /no/such/model.gguf",  # 11: missing file
            "",
        ]))
        p = mlx("canary", "validate", path)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        for line, text in [(2, "'canary.enabled' must be true or false"),
                           (3, "'canary.rolloutPercentage' must be between 0 and 100"),
                           (7, "'rollback.triggers[0].threshold' must be above 0"),
                           (11, "variants.canary.model: no such file")]:
            self.assertIn(f"{path}:{line}: {text}", p.stderr)
        self.assertIn(f"{path}: 4 error(s)", p.stderr)

    def test_validate_missing_file_and_usage(self):
        p = mlx("canary", "validate", os.path.join(self.tmp, "none.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot read", p.stderr)
        self.assertEqual(mlx("canary").returncode, 2)
        self.assertEqual(mlx("canary", "validate").returncode, 2)
        self.assertEqual(mlx("canary", "deploy", SHIPPED).returncode, 2)
        self.assertEqual(mlx("canary", "validate", SHIPPED, "--bogus").returncode, 2)
        self.assertEqual(mlx("canary", "--help").returncode, 0)

    # route

    def test_route_matches_the_reference_hash(self):
        path = self.write("c.yaml", DEPLOYED)
        keys = [f"user-{i}" for i in range(2000)] + ["", "ünïcode", "a:b"]
        p = mlx("canary", "route", path, "--", *keys)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), len(keys))
        on_canary = 0
        for key, line in zip(keys, lines):
            got = json.loads(line)
            self.assertEqual(list(got), ["key", "variant", "bucket"])
            self.assertEqual(got["key"], key)
            b = bucket(key, "rollout-7")
            self.assertEqual(got["bucket"], b, key)
            self.assertEqual(got["variant"], "canary" if b < 10 * 100 else "baseline", key)
            on_canary += got["variant"] == "canary"
        self.assertGreater(on_canary, 120)  # ~10 % of 2003
        self.assertLess(on_canary, 290)

    def test_route_reads_keys_from_stdin(self):
        path = self.write("c.yaml", DEPLOYED)
        p = mlx("canary", "route", path, stdin="alice\r\nbob\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual([g["key"] for g in got], ["alice", "bob"])
        self.assertEqual(got[1]["bucket"], bucket("bob", "rollout-7"))

    def test_route_disabled_file_sends_everything_to_baseline(self):
        p = mlx("canary", "route", SHIPPED, "a", "b", "c")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual({json.loads(line)["variant"] for line in p.stdout.splitlines()},
                         {"baseline"})

    def test_route_invalid_file(self):
        path = self.write("bad.yaml", "canary:\n  strategy: sticky\n")
        p = mlx("canary", "route", path, "k")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:2:", p.stderr)
        self.assertEqual(p.stdout, "")

    # set-percentage

    def test_set_percentage_rewrites_in_place(self):
        path = self.write("c.yaml", DEPLOYED)
        p = mlx("canary", "set-percentage", path, "0.5")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("rolloutPercentage 0.5 (line 4)", p.stdout)
        expected = DEPLOYED.replace("rolloutPercentage: 10              #",
                                    "rolloutPercentage: 0.5             #")
        self.assertEqual(self.read(path), expected)
        # The router follows the file.
        r = mlx("canary", "route", path, "--", *[f"u{i}" for i in range(3000)])
        for line in r.stdout.splitlines():
            got = json.loads(line)
            self.assertEqual(got["variant"] == "canary", got["bucket"] < 50)
        self.assertEqual(mlx("canary", "set-percentage", path, "10").returncode, 0)
        self.assertEqual(self.read(path), DEPLOYED)
        self.assertEqual(os.listdir(self.tmp), ["c.yaml"])  # no temporary left

    def test_set_percentage_inserts_a_missing_key(self):
        path = self.write("c.yaml", "# top\ncanary:\n  enabled: false\n")
        self.assertEqual(mlx("canary", "set-percentage", path, "0").returncode, 0)
        self.assertEqual(self.read(path), "# top\ncanary:\n  rolloutPercentage: 0\n"
                                          "  enabled: false\n")

    def test_set_percentage_refuses_bad_values(self):
        path = self.write("c.yaml", DEPLOYED)
        for bad in ["150", "-1", "ten", "1e3", ""]:
            p = mlx("canary", "set-percentage", path, "--", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("N must be a number from 0 to 100", p.stderr)
        self.assertEqual(self.read(path), DEPLOYED)
        self.assertEqual(mlx("canary", "set-percentage", path).returncode, 2)

    def test_set_percentage_refuses_a_result_that_does_not_validate(self):
        # Enabled without a canary variant: 0 is fine, 5 is not.
        text = "canary:\n  enabled: true\n  rolloutPercentage: 0\n"
        path = self.write("c.yaml", text)
        p = mlx("canary", "set-percentage", path, "5")
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 3: canary is enabled at 5% but 'variants.canary' is missing",
                      p.stderr)
        self.assertIn("the file is unchanged", p.stderr)
        self.assertEqual(self.read(path), text)
        missing = os.path.join(self.tmp, "none.yaml")
        self.assertEqual(mlx("canary", "set-percentage", missing, "1").returncode, 1)
        self.assertFalse(os.path.exists(missing))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_canary_cli.py BUILD_DIR")
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
