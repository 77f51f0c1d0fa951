#include "tokenizer/pretokenizer.h"

#include <map>

#include "tokenizer/utf8.h"

namespace mlxs {
namespace {

// Pattern lists as llama.cpp's llama-vocab.cpp uses them per pre-tokenizer type; the
// originals come from each model's tokenizer.json. Case-insensitive contractions are
// spelled out ('[sS]) where llama.cpp does so; PCRE2 would accept (?i:...) too.
const char* const kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, the block below them and Hangul, as one run.
const char* const kCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
// Letters of cased scripts (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, ...) as
// listed in DeepSeek LLM's tokenizer.json.
const char* const kDeepseekLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
    "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
    "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
    "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC"
    "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE"
    "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F"
    "\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2"
    "\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
// ASCII and full-width punctuation, curly quotes and CJK punctuation.
const char* const kDeepseekPunct =
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";

const std::map<std::string, std::vector<std::string>>& pattern_table() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, std::vector<std::string>>;
    const std::vector<std::string> gpt2 = {kGpt2};
    const std::vector<std::string> llama3 = {kLlama3};
    const std::vector<std::string> qwen2 = {kQwen2};
    const std::vector<std::string> starcoder = {R"(\p{N})", kGpt2};
    // "default" names no particular model; GPT-2's regex is the neutral choice.
    for (const char* n : {"default", "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais"})
      (*t)[n] = gpt2;
    for (const char* n :
         {"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe"})
      (*t)[n] = llama3;
    for (const char* n : {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}) (*t)[n] = qwen2;
    for (const char* n :
         {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})
      (*t)[n] = starcoder;
    (*t)["deepseek-llm"] = {"[\r\n]", kDeepseekLetters, kDeepseekPunct, R"(\s+$)",
                            kCjk,     R"(\p{N}+)"};
    (*t)["deepseek-coder"] = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"};
    (*t)["falcon"] = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    return t;
  }();
  return *table;
}

}  // namespace

const std::vector<std::string>* PreTokenizer::patterns_for(const std::string& pre_name) {
  const auto& table = pattern_table();
  auto it = table.find(pre_name);
  return it == table.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::string& pre_name) {
  const std::vector<std::string>* patterns = patterns_for(pre_name);
  if (!patterns) return Status::Error("unknown pre-tokenizer '" + pre_name + "'");
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer);
  for (const std::string& p : *patterns) {
    auto re = Regex::compile(p);
    if (!re.ok()) return Status::Error("pre-tokenizer '" + pre_name + "': " + re.status().message());
    pre->regexes_.push_back(std::move(re.value()));
  }
  return pre;
}

namespace {

struct Piece {
  size_t begin;
  size_t end;
  bool raw;  // invalid UTF-8 byte: regexes leave it alone
};

}  // namespace

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<Piece> pieces;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size()) {
      const size_t n = utf8::valid_char_length(text, j);
      if (n == 0) break;
      j += n;
    }
    if (j > i) pieces.push_back({i, j, false});
    if (j < text.size()) pieces.push_back({j, j + 1, true});
    i = j < text.size() ? j + 1 : j;
  }

  std::vector<Regex::Span> matches;
  for (const Regex& re : regexes_) {
    std::vector<Piece> next;
    next.reserve(pieces.size() * 2);
    for (const Piece& p : pieces) {
      if (p.raw) {
        next.push_back(p);
        continue;
      }
      // Each piece is matched on its own, as if it were the whole text: anchors and
      // lookaheads see the piece's ends. Text between matches stays a piece of its own.
      matches.clear();
      re.find_all(text.substr(p.begin, p.end - p.begin), matches);
      size_t done = p.begin;  // end of the last piece emitted
      for (const Regex::Span& m : matches) {
        if (p.begin + m.begin > done) next.push_back({done, p.begin + m.begin, false});
        next.push_back({p.begin + m.begin, p.begin + m.end, false});
        done = p.begin + m.end;
      }
      if (done < p.end) next.push_back({done, p.end, false});
    }
    pieces = std::move(next);
  }

  std::vector<std::string_view> words;
  words.reserve(pieces.size());
  for (const Piece& p : pieces) words.push_back(text.substr(p.begin, p.end - p.begin));
  return words;
}

}  // namespace mlxs
