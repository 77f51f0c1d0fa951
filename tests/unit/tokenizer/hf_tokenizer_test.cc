// Tokenizer::from_hf_files on small hand-written tokenizer.json files: each component the
// loader supports, and the errors for what it does not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "tokenizer/tokenizer.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Ids = std::vector<TokenId>;

const std::string kSp = "\xE2\x96\x81";  // ▁

// A model folder in the temp directory, removed when the test ends.
class HfFiles {
 public:
  HfFiles() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("mlxs_hf_unit_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  ~HfFiles() { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  Result<std::unique_ptr<Tokenizer>> load(const Json& tokenizer, const Json* config = nullptr) const {
    const std::string t = write("tokenizer.json", tokenizer.dump());
    const std::string c = config ? write("tokenizer_config.json", config->dump()) : "";
    return Tokenizer::from_hf_files(t, c);
  }

 private:
  fs::path dir_;
};

Json bpe(const std::vector<std::string>& vocab, Json merges) {
  Json v = Json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  return {{"type", "BPE"}, {"vocab", v}, {"merges", std::move(merges)}};
}

Json added(int id, const std::string& content, bool special, bool lstrip = false,
           bool rstrip = false) {
  return {{"id", id}, {"content", content}, {"special", special}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"single_word", false}, {"normalized", !special}};
}

// --- Llama 3 style: Split(regex, Isolated) + ByteLevel(use_regex false), ignore_merges ---

