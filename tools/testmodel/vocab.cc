#include "testmodel/vocab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_set>

#include "model/gguf.h"
#include "testmodel/corpus.h"

namespace mlxs::testmodel {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's word-start mark

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

size_t codepoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The corpus cut into words and single punctuation marks (ASCII text).
std::vector<std::string> corpus_words() {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = english_corpus(); *p; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (std::isalnum(c)) {
      cur += *p;
      continue;
    }
    if (!cur.empty()) out.push_back(cur), cur.clear();
    if (!std::isspace(c)) out.push_back(std::string(1, *p));
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

Result<Vocab> make_spm_vocab(int64_t n_vocab) {
  if (n_vocab < kMinSpmVocab)
    return Status::Error("--tokenizer spm needs --vocab of at least " +
                         std::to_string(kMinSpmVocab) + " (3 specials, 256 bytes, 1 piece)");
  Vocab v;
  v.model = "llama";
  v.unk = 0, v.bos = 1, v.eos = 2;
  v.add_bos = true;
  auto add = [&](const std::string& t, float score, int32_t type) {
    v.tokens.push_back(t);
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, kUnknown);
  add("<s>", 0, kControl);
  add("</s>", 0, kControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0, kByte);
  }

  // Candidates in order of first appearance: the word mark, every character, then every
  // word with the word mark and all its prefixes (so each word can be built piece by piece).
  std::vector<std::string> cand;
  std::unordered_set<std::string> seen;
  auto offer = [&](const std::string& s) {
    if (seen.insert(s).second) cand.push_back(s);
  };
  offer(kSpace);
  std::vector<std::string> words = corpus_words();
  for (const auto& w : words)
    for (char c : w) offer(std::string(1, c));
  for (const auto& w : words) {
    std::string piece = kSpace;
    for (char c : w) offer(piece += c);
  }
  // Shortest first: shorter pieces get higher scores, like a trained BPE model's early merges.
  std::stable_sort(cand.begin(), cand.end(), [](const std::string& a, const std::string& b) {
    return codepoints(a) < codepoints(b);
  });
  // Filler when the text runs out: letter strings of growing length, with and without the
  // word mark; prefixes always come before the strings built on them.
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  std::vector<std::string> level = {""};
  while (static_cast<int64_t>(cand.size()) < n_vocab - 259) {
    std::vector<std::string> next;
    for (const auto& p : level)
      for (char c : letters) next.push_back(p + c);
    for (const auto& s : next) {
      offer(s);
      offer(kSpace + s);
    }
    level = std::move(next);
  }
  cand.resize(static_cast<size_t>(n_vocab - 259));
  for (size_t k = 0; k < cand.size(); ++k) add(cand[k], -static_cast<float>(k + 1), kNormal);
  return v;
}

namespace {

// GPT-2's reversible byte-to-character table: printable bytes map to themselves, the rest
// to U+0100 upwards. Returns the 256 characters in GPT-2's vocabulary order.
std::vector<std::pair<int, std::string>> gpt2_byte_chars() {
  std::vector<std::pair<int, std::string>> out;
  std::vector<bool> direct(256, false);
  for (int b = 0; b < 256; ++b)
    direct[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  for (int b = 0; b < 256; ++b)
    if (direct[b]) out.emplace_back(b, utf8(static_cast<uint32_t>(b)));
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (!direct[b]) out.emplace_back(b, utf8(static_cast<uint32_t>(256 + n++)));
  return out;
}

// GPT-2-style pre-tokenization of ASCII text: an optional leading space joined to a run of
// letters, of digits, or of other marks.
std::vector<std::string> pretokenize(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  auto cls = [](unsigned char c) { return std::isalpha(c) ? 0 : std::isdigit(c) ? 1 : 2; };
  while (i < text.size()) {
    size_t start = i;
    if (text[i] == ' ' && i + 1 < text.size() && text[i + 1] != ' ') ++i;
    int k = cls(static_cast<unsigned char>(text[i]));
    ++i;
    while (i < text.size() && text[i] != ' ' && cls(static_cast<unsigned char>(text[i])) == k) ++i;
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<Vocab> make_gpt2_vocab(int64_t n_vocab) {
  if (n_vocab < kMinGpt2Vocab)
    return Status::Error("--tokenizer gpt2 needs --vocab of at least " +
                         std::to_string(kMinGpt2Vocab) + " (256 bytes and <|endoftext|>)");
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.add_bos = false;
  std::string byte_char[256];
  for (const auto& [b, s] : gpt2_byte_chars()) {
    byte_char[b] = s;
    v.tokens.push_back(s);
    v.types.push_back(kNormal);
  }
  std::set<std::string> have(v.tokens.begin(), v.tokens.end());
  const size_t target = static_cast<size_t>(n_vocab - 1);  // <|endoftext|> comes last

  // Words as symbol sequences with their counts; ordered maps keep training deterministic.
  std::map<std::vector<std::string>, int> words;
  for (const auto& w : pretokenize(english_corpus())) {
    std::vector<std::string> syms;
    for (unsigned char c : w) syms.push_back(byte_char[c]);
    ++words[syms];
  }
  auto add_merge = [&](const std::string& a, const std::string& b) {
    v.merges.push_back(a + " " + b);
    if (have.insert(a + b).second) {
      v.tokens.push_back(a + b);
      v.types.push_back(kNormal);
    }
  };
  // Plain BPE training: merge the most frequent adjacent pair (ties: smallest pair).
  while (v.tokens.size() < target) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [syms, n] : words)
      for (size_t k = 0; k + 1 < syms.size(); ++k) pairs[{syms[k], syms[k + 1]}] += n;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [a, b] = best->first;
    add_merge(a, b);
    std::map<std::vector<std::string>, int> merged;
    for (const auto& [syms, n] : words) {
      std::vector<std::string> out;
      for (size_t k = 0; k < syms.size(); ++k) {
        if (k + 1 < syms.size() && syms[k] == a && syms[k + 1] == b) {
          out.push_back(a + b);
          ++k;
        } else {
          out.push_back(syms[k]);
        }
      }
      merged[out] += n;
    }
    words = std::move(merged);
  }
  // Synthetic merges once the text is exhausted: extend learnt tokens by one letter. Each
  // merge's parts and result are tokens, so the merge list stays consistent.
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  for (size_t left = 256; v.tokens.size() < target; ++left) {
    const std::string base = left < v.tokens.size() ? v.tokens[left] : byte_char['a'];
    for (char c : letters) {
      if (v.tokens.size() >= target) break;
      const std::string right = byte_char[static_cast<unsigned char>(c)];
      if (!have.count(base + right)) add_merge(base, right);
    }
  }
  v.tokens.push_back("<|endoftext|>");
  v.types.push_back(kControl);
  v.bos = v.eos = static_cast<int64_t>(v.tokens.size()) - 1;
  return v;
}

void add_vocab_metadata(const Vocab& v, GgufWriter* w) {
  w->set_string("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w->set_string("tokenizer.ggml.pre", v.pre);
  w->set_strings("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w->set_f32s("tokenizer.ggml.scores", v.scores);
  w->set_i32s("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) w->set_strings("tokenizer.ggml.merges", v.merges);
  if (v.bos >= 0) w->set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
  if (v.eos >= 0) w->set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
  if (v.unk >= 0) w->set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk));
  w->set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w->set_bool("tokenizer.ggml.add_eos_token", false);
}

Result<int64_t> copy_tokenizer(const std::string& path, GgufWriter* w) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  const GgufArray* tokens = f.value()->get_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->elem_type != GgufType::STRING || tokens->size() == 0)
    return Status::Error(path + ": no tokenizer.ggml.tokens string array");
  for (const auto& [key, value] : f.value()->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    Status st = w->set_value(key, value);
    if (!st.ok()) return Status::Error(path + ": key " + key + ": " + st.message());
  }
  return static_cast<int64_t>(tokens->size());
}

}  // namespace mlxs::testmodel
