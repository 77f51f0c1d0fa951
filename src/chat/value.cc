#include "chat/value.h"

#include "chat/text.h"

namespace mlxs::chat {

const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : entries)
    if (py_equal(k, key)) return &v;
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (py_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.v_ = Undef{std::make_shared<const std::string>(std::move(hint))};
  return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
  auto s = std::make_shared<Seq>();
  s->items = std::move(items);
  s->tuple = tuple;
  Value v;
  v.v_ = SeqPtr(std::move(s));
  return v;
}

Value Value::dict(Dict d) {
  Value v;
  v.v_ = DictPtr(std::make_shared<const Dict>(std::move(d)));
  return v;
}

Value Value::callable(std::string name, std::function<Result<Value>(Evaluator&, CallArgs&)> fn,
                      std::string repr) {
  auto c = std::make_shared<Callable>();
  c->repr = repr.empty() ? "<function " + name + ">" : std::move(repr);
  c->name = std::move(name);
  c->fn = std::move(fn);
  Value v;
  v.v_ = FnPtr(std::move(c));
  return v;
}

Value Value::object(std::shared_ptr<Object> obj) {
  Value v;
  v.v_ = std::move(obj);
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      d.entries.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d.entries.emplace_back(Value(it.key()), from_json(it.value()));
      return dict(std::move(d));
    }
    default: return undefined("unsupported JSON value");
  }
}

std::string Value::undefined_message() const {
  const auto& h = std::get<Undef>(v_).hint;
  return h ? *h : "undefined value";
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return as_bool();
    case Kind::kInt: return as_int() != 0;
    case Kind::kFloat: return as_double() != 0.0;
    case Kind::kString: return !str().empty();
    case Kind::kList: return !items().empty();
    case Kind::kDict: return !dict().entries.empty();
    default: return true;
  }
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return is_tuple() ? "tuple" : "list";
    case Kind::kDict: return "dict";
    case Kind::kCallable: return "function";
    case Kind::kObject: return obj()->type_name;
  }
  return "object";
}

std::string Value::to_str() const {
  switch (kind()) {
    case Kind::kUndefined: return "";
    case Kind::kString: return str();
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind()) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return as_bool() ? "True" : "False";
    case Kind::kInt: return std::to_string(as_int());
    case Kind::kFloat: return py_float_repr(as_double());
    case Kind::kString: return py_str_repr(str());
    case Kind::kList: {
      const Seq& s = seq();
      std::string out = s.tuple ? "(" : "[";
      for (size_t i = 0; i < s.items.size(); ++i) {
        if (i) out += ", ";
        out += s.items[i].repr();
      }
      if (s.tuple && s.items.size() == 1) out += ",";
      out += s.tuple ? ")" : "]";
      return out;
    }
    case Kind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : dict().entries) {
        if (!first) out += ", ";
        first = false;
        out += k.repr() + ": " + v.repr();
      }
      return out + "}";
    }
    case Kind::kCallable: return fn().repr;
    case Kind::kObject: {
      const auto& o = *obj();
      if (o.type_name == "Namespace") return "<Namespace " + Value::dict(o.attrs).repr() + ">";
      return "<" + o.type_name + " object>";
    }
  }
  return "";
}

const void* Value::identity() const {
  switch (kind()) {
    case Kind::kString: return std::get<StrPtr>(v_).get();
    case Kind::kList: return std::get<SeqPtr>(v_).get();
    case Kind::kDict: return std::get<DictPtr>(v_).get();
    case Kind::kCallable: return std::get<FnPtr>(v_).get();
    case Kind::kObject: return obj().get();
    default: return nullptr;
  }
}

bool py_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.str() == b.str();
    case Value::Kind::kList: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!py_equal(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::kDict: {
      const auto& x = a.dict().entries;
      const auto& y = b.dict();
      if (x.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* o = y.find(k);
        if (!o || !py_equal(v, *o)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

Result<bool> py_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 order == code point order
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (py_equal(x[i], y[i])) continue;
      return py_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) return Status::Error(a.undefined_message());
  if (b.is_undefined()) return Status::Error(b.undefined_message());
  return Status::Error("'<' not supported between instances of '" + a.type_name() + "' and '" +
                       b.type_name() + "'");
}

std::string describe_for_undefined(const Value& obj) {
  if (obj.is_none()) return "None";
  // jinja2 names non-builtin classes with their module.
  if (obj.is_object()) return (obj.obj()->type_name == "Namespace" ? "jinja2.utils." : "jinja2.runtime.") +
                              obj.obj()->type_name + " object";
  return obj.type_name() + " object";
}

}  // namespace mlxs::chat
