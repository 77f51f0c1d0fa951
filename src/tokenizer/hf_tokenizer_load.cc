// Building an HfTokenizer from tokenizer.json and tokenizer_config.json.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "tokenizer/hf_tokenizer.h"

namespace mlxs {

using hf::index;
using hf::join;
using hf::Json;
using hf::JsonFile;

namespace {

// Common spellings of BOS / EOS, used only when neither tokenizer_config.json nor the
// post-processor names them.
constexpr std::string_view kBosNames[] = {"<s>", "<|begin_of_text|>", "<｜begin▁of▁sentence｜>",
                                          "<bos>", "<|startoftext|>"};
constexpr std::string_view kEosNames[] = {"</s>", "<|end_of_text|>", "<｜end▁of▁sentence｜>",
                                          "<eos>", "<|endoftext|>"};
// Control tokens that end a turn (EOT) or a tool-call message (EOM).
constexpr std::string_view kEotNames[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"};

bool read_id(const Json& v, int32_t* out) {
  if (!v.is_number_integer()) return false;
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id >= std::numeric_limits<int32_t>::max()) return false;
  *out = static_cast<int32_t>(id);
  return true;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> HfTokenizer::create(const std::string& tokenizer_json_path,
                                                       const std::string& config_path) {
  auto file = JsonFile::load(tokenizer_json_path);
  if (!file.ok()) return file.status();
  const JsonFile& f = file.value();
  std::optional<JsonFile> config;
  if (!config_path.empty()) {
    auto c = JsonFile::load(config_path);
    if (!c.ok()) return c.status();
    config = std::move(c.value());
  }

  std::unique_ptr<HfTokenizer> tok(new HfTokenizer);
  // nlohmann throws on misuse that the checks below should already rule out; turn any
  // such surprise into an error value instead of letting it escape the module.
  try {
    const Json& root = f.root();
    const Json null_json;
    auto member = [&](const char* key) -> const Json& {
      auto it = root.find(key);
      return it == root.end() ? null_json : *it;
    };
    const Json& added = member("added_tokens");
    if (!added.is_null() && !added.is_array())
      return f.error("added_tokens", "expected an array, got " + hf::type_of(added));
    MLXS_RETURN_IF_ERROR(tok->load_model(f, added));
    MLXS_RETURN_IF_ERROR(tok->load_added_tokens(f, added));

    auto norm = HfNormalizer::create(f, member("normalizer"), "normalizer");
    if (!norm.ok()) return norm.status();
    tok->normalizer_ = std::move(norm.value());
    auto pre = HfPreTokenizer::create(f, member("pre_tokenizer"), "pre_tokenizer");
    if (!pre.ok()) return pre.status();
    tok->pre_tokenizer_ = std::move(pre.value());
    tok->model_kind_ = tok->pre_tokenizer_->byte_level() ? "gpt2" : "llama";
    tok->pre_ = "tokenizer.json";

    MLXS_RETURN_IF_ERROR(tok->load_post_processor(f, member("post_processor"), "post_processor"));
    MLXS_RETURN_IF_ERROR(tok->load_decoder(f, member("decoder"), "decoder"));
    MLXS_RETURN_IF_ERROR(tok->load_special_ids(f, config ? &*config : nullptr));
  } catch (const Json::exception& e) {
    return f.error("", std::string("unexpected structure: ") + e.what());
  }
  tok->collect_eog_ids();
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Status HfTokenizer::load_model(const JsonFile& f, const Json& added) {
  auto it = f.root().find("model");
  if (it == f.root().end() || !it->is_object()) return f.error("model", "missing or not an object");
  const Json& model = *it;
  std::optional<std::string> type;
  MLXS_RETURN_IF_ERROR(hf::read_string(f, model, "model", "type", &type));
  // Files from before the "type" tag existed are recognised by their fields.
  if (!type && model.contains("merges")) type = "BPE";
  if (!type) return f.error("model.type", "missing");
  if (*type != "BPE") {
    return f.error("model.type", "unsupported model type '" + *type + "' (supported: BPE)");
  }

  const std::string where = "model.vocab";
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object())
    return f.error(where, "missing or not an object of token -> id");
  if (vocab->empty()) return f.error(where, "empty vocabulary");

  // The id space is the model vocabulary plus added tokens, which may lie beyond it.
  int32_t max_id = -1;
  for (auto e = vocab->begin(); e != vocab->end(); ++e) {
    int32_t id = 0;
    if (!read_id(e.value(), &id))
      return f.error(join(where, e.key()), "expected a non-negative integer id, got " +
                                               e.value().dump());
    max_id = std::max(max_id, id);
  }
  if (added.is_array()) {
    for (size_t i = 0; i < added.size(); ++i) {
      int32_t id = 0;
      auto idv = added[i].find("id");
      if (!added[i].is_object() || idv == added[i].end() || !read_id(*idv, &id))
        return f.error(join(index("added_tokens", i), "id"), "missing or not a non-negative integer");
      max_id = std::max(max_id, id);
    }
  }
  tokens_.assign(static_cast<size_t>(max_id) + 1, std::string());
  types_.assign(tokens_.size(), TokenType::kUnused);
  scores_.assign(tokens_.size(), 0.0f);
  for (auto e = vocab->begin(); e != vocab->end(); ++e) {
    const int32_t id = e.value().get<int32_t>();
    if (types_[id] != TokenType::kUnused) {
      return f.error(where, "id " + std::to_string(id) + " is given to both '" + tokens_[id] +
                                "' and '" + e.key() + "'");
    }
    tokens_[id] = e.key();
    types_[id] = TokenType::kNormal;
  }
  // Added tokens take their place before the index is built, so lookups see them.
  if (added.is_array()) {
    for (size_t i = 0; i < added.size(); ++i) {
      auto c = added[i].find("content");
      if (c == added[i].end() || !c->is_string() || c->get<std::string>().empty())
        return f.error(join(index("added_tokens", i), "content"), "missing or not a non-empty string");
      const int32_t id = added[i]["id"].get<int32_t>();
      // An added token that reuses a vocabulary id with other text wins, as its text is
      // what decoding shows.
      tokens_[id] = c->get<std::string>();
      types_[id] = TokenType::kNormal;  // the real type is set by load_added_tokens
    }
  }
  token_index_.build(tokens_);

  MLXS_RETURN_IF_ERROR(hf::read_bool(f, model, "model", "byte_fallback", false, &byte_fallback_));
  MLXS_RETURN_IF_ERROR(hf::read_bool(f, model, "model", "ignore_merges", false, &ignore_merges_));
  MLXS_RETURN_IF_ERROR(hf::read_bool(f, model, "model", "fuse_unk", false, &fuse_unk_));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::optional<std::string> affix;
    MLXS_RETURN_IF_ERROR(hf::read_string(f, model, "model", key, &affix));
    if (affix && !affix->empty())
      return f.error(join("model", key), "'" + *affix + "' is not supported (only null or \"\")");
  }
  std::optional<std::string> unk;
  MLXS_RETURN_IF_ERROR(hf::read_string(f, model, "model", "unk_token", &unk));
  if (unk) {
    unk_id_ = find_token(*unk);
    if (unk_id_ < 0) return f.error("model.unk_token", "'" + *unk + "' is not in the vocabulary");
  }

  byte_tokens_.fill(-1);
  if (byte_fallback_) {
    char name[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      const TokenId id = find_token(name);
      if (id < 0) continue;
      byte_tokens_[b] = id;
      types_[id] = TokenType::kByte;
    }
  }
  if (unk_id_ >= 0) types_[unk_id_] = TokenType::kUnknown;

  const Json* merges = nullptr;
  MLXS_RETURN_IF_ERROR(hf::require_array(f, model, "model", "merges", &merges));
  return load_merges(f, *merges);
}

Status HfTokenizer::load_merges(const JsonFile& f, const Json& merges) {
  merges_.reserve(merges.size());
  std::string left, right, joined;
  // Backwards, because the merge table keeps the first entry for a pair and Hugging
  // Face keeps the last one when a file lists a pair twice.
  for (size_t n = merges.size(); n-- > 0;) {
    const Json& m = merges[n];
    const std::string where = index("model.merges", n);
    if (m.is_string()) {
      // "a b": exactly two parts, as Hugging Face reads it.
      const std::string& s = m.get_ref<const std::string&>();
      const size_t cut = s.find(' ');
      if (cut == std::string::npos || s.find(' ', cut + 1) != std::string::npos)
        return f.error(where, "'" + s + "' is not two tokens separated by one space");
      left = s.substr(0, cut);
      right = s.substr(cut + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return f.error(where, "expected \"a b\" or [\"a\", \"b\"], got " + m.dump());
    }
    joined = left + right;
    const TokenId a = find_token(left), b = find_token(right), result = find_token(joined);
    const std::pair<const std::string*, TokenId> parts[] = {{&left, a}, {&right, b}, {&joined, result}};
    for (const auto& [text, id] : parts) {
      if (id < 0) return f.error(where, "'" + *text + "' is not in the vocabulary");
    }
    merges_.insert(a, b, {static_cast<int32_t>(n), result});
  }
  return Status::Ok();
}

Status HfTokenizer::load_added_tokens(const JsonFile& f, const Json& added) {
  if (!added.is_array()) return Status::Ok();
  for (size_t i = 0; i < added.size(); ++i) {
    const Json& t = added[i];
    const std::string where = index("added_tokens", i);
    const int32_t id = t["id"].get<int32_t>();
    bool special = false, lstrip = false, rstrip = false;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, t, where, "special", false, &special));
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, t, where, "lstrip", false, &lstrip));
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, t, where, "rstrip", false, &rstrip));
    if (types_[id] != TokenType::kUnknown)
      types_[id] = special ? TokenType::kControl : TokenType::kUserDefined;
    // Special tokens are cut out of text only when the caller asks for special parsing;
    // the others always, as Hugging Face does.
    specials_.add(tokens_[id], id, /*always=*/!special);
    if (lstrip || rstrip) strip_[id] = {lstrip, rstrip};
  }
  return Status::Ok();
}

