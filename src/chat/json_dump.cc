#include "chat/json_dump.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/text.h"

namespace mlxs::chat {
namespace {

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[16];
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          if (c >= 0x10000) {
            char32_t v = c - 0x10000;
            std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                          static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          } else {
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          }
          out += buf;
        } else {
          utf8_append(out, c);
        }
      }
    }
  }
  out += '"';
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return py_float_repr(d);
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& o) : o_(o) {
    item_sep_ = o.item_sep ? *o.item_sep : (o.indent ? "," : ", ");
    key_sep_ = o.key_sep ? *o.key_sep : ": ";
  }

  Status dump(const Value& v, int depth, std::string& out) {
    if (depth > 512) return Status::Error("tojson: value nested too deeply");
    switch (v.kind()) {
      case Value::Kind::kNone: out += "null"; return Status::Ok();
      case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return Status::Ok();
      case Value::Kind::kInt: out += std::to_string(v.as_int()); return Status::Ok();
      case Value::Kind::kFloat: out += float_json(v.as_double()); return Status::Ok();
      case Value::Kind::kString: dump_string(out, v.str(), o_.ensure_ascii); return Status::Ok();
      case Value::Kind::kList: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return Status::Ok();
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep_;
          newline(out, depth + 1);
          MLXS_RETURN_IF_ERROR(dump(items[i], depth + 1, out));
        }
        newline(out, depth);
        out += ']';
        return Status::Ok();
      }
      case Value::Kind::kDict: {
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [k, val] : v.dict().entries) {
          std::string key;
          switch (k.kind()) {
            case Value::Kind::kString: key = k.str(); break;
            case Value::Kind::kNone: key = "null"; break;
            case Value::Kind::kBool: key = k.as_bool() ? "true" : "false"; break;
            case Value::Kind::kInt: key = std::to_string(k.as_int()); break;
            case Value::Kind::kFloat: key = float_json(k.as_double()); break;
            default:
              return Status::Error("keys must be str, int, float, bool or None, not " + k.type_name());
          }
          entries.emplace_back(std::move(key), &val);
        }
        if (entries.empty()) {
          out += "{}";
          return Status::Ok();
        }
        if (o_.sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep_;
          newline(out, depth + 1);
          dump_string(out, entries[i].first, o_.ensure_ascii);
          out += key_sep_;
          MLXS_RETURN_IF_ERROR(dump(*entries[i].second, depth + 1, out));
        }
        newline(out, depth);
        out += '}';
        return Status::Ok();
      }
      default:
        return Status::Error("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }

 private:
  void newline(std::string& out, int depth) {
    if (!o_.indent) return;
    out += '\n';
    for (int i = 0; i < depth; ++i) out += *o_.indent;
  }

  const JsonDumpOptions& o_;
  std::string item_sep_, key_sep_;
};

}  // namespace

Result<std::string> json_dumps(const Value& v, const JsonDumpOptions& opts) {
  std::string out;
  Dumper d(opts);
  MLXS_RETURN_IF_ERROR(d.dump(v, 0, out));
  return out;
}

}  // namespace mlxs::chat
