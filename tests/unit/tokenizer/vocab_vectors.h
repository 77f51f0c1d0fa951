// Reading the reference vectors in ../shared/testdata/tokenizers (see
// ../shared/testdata/README.md): inputs separated by "\n__ggml_vocab_test__\n", one line
// of expected ids per input.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mlxs::testing {

inline std::string testdata_dir() {
  const char* src = std::getenv("MLXS_SOURCE_DIR");
#ifdef MLXS_SOURCE_DIR_DEFAULT
  if (!src) src = MLXS_SOURCE_DIR_DEFAULT;
#endif
  if (!src) return std::string();
  return (std::filesystem::path(src) / ".." / "shared" / "testdata" / "tokenizers").string();
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> split_inputs(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(sep, start)) != std::string::npos; start = pos + sep.size())
    out.push_back(text.substr(start, pos - start));
  // The file ends with a separator; anything after the last one is not an input.
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

inline std::vector<std::vector<TokenId>> read_expected(const std::string& text) {
  std::vector<std::vector<TokenId>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    std::vector<TokenId> v;
    for (long id; ids >> id;) v.push_back(static_cast<TokenId>(id));
    out.push_back(std::move(v));
  }
  return out;
}

inline std::string ids_to_string(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace mlxs::testing
