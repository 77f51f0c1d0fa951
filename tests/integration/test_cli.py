"""End-to-end tests of the mlx-serving binary's model commands, driven as a user would.

Run: /usr/bin/python3 tests/integration/test_cli.py BUILD_DIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

BUILD = None
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = os.path.join(SRC, "..", "shared", "testdata")


def mlx(*args, check=True, input_bytes=None):
    p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), *args],
                       capture_output=True, input=input_bytes, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"mlx-serving {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-cli-")
        cls.model = os.path.join(cls.tmp, "m.gguf")
        subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", cls.model, "--arch", "llama",
                        "--dim", "128", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "256",
                        "--vocab", "600", "--ctx", "512", "--type", "q8_0", "--tokenizer", "spm",
                        "--seed", "3"], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def generate_json(self, *extra):
        p = mlx("generate", "-m", self.model, "-p", "the quick brown fox", "--json", *extra)
        return json.loads(p.stdout)

    def test_generate_json_greedy_is_deterministic(self):
        a = self.generate_json("-n", "10", "--temperature", "0", "--ignore-eos")
        b = self.generate_json("-n", "10", "--temperature", "0", "--ignore-eos")
        self.assertEqual(len(a["tokens"]), 10)
        self.assertEqual(a["tokens"], b["tokens"])
        self.assertEqual(a["finish_reason"], "length")
        self.assertEqual(a["generated_tokens"], 10)
        self.assertGreater(a["prompt_tokens"], 1)
        self.assertIsInstance(a["text"], str)

    def test_generate_seed(self):
        a = self.generate_json("-n", "12", "--temperature", "1", "--seed", "11", "--ignore-eos")
        b = self.generate_json("-n", "12", "--temperature", "1", "--seed", "11", "--ignore-eos")
        self.assertEqual(a["tokens"], b["tokens"])

    def test_generate_streams_text_and_stats(self):
        p = mlx("generate", "-m", self.model, "-p", "hello", "-n", "5", "--temperature", "0", "--ignore-eos")
        self.assertIn(b"5 generated", p.stderr)

    def test_streamed_text_equals_json_text(self):
        args = ["-n", "24", "--temperature", "0", "--ignore-eos"]
        streamed = mlx("generate", "-m", self.model, "-p", "the quick brown fox", *args).stdout
        whole = self.generate_json(*args)["text"]
        self.assertEqual(streamed.decode("utf-8")[:-1], whole)  # generate ends with a newline

    def test_qwen2_byte_level_bpe_model(self):
        path = os.path.join(self.tmp, "qwen2.gguf")
        subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", path, "--arch", "qwen2",
                        "--dim", "256", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "512",
                        "--vocab", "700", "--tokenizer", "gpt2", "--type", "q4_k_m", "--seed", "5"],
                       check=True, capture_output=True)
        out = json.loads(mlx("generate", "-m", path, "-p", "hello there", "-n", "8", "--temperature", "0",
                             "--ignore-eos", "--json").stdout)
        self.assertEqual(len(out["tokens"]), 8)
        # gpt2-style vocabularies add no BOS unless the metadata says so.
        toks = json.loads(mlx("tokenize", "-m", path, "hello there").stdout)
        self.assertEqual(out["prompt_tokens"], len(toks))

    def test_generate_logprobs(self):
        a = self.generate_json("-n", "3", "--temperature", "0", "--logprobs", "2", "--ignore-eos")
        self.assertEqual(len(a["logprobs"]), 3)
        for lp in a["logprobs"]:
            self.assertLessEqual(lp["logprob"], 0.0)
            self.assertEqual(len(lp["top"]), 2)
            # Greedy: the chosen token is the most likely one.
            self.assertEqual(lp["top"][0]["token"], lp["token"])

    def test_prompt_over_context_is_an_error_with_both_numbers(self):
        p = mlx("generate", "-m", self.model, "-p", "hi", "-n", "600", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"512", p.stderr)
        self.assertIn(b"600", p.stderr)

    def test_bad_command_lines(self):
        self.assertEqual(mlx("generate", "-m", self.model, check=False).returncode, 2)
        self.assertEqual(mlx("generate", "-m", self.model, "-p", "x", "--bogus", check=False).returncode, 2)
        self.assertEqual(mlx("generate", "-m", self.model, "-p", "x", "-n", "abc", check=False).returncode, 2)
        self.assertEqual(mlx("nonsense", check=False).returncode, 2)

    def test_bad_model_files_name_the_file(self):
        truncated = os.path.join(self.tmp, "truncated.gguf")
        with open(self.model, "rb") as f:
            data = f.read()
        with open(truncated, "wb") as f:
            f.write(data[: len(data) // 2])
        p = mlx("generate", "-m", truncated, "-p", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(truncated.encode(), p.stderr)
        self.assertIn(b"past the end", p.stderr)
        notgguf = os.path.join(self.tmp, "not.gguf")
        with open(notgguf, "wb") as f:
            f.write(b"hello world, not a model")
        p = mlx("generate", "-m", notgguf, "-p", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not a GGUF file", p.stderr)
        p = mlx("generate", "-m", os.path.join(self.tmp, "missing.gguf"), "-p", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"missing.gguf", p.stderr)

    def test_tokenize_adds_bos_unless_told_not_to(self):
        with_bos = json.loads(mlx("tokenize", "-m", self.model, "hello world").stdout)
        without = json.loads(mlx("tokenize", "-m", self.model, "--no-bos", "hello world").stdout)
        self.assertEqual(with_bos[0], 1)
        self.assertEqual(with_bos[1:], without)
        path = os.path.join(self.tmp, "text.txt")
        with open(path, "wb") as f:
            f.write(b"hello world")
        self.assertEqual(json.loads(mlx("tokenize", "-m", self.model, "--no-bos", "--file", path).stdout), without)

    def test_tokenize_real_vocabulary(self):
        vocab = os.path.join(TESTDATA, "tokenizers", "ggml-vocab-llama-spm.gguf")
        if not os.path.exists(vocab):
            self.skipTest("../shared/testdata is absent")
        with open(vocab + ".inp", encoding="utf-8") as f:
            inputs = f.read().split("\n__ggml_vocab_test__\n")
        with open(vocab + ".out", encoding="utf-8") as f:
            outputs = f.read().split("\n")
        for text, expected in list(zip(inputs, outputs))[:12]:
            path = os.path.join(self.tmp, "inp.txt")
            with open(path, "wb") as f:
                f.write(text.encode("utf-8"))
            got = json.loads(mlx("tokenize", "-m", vocab, "--no-bos", "--no-parse-special", "--file", path).stdout)
            self.assertEqual(got, [int(x) for x in expected.split()], repr(text))

    def test_perplexity(self):
        path = os.path.join(self.tmp, "ppl.txt")
        with open(path, "w") as f:
            f.write("the cat sat on the mat and the dog sat on the log. " * 40)
        p = mlx("perplexity", "-m", self.model, "-f", path, "-c", "64")
        line = [l for l in p.stdout.decode().splitlines() if l.startswith("PPL = ")]
        self.assertEqual(len(line), 1, p.stdout)
        ppl = float(line[0].split()[2])
        # A random model is near-uniform over its vocabulary, never better than perfect.
        self.assertGreater(ppl, 1.0)
        self.assertLess(ppl, 600 * 4)

    def test_bench_json(self):
        p = mlx("bench", "-m", self.model, "-p", "32", "-n", "8", "-t", "2", "-r", "1", "--json")
        out = json.loads(p.stdout)
        self.assertGreater(out["pp_tokens_per_s"], 0)
        self.assertGreater(out["tg_tokens_per_s"], 0)
        self.assertEqual(out["n_prompt"], 32)
        self.assertGreater(out["rss_mib"], 0)

    def test_bench_streams_and_bandwidth(self):
        p = mlx("bench", "-m", self.model, "-p", "0", "-n", "8", "-t", "2", "-r", "1", "-s", "4",
                "--bandwidth", "--json")
        out = json.loads(p.stdout)
        self.assertEqual(out["streams"], 4)
        self.assertGreater(out["streams_tokens_per_s"], 0)
        self.assertGreater(out["streams_speedup"], 0)
        self.assertGreater(out["triad_gbs"], 0)
        self.assertGreater(out["read_gbs"], 0)
        # The ceiling is bandwidth over the weight bytes a decode step reads.
        ceiling = out["triad_gbs"] * 1e9 / (out["weights_gib"] * 2 ** 30)
        self.assertAlmostEqual(out["tg_limit_tokens_per_s"], ceiling, delta=ceiling * 1e-6)
        self.assertAlmostEqual(out["tg_percent_of_limit"],
                               100 * out["tg_tokens_per_s"] / ceiling, delta=1e-6 * ceiling)
        text = mlx("bench", "-m", self.model, "-p", "0", "-n", "4", "-r", "1", "-s", "2").stdout.decode()
        self.assertIn("aggregate", text)
        for bad in (["-s", "-1"], ["-s", "2", "-n", "0"]):
            p = mlx("bench", "-m", self.model, *bad, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(b"-s", p.stderr)

    def test_logits_json(self):
        p = mlx("logits", "-m", self.model, "--tokens", "1,5,9")
        out = json.loads(p.stdout)
        self.assertEqual(out["n_vocab"], 600)
        self.assertEqual(len(out["logits"]), 3)
        self.assertEqual(mlx("logits", "-m", self.model, "--tokens", "1,x", check=False).returncode, 2)
        self.assertEqual(mlx("logits", "-m", self.model, "--tokens", "1,100000", check=False).returncode, 2)


class TemplateTest(unittest.TestCase):
    """mlx-serving template prints exactly what the model's chat template renders."""

    MESSAGES = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi \"there\" \u00e9"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Bye"}]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-cli-tmpl-")
        cls.messages = os.path.join(cls.tmp, "messages.json")
        with open(cls.messages, "w") as f:
            json.dump(cls.MESSAGES, f)
        cls.model = os.path.join(cls.tmp, "m.gguf")
        subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", cls.model, "--dim", "64", "--layers", "1",
                        "--heads", "2", "--kv-heads", "1", "--ffn", "128", "--vocab", "300", "--seed", "1"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def oracle(self, template, add_generation_prompt=True):
        case = {"template": template, "now": 0,
                "vars": {"messages": self.MESSAGES, "tools": None, "add_generation_prompt": add_generation_prompt,
                         "bos_token": "<s>", "eos_token": "</s>"}}
        p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/unit/chat/render_oracle.py")],
                           input=json.dumps({"cases": [case]}).encode(), capture_output=True)
        if p.returncode == 3:
            self.skipTest("python3-jinja2 is not installed")
        result = json.loads(p.stdout)[0]
        self.assertTrue(result["ok"], result)
        return result["output"]

    def test_template_file_matches_jinja2(self):
        path = os.path.join(TESTDATA, "chat-templates", "Qwen-Qwen2.5-7B-Instruct.jinja")
        if not os.path.exists(path):
            self.skipTest("../shared/testdata is absent")
        with open(path, encoding="utf-8") as f:
            template = f.read()
        for gen in (True, False):
            args = ["template", "--template", path, "--bos", "<s>", "--eos", "</s>", "--messages", self.messages]
            if not gen:
                args.append("--no-generation-prompt")
            self.assertEqual(mlx(*args).stdout.decode("utf-8"), self.oracle(template, gen))

    def test_model_without_template_uses_chatml(self):
        out = mlx("template", "-m", self.model, "--messages", self.messages).stdout.decode("utf-8")
        self.assertTrue(out.startswith("<|im_start|>system\nYou are terse.<|im_end|>\n"), out)
        self.assertTrue(out.endswith("<|im_start|>assistant\n"), out)

    def test_generate_chat_goes_through_the_template(self):
        p = mlx("generate", "-m", self.model, "-p", "hello", "--chat", "-n", "4", "--temperature", "0",
                "--ignore-eos", "--json")
        out = json.loads(p.stdout)
        self.assertEqual(len(out["tokens"]), 4)
        # The ChatML prompt is far longer than the bare word.
        plain = json.loads(mlx("tokenize", "-m", self.model, "hello").stdout)
        self.assertGreater(out["prompt_tokens"], len(plain) + 5)

    def test_errors(self):
        self.assertEqual(mlx("template", "--messages", self.messages, check=False).returncode, 2)
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        p = mlx("template", "-m", self.model, "--messages", bad, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not valid JSON", p.stderr)
        raising = os.path.join(self.tmp, "raise.jinja")
        with open(raising, "w") as f:
            f.write("{{ raise_exception('System role not supported') }}")
        p = mlx("template", "--template", raising, "--messages", self.messages, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"System role not supported", p.stderr)
        broken = os.path.join(self.tmp, "broken.jinja")
        with open(broken, "w") as f:
            f.write("{% for m in messages %}{{ m.content }}")
        p = mlx("template", "--template", broken, "--messages", self.messages, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"broken.jinja", p.stderr)


class HfFolderErrorsTest(unittest.TestCase):
    """A broken Hugging Face folder is a load error (exit 1) that names the file at fault."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mlxs-cli-hf-")
        cls.good = os.path.join(cls.tmp, "good")
        cls.sharded = os.path.join(cls.tmp, "sharded")
        common = ["--format", "hf", "--arch", "llama", "--dim", "128", "--layers", "2", "--heads", "4",
                  "--kv-heads", "2", "--ffn", "256", "--vocab", "300", "--type", "f32", "--seed", "3"]
        for path, extra in ((cls.good, []), (cls.sharded, ["--shards", "3"])):
            subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", path, *common, *extra],
                           check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def copy(self, name, src=None):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(src or self.good, dst)
        return dst

    def test_tokenize_reads_the_folder_tokenizer(self):
        gguf = os.path.join(self.tmp, "same.gguf")
        subprocess.run([os.path.join(BUILD, "tools/mlx-testmodel"), "-o", gguf, "--arch", "llama", "--dim", "128",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "300",
                        "--type", "f32", "--seed", "3"], check=True, capture_output=True)
        text = "the cat sat on the mat"
        from_folder = json.loads(mlx("tokenize", "-m", self.good, text).stdout)
        self.assertEqual(from_folder, json.loads(mlx("tokenize", "-m", gguf, text).stdout))
        self.assertGreater(len(from_folder), 2)

    def edit_config(self, folder, **changes):
        path = os.path.join(folder, "config.json")
        with open(path) as f:
            c = json.load(f)
        c.update(changes)
        with open(path, "w") as f:
            json.dump(c, f)

    def load_error(self, folder):
        p = mlx("generate", "-m", folder, "-p", "x", "-n", "1", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        return p.stderr.decode()

    def test_good_folder_loads(self):
        out = json.loads(mlx("generate", "-m", self.good, "-p", "hello", "-n", "3", "--temperature", "0",
                             "--ignore-eos", "--json").stdout)
        self.assertEqual(len(out["tokens"]), 3)
        out = json.loads(mlx("generate", "-m", self.sharded, "-p", "hello", "-n", "3", "--temperature", "0",
                             "--ignore-eos", "--json").stdout)
        self.assertEqual(len(out["tokens"]), 3)

    def test_missing_config_json(self):
        d = self.copy("noconfig")
        os.remove(os.path.join(d, "config.json"))
        err = self.load_error(d)
        self.assertIn(os.path.join(d, "config.json"), err)
        self.assertIn("missing", err)

    def test_shard_in_index_but_absent(self):
        d = self.copy("noshard", self.sharded)
        os.remove(os.path.join(d, "model-00002-of-00003.safetensors"))
        err = self.load_error(d)
        self.assertIn(os.path.join(d, "model-00002-of-00003.safetensors"), err)
        self.assertIn("missing", err)

    def test_shape_disagrees_with_config(self):
        d = self.copy("badshape")
        self.edit_config(d, intermediate_size=384)
        err = self.load_error(d)
        self.assertIn(os.path.join(d, "model.safetensors"), err)
        self.assertIn("mlp.gate_proj.weight", err)
        self.assertIn("shape", err)

    def test_unsupported_model_type(self):
        d = self.copy("gemma")
        self.edit_config(d, model_type="gemma")
        err = self.load_error(d)
        self.assertIn(os.path.join(d, "config.json"), err)
        self.assertIn("gemma", err)

    def test_unsupported_dtype(self):
        d = self.copy("i32")
        path = os.path.join(d, "model.safetensors")
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        header["model.layers.0.mlp.up_proj.weight"]["dtype"] = "I32"  # same size as F32
        text = json.dumps(header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data[8 + n:])
        err = self.load_error(d)
        self.assertIn(path, err)
        self.assertIn("model.layers.0.mlp.up_proj.weight", err)
        self.assertIn("I32", err)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
