// Small templates covering each construct, filter, test and method, with the
// output Python jinja2 produced for them (snippets.inc).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "chat/chat_template.h"

namespace mlxs::chat_test {

struct Snippet {
  const char* name;
  const char* tmpl;
  bool ok;               // whether Python rendered it
  const char* expected;  // output, or "ErrorType: message"
};

// gtest names parameters by this.
inline void PrintTo(const Snippet& s, std::ostream* os) { *os << s.name; }

#include "snippets.inc"

inline ChatTemplateInput snippet_input() {
  ChatTemplateInput in;
  in.messages = nlohmann::ordered_json::array();
  in.tools = nullptr;
  in.add_generation_prompt = false;
  in.extra = nlohmann::ordered_json::parse(kSnippetVars);
  in.now_unix_seconds = 1721995200;
  return in;
}

// Our error must be Python's message: exactly for raise_exception()'s
// TemplateError, else after our "line:col: " prefix.
inline bool same_error(const std::string& ours, const std::string& py_type, const std::string& py_msg) {
  if (py_type == "TemplateError") return ours == py_msg;
  return ours.size() >= py_msg.size() && ours.compare(ours.size() - py_msg.size(), py_msg.size(), py_msg) == 0;
}

}  // namespace mlxs::chat_test
