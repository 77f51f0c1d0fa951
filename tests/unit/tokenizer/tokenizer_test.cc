#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "tiny_vocabs.h"

namespace mlxs {
namespace {

using testing::GgufBuilder;
using testing::TinyBpe;
using testing::TinySpm;
using Ids = std::vector<TokenId>;

std::unique_ptr<Tokenizer> load(GgufBuilder& b) {
  auto f = b.parse();
  EXPECT_TRUE(f.ok()) << f.status().message();
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::from_gguf(*f.value());
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(t.value()) : nullptr;
}

TEST(SpmTokenizer, MergesByScoreWithPrefixSpace) {
  GgufBuilder b = TinySpm().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model_kind(), "llama");
  EXPECT_TRUE(t->adds_space_prefix());
  EXPECT_EQ(t->encode("hello", false, false), (Ids{TinySpm::kSpHello}));
  EXPECT_EQ(t->encode("hello hello", false, false), (Ids{TinySpm::kSpHello, TinySpm::kSpHello}));
  // "▁he" + "l" + "o": "ell"/"lo" are not tokens, so the pieces stop there.
  EXPECT_EQ(t->encode("helo", false, false), (Ids{TinySpm::kSpHe, TinySpm::kL, TinySpm::kO}));
  EXPECT_EQ(t->encode("", false, false), Ids{});
}

TEST(SpmTokenizer, ByteFallbackAndRoundTrip) {
  GgufBuilder b = TinySpm().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  const Ids euro = {TinySpm::kSpace, TinySpm::kByte0 + 0xE2, TinySpm::kByte0 + 0x82,
                    TinySpm::kByte0 + 0xAC};
  EXPECT_EQ(t->encode("\xE2\x82\xAC", false, false), euro);  // "€"
  EXPECT_EQ(t->decode(euro), "\xE2\x82\xAC");
  EXPECT_EQ(t->token_to_piece(TinySpm::kByte0 + 0x41), "A");
  EXPECT_EQ(t->token_to_piece(TinySpm::kSpHello), " hello");
  for (const char* s : {"hello world", " hello", "  two  spaces  ", "tab\there\n", "x\xC3\xA9y"}) {
    EXPECT_EQ(t->decode(t->encode(s, true, false)), s) << s;
  }
}

TEST(SpmTokenizer, AddSpecialFollowsMetadata) {
  {
    GgufBuilder b = TinySpm().builder();
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->add_bos());  // llama default
    EXPECT_FALSE(t->add_eos());
    EXPECT_EQ(t->encode("hello", true, false), (Ids{1, TinySpm::kSpHello}));
    EXPECT_EQ(t->encode("", true, false), (Ids{1}));
  }
  {
    GgufBuilder b = TinySpm().builder();
    b.boolean("tokenizer.ggml.add_bos_token", false).boolean("tokenizer.ggml.add_eos_token", true);
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->encode("hello", true, false), (Ids{TinySpm::kSpHello, 2}));
    EXPECT_EQ(t->encode("hello", false, false), (Ids{TinySpm::kSpHello}));
  }
}

TEST(SpmTokenizer, NoSpacePrefixWhenMetadataSaysSo) {
  GgufBuilder b = TinySpm().builder();
  b.boolean("tokenizer.ggml.add_space_prefix", false);
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->adds_space_prefix());
  EXPECT_EQ(t->encode("hello", false, false), (Ids{TinySpm::kH, TinySpm::kE, TinySpm::kLLO}));
  EXPECT_EQ(t->encode(" hello", false, false), (Ids{TinySpm::kSpHello}));
  EXPECT_EQ(t->decode({TinySpm::kSpHello}), " hello");  // nothing to strip
}

TEST(SpmTokenizer, ParseSpecial) {
  GgufBuilder b = TinySpm().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("hello<|im_end|>", false, true), (Ids{TinySpm::kSpHello, TinySpm::kImEnd}));
  // After a special token SPM starts a new piece of text with its prefix space.
  EXPECT_EQ(t->encode("<|im_end|>hello", false, true), (Ids{TinySpm::kImEnd, TinySpm::kSpHello}));
  EXPECT_EQ(t->encode("<s>hello", true, true), (Ids{1, 1, TinySpm::kSpHello}));
  // Without parse_special the control text is plain text (here: byte fallback).
  const Ids plain = t->encode("hello<|im_end|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), TinySpm::kImEnd), 0);
  EXPECT_EQ(t->decode(plain), "hello<|im_end|>");
  // User-defined tokens are matched either way.
  EXPECT_EQ(t->encode("<tool>", false, false), (Ids{TinySpm::kTool}));
  EXPECT_EQ(t->encode("<tool>", false, true), (Ids{TinySpm::kTool}));
}

