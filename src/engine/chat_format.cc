#include "engine/chat_format.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;

ChatTemplateSource chatml() { return {ChatTemplate::chatml(), "built-in ChatML", true}; }

Result<ChatTemplateSource> from_folder(const std::string& dir) {
  fs::path config = fs::path(dir) / "tokenizer_config.json";
  std::error_code ec;
  if (fs::exists(config, ec)) {
    std::ifstream in(config, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Status::Error(config.string() + ": not a JSON object");
    if (j.contains("chat_template")) {
      const auto& t = j["chat_template"];
      if (t.is_string()) return ChatTemplateSource{t.get<std::string>(), config.string() + ": chat_template", false};
      if (t.is_array()) {
        for (const auto& e : t)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
            return ChatTemplateSource{e["template"].get<std::string>(), config.string() + ": chat_template (default)", false};
        return Status::Error(config.string() + ": chat_template is a list without a \"default\" entry");
      }
      if (!t.is_null()) return Status::Error(config.string() + ": chat_template must be a string or a list");
    }
  }
  fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (fs::exists(jinja, ec)) {
    std::ifstream in(jinja, std::ios::binary);
    return ChatTemplateSource{std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()),
                              jinja.string(), false};
  }
  return chatml();
}

}  // namespace

Result<ChatTemplateSource> load_chat_template_source(const std::string& model_path) {
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) return from_folder(model_path);
  auto f = GgufFile::open(model_path);
  if (!f.ok()) return f.status();
  return chat_template_source(*f.value());
}

ChatTemplateSource chat_template_source(const GgufFile& f) {
  if (auto t = f.get_string("tokenizer.chat_template"))
    return ChatTemplateSource{*t, f.path() + ": tokenizer.chat_template", false};
  return chatml();
}

ChatFormatter::ChatFormatter(ChatTemplateSource source, std::string bos_token, std::string eos_token)
    : source_(std::move(source)), bos_(std::move(bos_token)), eos_(std::move(eos_token)) {
  auto t = ChatTemplate::parse(source_.text);
  if (t.ok()) {
    tmpl_ = std::make_shared<const ChatTemplate>(std::move(t.value()));
  } else {
    parse_error_ = Status::Error(source_.origin + ": chat template does not parse: " + t.status().message());
  }
}

ChatFormatter ChatFormatter::for_model(ChatTemplateSource source, const Tokenizer& tok) {
  auto text_of = [&](TokenId id) { return id >= 0 && id < tok.n_vocab() ? tok.token_text(id) : std::string(); };
  return ChatFormatter(std::move(source), text_of(tok.bos_id()), text_of(tok.eos_id()));
}

Result<std::string> ChatFormatter::render(const nlohmann::ordered_json& messages,
                                          const nlohmann::ordered_json& tools,
                                          bool add_generation_prompt) const {
  if (!tmpl_) return parse_error_;
  if (!messages.is_array()) return Status::Error("messages must be an array");
  ChatTemplateInput in;
  in.messages = messages;
  in.tools = tools;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = bos_;
  in.eos_token = eos_;
  auto out = tmpl_->render(in);
  if (!out.ok()) return Status::Error("chat template (" + source_.origin + "): " + out.status().message());
  return out;
}

}  // namespace mlxs
