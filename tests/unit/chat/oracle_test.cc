// Every template in ../shared/testdata/chat-templates must render byte for byte
// like Python jinja2 (render_oracle.py) for a set of conversations; where Python
// raises, we must fail too, with the same message for raise_exception().
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "oracle.h"

namespace mlxs {
namespace {

using nlohmann::ordered_json;
using chat_test::OracleResult;

struct Conversation {
  std::string name;
  ordered_json messages;
  ordered_json tools = nullptr;
  bool add_generation_prompt = true;
  ordered_json extra = ordered_json::object();
};

// `nullable` adds a ["string", "null"] union: Hermes' template recurses forever
// on a type it does not map (iterating "null" yields one-letter strings), so
// Python raises RecursionError there and we must fail as well.
ordered_json weather_tools(bool nullable = false) {
  ordered_json tools = ordered_json::parse(R"([
    {"type": "function", "function": {
      "name": "get_weather",
      "description": "Get the current weather in a city.",
      "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city, e.g. \"Paris\"  "},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
        "days": {"type": "integer", "description": "Forecast days"},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"},
        "ratio": {"type": "number", "description": "A ratio, 0.5 by default"}},
        "required": ["city"]}}},
    {"type": "function", "function": {
      "name": "search",
      "description": "Search the web. Résumé ✓",
      "parameters": {"type": "object", "properties": {
        "query": {"type": ["string", "null"], "description": "Query"},
        "filters": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Filters"},
        "flag": {"type": "boolean", "description": "A flag"}},
        "required": ["query"]},
      "return": {"type": "string", "description": "Result text"}}}
  ])");
  if (!nullable) tools[1]["function"]["parameters"]["properties"]["query"]["type"] = "string";
  return tools;
}

