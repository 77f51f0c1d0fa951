// GGUF v3 writer: collects metadata and tensors, then writes the file in one pass with
// general.alignment padding. Used by the test-model generator and by tests that need
// GGUF files; the counterpart of gguf.h.
//
// Tensor data can be given up front (add_tensor) or produced while writing (declare_tensor
// plus a filler passed to write), so a multi-gigabyte model never has to sit in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/ggml_type.h"
#include "model/gguf.h"

namespace mlxs {

class GgufWriter {
 public:
  struct TensorInfo {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> ne;  // ggml order: ne[0] is the row length
    size_t nbytes = 0;        // derived from type and ne
    uint64_t offset = 0;      // relative to the data section; assigned by the writer
  };

  // Produces the bytes of declared tensor `index` (in declaration order); `out` must end up
  // exactly info.nbytes long.
  using Filler = std::function<Status(size_t index, const TensorInfo& info,
                                      std::vector<uint8_t>* out)>;

  explicit GgufWriter(uint32_t alignment = 32);

  // Scalars. Setting a key again replaces its value but keeps its original position.
  void set_u8(const std::string& key, uint8_t v);
  void set_i8(const std::string& key, int8_t v);
  void set_u16(const std::string& key, uint16_t v);
  void set_i16(const std::string& key, int16_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_i64(const std::string& key, int64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);

  // Arrays of the common element types.
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_u32s(const std::string& key, const std::vector<uint32_t>& v);
  void set_i64s(const std::string& key, const std::vector<int64_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_f64s(const std::string& key, const std::vector<double>& v);
  void set_bools(const std::string& key, const std::vector<bool>& v);

  // Any value as read by GgufFile, nested arrays included (copies keys between files).
  Status set_value(const std::string& key, const GgufValue& v);

  bool has_key(const std::string& key) const;
  void remove_key(const std::string& key);

  // Adds a tensor with its bytes. Checks the name is new, the shape has 1..4 positive dims,
  // the row length fits the type's block size and `data` has the exact size.
  Status add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                    std::vector<uint8_t> data);
  // Adds a tensor whose bytes the filler given to write() produces.
  Status declare_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Writes the file. Tensors declared without data are requested from `fill` in order;
  // it may be empty when every tensor was added with its data. The file is written under a
  // temporary name and renamed, so a failed write leaves no half-written model behind.
  Status write(const std::string& path, const Filler& fill = nullptr);

 private:
  struct Entry {
    std::string key;
    GgufType type;
    std::vector<uint8_t> bytes;  // encoded value (without key and type)
  };
  void put(const std::string& key, GgufType type, std::vector<uint8_t> bytes);
  Status check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                      size_t* nbytes) const;

  uint32_t alignment_;
  std::vector<Entry> kv_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::vector<uint8_t>> data_;  // per tensor; empty for declared tensors
  std::vector<bool> has_data_;
};

}  // namespace mlxs
