// Writes one .safetensors file: an 8-byte little-endian header length, a JSON header
// (dtype, shape, data_offsets per tensor, "__metadata__"), padded with spaces to a multiple
// of 8 bytes, then the tensor data back to back. The bytes are produced while writing, a
// group of tensors at a time, so a large model never sits in memory whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace mlxs::testmodel {

struct StEntry {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", "U32", ...
  std::vector<int64_t> shape;  // outermost first
  size_t nbytes = 0;
};

// Tensors produced together (an MLX-quantized weight with its scales and biases).
struct StGroup {
  std::vector<StEntry> entries;
  size_t nbytes() const;
};

// Produces the bytes of group `index` (an index into the caller's list of groups): one blob
// per entry, each exactly entry.nbytes long.
using StFiller = std::function<Status(size_t index, std::vector<std::vector<uint8_t>>* blobs)>;

// Writes the groups whose indices are listed, in that order, to `path` (under a temporary
// name, renamed when complete).
Status write_safetensors(const std::string& path, const std::vector<StGroup>& groups,
                         const std::vector<size_t>& indices,
                         const std::map<std::string, std::string>& metadata,
                         const StFiller& fill);

}  // namespace mlxs::testmodel
