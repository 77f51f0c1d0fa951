#include "tokenizer/hf_pretokenizer.h"

#include <algorithm>
#include <cctype>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace mlxs {

using hf::join;
using hf::Json;
using hf::JsonFile;

namespace {

// The regex Hugging Face's ByteLevel pre-tokenizer uses when use_regex is true (GPT-2's).
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A literal pattern as a regex: every ASCII punctuation character escaped.
std::string quote(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u) && c != ' ' && c != '_') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct Segment {
  size_t begin;
  size_t end;
  bool match;
};

}  // namespace

Result<std::unique_ptr<HfPreTokenizer>> HfPreTokenizer::create(const JsonFile& f,
                                                              const Json& spec,
                                                              const std::string& where) {
  std::unique_ptr<HfPreTokenizer> p(new HfPreTokenizer);
  if (!spec.is_null()) MLXS_RETURN_IF_ERROR(p->add(f, spec, where));
  return p;
}

Status HfPreTokenizer::add_split(const JsonFile& f, std::string_view pattern, bool literal,
                                 Behavior behavior, bool invert, const std::string& where) {
  auto re = Regex::compile(literal ? quote(pattern) : std::string(pattern));
  if (!re.ok()) return f.error(where, re.status().message());
  Step s;
  s.kind = Kind::kSplit;
  s.regex.emplace(std::move(re.value()));
  s.behavior = behavior;
  s.invert = invert;
  steps_.push_back(std::move(s));
  return Status::Ok();
}

Status HfPreTokenizer::add(const JsonFile& f, const Json& spec, const std::string& where) {
  std::string type;
  MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "type", &type));
  if (type == "Sequence") {
    const Json* list = nullptr;
    MLXS_RETURN_IF_ERROR(hf::require_array(f, spec, where, "pretokenizers", &list));
    for (size_t i = 0; i < list->size(); ++i)
      MLXS_RETURN_IF_ERROR(add(f, (*list)[i], hf::index(join(where, "pretokenizers"), i)));
    return Status::Ok();
  }
  if (type == "Split") {
    std::string literal;
    std::optional<Regex> regex;
    MLXS_RETURN_IF_ERROR(hf::read_pattern(f, spec, where, &literal, &regex));
    std::string behavior_name;
    MLXS_RETURN_IF_ERROR(hf::require_string(f, spec, where, "behavior", &behavior_name));
    Behavior behavior;
    if (behavior_name == "Removed") {
      behavior = Behavior::kRemoved;
    } else if (behavior_name == "Isolated") {
      behavior = Behavior::kIsolated;
    } else if (behavior_name == "MergedWithPrevious") {
      behavior = Behavior::kMergedWithPrevious;
    } else if (behavior_name == "MergedWithNext") {
      behavior = Behavior::kMergedWithNext;
    } else if (behavior_name == "Contiguous") {
      behavior = Behavior::kContiguous;
    } else {
      return f.error(join(where, "behavior"), "unknown split behavior '" + behavior_name + "'");
    }
    bool invert = false;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "invert", false, &invert));
    if (regex) {
      Step s;
      s.kind = Kind::kSplit;
      s.regex = std::move(regex);
      s.behavior = behavior;
      s.invert = invert;
      steps_.push_back(std::move(s));
      return Status::Ok();
    }
    return add_split(f, literal, /*literal=*/true, behavior, invert, join(where, "pattern"));
  }
  if (type == "ByteLevel") {
    Step s;
    s.kind = Kind::kByteLevel;
    bool use_regex = true;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "add_prefix_space", true, &s.add_prefix_space));
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "use_regex", true, &use_regex));
    if (use_regex) s.regex.emplace(std::move(Regex::compile(kGpt2Regex).value()));
    steps_.push_back(std::move(s));
    byte_level_ = true;
    return Status::Ok();
  }
  if (type == "Metaspace") {
    Step s;
    s.kind = Kind::kMetaspace;
    std::optional<std::string> repl, scheme;
    MLXS_RETURN_IF_ERROR(hf::read_string(f, spec, where, "replacement", &repl));
    s.replacement = repl.value_or("\xE2\x96\x81");
    if (s.replacement.empty() || utf8::char_length(s.replacement, 0) != s.replacement.size())
      return f.error(join(where, "replacement"), "expected a single character");
    MLXS_RETURN_IF_ERROR(hf::read_string(f, spec, where, "prepend_scheme", &scheme));
    if (scheme) {
      if (*scheme == "always") {
        s.prepend = Step::Prepend::kAlways;
      } else if (*scheme == "never") {
        s.prepend = Step::Prepend::kNever;
      } else if (*scheme == "first") {
        s.prepend = Step::Prepend::kFirst;
      } else {
        return f.error(join(where, "prepend_scheme"), "unknown prepend scheme '" + *scheme + "'");
      }
    } else {
      // Files written before prepend_scheme existed say add_prefix_space instead.
      bool add_prefix = true;
      MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "add_prefix_space", true, &add_prefix));
      s.prepend = add_prefix ? Step::Prepend::kAlways : Step::Prepend::kNever;
    }
    bool split = true;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "split", true, &split));
    if (split) {
      s.regex.emplace(std::move(Regex::compile(quote(s.replacement)).value()));
      s.behavior = Behavior::kMergedWithNext;
    }
    steps_.push_back(std::move(s));
    return Status::Ok();
  }
  if (type == "Digits") {
    bool individual = false;
    MLXS_RETURN_IF_ERROR(hf::read_bool(f, spec, where, "individual_digits", false, &individual));
    // Rust's char::is_numeric is the Unicode N categories, which \p{N} matches.
    return add_split(f, R"(\p{N})", false,
                     individual ? Behavior::kIsolated : Behavior::kContiguous, false, where);
  }
  if (type == "Whitespace") {
    return add_split(f, R"(\w+|[^\w\s]+)", false, Behavior::kRemoved, /*invert=*/true, where);
  }
  if (type == "WhitespaceSplit") {
    return add_split(f, R"(\s+)", false, Behavior::kRemoved, false, where);
  }
  return f.error(join(where, "type"),
                 "unsupported pre-tokenizer '" + type +
                     "' (supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, "
                     "WhitespaceSplit)");
}

