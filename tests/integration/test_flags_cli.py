"""End-to-end tests of `mlx-serving flags` and scripts/validate-feature-flags.

Run: /usr/bin/python3 tests/integration/test_flags_cli.py BUILD_DIR
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
SHIPPED = os.path.join(SRC, "config", "feature-flags.yaml")
SCRIPT = os.path.join(SRC, "scripts", "validate-feature-flags")


def binary():
    return os.path.join(BUILD, "src/cli/mlx-serving")


def mlx(*args, stdin=None):
    return subprocess.run([binary(), *args], capture_output=True, text=True, input=stdin,
                          timeout=60)


def bucket(key, seed):
    """The spec's shouldEnableFeature bucket, computed independently of the binary."""
    digest = hashlib.md5(f"{key}:{seed}".encode()).hexdigest()
    return int(digest[:8], 16) % 100


class FlagsCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mlxs-flags-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # validate

    def test_validate_shipped_file(self):
        p = mlx("flags", "validate", SHIPPED)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], f"{SHIPPED}: valid")
        self.assertIn('canary: enabled, 100%, no hash_seed', p.stdout)
        self.assertIn("phase4_rollout: enabled, 100%", p.stdout)
        self.assertIn("speculation on (allowlist only), kv_prep off", p.stdout)
        self.assertIn("kill_switch off, rollback_to_baseline off", p.stdout)
        self.assertNotIn("warning", p.stdout)

    def test_validate_reports_every_problem_with_its_line(self):
        path = self.write("bad.yaml", "\n".join([
            "phase4_rollout:",
            "  enabled: yes",           # 2: not a boolean
            "  percentage: 150",        # 3: out of range
            "canary:",
            "  enabled: true",
            "  rollout_percentage: 5",  # 6: canary spells it rolloutPercentage
            "emergency:",
            "  kill_switch: false",
            "  kill_switch: true",      # 9: duplicate
            "ttft_pipeline:",
            "  enabled: true",
            "  rollout_percentage: 25",  # 12: no hash_seed
            "",
        ]))
        p = mlx("flags", "validate", path)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        for line, text in [(2, "'phase4_rollout.enabled' must be true or false"),
                           (3, "'phase4_rollout.percentage' must be between 0 and 100, not 150"),
                           (6, "unknown key 'canary.rollout_percentage' (known: enabled, "
                               "rolloutPercentage, hash_seed)"),
                           (9, "duplicate key 'emergency.kill_switch' (first at line 8)"),
                           (12, "ttft_pipeline: rollout_percentage is 25: hash_seed is required "
                                "when the percentage is between 0 and 100")]:
            self.assertIn(f"{path}:{line}: error: {text}", p.stderr)
        self.assertTrue(p.stderr.rstrip().endswith(f"{path}: 5 error(s)"), p.stderr)

    def test_validate_syntax_error(self):
        path = self.write("syntax.yaml", "canary:\n  enabled: true\n   bad: [\n")
        p = mlx("flags", "validate", path)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, rf"{path}:\d+: error: YAML syntax error at \d+:\d+")
        self.assertIn(f"{path}: 1 error(s)", p.stderr)

    def test_validate_warning_only_is_valid(self):
        path = self.write("warn.yaml", "\n".join([
            "phase4_rollout:",
            "  enabled: true",
            "  percentage: 100",
            "  hash_seed: shared",
            "qos_monitor:",
            "  enabled: true",
            "  rollout_percentage: 20",
            "  hash_seed: shared",
            "",
        ]))
        p = mlx("flags", "validate", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"{path}: valid", p.stdout)
        self.assertIn(f"{path}:8: warning: qos_monitor.hash_seed 'shared' is also the seed of "
                      "phase4_rollout", p.stdout)

    def test_validate_empty_file(self):
        path = self.write("empty.yaml", "# nothing configured yet\n")
        p = mlx("flags", "validate", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no features configured", p.stdout)
        self.assertIn("phase4_rollout is disabled", p.stdout)

    def test_validate_missing_file(self):
        path = os.path.join(self.tmp, "missing.yaml")
        p = mlx("flags", "validate", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}: error: cannot open: No such file or directory", p.stderr)

    def test_usage_errors_exit_2(self):
        for args in [("flags",), ("flags", "validate"), ("flags", "validate", "a", "b"),
                     ("flags", "frobnicate", SHIPPED), ("flags", "validate", "--strict", SHIPPED),
                     ("flags", "eval", SHIPPED)]:
            p = mlx(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("usage: mlx-serving flags", p.stderr, args)

    def test_help(self):
        for args in [("flags", "--help"), ("flags", "eval", "--help"), ("flags", "-h")]:
            p = mlx(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("mlx-serving flags validate FILE", p.stdout)
            self.assertIn("mlx-serving flags eval FILE FEATURE [KEY...]", p.stdout)
        self.assertIn("flags", mlx("--help").stdout)

    # eval

    def rollout_file(self):
        return self.write("rollout.yaml", "\n".join([
            "phase4_rollout:",
            "  enabled: true",
            "  percentage: 80",
            "  hash_seed: p4-seed",
            "canary:",
            "  enabled: true",
            "  rolloutPercentage: 30",
            "  hash_seed: canary-seed",
            "ttft_pipeline:",
            "  enabled: true",
            "  rollout_percentage: 50",
            "  hash_seed: ttft-seed",
            "  speculation:",
            "    enabled: true",
            "",
        ]))

    def expected(self, feature, seed, pct, key):
        """What the spec's rules give under rollout_file(): phase4 80%, then the feature."""
        p4 = bucket(key, "p4-seed")
        if p4 >= 80:
            return {"feature": feature, "key": key, "enabled": False,
                    "reason": "phase4_not_in_bucket", "bucket": p4}
        b = bucket(key, seed)
        return {"feature": feature, "key": key, "enabled": b < pct,
                "reason": "rollout" if b < pct else "not_in_bucket", "bucket": b}

    def test_eval_agrees_with_hashlib(self):
        path = self.rollout_file()
        keys = [f"req-{i}" for i in range(300)] + ["", "用户 42", 'quote"and\\slash']
        p = mlx("flags", "eval", path, "canary", "--", *keys)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(rows), len(keys))
        reasons = set()
        for key, row in zip(keys, rows):
            self.assertEqual(row, self.expected("canary", "canary-seed", 30, key))
            self.assertEqual(list(row), ["feature", "key", "enabled", "reason", "bucket"])
            reasons.add(row["reason"])
        self.assertEqual(reasons, {"rollout", "not_in_bucket", "phase4_not_in_bucket"})

    def test_eval_reads_keys_from_stdin(self):
        path = self.rollout_file()
        keys = [f"user-{i}" for i in range(200)]
        p = mlx("flags", "eval", path, "ttft_pipeline.speculation",
                stdin="".join(k + "\n" for k in keys[:-1]) + keys[-1] + "\r\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual([r["key"] for r in rows], keys)
        for key, row in zip(keys, rows):
            # A sub-feature follows its parent, with the parent's bucket.
            want = self.expected("ttft_pipeline.speculation", "ttft-seed", 50, key)
            self.assertEqual(row, want)

    def test_eval_disabled_and_kill_switch(self):
        path = self.write("kill.yaml", "phase4_rollout:\n  enabled: true\n  percentage: 100\n"
                                       "emergency:\n  kill_switch: true\n")
        row = json.loads(mlx("flags", "eval", path, "phase4_rollout", "k").stdout)
        self.assertEqual(row, {"feature": "phase4_rollout", "key": "k", "enabled": False,
                               "reason": "kill_switch", "bucket": -1})
        row = json.loads(mlx("flags", "eval", SHIPPED, "ttft_pipeline.kv_prep", "k").stdout)
        self.assertEqual(row["reason"], "disabled")
        self.assertEqual(row["bucket"], bucket("k", "ttft-pipeline-2025-01-08"))

    def test_eval_unknown_feature_lists_features(self):
        p = mlx("flags", "eval", SHIPPED, "ttft_pipeline.turbo", "k")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown feature 'ttft_pipeline.turbo'", p.stderr)
        self.assertIn("qos_monitor.policy_store", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_eval_invalid_file(self):
        path = self.write("bad.yaml", "canary:\n  enabled: \"true\"\n")
        p = mlx("flags", "eval", path, "canary", "k")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{path}:2: error: 'canary.enabled' must be true or false", p.stderr)
        self.assertEqual(p.stdout, "")

    # scripts/validate-feature-flags

    def test_script_with_mlxs_bin(self):
        env = dict(os.environ, MLXS_BIN=binary())
        p = subprocess.run([SCRIPT, SHIPPED], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"{SHIPPED}: valid", p.stdout)
        # No argument: the repository's config/feature-flags.yaml.
        p = subprocess.run([SCRIPT], capture_output=True, text=True, env=env, timeout=60,
                           cwd=self.tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("feature-flags.yaml: valid", p.stdout)
        bad = self.write("bad.yaml", "canary: 5\n")
        p = subprocess.run([SCRIPT, bad], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{bad}:1: error: 'canary' must be a mapping", p.stderr)

    def test_script_without_a_binary(self):
        # A copy of the script outside the repository, with nothing on PATH to find.
        os.makedirs(os.path.join(self.tmp, "scripts"))
        script = os.path.join(self.tmp, "scripts", "validate-feature-flags")
        shutil.copy(SCRIPT, script)
        env = {"PATH": "/usr/bin:/bin"}
        if shutil.which("mlx-serving", path=env["PATH"]):
            self.skipTest("an mlx-serving is installed on the system PATH")
        p = subprocess.run([script, SHIPPED], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot find mlx-serving", p.stderr)
        self.assertIn("MLXS_BIN", p.stderr)
        env["MLXS_BIN"] = os.path.join(self.tmp, "nope")
        p = subprocess.run([script, SHIPPED], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is not an executable file", p.stderr)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
