#include "engine/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace mlxs {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

size_t StopMatcher::earliest_match() const {
  size_t best = std::string::npos;
  for (const std::string& s : stops_) best = std::min(best, pending_.find(s));
  return best;
}

size_t StopMatcher::earliest_partial() const {
  const size_t len = pending_.size();
  size_t best = len;
  for (const std::string& s : stops_) {
    // Only the last |s|-1 bytes can hold a proper prefix of s that runs to the end.
    const size_t from = len >= s.size() ? len - s.size() + 1 : 0;
    for (size_t p = from; p < std::min(len, best); ++p) {
      if (pending_.compare(p, len - p, s, 0, len - p) == 0) {
        best = p;
        break;
      }
    }
  }
  return best;
}

StopMatcher::Output StopMatcher::push(std::string_view text) {
  Output out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  pending_.append(text);
  // pending_ stays short: every earlier push released all but a possible stop prefix, so
  // rescanning it whole is cheap and finds matches that straddle pushes.
  const size_t match = earliest_match();
  const size_t partial = earliest_partial();
  if (match != std::string::npos && match <= partial) {
    out.text = pending_.substr(0, match);
    out.stopped = true;
    stopped_ = true;
    pending_.clear();
    return out;
  }
  // Release everything before the earliest place a stop may still begin; that text can
  // never be part of a stop, whatever arrives next.
  const size_t safe = std::min(match, partial);
  out.text = pending_.substr(0, safe);
  pending_.erase(0, safe);
  return out;
}

std::string StopMatcher::flush() {
  if (stopped_) return "";
  const size_t match = earliest_match();
  std::string out = std::move(pending_);
  pending_.clear();
  if (match != std::string::npos) {
    out.resize(match);
    stopped_ = true;
  }
  return out;
}

}  // namespace mlxs
