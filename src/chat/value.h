// The runtime value of the template interpreter, modelled on the Python objects
// jinja2 manipulates: undefined, None, bool, int, float, str, list, tuple, dict,
// callables and attribute objects (namespace(), loop). Containers are shared and
// immutable once built (HF renders in an ImmutableSandboxedEnvironment), except a
// namespace's attributes, which `{% set ns.x = ... %}` may change.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace mlxs::chat {

class Value;
class Evaluator;

struct Seq {
  std::vector<Value> items;
  bool tuple = false;
};

// Insertion-ordered like a Python 3.7+ dict. Lookup is linear: template dicts
// are small, and keys compare with Python equality (1 == 1.0 == True).
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct Callable {
  std::string name;
  std::string repr;  // what str() prints
  std::function<Result<Value>(Evaluator&, CallArgs&)> fn;
};

// Attribute-only object: namespace() (mutable) and the loop variable.
struct Object {
  std::string type_name;
  Dict attrs;
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable, kObject };

  Value() : v_(Undef{nullptr}) {}
  Value(bool b) : v_(b) {}                                           // NOLINT
  Value(int64_t i) : v_(i) {}                                        // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}                      // NOLINT
  Value(double d) : v_(d) {}                                         // NOLINT
  Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                    // NOLINT

  static Value undefined(std::string hint);
  static Value none() { Value v; v.v_ = None{}; return v; }
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(Dict d);
  static Value callable(std::string name, std::function<Result<Value>(Evaluator&, CallArgs&)> fn,
                        std::string repr = "");
  static Value object(std::shared_ptr<Object> obj);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  // Python's numbers include bool.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }  // list or tuple
  bool is_tuple() const { return is_list() && seq().tuple; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_callable() const { return kind() == Kind::kCallable; }
  bool is_object() const { return kind() == Kind::kObject; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
  double as_double() const { return is_float() ? std::get<double>(v_) : static_cast<double>(as_int()); }
  const std::string& str() const { return *std::get<StrPtr>(v_); }
  const Seq& seq() const { return *std::get<SeqPtr>(v_); }
  const std::vector<Value>& items() const { return seq().items; }
  const Dict& dict() const { return *std::get<DictPtr>(v_); }
  const Callable& fn() const { return *std::get<FnPtr>(v_); }
  const std::shared_ptr<Object>& obj() const { return std::get<ObjPtr>(v_); }
  // Message UndefinedError reports when this undefined is used.
  std::string undefined_message() const;

  bool truthy() const;
  // Python type name, for error messages ("str", "NoneType", ...).
  std::string type_name() const;
  // str(x) as Python prints it; undefined prints as "".
  std::string to_str() const;
  // repr(x).
  std::string repr() const;
  // Identity of shared objects, for `is sameas`.
  const void* identity() const;

 private:
  struct Undef {
    std::shared_ptr<const std::string> hint;
  };
  struct None {};
  using StrPtr = std::shared_ptr<const std::string>;
  using SeqPtr = std::shared_ptr<const Seq>;
  using DictPtr = std::shared_ptr<const Dict>;
  using FnPtr = std::shared_ptr<const Callable>;
  using ObjPtr = std::shared_ptr<Object>;
  std::variant<Undef, None, bool, int64_t, double, StrPtr, SeqPtr, DictPtr, FnPtr, ObjPtr> v_;
};

// Python `==`.
bool py_equal(const Value& a, const Value& b);
// Python `<` where defined; an error for unorderable types.
Result<bool> py_less(const Value& a, const Value& b);
// Undefined's message for `'x' has no attribute 'y'` style lookups.
std::string describe_for_undefined(const Value& obj);

}  // namespace mlxs::chat
