#include "chat/evaluator.h"

#include <cmath>

#include "chat/builtins.h"
#include "chat/operators.h"
#include "chat/text.h"
#include "chat/try.h"

namespace mlxs::chat {


const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

namespace {

ScopePtr child_scope(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

std::string pyq(const std::string& s) { return py_str_repr(s); }

}  // namespace

Status Evaluator::render(const Body& body, const ScopePtr& globals, std::string& out) {
  // Template-level assignments live in their own frame above the globals.
  return exec(body, child_scope(globals), out);
}

Status Evaluator::raise_user_error(std::string message) {
  user_error_ = true;
  return Status::Error(std::move(message));
}

Status Evaluator::step() {
  if (++steps_ > limits_.max_steps) return Status::Error("template exceeded the evaluation step limit");
  return Status::Ok();
}

Status Evaluator::located(Status st, size_t offset) {
  if (st.ok() || user_error_ || error_located_) return st;
  error_located_ = true;
  return Status::Error(map_.where(offset) + ": " + st.message());
}

Status Evaluator::append(std::string& out, const std::string& text) {
  total_out_ += text.size();
  if (total_out_ > limits_.max_output_bytes) return Status::Error("template output exceeds the size limit");
  out += text;
  return Status::Ok();
}

Status Evaluator::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const Stmt& s : body) {
    MLXS_RETURN_IF_ERROR(exec_stmt(s, scope, out));
    if (flow_ != Flow::kNormal) break;
  }
  return Status::Ok();
}

Status Evaluator::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
  MLXS_RETURN_IF_ERROR(step());
  switch (s.kind) {
    case StmtKind::kText: return append(out, s.text);
    case StmtKind::kPrint: {
      auto v = eval(*s.expr, scope);
      if (!v.ok()) return located(v.status(), s.offset);
      return located(append(out, v->to_str()), s.offset);
    }
    case StmtKind::kIf:
      for (const Branch& b : s.branches) {
        if (b.cond) {
          auto c = eval(*b.cond, scope);
          if (!c.ok()) return located(c.status(), b.cond->offset);
          if (!c->truthy()) continue;
        }
        return exec(b.body, scope, out);
      }
      return Status::Ok();
    case StmtKind::kFor: return exec_for(s, scope, out);
    case StmtKind::kSet: {
      auto v = eval(*s.expr, scope);
      if (!v.ok()) return located(v.status(), s.offset);
      return located(assign(*s.target, *v, scope), s.offset);
    }
    case StmtKind::kSetBlock: {
      std::string buf;
      MLXS_RETURN_IF_ERROR(exec(s.body, scope, buf));
      Value v(std::move(buf));
      if (s.filter) {
        auto f = eval_filter(*s.filter, scope, &v);
        if (!f.ok()) return located(f.status(), s.offset);
        v = std::move(*f);
      }
      return located(assign(*s.target, v, scope), s.offset);
    }
    case StmtKind::kMacro: scope->vars[s.name] = make_macro(s, scope, s.name); return Status::Ok();
    case StmtKind::kCallBlock: {
      Value caller = make_macro(s, scope, "caller");
      auto v = eval_call(*s.expr, scope, caller);
      if (!v.ok()) return located(v.status(), s.offset);
      return located(append(out, v->to_str()), s.offset);
    }
    case StmtKind::kFilterBlock: {
      std::string buf;
      MLXS_RETURN_IF_ERROR(exec(s.body, scope, buf));
      Value in(std::move(buf));
      auto f = eval_filter(*s.filter, scope, &in);
      if (!f.ok()) return located(f.status(), s.offset);
      return located(append(out, f->to_str()), s.offset);
    }
    case StmtKind::kWith: {
      ScopePtr inner = child_scope(scope);
      for (const auto& [target, value] : s.assigns) {
        auto v = eval(*value, scope);
        if (!v.ok()) return located(v.status(), value->offset);
        MLXS_RETURN_IF_ERROR(located(assign(*target, *v, inner), target->offset));
      }
      return exec(s.body, inner, out);
    }
    case StmtKind::kBreak: flow_ = Flow::kBreak; return Status::Ok();
    case StmtKind::kContinue: flow_ = Flow::kContinue; return Status::Ok();
    case StmtKind::kBody: return exec(s.body, scope, out);
  }
  return Status::Ok();
}

