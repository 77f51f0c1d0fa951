#!/usr/bin/python3
"""Checks `mlx-testmodel --format hf` with the independent Python readers, no engine needed:
the folder holds the GGUF's weights (same seed) under Hugging Face names and shapes, with
llama's q/k rows in Hugging Face order (llama.cpp's permutation undone); the numpy forward
pass of the folder equals that of the GGUF; MLX affine tensors have mlx-lm's layout and
dequantize to within half a step of the float weights; config.json, shards and index,
tokenizer files, determinism and option errors.

    /usr/bin/python3 test_hf_testmodel.py --testmodel BUILD/tools/mlx-testmodel
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader as g  # noqa: E402
import hf_reader as h  # noqa: E402
import reference_forward as rf  # noqa: E402

TESTMODEL = None
SHAPE = ["--dim", "128", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "256",
         "--vocab", "300", "--ctx", "128"]
LAYER_NAMES = {  # GGUF name in a block -> Hugging Face name in a layer
    "attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
    "ffn_norm.weight": "post_attention_layernorm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
}


def hf_name(gguf_name):
    top = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
           "output.weight": "lm_head.weight"}
    if gguf_name in top:
        return top[gguf_name]
    _, layer, rest = gguf_name.split(".", 2)
    return f"model.layers.{layer}.{LAYER_NAMES[rest]}"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def llama_cpp_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: Hugging Face rows -> GGUF rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class HfFolders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def make(self, name, *args, fmt="hf", check=True):
        path = os.path.join(self.tmp.name, name + (".gguf" if fmt == "gguf" else ""))
        p = subprocess.run([TESTMODEL, "-o", path, "--format", fmt, *args], capture_output=True, text=True)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return path, p

    def same_weights(self, arch, *args, exact=True):
        gguf, _ = self.make(f"{arch}-ref", *SHAPE, "--arch", arch, *args, fmt="gguf")
        folder, _ = self.make(f"{arch}-hf", *SHAPE, "--arch", arch, *args)
        f, d = g.GgufFile(gguf), h.HfFolder(folder)
        names = [n for n in f.tensors if n != "rope_freqs.weight"]
        self.assertEqual(sorted(hf_name(n) for n in names), sorted(d.entries))
        for n in names:
            want = f.dequantize(n).astype(np.float64)
            got = d.weight(hf_name(n))
            self.assertEqual(got.shape, want.shape, n)
            if arch == "llama" and n.endswith(("attn_q.weight", "attn_k.weight")):
                heads = 4 if "attn_q" in n else 2
                got = llama_cpp_permute(got, heads)
            if exact:
                np.testing.assert_array_equal(got, want, err_msg=n)
        return gguf, folder

    def test_llama_f32_is_the_gguf_with_hf_row_order(self):
        gguf, folder = self.same_weights("llama", "--type", "f32", "--seed", "3")
        c = read_json(os.path.join(folder, "config.json"))
        self.assertEqual(c["model_type"], "llama")
        self.assertEqual(c["architectures"], ["LlamaForCausalLM"])
        for k, v in {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "num_key_value_heads": 2, "intermediate_size": 256, "vocab_size": 300,
                     "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                     "tie_word_embeddings": False, "torch_dtype": "float32"}.items():
            self.assertEqual(c[k], v, k)
        self.assertNotIn("quantization", c)
        # The permutation is right exactly when both compute the same function.
        toks = [1, 15, 200, 42, 7, 99]
        a = rf.forward(rf.Model(gguf), toks)
        b = rf.forward(rf.Model(folder), toks)
        self.assertLess(np.abs(a - b).max(), 1e-9)

    def test_half_types_hold_the_same_values(self):
        self.same_weights("llama", "--type", "f16", "--seed", "4")
        self.same_weights("llama", "--type", "bf16", "--seed", "4")
        d = h.HfFolder(os.path.join(self.tmp.name, "llama-hf"))
        self.assertEqual(d.entries["model.embed_tokens.weight"][1], "BF16")
        self.assertEqual(d.entries["model.norm.weight"][1], "F32")  # gains stay f32, as in the GGUF
        self.assertEqual(d.config["torch_dtype"], "bfloat16")

    def test_qwen2_keeps_rows_and_biases(self):
        gguf, folder = self.same_weights("qwen2", "--type", "f16", "--seed", "5", "--tokenizer", "gpt2")
        self.assertIn("model.layers.1.self_attn.k_proj.bias", h.HfFolder(folder))
        toks = [3, 100, 250, 7]
        self.assertLess(np.abs(rf.forward(rf.Model(gguf), toks) - rf.forward(rf.Model(folder), toks)).max(), 1e-9)

    def test_tied_and_rope_freqs(self):
        gguf, folder = self.same_weights("llama", "--tied-output", "--rope-freqs", "--rope-base", "500000")
        c = read_json(os.path.join(folder, "config.json"))
        self.assertTrue(c["tie_word_embeddings"])
        self.assertNotIn("lm_head.weight", h.HfFolder(folder))
        self.assertEqual(c["rope_scaling"], {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 128})
        # config.json's llama3 factors (computed in Python) == the GGUF's rope_freqs tensor.
        np.testing.assert_allclose(rf.Model(folder).rope_freqs, rf.Model(gguf).rope_freqs, rtol=1e-6)
        toks = [1, 2, 3, 200, 299, 5, 6, 7]
        self.assertLess(np.abs(rf.forward(rf.Model(gguf), toks) - rf.forward(rf.Model(folder), toks)).max(), 1e-5)

    def test_shards_and_index(self):
        one, _ = self.make("one", *SHAPE, "--seed", "8")
        three, _ = self.make("three", *SHAPE, "--seed", "8", "--shards", "3")
        names = sorted(os.listdir(three))
        shards = [f"model-0000{k}-of-00003.safetensors" for k in (1, 2, 3)]
        for s in shards:
            self.assertIn(s, names)
        self.assertNotIn("model.safetensors", names)
        index = read_json(os.path.join(three, "model.safetensors.index.json"))
        self.assertEqual(set(index["weight_map"].values()), set(shards))
        a, b = h.HfFolder(one), h.HfFolder(three)
        self.assertEqual(sorted(a.entries), sorted(b.entries))
        self.assertEqual(index["metadata"]["total_size"], sum(e[4] for e in b.entries.values()))
        for n in a.entries:
            self.assertEqual(os.path.basename(b.entries[n][0]), index["weight_map"][n])
            np.testing.assert_array_equal(a.raw(n), b.raw(n), err_msg=n)
        # Writing one file again over the sharded folder leaves no stale index behind.
        self.make("three", *SHAPE, "--seed", "8")
        self.assertEqual(sorted(n for n in os.listdir(three) if n.startswith("model")), ["model.safetensors"])

    def check_mlx(self, bits, group, *extra):
        ref, _ = self.make(f"mlx-ref-{bits}-{group}", *SHAPE, "--seed", "9", *extra)
        q, _ = self.make(f"mlx-{bits}-{group}", *SHAPE, "--seed", "9", "--type", f"mlx{bits}",
                         "--group-size", str(group), *extra)
        a, b = h.HfFolder(ref), h.HfFolder(q)
        c = b.config
        self.assertEqual(c["quantization"], {"group_size": group, "bits": bits})
        self.assertEqual(c["quantization_config"], c["quantization"])
        for n, (_, dtype, shape, _, _) in a.entries.items():
            if dtype == "F32" and len(shape) == 1:
                self.assertEqual(b.entries[n][1], "F32", n)  # norms and biases stay float
                continue
            base = n[:-len(".weight")]
            rows, cols = shape
            self.assertEqual(b.entries[n][1:3], ("U32", (rows, cols * bits // 32)), n)
            self.assertEqual(b.entries[base + ".scales"][2], (rows, cols // group), n)
            self.assertEqual(b.entries[base + ".biases"][2], (rows, cols // group), n)
            w = a.weight(n)
            deq = b.weight(n)
            scales = b.raw(base + ".scales").astype(np.float64)
            step = np.repeat(scales, group, axis=1)
            # Half a step from rounding, plus the 16-bit rounding of scale and bias.
            self.assertTrue(np.all(np.abs(deq - w) <= 0.5 * step + 2e-3 * np.abs(w).max()), n)
            # q spans the range: the group minimum maps to 0 and the maximum to 2^bits-1.
            wq = b.raw(n)
            qmax = int(((wq[..., None] >> (np.arange(32 // bits, dtype=np.uint32) * bits))
                        & ((1 << bits) - 1)).max())
            self.assertEqual(qmax, (1 << bits) - 1, n)
        return b

    def test_mlx4_g64(self):
        b = self.check_mlx(4, 64)
        self.assertEqual(b.entries["model.layers.0.mlp.down_proj.scales"][1], "F16")
        self.assertEqual(b.config["torch_dtype"], "float16")

    def test_mlx4_g32_bf16_scales(self):
        b = self.check_mlx(4, 32, "--mlx-dtype", "bf16")
        self.assertEqual(b.entries["model.embed_tokens.biases"][1], "BF16")

    def test_mlx8_g128_and_mlx2(self):
        self.check_mlx(8, 128)
        self.check_mlx(2, 64, "--arch", "qwen2", "--tied-output")

    def test_mlx_packing_by_hand(self):
        # One word of 4-bit values 0..7 reads back lowest nibble first.
        word = np.array([[sum(k << (4 * k) for k in range(8))]], dtype=np.uint32)
        got = h.dequantize_mlx(word, np.ones((1, 1)), np.zeros((1, 1)), 8, 4)
        np.testing.assert_array_equal(got, [np.arange(8)])

    def test_tokenizer_files(self):
        folder, _ = self.make("tok", *SHAPE, "--tokenizer", "gpt2")
        tj = read_json(os.path.join(folder, "tokenizer.json"))
        self.assertEqual(tj["model"]["type"], "BPE")
        self.assertEqual(len(tj["model"]["vocab"]) + len(tj["added_tokens"]), 300)
        read_json(os.path.join(folder, "tokenizer_config.json"))
        self.assertFalse([n for n in os.listdir(folder) if n.endswith(".gguf")])  # temp vocab removed

    def test_same_seed_same_bytes(self):
        a, _ = self.make("det-a", *SHAPE, "--type", "mlx4", "--shards", "2")
        b, _ = self.make("det-b", *SHAPE, "--type", "mlx4", "--shards", "2", "--threads", "1")
        for n in os.listdir(a):
            with open(os.path.join(a, n), "rb") as fa, open(os.path.join(b, n), "rb") as fb:
                self.assertEqual(fa.read(), fb.read(), n)

    def test_bad_options(self):
        for args in (["--format", "hf", "--type", "q4_0"], ["--format", "gguf", "--type", "mlx4"],
                     ["--format", "gguf", "--shards", "2"], ["--format", "hf", "--group-size", "64"],
                     ["--format", "hf", "--type", "mlx4", "--group-size", "48"],
                     ["--format", "xml"], ["--format", "hf", "--shards", "0"],
                     ["--format", "hf", "--type", "mlx4", "--mlx-dtype", "f32"]):
            p = subprocess.run([TESTMODEL, "-o", os.path.join(self.tmp.name, "bad"), *args],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.startswith("mlx-testmodel: "), p.stderr)
        _, p = self.make("toomany", *SHAPE, "--shards", "1000", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--shards", p.stderr)


def main():
    global TESTMODEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--testmodel", default=os.environ.get("MLXS_TESTMODEL"))
    args, rest = ap.parse_known_args()
    if not args.testmodel:
        ap.error("give --testmodel (or set MLXS_TESTMODEL)")
    TESTMODEL = args.testmodel
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
