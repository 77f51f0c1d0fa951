// The tokenizer.json "pre_tokenizer": cuts each normalized piece of input into the words
// the model tokenizes separately. Supported: Sequence, Split (String or Regex pattern,
// every behavior, invert), ByteLevel (add_prefix_space, use_regex with GPT-2's regex),
// Metaspace (replacement, prepend_scheme / add_prefix_space, split), Digits, Whitespace,
// WhitespaceSplit. Each step applies to every piece the previous steps produced, as in
// Hugging Face tokenizers. Bytes that are not valid UTF-8 (which Hugging Face never sees)
// stay single-byte words that no regex touches, as in the GGUF path.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hf_json.h"
#include "tokenizer/regex.h"

namespace mlxs {

class HfPreTokenizer {
 public:
  // `spec` is the value of "pre_tokenizer" (null: the whole piece is one word).
  static Result<std::unique_ptr<HfPreTokenizer>> create(const hf::JsonFile& f,
                                                        const hf::Json& spec,
                                                        const std::string& where);

  // Appends the words of `text`. `at_start`: the text begins the input (Metaspace with
  // prepend_scheme "first" adds its prefix only there).
  void split(std::string_view text, bool at_start, std::vector<std::string>& out) const;

  // True when a ByteLevel step maps bytes to the GPT-2 alphabet.
  bool byte_level() const { return byte_level_; }

 private:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  struct Step {
    Kind kind = Kind::kSplit;
    std::optional<Regex> regex;  // Split (a literal pattern is compiled quoted)
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel
    std::string replacement;        // Metaspace
    enum class Prepend { kAlways, kNever, kFirst } prepend = Prepend::kAlways;
  };
  struct Piece {
    std::string text;
    bool raw;  // a single invalid UTF-8 byte
  };

  Status add(const hf::JsonFile& f, const hf::Json& spec, const std::string& where);
  Status add_split(const hf::JsonFile& f, std::string_view pattern, bool literal,
                   Behavior behavior, bool invert, const std::string& where);
  static void cut(const Piece& p, const Regex& re, Behavior behavior, bool invert,
                  std::vector<Piece>& out);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace mlxs
