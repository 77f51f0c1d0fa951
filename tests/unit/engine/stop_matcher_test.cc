#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mlxs {
namespace {

// Feeds pieces one by one and returns everything released, including flush() when no stop
// fired, so tests can state the whole visible output.
struct Fed {
  std::string text;
  bool stopped = false;
};
Fed feed(StopMatcher& m, const std::vector<std::string>& pieces) {
  Fed f;
  for (const std::string& p : pieces) {
    StopMatcher::Output o = m.push(p);
    f.text += o.text;
    if (o.stopped) {
      f.stopped = true;
      return f;
    }
  }
  f.text += m.flush();
  f.stopped = m.stopped();
  return f;
}

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("hello").text, "hello");
  EXPECT_EQ(m.push(" world").text, " world");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EmptyStopStringsIgnored) {
  StopMatcher m({"", ""});
  auto o = m.push("abc");
  EXPECT_EQ(o.text, "abc");
  EXPECT_FALSE(o.stopped);
}

TEST(StopMatcher, StopInsideOnePushDropsStopAndRest) {
  StopMatcher m({"STOP"});
  auto o = m.push("ab STOP cd");
  EXPECT_EQ(o.text, "ab ");
  EXPECT_TRUE(o.stopped);
  // Later input is ignored.
  o = m.push("more");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, SplitAcrossPushes) {
  StopMatcher m({"</s>"});
  auto o = m.push("Hello <");
  EXPECT_EQ(o.text, "Hello ");
  EXPECT_FALSE(o.stopped);
  o = m.push("/");
  EXPECT_EQ(o.text, "");
  EXPECT_FALSE(o.stopped);
  o = m.push("s");
  EXPECT_EQ(o.text, "");
  o = m.push(">tail");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);
}

TEST(StopMatcher, PartialMatchThatDivergesIsReleasedInOrder) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.push("a<").text, "a");
  EXPECT_EQ(m.push("/").text, "");
  auto o = m.push("x>b");
  EXPECT_EQ(o.text, "</x>b");
  EXPECT_FALSE(o.stopped);
}

TEST(StopMatcher, DivergenceKeepsLaterPossibleStart) {
  // "aab": after "aa" then "a", the first 'a' is safe but "aa" may still begin the stop.
  StopMatcher m({"aab"});
  EXPECT_EQ(m.push("aa").text, "");
  EXPECT_EQ(m.push("a").text, "a");
  auto o = m.push("b");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);
}

TEST(StopMatcher, ReleasesHeldPrefixWhenNewPrefixStarts) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.push("xab").text, "x");
  EXPECT_EQ(m.push("ab").text, "ab");  // "abab": only the trailing "ab" may still match
  auto o = m.push("d");
  EXPECT_EQ(o.text, "abd");
  EXPECT_FALSE(o.stopped);
}

TEST(StopMatcher, StopAtVeryStart) {
  StopMatcher m({"<|end|>"});
  auto o = m.push("<|end|>after");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);

  StopMatcher split({"<|end|>"});
  EXPECT_EQ(split.push("<|").text, "");
  o = split.push("end|>");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);
}

TEST(StopMatcher, OverlappingStopsEarliestWinsInOnePush) {
  StopMatcher m({"bc", "abcd"});
  auto o = m.push("xabcd");
  EXPECT_EQ(o.text, "x");
  EXPECT_TRUE(o.stopped);

  StopMatcher later({"cd", "abc"});
  o = later.push("xabcd");
  EXPECT_EQ(o.text, "x");  // "abc" starts before "cd"
  EXPECT_TRUE(o.stopped);
}

TEST(StopMatcher, OverlappingStopsEarliestWinsAcrossPushes) {
  // "bc" completes while "abcd", which starts earlier, may still complete: wait.
  {
    StopMatcher m({"abcd", "bc"});
    auto o = m.push("xabc");
    EXPECT_EQ(o.text, "x");
    EXPECT_FALSE(o.stopped);
    o = m.push("d");
    EXPECT_EQ(o.text, "");
    EXPECT_TRUE(o.stopped);
  }
  {
    StopMatcher m({"abcd", "bc"});
    EXPECT_EQ(m.push("xabc").text, "x");
    auto o = m.push("e");
    EXPECT_EQ(o.text, "a");  // "abcd" failed, so the earliest match is "bc"
    EXPECT_TRUE(o.stopped);
  }
  {
    // Generation ends while undecided: flush cuts before the completed stop.
    StopMatcher m({"abcd", "bc"});
    EXPECT_EQ(m.push("xabc").text, "x");
    EXPECT_EQ(m.flush(), "a");
    EXPECT_TRUE(m.stopped());
  }
  {
    // Same-start overlap ("ab" complete, "abc" pending): nothing earlier can win.
    StopMatcher m({"abc", "ab"});
    auto o = m.push("xab");
    EXPECT_EQ(o.text, "x");
    EXPECT_TRUE(o.stopped);
  }
}

TEST(StopMatcher, FlushReleasesHeldText) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.push("abc</").text, "abc");
  EXPECT_EQ(m.flush(), "</");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, MultiByteUtf8Stop) {
  const std::string stop = "\xE3\x80\x82";  // U+3002 IDEOGRAPHIC FULL STOP
  {
    StopMatcher m({stop});
    // Split inside the 3-byte sequence.
    EXPECT_EQ(m.push("\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80").text, "\xE4\xBD\xA0\xE5\xA5\xBD");
    auto o = m.push("\x82\xE5\x90\x8E");
    EXPECT_EQ(o.text, "");
    EXPECT_TRUE(o.stopped);
  }
  {
    StopMatcher m({stop});
    EXPECT_EQ(m.push("\xE3").text, "");
    EXPECT_EQ(m.push("\x80").text, "");
    auto o = m.push("\x81x");  // U+3001, shares the first two bytes
    EXPECT_EQ(o.text, "\xE3\x80\x81x");
    EXPECT_FALSE(o.stopped);
  }
  {
    // Multi-character stop "你好" split between characters, after a near miss "你们".
    StopMatcher m({"\xE4\xBD\xA0\xE5\xA5\xBD"});
    EXPECT_EQ(m.push("\xE4\xBD\xA0").text, "");
    EXPECT_EQ(m.push("\xE4\xBB\xAC").text, "\xE4\xBD\xA0\xE4\xBB\xAC");
    EXPECT_EQ(m.push("\xE4\xBD\xA0").text, "");
    auto o = m.push("\xE5\xA5\xBD!");
    EXPECT_EQ(o.text, "");
    EXPECT_TRUE(o.stopped);
  }
}

// Whatever the split, the visible output is the text before the earliest stop occurrence in
// the whole text (or all of it), released in order.
TEST(StopMatcher, OutputIndependentOfSplits) {
  const std::vector<std::string> stops = {"abc", "bca", "cc", "aab", "abab"};
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    const int len = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < len; ++i) text += static_cast<char>('a' + rng() % 3);
    size_t first = std::string::npos;
    for (const std::string& s : stops) first = std::min(first, text.find(s));
    const std::string expected = text.substr(0, first);

    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t n = 1 + rng() % 4;
      pieces.push_back(text.substr(i, n));
      i += n;
    }
    StopMatcher m(stops);
    Fed f = feed(m, pieces);
    EXPECT_EQ(f.text, expected) << "text=" << text;
    EXPECT_EQ(f.stopped, first != std::string::npos) << "text=" << text;
  }
}

}  // namespace
}  // namespace mlxs