TEST(SpmTokenizer, SpecialPiecesAndEog) {
  GgufBuilder b = TinySpm().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_EQ(t->unk_id(), 0);
  EXPECT_EQ(t->token_to_piece(2), "");
  EXPECT_EQ(t->token_to_piece(2, true), "</s>");
  EXPECT_EQ(t->decode({1, TinySpm::kSpHello, 2}), "hello");
  EXPECT_EQ(t->decode({1, TinySpm::kSpHello, 2}, true), "<s> hello</s>");
  EXPECT_TRUE(t->is_eog(2));
  EXPECT_TRUE(t->is_eog(TinySpm::kImEnd));  // control token spelled like an end marker
  EXPECT_FALSE(t->is_eog(1));
  EXPECT_FALSE(t->is_eog(TinySpm::kSpHello));
  EXPECT_TRUE(t->is_control(1));
  EXPECT_FALSE(t->is_control(TinySpm::kTool));
  EXPECT_EQ(t->token_to_piece(-1), "");
  EXPECT_EQ(t->token_to_piece(t->n_vocab()), "");
}

TEST(SpmTokenizer, EotAndEomAreEndOfGeneration) {
  GgufBuilder b = TinySpm().builder();
  b.u32("tokenizer.ggml.eot_token_id", TinySpm::kTool).u32("tokenizer.ggml.eom_token_id", 0);
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->is_eog(TinySpm::kTool));
  EXPECT_TRUE(t->is_eog(0));
  EXPECT_EQ(t->eot_id(), TinySpm::kTool);
}

TEST(BpeTokenizer, MergesByRank) {
  GgufBuilder b = TinyBpe().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model_kind(), "gpt2");
  EXPECT_EQ(t->pre_tokenizer(), "gpt2");
  EXPECT_FALSE(t->adds_space_prefix());
  EXPECT_EQ(t->encode("hello hello", false, false), (Ids{TinyBpe::kHello, TinyBpe::kGHello}));
  EXPECT_EQ(t->encode("hell", false, false), (Ids{TinyBpe::kHell}));
  EXPECT_EQ(t->encode("ohe", false, false), (Ids{TinyBpe::kO, TinyBpe::kHe}));
  EXPECT_EQ(t->decode({TinyBpe::kHello, TinyBpe::kGHello}), "hello hello");
  EXPECT_EQ(t->token_to_piece(TinyBpe::kGHello), " hello");
}

TEST(BpeTokenizer, InvalidUtf8SurvivesAsBytes) {
  GgufBuilder b = TinyBpe().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  const Ids ids = t->encode("hello\xFF", false, false);
  EXPECT_EQ(ids, (Ids{TinyBpe::kHello, TinyBpe::kY}));
  EXPECT_EQ(t->decode(ids), "hello\xFF");
}

TEST(BpeTokenizer, AddSpecialAndParseSpecial) {
  {
    GgufBuilder b = TinyBpe().builder();
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->add_bos());  // gpt2 default
    EXPECT_EQ(t->encode("hello", true, false), (Ids{TinyBpe::kHello}));
    EXPECT_EQ(t->encode("hello<|im_end|> hello", false, true),
              (Ids{TinyBpe::kHello, TinyBpe::kImEnd, TinyBpe::kGHello}));
    EXPECT_TRUE(t->is_eog(TinyBpe::kImEnd));
    EXPECT_TRUE(t->is_eog(TinyBpe::kEndOfText));
    EXPECT_EQ(t->decode({TinyBpe::kHello, TinyBpe::kImEnd}), "hello");
    EXPECT_EQ(t->decode({TinyBpe::kHello, TinyBpe::kImEnd}, true), "hello<|im_end|>");
  }
  {
    GgufBuilder b = TinyBpe().builder();
    b.boolean("tokenizer.ggml.add_bos_token", true);
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->encode("hello", true, false), (Ids{TinyBpe::kEndOfText, TinyBpe::kHello}));
  }
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWordsForLlama3) {
  // "hlo" is a token but no merge builds it: only Llama 3's ignore_merges finds it.
  TinyBpe v;
  v.tokens.push_back("hlo");
  v.types.push_back(1);
  {
    GgufBuilder b = v.builder("llama-bpe");
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->encode("hlo", false, false), (Ids{13}));
  }
  {
    GgufBuilder b = v.builder("gpt2");
    auto t = load(b);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->encode("hlo", false, false), (Ids{TinyBpe::kH, TinyBpe::kL, TinyBpe::kO}));
  }
}

}  // namespace
}  // namespace mlxs
