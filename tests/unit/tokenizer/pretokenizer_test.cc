#include "tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

namespace mlxs {
namespace {

using Words = std::vector<std::string>;

Words split(const std::string& pre, const std::string& text) {
  auto p = PreTokenizer::create(pre);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  Words out;
  for (std::string_view w : p.value()->split(text)) out.emplace_back(w);
  return out;
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt2", "Hello world's 123  "), (Words{"Hello", " world", "'s", " 123", "  "}));
  EXPECT_EQ(split("gpt-2", "a  b"), (Words{"a", " ", " b"}));
  // "\s+(?!\S)" leaves the last newline before a word unmatched: it is a piece of its own.
  EXPECT_EQ(split("default", "x\n\ny"), (Words{"x", "\n", "\n", "y"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(split("llama-bpe", "I'm 12345"), (Words{"I", "'m", " ", "123", "45"}));
  EXPECT_EQ(split("llama3", "HE'LL go\n\n"), (Words{"HE", "'LL", " go", "\n\n"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "12 ab!"), (Words{"1", "2", " ab", "!"}));
}

TEST(PreTokenizer, StarcoderIsolatesDigitsFirst) {
  EXPECT_EQ(split("starcoder", "x12 y"), (Words{"x", "1", "2", " y"}));
}

TEST(PreTokenizer, DeepseekCoderAppliesRegexesInSequence) {
  EXPECT_EQ(split("deepseek-coder", "abc, 12\nx"), (Words{"abc", ",", " ", "1", "2", "\n", "x"}));
}

TEST(PreTokenizer, DeepseekLlm) {
  // CJK runs stay together; digits group; punctuation keeps its leading space.
  EXPECT_EQ(split("deepseek-llm", "Hi \xE4\xBD\xA0\xE5\xA5\xBD 2024!"),
            (Words{"Hi", " ", "\xE4\xBD\xA0\xE5\xA5\xBD", " ", "2024", "!"}));
}

TEST(PreTokenizer, InvalidUtf8BytesAreWordsOfTheirOwn) {
  EXPECT_EQ(split("gpt2",
                  "ab\xFF"
                  "cd"),
            (Words{"ab", "\xFF", "cd"}));
  EXPECT_EQ(split("deepseek-coder", "\xC3"), (Words{"\xC3"}));
}

TEST(PreTokenizer, WordsCoverTheText) {
  const std::string text = "  Hello,\tworld!! 3.14 \xF0\x9F\xA6\x99 caf\xC3\xA9 \xE4\xBD\xA0\r\n ";
  for (const char* pre :
       {"gpt2", "llama-bpe", "qwen2", "starcoder", "deepseek-coder", "deepseek-llm", "falcon"}) {
    std::string joined;
    for (const std::string& w : split(pre, text)) {
      EXPECT_FALSE(w.empty()) << pre;
      joined += w;
    }
    EXPECT_EQ(joined, text) << pre;
  }
}

TEST(PreTokenizer, UnknownNameIsAnError) {
  auto p = PreTokenizer::create("my-new-model");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("my-new-model"), std::string::npos);
  EXPECT_EQ(PreTokenizer::patterns_for("my-new-model"), nullptr);
}

TEST(PreTokenizer, EveryKnownNameCompiles) {
  for (const char* pre : {"default",    "gpt2",         "gpt-2",          "phi-2",
                          "mpt",        "olmo",         "jais",           "llama3",
                          "llama-v3",   "llama-bpe",    "falcon3",        "dbrx",
                          "smaug-bpe",  "chatglm-bpe",  "qwen2",          "deepseek-r1-qwen",
                          "stablelm2",  "megrez",       "starcoder",      "refact",
                          "command-r",  "smollm",       "codeshell",      "exaone",
                          "minerva-7b", "deepseek-llm", "deepseek-coder", "falcon"}) {
    auto p = PreTokenizer::create(pre);
    EXPECT_TRUE(p.ok()) << pre << ": " << p.status().message();
  }
}

}  // namespace
}  // namespace mlxs

namespace mlxs {
namespace {

TEST(PreTokenizer, LongRunsStillSplitCompletely) {
  // Long runs of one class stress the regex engine's backtracking (\s+(?!\S) gives back
  // one space at a time); nothing may be dropped.
  const std::vector<std::string> texts = {
      std::string(200000, ' ') + "a",  std::string(200000, 'x'), std::string(100000, '7'),
      std::string(100000, '\n') + "b", std::string(50000, '!'),
  };
  for (const char* pre : {"gpt2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder"}) {
    auto p = PreTokenizer::create(pre);
    ASSERT_TRUE(p.ok());
    for (const std::string& text : texts) {
      size_t total = 0;
      for (std::string_view w : p.value()->split(text)) total += w.size();
      EXPECT_EQ(total, text.size()) << pre;
    }
  }
}

}  // namespace
}  // namespace mlxs
