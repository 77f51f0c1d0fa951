#!/usr/bin/python3
"""Checks mlx-testmodel's output with the independent Python GGUF reader: determinism,
llama.cpp metadata keys, tensor names/shapes/types (q4_k_m mix, K-quant fallbacks), weight
statistics, the synthetic vocabularies, copying a tokenizer file, and option errors.

    /usr/bin/python3 test_testmodel.py --testmodel BUILD/tools/mlx-testmodel [--tokenizers DIR]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader as g  # noqa: E402

TESTMODEL = None
TOKENIZERS = None  # directory with ggml-vocab-*.gguf, optional


class Generator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def make(self, name, *args, check=True):
        path = os.path.join(self.tmp.name, name + ".gguf")
        p = subprocess.run([TESTMODEL, "-o", path, *args], capture_output=True, text=True)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return path, p

    def test_same_seed_same_bytes(self):
        a, _ = self.make("a", "--type", "q4_k", "--seed", "5")
        b, _ = self.make("b", "--type", "q4_k", "--seed", "5", "--threads", "1")
        c, _ = self.make("c", "--type", "q4_k", "--seed", "6")
        with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
            da, db, dc = fa.read(), fb.read(), fc.read()
        self.assertEqual(da, db)
        self.assertNotEqual(da, dc)

    def test_llama_metadata_and_tensors(self):
        path, _ = self.make("llama", "--dim", "128", "--layers", "3", "--heads", "4",
                            "--kv-heads", "1", "--ffn", "320", "--vocab", "300", "--ctx", "64",
                            "--rope-base", "500000", "--type", "f16")
        f = g.GgufFile(path)
        m = f.metadata
        self.assertEqual(f.version, 3)
        self.assertEqual(m["general.architecture"], "llama")
        self.assertIn("general.name", m)
        self.assertEqual(m["general.file_type"], 1)
        self.assertEqual(m["general.alignment"], 32)
        expect = {"context_length": 64, "embedding_length": 128, "block_count": 3,
                  "feed_forward_length": 320, "attention.head_count": 4,
                  "attention.head_count_kv": 1, "rope.dimension_count": 32, "vocab_size": 300}
        for k, v in expect.items():
            self.assertEqual(m["llama." + k], v, k)
            self.assertEqual(f.value_types["llama." + k], g.UINT32, k)
        self.assertAlmostEqual(m["llama.attention.layer_norm_rms_epsilon"], 1e-5, places=9)
        self.assertEqual(m["llama.rope.freq_base"], 500000.0)
        t = f.tensors
        self.assertEqual(t["token_embd.weight"].ne, [128, 300])
        self.assertEqual(t["output.weight"].ne, [128, 300])
        for i in range(3):
            b = f"blk.{i}."
            self.assertEqual(t[b + "attn_q.weight"].ne, [128, 128])
            self.assertEqual(t[b + "attn_k.weight"].ne, [128, 32])
            self.assertEqual(t[b + "attn_v.weight"].ne, [128, 32])
            self.assertEqual(t[b + "attn_output.weight"].ne, [128, 128])
            self.assertEqual(t[b + "ffn_gate.weight"].ne, [128, 320])
            self.assertEqual(t[b + "ffn_up.weight"].ne, [128, 320])
            self.assertEqual(t[b + "ffn_down.weight"].ne, [320, 128])
            self.assertEqual(t[b + "attn_norm.weight"].type_name, "F32")
            self.assertEqual(t[b + "ffn_norm.weight"].ne, [128])
            self.assertEqual(t[b + "attn_q.weight"].type_name, "F16")
        self.assertEqual(len(t), 2 + 1 + 9 * 3)
        # Weight statistics: matrices ~ normal(0, clamp(1/sqrt(fan_in))), norms in [0.9, 1.1].
        w = f.dequantize("blk.0.ffn_down.weight")
        self.assertAlmostEqual(float(w.std()), 1 / np.sqrt(320), delta=0.005)
        self.assertAlmostEqual(float(w.mean()), 0, delta=0.005)
        n = f.dequantize("blk.1.attn_norm.weight")
        self.assertTrue(((n >= 0.9) & (n <= 1.1)).all())

    def test_qwen2_tied_and_rope_freqs(self):
        path, _ = self.make("qwen", "--arch", "qwen2", "--tied-output")
        f = g.GgufFile(path)
        self.assertEqual(f.metadata["general.architecture"], "qwen2")
        self.assertAlmostEqual(f.metadata["qwen2.attention.layer_norm_rms_epsilon"], 1e-6, places=12)
        self.assertNotIn("output.weight", f.tensors)
        for b in ("q", "k", "v"):
            bias = f.tensors[f"blk.0.attn_{b}.bias"]
            self.assertEqual(bias.type_name, "F32")
        self.assertEqual(f.tensors["blk.0.attn_k.bias"].ne, [128])
        path, _ = self.make("rf", "--rope-freqs")
        f = g.GgufFile(path)
        rf = f.dequantize("rope_freqs.weight")
        self.assertEqual(rf.shape, (32,))
        self.assertEqual(rf[0], 1.0)  # high frequencies unscaled
        self.assertEqual(rf[-1], 8.0)  # low frequencies scaled by the llama3 factor
        self.assertTrue((np.diff(rf) >= 0).all())
        _, p = self.make("rfq", "--rope-freqs", "--arch", "qwen2", check=False)
        self.assertEqual(p.returncode, 2)

    def test_q4_k_m_mix_and_fallback(self):
        path, _ = self.make("mix", "--type", "q4_k_m", "--layers", "8")
        f = g.GgufFile(path)
        t = f.tensors
        self.assertEqual(f.metadata["general.file_type"], 15)
        self.assertEqual(t["output.weight"].type_name, "Q6_K")
        self.assertEqual(t["token_embd.weight"].type_name, "Q4_K")
        self.assertEqual(t["blk.0.attn_q.weight"].type_name, "Q4_K")
        # llama.cpp's use_more_bits(i, 8): layers 0, 3, 6, 7.
        more = [i for i in range(8) if t[f"blk.{i}.attn_v.weight"].type_name == "Q6_K"]
        self.assertEqual(more, [0, 3, 6, 7])
        more = [i for i in range(8) if t[f"blk.{i}.ffn_down.weight"].type_name == "Q6_K"]
        self.assertEqual(more, [0, 3, 6, 7])
        path, p = self.make("fb", "--type", "q6_k", "--dim", "256", "--ffn", "320")
        t = g.GgufFile(path).tensors
        self.assertEqual(t["blk.0.ffn_down.weight"].type_name, "Q8_0")  # rows of 320
        self.assertEqual(t["blk.0.ffn_up.weight"].type_name, "Q6_K")  # rows of 256
        self.assertIn("q6_k -> q8_0", p.stderr)

    def test_spm_vocabulary(self):
        path, _ = self.make("spm", "--vocab", "1000")
        m = g.GgufFile(path).metadata
        tok, typ, sc = m["tokenizer.ggml.tokens"], m["tokenizer.ggml.token_type"], m["tokenizer.ggml.scores"]
        self.assertEqual(m["tokenizer.ggml.model"], "llama")
        self.assertEqual(len(tok), 1000)
        self.assertEqual(len(set(tok)), 1000)
        self.assertEqual(tok[:3], ["<unk>", "<s>", "</s>"])
        self.assertEqual(typ[:3], [2, 3, 3])
        self.assertEqual(tok[3], "<0x00>")
        self.assertEqual(tok[258], "<0xFF>")
        self.assertTrue(all(t == 6 for t in typ[3:259]))
        self.assertTrue(all(t == 1 for t in typ[259:]))
        self.assertIn("\u2581", tok)
        self.assertIn("\u2581the", tok)
        self.assertTrue(all(a > b for a, b in zip(sc[259:], sc[260:])))
        self.assertEqual((m["tokenizer.ggml.unknown_token_id"], m["tokenizer.ggml.bos_token_id"],
                          m["tokenizer.ggml.eos_token_id"]), (0, 1, 2))
        self.assertTrue(m["tokenizer.ggml.add_bos_token"])
        _, p = self.make("spm_small", "--vocab", "100", check=False)
        self.assertEqual(p.returncode, 2)

    def test_gpt2_vocabulary(self):
        for n in (300, 5000):
            path, _ = self.make(f"gpt2_{n}", "--tokenizer", "gpt2", "--vocab", str(n))
            m = g.GgufFile(path).metadata
            tok = m["tokenizer.ggml.tokens"]
            self.assertEqual(m["tokenizer.ggml.model"], "gpt2")
            self.assertIn(m["tokenizer.ggml.pre"], ("gpt-2", "default"))
            self.assertEqual(len(tok), n)
            self.assertEqual(len(set(tok)), n)
            self.assertEqual(tok[0], "!")
            self.assertIn("\u0120", tok[:256])  # the space byte's character
            self.assertEqual(tok[-1], "<|endoftext|>")
            self.assertEqual(m["tokenizer.ggml.token_type"][-1], 3)
            self.assertEqual(m["tokenizer.ggml.bos_token_id"], n - 1)
            self.assertEqual(m["tokenizer.ggml.eos_token_id"], n - 1)
            self.assertFalse(m["tokenizer.ggml.add_bos_token"])
            vocab = set(tok)
            merges = m["tokenizer.ggml.merges"]
            self.assertGreaterEqual(len(merges), n - 257)
            for mg in merges:
                a, b = mg.split(" ")
                self.assertIn(a, vocab)
                self.assertIn(b, vocab)
                self.assertIn(a + b, vocab)
            self.assertIn("\u0120the", vocab)  # " the" is learnt from the text

    def test_tokenizer_from_file(self):
        folder = TOKENIZERS or os.environ.get("MLXS_TOKENIZERS")
        if not folder:
            self.skipTest("no --tokenizers directory")
        src = os.path.join(folder, "ggml-vocab-llama-spm.gguf")
        if not os.path.exists(src):
            self.skipTest(src + " missing")
        path, p = self.make("copy", "--tokenizer", src, "--vocab", "100")
        self.assertIn("replaced", p.stderr)
        a, b = g.GgufFile(src).metadata, g.GgufFile(path).metadata
        for k, v in a.items():
            if k.startswith("tokenizer."):
                self.assertEqual(b[k], v, k)
        n = len(a["tokenizer.ggml.tokens"])
        self.assertEqual(b["llama.vocab_size"], n)
        self.assertEqual(g.GgufFile(path).tensors["token_embd.weight"].ne, [256, n])

    def test_bad_options(self):
        for args in (["--type", "q9"], ["--arch", "gpt"], ["--dim", "100", "--heads", "3"],
                     ["--heads", "4", "--kv-heads", "3"], ["--dim", "x"], ["--frobnicate"],
                     ["--seed"], ["--tokenizer", "/nonexistent.gguf"], ["--rope-base", "-1"]):
            p = subprocess.run([TESTMODEL, "-o", os.path.join(self.tmp.name, "bad.gguf"), *args],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.startswith("mlx-testmodel: "), p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "bad.gguf")))


def main():
    global TESTMODEL, TOKENIZERS
    ap = argparse.ArgumentParser()
    ap.add_argument("--testmodel", default=os.environ.get("MLXS_TESTMODEL"))
    ap.add_argument("--tokenizers", help="directory holding ggml-vocab-llama-spm.gguf")
    args, rest = ap.parse_known_args()
    if not args.testmodel:
        ap.error("give --testmodel (or set MLXS_TESTMODEL)")
    TESTMODEL, TOKENIZERS = args.testmodel, args.tokenizers
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
