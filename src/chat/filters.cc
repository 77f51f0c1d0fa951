// jinja2's builtin filters, with Hugging Face's `tojson` override.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/json_dump.h"
#include "chat/text.h"

namespace mlxs::chat {
namespace {

#define BIND(var, fn, ...)                                    \
  auto var##_r = bind_args(args, fn, {__VA_ARGS__});          \
  if (!var##_r.ok()) return var##_r.status();                 \
  const BoundArgs& var = *var##_r

bool arg_true(const BoundArgs& b, size_t i) { return b[i] && b[i]->truthy(); }

Result<Value> f_tojson(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "tojson", "ensure_ascii", "indent", "separators", "sort_keys");
  JsonDumpOptions o;
  o.ensure_ascii = arg_true(b, 0);
  o.sort_keys = arg_true(b, 3);
  if (b[1] && !b[1]->is_none()) {
    if (b[1]->is_string()) o.indent = b[1]->str();
    else if (b[1]->is_int()) o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, b[1]->as_int())), ' ');
    else return Status::Error("tojson: indent must be an int or a string");
  }
  if (b[2] && !b[2]->is_none()) {
    if (!b[2]->is_list() || b[2]->items().size() != 2 || !b[2]->items()[0].is_string() || !b[2]->items()[1].is_string())
      return Status::Error("tojson: separators must be a pair of strings");
    o.item_sep = b[2]->items()[0].str();
    o.key_sep = b[2]->items()[1].str();
  }
  auto s = json_dumps(v, o);
  if (!s.ok()) return s.status();
  return Value(std::move(*s));
}

Result<Value> f_trim(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "trim", "chars");
  if (b[0] && !b[0]->is_none()) {
    std::string chars = soft_str(*b[0]);
    return Value(py_strip(soft_str(v), &chars, true, true));
  }
  return Value(py_strip(soft_str(v), nullptr, true, true));
}

Result<Value> f_length(Evaluator&, const Value& v, CallArgs&) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value(int64_t{0});
    case Value::Kind::kString: return Value(static_cast<int64_t>(utf8_length(v.str())));
    case Value::Kind::kList: return Value(static_cast<int64_t>(v.items().size()));
    case Value::Kind::kDict: return Value(static_cast<int64_t>(v.dict().entries.size()));
    default: return Status::Error("object of type '" + v.type_name() + "' has no len()");
  }
}

Result<Value> f_upper(Evaluator&, const Value& v, CallArgs&) { return Value(ascii_upper(soft_str(v))); }
Result<Value> f_lower(Evaluator&, const Value& v, CallArgs&) { return Value(ascii_lower(soft_str(v))); }

Result<Value> f_capitalize(Evaluator&, const Value& v, CallArgs&) {
  std::string s = ascii_lower(soft_str(v));
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return Value(s);
}

// jinja2's title: words start after runs of [-\s({[<].
Result<Value> f_title(Evaluator&, const Value& v, CallArgs&) {
  auto cps = utf8_decode(soft_str(v));
  std::string out;
  bool start = true;
  for (char32_t c : cps) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
    if (sep) {
      start = true;
    } else if (start) {
      if (c >= 'a' && c <= 'z') c = c - 'a' + 'A';
      start = false;
    } else if (c >= 'A' && c <= 'Z') {
      c = c - 'A' + 'a';
    }
    utf8_append(out, c);
  }
  return Value(out);
}

Result<Value> f_default(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "default", "default_value", "boolean");
  bool use_default = v.is_undefined() || (arg_true(b, 1) && !v.truthy());
  if (!use_default) return v;
  return b[0] ? *b[0] : Value(std::string());
}

