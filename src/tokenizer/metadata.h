// Readers for tokenizer.ggml.* keys. Every error names the file and the key, in the form
// "<path>: <key>: <problem>", so a bad model file can be fixed without a debugger.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/gguf.h"

namespace mlxs::metadata {

Status key_error(const GgufFile& file, const std::string& key, const std::string& what);

// Optional bool: absent gives `fallback`; a value of another type is an error.
Status read_flag(const GgufFile& file, const std::string& key, bool fallback, bool* out);

// Optional special-token id: absent gives `fallback` (or -1 when the fallback does not fit
// the vocabulary); -1 means "no such token"; anything else outside [0, n_vocab) or not an
// integer is an error.
Status read_special_id(const GgufFile& file, const std::string& key, int32_t n_vocab,
                       int32_t fallback, int32_t* out);

}  // namespace mlxs::metadata