const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Json llama3(bool ignore_merges) {
  Json model = bpe({"H", "e", "l", "o", "Ġ", "w", "r", "d", "1", "2", "3", "4", "5", "He", "ll",
                    "llo", "Hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "12", "123", "45", "!"},
                   {"H e", "l l", "ll o", "He llo", "Ġ w", "o r", "Ġw or", "l d", "1 2", "12 3",
                    "4 5"});
  model["ignore_merges"] = ignore_merges;
  const Json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  const Json seq = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  return {
      {"added_tokens", {added(26, "<|begin_of_text|>", true), added(27, "<|eot_id|>", true)}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Regex}}}, {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
           {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}, {"trim_offsets", false}},
          {{"type", "TemplateProcessing"},
           {"single", {bos, seq}},
           {"special_tokens",
            {{"<|begin_of_text|>",
              {{"id", "<|begin_of_text|>"}, {"ids", {26}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", model}};
}

TEST(HfTokenizer, Llama3SplitByteLevelIgnoreMerges) {
  HfFiles files;
  auto t = files.load(llama3(true));
  ASSERT_TRUE(t.ok()) << t.status().message();
  // "Hello", " world", " ", "123", "45", "!": a word that is a token is taken whole even
  // though no merge leads to it (Ġworld).
  EXPECT_EQ(t.value()->encode("Hello world 12345!", false, false), (Ids{16, 21, 4, 23, 24, 25}));
  EXPECT_EQ(t.value()->encode("Hello", true, false), (Ids{26, 16}));
  EXPECT_EQ(t.value()->encode("<|eot_id|>Hello", false, true), (Ids{27, 16}));
  EXPECT_EQ(t.value()->decode({16, 21, 4, 23}), "Hello world 123");
  EXPECT_EQ(t.value()->bos_id(), 26);
  EXPECT_TRUE(t.value()->add_bos());
  EXPECT_TRUE(t.value()->is_eog(27));
  EXPECT_TRUE(t.value()->is_control(26));
  EXPECT_EQ(t.value()->model_kind(), "gpt2");
}

TEST(HfTokenizer, Llama3WithoutIgnoreMerges) {
  HfFiles files;
  auto t = files.load(llama3(false));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("Hello world 12345!", false, false),
            (Ids{16, 19, 20, 4, 23, 24, 25}));
}

TEST(HfTokenizer, SpecialTextIsPlainTextUnlessParsed) {
  HfFiles files;
  auto t = files.load(llama3(true));
  ASSERT_TRUE(t.ok()) << t.status().message();
  const Ids ids = t.value()->encode("<|eot_id|>", false, false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 27), 0);
}

TEST(HfTokenizer, ConfigOverridesPostProcessor) {
  HfFiles files;
  Json tok = llama3(true);
  tok["added_tokens"].push_back(added(28, "<|end_of_text|>", true));
  const Json config = {{"add_bos_token", false},
                       {"add_eos_token", true},
                       {"bos_token", "<|begin_of_text|>"},
                       {"eos_token", {{"content", "<|end_of_text|>"}, {"__type", "AddedToken"}}}};
  auto t = files.load(tok, &config);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("Hello", true, false), (Ids{16, 28}));
  EXPECT_FALSE(t.value()->add_bos());
  EXPECT_TRUE(t.value()->add_eos());
  EXPECT_EQ(t.value()->eos_id(), 28);
  EXPECT_TRUE(t.value()->is_eog(28));
}

// --- SentencePiece-like BPE behind Metaspace, with byte fallback ---

Json metaspace(const std::string& scheme, bool byte_fallback) {
  Json model = bpe({"<unk>", "<s>", "</s>", kSp, "H", "e", "l", "o", "w", "r", "d", kSp + "H",
                    kSp + "He", "ll", kSp + "Hell", kSp + "Hello", kSp + "w", "or", kSp + "wor",
                    "ld", kSp + "world", "<0x21>"},
                   {kSp + " H", kSp + "H e", "l l", kSp + "He ll", kSp + "Hell o", kSp + " w",
                    "o r", kSp + "w or", "l d", kSp + "wor ld"});
  model["byte_fallback"] = byte_fallback;
  model["fuse_unk"] = true;
  model["unk_token"] = "<unk>";
  return {{"added_tokens",
           {added(0, "<unk>", true), added(1, "<s>", true), added(2, "</s>", true),
            added(22, "<mask>", true, /*lstrip=*/true)}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", scheme}, {"split", true}}},
          {"decoder", {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", scheme}}},
          {"model", model}};
}

TEST(HfTokenizer, MetaspaceAlways) {
  HfFiles files;
  auto t = files.load(metaspace("always", true));
  ASSERT_TRUE(t.ok()) << t.status().message();
  // "▁Hello", "▁world!" (split before each ▁); "!" is only a byte token.
  EXPECT_EQ(t.value()->encode("Hello world!", false, false), (Ids{15, 20, 21}));
  EXPECT_EQ(t.value()->encode("<s>Hello", false, true), (Ids{1, 15}));
  EXPECT_EQ(t.value()->decode({15, 20, 21}), "Hello world!");
  EXPECT_TRUE(t.value()->adds_space_prefix());
  EXPECT_EQ(t.value()->model_kind(), "llama");
}

TEST(HfTokenizer, MetaspacePrependFirstOnlyAtStart) {
  HfFiles files;
  auto t = files.load(metaspace("first", true));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("Hello", false, false), (Ids{15}));
  // After a special token the text is not at the start: no "▁".
  EXPECT_EQ(t.value()->encode("<s>Hello", false, true), (Ids{1, 4, 5, 13, 7}));
}

TEST(HfTokenizer, UnknownCharactersFuseWithoutByteFallback) {
  HfFiles files;
  auto t = files.load(metaspace("always", false));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("Hello \xE2\x82\xAC\xE2\x82\xAC world", false, false),
            (Ids{15, 3, 0, 20}));
}

TEST(HfTokenizer, LstripAddedTokenSwallowsSpaceBefore) {
  HfFiles files;
  auto t = files.load(metaspace("always", true));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("Hello <mask>", false, true), (Ids{15, 22}));
  // Without special parsing "<mask>" is text (its characters are not in the vocabulary
  // and byte fallback has only "!"), and the space stays.
  Json tok = metaspace("always", true);
  tok["added_tokens"][3]["lstrip"] = false;
  HfFiles files2;
  auto t2 = files2.load(tok);
  ASSERT_TRUE(t2.ok()) << t2.status().message();
  EXPECT_EQ(t2.value()->encode("Hello <mask>", false, true), (Ids{15, 3, 22}));
}

// --- Llama 2 / TinyLlama: normalizer Prepend + Replace, no pre-tokenizer ---

TEST(HfTokenizer, LegacyLlamaNormalizer) {
  HfFiles files;
  Json tok = metaspace("always", true);
  tok["pre_tokenizer"] = nullptr;
  tok["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Prepend"}, {"prepend", kSp}},
                         {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSp}}}}};
  tok["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", kSp}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  auto t = files.load(tok);
  ASSERT_TRUE(t.ok()) << t.status().message();
  // No split at "▁": the whole fragment is one word, merged across the space.
  EXPECT_EQ(t.value()->encode("Hello world!", false, false), (Ids{15, 20, 21}));
  // The normalizer runs on each piece between added tokens: "▁" after "<s>" too.
  EXPECT_EQ(t.value()->encode("<s>Hello", false, true), (Ids{1, 15}));
  EXPECT_EQ(t.value()->decode({15, 20, 21}), "Hello world!");
}

// --- Normalizers ---

Json chars_model(const std::vector<std::string>& vocab) {
  return {{"model", bpe(vocab, Json::array())}};
}