Status Evaluator::assign(const Expr& target, const Value& v, const ScopePtr& scope) {
  if (target.kind == ExprKind::kName) {
    scope->vars[target.name] = v;
    return Status::Ok();
  }
  if (target.kind == ExprKind::kTuple) {
    MLXS_TRY(items, iterate(v));
    size_t want = target.args.size();
    if (items.size() < want)
      return Status::Error("not enough values to unpack (expected " + std::to_string(want) + ", got " +
                           std::to_string(items.size()) + ")");
    if (items.size() > want) return Status::Error("too many values to unpack (expected " + std::to_string(want) + ")");
    for (size_t i = 0; i < want; ++i) MLXS_RETURN_IF_ERROR(assign(*target.args[i], items[i], scope));
    return Status::Ok();
  }
  if (target.kind == ExprKind::kGetattr) {  // {% set ns.attr = v %}
    const Value* ns = scope->find(target.target->name);
    if (!ns || !ns->is_object() || ns->obj()->type_name != "Namespace")
      return Status::Error("cannot assign attribute on non-namespace object");
    ns->obj()->attrs.set(Value(target.name), v);
    return Status::Ok();
  }
  return Status::Error("invalid assignment target");
}

Status Evaluator::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
  auto iterable = eval(*s.expr, scope);
  if (!iterable.ok()) return located(iterable.status(), s.expr->offset);
  auto all = iterate(*iterable);
  if (!all.ok()) return located(all.status(), s.expr->offset);
  std::vector<Value> items;
  if (s.cond) {
    for (Value& item : *all) {
      ScopePtr probe = child_scope(scope);
      MLXS_RETURN_IF_ERROR(located(assign(*s.target, item, probe), s.offset));
      auto keep = eval(*s.cond, probe);
      if (!keep.ok()) return located(keep.status(), s.cond->offset);
      if (keep->truthy()) items.push_back(std::move(item));
    }
  } else {
    items = std::move(*all);
  }
  if (items.empty()) return exec(s.else_body, child_scope(scope), out);

  const int64_t n = static_cast<int64_t>(items.size());
  // loop.changed() compares against the value seen on the previous call.
  auto last_changed = std::make_shared<std::optional<Value>>();
  for (int64_t i = 0; i < n; ++i) {
    MLXS_RETURN_IF_ERROR(located(step(), s.offset));  // an empty body still costs a step
    ScopePtr iter_scope = child_scope(scope);
    MLXS_RETURN_IF_ERROR(located(assign(*s.target, items[static_cast<size_t>(i)], iter_scope), s.offset));
    if (!s.uses_loop) {
      MLXS_RETURN_IF_ERROR(exec(s.body, iter_scope, out));
      Flow f = flow_;
      flow_ = Flow::kNormal;
      if (f == Flow::kBreak) break;
      continue;
    }
    auto loop = std::make_shared<Object>();
    loop->type_name = "LoopContext";
    Dict& a = loop->attrs;
    a.entries.reserve(14);
    a.entries.emplace_back(Value("index"), Value(i + 1));
    a.entries.emplace_back(Value("index0"), Value(i));
    a.entries.emplace_back(Value("revindex"), Value(n - i));
    a.entries.emplace_back(Value("revindex0"), Value(n - i - 1));
    a.entries.emplace_back(Value("first"), Value(i == 0));
    a.entries.emplace_back(Value("last"), Value(i == n - 1));
    a.entries.emplace_back(Value("length"), Value(n));
    a.entries.emplace_back(Value("depth"), Value(1));
    a.entries.emplace_back(Value("depth0"), Value(0));
    a.entries.emplace_back(Value("previtem"),
                           i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    a.entries.emplace_back(Value("nextitem"),
                           i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    a.entries.emplace_back(Value("cycle"), Value::callable("cycle", [i](Evaluator&, CallArgs& args) -> Result<Value> {
                             if (args.pos.empty()) return Status::Error("no items for cycling given");
                             return args.pos[static_cast<size_t>(i) % args.pos.size()];
                           }));
    a.entries.emplace_back(Value("changed"),
                           Value::callable("changed", [last_changed](Evaluator&, CallArgs& args) -> Result<Value> {
                             Value cur = Value::list(args.pos);
                             if (*last_changed && py_equal(**last_changed, cur)) return Value(false);
                             *last_changed = cur;
                             return Value(true);
                           }));
    iter_scope->vars["loop"] = Value::object(std::move(loop));
    MLXS_RETURN_IF_ERROR(exec(s.body, iter_scope, out));
    if (flow_ == Flow::kBreak) {
      flow_ = Flow::kNormal;
      break;
    }
    flow_ = Flow::kNormal;
  }
  return Status::Ok();
}

Value Evaluator::make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name) {
  // A weak closure: the defining scope usually stores the macro itself.
  std::weak_ptr<Scope> weak = scope;
  const Stmt* stmt = &s;
  return Value::callable(
      name,
      [stmt, weak, name](Evaluator& ev, CallArgs& args) -> Result<Value> {
        ScopePtr closure = weak.lock();
        if (!closure) return Status::Error("macro '" + name + "' outlived its scope");
        return ev.call_macro(*stmt, closure, name, args);
      },
      "<Macro " + pyq(name) + ">");
}

