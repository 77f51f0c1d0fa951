#include "tokenizer/hf_normalizer.h"

#include "tokenizer/utf8.h"

namespace mlxs {

using hf::join;
using hf::Json;
using hf::JsonFile;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

Result<std::unique_ptr<HfNormalizer>> HfNormalizer::create(const JsonFile& f, const Json& spec,
                                                          const std::string& where) {
  std::unique_ptr<HfNormalizer> n(new HfNormalizer);
  if (!spec.is_null()) MLXS_RETURN_IF_ERROR(n->add(f, spec, where));
  return n;
}

Status HfNormalizer::add(const JsonFile& f, const Json& spec, const std::string& where) {
  std::string type;
  MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "type", &type));
  if (type == "Sequence") {
    const Json* list = nullptr;
    MLXS_RETURN_IF_ERROR(hf::require_array(f, spec, where, "normalizers", &list));
    for (size_t i = 0; i < list->size(); ++i)
      MLXS_RETURN_IF_ERROR(add(f, (*list)[i], hf::index(join(where, "normalizers"), i)));
    return Status::Ok();
  }
  Step s{};
  if (type == "Prepend") {
    s.kind = Kind::kPrepend;
    MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "prepend", &s.text));
  } else if (type == "Replace") {
    s.kind = Kind::kReplace;
    MLXS_RETURN_IF_ERROR(hf::read_pattern(f, spec, where, &s.text, &s.regex));
    MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "content", &s.content));
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    if (!unicode::available())
      return f.error(join(where, "type"), type + " normalizer needs ICU, which this build lacks");
    s.kind = Kind::kForm;
    s.form = type == "NFC"    ? unicode::Form::kNfc
             : type == "NFD"  ? unicode::Form::kNfd
             : type == "NFKC" ? unicode::Form::kNfkc
                              : unicode::Form::kNfkd;
  } else if (type == "Lowercase") {
    s.kind = Kind::kLowercase;
  } else if (type == "Strip") {
    s.kind = Kind::kStrip;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "strip_left", true, &s.left));
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "strip_right", true, &s.right));
  } else {
    return f.error(join(where, "type"),
                   "unsupported normalizer '" + type +
                       "' (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, "
                       "Lowercase, Strip)");
  }
  steps_.push_back(std::move(s));
  return Status::Ok();
}

void HfNormalizer::replace(const Step& s, std::string& text) {
  std::string out;
  out.reserve(text.size());
  if (!s.regex) {
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, s.text.size(), s.text) == 0) {
        out += s.content;
        i += s.text.size();
      } else {
        out.push_back(text[i++]);
      }
    }
    text = std::move(out);
    return;
  }
  // The regex only sees valid UTF-8; invalid bytes are copied as they are.
  std::vector<Regex::Span> matches;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size()) {
      const size_t n = utf8::valid_char_length(text, j);
      if (n == 0) break;
      j += n;
    }
    const std::string_view run = std::string_view(text).substr(i, j - i);
    matches.clear();
    s.regex->find_all(run, matches);
    size_t done = 0;
    for (const Regex::Span& m : matches) {
      out.append(run.substr(done, m.begin - done));
      out += s.content;
      done = m.end;
    }
    out.append(run.substr(done));
    if (j < text.size()) out.push_back(text[j++]);
    i = j;
  }
  text = std::move(out);
}

std::string HfNormalizer::apply(std::string_view input) const {
  std::string text(input);
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Kind::kPrepend:
        // Hugging Face prepends only to non-empty text.
        if (!text.empty()) text.insert(0, s.text);
        break;
      case Kind::kReplace:
        replace(s, text);
        break;
      case Kind::kForm:
        text = unicode::normalize(text, s.form);
        break;
      case Kind::kLowercase:
        text = unicode::lowercase(text);
        break;
      case Kind::kStrip: {
        size_t b = 0, e = text.size();
        if (s.left)
          while (b < e && is_space(text[b])) ++b;
        if (s.right)
          while (e > b && is_space(text[e - 1])) --e;
        text = text.substr(b, e - b);
        break;
      }
    }
  }
  return text;
}

}  // namespace mlxs
