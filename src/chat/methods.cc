// Python methods of str, dict and list that templates call (`s.strip()`,
// `d.items()`, ...), with the immutable sandbox's refusals.
#include <algorithm>
#include <set>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/text.h"

namespace mlxs::chat {
namespace {

using Method = std::function<Result<Value>(Evaluator&, CallArgs&)>;

Value bound(const std::string& type, const std::string& name, Method m) {
  return Value::callable(name, std::move(m), "<built-in method " + name + " of " + type + " object>");
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
}

Result<std::optional<std::string>> opt_str_arg(const BoundArgs& b, size_t i, const char* fn) {
  if (i >= b.size() || !b[i] || b[i]->is_none()) return std::optional<std::string>();
  if (!b[i]->is_string()) return Status::Error(std::string(fn) + " arg must be None or str");
  return std::optional<std::string>(b[i]->str());
}

std::vector<std::string> split_ws(const std::string& s, int64_t maxsplit) {
  std::vector<std::string> out;
  auto cps = utf8_decode(s);
  size_t i = 0, n = cps.size();
  while (i < n) {
    while (i < n && py_isspace(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      size_t e = n;
      while (e > i && py_isspace(cps[e - 1])) --e;
      out.push_back(utf8_encode(cps, i, e));
      break;
    }
    size_t b = i;
    while (i < n && !py_isspace(cps[i])) ++i;
    out.push_back(utf8_encode(cps, b, i));
  }
  return out;
}

Value str_list(const std::vector<std::string>& parts) {
  std::vector<Value> v;
  for (const auto& p : parts) v.emplace_back(p);
  return Value::list(std::move(v));
}

std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
    if (lower || upper) {
      if (prev_cased && upper) c = static_cast<char>(c - 'A' + 'a');
      if (!prev_cased && lower) c = static_cast<char>(c - 'a' + 'A');
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

Result<Value> affix_check(const std::string& s, const Value& arg, bool prefix) {
  std::vector<std::string> cands;
  if (arg.is_string()) {
    cands.push_back(arg.str());
  } else if (arg.is_tuple()) {
    for (const auto& x : arg.items()) {
      if (!x.is_string()) return Status::Error("tuple for startswith must only contain str");
      cands.push_back(x.str());
    }
  } else {
    return Status::Error(std::string(prefix ? "startswith" : "endswith") +
                         " first arg must be str or a tuple of str, not " + arg.type_name());
  }
  for (const auto& c : cands) {
    if (c.size() > s.size()) continue;
    if (prefix ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0) return Value(true);
  }
  return Value(false);
}

// str.format with {} / {0} / {name} fields (no format specs).
Result<Value> py_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t e = fmt.find('}', i);
      if (e == std::string::npos) return Status::Error("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, e - i - 1);
      if (field.find_first_of(":!.[") != std::string::npos)
        return Status::Error("format specs are not supported in str.format");
      const Value* v = nullptr;
      if (field.empty() || std::all_of(field.begin(), field.end(), [](char x) { return x >= '0' && x <= '9'; })) {
        size_t idx = field.empty() ? auto_idx++ : std::stoul(field);
        if (idx >= args.pos.size()) return Status::Error("Replacement index " + std::to_string(idx) + " out of range");
        v = &args.pos[idx];
      } else {
        for (const auto& [k, x] : args.kw)
          if (k == field) v = &x;
        if (!v) return Status::Error("'" + field + "'");
      }
      out += v->to_str();
      i = e;
    } else if (c == '}') {
      return Status::Error("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return Value(std::move(out));
}

std::optional<Value> str_method(const Value& self, const std::string& name) {
  const std::string t = "str";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return bound(t, name, [self, name, l, r](Evaluator&, CallArgs& a) -> Result<Value> {
      auto b = bind_args(a, name, {"chars"});
      if (!b.ok()) return b.status();
      auto chars = opt_str_arg(*b, 0, name.c_str());
      if (!chars.ok()) return chars.status();
      return Value(py_strip(self.str(), *chars ? &**chars : nullptr, l, r));
    });
  }
  if (name == "split" || name == "rsplit") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      auto b = bind_args(a, name, {"sep", "maxsplit"});
      if (!b.ok()) return b.status();
      auto sep = opt_str_arg(*b, 0, name.c_str());
      if (!sep.ok()) return sep.status();
      int64_t maxsplit = (*b)[1] ? (*b)[1]->as_int() : -1;
      const std::string& s = self.str();
      if (!*sep) {
        if (name == "rsplit" && maxsplit >= 0) return Status::Error("rsplit with maxsplit on whitespace is not supported");
        return str_list(split_ws(s, maxsplit));
      }
      const std::string& d = **sep;
      if (d.empty()) return Status::Error("empty separator");
      std::vector<std::string> parts;
      if (name == "split") {
        size_t pos = 0;
        while (true) {
          size_t f = (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) ? s.find(d, pos) : std::string::npos;
          if (f == std::string::npos) {
            parts.push_back(s.substr(pos));
            break;
          }
          parts.push_back(s.substr(pos, f - pos));
          pos = f + d.size();
        }
      } else {
        size_t end = s.size();
        while (true) {
          size_t f = (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) && end >= d.size()
                         ? s.rfind(d, end - d.size())
                         : std::string::npos;
          if (f == std::string::npos) {
            parts.push_back(s.substr(0, end));
            break;
          }
          parts.push_back(s.substr(f + d.size(), end - f - d.size()));
          end = f;
        }
        std::reverse(parts.begin(), parts.end());
      }
      return str_list(parts);
    });
  }
  if (name == "startswith" || name == "endswith") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (a.pos.size() != 1 || !a.kw.empty()) return Status::Error(name + "() takes exactly one argument");
      return affix_check(self.str(), a.pos[0], name == "startswith");
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase" ||
      name == "casefold") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (!a.pos.empty() || !a.kw.empty()) return Status::Error(name + "() takes no arguments");
      const std::string& s = self.str();
      if (name == "upper") return Value(ascii_upper(s));
      if (name == "lower" || name == "casefold") return Value(ascii_lower(s));
      if (name == "title") return Value(py_title(s));
      if (name == "capitalize") {
        std::string r = ascii_lower(s);
        if (!r.empty()) r[0] = ascii_upper(r.substr(0, 1))[0];
        return Value(r);
      }
      std::string r = s;
      for (char& c : r) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return Value(r);
    });
  }
  if (name == "replace") {
    return bound(t, name, [self](Evaluator&, CallArgs& a) -> Result<Value> {
      auto b = bind_args(a, "replace", {"old", "new", "count"});
      if (!b.ok()) return b.status();
      if (!(*b)[0] || !(*b)[1] || !(*b)[0]->is_string() || !(*b)[1]->is_string())
        return Status::Error("replace() arguments must be str");
      int64_t count = (*b)[2] ? (*b)[2]->as_int() : -1;
      const std::string &s = self.str(), &o = (*b)[0]->str(), &n = (*b)[1]->str();
      std::string out;
      if (o.empty()) {
        // Python inserts `new` between every character and at both ends.
        auto cps = utf8_decode(s);
        int64_t done = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
          if (count < 0 || done < count) {
            out += n;
            ++done;
          }
          if (i < cps.size()) utf8_append(out, cps[i]);
        }
        return Value(out);
      }
      size_t pos = 0;
      int64_t done = 0;
      while (count < 0 || done < count) {
        size_t f = s.find(o, pos);
        if (f == std::string::npos) break;
        out += s.substr(pos, f - pos) + n;
        pos = f + o.size();
        ++done;
      }
      out += s.substr(pos);
      return Value(out);
    });
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index" || name == "rindex") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (a.pos.size() != 1 || !a.pos[0].is_string()) return Status::Error(name + "() takes one str argument");
      const std::string& s = self.str();
      const std::string& sub = a.pos[0].str();
      if (name == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
        int64_t n = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return Value(n);
      }
      size_t f = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
      if (f == std::string::npos) {
        if (name == "index" || name == "rindex") return Status::Error("substring not found");
        return Value(int64_t{-1});
      }
      return Value(static_cast<int64_t>(utf8_length(s.substr(0, f))));
    });
  }
  if (name == "join") {
    return bound(t, name, [self](Evaluator& ev, CallArgs& a) -> Result<Value> {
      if (a.pos.size() != 1) return Status::Error("join() takes exactly one argument");
      auto items = ev.iterate(a.pos[0]);
      if (!items.ok()) return items.status();
      std::string out;
      for (size_t i = 0; i < items->size(); ++i) {
        const Value& x = (*items)[i];
        if (!x.is_string())
          return Status::Error("sequence item " + std::to_string(i) + ": expected str instance, " + x.type_name() +
                               " found");
        if (i) out += self.str();
        out += x.str();
      }
      return Value(out);
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper" || name == "isnumeric" || name == "isdecimal") {
    return bound(t, name, [self, name](Evaluator&, CallArgs&) -> Result<Value> {
      const std::string& s = self.str();
      auto cps = utf8_decode(s);
      if (name == "islower" || name == "isupper") {
        bool cased = false;
        for (char32_t c : cps) {
          bool lo = c >= 'a' && c <= 'z', up = c >= 'A' && c <= 'Z';
          if ((name == "islower" && up) || (name == "isupper" && lo)) return Value(false);
          cased = cased || lo || up;
        }
        return Value(cased);
      }
      if (cps.empty()) return Value(false);
      for (char32_t c : cps) {
        bool digit = c >= '0' && c <= '9';
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
        bool ok = name == "isspace" ? py_isspace(c) : name == "isalpha" ? alpha : name == "isalnum" ? (alpha || digit) : digit;
        if (!ok) return Value(false);
      }
      return Value(true);
    });
  }
  if (name == "splitlines") {
    return bound(t, name, [self](Evaluator&, CallArgs&) -> Result<Value> {
      std::vector<std::string> parts;
      const std::string& s = self.str();
      size_t b = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
          parts.push_back(s.substr(b, i - b));
          if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
          b = i + 1;
        }
      }
      if (b < s.size()) parts.push_back(s.substr(b));
      return str_list(parts);
    });
  }
  if (name == "format") {
    return bound(t, name, [self](Evaluator&, CallArgs& a) -> Result<Value> { return py_format(self.str(), a); });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (a.pos.size() != 1 || !a.pos[0].is_string()) return Status::Error(name + "() takes one str argument");
      const std::string &s = self.str(), &x = a.pos[0].str();
      if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
      if (name == "removesuffix" && x.size() <= s.size() && !x.empty() && s.compare(s.size() - x.size(), x.size(), x) == 0)
        return Value(s.substr(0, s.size() - x.size()));
      return self;
    });
  }
  static const std::set<std::string> kOther = {"center", "encode", "expandtabs", "format_map", "isascii",
                                                "isidentifier", "isprintable", "istitle", "ljust", "maketrans",
                                                "partition", "rjust", "rpartition", "translate", "zfill"};
  if (kOther.count(name)) {
    return bound(t, name, [name](Evaluator&, CallArgs&) -> Result<Value> {
      return Status::Error("str." + name + "() is not supported by this renderer");
    });
  }
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& self, const std::string& name) {
  const std::string t = "dict";
  if (name == "items" || name == "keys" || name == "values") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (!a.pos.empty() || !a.kw.empty()) return Status::Error(name + "() takes no arguments");
      std::vector<Value> out;
      for (const auto& [k, v] : self.dict().entries) {
        if (name == "items") out.push_back(Value::list({k, v}, true));
        else out.push_back(name == "keys" ? k : v);
      }
      return Value::list(std::move(out));
    });
  }
  if (name == "get") {
    return bound(t, name, [self](Evaluator&, CallArgs& a) -> Result<Value> {
      if (a.pos.empty() || a.pos.size() > 2 || !a.kw.empty()) return Status::Error("get expected 1 or 2 arguments");
      const Value* v = self.dict().find(a.pos[0]);
      if (v) return *v;
      return a.pos.size() == 2 ? a.pos[1] : Value::none();
    });
  }
  if (name == "copy") {
    return bound(t, name, [self](Evaluator&, CallArgs&) -> Result<Value> { return Value::dict(self.dict()); });
  }
  if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" || name == "update" ||
      name == "fromkeys")
    return name == "fromkeys" ? bound(t, name, [](Evaluator&, CallArgs&) -> Result<Value> {
      return Status::Error("dict.fromkeys() is not supported by this renderer");
    })
                              : unsafe(self, name);
  return std::nullopt;
}

