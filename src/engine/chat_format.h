// The model's own chat template, ready to turn OpenAI-style messages into a prompt.
// Where it comes from: GGUF `tokenizer.chat_template`, or a folder's tokenizer_config.json
// `chat_template` (a string, or a list of named templates: "default" is used) or
// chat_template.jinja. A model without one gets ChatML. A template that does not parse is
// reported (with its origin and line:column) when a chat is rendered, not at load, so
// plain completions still work.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "chat/chat_template.h"

namespace mlxs {

class Tokenizer;
class GgufFile;

struct ChatTemplateSource {
  std::string text;
  std::string origin;  // "model.gguf: tokenizer.chat_template", or "built-in ChatML"
  bool fallback = false;
};

// Reads only the template from a GGUF file or a model folder.
Result<ChatTemplateSource> load_chat_template_source(const std::string& model_path);
// The same from an already open GGUF file (nullptr: none).
ChatTemplateSource chat_template_source(const GgufFile& f);

class ChatFormatter {
 public:
  ChatFormatter(ChatTemplateSource source, std::string bos_token, std::string eos_token);
  // bos/eos strings from the tokenizer's special tokens.
  static ChatFormatter for_model(ChatTemplateSource source, const Tokenizer& tok);

  // messages: OpenAI-style array; tools: array or null.
  Result<std::string> render(const nlohmann::ordered_json& messages,
                             const nlohmann::ordered_json& tools,
                             bool add_generation_prompt) const;
  const ChatTemplateSource& source() const { return source_; }

 private:
  ChatTemplateSource source_;
  std::string bos_, eos_;
  std::shared_ptr<const ChatTemplate> tmpl_;  // null when the template did not parse
  Status parse_error_;
};

}  // namespace mlxs