// jinja2's make_attrgetter: dotted path, integer parts index sequences.
Result<Value> attr_path(Evaluator& ev, const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return ev.getitem(item, attribute);
  Value cur = item;
  const std::string& path = attribute.str();
  size_t b = 0;
  while (true) {
    size_t e = path.find('.', b);
    std::string part = path.substr(b, e == std::string::npos ? std::string::npos : e - b);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    auto next = digits ? ev.getitem(cur, Value(static_cast<int64_t>(std::stoll(part)))) : ev.getitem(cur, Value(part));
    if (!next.ok()) return next.status();
    cur = std::move(*next);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return cur;
}

Result<Value> f_join(Evaluator& ev, const Value& v, CallArgs& args) {
  BIND(b, "join", "d", "attribute");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  std::string sep = b[0] ? soft_str(*b[0]) : "";
  std::string out;
  for (size_t i = 0; i < items->size(); ++i) {
    Value x = (*items)[i];
    if (b[1] && !b[1]->is_none()) {
      auto a = attr_path(ev, x, *b[1]);
      if (!a.ok()) return a.status();
      x = std::move(*a);
    }
    if (i) out += sep;
    out += soft_str(x);
  }
  return Value(out);
}

Result<Value> f_replace(Evaluator& ev, const Value& v, CallArgs& args) {
  BIND(b, "replace", "old", "new", "count");
  if (!b[0] || !b[1]) return Status::Error("replace() missing required arguments");
  auto m = builtin_attribute(Value(soft_str(v)), "replace");
  CallArgs call;
  call.pos = {Value(soft_str(*b[0])), Value(soft_str(*b[1]))};
  if (b[2] && !b[2]->is_none()) call.pos.push_back(*b[2]);
  return ev.call(*m, call);
}

Result<Value> f_items(Evaluator&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) return Status::Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict().entries) out.push_back(Value::list({k, x}, true));
  return Value::list(std::move(out));
}

Result<Value> f_first(Evaluator& ev, const Value& v, CallArgs&) {
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined("No first item, sequence was empty.");
  return items->front();
}

Result<Value> f_last(Evaluator& ev, const Value& v, CallArgs&) {
  if (v.is_dict()) return Status::Error("'dict_keyiterator' object is not reversible");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined("No last item, sequence was empty.");
  return items->back();
}

Result<Value> f_list(Evaluator& ev, const Value& v, CallArgs&) {
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  return Value::list(std::move(*items));
}

Result<Value> f_string(Evaluator&, const Value& v, CallArgs&) { return Value(soft_str(v)); }
Result<Value> f_safe(Evaluator&, const Value& v, CallArgs&) { return v.is_string() ? v : Value(soft_str(v)); }
Result<Value> f_escape(Evaluator&, const Value& v, CallArgs&) { return Value(html_escape(soft_str(v))); }

// Python's float(str) accepts surrounding whitespace, inf/nan and underscores between digits.
bool parse_py_float(const std::string& raw, double& out) {
  std::string s = py_strip(raw, nullptr, true, true);
  if (s.empty()) return false;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    clean += s[i];
  }
  std::string low = ascii_lower(clean);
  if (low.find("0x") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == '\0';
}

bool parse_py_int(const std::string& raw, int64_t base, int64_t& out) {
  std::string s = py_strip(raw, nullptr, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size()) continue;
    clean += s[i];
  }
  if (clean.empty()) return false;
  size_t start = (clean[0] == '+' || clean[0] == '-') ? 1 : 0;
  if (start >= clean.size()) return false;
  std::string body = clean.substr(start);
  if (base == 16 || base == 8 || base == 2) {
    std::string pfx = base == 16 ? "0x" : base == 8 ? "0o" : "0b";
    if (ascii_lower(body.substr(0, 2)) == pfx) body = body.substr(2);
  }
  if (body.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(body.c_str(), &end, static_cast<int>(base));
  if (!end || *end != '\0' || errno == ERANGE) return false;
  out = clean[0] == '-' ? -v : v;
  return true;
}

Result<Value> f_int(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "int", "default", "base");
  Value def = b[0] ? *b[0] : Value(int64_t{0});
  int64_t base = b[1] ? b[1]->as_int() : 10;
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d)) return def;
    return Value(static_cast<int64_t>(std::trunc(d)));
  }
  if (v.is_string()) {
    int64_t i = 0;
    if (parse_py_int(v.str(), base, i)) return Value(i);
    double d = 0;
    if (parse_py_float(v.str(), d) && std::isfinite(d)) return Value(static_cast<int64_t>(std::trunc(d)));
  }
  return def;
}

