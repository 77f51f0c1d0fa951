#include "tokenizer/bpe_merge.h"

#include <queue>

namespace mlxs {
namespace {

struct Candidate {
  int32_t rank;
  int left;
  int right;
  int32_t left_id;  // ids when queued; a mismatch later means the entry is stale
  int32_t right_id;
  int32_t result;
};

// Lowest rank first; on ties the leftmost pair.
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void bpe_push_symbol(std::vector<BpeSymbol>& symbols, size_t pos, size_t len, int32_t id) {
  const int idx = static_cast<int>(symbols.size());
  if (idx > 0) symbols.back().next = idx;
  symbols.push_back({idx - 1, -1, pos, len, id});
}

void bpe_merge(std::vector<BpeSymbol>& symbols, const MergeTable& merges) {
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t a = symbols[left].id, b = symbols[right].id;
    if (a < 0 || b < 0) return;
    const MergeTable::Merge* m = merges.find(a, b);
    if (!m) return;
    queue.push({m->rank, left, right, a, b, m->result});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    BpeSymbol& l = symbols[c.left];
    BpeSymbol& r = symbols[c.right];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.id != c.left_id || r.id != c.right_id)
      continue;
    l.id = c.result;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
}

}  // namespace mlxs
