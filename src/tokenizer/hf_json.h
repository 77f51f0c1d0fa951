// Reading tokenizer.json / tokenizer_config.json: parsing, typed field access, and errors
// of the form "<file>: <json path>: <problem>" (e.g. "tokenizer.json: model.merges[7]:
// expected two tokens"), so a broken model folder can be fixed without a debugger.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "base/status.h"
#include "tokenizer/regex.h"

namespace mlxs::hf {

using Json = nlohmann::json;

class JsonFile {
 public:
  // Reads and parses the file; I/O and syntax errors name the file.
  static Result<JsonFile> load(const std::string& path);

  const std::string& path() const { return path_; }
  const Json& root() const { return root_; }
  Status error(const std::string& where, const std::string& what) const;

 private:
  std::string path_;
  Json root_;
};

// "object.key", or "key" at the top level.
std::string join(const std::string& where, const std::string& key);
// "array[i]".
std::string index(const std::string& where, size_t i);
// JSON type name for messages ("string", "number", ...).
std::string type_of(const Json& v);

// The typed readers treat an absent key and an explicit null alike (tokenizer.json writes
// null for unset options) and fail with a message naming the file and field otherwise.
Status read_bool(const JsonFile& f, const Json& obj, const std::string& where,
                 const std::string& key, bool fallback, bool* out);
Status read_string(const JsonFile& f, const Json& obj, const std::string& where,
                   const std::string& key, std::optional<std::string>* out);
// A required string field.
Status require_string(const JsonFile& f, const Json& obj, const std::string& where,
                      const std::string& key, std::string* out);
// A required array or object field.
Status require_array(const JsonFile& f, const Json& obj, const std::string& where,
                     const std::string& key, const Json** out);

// Reads the "pattern" field of Replace and Split: {"String": "..."} gives a literal in
// `literal`, {"Regex": "..."} a compiled regex in `regex`.
Status read_pattern(const JsonFile& f, const Json& obj, const std::string& where,
                    std::string* literal, std::optional<Regex>* regex);

}  // namespace mlxs::hf
