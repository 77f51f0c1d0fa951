// jinja2's builtin tests (`x is defined`, `x is string`, ...).
#include <cmath>
#include <unordered_map>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/operators.h"

namespace mlxs::chat {
namespace {

Result<Value> one_arg(const CallArgs& args, const char* name) {
  auto b = bind_args(args, name, {"other"});
  if (!b.ok()) return b.status();
  if (!(*b)[0]) return Status::Error(std::string(name) + "() missing 1 required positional argument: 'other'");
  return *(*b)[0];
}

#define SIMPLE_TEST(fn, expr) \
  Result<bool> fn(Evaluator&, const Value& v, CallArgs&) { return (expr); }

SIMPLE_TEST(t_defined, !v.is_undefined())
SIMPLE_TEST(t_undefined, v.is_undefined())
SIMPLE_TEST(t_none, v.is_none())
SIMPLE_TEST(t_string, v.is_string())
SIMPLE_TEST(t_number, v.is_number())
SIMPLE_TEST(t_integer, v.is_int())
SIMPLE_TEST(t_float, v.is_float())
SIMPLE_TEST(t_boolean, v.is_bool())
SIMPLE_TEST(t_mapping, v.is_dict())
// Undefined iterates as empty, so it counts as iterable.
SIMPLE_TEST(t_iterable, v.is_list() || v.is_dict() || v.is_string() || v.is_undefined())
SIMPLE_TEST(t_sequence, v.is_list() || v.is_dict() || v.is_string() || v.is_undefined())
SIMPLE_TEST(t_true, v.is_bool() && v.as_bool())
SIMPLE_TEST(t_false, v.is_bool() && !v.as_bool())
SIMPLE_TEST(t_callable, v.is_callable())
SIMPLE_TEST(t_escaped, false)

Result<bool> t_lower(Evaluator&, const Value& v, CallArgs&) {
  std::string s = soft_str(v);
  bool cased = false;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
    if (c >= 'a' && c <= 'z') cased = true;
  }
  return cased;
}

Result<bool> t_upper(Evaluator&, const Value& v, CallArgs&) {
  std::string s = soft_str(v);
  bool cased = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') return false;
    if (c >= 'A' && c <= 'Z') cased = true;
  }
  return cased;
}

Result<bool> parity(const Value& v, int want) {
  if (v.is_undefined()) return Status::Error(v.undefined_message());
  if (!v.is_number()) return Status::Error("not all arguments converted during string formatting");
  if (v.is_float()) {
    double m = std::fmod(v.as_double(), 2.0);
    if (m < 0) m += 2;
    return static_cast<int>(m) == want && m == std::floor(m);
  }
  int64_t m = v.as_int() % 2;
  if (m < 0) m += 2;
  return m == want;
}
Result<bool> t_even(Evaluator&, const Value& v, CallArgs&) { return parity(v, 0); }
Result<bool> t_odd(Evaluator&, const Value& v, CallArgs&) { return parity(v, 1); }

Result<bool> t_divisibleby(Evaluator&, const Value& v, CallArgs& args) {
  auto b = bind_args(args, "divisibleby", {"num"});
  if (!b.ok()) return b.status();
  if (!(*b)[0]) return Status::Error("divisibleby() missing 1 required positional argument: 'num'");
  auto r = binary_op("%", v, *(*b)[0]);
  if (!r.ok()) return r.status();
  return !r->truthy();
}

Result<bool> t_eq(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "eq");
  if (!o.ok()) return o.status();
  return py_equal(v, *o);
}
Result<bool> t_ne(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "ne");
  if (!o.ok()) return o.status();
  return !py_equal(v, *o);
}
Result<bool> t_lt(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "lt");
  if (!o.ok()) return o.status();
  return py_less(v, *o);
}
Result<bool> t_gt(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "gt");
  if (!o.ok()) return o.status();
  return py_less(*o, v);
}
Result<bool> t_le(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "le");
  if (!o.ok()) return o.status();
  auto r = py_less(*o, v);
  if (!r.ok()) return r.status();
  return !*r;
}
Result<bool> t_ge(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "ge");
  if (!o.ok()) return o.status();
  auto r = py_less(v, *o);
  if (!r.ok()) return r.status();
  return !*r;
}
Result<bool> t_in(Evaluator&, const Value& v, CallArgs& args) {
  auto b = bind_args(args, "in", {"seq"});
  if (!b.ok()) return b.status();
  if (!(*b)[0]) return Status::Error("test_in() missing 1 required positional argument: 'seq'");
  return contains(*(*b)[0], v);
}
Result<bool> t_sameas(Evaluator&, const Value& v, CallArgs& args) {
  auto o = one_arg(args, "sameas");
  if (!o.ok()) return o.status();
  const Value& x = *o;
  // Python small values (None, bools) are singletons; containers compare by identity.
  if (v.kind() != x.kind()) return false;
  if (v.is_none() || v.is_undefined()) return v.is_none();
  if (v.is_bool() || v.is_int()) return v.as_int() == x.as_int();
  if (v.is_float()) return false;
  return v.identity() == x.identity();
}
Result<bool> t_filter(Evaluator&, const Value& v, CallArgs&) { return v.is_string() && has_filter(v.str()); }
Result<bool> t_test(Evaluator&, const Value& v, CallArgs&) { return v.is_string() && has_test(v.str()); }

const std::unordered_map<std::string_view, TestFn>& table() {
  static const std::unordered_map<std::string_view, TestFn> t = {
      {"defined", t_defined},   {"undefined", t_undefined}, {"none", t_none},
      {"string", t_string},     {"number", t_number},       {"integer", t_integer},
      {"float", t_float},       {"boolean", t_boolean},     {"mapping", t_mapping},
      {"iterable", t_iterable}, {"sequence", t_sequence},   {"true", t_true},
      {"false", t_false},       {"callable", t_callable},   {"escaped", t_escaped},
      {"lower", t_lower},       {"upper", t_upper},         {"even", t_even},
      {"odd", t_odd},           {"divisibleby", t_divisibleby},
      {"eq", t_eq},             {"equalto", t_eq},          {"==", t_eq},
      {"ne", t_ne},             {"!=", t_ne},               {"lt", t_lt},
      {"lessthan", t_lt},       {"<", t_lt},                {"le", t_le},
      {"<=", t_le},             {"gt", t_gt},               {"greaterthan", t_gt},
      {">", t_gt},              {"ge", t_ge},               {">=", t_ge},
      {"in", t_in},             {"sameas", t_sameas},       {"filter", t_filter},
      {"test", t_test},
  };
  return t;
}

}  // namespace

bool has_test(std::string_view name) { return table().count(name) > 0; }
TestFn find_test(std::string_view name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

}  // namespace mlxs::chat
