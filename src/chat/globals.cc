// Global functions HF templates call, and the argument binder builtins share.
#include <ctime>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/text.h"

namespace mlxs::chat {

Result<BoundArgs> bind_args(const CallArgs& args, std::string_view fn, std::initializer_list<std::string_view> names) {
  BoundArgs out(names.size());
  if (args.pos.size() > names.size())
    return Status::Error(std::string(fn) + "() takes at most " + std::to_string(names.size()) + " argument(s) (" +
                         std::to_string(args.pos.size()) + " given)");
  for (size_t i = 0; i < args.pos.size(); ++i) out[i] = args.pos[i];
  for (const auto& [k, v] : args.kw) {
    size_t i = 0;
    for (auto n : names) {
      if (n == k) break;
      ++i;
    }
    if (i == names.size()) return Status::Error(std::string(fn) + "() got an unexpected keyword argument '" + k + "'");
    if (out[i]) return Status::Error(std::string(fn) + "() got multiple values for argument '" + k + "'");
    out[i] = v;
  }
  return out;
}

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

Result<Value> fn_range(Evaluator&, CallArgs& args) {
  if (!args.kw.empty()) return Status::Error("range() takes no keyword arguments");
  if (args.pos.empty() || args.pos.size() > 3)
    return Status::Error("range expected at most 3 arguments, got " + std::to_string(args.pos.size()));
  for (const auto& a : args.pos)
    if (!a.is_int() && !a.is_bool())
      return Status::Error("'" + a.type_name() + "' object cannot be interpreted as an integer");
  int64_t start = 0, stop = 0, step = 1;
  if (args.pos.size() == 1) {
    stop = args.pos[0].as_int();
  } else {
    start = args.pos[0].as_int();
    stop = args.pos[1].as_int();
    if (args.pos.size() == 3) step = args.pos[2].as_int();
  }
  if (step == 0) return Status::Error("range() arg 3 must not be zero");
  int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                           : (start > stop ? (start - stop - step - 1) / -step : 0);
  if (count > kMaxRange)
    return Status::Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> out;
  for (int64_t i = 0; i < count; ++i) out.emplace_back(start + i * step);
  return Value::list(std::move(out));
}

Result<Dict> dict_from_args(Evaluator& ev, CallArgs& args, const char* fn) {
  Dict d;
  if (args.pos.size() > 1) return Status::Error(std::string(fn) + " expected at most 1 argument");
  if (args.pos.size() == 1) {
    const Value& src = args.pos[0];
    if (src.is_dict()) {
      d = src.dict();
    } else {
      auto items = ev.iterate(src);
      if (!items.ok()) return items.status();
      for (const auto& it : *items) {
        if (!it.is_list() || it.items().size() != 2)
          return Status::Error("dictionary update sequence element has wrong length");
        d.set(it.items()[0], it.items()[1]);
      }
    }
  }
  for (auto& [k, v] : args.kw) d.set(Value(k), v);
  return d;
}

Result<Value> fn_dict(Evaluator& ev, CallArgs& args) {
  auto d = dict_from_args(ev, args, "dict");
  if (!d.ok()) return d.status();
  return Value::dict(std::move(*d));
}

Result<Value> fn_namespace(Evaluator& ev, CallArgs& args) {
  auto d = dict_from_args(ev, args, "namespace");
  if (!d.ok()) return d.status();
  auto obj = std::make_shared<Object>();
  obj->type_name = "Namespace";
  obj->attrs = std::move(*d);
  return Value::object(std::move(obj));
}

Result<Value> fn_raise_exception(Evaluator& ev, CallArgs& args) {
  auto b = bind_args(args, "raise_exception", {"message"});
  if (!b.ok()) return b.status();
  return ev.raise_user_error((*b)[0] ? soft_str(*(*b)[0]) : "");
}

Result<Value> fn_strftime_now(Evaluator& ev, CallArgs& args) {
  auto b = bind_args(args, "strftime_now", {"format"});
  if (!b.ok()) return b.status();
  if (!(*b)[0] || !(*b)[0]->is_string()) return Status::Error("strftime() argument 1 must be str");
  const std::string& fmt = (*b)[0]->str();
  std::tm tm{};
  if (ev.now_unix()) {
    std::time_t t = static_cast<std::time_t>(*ev.now_unix());
    gmtime_r(&t, &tm);
  } else {
    std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  if (fmt.empty()) return Value(std::string());
  std::vector<char> buf(fmt.size() * 8 + 256);
  for (int attempt = 0; attempt < 6; ++attempt) {
    size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) return Value(std::string(buf.data(), n));
    buf.resize(buf.size() * 4);
  }
  return Value(std::string());
}

Result<Value> fn_joiner(Evaluator&, CallArgs& args) {
  auto b = bind_args(args, "joiner", {"sep"});
  if (!b.ok()) return b.status();
  std::string sep = (*b)[0] ? soft_str(*(*b)[0]) : ", ";
  auto used = std::make_shared<bool>(false);
  return Value::callable("joiner", [sep, used](Evaluator&, CallArgs&) -> Result<Value> {
    if (!*used) {
      *used = true;
      return Value(std::string());
    }
    return Value(sep);
  });
}

}  // namespace

void install_globals(Scope& g) {
  g.vars["range"] = Value::callable("range", fn_range, "<class 'range'>");
  g.vars["dict"] = Value::callable("dict", fn_dict, "<class 'dict'>");
  g.vars["namespace"] = Value::callable("namespace", fn_namespace, "<class 'jinja2.utils.Namespace'>");
  g.vars["raise_exception"] = Value::callable("raise_exception", fn_raise_exception);
  g.vars["strftime_now"] = Value::callable("strftime_now", fn_strftime_now);
  g.vars["joiner"] = Value::callable("joiner", fn_joiner, "<class 'jinja2.utils.Joiner'>");
}

}  // namespace mlxs::chat
