#include "chat/parser.h"

#include <set>

#include "chat/builtins.h"
#include "chat/try.h"

namespace mlxs::chat {
namespace {

constexpr int kMaxDepth = 200;


class Parser {
 public:
  Parser(const std::vector<Token>& t, const SourceMap& m) : t_(t), map_(m) {}

  Result<Body> parse_all() {
    MLXS_TRY(body, subparse({}));
    if (cur().type != TokType::kEof) return fail("unexpected token");
    return body;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& look() const { return t_[i_ + 1 < t_.size() ? i_ + 1 : i_]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_name(std::string_view n) const { return cur().type == TokType::kName && cur().text == n; }
  bool is_op(std::string_view o) const { return cur().type == TokType::kOp && cur().text == o; }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  bool skip_op(std::string_view o) {
    if (!is_op(o)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokType::kEof: return "end of template";
      case TokType::kBlockEnd: return "end of statement block";
      case TokType::kVarEnd: return "end of print statement";
      case TokType::kBlockBegin: return "begin of statement block";
      case TokType::kVarBegin: return "begin of print statement";
      case TokType::kData: return "template data";
      default: return t.text;
    }
  }

  Status fail(const std::string& msg) const { return fail_at(cur().offset, msg); }
  Status fail_at(size_t offset, const std::string& msg) const {
    return Status::Error(map_.where(offset) + ": " + msg);
  }
  Status expect_op(std::string_view o) {
    if (!skip_op(o)) return fail("expected '" + std::string(o) + "', got '" + describe(cur()) + "'");
    return Status::Ok();
  }
  Status expect_type(TokType type, const char* what) {
    if (cur().type != type) return fail(std::string("expected ") + what + ", got '" + describe(cur()) + "'");
    next();
    return Status::Ok();
  }
  Result<std::string> expect_name() {
    if (cur().type != TokType::kName) return fail("expected a name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }

  struct DepthGuard {
    explicit DepthGuard(int& d) : d_(d) { ++d_; }
    ~DepthGuard() { --d_; }
    int& d_;
  };

  ExprPtr node(ExprKind k, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->offset = offset;
    return e;
  }

  // ---- statements -------------------------------------------------------

  // Parses until a block tag whose name is in `end`; stops on that name token.
  Result<Body> subparse(const std::vector<std::string>& end) {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return fail("template nested too deeply");
    struct EndGuard {
      EndGuard(std::vector<const std::vector<std::string>*>& s, const std::vector<std::string>* e) : s_(s) { s_.push_back(e); }
      ~EndGuard() { s_.pop_back(); }
      std::vector<const std::vector<std::string>*>& s_;
    } end_guard(end_stack_, &end);
    Body body;
    while (cur().type != TokType::kEof) {
      const Token& tok = cur();
      if (tok.type == TokType::kData) {
        Stmt s;
        s.kind = StmtKind::kText;
        s.offset = tok.offset;
        s.text = tok.text;
        body.push_back(std::move(s));
        next();
      } else if (tok.type == TokType::kVarBegin) {
        size_t off = tok.offset;
        next();
        MLXS_TRY(e, parse_tuple(false, true, {}, false));
        MLXS_RETURN_IF_ERROR(expect_type(TokType::kVarEnd, "end of print statement"));
        Stmt s;
        s.kind = StmtKind::kPrint;
        s.offset = off;
        s.expr = std::move(e);
        body.push_back(std::move(s));
      } else if (tok.type == TokType::kBlockBegin) {
        next();
        if (cur().type == TokType::kName)
          for (const auto& n : end)
            if (cur().text == n) return body;
        MLXS_TRY(s, parse_statement());
        body.push_back(std::move(s));
        MLXS_RETURN_IF_ERROR(expect_type(TokType::kBlockEnd, "end of statement block"));
      } else {
        return fail("unexpected '" + describe(tok) + "'");
      }
    }
    if (!end.empty()) {
      std::string want;
      for (const auto& n : end) want += (want.empty() ? "'" : " or '") + n + "'";
      return fail_at(open_tags_.empty() ? cur().offset : open_tags_.back().second,
                     "unexpected end of template: expected " + want +
                         (open_tags_.empty() ? "" : " to close '" + open_tags_.back().first + "'"));
    }
    return body;
  }

  // A statement body: block_end, contents, and the end tag name consumed.
  Result<Body> parse_body(const std::vector<std::string>& end, bool drop_needle) {
    skip_op(":");
    MLXS_RETURN_IF_ERROR(expect_type(TokType::kBlockEnd, "end of statement block"));
    MLXS_TRY(body, subparse(end));
    if (drop_needle) next();
    return body;
  }

  Result<Stmt> parse_statement() {
    if (cur().type != TokType::kName) return fail("tag name expected");
    std::string tag = cur().text;
    size_t off = cur().offset;
    open_tags_.emplace_back(tag, off);
    auto r = parse_statement_inner(tag, off);
    open_tags_.pop_back();
    return r;
  }

  Result<Stmt> parse_statement_inner(const std::string& tag, size_t off) {
    Stmt s;
    s.offset = off;
    next();
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "call") return parse_call_block(std::move(s));
    if (tag == "filter") {
      s.kind = StmtKind::kFilterBlock;
      MLXS_TRY(f, parse_filter(nullptr, true));
      s.filter = std::move(f);
      MLXS_TRY(body, parse_body({"endfilter"}, true));
      s.body = std::move(body);
      return s;
    }
    if (tag == "with") {
      s.kind = StmtKind::kWith;
      while (cur().type != TokType::kBlockEnd) {
        if (!s.assigns.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
        MLXS_TRY(t, parse_assign_target(true, false, {}));
        MLXS_RETURN_IF_ERROR(expect_op("="));
        MLXS_TRY(v, parse_expression(true));
        s.assigns.emplace_back(std::move(t), std::move(v));
      }
      MLXS_TRY(body, parse_body({"endwith"}, true));
      s.body = std::move(body);
      return s;
    }
    if (tag == "generation") {
      // Hugging Face's AssistantTracker tag: renders its body unchanged.
      s.kind = StmtKind::kBody;
      MLXS_TRY(body, parse_body({"endgeneration"}, true));
      s.body = std::move(body);
      return s;
    }
    if (tag == "print") {
      // Each comma-separated expression prints in turn (not as a tuple).
      s.kind = StmtKind::kPrint;
      auto all = node(ExprKind::kConcat, off);
      while (cur().type != TokType::kBlockEnd) {
        if (!all->args.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
        MLXS_TRY(e, parse_expression(true));
        all->args.push_back(std::move(e));
      }
      s.expr = std::move(all);
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return fail_at(off, "'" + tag + "' outside of a loop");
      s.kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      return s;
    }
    std::string msg = "unknown tag '" + tag + "'";
    for (const auto* ends : end_stack_)
      for (const auto& n : *ends)
        if (n == tag) msg = "unexpected tag '" + tag + "'";
    if (!open_tags_.empty() && open_tags_.size() >= 2)
      msg += "; the innermost block that needs to be closed is '" + open_tags_[open_tags_.size() - 2].first + "'";
    return fail_at(off, msg);
  }

  Result<Stmt> parse_if(Stmt s) {
    s.kind = StmtKind::kIf;
    while (true) {
      MLXS_TRY(cond, parse_tuple(false, false, {}, false));
      MLXS_TRY(body, parse_body({"elif", "else", "endif"}, false));
      s.branches.push_back(Branch{std::move(cond), std::move(body)});
      std::string t = cur().text;
      next();
      if (t == "elif") continue;
      if (t == "else") {
        MLXS_TRY(eb, parse_body({"endif"}, true));
        s.branches.push_back(Branch{nullptr, std::move(eb)});
      }
      break;
    }
    return s;
  }

  Result<Stmt> parse_for(Stmt s) {
    s.kind = StmtKind::kFor;
    MLXS_TRY(target, parse_assign_target(true, false, {"in"}));
    s.target = std::move(target);
    if (!skip_name("in")) return fail("expected 'in'");
    MLXS_TRY(iter, parse_tuple(false, false, {"recursive"}, false));
    s.expr = std::move(iter);
    if (skip_name("if")) {
      MLXS_TRY(c, parse_expression(true));
      s.cond = std::move(c);
    }
    if (is_name("recursive")) return fail("recursive loops are not supported");
    std::set<std::string> saved;
    saved.swap(names_);
    ++loop_depth_;
    auto body = parse_body({"endfor", "else"}, false);
    --loop_depth_;
    if (!body.ok()) return body.status();
    s.body = std::move(body.value());
    // Building the loop object costs allocations; skip it when nothing can see it.
    // A macro defined in the body could read `loop` too, which names_ also records.
    s.uses_loop = names_.count("loop") > 0;
    names_.insert(saved.begin(), saved.end());
    std::string t = cur().text;
    next();
    if (t == "else") {
      MLXS_TRY(eb, parse_body({"endfor"}, true));
      s.else_body = std::move(eb);
    }
    return s;
  }

  Result<Stmt> parse_set(Stmt s) {
    MLXS_TRY(target, parse_assign_target(true, true, {}));
    s.target = std::move(target);
    if (skip_op("=")) {
      s.kind = StmtKind::kSet;
      MLXS_TRY(e, parse_tuple(false, true, {}, false));
      s.expr = std::move(e);
      return s;
    }
    s.kind = StmtKind::kSetBlock;
    if (is_op("|")) {
      MLXS_TRY(f, parse_filter(nullptr, false));
      s.filter = std::move(f);
    }
    MLXS_TRY(body, parse_body({"endset"}, true));
    s.body = std::move(body);
    return s;
  }

  Status parse_signature(Stmt& s) {
    MLXS_RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      if (!s.params.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
      if (is_op(")")) break;
      MLXS_TRY(name, expect_name());
      s.params.push_back(name);
      if (skip_op("=")) {
        MLXS_TRY(d, parse_expression(true));
        s.defaults.push_back(std::move(d));
      } else if (!s.defaults.empty()) {
        return fail("non-default argument follows default argument");
      }
    }
    return expect_op(")");
  }

  // Macros accept extra arguments only when their body names varargs/kwargs.
  void note_special_names(Stmt& s, std::set<std::string>& saved) {
    s.uses_varargs = names_.count("varargs") > 0;
    s.uses_kwargs = names_.count("kwargs") > 0;
    s.uses_caller = names_.count("caller") > 0;
    names_.insert(saved.begin(), saved.end());
  }

  Result<Stmt> parse_macro(Stmt s) {
    s.kind = StmtKind::kMacro;
    MLXS_TRY(name, expect_name());
    s.name = name;
    MLXS_RETURN_IF_ERROR(parse_signature(s));
    std::set<std::string> saved;
    saved.swap(names_);
    int saved_loop = loop_depth_;
    loop_depth_ = 0;
    auto body = parse_body({"endmacro"}, true);
    loop_depth_ = saved_loop;
    if (!body.ok()) return body.status();
    s.body = std::move(body.value());
    note_special_names(s, saved);
    return s;
  }

  Result<Stmt> parse_call_block(Stmt s) {
    s.kind = StmtKind::kCallBlock;
    if (is_op("(")) MLXS_RETURN_IF_ERROR(parse_signature(s));
    size_t off = cur().offset;
    MLXS_TRY(call, parse_expression(true));
    if (call->kind != ExprKind::kCall) return fail_at(off, "expected call");
    s.expr = std::move(call);
    std::set<std::string> saved;
    saved.swap(names_);
    MLXS_TRY(body, parse_body({"endcall"}, true));
    s.body = std::move(body);
    note_special_names(s, saved);
    return s;
  }

  Result<ExprPtr> parse_assign_target(bool with_tuple, bool with_namespace, const std::vector<std::string>& extra_end) {
    size_t off = cur().offset;
    if (with_namespace && cur().type == TokType::kName && look().type == TokType::kOp && look().text == ".") {
      auto n = node(ExprKind::kName, off);
      n->name = cur().text;
      next();
      next();
      MLXS_TRY(attr, expect_name());
      auto ga = node(ExprKind::kGetattr, off);
      ga->target = std::move(n);
      ga->name = attr;
      return ga;
    }
    ExprPtr t;
    if (with_tuple) {
      MLXS_TRY(x, parse_tuple(true, true, extra_end, false));
      t = std::move(x);
    } else {
      MLXS_TRY(x, parse_primary());
      t = std::move(x);
    }
    auto assignable = [](const Expr& e) { return e.kind == ExprKind::kName; };
    bool ok = assignable(*t);
    if (t->kind == ExprKind::kTuple) {
      ok = true;
      for (auto& a : t->args) ok = ok && assignable(*a);
    }
    if (!ok) return fail_at(off, "can't assign to this expression");
    for (const char* kw : {"true", "false", "none", "True", "False", "None"})
      if (t->kind == ExprKind::kName && t->name == kw) return fail_at(off, "can't assign to a constant");
    return t;
  }

  // ---- expressions ------------------------------------------------------

  bool is_tuple_end(const std::vector<std::string>& extra) const {
    if (cur().type == TokType::kVarEnd || cur().type == TokType::kBlockEnd || is_op(")")) return true;
    for (const auto& e : extra)
      if (is_name(e)) return true;
    return false;
  }

  Result<ExprPtr> parse_tuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra,
                              bool explicit_parens) {
    size_t off = cur().offset;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
      if (is_tuple_end(extra)) break;
      if (simplified) {
        MLXS_TRY(e, parse_primary());
        args.push_back(std::move(e));
      } else {
        MLXS_TRY(e, parse_expression(with_condexpr));
        args.push_back(std::move(e));
      }
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) return fail("expected an expression, got '" + describe(cur()) + "'");
    }
    auto t = node(ExprKind::kTuple, off);
    t->args = std::move(args);
    return t;
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return fail("expression nested too deeply");
    if (!with_condexpr) return parse_or();
    size_t off = cur().offset;
    MLXS_TRY(e1, parse_or());
    while (skip_name("if")) {
      MLXS_TRY(e2, parse_or());
      ExprPtr e3;
      if (skip_name("else")) {
        MLXS_TRY(x, parse_expression(true));
        e3 = std::move(x);
      }
      auto c = node(ExprKind::kCond, off);
      c->args.push_back(std::move(e2));
      c->args.push_back(std::move(e1));
      c->args.push_back(std::move(e3));
      e1 = std::move(c);
    }
    return e1;
  }

  Result<ExprPtr> parse_or() {
    size_t off = cur().offset;
    MLXS_TRY(left, parse_and());
    while (skip_name("or")) {
      MLXS_TRY(right, parse_and());
      auto n = node(ExprKind::kOr, off);
      n->target = std::move(left);
      n->args.push_back(std::move(right));
      left = std::move(n);
    }
    return left;
  }

  Result<ExprPtr> parse_and() {
    size_t off = cur().offset;
    MLXS_TRY(left, parse_not());
    while (skip_name("and")) {
      MLXS_TRY(right, parse_not());
      auto n = node(ExprKind::kAnd, off);
      n->target = std::move(left);
      n->args.push_back(std::move(right));
      left = std::move(n);
    }
    return left;
  }

  Result<ExprPtr> parse_not() {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return fail("expression nested too deeply");
    if (is_name("not")) {
      size_t off = cur().offset;
      next();
      MLXS_TRY(x, parse_not());
      auto n = node(ExprKind::kNot, off);
      n->target = std::move(x);
      return n;
    }
    return parse_compare();
  }

  Result<ExprPtr> parse_compare() {
    size_t off = cur().offset;
    MLXS_TRY(e, parse_math1());
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      std::string op;
      if (cur().type == TokType::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (skip_name("in")) {
        op = "in";
      } else if (is_name("not") && look().type == TokType::kName && look().text == "in") {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      MLXS_TRY(rhs, parse_math1());
      ops.push_back(op);
      operands.push_back(std::move(rhs));
    }
    if (ops.empty()) return e;
    auto n = node(ExprKind::kCompare, off);
    n->target = std::move(e);
    n->ops = std::move(ops);
    n->args = std::move(operands);
    return n;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, size_t off) {
    auto n = node(ExprKind::kBinary, off);
    n->name = op;
    n->target = std::move(l);
    n->args.push_back(std::move(r));
    return n;
  }

  Result<ExprPtr> parse_math1() {
    size_t off = cur().offset;
    MLXS_TRY(left, parse_concat());
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      next();
      MLXS_TRY(right, parse_concat());
      left = binary(op, std::move(left), std::move(right), off);
    }
    return left;
  }

  Result<ExprPtr> parse_concat() {
    size_t off = cur().offset;
    MLXS_TRY(first, parse_math2());
    if (!is_op("~")) return first;
    auto n = node(ExprKind::kConcat, off);
    n->args.push_back(std::move(first));
    while (skip_op("~")) {
      MLXS_TRY(x, parse_math2());
      n->args.push_back(std::move(x));
    }
    return n;
  }

  Result<ExprPtr> parse_math2() {
    size_t off = cur().offset;
    MLXS_TRY(left, parse_pow());
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      next();
      MLXS_TRY(right, parse_pow());
      left = binary(op, std::move(left), std::move(right), off);
    }
    return left;
  }

  Result<ExprPtr> parse_pow() {
    size_t off = cur().offset;
    MLXS_TRY(left, parse_unary(true));
    while (skip_op("**")) {
      MLXS_TRY(right, parse_unary(true));
      left = binary("**", std::move(left), std::move(right), off);
    }
    return left;
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return fail("expression nested too deeply");
    size_t off = cur().offset;
    ExprPtr n;
    if (is_op("-") || is_op("+")) {
      bool neg = is_op("-");
      next();
      MLXS_TRY(x, parse_unary(false));
      n = node(neg ? ExprKind::kNeg : ExprKind::kPos, off);
      n->target = std::move(x);
    } else {
      MLXS_TRY(x, parse_primary());
      n = std::move(x);
    }
    MLXS_TRY(p, parse_postfix(std::move(n)));
    if (!with_filter) return p;
    return parse_filter_expr(std::move(p));
  }

  Result<ExprPtr> parse_primary() {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return fail("expression nested too deeply");
    const Token& t = cur();
    size_t off = t.offset;
    if (t.type == TokType::kName) {
      auto n = node(ExprKind::kConst, off);
      if (t.text == "true" || t.text == "True") n->value = Value(true);
      else if (t.text == "false" || t.text == "False") n->value = Value(false);
      else if (t.text == "none" || t.text == "None") n->value = Value::none();
      else {
        n->kind = ExprKind::kName;
        n->name = t.text;
        names_.insert(t.text);
      }
      next();
      return n;
    }
    if (t.type == TokType::kString) {
      std::string s;
      while (cur().type == TokType::kString) {
        s += cur().text;
        next();
      }
      auto n = node(ExprKind::kConst, off);
      n->value = Value(std::move(s));
      return n;
    }
    if (t.type == TokType::kInt || t.type == TokType::kFloat) {
      auto n = node(ExprKind::kConst, off);
      n->value = t.type == TokType::kInt ? Value(t.ival) : Value(t.fval);
      next();
      return n;
    }
    if (is_op("(")) {
      next();
      MLXS_TRY(e, parse_tuple(false, true, {}, true));
      MLXS_RETURN_IF_ERROR(expect_op(")"));
      return e;
    }
    if (is_op("[")) {
      next();
      auto n = node(ExprKind::kList, off);
      while (!is_op("]")) {
        if (!n->args.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
        if (is_op("]")) break;
        MLXS_TRY(e, parse_expression(true));
        n->args.push_back(std::move(e));
      }
      MLXS_RETURN_IF_ERROR(expect_op("]"));
      return n;
    }
    if (is_op("{")) {
      next();
      auto n = node(ExprKind::kDict, off);
      while (!is_op("}")) {
        if (!n->args.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
        if (is_op("}")) break;
        MLXS_TRY(k, parse_expression(true));
        MLXS_RETURN_IF_ERROR(expect_op(":"));
        MLXS_TRY(v, parse_expression(true));
        n->args.push_back(std::move(k));
        n->args.push_back(std::move(v));
      }
      MLXS_RETURN_IF_ERROR(expect_op("}"));
      return n;
    }
    return fail("unexpected '" + describe(t) + "'");
  }

  Result<ExprPtr> parse_postfix(ExprPtr n) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        MLXS_TRY(x, parse_subscript(std::move(n)));
        n = std::move(x);
      } else if (is_op("(")) {
        MLXS_TRY(x, parse_call(std::move(n)));
        n = std::move(x);
      } else {
        return n;
      }
    }
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr n) {
    while (true) {
      if (is_op("|")) {
        MLXS_TRY(x, parse_filter(std::move(n), false));
        n = std::move(x);
      } else if (is_name("is")) {
        MLXS_TRY(x, parse_test(std::move(n)));
        n = std::move(x);
      } else if (is_op("(")) {
        MLXS_TRY(x, parse_call(std::move(n)));
        n = std::move(x);
      } else {
        return n;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr n) {
    size_t off = cur().offset;
    if (skip_op(".")) {
      if (cur().type == TokType::kName) {
        auto g = node(ExprKind::kGetattr, off);
        g->target = std::move(n);
        g->name = cur().text;
        next();
        return g;
      }
      if (cur().type != TokType::kInt) return fail("expected name or number");
      auto g = node(ExprKind::kGetitem, off);
      g->target = std::move(n);
      auto c = node(ExprKind::kConst, cur().offset);
      c->value = Value(cur().ival);
      g->args.push_back(std::move(c));
      next();
      return g;
    }
    next();  // [
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) MLXS_RETURN_IF_ERROR(expect_op(","));
      MLXS_TRY(a, parse_subscribed());
      args.push_back(std::move(a));
    }
    MLXS_RETURN_IF_ERROR(expect_op("]"));
    auto g = node(ExprKind::kGetitem, off);
    g->target = std::move(n);
    if (args.size() == 1) {
      g->args.push_back(std::move(args[0]));
    } else {
      auto t = node(ExprKind::kTuple, off);
      t->args = std::move(args);
      g->args.push_back(std::move(t));
    }
    return g;
  }