Result<Value> Evaluator::call_macro(const Stmt& s, const ScopePtr& closure, const std::string& name, CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth) return Status::Error("maximum recursion depth exceeded in macro '" + name + "'");
  ScopePtr scope = child_scope(closure);
  const size_t nparams = s.params.size();
  std::vector<std::pair<std::string, Value>> kwargs = args.kw;
  auto take_kw = [&](const std::string& key) -> std::optional<Value> {
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it)
      if (it->first == key) {
        Value v = std::move(it->second);
        kwargs.erase(it);
        return v;
      }
    return std::nullopt;
  };
  bool found_caller = false;
  std::vector<std::optional<Value>> bound(nparams);
  for (size_t i = 0; i < nparams; ++i) {
    if (i < args.pos.size()) {
      bound[i] = args.pos[i];
    } else {
      bound[i] = take_kw(s.params[i]);
      if (s.params[i] == "caller") found_caller = true;
    }
  }
  if (s.uses_caller && !found_caller) {
    auto c = take_kw("caller");
    scope->vars["caller"] = c ? *c : Value::undefined("No caller defined");
  }
  if (s.uses_kwargs) {
    Dict d;
    for (auto& [k, v] : kwargs) d.entries.emplace_back(Value(k), v);
    scope->vars["kwargs"] = Value::dict(std::move(d));
  } else if (!kwargs.empty()) {
    return Status::Error("macro " + pyq(name) + " takes no keyword argument " + pyq(kwargs.front().first));
  }
  if (s.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = nparams; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    scope->vars["varargs"] = Value::list(std::move(extra), true);
  } else if (args.pos.size() > nparams) {
    return Status::Error("macro " + pyq(name) + " takes not more than " + std::to_string(nparams) + " argument(s)");
  }
  const size_t first_default = nparams - s.defaults.size();
  for (size_t i = 0; i < nparams; ++i) {
    if (bound[i]) {
      scope->vars[s.params[i]] = std::move(*bound[i]);
    } else if (i >= first_default) {
      MLXS_TRY(d, eval(*s.defaults[i - first_default], scope));
      scope->vars[s.params[i]] = std::move(d);
    } else {
      scope->vars[s.params[i]] = Value::undefined("parameter " + pyq(s.params[i]) + " was not provided");
    }
  }
  ++call_depth_;
  std::string buf;
  Flow saved = flow_;
  flow_ = Flow::kNormal;
  Status st = exec(s.body, scope, buf);
  flow_ = saved;
  --call_depth_;
  MLXS_RETURN_IF_ERROR(st);
  return Value(std::move(buf));
}

Result<Value> Evaluator::call(const Value& callee, CallArgs& args) {
  MLXS_RETURN_IF_ERROR(step());
  if (callee.is_callable()) return callee.fn().fn(*this, args);
  if (callee.is_undefined()) return Status::Error(callee.undefined_message());
  return Status::Error("'" + callee.type_name() + "' object is not callable");
}

Result<Value> Evaluator::apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  FilterFn f = find_filter(name);
  if (!f) return Status::Error("no filter named " + pyq(name));
  MLXS_RETURN_IF_ERROR(step());
  return f(*this, input, args);
}

