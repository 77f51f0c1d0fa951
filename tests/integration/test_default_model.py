"""The embedded default model (models/default.gguf) writes English and ends chat turns.

Run: /usr/bin/python3 tests/integration/test_default_model.py BUILD_DIR
Exits 77 (skipped) when the binary has not been built.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import zlib

BUILD = None
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# MLXS_TEST_MODEL points the test at another file (to see an untrained model fail it).
MODEL = os.environ.get("MLXS_TEST_MODEL", os.path.join(SRC, "models", "default.gguf"))
FORTUNES = "/usr/share/games/fortunes"
VOCAB = 4096

# Plain English the model never saw (written for this test), for perplexity.
SENTENCES = """\
The old man walked slowly down the road, thinking about the money he had lost and the
friends he had never made. It is not the things we do that we regret, but the things we
never tried to do. A good friend will tell you the truth even when you do not want to hear
it. Life is what happens to you while you are busy making other plans, and there is no
time like the present to start. The best way to predict the future is to invent it. Never
trust a computer you cannot throw out of a window. If you want to be happy, be kind to the
people you love, and do not worry about the things you cannot change. The world is full of
fools, and the wise man knows that he is one of them. Do not put off until tomorrow what
you can do today, unless you are tired. Love is the answer, but what was the question?
All work and no play makes Jack a dull boy, and all play and no work makes Jack a poor man.
Time flies like an arrow, and money flies even faster. Everyone wants to go to heaven, but
nobody wants to die. The only thing we have to fear is fear itself, and perhaps the tax man.
"""

# The most frequent English words: a model that writes English uses them all the time.
COMMON_WORDS = set("""the a an and or but if of to in on at by for with from as is are was were be
been it its it's this that he she they we you i me my your his her their them our not no
do does did can will would should could have has had what who when where why how all one
man men people time life love good more than there then so just like only never""".split())

# A model that learnt nothing scores about VOCAB; the trained one scores far lower.
MAX_PERPLEXITY = 400


def mlx(*args):
  p = subprocess.run([os.path.join(BUILD, "src/cli/mlx-serving"), *args], capture_output=True,
                     text=True, timeout=300)
  if p.returncode != 0:
    raise AssertionError(f"mlx-serving {' '.join(args)} failed ({p.returncode}): {p.stderr}")
  return p


def perplexity(text, ctx):
  with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    f.write(text)
  try:
    out = mlx("perplexity", "-m", MODEL, "-f", f.name, "-c", str(ctx), "--chunks", "20").stdout
  finally:
    os.unlink(f.name)
  m = re.search(r"PPL = ([0-9.]+)", out)
  if not m:
    raise AssertionError(f"no PPL line in: {out}")
  return float(m.group(1))


def held_out_fortunes():
  """Fortunes the training script held out (the same hash rule), as one text."""
  texts = []
  for name in sorted(os.listdir(FORTUNES)):
    path = os.path.join(FORTUNES, name)
    if "." in name or name == "ascii-art" or os.path.islink(path) or not os.path.isfile(path):
      continue
    with open(path, encoding="utf-8", errors="replace") as f:
      lines = f.read().split("\n")
    chunk = []
    for line in lines + ["%"]:
      if line != "%":
        chunk.append(line)
        continue
      c = re.sub(r".\x08", "", "\n".join(chunk))
      c = "\n".join(x.rstrip() for x in c.split("\n")).strip("\n")
      chunk = []
      if c.strip() and zlib.crc32(c.encode("utf-8")) % 100 < 4:
        texts.append(c)
  return "\n\n".join(texts)


def english_words(text):
  words = text.split()
  plain = [w for w in words if re.fullmatch(r"[\"'(]*[A-Za-z]+(['-][A-Za-z]+)*[.,;:!?\"')]*", w)]
  return words, plain


class DefaultModelTest(unittest.TestCase):
  def test_model_is_small(self):
    self.assertLess(os.path.getsize(MODEL), 10_500_000)

  def test_perplexity_on_unseen_sentences(self):
    ppl = perplexity(SENTENCES, 64)
    self.assertLess(ppl, MAX_PERPLEXITY, f"perplexity {ppl} on plain English")

  @unittest.skipUnless(os.path.isdir(FORTUNES), "Debian's fortunes package is not installed")
  def test_perplexity_on_held_out_fortunes(self):
    ppl = perplexity(held_out_fortunes(), 256)
    self.assertLess(ppl, MAX_PERPLEXITY / 2, f"perplexity {ppl} on held-out fortunes")

  def test_greedy_generation_is_english(self):
    out = json.loads(mlx("generate", "-m", MODEL, "-p", "The", "-n", "40", "--temperature", "0",
                         "--ignore-eos", "--json").stdout)
    text = out["text"]
    self.assertEqual(out["generated_tokens"], 40)
    self.assertGreater(sum(c.isascii() for c in text), 0.95 * len(text), text)
    words, plain = english_words(text)
    self.assertGreaterEqual(len(words), 15, text)
    self.assertGreaterEqual(len(plain), 0.7 * len(words), text)
    common = [w for w in words if w.strip(".,;:!?\"'()").lower() in COMMON_WORDS]
    self.assertGreaterEqual(len(common), 0.25 * len(words), text)

  def test_chat_answer_ends_its_turn(self):
    out = json.loads(mlx("generate", "-m", MODEL, "--chat", "-p", "Tell me a fortune.", "-n",
                         "200", "--temperature", "0", "--repeat-penalty", "1.1",
                         "--json").stdout)
    self.assertEqual(out["finish_reason"], "stop", out["text"])
    self.assertNotIn("<|im_", out["text"])
    words, plain = english_words(out["text"])
    self.assertGreaterEqual(len(words), 3, out["text"])
    self.assertGreaterEqual(len(plain), 0.6 * len(words), out["text"])


if __name__ == "__main__":
  if len(sys.argv) < 2:
    sys.exit("usage: test_default_model.py BUILD_DIR")
  BUILD = sys.argv.pop(1)
  if not os.path.exists(os.path.join(BUILD, "src/cli/mlx-serving")):
    print(f"skipped: {BUILD}/src/cli/mlx-serving has not been built")
    sys.exit(77)
  if not os.path.exists(MODEL):
    sys.exit(f"{MODEL} is missing: run scripts/train_default_model.sh")
  unittest.main()