Status HfTokenizer::load_post_processor(const JsonFile& f, const Json& spec,
                                        const std::string& where) {
  if (spec.is_null()) return Status::Ok();
  std::string type;
  MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "type", &type));
  auto check_id = [&](const Json& v, const std::string& w, TokenId* id) -> Status {
    if (!read_id(v, id) || *id >= n_vocab())
      return f.error(w, "expected a token id below " + std::to_string(n_vocab()) + ", got " +
                            v.dump());
    return Status::Ok();
  };
  if (type == "Sequence") {
    const Json* list = nullptr;
    MLXS_RETURN_IF_ERROR(hf::require_array(f, spec, where, "processors", &list));
    for (size_t i = 0; i < list->size(); ++i)
      MLXS_RETURN_IF_ERROR(load_post_processor(f, (*list)[i], index(join(where, "processors"), i)));
    return Status::Ok();
  }
  if (type == "ByteLevel") return Status::Ok();  // offsets only; adds no tokens
  if (type == "TemplateProcessing") {
    const Json* single = nullptr;
    MLXS_RETURN_IF_ERROR(hf::require_array(f, spec, where, "single", &single));
    auto specials = spec.find("special_tokens");
    bool after_text = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const Json& item = (*single)[i];
      const std::string w = index(join(where, "single"), i);
      if (item.contains("Sequence")) {
        after_text = true;
        continue;
      }
      auto st = item.find("SpecialToken");
      if (st == item.end() || !st->is_object() || !st->contains("id") || !(*st)["id"].is_string())
        return f.error(w, "expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}");
      const std::string name = (*st)["id"].get<std::string>();
      if (specials == spec.end() || !specials->is_object() || !specials->contains(name))
        return f.error(w, "'" + name + "' is not listed in " + join(where, "special_tokens"));
      const Json& entry = (*specials)[name];
      const std::string ew = join(join(where, "special_tokens"), name);
      if (!entry.contains("ids") || !entry["ids"].is_array())
        return f.error(join(ew, "ids"), "missing or not an array");
      for (size_t k = 0; k < entry["ids"].size(); ++k) {
        TokenId id = -1;
        MLXS_RETURN_IF_ERROR(check_id(entry["ids"][k], index(join(ew, "ids"), k), &id));
        (after_text ? suffix_ids_ : prefix_ids_).push_back(id);
      }
    }
    return Status::Ok();
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    for (const char* key : {"cls", "sep"}) {
      auto v = spec.find(key);
      if (v == spec.end() || !v->is_array() || v->size() != 2)
        return f.error(join(where, key), "expected [token, id]");
      TokenId id = -1;
      MLXS_RETURN_IF_ERROR(check_id((*v)[1], join(where, key), &id));
      (std::string_view(key) == "cls" ? prefix_ids_ : suffix_ids_).push_back(id);
    }
    return Status::Ok();
  }
  return f.error(join(where, "type"),
                 "unsupported post-processor '" + type +
                     "' (supported: TemplateProcessing, ByteLevel, RobertaProcessing, "
                     "BertProcessing, Sequence)");
}