TEST(HfTokenizer, NfcAndLowercase) {
  HfFiles files;
  Json tok = chars_model({"\xC3\xA9", "e", "\xCC\x81", "h", "H"});  // é, e, U+0301
  tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}};
  auto t = files.load(tok);
  if (!t.ok() && t.status().message().find("ICU") != std::string::npos)
    GTEST_SKIP() << t.status().message();
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("He\xCC\x81", false, false), (Ids{3, 0}));
  EXPECT_EQ(t.value()->encode("H\xC3\x89", false, false), (Ids{3, 0}));  // HÉ

  tok["normalizer"] = nullptr;
  HfFiles files2;
  auto raw = files2.load(tok);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(raw.value()->encode("He\xCC\x81", false, false), (Ids{4, 1, 2}));
}

TEST(HfTokenizer, NfkcAndRegexReplace) {
  HfFiles files;
  Json tok = chars_model({"f", "i", " "});
  tok["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "NFKC"}},
                         {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}}}};
  auto t = files.load(tok);
  if (!t.ok() && t.status().message().find("ICU") != std::string::npos)
    GTEST_SKIP() << t.status().message();
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("\xEF\xAC\x81   i", false, false), (Ids{0, 1, 2, 1}));  // "ﬁ   i"
}

// --- Split behaviors and Digits: pieces show as whole-word tokens (ignore_merges) ---

Ids split_ids(const std::string& behavior, bool invert, const std::string& text) {
  HfFiles files;
  Json tok = chars_model({"a", "b", "c", "-", "a-", "b-", "-b", "-c", "--", "ab", "1", "2", "12"});
  tok["model"]["ignore_merges"] = true;
  tok["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "-"}}},
                          {"behavior", behavior}, {"invert", invert}};
  auto t = files.load(tok);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? t.value()->encode(text, false, false) : Ids{};
}

TEST(HfTokenizer, SplitBehaviors) {
  EXPECT_EQ(split_ids("Removed", false, "a-b-c"), (Ids{0, 1, 2}));
  EXPECT_EQ(split_ids("Isolated", false, "a-b-c"), (Ids{0, 3, 1, 3, 2}));
  EXPECT_EQ(split_ids("MergedWithPrevious", false, "a-b-c"), (Ids{4, 5, 2}));
  EXPECT_EQ(split_ids("MergedWithNext", false, "a-b-c"), (Ids{0, 6, 7}));
  EXPECT_EQ(split_ids("Contiguous", false, "a--b"), (Ids{0, 8, 1}));
  // Inverted: the matches are the kept pieces, everything else is the delimiter.
  EXPECT_EQ(split_ids("Removed", true, "ab-"), (Ids{3}));
}

TEST(HfTokenizer, Digits) {
  for (bool individual : {true, false}) {
    HfFiles files;
    Json tok = chars_model({"a", "1", "2", "12", "a1"});
    tok["model"]["ignore_merges"] = true;
    tok["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", individual}};
    auto t = files.load(tok);
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t.value()->encode("a12", false, false), individual ? (Ids{0, 1, 2}) : (Ids{0, 3}));
  }
}

TEST(HfTokenizer, ByteLevelWithRegexAndPrefixSpace) {
  HfFiles files;
  Json tok = chars_model({"Ġ", "a", "b", "Ġa", "Ġb"});
  tok["model"]["ignore_merges"] = true;
  tok["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  tok["decoder"] = {{"type", "ByteLevel"}};
  auto t = files.load(tok);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("a b", false, false), (Ids{3, 4}));
  EXPECT_EQ(t.value()->decode({3, 4}), " a b");
}

// --- Merges in both forms ---

TEST(HfTokenizer, MergeForms) {
  const std::vector<std::string> vocab = {"a", "b", "c", "ab", "abc", " ", "a "};
  Ids results[2];
  for (int form = 0; form < 2; ++form) {
    HfFiles files;
    // (Json::array: a braced list of string pairs would become an object.)
    Json merges = form == 0 ? Json::array({"a b", "ab c"})
                            : Json::array({Json::array({"a", "b"}), Json::array({"ab", "c"})});
    auto t = files.load(Json{{"model", bpe(vocab, merges)}});
    ASSERT_TRUE(t.ok()) << t.status().message();
    results[form] = t.value()->encode("abcab", false, false);
  }
  EXPECT_EQ(results[0], (Ids{4, 3}));
  EXPECT_EQ(results[1], results[0]);

  // Only the pair form can name a token with a space in it.
  HfFiles files;
  auto t = files.load(Json{{"model", bpe(vocab, Json::array({Json::array({"a", " "})}))}});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("a a", false, false), (Ids{6, 0}));
}

TEST(HfTokenizer, NonSpecialAddedTokensAlwaysMatch) {
  HfFiles files;
  Json tok = chars_model({"a", "b", "c"});
  tok["added_tokens"] = {added(3, "abc", false), added(4, "<x>", true)};
  auto t = files.load(tok);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value()->encode("aabcb", false, false), (Ids{0, 3, 1}));
  EXPECT_EQ(t.value()->encode("a<x>", false, true), (Ids{0, 4}));
  EXPECT_EQ(t.value()->decode({3}), "abc");
  EXPECT_EQ(t.value()->n_vocab(), 5);
}

