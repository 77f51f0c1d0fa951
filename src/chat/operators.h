// Python semantics of the operators templates use: arithmetic, `in`, indexing
// and slicing. Errors carry Python's messages.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "chat/value.h"

namespace mlxs::chat {

// op is one of + - * / // % **.
Result<Value> binary_op(const std::string& op, const Value& a, const Value& b);
Result<Value> negate(const Value& v, bool minus);
// `item in container`.
Result<bool> contains(const Value& container, const Value& item);
// obj[start:stop:step] for lists, tuples and strings; null Values mean None.
Result<Value> slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
// obj[index] for lists/tuples/strings/dicts; nullopt when the lookup fails the
// way Python raises LookupError/TypeError (the caller falls back to attributes).
std::optional<Value> index_value(const Value& obj, const Value& key);

}  // namespace mlxs::chat
