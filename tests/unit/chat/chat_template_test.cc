// ChatTemplate's API: parse errors with locations, runtime errors as values,
// raise_exception, limits that stop runaway templates, and the ChatML fallback.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "chat/chat_template.h"
#include "oracle.h"

namespace mlxs {
namespace {

using nlohmann::ordered_json;

ChatTemplateInput basic_input() {
  ChatTemplateInput in;
  in.messages = ordered_json::parse(R"([{"role": "system", "content": "Be nice."},
                                         {"role": "user", "content": "Hi"}])");
  in.tools = nullptr;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now_unix_seconds = chat_test::kFixedNow;
  return in;
}

Result<std::string> render(const std::string& src, const ChatTemplateInput& in = basic_input()) {
  auto t = ChatTemplate::parse(src);
  if (!t.ok()) return t.status();
  return t->render(in);
}

std::string parse_error(const std::string& src) {
  auto t = ChatTemplate::parse(src);
  return t.ok() ? "(parsed)" : t.status().message();
}

std::string render_error(const std::string& src) {
  auto r = render(src);
  return r.ok() ? "(rendered: " + r.value() + ")" : r.status().message();
}

TEST(ChatTemplate, RendersVariablesFromInput) {
  ChatTemplateInput in = basic_input();
  in.extra = ordered_json::parse(R"({"enable_thinking": false, "date_string": "1 Jan"})");
  auto out = render(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
      "{{ add_generation_prompt }}{{ tools }}{{ enable_thinking }}{{ date_string }}{{ eos_token }}",
      in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(), "<s>[system:Be nice.][user:Hi]TrueNoneFalse1 Jan</s>");
}

TEST(ChatTemplate, ChatmlFallback) {
  ChatTemplateInput in = basic_input();
  auto out = render(ChatTemplate::chatml(), in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(),
            "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  in.add_generation_prompt = false;
  out = render(ChatTemplate::chatml(), in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, ParsedTemplateIsReusableAndCopyable) {
  auto t = ChatTemplate::parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(t.ok());
  ChatTemplate copy = t.value();
  EXPECT_EQ(t->render(basic_input()).value(), "2");
  EXPECT_EQ(copy.render(basic_input()).value(), "2");  // no state leaks between renders
  std::string a, b;
  std::thread th1([&] { a = copy.render(basic_input()).value(); });
  std::thread th2([&] { b = t->render(basic_input()).value(); });
  th1.join();
  th2.join();
  EXPECT_EQ(a, "2");
  EXPECT_EQ(b, "2");
}

TEST(ChatTemplate, StrftimeNowUsesInjectedOrCurrentTime) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}").value(), "26 Jul 2024");
  ChatTemplateInput in = basic_input();
  in.now_unix_seconds.reset();
  auto out = render("{{ strftime_now('%Y') }}", in);
  ASSERT_TRUE(out.ok());
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  EXPECT_EQ(out.value(), std::to_string(tm.tm_year + 1900));
}

TEST(ChatTemplate, RaiseExceptionMessageSurfacesUnchanged) {
  EXPECT_EQ(render_error("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"),
            "System role not supported");
  // Raised from inside a macro inside a loop: still the bare message.
  EXPECT_EQ(render_error("{% macro check(m) %}{% if m.role != 'user' %}{{ raise_exception('bad role: ' + m.role) }}"
                         "{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}"),
            "bad role: system");
}

TEST(ChatTemplateErrors, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_EQ(parse_error("line one\n{% if x %}never closed"),
            "2:4: unexpected end of template: expected 'elif' or 'else' or 'endif' to close 'if'");
  EXPECT_EQ(parse_error("{% for x in y %}{% if x %}{% endfor %}"),
            "1:30: unexpected tag 'endfor'; the innermost block that needs to be closed is 'if'");
  EXPECT_EQ(parse_error("ok\n  {{ x | nofilter }}"), "2:10: no filter named 'nofilter'");
  EXPECT_EQ(parse_error("{% if x is notatest %}{% endif %}"), "1:12: no test named 'notatest'");
  EXPECT_EQ(parse_error("{% frobnicate %}"), "1:4: unknown tag 'frobnicate'");
  EXPECT_EQ(parse_error("{{ x"), "1:1: unclosed tag: expected '}}'");
  EXPECT_EQ(parse_error("{% if x"), "1:1: unclosed tag: expected '%}'");
  EXPECT_EQ(parse_error("{{ (1 }}"), "1:7: unexpected '}', expected ')'");
  EXPECT_EQ(parse_error("{{ 'abc }}"), "1:4: unterminated string literal");
  EXPECT_EQ(parse_error("a {# comment"), "1:3: missing end of comment tag");
  EXPECT_EQ(parse_error("{% raw %}abc"), "1:1: missing end of raw directive");
  EXPECT_EQ(parse_error("{{ }}"), "1:4: expected an expression, got 'end of print statement'");
  EXPECT_EQ(parse_error("{% break %}"), "1:4: 'break' outside of a loop");
  EXPECT_EQ(parse_error("{% endif %}"), "1:4: unknown tag 'endif'");
  EXPECT_EQ(parse_error("{{ 1 + }}"), "1:8: unexpected 'end of print statement'");
  EXPECT_EQ(parse_error("{% set 1 = 2 %}"), "1:8: can't assign to this expression");
  EXPECT_EQ(parse_error("{% macro m(a=1, b) %}{% endmacro %}"), "1:18: non-default argument follows default argument");
  EXPECT_EQ(parse_error("{{ a ! b }}"), "1:6: unexpected char '!'");
}

TEST(ChatTemplateErrors, RuntimeErrorsAreValuesWithLocation) {
  EXPECT_EQ(render_error("\n  {{ messages[0].content + 1 }}"), "2:3: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(render_error("{{ nope.attr }}"), "1:1: 'nope' is undefined");
  EXPECT_EQ(render_error("{{ nope() }}"), "1:1: 'nope' is undefined");
  EXPECT_EQ(render_error("{% for x in 5 %}{% endfor %}"), "1:13: 'int' object is not iterable");
  EXPECT_EQ(render_error("{{ messages.append(1) }}"), "1:1: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render_error("{% set x = 1 // 0 %}"), "1:4: integer division or modulo by zero");
}

TEST(ChatTemplateLimits, MacroRecursionIsBounded) {
  std::string err = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(err.find("maximum recursion depth exceeded in macro 'f'"), std::string::npos) << err;
}

TEST(ChatTemplateLimits, RunawayLoopsStopAtTheStepLimit) {
  auto start = std::chrono::steady_clock::now();
  std::string err = render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  EXPECT_NE(err.find("step limit"), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(ChatTemplateLimits, OutputAndStringSizesAreBounded) {
  std::string err = render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
  EXPECT_NE(err.find("output exceeds the size limit"), std::string::npos) << err;
  err = render_error("{{ 'x' * 100000000000 }}");
  EXPECT_NE(err.find("too large"), std::string::npos) << err;
  err = render_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}");
  EXPECT_NE(err.find("size limit"), std::string::npos) << err;
}

TEST(ChatTemplateLimits, DeepNestingFailsInsteadOfOverflowingTheStack) {
  EXPECT_NE(parse_error("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}").find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(100000, '[') + " }}").find("unexpected '}', expected ']'"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_NE(parse_error(ifs).find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_NE(parse_error("{{ " + nots + "x }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(100000, '-') + "1 }}").find("nested too deeply"), std::string::npos);
}

TEST(ChatTemplateLimits, InvalidUtf8DoesNotCrash) {
  ChatTemplateInput in = basic_input();
  in.extra = ordered_json::object();
  auto t = ChatTemplate::parse("{{ s|length }} {{ s[1:] }} {{ s|upper }}");
  ASSERT_TRUE(t.ok());
  // nlohmann stores the bytes as given; rendering must cope without throwing.
  in.extra["s"] = std::string("a\xff\xfe" "b");
  auto out = t->render(in);
  EXPECT_TRUE(out.ok()) << out.status().message();
}

// Every prefix of the real templates must parse or fail cleanly.
TEST(ChatTemplateLimits, TruncatedRealTemplatesFailCleanly) {
  auto dir = chat_test::source_root() / ".." / "shared" / "testdata" / "chat-templates";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "chat-template test data not found at " << dir.string();
  int parsed = 0, failed = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string src = ss.str();
    for (size_t n = 0; n < src.size(); n += 5) {
      auto t = ChatTemplate::parse(src.substr(0, n));
      if (!t.ok()) {
        ++failed;
        EXPECT_NE(t.status().message().find(':'), std::string::npos);
        continue;
      }
      ++parsed;
      (void)t->render(basic_input());  // may fail; must not crash
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace mlxs
