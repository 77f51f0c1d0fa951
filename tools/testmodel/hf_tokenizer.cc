#include "testmodel/hf_tokenizer.h"

#include <algorithm>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "tokenizer/pretokenizer.h"

namespace mlxs::testmodel {
namespace {

size_t codepoints(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

nlohmann::json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
          {"use_regex", use_regex}};
}

nlohmann::json split(const std::string& regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"},
          {"invert", false}};
}

// The pre_tokenizer Hugging Face publishes for a tokenizer.ggml.pre value.
bool byte_level_pre_tokenizer(const std::string& pre, nlohmann::json* out) {
  using J = nlohmann::json;
  if (pre == "gpt-2" || pre == "gpt2" || pre == "default") {
    *out = byte_level(true);
  } else if (pre == "starcoder") {
    *out = {{"type", "Sequence"},
            {"pretokenizers", J::array({{{"type", "Digits"}, {"individual_digits", true}},
                                        byte_level(true)})}};
  } else if (pre == "deepseek-coder" || pre == "deepseek-llm") {
    // All but the last regex of the GGUF table are Split steps; the last (\p{N} or
    // \p{N}+) is the Digits step of the original file.
    const std::vector<std::string>& pats = *PreTokenizer::patterns_for(pre);
    J steps = J::array();
    for (size_t i = 0; i + 1 < pats.size(); ++i) steps.push_back(split(pats[i]));
    steps.push_back({{"type", "Digits"}, {"individual_digits", pre == "deepseek-coder"}});
    steps.push_back(byte_level(false));
    *out = {{"type", "Sequence"}, {"pretokenizers", steps}};
  } else if (pre == "llama-bpe" || pre == "qwen2") {
    *out = {{"type", "Sequence"},
            {"pretokenizers", J::array({split(PreTokenizer::patterns_for(pre)->front()),
                                        byte_level(false)})}};
  } else {
    return false;
  }
  return true;
}