Result<Value> f_float(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "float", "default");
  Value def = b[0] ? *b[0] : Value(0.0);
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    double d = 0;
    if (parse_py_float(v.str(), d)) return Value(d);
  }
  return def;
}

Result<Value> f_abs(Evaluator&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return Status::Error("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  return Status::Error("bad operand type for abs(): '" + v.type_name() + "'");
}

// Python's round(x, n): correctly rounded, ties to even (printf rounds the exact binary value the same way).
double py_round(double x, int64_t n) {
  if (!std::isfinite(x)) return x;
  if (n > 300) return x;
  if (n < -300) return 0.0 * x;
  if (n >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, static_cast<double>(-n));
  double y = x / p;
  double r = std::nearbyint(y);
  return r * p;
}

Result<Value> f_round(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "round", "precision", "method");
  int64_t precision = b[0] ? b[0]->as_int() : 0;
  std::string method = b[1] ? soft_str(*b[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    return Status::Error("method must be common, ceil or floor");
  if (!v.is_number()) return Status::Error("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (!v.is_float()) {
      if (precision >= 0) return Value(v.as_int());
      return Value(static_cast<int64_t>(py_round(static_cast<double>(v.as_int()), precision)));
    }
    return Value(py_round(v.as_double(), precision));
  }
  double p = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * p;
  return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

// Python's str.splitlines() boundaries.
std::vector<std::string> splitlines(const std::string& s) {
  std::vector<std::string> out;
  auto cps = utf8_decode(s);
  size_t b = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    out.push_back(utf8_encode(cps, b, i));
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    b = i + 1;
  }
  if (b < cps.size()) out.push_back(utf8_encode(cps, b, cps.size()));
  return out;
}

Result<Value> f_indent(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "indent", "width", "first", "blank");
  std::string ind;
  if (b[0] && b[0]->is_string()) ind = b[0]->str();
  else ind = std::string(static_cast<size_t>(std::max<int64_t>(0, b[0] ? b[0]->as_int() : 4)), ' ');
  std::string s = soft_str(v) + "\n";  // jinja2 appends a newline so splitlines keeps a trailing empty line
  auto lines = splitlines(s);
  std::string rv;
  if (arg_true(b, 2)) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) {
        rv += '\n';
        rv += ind;
      }
      rv += lines[i];
    }
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += '\n';
      if (!lines[i].empty()) rv += ind + lines[i];
    }
  }
  if (arg_true(b, 1)) rv = ind + rv;
  return Value(rv);
}

Result<Value> f_map(Evaluator& ev, const Value& v, CallArgs& args) {
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  std::vector<Value> out;
  if (args.pos.empty()) {
    std::optional<Value> attribute, def;
    for (const auto& [k, x] : args.kw) {
      if (k == "attribute") attribute = x;
      else if (k == "default") def = x;
      else return Status::Error("Unexpected keyword argument '" + k + "'");
    }
    if (!attribute) return Status::Error("map requires a filter argument");
    for (const auto& it : *items) {
      auto a = attr_path(ev, it, *attribute);
      if (!a.ok()) return a.status();
      out.push_back(a->is_undefined() && def ? *def : *a);
    }
    return Value::list(std::move(out));
  }
  std::string name = soft_str(args.pos[0]);
  CallArgs rest;
  rest.pos.assign(args.pos.begin() + 1, args.pos.end());
  rest.kw = args.kw;
  for (const auto& it : *items) {
    CallArgs a = rest;
    auto r = ev.apply_filter(name, it, a);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return Value::list(std::move(out));
}

// select/reject/selectattr/rejectattr share jinja2's select_or_reject.
Result<Value> select_impl(Evaluator& ev, const Value& v, CallArgs& args, bool attr, bool keep) {
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  size_t off = 0;
  std::optional<Value> attribute;
  if (attr) {
    if (args.pos.empty()) return Status::Error("Missing parameter for attribute name");
    attribute = args.pos[0];
    off = 1;
  }
  std::optional<std::string> test;
  CallArgs targs;
  if (args.pos.size() > off) {
    test = soft_str(args.pos[off]);
    targs.pos.assign(args.pos.begin() + static_cast<long>(off) + 1, args.pos.end());
    targs.kw = args.kw;
  }
  std::vector<Value> out;
  for (const auto& it : *items) {
    Value x = it;
    if (attribute) {
      auto a = attr_path(ev, it, *attribute);
      if (!a.ok()) return a.status();
      x = std::move(*a);
    }
    bool r;
    if (test) {
      CallArgs a = targs;
      auto t = ev.apply_test(*test, x, a);
      if (!t.ok()) return t.status();
      r = *t;
    } else {
      r = x.truthy();
    }
    if (r == keep) out.push_back(it);
  }
  return Value::list(std::move(out));
}
Result<Value> f_select(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, false, true); }
Result<Value> f_reject(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, false, false); }
Result<Value> f_selectattr(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, true, true); }
Result<Value> f_rejectattr(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, true, false); }