Status HfTokenizer::load_decoder(const JsonFile& f, const Json& spec, const std::string& where) {
  if (spec.is_null()) return Status::Ok();
  std::string type;
  MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "type", &type));
  if (type == "Sequence") {
    const Json* list = nullptr;
    MLXS_RETURN_IF_ERROR(hf::require_array(f, spec, where, "decoders", &list));
    for (size_t i = 0; i < list->size(); ++i)
      MLXS_RETURN_IF_ERROR(load_decoder(f, (*list)[i], index(join(where, "decoders"), i)));
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    decode_byte_level_ = true;
    return Status::Ok();
  }
  // Byte tokens always decode to their byte, and pieces are always concatenated.
  if (type == "ByteFallback" || type == "Fuse") return Status::Ok();
  if (type == "Replace") {
    std::string literal, content;
    std::optional<Regex> regex;
    MLXS_RETURN_IF_ERROR(hf::read_pattern(f, spec, where, &literal, &regex));
    if (regex) return f.error(join(where, "pattern"), "Regex patterns are not supported in decoders");
    MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "content", &content));
    decode_replacements_.emplace_back(literal, content);
    return Status::Ok();
  }
  if (type == "Strip") {
    // Llama's Strip(" ", 1, 0) removes the space the normalizer's "▁" prefix became;
    // Tokenizer::decode does that for tokenizers that add a space prefix.
    std::optional<std::string> content;
    MLXS_RETURN_IF_ERROR(hf::read_string(f, spec, where, "content", &content));
    auto start = spec.find("start");
    if (content == " " && start != spec.end() && start->is_number_integer() &&
        start->get<int64_t>() > 0)
      add_space_prefix_ = true;
    return Status::Ok();
  }
  if (type == "Metaspace") {
    std::optional<std::string> repl, scheme;
    MLXS_RETURN_IF_ERROR(hf::read_string(f, spec, where, "replacement", &repl));
    MLXS_RETURN_IF_ERROR(hf::read_string(f, spec, where, "prepend_scheme", &scheme));
    bool add_prefix = true;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "add_prefix_space", true, &add_prefix));
    decode_replacements_.emplace_back(repl.value_or("\xE2\x96\x81"), " ");
    add_space_prefix_ = scheme ? *scheme != "never" : add_prefix;
    return Status::Ok();
  }
  return f.error(join(where, "type"),
                 "unsupported decoder '" + type +
                     "' (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                     "Sequence)");
}

