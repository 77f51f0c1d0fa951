#include "tokenizer/vocab_tokenizer.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "tokenizer/metadata.h"

namespace mlxs {

using metadata::key_error;
using metadata::read_flag;
using metadata::read_special_id;

namespace {

// Texts that end a turn in common chat formats. They count as end-of-generation when the
// vocabulary marks them as control tokens, even if the metadata names only one EOS.
constexpr std::string_view kEndMarkers[] = {
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
};

// Element types whose values GgufArray keeps in `ints`.
bool is_signed_or_small_int(GgufType t) {
  switch (t) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::UINT16:
    case GgufType::INT16:
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status VocabTokenizer::load_common(const GgufFile& file, const std::string& kind) {
  model_kind_ = kind;

  const std::string tokens_key = "tokenizer.ggml.tokens";
  const GgufArray* tokens = file.get_array(tokens_key);
  if (!tokens) return key_error(file, tokens_key, "missing");
  if (tokens->elem_type != GgufType::STRING)
    return key_error(file, tokens_key, "expected an array of strings");
  if (tokens->strings.empty()) return key_error(file, tokens_key, "empty vocabulary");
  if (tokens->strings.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return key_error(file, tokens_key, "too many tokens");
  tokens_ = tokens->strings;
  const auto n_vocab = static_cast<int32_t>(tokens_.size());

  const std::string scores_key = "tokenizer.ggml.scores";
  scores_.assign(tokens_.size(), 0.0f);
  if (const GgufValue* v = file.find(scores_key)) {
    const GgufArray* scores = file.get_array(scores_key);
    if (!scores ||
        (scores->elem_type != GgufType::FLOAT32 && scores->elem_type != GgufType::FLOAT64))
      return key_error(file, scores_key, "expected an array of floats, got " + v->to_string());
    if (scores->floats.size() != tokens_.size())
      return key_error(file, scores_key,
                       std::to_string(scores->floats.size()) + " scores for " +
                           std::to_string(tokens_.size()) + " tokens");
    for (size_t i = 0; i < tokens_.size(); ++i) scores_[i] = static_cast<float>(scores->floats[i]);
  }

  const std::string types_key = "tokenizer.ggml.token_type";
  types_.assign(tokens_.size(), TokenType::kNormal);
  if (const GgufValue* v = file.find(types_key)) {
    const GgufArray* types = file.get_array(types_key);
    if (!types || !is_signed_or_small_int(types->elem_type))
      return key_error(file, types_key, "expected an array of integers, got " + v->to_string());
    if (types->ints.size() != tokens_.size())
      return key_error(file, types_key,
                       std::to_string(types->ints.size()) + " types for " +
                           std::to_string(tokens_.size()) + " tokens");
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const int64_t t = types->ints[i];
      if (t < 0 || t > static_cast<int64_t>(TokenType::kByte))
        return key_error(file, types_key,
                         "token " + std::to_string(i) + " has unknown type " + std::to_string(t));
      types_[i] = static_cast<TokenType>(t);
    }
  }

  token_index_.build(tokens_);

  const bool spm = kind == "llama";
  MLXS_RETURN_IF_ERROR(
      read_special_id(file, "tokenizer.ggml.bos_token_id", n_vocab, spm ? 1 : -1, &bos_id_));
  MLXS_RETURN_IF_ERROR(
      read_special_id(file, "tokenizer.ggml.eos_token_id", n_vocab, spm ? 2 : -1, &eos_id_));
  MLXS_RETURN_IF_ERROR(
      read_special_id(file, "tokenizer.ggml.unknown_token_id", n_vocab, spm ? 0 : -1, &unk_id_));
  MLXS_RETURN_IF_ERROR(read_special_id(file, "tokenizer.ggml.eot_token_id", n_vocab, -1, &eot_id_));
  MLXS_RETURN_IF_ERROR(read_special_id(file, "tokenizer.ggml.eom_token_id", n_vocab, -1, &eom_id_));
  MLXS_RETURN_IF_ERROR(
      read_special_id(file, "tokenizer.ggml.padding_token_id", n_vocab, -1, &pad_id_));

  MLXS_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_bos_token", spm, &add_bos_));
  MLXS_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_eos_token", false, &add_eos_));
  if (add_bos_ && bos_id_ < 0)
    return key_error(file, "tokenizer.ggml.add_bos_token", "set, but the model has no BOS token");
  if (add_eos_ && eos_id_ < 0)
    return key_error(file, "tokenizer.ggml.add_eos_token", "set, but the model has no EOS token");

  collect_eog_ids();

  // Added tokens that can appear verbatim in text. Control and unknown tokens only count
  // when the caller asks for special parsing; user-defined ones always do.
  for (int32_t i = 0; i < n_vocab; ++i) {
    const TokenType t = types_[i];
    if (t == TokenType::kUserDefined) {
      specials_.add(tokens_[i], i, /*always=*/true);
    } else if (t == TokenType::kControl || t == TokenType::kUnknown) {
      specials_.add(tokens_[i], i, /*always=*/false);
    }
  }
  return Status::Ok();
}

void VocabTokenizer::collect_eog_ids() {
  eog_ids_.clear();
  for (TokenId id : {eos_id_, eot_id_, eom_id_}) {
    if (id >= 0) eog_ids_.push_back(id);
  }
  for (int32_t i = 0; i < n_vocab(); ++i) {
    if (types_[i] != TokenType::kControl) continue;
    for (std::string_view marker : kEndMarkers) {
      if (tokens_[i] == marker) eog_ids_.push_back(i);
    }
  }
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
}

TokenId VocabTokenizer::find_token(std::string_view text) const { return token_index_.find(text); }

std::vector<TokenId> VocabTokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special && add_bos_) out.push_back(bos_id_);
  bool after_special = true;
  for (const SpecialSplitter::Fragment& f : specials_.split(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_fragment(f.text, after_special, out);
      after_special = false;
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

std::string VocabTokenizer::special_piece(TokenId id, bool render_special) const {
  return render_special ? tokens_[id] : std::string();
}

}  // namespace mlxs