bool is_padding(const std::string& text, size_t id) {
  return text == "[PAD" + std::to_string(id) + "]";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> spm_merges(
    const std::vector<std::string>& pieces, const std::vector<double>& scores) {
  std::unordered_map<std::string, size_t> id;
  for (size_t i = 0; i < pieces.size(); ++i) id.emplace(pieces[i], i);
  struct M {
    size_t l, r;
    double score;
    size_t len_l, len_r;
  };
  std::vector<M> all;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string& p = pieces[i];
    std::vector<M> local;
    for (size_t cut = 1; cut < p.size(); ++cut) {
      if ((static_cast<unsigned char>(p[cut]) & 0xC0) == 0x80) continue;  // inside a char
      auto l = id.find(p.substr(0, cut)), r = id.find(p.substr(cut));
      if (l == id.end() || r == id.end()) continue;
      local.push_back({l->second, r->second, scores[i], codepoints(l->first), codepoints(r->first)});
    }
    std::sort(local.begin(), local.end(),
              [](const M& a, const M& b) { return a.l != b.l ? a.l < b.l : a.r < b.r; });
    all.insert(all.end(), local.begin(), local.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const M& a, const M& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.len_l != b.len_l) return a.len_l > b.len_l;
    return a.len_r > b.len_r;
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(all.size());
  for (const M& m : all) out.emplace_back(pieces[m.l], pieces[m.r]);
  return out;
}

HfExport export_hf(const GgufFile& file, SpmLayout layout, MergeForm form) {
  using J = nlohmann::json;
  HfExport ex;
  const std::string kind = file.get_string("tokenizer.ggml.model").value_or("");
  const std::string pre = file.get_string("tokenizer.ggml.pre").value_or("default");
  const std::vector<std::string>& tokens = file.get_array("tokenizer.ggml.tokens")->strings;
  std::vector<int64_t> types(tokens.size(), 1);
  if (const GgufArray* t = file.get_array("tokenizer.ggml.token_type")) types = t->ints;
  auto id_of = [&](const char* key) -> int64_t {
    return file.get_int(key).value_or(-1);
  };
  const int64_t bos = id_of("tokenizer.ggml.bos_token_id");
  const int64_t eos = id_of("tokenizer.ggml.eos_token_id");
  const int64_t unk = id_of("tokenizer.ggml.unknown_token_id");
  const std::optional<bool> add_bos = file.get_bool("tokenizer.ggml.add_bos_token");
  const std::optional<bool> add_eos = file.get_bool("tokenizer.ggml.add_eos_token");
  const bool spm = kind == "llama";

  // The model vocabulary ends with the last normal or byte token; tokens after it exist
  // only as added tokens (as in Phi-3's and DeepSeek's files).
  size_t n_model = 0;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (types[i] == 1 || types[i] == 6) n_model = i + 1;

  J vocab = J::object();
  for (size_t i = 0; i < n_model; ++i)
    if (!is_padding(tokens[i], i)) vocab[tokens[i]] = i;

  J added = J::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t t = types[i];
    if (is_padding(tokens[i], i) || (t != 2 && t != 3 && t != 4)) continue;
    const bool special = t != 4;
    added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", !special},
                     {"special", special}});
  }

  std::vector<std::pair<std::string, std::string>> merges;
  if (spm) {
    const std::vector<double>& scores = file.get_array("tokenizer.ggml.scores")->floats;
    std::vector<std::string> pieces(tokens.begin(), tokens.begin() + n_model);
    merges = spm_merges(pieces, std::vector<double>(scores.begin(), scores.begin() + n_model));
  } else {
    for (const std::string& m : file.get_array("tokenizer.ggml.merges")->strings) {
      const size_t cut = m.find(' ', 1);
      merges.emplace_back(m.substr(0, cut), m.substr(cut + 1));
    }
  }
  J merges_json = J::array();
  for (const auto& [a, b] : merges) {
    if (form == MergeForm::kString && a.find(' ') == std::string::npos &&
        b.find(' ') == std::string::npos) {
      merges_json.push_back(a + " " + b);
    } else {
      merges_json.push_back(J::array({a, b}));
    }
  }

  J model = {{"type", "BPE"}, {"dropout", nullptr},
             {"unk_token", unk >= 0 ? J(tokens[unk]) : J(nullptr)},
             {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
             {"fuse_unk", spm}, {"byte_fallback", spm}, {"ignore_merges", pre == "llama-bpe"},
             {"vocab", vocab}, {"merges", merges_json}};

  J root = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
            {"added_tokens", added}};
  const std::string sp = "\xE2\x96\x81";  // ▁
  if (spm) {
    const bool prefix = file.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    if (layout == SpmLayout::kLegacyNormalizer) {
      J norms = J::array();
      if (prefix) norms.push_back({{"type", "Prepend"}, {"prepend", sp}});
      norms.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", sp}});
      root["normalizer"] = {{"type", "Sequence"}, {"normalizers", norms}};
      root["pre_tokenizer"] = nullptr;
    } else {
      root["normalizer"] = nullptr;
      root["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", sp},
                               {"prepend_scheme", prefix ? "first" : "never"}, {"split", false}};
    }
  } else {
    J p;
    if (!byte_level_pre_tokenizer(pre, &p)) {
      ex.error = "no tokenizer.json layout for pre-tokenizer '" + pre + "'";
      return ex;
    }
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = p;
  }

  const bool bos_default = spm;  // what the GGUF path assumes when the key is absent
  if (add_bos.value_or(bos_default) && bos >= 0) {
    const std::string b = tokens[bos];
    root["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", J::array({{{"SpecialToken", {{"id", b}, {"type_id", 0}}}},
                             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", J::array({{{"SpecialToken", {{"id", b}, {"type_id", 0}}}},
                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                           {{"SpecialToken", {{"id", b}, {"type_id", 1}}}},
                           {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens", {{b, {{"id", b}, {"ids", J::array({bos})}, {"tokens", J::array({b})}}}}}};
  } else if (!spm) {
    root["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true},
                              {"trim_offsets", false}, {"use_regex", true}};
  } else {
    root["post_processor"] = nullptr;
  }

  if (!spm) {
    root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                       {"use_regex", true}};
  } else if (layout == SpmLayout::kLegacyNormalizer) {
    root["decoder"] = {
        {"type", "Sequence"},
        {"decoders", J::array({{{"type", "Replace"}, {"pattern", {{"String", sp}}}, {"content", " "}},
                               {{"type", "ByteFallback"}},
                               {{"type", "Fuse"}},
                               {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  } else {
    root["decoder"] = {{"type", "Metaspace"}, {"replacement", sp}, {"prepend_scheme", "first"},
                       {"split", false}};
  }
  root["model"] = model;
  ex.tokenizer_json = root.dump(1);

  // tokenizer_config.json carries add_bos_token / add_eos_token only where the GGUF had
  // them (as the Llama and DeepSeek files do; GPT-2's and StarCoder's have none).
  J config = J::object();
  if (add_bos) config["add_bos_token"] = *add_bos;
  if (add_eos) config["add_eos_token"] = *add_eos;
  if (bos >= 0) config["bos_token"] = tokens[bos];
  if (eos >= 0) config["eos_token"] = tokens[eos];
  if (unk >= 0) config["unk_token"] = tokens[unk];
  config["model_max_length"] = 4096;
  config["tokenizer_class"] = spm ? "LlamaTokenizer" : "PreTrainedTokenizerFast";
  ex.config_json = config.dump(1);
  return ex;
}

}  // namespace mlxs::testmodel
