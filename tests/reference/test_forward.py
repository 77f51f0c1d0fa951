#!/usr/bin/python3
"""Self-test of reference_forward.py and compare_logits.py, without the engine.

The reference forward pass (position by position, as llama2.c) is checked against a second
formulation written differently: all positions at once with a causal mask, RoPE as complex
multiplication, grouped-query attention by repeating key/value heads. Models come from
mlx-testmodel.

    /usr/bin/python3 test_forward.py --testmodel BUILD/tools/mlx-testmodel
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_forward as rf  # noqa: E402

TESTMODEL = None  # set from the command line
TOKENS = [1, 15, 300, 42, 7, 99, 260, 511, 3, 128, 77, 400]


def make_model(tmp, name, *args):
    path = os.path.join(tmp, name + ".gguf")
    subprocess.run([TESTMODEL, "-o", path, *args], check=True, capture_output=True)
    return path


def batched_forward(m, tokens):
    """The same network, all positions at once."""
    T, nh, nkv, hd = len(tokens), m.n_heads, m.n_kv_heads, m.head_dim
    pos = np.arange(T, dtype=np.float64)[:, None]
    inv = m.rope_base ** (-np.arange(0, m.n_rot, 2, dtype=np.float64) / m.n_rot)
    if m.rope_freqs is not None:
        inv = inv / m.rope_freqs
    rot = np.exp(1j * pos * inv)  # [T, n_rot/2]

    def rope(x):  # x [T, heads, hd]
        r = m.n_rot
        if m.neox:
            z = (x[..., :r // 2] + 1j * x[..., r // 2:r]) * rot[:, None, :]
            return np.concatenate([z.real, z.imag, x[..., r:]], axis=-1)
        z = (x[..., 0:r:2] + 1j * x[..., 1:r:2]) * rot[:, None, :]
        out = x.copy()
        out[..., 0:r:2], out[..., 1:r:2] = z.real, z.imag
        return out

    def norm(x, w):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + m.eps) * w

    mask = np.triu(np.full((T, T), -np.inf), k=1)
    x = m.token_embd[tokens]
    for L in m.layers:
        xb = norm(x, L["attn_norm"])
        q, k, v = xb @ L["wq"].T, xb @ L["wk"].T, xb @ L["wv"].T
        if L["bq"] is not None:
            q, k, v = q + L["bq"], k + L["bk"], v + L["bv"]
        q = rope(q.reshape(T, nh, hd))
        k = np.repeat(rope(k.reshape(T, nkv, hd)), nh // nkv, axis=1)
        v = np.repeat(v.reshape(T, nkv, hd), nh // nkv, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        o = np.einsum("hts,shd->thd", p, v).reshape(T, nh * hd)
        x = x + o @ L["wo"].T
        xb = norm(x, L["ffn_norm"])
        g = xb @ L["w_gate"].T
        x = x + (g / (1 + np.exp(-g)) * (xb @ L["w_up"].T)) @ L["w_down"].T
    return norm(x, m.output_norm) @ m.output.T


VARIANTS = {
    "llama_f32": [],
    "llama_q4_k": ["--type", "q4_k"],
    "qwen2_f32": ["--arch", "qwen2"],
    "llama_tied": ["--tied-output"],
    "llama_rope_freqs": ["--rope-freqs"],
    "llama_mha": ["--kv-heads", "4"],
    "llama_gpt2": ["--tokenizer", "gpt2", "--type", "q8_0"],
}


class ForwardPass(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.paths = {n: make_model(cls.tmp.name, n, *a) for n, a in VARIANTS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_matches_batched_formulation(self):
        for name, path in self.paths.items():
            with self.subTest(model=name):
                m = rf.Model(path)
                a = rf.forward(m, TOKENS)
                b = batched_forward(m, TOKENS)
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
                # Sane scale: random weights keep logits near unit size.
                self.assertTrue(0.2 < a.std() < 5, f"logit std {a.std()}")

    def test_causal(self):
        m = rf.Model(self.paths["llama_f32"])
        full = rf.forward(m, TOKENS)
        np.testing.assert_allclose(rf.forward(m, TOKENS[:5]), full[:5], atol=1e-12)

    def test_metadata_drives_the_pass(self):
        llama = rf.Model(self.paths["llama_f32"])
        qwen = rf.Model(self.paths["qwen2_f32"])
        self.assertFalse(llama.neox)
        self.assertTrue(qwen.neox)
        self.assertEqual(qwen.eps, np.float32(1e-6))
        self.assertIsNotNone(qwen.layers[0]["bq"])
        tied = rf.Model(self.paths["llama_tied"])
        self.assertIs(tied.output, tied.token_embd)
        rq = rf.Model(self.paths["llama_rope_freqs"])
        self.assertEqual(rq.rope_freqs.shape, (rq.n_rot // 2,))
        self.assertTrue((rq.rope_freqs >= 1).all() and rq.rope_freqs.max() > 1)
        # The rope mode matters: forcing the other mode changes the logits.
        a = rf.forward(llama, TOKENS[:6])
        llama.neox = True
        self.assertGreater(np.abs(rf.forward(llama, TOKENS[:6]) - a).max(), 1e-3)


class CompareScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = make_model(cls.tmp.name, "cmp")
        cls.ref = rf.forward(rf.Model(cls.model), TOKENS)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_compare(self, logits, tol="1e-3"):
        path = os.path.join(self.tmp.name, "engine.json")
        with open(path, "w") as f:
            json.dump({"n_vocab": logits.shape[1], "logits": logits.tolist()}, f)
        p = subprocess.run([sys.executable, os.path.join(HERE, "compare_logits.py"), self.model,
                            ",".join(map(str, TOKENS)), "--engine-json", path, "--tol", tol],
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_exact_passes(self):
        rc, out = self.run_compare(self.ref)
        self.assertEqual(rc, 0, out)

    def test_small_noise_passes_large_fails(self):
        noise = np.random.default_rng(0).normal(0, 1, self.ref.shape)
        self.assertEqual(self.run_compare(self.ref + 1e-5 * noise)[0], 0)
        self.assertEqual(self.run_compare(self.ref + 1e-1 * noise)[0], 1)

    def test_argmax_difference_fails_and_tie_passes(self):
        got = self.ref.copy()
        pos = 3
        order = np.argsort(-got[pos])
        top, second = order[0], order[1]
        # Engine prefers the runner-up by a margin: a real disagreement unless within tol.
        got[pos, second] = got[pos, top] + 1e-4
        gap = self.ref[pos, top] - self.ref[pos, second]
        rc, out = self.run_compare(got, tol=str(gap + 1e-3))
        self.assertEqual(rc, 0, out)  # the reference gap is within tol: a tie
        self.assertIn("tie", out)
        rc, out = self.run_compare(got, tol=str(gap / 2))
        self.assertEqual(rc, 1, out)

    def test_binary_is_run_with_the_expected_arguments(self):
        # A stand-in engine that checks its arguments and prints saved logits.
        saved = os.path.join(self.tmp.name, "saved.json")
        with open(saved, "w") as f:
            json.dump({"n_vocab": self.ref.shape[1], "logits": self.ref.tolist()}, f)
        fake = os.path.join(self.tmp.name, "fake-engine")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n"
                    f'[ "$1" = logits ] && [ "$2" = -m ] && [ "$3" = "{self.model}" ] && '
                    f'[ "$4" = --tokens ] && [ "$5" = "{",".join(map(str, TOKENS))}" ] || exit 3\n'
                    f'echo "loading..." >&2\ncat "{saved}"\n')
        os.chmod(fake, 0o755)
        p = subprocess.run([sys.executable, os.path.join(HERE, "compare_logits.py"), self.model,
                            ",".join(map(str, TOKENS)), "--binary", fake],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


def main():
    global TESTMODEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--testmodel", default=os.environ.get("MLXS_TESTMODEL"),
                    help="path to mlx-testmodel")
    args, rest = ap.parse_known_args()
    if not args.testmodel:
        ap.error("give --testmodel (or set MLXS_TESTMODEL)")
    TESTMODEL = args.testmodel
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
