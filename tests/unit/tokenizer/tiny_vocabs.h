// Two hand-made vocabularies small enough to reason about: an SPM one with byte fallback
// and a byte-level BPE one. Each returns the builder so tests can add or override keys.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "gguf_builder.h"

namespace mlxs::testing {

// SPM ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below.
struct TinySpm {
  static constexpr int kByte0 = 3;
  static constexpr int kSpace = 259;    // "▁"
  static constexpr int kH = 260;        // "h"
  static constexpr int kE = 261;        // "e"
  static constexpr int kL = 262;        // "l"
  static constexpr int kO = 263;        // "o"
  static constexpr int kSpH = 264;      // "▁h"
  static constexpr int kSpHe = 265;     // "▁he"
  static constexpr int kLL = 266;       // "ll"
  static constexpr int kLLO = 267;      // "llo"
  static constexpr int kSpHello = 268;  // "▁hello"
  static constexpr int kImEnd = 269;    // "<|im_end|>" (control)
  static constexpr int kTool = 270;     // "<tool>" (user-defined)

  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;

  TinySpm() {
    add("<unk>", 0, 2);
    add("<s>", 0, 3);
    add("</s>", 0, 3);
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      add(buf, 0, 6);
    }
    add("\xE2\x96\x81", -10, 1);
    add("h", -10, 1);
    add("e", -10, 1);
    add("l", -10, 1);
    add("o", -10, 1);
    add("\xE2\x96\x81h", -5, 1);
    add("\xE2\x96\x81he", -4, 1);
    add("ll", -3, 1);
    add("llo", -2, 1);
    add("\xE2\x96\x81hello", -1, 1);
    add("<|im_end|>", 0, 3);
    add("<tool>", 0, 4);
  }
  void add(const std::string& t, float s, int32_t type) {
    tokens.push_back(t);
    scores.push_back(s);
    types.push_back(type);
  }
  GgufBuilder builder() const {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", tokens)
        .floats("tokenizer.ggml.scores", scores)
        .ints("tokenizer.ggml.token_type", types)
        .u32("tokenizer.ggml.bos_token_id", 1)
        .u32("tokenizer.ggml.eos_token_id", 2)
        .u32("tokenizer.ggml.unknown_token_id", 0);
    return b;
  }
};

// Byte-level BPE: single characters first, then merge results, then added tokens.
struct TinyBpe {
  static constexpr int kH = 0, kE = 1, kL = 2, kO = 3, kG = 4 /* "Ġ" (space) */, kY = 5;
  static constexpr int kHe = 6, kLL = 7, kHell = 8, kHello = 9, kGHello = 10;
  static constexpr int kEndOfText = 11;  // control
  static constexpr int kImEnd = 12;      // control

  std::vector<std::string> tokens = {
      "h",         "e",  "l",    "o",     "\xC4\xA0",      "\xC3\xBF" /* "ÿ" = byte 0xFF */,
      "he",        "ll", "hell", "hello", "\xC4\xA0hello", "<|endoftext|>",
      "<|im_end|>"};
  std::vector<int32_t> types = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3};
  std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 hello"};

  GgufBuilder builder(const std::string& pre = "gpt2") const {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", pre)
        .strings("tokenizer.ggml.tokens", tokens)
        .ints("tokenizer.ggml.token_type", types)
        .strings("tokenizer.ggml.merges", merges)
        .u32("tokenizer.ggml.bos_token_id", kEndOfText)
        .u32("tokenizer.ggml.eos_token_id", kEndOfText);
    return b;
  }
};

}  // namespace mlxs::testing
