// The OpenAI wire format: request validation and mapping, response and stream shapes,
// logprobs, errors, and the models / tokenize / detokenize bodies. Uses a real SPM
// tokenizer (the tiny hand-made vocabulary of the tokenizer tests) and the ChatML template.
#include "server/openai_protocol.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../tokenizer/tiny_vocabs.h"
#include "chat/chat_template.h"
#include "engine/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::server {
namespace {

using json = nlohmann::ordered_json;
using testing::TinySpm;

class OpenAiProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    builder_ = new testing::GgufBuilder(TinySpm().builder());
    auto file = builder_->parse();
    ASSERT_TRUE(file.ok()) << file.status().message();
    auto tok = Tokenizer::from_gguf(*file.value());
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    tok_ = tok.value().release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete builder_;
  }

  OpenAiProtocolTest()
      : chat_(ChatTemplateSource{ChatTemplate::chatml(), "test ChatML", false}, "<s>", "</s>") {
    info_.id = "tiny";
    info_.n_ctx = 64;
    info_.default_max_tokens = 16;
    info_.created = 1700000000;
  }

  ParsedRequest ok(const json& body, Endpoint ep = Endpoint::kCompletions) {
    auto r = parse_completion_request(body.dump(), ep, info_, chat_);
    if (auto* e = std::get_if<ApiError>(&r)) {
      ADD_FAILURE() << "rejected " << body.dump() << ": " << e->body();
      return {};
    }
    return std::get<ParsedRequest>(r);
  }
  ApiError err(const std::string& body, Endpoint ep = Endpoint::kCompletions) {
    auto r = parse_completion_request(body, ep, info_, chat_);
    if (auto* e = std::get_if<ApiError>(&r)) return *e;
    ADD_FAILURE() << "accepted " << body;
    return {};
  }
  ApiError err(const json& body, Endpoint ep = Endpoint::kCompletions) {
    return err(body.dump(), ep);
  }

  static json completion(json extra = json::object()) {
    json b = {{"model", "tiny"}, {"prompt", "hello"}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return b;
  }
  static json chat(json extra = json::object()) {
    json b = {{"model", "tiny"},
              {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return b;
  }

  static Chunk chunk(const std::string& text, TokenId token, float logprob = -0.5f,
                     FinishReason finish = FinishReason::kNone, int prompt = 3, int generated = 1) {
    Chunk c;
    c.text = text;
    c.token = token;
    c.logprob = logprob;
    c.finish = finish;
    c.stats.prompt_tokens = prompt;
    c.stats.generated_tokens = generated;
    return c;
  }

  // The JSON objects of an SSE stream, with "[DONE]" as the string "[DONE]".
  static std::vector<json> events(const std::string& sse) {
    std::vector<json> out;
    size_t pos = 0;
    while (pos < sse.size()) {
      const size_t end = sse.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "unterminated event in: " << sse;
      if (end == std::string::npos) break;
      const std::string ev = sse.substr(pos, end - pos);
      EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
      const std::string data = ev.substr(6);
      out.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
      pos = end + 2;
    }
    return out;
  }

  static testing::GgufBuilder* builder_;
  static Tokenizer* tok_;
  ChatFormatter chat_;
  ModelInfo info_;
};

testing::GgufBuilder* OpenAiProtocolTest::builder_ = nullptr;
Tokenizer* OpenAiProtocolTest::tok_ = nullptr;

// ---- errors ------------------------------------------------------------------------------

TEST_F(OpenAiProtocolTest, ApiErrorShape) {
  EXPECT_EQ(
      bad_request("bad thing", "temperature").body(),
      R"({"error":{"message":"bad thing","type":"invalid_request_error","param":"temperature","code":null}})");
  EXPECT_EQ(bad_request("x").body(),
            R"({"error":{"message":"x","type":"invalid_request_error","param":null,"code":null}})");
  EXPECT_EQ(bad_request("x", "", "c").status, 400);
}

TEST_F(OpenAiProtocolTest, RejectsBodiesThatAreNotJsonObjects) {
  for (const char* body : {"", "{", "not json", "[1,2]", "\"x\"", "42", "null"}) {
    ApiError e = err(std::string(body));
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_NE(e.message.find("JSON"), std::string::npos) << e.message;
  }
}

TEST_F(OpenAiProtocolTest, ModelMustMatchWhenGiven) {
  json b = completion();
  b.erase("model");
  EXPECT_EQ(ok(b).model, "");
  EXPECT_EQ(ok(completion({{"model", nullptr}})).model, "");
  EXPECT_EQ(ok(completion()).model, "tiny");
  for (Endpoint ep : {Endpoint::kCompletions, Endpoint::kChatCompletions}) {
    json body =
        ep == Endpoint::kCompletions ? completion({{"model", "x"}}) : chat({{"model", "x"}});
    ApiError e = err(body, ep);
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.code, "model_not_found");
    EXPECT_EQ(e.message, "The model 'x' does not exist");
    EXPECT_EQ(e.param, "model");
  }
  ApiError e = err(completion({{"model", 5}}));
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "model");
}

// ---- completions requests ------------------------------------------------------------------

