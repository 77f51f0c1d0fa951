#include "tokenizer/hf_json.h"

#include <fstream>
#include <sstream>

namespace mlxs::hf {

Result<JsonFile> JsonFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": read error");
  JsonFile f;
  f.path_ = path;
  try {
    f.root_ = Json::parse(ss.str());
  } catch (const Json::exception& e) {
    return Status::Error(path + ": not valid JSON: " + e.what());
  }
  if (!f.root_.is_object()) return Status::Error(path + ": expected a JSON object at the top");
  return f;
}

Status JsonFile::error(const std::string& where, const std::string& what) const {
  return Status::Error(path_ + ": " + (where.empty() ? what : where + ": " + what));
}

std::string join(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

std::string index(const std::string& where, size_t i) {
  return where + "[" + std::to_string(i) + "]";
}

std::string type_of(const Json& v) { return v.type_name(); }

namespace {

const Json* field(const Json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

Status read_bool(const JsonFile& f, const Json& obj, const std::string& where,
                 const std::string& key, bool fallback, bool* out) {
  const Json* v = field(obj, key);
  if (!v) {
    *out = fallback;
    return Status::Ok();
  }
  if (!v->is_boolean()) return f.error(join(where, key), "expected true or false, got " + type_of(*v));
  *out = v->get<bool>();
  return Status::Ok();
}

Status read_string(const JsonFile& f, const Json& obj, const std::string& where,
                   const std::string& key, std::optional<std::string>* out) {
  const Json* v = field(obj, key);
  if (!v) {
    out->reset();
    return Status::Ok();
  }
  if (!v->is_string()) return f.error(join(where, key), "expected a string, got " + type_of(*v));
  *out = v->get<std::string>();
  return Status::Ok();
}

Status require_string(const JsonFile& f, const Json& obj, const std::string& where,
                      const std::string& key, std::string* out) {
  std::optional<std::string> s;
  MLXS_RETURN_IF_ERROR(read_string(f, obj, where, key, &s));
  if (!s) return f.error(join(where, key), "missing");
  *out = std::move(*s);
  return Status::Ok();
}

Status require_array(const JsonFile& f, const Json& obj, const std::string& where,
                     const std::string& key, const Json** out) {
  const Json* v = field(obj, key);
  if (!v) return f.error(join(where, key), "missing");
  if (!v->is_array()) return f.error(join(where, key), "expected an array, got " + type_of(*v));
  *out = v;
  return Status::Ok();
}

Status read_pattern(const JsonFile& f, const Json& obj, const std::string& where,
                    std::string* literal, std::optional<Regex>* regex) {
  const std::string w = join(where, "pattern");
  auto it = obj.find("pattern");
  if (it == obj.end() || !it->is_object()) return f.error(w, "missing or not an object");
  if (auto s = it->find("String"); s != it->end() && s->is_string()) {
    *literal = s->get<std::string>();
    if (literal->empty()) return f.error(w, "empty String pattern");
    return Status::Ok();
  }
  if (auto r = it->find("Regex"); r != it->end() && r->is_string()) {
    auto re = Regex::compile(r->get<std::string>());
    if (!re.ok()) return f.error(join(w, "Regex"), re.status().message());
    regex->emplace(std::move(re.value()));
    return Status::Ok();
  }
  return f.error(w, "expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace mlxs::hf