Status HfTokenizer::load_special_ids(const JsonFile& f, const JsonFile* config) {
  // tokenizer_config.json names special tokens as a string or as {"content": ...}.
  auto config_token = [&](const char* key, TokenId* out) -> Status {
    if (!config) return Status::Ok();
    auto it = config->root().find(key);
    if (it == config->root().end() || it->is_null()) return Status::Ok();
    std::string text;
    if (it->is_string()) {
      text = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      text = (*it)["content"].get<std::string>();
    } else {
      return config->error(key, "expected a string or {\"content\": ...}, got " + it->dump());
    }
    *out = find_token(text);
    if (*out < 0) return config->error(key, "'" + text + "' is not a token of " + f.path());
    return Status::Ok();
  };
  auto added_named = [&](const auto& names) -> TokenId {
    for (std::string_view name : names) {
      const TokenId id = find_token(name);
      if (id >= 0 && types_[id] == TokenType::kControl) return id;
    }
    return -1;
  };

  bos_id_ = prefix_ids_.empty() ? added_named(kBosNames) : prefix_ids_.front();
  eos_id_ = added_named(kEosNames);
  MLXS_RETURN_IF_ERROR(config_token("bos_token", &bos_id_));
  MLXS_RETURN_IF_ERROR(config_token("eos_token", &eos_id_));
  MLXS_RETURN_IF_ERROR(config_token("unk_token", &unk_id_));
  MLXS_RETURN_IF_ERROR(config_token("pad_token", &pad_id_));
  eot_id_ = added_named(kEotNames);
  eom_id_ = added_named(std::initializer_list<std::string_view>{"<|eom_id|>"});
  if (eot_id_ == eos_id_) eot_id_ = -1;

  auto contains = [](const std::vector<TokenId>& v, TokenId id) {
    return id >= 0 && std::find(v.begin(), v.end(), id) != v.end();
  };
  // tokenizer_config.json's add_bos_token / add_eos_token win over the post-processor
  // (transformers rebuilds the template from them); a flag it leaves out keeps what the
  // post-processor does.
  const bool has_bos_flag = config && config->root().contains("add_bos_token") &&
                            !config->root()["add_bos_token"].is_null();
  const bool has_eos_flag = config && config->root().contains("add_eos_token") &&
                            !config->root()["add_eos_token"].is_null();
  if (has_bos_flag || has_eos_flag) {
    bool add_bos = contains(prefix_ids_, bos_id_), add_eos = contains(suffix_ids_, eos_id_);
    MLXS_RETURN_IF_ERROR(hf::read_bool(*config, config->root(), "", "add_bos_token", add_bos, &add_bos));
    MLXS_RETURN_IF_ERROR(hf::read_bool(*config, config->root(), "", "add_eos_token", add_eos, &add_eos));
    if (add_bos && bos_id_ < 0) return config->error("add_bos_token", "set, but no bos_token is known");
    if (add_eos && eos_id_ < 0) return config->error("add_eos_token", "set, but no eos_token is known");
    prefix_ids_.clear();
    suffix_ids_.clear();
    if (add_bos) prefix_ids_.push_back(bos_id_);
    if (add_eos) suffix_ids_.push_back(eos_id_);
  }
  add_bos_ = contains(prefix_ids_, bos_id_);
  add_eos_ = contains(suffix_ids_, eos_id_);
  return Status::Ok();
}

}  // namespace mlxs