  Result<ExprPtr> parse_subscribed() {
    size_t off = cur().offset;
    std::vector<ExprPtr> parts;
    if (skip_op(":")) {
      parts.push_back(nullptr);
    } else {
      MLXS_TRY(e, parse_expression(true));
      if (!is_op(":")) return e;
      next();
      parts.push_back(std::move(e));
    }
    if (is_op(":") || is_op("]") || is_op(",")) {
      parts.push_back(nullptr);
    } else {
      MLXS_TRY(e, parse_expression(true));
      parts.push_back(std::move(e));
    }
    if (skip_op(":")) {
      if (is_op("]") || is_op(",")) {
        parts.push_back(nullptr);
      } else {
        MLXS_TRY(e, parse_expression(true));
        parts.push_back(std::move(e));
      }
    } else {
      parts.push_back(nullptr);
    }
    auto s = node(ExprKind::kSlice, off);
    s->args = std::move(parts);
    return s;
  }

  Status parse_call_args(Expr& call) {
    MLXS_RETURN_IF_ERROR(expect_op("("));
    bool need_comma = false;
    while (!is_op(")")) {
      if (need_comma) {
        MLXS_RETURN_IF_ERROR(expect_op(","));
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) {
        bool star2 = is_op("**");
        next();
        MLXS_TRY(e, parse_expression(true));
        (star2 ? call.dyn_kwargs : call.dyn_args) = std::move(e);
      } else if (cur().type == TokType::kName && look().type == TokType::kOp && look().text == "=") {
        std::string key = cur().text;
        next();
        next();
        MLXS_TRY(e, parse_expression(true));
        call.kwargs.emplace_back(key, std::move(e));
      } else {
        if (!call.kwargs.empty() || call.dyn_args || call.dyn_kwargs)
          return fail("invalid syntax for function call expression");
        MLXS_TRY(e, parse_expression(true));
        call.args.push_back(std::move(e));
      }
      need_comma = true;
    }
    return expect_op(")");
  }

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto c = node(ExprKind::kCall, cur().offset);
    c->target = std::move(callee);
    MLXS_RETURN_IF_ERROR(parse_call_args(*c));
    return c;
  }

