// Percentage rollout by hashing, exactly as the spec's guide computes it: MD5 of
// key + ":" + hash_seed, the first 8 hex digits read as an unsigned 32-bit integer,
// modulo 100. A key is in the rollout when its bucket is below the percentage, so the
// same key always gets the same answer and raising a percentage only ever adds keys.
#pragma once

#include <cstdint>
#include <string_view>

namespace mlxs::flags {

// The first 4 bytes of MD5(key ":" seed), big-endian: the value of its first 8 hex digits.
uint32_t rollout_hash(std::string_view key, std::string_view seed);

// rollout_hash(key, seed) % 100, in 0..99.
int rollout_bucket(std::string_view key, std::string_view seed);

// bucket < percentage. 0 (or less) is never in, 100 (or more) always, without hashing.
bool in_rollout(std::string_view key, double percentage, std::string_view seed);

}  // namespace mlxs::flags