TEST_F(OpenAiProtocolTest, CompletionDefaults) {
  ParsedRequest r = ok(completion());
  EXPECT_EQ(r.endpoint, Endpoint::kCompletions);
  EXPECT_EQ(r.gen.prompt, "hello");
  EXPECT_TRUE(r.gen.prompt_tokens.empty());
  EXPECT_TRUE(r.gen.add_special);
  EXPECT_TRUE(r.gen.parse_special);
  EXPECT_EQ(r.gen.max_tokens, 16);
  EXPECT_FALSE(r.max_tokens_given);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.echo);
  EXPECT_FALSE(r.logprobs);
  EXPECT_FALSE(r.gen.sampling.want_logprobs);
  EXPECT_FALSE(r.gen.ignore_eos);
  EXPECT_TRUE(r.gen.stop.empty());
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.gen.sampling.top_p, 1.0f);
  EXPECT_FALSE(r.gen.sampling.seed.has_value());
}

TEST_F(OpenAiProtocolTest, CompletionMapsEveryField) {
  ParsedRequest r = ok(completion({{"max_tokens", 7},
                                   {"temperature", 0.5},
                                   {"top_p", 0.9},
                                   {"top_k", 40},
                                   {"min_p", 0.05},
                                   {"repetition_penalty", 1.1},
                                   {"presence_penalty", -1.5},
                                   {"frequency_penalty", 2},
                                   {"seed", 1234},
                                   {"stop", json::array({"\n", "END"})},
                                   {"logprobs", 3},
                                   {"user", "u-1"},
                                   {"stream", true},
                                   {"stream_options", {{"include_usage", true}}},
                                   {"echo", true},
                                   {"ignore_eos", true},
                                   {"n", 1},
                                   {"best_of", 1},
                                   {"some_unknown_field", {{"a", 1}}}}));
  EXPECT_EQ(r.gen.max_tokens, 7);
  EXPECT_TRUE(r.max_tokens_given);
  const SamplingParams& s = r.gen.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.5f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_FLOAT_EQ(s.presence_penalty, -1.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, 2.0f);
  ASSERT_TRUE(s.seed.has_value());
  EXPECT_EQ(*s.seed, 1234u);
  EXPECT_EQ(r.gen.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_TRUE(s.want_logprobs);
  EXPECT_EQ(s.n_top_logprobs, 3);
  EXPECT_EQ(r.user, "u-1");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.echo);
  EXPECT_TRUE(r.gen.ignore_eos);
}

TEST_F(OpenAiProtocolTest, StopAsOneString) {
  EXPECT_EQ(ok(completion({{"stop", "###"}})).gen.stop, std::vector<std::string>{"###"});
  EXPECT_TRUE(ok(completion({{"stop", nullptr}})).gen.stop.empty());
}

TEST_F(OpenAiProtocolTest, CompletionLogprobsZeroMeansSampledTokenOnly) {
  ParsedRequest r = ok(completion({{"logprobs", 0}}));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  EXPECT_TRUE(r.gen.sampling.want_logprobs);
  EXPECT_FALSE(ok(completion({{"logprobs", nullptr}})).logprobs);
}

TEST_F(OpenAiProtocolTest, PromptForms) {
  EXPECT_EQ(ok(completion({{"prompt", json::array({"abc"})}})).gen.prompt, "abc");
  ParsedRequest ids = ok(completion({{"prompt", json::array({1, 260, 261})}}));
  EXPECT_EQ(ids.gen.prompt_tokens, (std::vector<TokenId>{1, 260, 261}));
  EXPECT_TRUE(ids.gen.prompt.empty());
  EXPECT_EQ(ok(completion({{"prompt", json::array({json::array({5, 6})})}})).gen.prompt_tokens,
            (std::vector<TokenId>{5, 6}));
}

TEST_F(OpenAiProtocolTest, BadPrompts) {
  json missing = completion();
  missing.erase("prompt");
  const std::vector<std::pair<json, std::string>> cases = {
      {missing, "Missing required parameter"},
      {completion({{"prompt", ""}}), "must not be empty"},
      {completion({{"prompt", json::array()}}), "must not be empty"},
      {completion({{"prompt", json::array({""})}}), "must not be empty"},
      {completion({{"prompt", json::array({"a", "b"})}}), "batched prompts are not supported"},
      {completion({{"prompt", json::array({json::array({1}), json::array({2})})}}),
       "batched prompts are not supported"},
      {completion({{"prompt", 5}}), "Invalid type for 'prompt'"},
      {completion({{"prompt", {{"a", 1}}}}), "Invalid type for 'prompt'"},
      {completion({{"prompt", json::array({1, "a"})}}), "Invalid type for 'prompt[1]'"},
      {completion({{"prompt", json::array({1, -2})}}), "Invalid value for 'prompt[1]'"},
      {completion({{"prompt", json::array({true})}}), "Invalid type for 'prompt[0]'"},
  };
  for (const auto& [body, text] : cases) {
    ApiError e = err(body);
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param.rfind("prompt", 0), 0u) << body.dump() << " param " << e.param;
    EXPECT_NE(e.message.find(text), std::string::npos) << body.dump() << ": " << e.message;
  }
}

TEST_F(OpenAiProtocolTest, WrongTypesNameTheField) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"max_tokens", "10"},
      {"max_tokens", 1.5},
      {"temperature", "hot"},
      {"temperature", true},
      {"top_p", json::array()},
      {"top_k", 1.5},
      {"min_p", "0"},
      {"repetition_penalty", "1"},
      {"presence_penalty", false},
      {"frequency_penalty", "0"},
      {"seed", "42"},
      {"seed", 0.5},
      {"stop", 5},
      {"stop", {{"a", 1}}},
      {"logprobs", true},
      {"logprobs", "3"},
      {"user", 5},
      {"stream", "true"},
      {"stream_options", "x"},
      {"echo", 1},
      {"ignore_eos", "yes"},
      {"n", "1"},
      {"best_of", "1"},
      {"logit_bias", "x"},
      {"response_format", "text"},
      {"suffix", 1},
  };
  for (const auto& [name, value] : cases) {
    json body = completion({{name, value}});
    if (name == "stream_options") body["stream"] = true;
    ApiError e = err(body);
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param, name) << body.dump();
    EXPECT_NE(e.message.find("Invalid type for '" + name + "'"), std::string::npos) << e.message;
  }
  ApiError e = err(completion({{"stop", json::array({"a", 3})}}));
  EXPECT_EQ(e.param, "stop[1]");
  e = err(completion({{"stream", true}, {"stream_options", {{"include_usage", "yes"}}}}));
  EXPECT_EQ(e.param, "stream_options.include_usage");
}

