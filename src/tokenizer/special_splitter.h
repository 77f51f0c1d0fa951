// Finds the text of added tokens (control and user-defined) inside input text, so those
// tokens are emitted whole instead of being tokenized character by character.
// Matching is leftmost-longest, as Hugging Face's added-vocabulary matcher does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlxs {

class SpecialSplitter {
 public:
  struct Fragment {
    std::string_view text;  // raw text (token < 0) or the matched token text
    int32_t token = -1;     // the token id when this fragment is a special token
  };

  // `always` marks tokens that are matched even when the caller does not ask for special
  // parsing (user-defined tokens).
  void add(std::string_view text, int32_t token, bool always);
  bool empty() const { return nodes_.size() <= 1; }

  // Splits text into raw fragments and token fragments. With `all` false only tokens
  // added with always=true are recognized.
  std::vector<Fragment> split(std::string_view text, bool all) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;
    bool always = false;
  };
  int32_t child(int32_t node, uint8_t b) const;
  std::vector<Node> nodes_{1};
};

}  // namespace mlxs