// Sort/unique key: attribute lookup, then lowercase strings unless case sensitive.
Result<Value> sort_key(Evaluator& ev, const Value& item, const std::optional<Value>& attribute, bool case_sensitive) {
  Value k = item;
  if (attribute && !attribute->is_none()) {
    auto a = attr_path(ev, item, *attribute);
    if (!a.ok()) return a.status();
    k = std::move(*a);
  }
  if (!case_sensitive && k.is_string()) return Value(ascii_lower(k.str()));
  return k;
}

Status stable_sort_by_keys(std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
  Status err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (!err.ok()) return false;
    auto r = reverse ? py_less(b.first, a.first) : py_less(a.first, b.first);
    if (!r.ok()) {
      err = r.status();
      return false;
    }
    return *r;
  });
  return err;
}

Result<Value> f_sort(Evaluator& ev, const Value& v, CallArgs& args) {
  BIND(b, "sort", "reverse", "case_sensitive", "attribute");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& it : *items) {
    auto k = sort_key(ev, it, b[2], arg_true(b, 1));
    if (!k.ok()) return k.status();
    keyed.emplace_back(std::move(*k), it);
  }
  MLXS_RETURN_IF_ERROR(stable_sort_by_keys(keyed, arg_true(b, 0)));
  std::vector<Value> out;
  for (auto& [k, x] : keyed) out.push_back(std::move(x));
  return Value::list(std::move(out));
}

Result<Value> f_dictsort(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "dictsort", "case_sensitive", "by", "reverse");
  if (!v.is_dict()) return Status::Error("dictsort expects a mapping");
  std::string by = b[1] ? soft_str(*b[1]) : "key";
  if (by != "key" && by != "value") return Status::Error("You can only sort by either \"key\" or \"value\"");
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, x] : v.dict().entries) {
    Value key = by == "key" ? k : x;
    if (!arg_true(b, 0) && key.is_string()) key = Value(ascii_lower(key.str()));
    keyed.emplace_back(key, Value::list({k, x}, true));
  }
  MLXS_RETURN_IF_ERROR(stable_sort_by_keys(keyed, arg_true(b, 2)));
  std::vector<Value> out;
  for (auto& [k, x] : keyed) out.push_back(std::move(x));
  return Value::list(std::move(out));
}

Result<Value> f_unique(Evaluator& ev, const Value& v, CallArgs& args) {
  BIND(b, "unique", "case_sensitive", "attribute");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  std::vector<Value> seen, out;
  for (const auto& it : *items) {
    auto k = sort_key(ev, it, b[1], arg_true(b, 0));
    if (!k.ok()) return k.status();
    bool dup = false;
    for (const auto& s : seen) dup = dup || py_equal(s, *k);
    if (dup) continue;
    seen.push_back(std::move(*k));
    out.push_back(it);
  }
  return Value::list(std::move(out));
}