TEST_F(OpenAiProtocolTest, ValuesOutOfRangeNameTheField) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"max_tokens", 0},
      {"max_tokens", -5},
      {"temperature", -0.1},
      {"temperature", 2.5},
      {"top_p", 0},
      {"top_p", 1.01},
      {"top_k", -2},
      {"min_p", -0.1},
      {"min_p", 1.5},
      {"presence_penalty", 2.1},
      {"presence_penalty", -3},
      {"frequency_penalty", -2.5},
      {"frequency_penalty", 9},
      {"repetition_penalty", 0},
      {"repetition_penalty", -1},
      {"logprobs", 21},
      {"logprobs", -1},
      {"stop", json::array({"a", "b", "c", "d", "e"})},
      {"stop", ""},
  };
  for (const auto& [name, value] : cases) {
    json body = completion({{name, value}});
    ApiError e = err(body);
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param.rfind(name, 0), 0u) << body.dump() << " param " << e.param;
    EXPECT_NE(e.message.find("Invalid value for '" + name), std::string::npos) << e.message;
  }
  // Boundaries are accepted.
  ok(completion({{"temperature", 0},
                 {"top_p", 1},
                 {"top_k", -1},
                 {"min_p", 1},
                 {"presence_penalty", -2},
                 {"frequency_penalty", 2},
                 {"logprobs", 20},
                 {"stop", json::array({"a", "b", "c", "d"})},
                 {"max_tokens", 1}}));
  // Integral floats count as integers; a huge max_tokens is left for the context check.
  EXPECT_EQ(ok(completion({{"max_tokens", 5.0}})).gen.max_tokens, 5);
  EXPECT_EQ(ok(completion({{"max_tokens", 1e12}})).gen.max_tokens, 2147483647);
}

TEST_F(OpenAiProtocolTest, NullMeansDefault) {
  ParsedRequest r = ok(completion({{"max_tokens", nullptr},
                                   {"temperature", nullptr},
                                   {"stream", nullptr},
                                   {"stream_options", nullptr},
                                   {"seed", nullptr},
                                   {"n", nullptr}}));
  EXPECT_EQ(r.gen.max_tokens, 16);
  EXPECT_FALSE(r.max_tokens_given);
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 1.0f);
}

TEST_F(OpenAiProtocolTest, SeedsAcceptTheWholeIntegerRange) {
  EXPECT_EQ(*ok(completion({{"seed", -1}})).gen.sampling.seed, UINT64_MAX);
  EXPECT_EQ(*ok(completion({{"seed", 18446744073709551615ull}})).gen.sampling.seed, UINT64_MAX);
  EXPECT_EQ(*ok(completion({{"seed", 0}})).gen.sampling.seed, 0u);
}

