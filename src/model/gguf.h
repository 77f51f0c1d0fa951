// GGUF (v2/v3) reader over a memory map: metadata of every value type, the tensor
// directory and pointers to tensor data inside the map. Every read is bounds-checked and
// every failure names the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "model/ggml_type.h"

namespace mlxs {

enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

const char* gguf_type_name(GgufType t);

struct GgufValue;

// Arrays keep one typed vector filled, chosen by elem_type (integers and bools in ints,
// floats in floats, strings in strings, nested arrays in arrays).
struct GgufArray {
  GgufType elem_type = GgufType::UINT8;
  std::vector<int64_t> ints;     // all integer element types, and BOOL (0/1)
  std::vector<uint64_t> uints;   // UINT64 elements (values above INT64_MAX survive)
  std::vector<double> floats;    // FLOAT32/FLOAT64
  std::vector<std::string> strings;
  std::vector<GgufValue> arrays;
  size_t size() const;
};

struct GgufValue {
  GgufType type = GgufType::UINT8;
  int64_t i = 0;       // signed integer types and BOOL
  uint64_t u = 0;      // unsigned integer types (also mirrored in i when it fits)
  double f = 0;        // FLOAT32/FLOAT64
  std::string s;       // STRING
  std::shared_ptr<GgufArray> arr;  // ARRAY

  bool is_integer() const;
  bool is_float() const { return type == GgufType::FLOAT32 || type == GgufType::FLOAT64; }
  std::string to_string() const;  // short human-readable form (arrays abbreviated)
};

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;      // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t n_elements() const;
  int64_t rows() const { return ne.empty() ? 0 : n_elements() / ne[0]; }
  std::string shape_string() const;
};

class GgufFile {
 public:
  // Reads header, metadata and tensor directory; checks that every tensor's data lies inside
  // the file. With `metadata_only`, tensor data bounds are still checked but tensors may be
  // absent (vocabulary-only files have none).
  static Result<std::shared_ptr<GgufFile>> open(const std::string& path);
  // Parses a buffer already in memory (used by the fuzzer and tests); `name` is used in
  // messages. The buffer must outlive the returned object.
  static Result<std::shared_ptr<GgufFile>> parse(const uint8_t* data, size_t size,
                                                 const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  const GgufTensor* find_tensor(const std::string& name) const;

  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;   // any integer type
  std::optional<double> get_float(const std::string& key) const;  // float or integer
  std::optional<bool> get_bool(const std::string& key) const;
  const GgufArray* get_array(const std::string& key) const;

 private:
  GgufFile() = default;
  std::shared_ptr<MappedFile> map_;  // keeps the data alive when opened from a path
  std::string path_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace mlxs