void HfPreTokenizer::cut(const Piece& p, const Regex& re, Behavior behavior, bool invert,
                         std::vector<Piece>& out) {
  std::vector<Regex::Span> matches;
  re.find_all(p.text, matches);
  std::vector<Segment> segs;
  size_t prev = 0;
  for (const Regex::Span& m : matches) {
    if (m.begin > prev) segs.push_back({prev, m.begin, invert});
    segs.push_back({m.begin, m.end, !invert});
    prev = m.end;
  }
  if (prev < p.text.size()) segs.push_back({prev, p.text.size(), invert});

  // The fold of Hugging Face's SplitDelimiterBehavior, segment by segment.
  std::vector<Segment> kept;
  bool prev_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& s : segs)
        if (!s.match) kept.push_back(s);
      break;
    case Behavior::kIsolated:
      kept = segs;
      break;
    case Behavior::kMergedWithPrevious:
      for (const Segment& s : segs) {
        if (s.match && !prev_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back(s);
        }
        prev_match = s.match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->match && !prev_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back(*it);
        }
        prev_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    case Behavior::kContiguous:
      for (size_t i = 0; i < segs.size(); ++i) {
        if (i > 0 && segs[i].match == segs[i - 1].match) {
          kept.back().end = segs[i].end;
        } else {
          kept.push_back(segs[i]);
        }
      }
      break;
  }
  for (const Segment& s : kept) {
    if (s.end > s.begin) out.push_back({p.text.substr(s.begin, s.end - s.begin), false});
  }
}

void HfPreTokenizer::split(std::string_view text, bool at_start,
                           std::vector<std::string>& out) const {
  std::vector<Piece> pieces;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size()) {
      const size_t n = utf8::valid_char_length(text, j);
      if (n == 0) break;
      j += n;
    }
    if (j > i) pieces.push_back({std::string(text.substr(i, j - i)), false});
    if (j < text.size()) pieces.push_back({std::string(1, text[j++]), true});
    i = j;
  }

  std::vector<Piece> next;
  for (const Step& s : steps_) {
    next.clear();
    for (size_t k = 0; k < pieces.size(); ++k) {
      Piece& p = pieces[k];
      if (s.kind == Kind::kByteLevel) {
        if (!p.raw && s.add_prefix_space && p.text[0] != ' ') p.text = " " + p.text;
        std::vector<Piece> words;
        if (s.regex && !p.raw) {
          cut(p, *s.regex, Behavior::kIsolated, false, words);
        } else {
          words.push_back(std::move(p));
        }
        for (Piece& w : words) {
          std::string mapped;
          byte_level::encode(w.text, mapped);
          next.push_back({std::move(mapped), false});
        }
        continue;
      }
      if (p.raw) {
        next.push_back(std::move(p));
        continue;
      }
      if (s.kind == Kind::kMetaspace) {
        std::string t;
        t.reserve(p.text.size() + 4);
        for (char c : p.text) {
          if (c == ' ') {
            t += s.replacement;
          } else {
            t.push_back(c);
          }
        }
        const bool first = at_start && k == 0;
        const bool prepend = s.prepend == Step::Prepend::kAlways ||
                             (s.prepend == Step::Prepend::kFirst && first);
        if (prepend && t.compare(0, s.replacement.size(), s.replacement) != 0)
          t.insert(0, s.replacement);
        p.text = std::move(t);
        if (!s.regex) {
          next.push_back(std::move(p));
          continue;
        }
      }
      cut(p, *s.regex, s.behavior, s.invert, next);
    }
    std::swap(pieces, next);
  }
  for (Piece& p : pieces) out.push_back(std::move(p.text));
}

}  // namespace mlxs
