// Renders Hugging Face chat templates (Jinja2) the way transformers'
// apply_chat_template does: ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True), HF's tojson, raise_exception and strftime_now.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace mlxs {

struct ChatTemplateInput {
  nlohmann::ordered_json messages;  // OpenAI-style messages array
  nlohmann::ordered_json tools;     // array or null (null renders as None, as HF passes it)
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  nlohmann::ordered_json extra;  // other variables (e.g. "date_string", "enable_thinking")
  // strftime_now() reads this instant (UTC) when set, else the local clock.
  std::optional<int64_t> now_unix_seconds;
};

namespace chat {
struct Program;
}

class ChatTemplate {
 public:
  // Syntax errors read "line:column: what is wrong".
  static Result<ChatTemplate> parse(const std::string& source);
  // Runtime errors; raise_exception(msg) comes back as exactly msg.
  Result<std::string> render(const ChatTemplateInput& in) const;
  // The fallback template: ChatML, with add_generation_prompt.
  static std::string chatml();

 private:
  explicit ChatTemplate(std::shared_ptr<const chat::Program> p) : program_(std::move(p)) {}
  std::shared_ptr<const chat::Program> program_;
};

}  // namespace mlxs
