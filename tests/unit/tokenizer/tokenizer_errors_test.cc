// Bad tokenizer metadata must fail with a message naming the file and the key.
#include <gtest/gtest.h>

#include "tiny_vocabs.h"
#include "tokenizer/tokenizer.h"

namespace mlxs {
namespace {

using testing::GgufBuilder;
using testing::TinyBpe;
using testing::TinySpm;

void expect_error(GgufBuilder b, const std::vector<std::string>& fragments) {
  auto f = b.parse();
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto t = Tokenizer::from_gguf(*f.value());
  ASSERT_FALSE(t.ok());
  const std::string& msg = t.status().message();
  EXPECT_NE(msg.find("test.gguf"), std::string::npos) << msg;
  for (const std::string& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << msg;
}

TEST(TokenizerErrors, MissingModel) {
  GgufBuilder b;
  b.strings("tokenizer.ggml.tokens", {"a"});
  expect_error(b, {"tokenizer.ggml.model", "missing"});
}

TEST(TokenizerErrors, UnknownModelKind) {
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "wordpiece").strings("tokenizer.ggml.tokens", {"a"});
  expect_error(b, {"tokenizer.ggml.model", "wordpiece"});
}

TEST(TokenizerErrors, MissingTokens) {
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama");
  expect_error(b, {"tokenizer.ggml.tokens", "missing"});
}

TEST(TokenizerErrors, TokensNotStrings) {
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama").ints("tokenizer.ggml.tokens", {1, 2});
  expect_error(b, {"tokenizer.ggml.tokens"});
}

TEST(TokenizerErrors, UnknownPreTokenizer) {
  expect_error(TinyBpe().builder("brand-new-pre"), {"tokenizer.ggml.pre", "brand-new-pre"});
}

TEST(TokenizerErrors, MissingMerges) {
  TinyBpe v;
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", "gpt2")
      .strings("tokenizer.ggml.tokens", v.tokens);
  expect_error(b, {"tokenizer.ggml.merges", "missing"});
}

TEST(TokenizerErrors, MalformedMerge) {
  TinyBpe v;
  v.merges.push_back("nospace");
  expect_error(v.builder(), {"tokenizer.ggml.merges", "nospace"});
}

TEST(TokenizerErrors, SpecialIdOutOfRange) {
  TinySpm v;
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .u32("tokenizer.ggml.bos_token_id", 99999);
  expect_error(b, {"tokenizer.ggml.bos_token_id", "99999"});

  GgufBuilder b2;
  b2.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .i32("tokenizer.ggml.eot_token_id", -7);
  expect_error(b2, {"tokenizer.ggml.eot_token_id", "-7"});

  GgufBuilder b3;
  b3.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .str("tokenizer.ggml.eos_token_id", "2");
  expect_error(b3, {"tokenizer.ggml.eos_token_id"});
}

TEST(TokenizerErrors, ScoresLengthMismatch) {
  TinySpm v;
  v.scores.pop_back();
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .floats("tokenizer.ggml.scores", v.scores);
  expect_error(b, {"tokenizer.ggml.scores"});
}

TEST(TokenizerErrors, TypesLengthMismatch) {
  TinySpm v;
  v.types.push_back(1);
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .ints("tokenizer.ggml.token_type", v.types);
  expect_error(b, {"tokenizer.ggml.token_type"});
}

TEST(TokenizerErrors, UnknownTokenType) {
  TinySpm v;
  v.types[5] = 42;
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .ints("tokenizer.ggml.token_type", v.types);
  expect_error(b, {"tokenizer.ggml.token_type", "42"});
}

TEST(TokenizerErrors, AddBosWithoutBos) {
  TinyBpe v;
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", "gpt2")
      .strings("tokenizer.ggml.tokens", v.tokens)
      .strings("tokenizer.ggml.merges", v.merges)
      .boolean("tokenizer.ggml.add_bos_token", true);
  expect_error(b, {"tokenizer.ggml.add_bos_token"});
}

TEST(TokenizerErrors, SpmDefaultsNeedNoKeys) {
  // Only model and tokens: scores default to 0, types to normal, BOS/EOS/UNK to 1/2/0.
  TinySpm v;
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", v.tokens);
  auto f = b.parse();
  ASSERT_TRUE(f.ok());
  auto t = Tokenizer::from_gguf(*f.value());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->bos_id(), 1);
  EXPECT_EQ(t.value()->eos_id(), 2);
  EXPECT_TRUE(t.value()->add_bos());
}

}  // namespace
}  // namespace mlxs
