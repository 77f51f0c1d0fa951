#include "chat/operators.h"

#include <cmath>

#include "chat/text.h"

namespace mlxs::chat {
namespace {

constexpr size_t kMaxRepeatBytes = 64u << 20;  // bounds 'x' * n before it eats memory

Status type_error(const std::string& op, const Value& a, const Value& b) {
  return Status::Error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                       b.type_name() + "'");
}

Result<Value> repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    if (seq.str().size() * static_cast<uint64_t>(n) > kMaxRepeatBytes) return Status::Error("string repetition too large");
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  if (seq.items().size() * static_cast<uint64_t>(n) > kMaxRepeatBytes / 16) return Status::Error("list repetition too large");
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.is_tuple());
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((b < 0) != (m < 0))) m += b;
  return m;
}

}  // namespace

Result<Value> binary_op(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) return Status::Error(a.undefined_message());
  if (b.is_undefined()) return Status::Error(b.undefined_message());
  if (a.is_number() && b.is_number()) {
    bool fl = a.is_float() || b.is_float();
    if (op == "/") {
      if (b.as_double() == 0) return Status::Error("division by zero");
      return Value(a.as_double() / b.as_double());
    }
    if (fl) {
      double x = a.as_double(), y = b.as_double();
      if (op == "+") return Value(x + y);
      if (op == "-") return Value(x - y);
      if (op == "*") return Value(x * y);
      if (op == "//") {
        if (y == 0) return Status::Error("float floor division by zero");
        // CPython's float_floor_div.
        double mod = std::fmod(x, y);
        double div = (x - mod) / y;
        if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1.0;
        double fd = std::floor(div);
        if (div - fd > 0.5) fd += 1.0;
        return Value(fd);
      }
      if (op == "%") {
        if (y == 0) return Status::Error("float modulo");
        return Value(py_fmod(x, y));
      }
      if (op == "**") {
        if (x == 0 && y < 0) return Status::Error("0.0 cannot be raised to a negative power");
        return Value(std::pow(x, y));
      }
    } else {
      int64_t x = a.as_int(), y = b.as_int(), r = 0;
      if (op == "+") {
        if (__builtin_add_overflow(x, y, &r)) return Status::Error("integer overflow");
        return Value(r);
      }
      if (op == "-") {
        if (__builtin_sub_overflow(x, y, &r)) return Status::Error("integer overflow");
        return Value(r);
      }
      if (op == "*") {
        if (__builtin_mul_overflow(x, y, &r)) return Status::Error("integer overflow");
        return Value(r);
      }
      if (op == "//" || op == "%") {
        if (y == 0) return Status::Error("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return Status::Error("integer overflow");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return op == "//" ? Value(q) : Value(m);
      }
      if (op == "**") {
        if (y < 0) {
          if (x == 0) return Status::Error("0.0 cannot be raised to a negative power");
          return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        int64_t result = 1, base = x;
        while (y > 0) {
          if (y & 1)
            if (__builtin_mul_overflow(result, base, &result)) return Status::Error("integer overflow");
          y >>= 1;
          if (y > 0 && __builtin_mul_overflow(base, base, &base)) return Status::Error("integer overflow");
        }
        return Value(result);
      }
    }
  }
  if (op == "+") {
    if (a.is_string()) {
      if (!b.is_string())
        return Status::Error("can only concatenate str (not \"" + b.type_name() + "\") to str");
      return Value(a.str() + b.str());
    }
    if (a.is_list()) {
      if (!b.is_list() || a.is_tuple() != b.is_tuple())
        return Status::Error("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " +
                             a.type_name());
      std::vector<Value> out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(out), a.is_tuple());
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string())
    return Status::Error("printf-style string formatting ('%') is not supported");
  return type_error(op, a, b);
}

Result<Value> negate(const Value& v, bool minus) {
  if (v.is_undefined()) return Status::Error(v.undefined_message());
  if (v.is_float()) return Value(minus ? -v.as_double() : v.as_double());
  if (v.is_int() || v.is_bool()) {
    if (minus && v.as_int() == INT64_MIN) return Status::Error("integer overflow");
    return Value(minus ? -v.as_int() : v.as_int());
  }
  return Status::Error(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" + v.type_name() + "'");
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string())
        return Status::Error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::kList:
      for (const auto& x : container.items())
        if (py_equal(x, item)) return true;
      return false;
    case Value::Kind::kDict: return container.dict().find(item) != nullptr;
    case Value::Kind::kUndefined: return false;  // iterates as empty
    default: return Status::Error("argument of type '" + container.type_name() + "' is not iterable");
  }
}

Result<Value> slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  auto as_opt = [](const Value& v, int64_t& out) -> Result<bool> {
    if (v.is_none() || v.is_undefined()) return false;
    if (!v.is_int() && !v.is_bool())
      return Status::Error("slice indices must be integers or None or have an __index__ method");
    out = v.as_int();
    return true;
  };
  int64_t st = 1, b = 0, e = 0;
  auto has_step = as_opt(step, st);
  if (!has_step.ok()) return has_step.status();
  if (*has_step && st == 0) return Status::Error("slice step cannot be zero");
  if (!*has_step) st = 1;
  std::vector<char32_t> cps;
  int64_t len = 0;
  if (obj.is_string()) {
    cps = utf8_decode(obj.str());
    len = static_cast<int64_t>(cps.size());
  } else if (obj.is_list()) {
    len = static_cast<int64_t>(obj.items().size());
  } else if (obj.is_undefined()) {
    return Status::Error(obj.undefined_message());
  } else {
    std::string msg(1, '\'');
    msg += obj.type_name();
    msg += "' object is not subscriptable";
    return Value::undefined(std::move(msg));
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](const Value& v, bool is_start) -> Result<int64_t> {
    int64_t x = 0;
    auto has = as_opt(v, x);
    if (!has.ok()) return has.status();
    if (!*has) return st < 0 ? (is_start ? len - 1 : -1) : (is_start ? 0 : len);
    if (x < 0) {
      x += len;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= len) {
      x = st < 0 ? len - 1 : len;
    }
    return x;
  };
  auto rb = adjust(start, true);
  if (!rb.ok()) return rb.status();
  auto re = adjust(stop, false);
  if (!re.ok()) return re.status();
  b = *rb;
  e = *re;
  std::vector<int64_t> idx;
  if (st > 0)
    for (int64_t i = b; i < e; i += st) idx.push_back(i);
  else
    for (int64_t i = b; i > e; i += st) idx.push_back(i);
  if (obj.is_string()) {
    std::string out;
    for (int64_t i : idx) utf8_append(out, cps[static_cast<size_t>(i)]);
    return Value(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
  return Value::list(std::move(out), obj.is_tuple());
}

std::optional<Value> index_value(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    const Value* v = obj.dict().find(key);
    if (v) return *v;
    return std::nullopt;
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return std::nullopt;
      return obj.items()[static_cast<size_t>(i)];
    }
    const std::string& s = obj.str();
    if (is_ascii(s)) {
      int64_t n = static_cast<int64_t>(s.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return std::nullopt;
      return Value(std::string(1, s[static_cast<size_t>(i)]));
    }
    auto cps = utf8_decode(s);
    int64_t n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    std::string out;
    utf8_append(out, cps[static_cast<size_t>(i)]);
    return Value(std::move(out));
  }
  return std::nullopt;
}

}  // namespace mlxs::chat