Result<bool> Evaluator::apply_test(const std::string& name, const Value& input, CallArgs& args) {
  TestFn t = find_test(name);
  if (!t) return Status::Error("no test named " + pyq(name));
  MLXS_RETURN_IF_ERROR(step());
  return t(*this, input, args);
}

Result<Value> Evaluator::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return Status::Error(obj.undefined_message());
  if (auto attr = builtin_attribute(obj, name)) return *attr;
  if (obj.is_dict())
    if (const Value* v = obj.dict().find(std::string_view(name))) return *v;
  return Value::undefined(pyq(describe_for_undefined(obj)) + " has no attribute " + pyq(name));
}

Result<Value> Evaluator::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return Status::Error(obj.undefined_message());
  if (auto v = index_value(obj, key)) return *v;
  if (key.is_string()) {
    if (auto attr = builtin_attribute(obj, key.str())) return *attr;
    return Value::undefined(pyq(describe_for_undefined(obj)) + " has no attribute " + pyq(key.str()));
  }
  return Value::undefined(describe_for_undefined(obj) + " has no element " + key.repr());
}

Result<std::vector<Value>> Evaluator::iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return std::vector<Value>{};
    case Value::Kind::kList: return v.items();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, val] : v.dict().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      for (char32_t c : utf8_decode(v.str())) {
        std::string s;
        utf8_append(s, c);
        chars.emplace_back(std::move(s));
      }
      return chars;
    }
    default: return Status::Error("'" + v.type_name() + "' object is not iterable");
  }
}

Status Evaluator::eval_args(const Expr& e, const ScopePtr& scope, CallArgs& args) {
  for (const auto& a : e.args) {
    MLXS_TRY(v, eval(*a, scope));
    args.pos.push_back(std::move(v));
  }
  for (const auto& [k, a] : e.kwargs) {
    MLXS_TRY(v, eval(*a, scope));
    args.kw.emplace_back(k, std::move(v));
  }
  if (e.dyn_args) {
    MLXS_TRY(v, eval(*e.dyn_args, scope));
    MLXS_TRY(items, iterate(v));
    for (auto& x : items) args.pos.push_back(std::move(x));
  }
  if (e.dyn_kwargs) {
    MLXS_TRY(v, eval(*e.dyn_kwargs, scope));
    if (!v.is_dict()) return Status::Error("argument after ** must be a mapping, not " + v.type_name());
    for (const auto& [k, x] : v.dict().entries) {
      if (!k.is_string()) return Status::Error("keywords must be strings");
      args.kw.emplace_back(k.str(), x);
    }
  }
  return Status::Ok();
}

Result<Value> Evaluator::eval_call(const Expr& e, const ScopePtr& scope, std::optional<Value> caller) {
  MLXS_TRY(callee, eval(*e.target, scope));
  CallArgs args;
  MLXS_RETURN_IF_ERROR(eval_args(e, scope, args));
  if (caller) args.kw.emplace_back("caller", std::move(*caller));
  return call(callee, args);
}

Result<Value> Evaluator::eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_input) {
  Value input;
  if (e.target) {
    auto in = e.target->kind == ExprKind::kFilter ? eval_filter(*e.target, scope, block_input) : eval(*e.target, scope);
    if (!in.ok()) return in.status();
    input = std::move(*in);
  } else if (block_input) {
    input = *block_input;
  }
  CallArgs args;
  MLXS_RETURN_IF_ERROR(eval_args(e, scope, args));
  return apply_filter(e.name, input, args);
}