// --- Errors name the file and the problem ---

void expect_error(const Json& tok, const std::vector<std::string>& fragments,
                  const Json* config = nullptr, const std::string& file = "tokenizer.json") {
  HfFiles files;
  auto t = files.load(tok, config);
  ASSERT_FALSE(t.ok());
  const std::string& msg = t.status().message();
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  for (const std::string& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
}

TEST(HfTokenizerErrors, MissingFile) {
  auto t = Tokenizer::from_hf_files("/nonexistent/tokenizer.json", "");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/nonexistent/tokenizer.json"), std::string::npos);
}

TEST(HfTokenizerErrors, InvalidJson) {
  HfFiles files;
  auto t = Tokenizer::from_hf_files(files.write("tokenizer.json", "{\"model\": [1, 2"), "");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokenizer.json"), std::string::npos);
  EXPECT_NE(t.status().message().find("JSON"), std::string::npos);
}

TEST(HfTokenizerErrors, MissingModel) { expect_error(Json{{"normalizer", nullptr}}, {"model"}); }

TEST(HfTokenizerErrors, UnsupportedModelTypes) {
  for (const char* type : {"WordPiece", "Unigram", "WordLevel"}) {
    Json tok = chars_model({"a"});
    tok["model"]["type"] = type;
    expect_error(tok, {"model.type", type});
  }
}

TEST(HfTokenizerErrors, UnsupportedComponents) {
  Json tok = chars_model({"a"});
  tok["normalizer"] = {{"type", "BertNormalizer"}};
  expect_error(tok, {"normalizer", "BertNormalizer"});
  tok = chars_model({"a"});
  tok["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Punctuation"}}}}};
  expect_error(tok, {"pre_tokenizer.pretokenizers[0]", "Punctuation"});
  tok = chars_model({"a"});
  tok["decoder"] = {{"type", "WordPiece"}};
  expect_error(tok, {"decoder", "WordPiece"});
  tok = chars_model({"a"});
  tok["post_processor"] = {{"type", "Mystery"}};
  expect_error(tok, {"post_processor", "Mystery"});
  tok = chars_model({"a"});
  tok["model"]["continuing_subword_prefix"] = "##";
  expect_error(tok, {"model.continuing_subword_prefix"});
}

TEST(HfTokenizerErrors, BadFields) {
  Json tok = chars_model({"a", "b", "ab"});
  tok["model"]["merges"] = {"a b", "a b c"};
  expect_error(tok, {"model.merges[1]", "a b c"});
  tok["model"]["merges"] = Json::array({Json::array({"a", "z"})});
  expect_error(tok, {"model.merges[0]", "'z'"});
  tok["model"]["merges"] = "a b";
  expect_error(tok, {"model.merges", "array"});
  tok = chars_model({"a"});
  tok["model"]["vocab"]["b"] = "one";
  expect_error(tok, {"model.vocab.b"});
  tok = chars_model({"a"});
  tok["model"]["unk_token"] = "<unk>";
  expect_error(tok, {"model.unk_token", "<unk>"});
  tok = chars_model({"a"});
  tok["model"]["byte_fallback"] = "yes";
  expect_error(tok, {"model.byte_fallback"});
  tok = chars_model({"a"});
  tok["added_tokens"] = {{{"content", "<x>"}}};
  expect_error(tok, {"added_tokens[0].id"});
  tok = chars_model({"a"});
  tok["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}, {"behavior", "Isolated"}};
  expect_error(tok, {"pre_tokenizer.pattern.Regex"});
  tok["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "a"}}}, {"behavior", "Sideways"}};
  expect_error(tok, {"pre_tokenizer.behavior", "Sideways"});
}

TEST(HfTokenizerErrors, BadConfig) {
  const Json tok = chars_model({"a"});
  const Json unknown_bos = {{"bos_token", "<s>"}};
  expect_error(tok, {"bos_token", "<s>"}, &unknown_bos, "tokenizer_config.json");
  const Json bad_flag = {{"add_bos_token", "true"}};
  expect_error(tok, {"add_bos_token"}, &bad_flag, "tokenizer_config.json");
  const Json no_bos = {{"add_bos_token", true}};
  expect_error(tok, {"add_bos_token", "bos"}, &no_bos, "tokenizer_config.json");
  HfFiles files;
  auto t = Tokenizer::from_hf_files(files.write("tokenizer.json", tok.dump()),
                                    files.write("tokenizer_config.json", "not json"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokenizer_config.json"), std::string::npos);
}

}  // namespace
}  // namespace mlxs