Result<Value> min_max(Evaluator& ev, const Value& v, CallArgs& args, bool want_max) {
  BIND(b, want_max ? "max" : "min", "case_sensitive", "attribute");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  const Value* best = nullptr;
  Value best_key;
  for (const auto& it : *items) {
    auto k = sort_key(ev, it, b[1], arg_true(b, 0));
    if (!k.ok()) return k.status();
    if (best) {
      auto less = want_max ? py_less(best_key, *k) : py_less(*k, best_key);
      if (!less.ok()) return less.status();
      if (!*less) continue;
    }
    best = &it;
    best_key = std::move(*k);
  }
  return *best;
}
Result<Value> f_max(Evaluator& ev, const Value& v, CallArgs& a) { return min_max(ev, v, a, true); }
Result<Value> f_min(Evaluator& ev, const Value& v, CallArgs& a) { return min_max(ev, v, a, false); }

Result<Value> f_sum(Evaluator& ev, const Value& v, CallArgs& args) {
  BIND(b, "sum", "attribute", "start");
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  Value total = b[1] ? *b[1] : Value(int64_t{0});
  for (const auto& it : *items) {
    Value x = it;
    if (b[0] && !b[0]->is_none()) {
      auto a = attr_path(ev, it, *b[0]);
      if (!a.ok()) return a.status();
      x = std::move(*a);
    }
    if (!total.is_number() || !x.is_number())
      return Status::Error("unsupported operand type(s) for +: '" + total.type_name() + "' and '" + x.type_name() + "'");
    if (total.is_float() || x.is_float()) total = Value(total.as_double() + x.as_double());
    else total = Value(total.as_int() + x.as_int());
  }
  return total;
}

Result<Value> f_reverse(Evaluator& ev, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto cps = utf8_decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value(utf8_encode(cps, 0, cps.size()));
  }
  auto items = ev.iterate(v);
  if (!items.ok()) return items.status();
  std::reverse(items->begin(), items->end());
  return Value::list(std::move(*items));
}

Result<Value> f_wordcount(Evaluator&, const Value& v, CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(soft_str(v))) {
    bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             (c >= 0x80 && !py_isspace(c));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Result<Value> f_attr(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "attr", "name");
  if (!b[0]) return Status::Error("attr() missing 1 required positional argument: 'name'");
  std::string name = soft_str(*b[0]);
  if (v.is_undefined()) return Status::Error(v.undefined_message());
  if (auto a = builtin_attribute(v, name)) return *a;
  return Value::undefined("'" + describe_for_undefined(v) + "' has no attribute '" + name + "'");
}

Result<Value> f_center(Evaluator&, const Value& v, CallArgs& args) {
  BIND(b, "center", "width");
  std::string s = soft_str(v);
  int64_t width = b[0] ? b[0]->as_int() : 80;
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value(s);
  int64_t marg = width - len;
  int64_t left = marg / 2 + (marg & width & 1);  // CPython's pad() split
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' '));
}

Result<Value> f_pprint(Evaluator&, const Value& v, CallArgs&) { return Value(v.repr()); }

const std::unordered_map<std::string_view, FilterFn>& table() {
  static const std::unordered_map<std::string_view, FilterFn> t = {
      {"tojson", f_tojson},       {"trim", f_trim},           {"length", f_length},
      {"count", f_length},        {"upper", f_upper},         {"lower", f_lower},
      {"capitalize", f_capitalize}, {"title", f_title},       {"default", f_default},
      {"d", f_default},           {"join", f_join},           {"replace", f_replace},
      {"items", f_items},         {"first", f_first},         {"last", f_last},
      {"list", f_list},           {"string", f_string},       {"int", f_int},
      {"float", f_float},         {"abs", f_abs},             {"round", f_round},
      {"indent", f_indent},       {"map", f_map},             {"select", f_select},
      {"reject", f_reject},       {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
      {"unique", f_unique},       {"sort", f_sort},           {"dictsort", f_dictsort},
      {"safe", f_safe},           {"e", f_escape},            {"escape", f_escape},
      {"forceescape", f_escape},  {"wordcount", f_wordcount}, {"max", f_max},
      {"min", f_min},             {"sum", f_sum},             {"reverse", f_reverse},
      {"attr", f_attr},           {"center", f_center},       {"pprint", f_pprint},
  };
  return t;
}

}  // namespace

bool has_filter(std::string_view name) { return table().count(name) > 0; }
FilterFn find_filter(std::string_view name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : it->second;
}

}  // namespace mlxs::chat
