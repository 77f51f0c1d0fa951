// Checks the tokenizers against the reference vectors in ../shared/testdata/tokenizers
// (ids produced by the Hugging Face tokenizers, no BOS/EOS, special text not parsed).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "vocab_vectors.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;
using testing::ids_to_string;
using testing::read_expected;
using testing::read_file;
using testing::split_inputs;
using testing::testdata_dir;

void check_vocab(const std::string& name) {
  const std::string dir = testdata_dir();
  if (dir.empty() || !fs::is_directory(dir)) {
    GTEST_SKIP() << "tokenizer test data not found (expected ../shared/testdata/tokenizers "
                    "next to the project root; MLXS_SOURCE_DIR="
                 << (std::getenv("MLXS_SOURCE_DIR") ? std::getenv("MLXS_SOURCE_DIR") : "unset")
                 << ")";
  }
  const fs::path base = fs::path(dir) / ("ggml-vocab-" + name + ".gguf");
  ASSERT_TRUE(fs::exists(base)) << base;

  auto file = GgufFile::open(base.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = Tokenizer::from_gguf(*file.value());
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Tokenizer& t = *tok.value();
  EXPECT_LT(load_ms, 2000.0) << "loading " << t.n_vocab() << " tokens is too slow";

  const auto inputs = split_inputs(read_file(base.string() + ".inp"));
  const auto expected = read_expected(read_file(base.string() + ".out"));
  ASSERT_EQ(inputs.size(), expected.size());

  size_t passed = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<TokenId> got = t.encode(inputs[i], /*add_special=*/false,
                                              /*parse_special=*/false);
    EXPECT_EQ(got, expected[i]) << "input " << i << ": '" << inputs[i]
                                << "'\n  got:     " << ids_to_string(got)
                                << "\n  expected:" << ids_to_string(expected[i]);
    if (got == expected[i]) ++passed;
    // Every vocabulary here is lossless on these inputs (byte fallback / byte-level BPE).
    EXPECT_EQ(t.decode(got), inputs[i]) << "round trip of input " << i;
    EXPECT_EQ(t.decode(t.encode(inputs[i], /*add_special=*/true, false)), inputs[i])
        << "round trip with BOS/EOS of input " << i;
  }
  std::printf("[ vocab    ] %s: %zu/%zu vectors, loaded %d tokens in %.1f ms\n", name.c_str(),
              passed, inputs.size(), t.n_vocab(), load_ms);
}

TEST(VocabFiles, LlamaSpm) { check_vocab("llama-spm"); }
TEST(VocabFiles, Phi3) { check_vocab("phi-3"); }
TEST(VocabFiles, Gpt2) { check_vocab("gpt-2"); }
TEST(VocabFiles, Starcoder) { check_vocab("starcoder"); }
TEST(VocabFiles, DeepseekCoder) { check_vocab("deepseek-coder"); }
TEST(VocabFiles, DeepseekLlm) { check_vocab("deepseek-llm"); }

}  // namespace
}  // namespace mlxs