std::vector<Conversation> conversations() {
  auto j = [](const char* s) { return ordered_json::parse(s); };
  std::vector<Conversation> c;
  c.push_back({"system_user", j(R"([{"role": "system", "content": "You are a helpful assistant."},
                                    {"role": "user", "content": "Hello!"}])")});
  c.push_back({"user_only", j(R"([{"role": "user", "content": "What is 2+2?"}])")});
  c.push_back({"multi_turn", j(R"([{"role": "system", "content": "  Be brief.\n"},
                                   {"role": "user", "content": "Hi"},
                                   {"role": "assistant", "content": "Hello! How can I help?"},
                                   {"role": "user", "content": "Tell me a joke."}])")});
  Conversation no_prompt{"multi_turn_no_generation_prompt",
                         j(R"([{"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello."},
                               {"role": "user", "content": "Bye"}])")};
  no_prompt.add_generation_prompt = false;
  c.push_back(no_prompt);
  Conversation prefill{"assistant_prefill", j(R"([{"role": "user", "content": "Write a haiku."},
                                                  {"role": "assistant", "content": "Autumn moonlight—"}])")};
  prefill.add_generation_prompt = false;
  c.push_back(prefill);
  Conversation full{"full_exchange_no_prompt", j(R"([{"role": "system", "content": "sys"},
                                                     {"role": "user", "content": "a"},
                                                     {"role": "assistant", "content": "b"}])")};
  full.add_generation_prompt = false;
  c.push_back(full);
  c.push_back({"special_characters",
               j(R"([{"role": "user", "content": "Quotes ' \" backslash \\ tab\t newline\n emoji 😀 CJK 你好 <b>&amp;</b> {{ not a tag }}"}])")});
  c.push_back({"not_alternating", j(R"([{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])")});
  c.push_back({"starts_with_assistant", j(R"([{"role": "assistant", "content": "I speak first."},
                                              {"role": "user", "content": "ok"}])")});
  Conversation with_date{"extra_date_string", j(R"([{"role": "user", "content": "What day is it?"}])")};
  with_date.extra = j(R"({"date_string": "01 Jan 2025"})");
  c.push_back(with_date);

  Conversation tools_only{"tools_defined", j(R"([{"role": "system", "content": "You can call tools."},
                                                 {"role": "user", "content": "Weather in Paris?"}])")};
  tools_only.tools = weather_tools();
  c.push_back(tools_only);

  // Tool call with object arguments (HF's convention) and a tool result.
  Conversation call_obj{"tool_call_and_result", j(R"([
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "abc123XYZ", "type": "function", "function": {"name": "get_weather",
        "arguments": {"city": "Paris", "unit": "celsius", "days": 2, "ratio": 0.5, "tags": ["a", "é"]}}}]},
    {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather", "content": "{\"temperature\": 22}"},
    {"role": "assistant", "content": "It is 22 °C in Paris."},
    {"role": "user", "content": "Thanks"}])")};
  call_obj.tools = weather_tools();
  c.push_back(call_obj);

  // The same with string arguments (OpenAI wire format), ending on the tool result.
  Conversation call_str{"tool_call_string_arguments", j(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "abc123XYZ", "type": "function", "function": {"name": "get_weather",
        "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny"}])")};
  call_str.tools = weather_tools();
  c.push_back(call_str);

  // Two tool results in a row, and a tool call without tools defined.
  Conversation two_results{"two_tool_results", j(R"([
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "", "tool_calls": [
      {"id": "abc123XYZ", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
      {"id": "def456UVW", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
    {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny"},
    {"role": "tool", "tool_call_id": "def456UVW", "content": "rainy"}])")};
  two_results.tools = weather_tools();
  c.push_back(two_results);

  Conversation nullable{"tools_with_union_type", j(R"([{"role": "user", "content": "Search cats"}])")};
  nullable.tools = weather_tools(true);
  c.push_back(nullable);

  Conversation bare_tool{"tool_without_function_wrapper", j(R"([{"role": "user", "content": "Hi"}])")};
  bare_tool.tools = ordered_json::array({weather_tools()[0]["function"]});
  c.push_back(bare_tool);

  Conversation empty_tools{"empty_tools_list", j(R"([{"role": "user", "content": "Hi"}])")};
  empty_tools.tools = ordered_json::array();
  c.push_back(empty_tools);
  return c;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Outcome {
  int matched = 0, total = 0;
  std::vector<std::string> failures;
};

void compare(const std::string& label, const Result<std::string>& ours, const OracleResult& py, Outcome& o) {
  ++o.total;
  if (py.ok) {
    if (!ours.ok()) {
      o.failures.push_back(label + ": Python rendered but we failed: " + ours.status().message());
    } else if (ours.value() != py.output) {
      o.failures.push_back(label + ": output differs\n--- python ---\n" + py.output + "\n--- ours ---\n" + ours.value());
    } else {
      ++o.matched;
    }
    return;
  }
  if (ours.ok()) {
    o.failures.push_back(label + ": Python raised " + py.error_type + " (" + py.error + ") but we rendered:\n" + ours.value());
    return;
  }
  // raise_exception() raises a bare TemplateError: its message must survive
  // unchanged. Other errors carry our "line:col: " prefix before Python's text;
  // RecursionError is Python's stack limit, ours names the macro instead.
  const std::string& msg = ours.status().message();
  bool same = py.error_type == "TemplateError"
                  ? msg == py.error
                  : py.error_type == "RecursionError" ||
                        (msg.size() >= py.error.size() && msg.compare(msg.size() - py.error.size(), py.error.size(), py.error) == 0);
  if (!same) {
    o.failures.push_back(label + ": error differs: python " + py.error_type + " '" + py.error + "' ours '" + msg + "'");
    return;
  }
  ++o.matched;
}

TEST(ChatTemplateOracle, RealTemplatesMatchPythonJinja2) {
  auto dir = chat_test::source_root() / ".." / "shared" / "testdata" / "chat-templates";
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << "chat-template test data not found at " << dir.string()
                 << " (it lives in ../shared next to the project root; MLXS_SOURCE_DIR overrides the root)";
  std::vector<std::pair<std::string, std::string>> templates;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".jinja") templates.emplace_back(e.path().filename().string(), read_file(e.path()));
  std::sort(templates.begin(), templates.end());
  templates.emplace_back("builtin-chatml", ChatTemplate::chatml());
  ASSERT_GT(templates.size(), 1u);

  auto convs = conversations();
  std::vector<std::pair<std::string, ChatTemplateInput>> cases;
  std::vector<std::string> labels;
  for (const auto& [name, src] : templates) {
    for (const auto& c : convs) {
      ChatTemplateInput in;
      in.messages = c.messages;
      in.tools = c.tools;
      in.add_generation_prompt = c.add_generation_prompt;
      in.bos_token = "<s>";
      in.eos_token = "</s>";
      in.extra = c.extra;
      in.now_unix_seconds = chat_test::kFixedNow;
      cases.emplace_back(src, in);
      labels.push_back(name + " x " + c.name);
    }
  }
  std::string skip;
  auto py = chat_test::run_oracle(cases, &skip);
  if (!py) {
    if (skip.rfind("render_oracle.py failed", 0) == 0) FAIL() << skip;
    GTEST_SKIP() << skip;
  }

  Outcome o;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto tmpl = ChatTemplate::parse(cases[i].first);
    ASSERT_TRUE(tmpl.ok()) << labels[i] << ": " << tmpl.status().message();
    compare(labels[i], tmpl->render(cases[i].second), (*py)[i], o);
  }
  int py_errors = 0;
  for (const auto& r : *py) py_errors += r.ok ? 0 : 1;
  std::cout << "[ oracle   ] Python raised in " << py_errors << " of " << py->size() << " cases\n";
  if (std::getenv("MLXS_CHAT_ORACLE_VERBOSE"))
    for (size_t i = 0; i < py->size(); ++i)
      if (!(*py)[i].ok) {
        auto ours = ChatTemplate::parse(cases[i].first)->render(cases[i].second);
        std::cout << "  " << labels[i] << "\n    python: " << (*py)[i].error_type << ": " << (*py)[i].error
                  << "\n    ours:   " << (ours.ok() ? "(rendered)" : ours.status().message()) << "\n";
      }
  std::cout << "[ oracle   ] " << o.matched << "/" << o.total << " template x conversation combinations match\n";
  for (const auto& f : o.failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace mlxs

#include "snippets.h"

namespace mlxs {
namespace {

// Keeps snippets.inc honest: live Python must still produce the recorded
// results, and so must we.
TEST(ChatTemplateOracle, SnippetsMatchPythonJinja2) {
  const auto& snips = chat_test::snippets();
  std::vector<std::pair<std::string, ChatTemplateInput>> cases;
  for (const auto& s : snips) cases.emplace_back(s.tmpl, chat_test::snippet_input());
  std::string skip;
  auto py = chat_test::run_oracle(cases, &skip);
  if (!py) {
    if (skip.rfind("render_oracle.py failed", 0) == 0) FAIL() << skip;
    GTEST_SKIP() << skip;
  }
  int matched = 0;
  for (size_t i = 0; i < snips.size(); ++i) {
    const auto& p = (*py)[i];
    std::string py_recorded = p.ok ? p.output : p.error_type + ": " + p.error;
    EXPECT_EQ(p.ok, snips[i].ok) << snips[i].name;
    EXPECT_EQ(py_recorded, snips[i].expected) << snips[i].name << ": Python no longer matches snippets.inc";
    auto out = ChatTemplate::parse(snips[i].tmpl)->render(cases[i].second);
    bool same = p.ok ? (out.ok() && out.value() == p.output)
                     : (!out.ok() && chat_test::same_error(out.status().message(), p.error_type, p.error));
    EXPECT_TRUE(same) << snips[i].name << "\npython: " << py_recorded
                      << "\nours:   " << (out.ok() ? out.value() : "error: " + out.status().message());
    matched += same ? 1 : 0;
  }
  std::cout << "[ oracle   ] " << matched << "/" << snips.size() << " snippets match\n";
}

}  // namespace
}  // namespace mlxs
