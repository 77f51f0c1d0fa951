// The tokenizer.json "normalizer": text rewrites applied to each piece of input between
// added tokens, before pre-tokenization. Supported: Sequence, Prepend, Replace (String or
// Regex pattern), NFC, NFD, NFKC, NFKD, Lowercase, Strip. Anything else is an error that
// names the file and the type, since skipping a normalizer silently changes token ids.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hf_json.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_norm.h"

namespace mlxs {

class HfNormalizer {
 public:
  // `spec` is the value of "normalizer" (null gives a normalizer that changes nothing).
  static Result<std::unique_ptr<HfNormalizer>> create(const hf::JsonFile& f, const hf::Json& spec,
                                                      const std::string& where);

  std::string apply(std::string_view text) const;
  bool empty() const { return steps_.empty(); }

 private:
  enum class Kind { kPrepend, kReplace, kForm, kLowercase, kStrip };
  struct Step {
    Kind kind;
    std::string text;            // Prepend: the prefix; Replace: the literal pattern
    std::string content;         // Replace: the replacement
    std::optional<Regex> regex;  // Replace with a Regex pattern
    unicode::Form form = unicode::Form::kNfc;
    bool left = false, right = false;  // Strip
  };

  Status add(const hf::JsonFile& f, const hf::Json& spec, const std::string& where);
  static void replace(const Step& s, std::string& text);

  std::vector<Step> steps_;
};

}  // namespace mlxs