std::optional<Value> list_method(const Value& self, const std::string& name) {
  const std::string t = self.type_name();
  if (name == "index" || name == "count") {
    return bound(t, name, [self, name](Evaluator&, CallArgs& a) -> Result<Value> {
      if (a.pos.size() != 1) return Status::Error(name + "() takes exactly one argument");
      int64_t n = 0;
      for (size_t i = 0; i < self.items().size(); ++i) {
        if (!py_equal(self.items()[i], a.pos[0])) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++n;
      }
      if (name == "index") return Status::Error(a.pos[0].repr() + " is not in list");
      return Value(n);
    });
  }
  if (self.is_tuple()) return std::nullopt;
  if (name == "copy") {
    return bound(t, name, [self](Evaluator&, CallArgs&) -> Result<Value> { return Value::list(self.items()); });
  }
  if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
      name == "reverse" || name == "sort" || name == "clear")
    return unsafe(self, name);
  return std::nullopt;
}

}  // namespace

std::optional<Value> builtin_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kString: return str_method(obj, name);
    case Value::Kind::kDict: return dict_method(obj, name);
    case Value::Kind::kList: return list_method(obj, name);
    case Value::Kind::kObject: {
      if (const Value* v = obj.obj()->attrs.find(std::string_view(name))) return *v;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

}  // namespace mlxs::chat
