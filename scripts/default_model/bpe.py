"""A byte-level BPE tokenizer in the GPT-2 manner, trained from scratch.

Text is split into words by the GPT-2 pre-tokenizer pattern, each word's UTF-8 bytes are
spelled with GPT-2's printable byte alphabet, and merges are learnt greedily from word
counts. The result is exactly what GGUF's tokenizer.ggml.model = "gpt2" describes, so the
serving engine tokenizes text the same way this module does.
"""
import collections
import heapq
import re


def bytes_to_unicode():
  """GPT-2's map from byte values to printable characters (spaces become 'Ġ', ...)."""
  bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
      list(range(ord("®"), ord("ÿ") + 1))
  cs = bs[:]
  n = 0
  for b in range(256):
    if b not in bs:
      bs.append(b)
      cs.append(256 + n)
      n += 1
  return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}

# GPT-2's pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's `re` has no \p{..}: a letter is a word character that is neither a digit nor '_',
# a number is a decimal digit. That matches \p{L}/\p{N} on all text this corpus holds.
_L = r"[^\W\d_]"
_N = r"\d"
_OTHER = r"(?:[^\s\w]|_)"
GPT2_SPLIT = re.compile(
  rf"'s|'t|'re|'ve|'m|'ll|'d| ?{_L}+| ?{_N}+| ?{_OTHER}+|\s+(?!\S)|\s+")


def pre_tokenize(text):
  return GPT2_SPLIT.findall(text)


def to_symbols(word):
  return "".join(BYTE_TO_CHAR[b] for b in word.encode("utf-8"))


class Tokenizer:
  """Tokens (byte-level strings), ranked merges and special tokens appended at the end."""

  def __init__(self, tokens, merges, specials):
    self.tokens = tokens
    self.merges = merges
    self.specials = specials
    self.ids = {t: i for i, t in enumerate(tokens)}
    self.ranks = {pair: r for r, pair in enumerate(merges)}
    self.special_ids = {s: self.ids[s] for s in specials}
    self._cache = {}
    self._special_split = re.compile("(" + "|".join(re.escape(s) for s in specials) + ")")

  def encode_word(self, word):
    cached = self._cache.get(word)
    if cached is not None:
      return cached
    parts = list(to_symbols(word))
    while len(parts) > 1:
      best = None
      for i in range(len(parts) - 1):
        r = self.ranks.get((parts[i], parts[i + 1]))
        if r is not None and (best is None or r < best[0]):
          best = (r, i)
      if best is None:
        break
      i = best[1]
      parts[i:i + 2] = [parts[i] + parts[i + 1]]
    ids = [self.ids[p] for p in parts]
    self._cache[word] = ids
    return ids

  def encode(self, text, parse_special=True):
    out = []
    pieces = self._special_split.split(text) if parse_special else [text]
    for piece in pieces:
      if piece in self.special_ids and parse_special:
        out.append(self.special_ids[piece])
        continue
      for word in pre_tokenize(piece):
        out.extend(self.encode_word(word))
    return out

  def decode(self, ids):
    data = bytearray()
    for i in ids:
      t = self.tokens[i]
      if t in self.special_ids:
        data += t.encode("utf-8")
      else:
        data += bytes(CHAR_TO_BYTE[c] for c in t)
    return data.decode("utf-8", errors="replace")


def train(texts, vocab_size, specials):
  """Learns vocab_size - 256 - len(specials) merges from the word counts of `texts`."""
  n_merges = vocab_size - 256 - len(specials)
  if n_merges < 0:
    raise ValueError(f"vocab_size {vocab_size} is too small for 256 bytes + specials")
  counts = collections.Counter()
  special_split = re.compile("|".join(re.escape(s) for s in specials))
  for text in texts:
    for piece in special_split.split(text):  # special tokens are never merged into words
      counts.update(pre_tokenize(piece))
  words = [list(to_symbols(w)) for w in counts]
  freqs = list(counts.values())

  pair_counts = collections.defaultdict(int)
  where = collections.defaultdict(set)  # pair -> indices of words holding it
  for wi, (syms, f) in enumerate(zip(words, freqs)):
    for a, b in zip(syms, syms[1:]):
      pair_counts[(a, b)] += f
      where[(a, b)].add(wi)
  # Max-heap with lazy deletion; ties go to the lexicographically smallest pair so the
  # result does not depend on dict order.
  heap = [(-c, p) for p, c in pair_counts.items()]
  heapq.heapify(heap)

  merges = []
  while len(merges) < n_merges and heap:
    neg, pair = heapq.heappop(heap)
    if pair_counts.get(pair, 0) != -neg or -neg <= 0:
      continue
    if -neg < 2:
      break  # nothing left worth merging
    merges.append(pair)
    a, b = pair
    merged = a + b
    touched = set()
    for wi in list(where[pair]):
      syms, f = words[wi], freqs[wi]
      for x, y in zip(syms, syms[1:]):
        pair_counts[(x, y)] -= f
        touched.add((x, y))
      out = []
      i = 0
      while i < len(syms):
        if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
          out.append(merged)
          i += 2
        else:
          out.append(syms[i])
          i += 1
      words[wi] = out
      for x, y in zip(out, out[1:]):
        pair_counts[(x, y)] += f
        where[(x, y)].add(wi)
        touched.add((x, y))
    del pair_counts[pair]
    where.pop(pair, None)
    for p in touched:
      c = pair_counts.get(p, 0)
      if c > 0:
        heapq.heappush(heap, (-c, p))

  tokens = [BYTE_TO_CHAR[b] for b in range(256)]
  seen = set(tokens)
  kept = []
  for a, b in merges:
    if a + b in seen:
      continue  # two merge paths to one string: keep the first
    seen.add(a + b)
    tokens.append(a + b)
    kept.append((a, b))
  tokens += specials
  return Tokenizer(tokens, kept, specials)
