#include "chat/chat_template.h"

#include "chat/ast.h"
#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace mlxs {
namespace chat {

struct Program {
  std::string source;  // normalized; error locations refer to it
  SourceMap map;
  Body body;
  Program(std::string s) : source(std::move(s)), map(source) {}
};

}  // namespace chat

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
  auto program = std::make_shared<chat::Program>(chat::normalize_source(source));
  auto tokens = chat::tokenize(program->source);
  if (!tokens.ok()) return tokens.status();
  auto body = chat::parse_template(*tokens, program->map);
  if (!body.ok()) return body.status();
  program->body = std::move(*body);
  return ChatTemplate(std::move(program));
}

Result<std::string> ChatTemplate::render(const ChatTemplateInput& in) const {
  using chat::Value;
  auto globals = std::make_shared<chat::Scope>();
  chat::install_globals(*globals);
  globals->vars["messages"] = Value::from_json(in.messages);
  globals->vars["tools"] = Value::from_json(in.tools);
  globals->vars["add_generation_prompt"] = Value(in.add_generation_prompt);
  globals->vars["bos_token"] = Value(in.bos_token);
  globals->vars["eos_token"] = Value(in.eos_token);
  if (in.extra.is_object())
    for (auto it = in.extra.begin(); it != in.extra.end(); ++it) globals->vars[it.key()] = Value::from_json(it.value());
  chat::Evaluator ev(program_->map, chat::RenderLimits{}, in.now_unix_seconds);
  std::string out;
  Status st = ev.render(program_->body, globals, out);
  if (!st.ok()) return st;
  return out;
}

std::string ChatTemplate::chatml() {
  return "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
         "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
}

}  // namespace mlxs
