// The builtin filters, tests, object methods and global functions, each as
// jinja2 (with Hugging Face's overrides) defines them.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/value.h"

namespace mlxs::chat {

class Evaluator;
struct Scope;

using FilterFn = Result<Value> (*)(Evaluator&, const Value&, CallArgs&);
using TestFn = Result<bool> (*)(Evaluator&, const Value&, CallArgs&);

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Python attribute lookup on builtin types (str/dict/list methods, object
// attributes). nullopt: no such attribute. The sandbox's unsafe attributes
// (list.append, dict.update, ...) come back as an undefined that says so.
std::optional<Value> builtin_attribute(const Value& obj, const std::string& name);

// range, dict, namespace, raise_exception, strftime_now, cycler, joiner.
void install_globals(Scope& globals);

// Binds positional and keyword arguments to parameter names like a Python
// signature; absent parameters are nullopt. Unknown or repeated names fail.
using BoundArgs = std::vector<std::optional<Value>>;
Result<BoundArgs> bind_args(const CallArgs& args, std::string_view fn, std::initializer_list<std::string_view> names);

// str(x) as the filters see it (soft_str): undefined is "".
inline std::string soft_str(const Value& v) { return v.to_str(); }

}  // namespace mlxs::chat
