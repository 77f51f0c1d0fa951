#include "flags/bucketing.h"

#include <openssl/evp.h>

#include <string>

namespace mlxs::flags {

uint32_t rollout_hash(std::string_view key, std::string_view seed) {
  std::string input;
  input.reserve(key.size() + 1 + seed.size());
  input.append(key).append(":").append(seed);
  // Fetched once: OpenSSL 3 otherwise looks the algorithm up again on every digest.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "MD5", nullptr);
  const EVP_MD* md = fetched ? fetched : EVP_md5();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with MD5 cannot fail for in-memory input short of allocation failure;
  // a zeroed digest then still gives a valid (if unlucky) bucket rather than garbage.
  if (EVP_Digest(input.data(), input.size(), digest, &len, md, nullptr) != 1 || len < 4) {
    return 0;
  }
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
         (uint32_t{digest[2]} << 8) | uint32_t{digest[3]};
}

int rollout_bucket(std::string_view key, std::string_view seed) {
  return static_cast<int>(rollout_hash(key, seed) % 100);
}

bool in_rollout(std::string_view key, double percentage, std::string_view seed) {
  // NaN compares false everywhere: treat it as 0 (never in), as validation rejects it.
  if (!(percentage > 0)) return false;
  if (percentage >= 100) return true;
  return rollout_bucket(key, seed) < percentage;
}

}  // namespace mlxs::flags