TEST_F(OpenAiProtocolTest, UnsupportedValuesAreRejected) {
  const std::vector<std::pair<json, std::string>> cases = {
      {completion({{"n", 2}}), "n"},
      {completion({{"n", 0}}), "n"},
      {completion({{"best_of", 3}}), "best_of"},
      {completion({{"suffix", "tail"}}), "suffix"},
      {completion({{"logit_bias", {{"50256", -100}}}}), "logit_bias"},
      {completion({{"response_format", {{"type", "json_object"}}}}), "response_format"},
      {chat({{"response_format", {{"type", "json_schema"}, {"json_schema", json::object()}}}}),
       "response_format"},
      {chat({{"n", 3}}), "n"},
      {chat({{"tool_choice", "required"}}), "tool_choice"},
      {chat({{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}),
       "tool_choice"},
      {chat({{"function_call", {{"name", "f"}}}}), "function_call"},
  };
  for (const auto& [body, param] : cases) {
    const Endpoint ep =
        body.contains("messages") ? Endpoint::kChatCompletions : Endpoint::kCompletions;
    ApiError e = err(body, ep);
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param, param) << body.dump();
    EXPECT_NE(e.message.find("not supported"), std::string::npos) << e.message;
  }
  // Values that change nothing are fine.
  ok(completion({{"n", 1},
                 {"best_of", 1},
                 {"suffix", ""},
                 {"logit_bias", json::object()},
                 {"response_format", {{"type", "text"}}}}));
  ok(chat({{"tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}})},
           {"tool_choice", "auto"}}),
     Endpoint::kChatCompletions);
  ok(chat({{"tool_choice", "none"}}), Endpoint::kChatCompletions);
  EXPECT_EQ(err(chat({{"tools", "x"}}), Endpoint::kChatCompletions).param, "tools");
  EXPECT_EQ(err(chat({{"tool_choice", "sometimes"}}), Endpoint::kChatCompletions).param,
            "tool_choice");
}

TEST_F(OpenAiProtocolTest, StreamOptionsNeedStream) {
  ApiError e = err(completion({{"stream_options", {{"include_usage", true}}}}));
  EXPECT_EQ(e.param, "stream_options");
  EXPECT_NE(e.message.find("stream"), std::string::npos);
  EXPECT_FALSE(ok(completion({{"stream", true}})).include_usage);
  EXPECT_FALSE(
      ok(completion({{"stream", true}, {"stream_options", json::object()}})).include_usage);
}

// ---- chat requests -----------------------------------------------------------------------

TEST_F(OpenAiProtocolTest, ChatRendersTheTemplate) {
  ParsedRequest r =
      ok(chat({{"messages", json::array({{{"role", "developer"}, {"content", "be brief"}},
                                         {{"role", "user"}, {"content", "hi"}}})}}),
         Endpoint::kChatCompletions);
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(r.gen.prompt,
            "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_TRUE(r.gen.prompt_tokens.empty());
  EXPECT_FALSE(r.gen.add_special);
  EXPECT_TRUE(r.gen.parse_special);
  EXPECT_EQ(r.gen.max_tokens, 16);
}

TEST_F(OpenAiProtocolTest, ChatContentParts) {
  json parts =
      json::array({{{"type", "text"}, {"text", "one"}}, {{"type", "text"}, {"text", "two"}}});
  ParsedRequest r = ok(chat({{"messages", json::array({{{"role", "user"}, {"content", parts}}})}}),
                       Endpoint::kChatCompletions);
  EXPECT_EQ(r.gen.prompt, "<|im_start|>user\none\ntwo<|im_end|>\n<|im_start|>assistant\n");
  // An assistant turn may omit its content.
  json msgs = json::array({{{"role", "user"}, {"content", "a"}},
                           {{"role", "assistant"}},
                           {{"role", "user"}, {"content", "b"}}});
  EXPECT_EQ(ok(chat({{"messages", msgs}}), Endpoint::kChatCompletions).gen.prompt,
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
            "<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(OpenAiProtocolTest, BadMessages) {
  json missing = chat();
  missing.erase("messages");
  auto with = [](json msgs) { return chat({{"messages", msgs}}); };
  const std::vector<std::pair<json, std::string>> cases = {
      {missing, "messages"},
      {with(json::array()), "messages"},
      {with("hi"), "messages"},
      {with(json::array({"hi"})), "messages[0]"},
      {with(json::array({{{"content", "x"}}})), "messages[0].role"},
      {with(json::array({{{"role", 1}, {"content", "x"}}})), "messages[0].role"},
      {with(json::array({{{"role", "robot"}, {"content", "x"}}})), "messages[0].role"},
      {with(json::array({{{"role", "user"}}})), "messages[0].content"},
      {with(json::array({{{"role", "user"}, {"content", nullptr}}})), "messages[0].content"},
      {with(json::array({{{"role", "user"}, {"content", 5}}})), "messages[0].content"},
      {with(json::array({{{"role", "user"}, {"content", json::array({"x"})}}})),
       "messages[0].content[0]"},
      {with(json::array({{{"role", "user"},
                          {"content", json::array({{{"type", "image_url"},
                                                    {"image_url", {{"url", "http://x"}}}}})}}})),
       "messages[0].content[0].type"},
      {with(json::array({{{"role", "user"}, {"content", json::array({{{"type", "text"}}})}}})),
       "messages[0].content[0].text"},
  };
  for (const auto& [body, param] : cases) {
    ApiError e = err(body, Endpoint::kChatCompletions);
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param, param) << body.dump() << ": " << e.message;
    EXPECT_NE(e.message.find(param), std::string::npos) << e.message;
  }
  ApiError image = err(
      with(json::array({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}})),
      Endpoint::kChatCompletions);
  EXPECT_NE(image.message.find("not supported"), std::string::npos) << image.message;
}

TEST_F(OpenAiProtocolTest, TemplateErrorsAreBadRequests) {
  ChatFormatter strict(
      ChatTemplateSource{"{{ raise_exception('Roles must alternate') }}", "strict", false}, "<s>",
      "</s>");
  auto r = parse_completion_request(chat().dump(), Endpoint::kChatCompletions, info_, strict);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  const ApiError& e = std::get<ApiError>(r);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "messages");
  EXPECT_NE(e.message.find("Roles must alternate"), std::string::npos) << e.message;
}

TEST_F(OpenAiProtocolTest, ChatPrefersMaxCompletionTokens) {
  const Endpoint ep = Endpoint::kChatCompletions;
  EXPECT_EQ(ok(chat({{"max_tokens", 5}}), ep).gen.max_tokens, 5);
  EXPECT_EQ(ok(chat({{"max_completion_tokens", 6}}), ep).gen.max_tokens, 6);
  ParsedRequest both = ok(chat({{"max_tokens", 5}, {"max_completion_tokens", 7}}), ep);
  EXPECT_EQ(both.gen.max_tokens, 7);
  EXPECT_TRUE(both.max_tokens_given);
  EXPECT_EQ(err(chat({{"max_completion_tokens", 0}}), ep).param, "max_completion_tokens");
  EXPECT_EQ(err(chat({{"max_completion_tokens", "9"}}), ep).param, "max_completion_tokens");
}