Result<Value> Evaluator::eval_compare(const Expr& e, const ScopePtr& scope) {
  MLXS_TRY(left, eval(*e.target, scope));
  for (size_t i = 0; i < e.ops.size(); ++i) {
    MLXS_TRY(right, eval(*e.args[i], scope));
    const std::string& op = e.ops[i];
    bool r = false;
    if (op == "==") {
      r = py_equal(left, right);
    } else if (op == "!=") {
      r = !py_equal(left, right);
    } else if (op == "in" || op == "notin") {
      MLXS_TRY(c, contains(right, left));
      r = op == "in" ? c : !c;
    } else {
      // a > b is b < a; a >= b is not (a < b) for the types we order.
      if (op == "<") {
        MLXS_TRY(x, py_less(left, right));
        r = x;
      } else if (op == ">") {
        MLXS_TRY(x, py_less(right, left));
        r = x;
      } else if (op == "<=") {
        MLXS_TRY(x, py_less(right, left));
        r = !x;
      } else {
        MLXS_TRY(x, py_less(left, right));
        r = !x;
      }
      if ((left.is_float() && std::isnan(left.as_double())) || (right.is_float() && std::isnan(right.as_double())))
        r = false;
    }
    if (!r) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Result<Value> Evaluator::eval(const Expr& e, const ScopePtr& scope) {
  MLXS_RETURN_IF_ERROR(step());
  switch (e.kind) {
    case ExprKind::kConst: return e.value;
    case ExprKind::kName: {
      if (const Value* v = scope->find(e.name)) return *v;
      return Value::undefined(pyq(e.name) + " is undefined");
    }
    case ExprKind::kGetattr: {
      MLXS_TRY(obj, eval(*e.target, scope));
      return getattr(obj, e.name);
    }
    case ExprKind::kGetitem: {
      MLXS_TRY(obj, eval(*e.target, scope));
      const Expr& k = *e.args[0];
      if (k.kind == ExprKind::kSlice) {
        Value parts[3];
        for (int i = 0; i < 3; ++i) {
          if (!k.args[i]) {
            parts[i] = Value::none();
            continue;
          }
          MLXS_TRY(p, eval(*k.args[i], scope));
          parts[i] = std::move(p);
        }
        return slice_value(obj, parts[0], parts[1], parts[2]);
      }
      MLXS_TRY(key, eval(k, scope));
      return getitem(obj, key);
    }
    case ExprKind::kSlice: return Status::Error("slice outside of a subscript");
    case ExprKind::kCall: return eval_call(e, scope, std::nullopt);
    case ExprKind::kFilter: return eval_filter(e, scope, nullptr);
    case ExprKind::kTest: {
      MLXS_TRY(v, eval(*e.target, scope));
      CallArgs args;
      MLXS_RETURN_IF_ERROR(eval_args(e, scope, args));
      MLXS_TRY(r, apply_test(e.name, v, args));
      return Value(r);
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      MLXS_TRY(v, eval(*e.target, scope));
      return negate(v, e.kind == ExprKind::kNeg);
    }
    case ExprKind::kNot: {
      MLXS_TRY(v, eval(*e.target, scope));
      return Value(!v.truthy());
    }
    case ExprKind::kBinary: {
      MLXS_TRY(a, eval(*e.target, scope));
      MLXS_TRY(b, eval(*e.args[0], scope));
      auto r = binary_op(e.name, a, b);
      if (r.ok() && r->is_string() && r->str().size() > limits_.max_output_bytes)
        return Status::Error("string result exceeds the size limit");
      return r;
    }
    case ExprKind::kCompare: return eval_compare(e, scope);
    case ExprKind::kAnd: {
      MLXS_TRY(a, eval(*e.target, scope));
      if (!a.truthy()) return a;
      return eval(*e.args[0], scope);
    }
    case ExprKind::kOr: {
      MLXS_TRY(a, eval(*e.target, scope));
      if (a.truthy()) return a;
      return eval(*e.args[0], scope);
    }
    case ExprKind::kCond: {
      MLXS_TRY(c, eval(*e.args[0], scope));
      if (c.truthy()) return eval(*e.args[1], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case ExprKind::kConcat: {
      std::string s;
      for (const auto& a : e.args) {
        MLXS_TRY(v, eval(*a, scope));
        s += v.to_str();
        if (s.size() > limits_.max_output_bytes) return Status::Error("string result exceeds the size limit");
      }
      return Value(std::move(s));
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) {
        MLXS_TRY(v, eval(*a, scope));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items), e.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        MLXS_TRY(k, eval(*e.args[i], scope));
        MLXS_TRY(v, eval(*e.args[i + 1], scope));
        if (k.is_list() && !k.is_tuple()) return Status::Error("unhashable type: 'list'");
        if (k.is_dict()) return Status::Error("unhashable type: 'dict'");
        d.set(std::move(k), std::move(v));
      }
      return Value::dict(std::move(d));
    }
  }
  return Status::Error("unknown expression");
}

}  // namespace mlxs::chat
