#include "tokenizer/metadata.h"

#include <optional>

namespace mlxs::metadata {

Status key_error(const GgufFile& file, const std::string& key, const std::string& what) {
  return Status::Error(file.path() + ": " + key + ": " + what);
}

Status read_flag(const GgufFile& file, const std::string& key, bool fallback, bool* out) {
  const GgufValue* v = file.find(key);
  if (!v) {
    *out = fallback;
    return Status::Ok();
  }
  std::optional<bool> b = file.get_bool(key);
  if (!b) return key_error(file, key, "expected a bool, got " + v->to_string());
  *out = *b;
  return Status::Ok();
}

Status read_special_id(const GgufFile& file, const std::string& key, int32_t n_vocab,
                       int32_t fallback, int32_t* out) {
  const GgufValue* v = file.find(key);
  if (!v) {
    *out = fallback < n_vocab ? fallback : -1;
    return Status::Ok();
  }
  std::optional<int64_t> id = file.get_int(key);
  if (!id) return key_error(file, key, "expected an integer, got " + v->to_string());
  if (*id == -1) {
    *out = -1;
    return Status::Ok();
  }
  if (*id < 0 || *id >= n_vocab) {
    return key_error(file, key,
                     "token id " + std::to_string(*id) + " is outside the vocabulary (" +
                         std::to_string(n_vocab) + " tokens)");
  }
  *out = static_cast<int32_t>(*id);
  return Status::Ok();
}

}  // namespace mlxs::metadata
