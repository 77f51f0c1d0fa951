#include <gtest/gtest.h>

#include "tiny_vocabs.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mlxs {
namespace {

using testing::GgufBuilder;
using testing::TinyBpe;
using testing::TinySpm;

constexpr int kByte0 = TinySpm::kByte0;

std::unique_ptr<Tokenizer> load(GgufBuilder b) {
  auto f = b.parse();
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::from_gguf(*f.value());
  return t.ok() ? std::move(t.value()) : nullptr;
}

// The tiny SPM vocabulary, loaded (the tokenizer keeps no reference to the GGUF bytes).
struct Spm {
  GgufBuilder b = TinySpm().builder();
  std::unique_ptr<Tokenizer> t = load(b);
};

TEST(StreamingDetokenizer, DropsSpmPrefixSpaceOnce) {
  Spm s;
  ASSERT_TRUE(s.t);
  StreamingDetokenizer d(*s.t);
  EXPECT_EQ(d.push(TinySpm::kSpHello), "hello");
  EXPECT_EQ(d.push(TinySpm::kSpHello), " hello");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamingDetokenizer, KeepsSpaceWhenAsked) {
  Spm s;
  ASSERT_TRUE(s.t);
  StreamingDetokenizer d(*s.t, /*skip_leading_space=*/false);
  EXPECT_EQ(d.push(TinySpm::kSpHello), " hello");
}

TEST(StreamingDetokenizer, BosDoesNotUseUpTheFirstPiece) {
  Spm s;
  ASSERT_TRUE(s.t);
  StreamingDetokenizer d(*s.t);
  EXPECT_EQ(d.push(1), "");  // BOS renders as nothing
  EXPECT_EQ(d.push(TinySpm::kSpHello), "hello");
}

TEST(StreamingDetokenizer, HoldsSplitMultiByteCharacters) {
  Spm s;
  ASSERT_TRUE(s.t);
  StreamingDetokenizer d(*s.t);
  EXPECT_EQ(d.push(TinySpm::kSpHello), "hello");
  EXPECT_EQ(d.push(TinySpm::kSpace), " ");
  EXPECT_EQ(d.push(kByte0 + 0xF0), "");  // U+1F999 🦙 in four byte tokens
  EXPECT_EQ(d.push(kByte0 + 0x9F), "");
  EXPECT_EQ(d.push(kByte0 + 0xA6), "");
  EXPECT_EQ(d.push(kByte0 + 0x99), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(d.push(kByte0 + 0xC3), "");  // é
  EXPECT_EQ(d.push(kByte0 + 0xA9), "\xC3\xA9");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamingDetokenizer, StreamMatchesDecode) {
  Spm s;
  ASSERT_TRUE(s.t);
  const std::string text = "hello \xE2\x82\xAC hello \xF0\x9F\xA6\x99";
  const std::vector<TokenId> ids = s.t->encode(text, true, false);
  StreamingDetokenizer d(*s.t);
  std::string streamed;
  for (TokenId id : ids) {
    const std::string part = d.push(id);
    EXPECT_TRUE(utf8::is_valid(part)) << "chunk after token " << id;
    streamed += part;
  }
  streamed += d.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(streamed, s.t->decode(ids));
}

TEST(StreamingDetokenizer, InvalidBytesBecomeReplacementCharacters) {
  Spm s;
  ASSERT_TRUE(s.t);
  {
    StreamingDetokenizer d(*s.t);
    EXPECT_EQ(d.push(kByte0 + 0xFF), "\xEF\xBF\xBD");  // can never start a character
  }
  {
    StreamingDetokenizer d(*s.t);
    EXPECT_EQ(d.push(kByte0 + 0xE2), "");
    // The held lead byte is followed by text, so it can no longer complete.
    EXPECT_EQ(d.push(TinySpm::kSpHello), "\xEF\xBF\xBD hello");
  }
  {
    StreamingDetokenizer d(*s.t);
    EXPECT_EQ(d.push(kByte0 + 0xE2), "");
    EXPECT_EQ(d.push(kByte0 + 0x82), "");
    EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");  // truncated at the end of the stream
    EXPECT_EQ(d.flush(), "");
  }
}

TEST(StreamingDetokenizer, BpeHasNoPrefixSpaceToDrop) {
  GgufBuilder b = TinyBpe().builder();
  auto t = load(b);
  ASSERT_TRUE(t);
  StreamingDetokenizer d(*t);
  EXPECT_EQ(d.push(TinyBpe::kGHello), " hello");
  EXPECT_EQ(d.push(TinyBpe::kImEnd), "");  // control tokens are not rendered
}

}  // namespace
}  // namespace mlxs
