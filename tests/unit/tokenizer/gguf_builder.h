// Builds small GGUF v3 images in memory for tokenizer tests (metadata only, no tensors).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace mlxs::testing {

class GgufBuilder {
 public:
  GgufBuilder& str(const std::string& key, const std::string& v) {
    entry(key, GgufType::STRING);
    put_str(v);
    return *this;
  }
  GgufBuilder& u32(const std::string& key, uint32_t v) {
    entry(key, GgufType::UINT32);
    put(v);
    return *this;
  }
  GgufBuilder& i32(const std::string& key, int32_t v) {
    entry(key, GgufType::INT32);
    put(v);
    return *this;
  }
  GgufBuilder& boolean(const std::string& key, bool v) {
    entry(key, GgufType::BOOL);
    put<uint8_t>(v ? 1 : 0);
    return *this;
  }
  GgufBuilder& strings(const std::string& key, const std::vector<std::string>& v) {
    array_header(key, GgufType::STRING, v.size());
    for (const auto& s : v) put_str(s);
    return *this;
  }
  GgufBuilder& floats(const std::string& key, const std::vector<float>& v) {
    array_header(key, GgufType::FLOAT32, v.size());
    for (float f : v) put(f);
    return *this;
  }
  GgufBuilder& ints(const std::string& key, const std::vector<int32_t>& v) {
    array_header(key, GgufType::INT32, v.size());
    for (int32_t i : v) put(i);
    return *this;
  }

  // Parses the image; the builder keeps the bytes alive, so it must outlive the result.
  Result<std::shared_ptr<GgufFile>> parse() {
    bytes_.clear();
    const auto append = [&](const void* p, size_t n) {
      const auto* b = static_cast<const uint8_t*>(p);
      bytes_.insert(bytes_.end(), b, b + n);
    };
    const uint32_t magic = 0x46554747, version = 3;
    const uint64_t n_tensors = 0, n_kv = count_;
    append(&magic, 4);
    append(&version, 4);
    append(&n_tensors, 8);
    append(&n_kv, 8);
    bytes_.insert(bytes_.end(), kv_.begin(), kv_.end());
    while (bytes_.size() % 32) bytes_.push_back(0);
    return GgufFile::parse(bytes_.data(), bytes_.size(), "test.gguf");
  }

 private:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    kv_.insert(kv_.end(), p, p + sizeof(T));
  }
  void put_str(const std::string& s) {
    put<uint64_t>(s.size());
    kv_.insert(kv_.end(), s.begin(), s.end());
  }
  void entry(const std::string& key, GgufType t) {
    put_str(key);
    put(static_cast<uint32_t>(t));
    ++count_;
  }
  void array_header(const std::string& key, GgufType elem, size_t n) {
    entry(key, GgufType::ARRAY);
    put(static_cast<uint32_t>(elem));
    put<uint64_t>(n);
  }

  std::vector<uint8_t> kv_;
  std::vector<uint8_t> bytes_;
  uint64_t count_ = 0;
};

}  // namespace mlxs::testing
