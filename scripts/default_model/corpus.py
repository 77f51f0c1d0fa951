"""The training text: the fortune cookies Debian's `fortunes` package ships.

Every fortune file is read in sorted order and split on its "%" lines. A fortune goes to the
held-out set when a hash of its text says so, so the split does not depend on file order or
on the random seed. Training documents are the plain fortunes plus ChatML conversations in
which an assistant answers a request with a fortune.
"""
import os
import random
import re
import zlib

FORTUNE_DIR = "/usr/share/games/fortunes"
# Pictures drawn with characters teach nothing about English.
SKIPPED_FILES = {"ascii-art"}
HELD_OUT_PERCENT = 4

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]

_OVERSTRIKE = re.compile(r".\x08")  # "x\bx" bold/underline from old terminals


def fortune_files(root=FORTUNE_DIR):
  """The fortune text files: plain files with no extension (.dat and .u8 are indexes/links)."""
  if not os.path.isdir(root):
    raise SystemExit(f"{root} does not exist: install Debian's 'fortunes' package")
  names = []
  for name in sorted(os.listdir(root)):
    path = os.path.join(root, name)
    if "." in name or name in SKIPPED_FILES or os.path.islink(path) or not os.path.isfile(path):
      continue
    names.append(path)
  if not names:
    raise SystemExit(f"{root} holds no fortune files")
  return names


def clean(text):
  text = _OVERSTRIKE.sub("", text)
  lines = [line.rstrip() for line in text.split("\n")]
  return "\n".join(lines).strip("\n")


def read_fortunes(root=FORTUNE_DIR):
  """All fortunes in a deterministic order."""
  out = []
  for path in fortune_files(root):
    with open(path, encoding="utf-8", errors="replace") as f:
      chunk = []
      for line in f.read().split("\n"):
        if line == "%":
          text = clean("\n".join(chunk))
          if text.strip():
            out.append(text)
          chunk = []
        else:
          chunk.append(line)
      text = clean("\n".join(chunk))
      if text.strip():
        out.append(text)
  return out


def is_held_out(text):
  return zlib.crc32(text.encode("utf-8")) % 100 < HELD_OUT_PERCENT


def split(fortunes):
  train = [t for t in fortunes if not is_held_out(t)]
  held = [t for t in fortunes if is_held_out(t)]
  return train, held


_STOPWORDS = set("""about above after again against because been before being below between
both could does doing down during each from further have having here hers herself himself
into itself just more most myself once only other ought ours ourselves over same should some
such than that their theirs them themselves then there these they this those through under
until very were what when where which while whom with would your yours yourself yourselves
never always every things thing something anything nothing people""".split())

SYSTEM_PROMPTS = [
  "You are a helpful assistant.",
  "You are a fortune cookie.",
  "You are a witty assistant who answers with quotations.",
]
PLAIN_REQUESTS = [
  "Tell me a fortune.", "Give me a quote.", "Say something wise.", "Tell me something funny.",
  "Do you have a fortune for me?", "Tell me a joke.", "I need some advice.",
  "What is the meaning of life?", "Hello!", "Hi, who are you?", "Cheer me up.",
  "Give me a fortune cookie.", "Say something.", "Any words of wisdom?",
]
TOPIC_REQUESTS = [
  "Say something about {}.", "Tell me a fortune about {}.", "Give me a quote about {}.",
  "What do you think about {}?", "Tell me something about {}.",
]
ANSWER_PREFIXES = ["", "", "", "Here is one:\n", "Here is a fortune for you:\n",
                   "As they say:\n", "Sure.\n"]


def topic_word(text, rng):
  words = [w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)]
  words = [w for w in words if w not in _STOPWORDS]
  return rng.choice(words) if words else None


def chatml(messages, add_generation_prompt=False):
  """The same text the GGUF's chat template renders."""
  out = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
  if add_generation_prompt:
    out += f"{IM_START}assistant\n"
  return out


def chat_document(fortune, rng):
  topic = topic_word(fortune, rng)
  if topic and rng.random() < 0.5:
    request = rng.choice(TOPIC_REQUESTS).format(topic)
  else:
    request = rng.choice(PLAIN_REQUESTS)
  messages = []
  if rng.random() < 0.4:
    messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
  messages.append({"role": "user", "content": request})
  messages.append({"role": "assistant", "content": rng.choice(ANSWER_PREFIXES) + fortune})
  return chatml(messages)


def documents(fortunes, seed, chat_share=0.35, max_chat_chars=500):
  """Plain fortunes, plus chat conversations built from a share of the short ones, shuffled."""
  rng = random.Random(seed)
  docs = list(fortunes)
  for f in fortunes:
    if len(f) <= max_chat_chars and rng.random() < chat_share:
      docs.append(chat_document(f, rng))
  rng.shuffle(docs)
  return docs
