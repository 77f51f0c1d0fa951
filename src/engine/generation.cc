#include "engine/generation.h"

namespace mlxs {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "";
}

bool GenerationStream::next(Chunk* out) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || delivered_; });
  if (queue_.empty()) return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  if (out->finish != FinishReason::kNone) delivered_ = true;
  return true;
}

bool GenerationStream::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

void GenerationStream::push(Chunk c, const std::function<void(const Chunk&)>& callback) {
  bool final = c.finish != FinishReason::kNone;
  if (callback) {
    callback(c);
    std::lock_guard<std::mutex> lock(mu_);
    if (final) ended_ = delivered_ = true;
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(c));
    if (final) ended_ = true;
  }
  cv_.notify_all();
}

}  // namespace mlxs