TEST_F(OpenAiProtocolTest, ChatLogprobs) {
  const Endpoint ep = Endpoint::kChatCompletions;
  ParsedRequest r = ok(chat({{"logprobs", true}, {"top_logprobs", 4}}), ep);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 4);
  EXPECT_TRUE(r.gen.sampling.want_logprobs);
  EXPECT_EQ(r.gen.sampling.n_top_logprobs, 4);
  ParsedRequest plain = ok(chat({{"logprobs", true}}), ep);
  EXPECT_TRUE(plain.logprobs);
  EXPECT_EQ(plain.top_logprobs, 0);
  EXPECT_FALSE(ok(chat({{"logprobs", false}, {"top_logprobs", 0}}), ep).logprobs);

  EXPECT_EQ(err(chat({{"logprobs", 3}}), ep).param, "logprobs");
  EXPECT_EQ(err(chat({{"logprobs", true}, {"top_logprobs", 21}}), ep).param, "top_logprobs");
  EXPECT_EQ(err(chat({{"logprobs", true}, {"top_logprobs", "2"}}), ep).param, "top_logprobs");
  ApiError e = err(chat({{"top_logprobs", 2}}), ep);
  EXPECT_EQ(e.param, "top_logprobs");
  EXPECT_NE(e.message.find("'logprobs' must be true"), std::string::npos) << e.message;
}

TEST_F(OpenAiProtocolTest, ContextError) {
  EXPECT_FALSE(context_error(10, 54, 64).has_value());
  auto e = context_error(50, 20, 64);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, "context_length_exceeded");
  EXPECT_EQ(e->type, "invalid_request_error");
  EXPECT_NE(e->message.find("64"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("70"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("50"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("20"), std::string::npos) << e->message;
  EXPECT_EQ(e->param, "max_tokens");
  auto big = context_error(100, 1, 64);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->param, "prompt");
  // No overflow with the largest request.
  auto huge = context_error(10, 2147483647, 64);
  ASSERT_TRUE(huge.has_value());
  EXPECT_NE(huge->message.find("2147483657"), std::string::npos) << huge->message;
}

// ---- responses ---------------------------------------------------------------------------

TEST_F(OpenAiProtocolTest, CompletionResponseShape) {
  ParsedRequest req = ok(completion());
  ResponseBuilder b(req, "cmpl-1", 1700000001, "tiny", *tok_);
  b.add(chunk(" hello", TinySpm::kSpHello, -0.1f, FinishReason::kNone, 2, 1));
  b.add(chunk("", TinySpm::kH, -0.2f, FinishReason::kNone, 2, 2));
  b.add(chunk("h", -1, 0, FinishReason::kLength, 2, 2));
  EXPECT_EQ(b.final_response().dump(),
            R"({"id":"cmpl-1","object":"text_completion","created":1700000001,"model":"tiny",)"
            R"("choices":[{"index":0,"text":" helloh","logprobs":null,"finish_reason":"length"}],)"
            R"("usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":0}}})");
}

TEST_F(OpenAiProtocolTest, ChatResponseShape) {
  ParsedRequest req = ok(chat(), Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-9", 5, "tiny", *tok_);
  b.add(chunk("Hi", 260, -0.1f, FinishReason::kNone, 9, 1));
  b.add(chunk("!", -1, 0, FinishReason::kStop, 9, 1));
  EXPECT_EQ(
      b.final_response().dump(),
      R"({"id":"chatcmpl-9","object":"chat.completion","created":5,"model":"tiny",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","refusal":null},)"
      R"("logprobs":null,"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":0}}})");
}

TEST_F(OpenAiProtocolTest, EchoPrependsThePrompt) {
  ParsedRequest req = ok(completion({{"echo", true}}));
  ResponseBuilder b(req, "cmpl-1", 1, "tiny", *tok_);
  b.add(chunk(" there", 260, -0.1f, FinishReason::kStop));
  EXPECT_EQ(b.final_response()["choices"][0]["text"], "hello there");
  // Token prompts are echoed as their text.
  ParsedRequest ids =
      ok(completion({{"echo", true}, {"prompt", json::array({TinySpm::kSpHello, TinySpm::kH})}}));
  ResponseBuilder b2(ids, "cmpl-2", 1, "tiny", *tok_);
  b2.add(chunk("!", -1, 0, FinishReason::kStop));
  EXPECT_EQ(b2.final_response()["choices"][0]["text"], "helloh!");
}

TEST_F(OpenAiProtocolTest, FinishReasons) {
  EXPECT_EQ(finish_reason_json(FinishReason::kStop), "stop");
  EXPECT_EQ(finish_reason_json(FinishReason::kLength), "length");
  EXPECT_TRUE(finish_reason_json(FinishReason::kCancelled).is_null());
  EXPECT_TRUE(finish_reason_json(FinishReason::kError).is_null());
  EXPECT_TRUE(finish_reason_json(FinishReason::kNone).is_null());
  ParsedRequest req = ok(completion());
  ResponseBuilder b(req, "cmpl-1", 1, "tiny", *tok_);
  b.add(chunk("", -1, 0, FinishReason::kCancelled));
  EXPECT_TRUE(b.final_response()["choices"][0]["finish_reason"].is_null());
}

TEST_F(OpenAiProtocolTest, CompletionLogprobsShape) {
  ParsedRequest req = ok(completion({{"logprobs", 2}}));
  ResponseBuilder b(req, "cmpl-1", 1, "tiny", *tok_);
  Chunk c1 = chunk("hello", TinySpm::kSpHello, -0.25f);
  c1.top_logprobs = {{TinySpm::kSpHello, -0.25f}, {TinySpm::kH, -2.0f}, {TinySpm::kE, -3.0f}};
  Chunk c2 = chunk(" h", TinySpm::kSpH, -1.5f, FinishReason::kLength, 3, 2);
  // The sampled token is not among the top two: it is added (OpenAI: up to logprobs+1).
  c2.top_logprobs = {{TinySpm::kH, -0.5f}, {TinySpm::kE, -1.0f}};
  b.add(c1);
  b.add(c2);
  const json lp = b.final_response()["choices"][0]["logprobs"];
  EXPECT_EQ(lp.dump(),
            R"({"text_offset":[0,5],"token_logprobs":[-0.25,-1.5],"tokens":[" hello"," h"],)"
            R"("top_logprobs":[{" hello":-0.25,"h":-2.0},{"h":-0.5,"e":-1.0," h":-1.5}]})");
}