  Result<ExprPtr> parse_filter(ExprPtr n, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      size_t off = cur().offset;
      MLXS_TRY(name, expect_name());
      while (skip_op(".")) {
        MLXS_TRY(more, expect_name());
        name += "." + more;
      }
      if (!has_filter(name)) return fail_at(off, "no filter named '" + name + "'");
      auto f = node(ExprKind::kFilter, off);
      f->name = name;
      f->target = std::move(n);
      if (is_op("(")) MLXS_RETURN_IF_ERROR(parse_call_args(*f));
      n = std::move(f);
    }
    return n;
  }

  Result<ExprPtr> parse_test(ExprPtr n) {
    size_t off = cur().offset;
    next();  // is
    bool negated = skip_name("not");
    size_t name_off = cur().offset;
    MLXS_TRY(name, expect_name());
    while (skip_op(".")) {
      MLXS_TRY(more, expect_name());
      name += "." + more;
    }
    if (!has_test(name)) return fail_at(name_off, "no test named '" + name + "'");
    auto t = node(ExprKind::kTest, off);
    t->name = name;
    t->target = std::move(n);
    if (is_op("(")) {
      MLXS_RETURN_IF_ERROR(parse_call_args(*t));
    } else if ((cur().type == TokType::kName || cur().type == TokType::kString || cur().type == TokType::kInt ||
                cur().type == TokType::kFloat || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) return fail("you cannot chain multiple tests with is");
      MLXS_TRY(a, parse_primary());
      MLXS_TRY(p, parse_postfix(std::move(a)));
      t->args.push_back(std::move(p));
    }
    if (!negated) return t;
    auto nn = node(ExprKind::kNot, off);
    nn->target = std::move(t);
    return nn;
  }

  const std::vector<Token>& t_;
  const SourceMap& map_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::pair<std::string, size_t>> open_tags_;
  std::set<std::string> names_;
  std::vector<const std::vector<std::string>*> end_stack_;
};

}  // namespace

Result<Body> parse_template(const std::vector<Token>& tokens, const SourceMap& map) {
  return Parser(tokens, map).parse_all();
}

}  // namespace mlxs::chat
