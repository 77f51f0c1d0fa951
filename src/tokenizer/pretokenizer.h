// Regex pre-tokenization for byte-level BPE: the text is cut into words before merges
// run, so merges never cross a word boundary. Some vocabularies (deepseek) apply several
// regexes in sequence, each one cutting every piece the previous ones produced; text a
// regex does not match stays a piece of its own ("isolated" splitting, as in Hugging
// Face's Split pre-tokenizer).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/regex.h"

namespace mlxs {

class PreTokenizer {
 public:
  // Compiles the regex list for a tokenizer.ggml.pre value. Unknown names are an error:
  // a wrong split silently changes every token id.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::string& pre_name);
  // Regex list used for a name, or nullptr when the name is unknown (exposed for tests).
  static const std::vector<std::string>* patterns_for(const std::string& pre_name);

  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits text into words (views into `text`, in order, covering it exactly). Bytes
  // that are not valid UTF-8 become single-byte words and are never given to a regex.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  PreTokenizer() = default;
  std::vector<Regex> regexes_;
};

}  // namespace mlxs
