// Each construct, filter, test and method against the output Python jinja2
// produced for it (recorded in snippets.inc; re-checked live by oracle_test).
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "snippets.h"

namespace mlxs {
namespace {

class Constructs : public ::testing::TestWithParam<chat_test::Snippet> {};

TEST_P(Constructs, MatchRecordedPythonOutput) {
  const auto& s = GetParam();
  auto t = ChatTemplate::parse(s.tmpl);
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto out = t->render(chat_test::snippet_input());
  if (s.ok) {
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value(), s.expected);
  } else {
    ASSERT_FALSE(out.ok()) << "rendered: " << out.value();
    std::string exp = s.expected;
    size_t colon = exp.find(": ");
    EXPECT_TRUE(chat_test::same_error(out.status().message(), exp.substr(0, colon), exp.substr(colon + 2)))
        << "ours: " << out.status().message() << "\npython: " << exp;
  }
}

INSTANTIATE_TEST_SUITE_P(Snippets, Constructs, ::testing::ValuesIn(chat_test::snippets()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mlxs