TEST_F(OpenAiProtocolTest, ChatLogprobsShape) {
  ParsedRequest req =
      ok(chat({{"logprobs", true}, {"top_logprobs", 1}}), Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-1", 1, "tiny", *tok_);
  Chunk c = chunk("e", TinySpm::kE, -0.5f);
  c.top_logprobs = {{TinySpm::kE, -0.5f}, {TinySpm::kO, -1.0f}};
  b.add(c);
  Chunk end = chunk("", -1, 0, FinishReason::kStop);
  b.add(end);
  EXPECT_EQ(b.final_response()["choices"][0]["logprobs"].dump(),
            R"({"content":[{"token":"e","logprob":-0.5,"bytes":[101],)"
            R"("top_logprobs":[{"token":"e","logprob":-0.5,"bytes":[101]}]}],"refusal":null})");
}

TEST_F(OpenAiProtocolTest, LogprobsOfPartialCharactersAndImpossibleTokens) {
  ParsedRequest req =
      ok(chat({{"logprobs", true}, {"top_logprobs", 1}}), Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-1", 1, "tiny", *tok_);
  // Byte token 0xE2 alone is half a character: shown escaped, exact in "bytes".
  Chunk c = chunk("", TinySpm::kByte0 + 0xE2, -1.0f);
  c.top_logprobs = {{TinySpm::kO, -std::numeric_limits<float>::infinity()}};
  b.add(c);
  const json e = b.final_response()["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(e["token"], "\\xe2");
  EXPECT_EQ(e["bytes"], json::array({226}));
  EXPECT_EQ(e["top_logprobs"][0]["logprob"], -9999.0);
  // The whole response serializes (invalid UTF-8 never reaches the JSON).
  EXPECT_NO_THROW(b.final_response().dump());
}

TEST_F(OpenAiProtocolTest, ChatStreamWithUsage) {
  ParsedRequest req = ok(chat({{"stream", true}, {"stream_options", {{"include_usage", true}}}}),
                         Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-s", 7, "tiny", *tok_);
  std::string sse = b.sse_events(chunk("Hel", 260, -0.1f, FinishReason::kNone, 4, 1));
  sse += b.sse_events(chunk("", 261, -0.1f, FinishReason::kNone, 4, 2));  // held back: nothing
  sse += b.sse_events(chunk("lo", 262, -0.1f, FinishReason::kNone, 4, 3));
  sse += b.sse_events(chunk("", -1, 0, FinishReason::kStop, 4, 3));
  const std::vector<json> ev = events(sse);
  ASSERT_EQ(ev.size(), 6u) << sse;
  const std::string head =
      R"({"id":"chatcmpl-s","object":"chat.completion.chunk","created":7,"model":"tiny",)";
  EXPECT_EQ(ev[0].dump(), head +
                              R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
                              R"("logprobs":null,"finish_reason":null}],"usage":null})");
  EXPECT_EQ(ev[1].dump(), head + R"("choices":[{"index":0,"delta":{"content":"Hel"},)"
                                 R"("logprobs":null,"finish_reason":null}],"usage":null})");
  EXPECT_EQ(ev[2]["choices"][0]["delta"]["content"], "lo");
  EXPECT_EQ(ev[3].dump(), head + R"("choices":[{"index":0,"delta":{},)"
                                 R"("logprobs":null,"finish_reason":"stop"}],"usage":null})");
  EXPECT_EQ(ev[4].dump(), head + R"("choices":[],"usage":{"prompt_tokens":4,"completion_tokens":3,)"
                                 R"("total_tokens":7,"prompt_tokens_details":{"cached_tokens":0}}})");
  EXPECT_EQ(ev[5], "[DONE]");
  EXPECT_EQ(sse.substr(sse.size() - 14), "data: [DONE]\n\n");
}

TEST_F(OpenAiProtocolTest, ChatStreamWithoutUsageHasNoUsageField) {
  ParsedRequest req = ok(chat({{"stream", true}}), Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-s", 7, "tiny", *tok_);
  // The last token's text and the finish reason travel together.
  const std::vector<json> ev = events(b.sse_events(chunk("Hi", 260, -0.1f, FinishReason::kLength)));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_FALSE(ev[0].contains("usage"));
  EXPECT_FALSE(ev[1].contains("usage"));
  EXPECT_EQ(ev[1]["choices"][0]["delta"].dump(), R"({"content":"Hi"})");
  EXPECT_EQ(ev[1]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(ev[2], "[DONE]");
}

TEST_F(OpenAiProtocolTest, ChatStreamLogprobsFollowTheirText) {
  ParsedRequest req = ok(chat({{"stream", true}, {"logprobs", true}}), Endpoint::kChatCompletions);
  ResponseBuilder b(req, "chatcmpl-s", 7, "tiny", *tok_);
  std::vector<json> ev = events(b.sse_events(chunk("", TinySpm::kH, -0.1f)));
  ASSERT_EQ(ev.size(), 1u);  // only the role
  EXPECT_TRUE(ev[0]["choices"][0]["logprobs"].is_null());
  ev = events(b.sse_events(chunk("he", TinySpm::kE, -0.2f)));
  ASSERT_EQ(ev.size(), 1u);
  const json content = ev[0]["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "h");
  EXPECT_EQ(content[1]["token"], "e");
  EXPECT_EQ(content[1]["top_logprobs"], json::array());
  ev = events(b.sse_events(chunk("", -1, 0, FinishReason::kStop)));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["choices"][0]["logprobs"]["content"], json::array());
}

TEST_F(OpenAiProtocolTest, CompletionStreamWithEchoAndLogprobs) {
  ParsedRequest req = ok(completion({{"stream", true},
                                     {"echo", true},
                                     {"logprobs", 0},
                                     {"stream_options", {{"include_usage", true}}}}));
  ResponseBuilder b(req, "cmpl-s", 3, "tiny", *tok_);
  std::string sse = b.sse_events(chunk(" h", TinySpm::kSpH, -0.5f, FinishReason::kNone, 2, 1));
  sse += b.sse_events(chunk("e", TinySpm::kE, -0.25f, FinishReason::kStop, 2, 2));
  const std::vector<json> ev = events(sse);
  ASSERT_EQ(ev.size(), 4u) << sse;
  const std::string head =
      R"({"id":"cmpl-s","object":"text_completion","created":3,"model":"tiny",)";
  EXPECT_EQ(ev[0].dump(),
            head + R"("choices":[{"index":0,"text":"hello h","logprobs":)"
                   R"({"text_offset":[5],"token_logprobs":[-0.5],"tokens":[" h"],)"
                   R"("top_logprobs":[{" h":-0.5}]},"finish_reason":null}],"usage":null})");
  EXPECT_EQ(ev[1].dump(),
            head + R"("choices":[{"index":0,"text":"e","logprobs":)"
                   R"({"text_offset":[7],"token_logprobs":[-0.25],"tokens":["e"],)"
                   R"("top_logprobs":[{"e":-0.25}]},"finish_reason":"stop"}],"usage":null})");
  EXPECT_EQ(ev[2].dump(), head + R"("choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,)"
                                 R"("total_tokens":4,"prompt_tokens_details":{"cached_tokens":0}}})");
  EXPECT_EQ(ev[3], "[DONE]");
}

TEST_F(OpenAiProtocolTest, CompletionStreamHoldsBackEmptyText) {
  ParsedRequest req = ok(completion({{"stream", true}}));
  ResponseBuilder b(req, "cmpl-s", 3, "tiny", *tok_);
  EXPECT_EQ(b.sse_events(chunk("", 5, -0.1f)), "");
  const std::vector<json> ev = events(b.sse_events(chunk("", -1, 0, FinishReason::kCancelled)));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["choices"][0]["text"], "");
  EXPECT_TRUE(ev[0]["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(ev[1], "[DONE]");
}

TEST_F(OpenAiProtocolTest, StreamErrors) {
  ApiError e;
  e.status = 500;
  e.type = "server_error";
  e.message = "boom";
  EXPECT_EQ(ResponseBuilder::sse_error(e),
            "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,"
            "\"code\":null}}\n\ndata: [DONE]\n\n");

  ParsedRequest req = ok(completion({{"stream", true}}));
  ResponseBuilder b(req, "cmpl-s", 3, "tiny", *tok_);
  Chunk bad = chunk("x", 5, -0.1f, FinishReason::kError);
  bad.error = "out of memory";
  const std::vector<json> ev = events(b.sse_events(bad));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0]["choices"][0]["text"], "x");
  EXPECT_EQ(ev[1]["error"]["type"], "server_error");
  EXPECT_NE(ev[1]["error"]["message"].get<std::string>().find("out of memory"), std::string::npos);
  EXPECT_EQ(ev[2], "[DONE]");
}

// ---- models, tokenize, detokenize ----------------------------------------------------------

TEST_F(OpenAiProtocolTest, ModelsList) {
  EXPECT_EQ(models_response(info_).dump(),
            R"({"object":"list","data":[{"id":"tiny","object":"model","created":1700000000,)"
            R"("owned_by":"mlx-serving","max_model_len":64}]})");
}

TEST_F(OpenAiProtocolTest, TokenizePrompt) {
  auto r = tokenize_response(R"({"prompt":"hello"})", info_, *tok_, chat_);
  ASSERT_TRUE(std::holds_alternative<json>(r));
  EXPECT_EQ(std::get<json>(r).dump(), R"({"tokens":[1,268],"count":2,"max_model_len":64})");
  r = tokenize_response(
      R"({"model":"tiny","prompt":"hello","add_special_tokens":false,"with_pieces":true})", info_,
      *tok_, chat_);
  ASSERT_TRUE(std::holds_alternative<json>(r));
  EXPECT_EQ(std::get<json>(r).dump(),
            R"({"tokens":[268],"count":1,"max_model_len":64,"token_strs":[" hello"]})");
}

TEST_F(OpenAiProtocolTest, TokenizeMessages) {
  auto r =
      tokenize_response(R"({"messages":[{"role":"user","content":"hello"}]})", info_, *tok_, chat_);
  ASSERT_TRUE(std::holds_alternative<json>(r));
  const std::string rendered = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(std::get<json>(r)["tokens"], json(tok_->encode(rendered, false, true)));
  EXPECT_EQ(std::get<json>(r)["count"], tok_->encode(rendered, false, true).size());
  // <|im_end|> is one control token: special text is parsed.
  bool has_im_end = false;
  for (const auto& id : std::get<json>(r)["tokens"]) has_im_end |= id == TinySpm::kImEnd;
  EXPECT_TRUE(has_im_end);
}

TEST_F(OpenAiProtocolTest, TokenizeErrors) {
  auto code = [&](const std::string& body) {
    auto r = tokenize_response(body, info_, *tok_, chat_);
    if (std::holds_alternative<ApiError>(r)) return std::get<ApiError>(r);
    ApiError accepted;
    accepted.status = 0;  // fails every status check below
    return accepted;
  };
  EXPECT_EQ(code("{}").status, 400);
  EXPECT_EQ(code(R"({"prompt":"a","messages":[]})").status, 400);
  EXPECT_EQ(code("nope").status, 400);
  EXPECT_EQ(code(R"({"prompt":5})").param, "prompt");
  EXPECT_EQ(code(R"({"messages":[]})").param, "messages");
  EXPECT_EQ(code(R"({"prompt":"a","with_pieces":1})").param, "with_pieces");
  EXPECT_EQ(code(R"({"prompt":"a","add_special_tokens":"no"})").param, "add_special_tokens");
  ApiError e = code(R"({"model":"other","prompt":"a"})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
}

TEST_F(OpenAiProtocolTest, Detokenize) {
  auto r = detokenize_response(R"({"tokens":[268,260]})", *tok_);
  ASSERT_TRUE(std::holds_alternative<json>(r));
  EXPECT_EQ(std::get<json>(r).dump(), R"({"prompt":"helloh"})");
  // A lone byte of a multi-byte character comes out as U+FFFD, never as invalid JSON text.
  r = detokenize_response("{\"tokens\":[" + std::to_string(TinySpm::kByte0 + 0xE2) + "]}", *tok_);
  ASSERT_TRUE(std::holds_alternative<json>(r));
  EXPECT_EQ(std::get<json>(r)["prompt"], "\xEF\xBF\xBD");
  EXPECT_NO_THROW(std::get<json>(r).dump());

  for (const char* bad : {R"({"tokens":[99999]})", R"({"tokens":[-1]})", R"({"tokens":["a"]})"}) {
    auto e = detokenize_response(bad, *tok_);
    ASSERT_TRUE(std::holds_alternative<ApiError>(e)) << bad;
    EXPECT_EQ(std::get<ApiError>(e).param, "tokens[0]") << bad;
  }
  auto missing = detokenize_response("{}", *tok_);
  ASSERT_TRUE(std::holds_alternative<ApiError>(missing));
  EXPECT_EQ(std::get<ApiError>(missing).param, "tokens");
  auto oov = detokenize_response(R"({"tokens":[99999]})", *tok_);
  EXPECT_NE(std::get<ApiError>(oov).message.find("outside the vocabulary"), std::string::npos);
}

// ---- TTFT pipeline extensions ------------------------------------------------------------

TEST_F(OpenAiProtocolTest, TtftHintDefaultsAndValues) {
  ParsedRequest d = ok(completion());
  EXPECT_EQ(d.hint_priority, 1);
  EXPECT_EQ(d.hint_estimated_tokens, 0);
  ParsedRequest r = ok(completion({{"ttft_hint", {{"priority", "high"}, {"estimated_tokens", 120}}}}));
  EXPECT_EQ(r.hint_priority, 2);
  EXPECT_EQ(r.hint_estimated_tokens, 120);
  // The spec's TtftHint field names.
  ParsedRequest spec = ok(completion({{"ttft_hint",
                                       {{"priority", "low"},
                                        {"estimatedTokens", 10},
                                        {"streamId", "request-123"},
                                        {"prompt", "What is the capital of France?"},
                                        {"model", "tiny"}}}}));
  EXPECT_EQ(spec.hint_priority, 0);
  EXPECT_EQ(spec.hint_estimated_tokens, 10);
  EXPECT_EQ(ok(completion({{"ttft_hint", nullptr}})).hint_priority, 1);
}

TEST_F(OpenAiProtocolTest, BadTtftHintsNameTheField) {
  struct Case {
    json hint;
    std::string param;
  };
  for (const Case& c : {Case{"high", "ttft_hint"},
                        Case{{{"priority", "urgent"}}, "ttft_hint.priority"},
                        Case{{{"priority", 2}}, "ttft_hint.priority"},
                        Case{{{"estimated_tokens", 0}}, "ttft_hint.estimated_tokens"},
                        Case{{{"estimated_tokens", 1.5}}, "ttft_hint.estimated_tokens"},
                        Case{{{"estimatedTokens", "many"}}, "ttft_hint.estimatedTokens"},
                        Case{{{"streamId", 5}}, "ttft_hint.streamId"},
                        Case{{{"colour", "red"}}, "ttft_hint.colour"}}) {
    ApiError e = err(completion({{"ttft_hint", c.hint}}));
    EXPECT_EQ(e.status, 400) << c.hint.dump();
    EXPECT_EQ(e.param, c.param) << c.hint.dump();
  }
}

TEST_F(OpenAiProtocolTest, MatchTextIsThePromptOrTheLastUserMessage) {
  EXPECT_EQ(ok(completion()).match_text, "hello");
  ParsedRequest chat_req =
      ok(chat({{"messages", json::array({{{"role", "system"}, {"content", "be brief"}},
                                         {{"role", "user"}, {"content", "first"}},
                                         {{"role", "assistant"}, {"content", "ok"}},
                                         {{"role", "user"},
                                          {"content", json::array({{{"type", "text"}, {"text", "Hel"}},
                                                                   {{"type", "text"}, {"text", "lo"}}})}}})}}),
         Endpoint::kChatCompletions);
  EXPECT_EQ(chat_req.match_text, "Hel\nlo");  // parts joined as the template sees them
}

}  // namespace
}  // namespace mlxs::server
