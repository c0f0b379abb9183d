#pragma once
// Counter-based random numbers: the value for (seed, stream, index) does not depend on the
// order of evaluation or the thread count, which keeps training deterministic.
#include <cstdint>

namespace sapwood {

inline std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline std::uint64_t HashCounter(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return SplitMix64(SplitMix64(SplitMix64(seed) ^ stream) ^ index);
}

// Uniform in [0, 1) with 53 random bits.
inline double UniformCounter(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return static_cast<double>(HashCounter(seed, stream, index) >> 11) * (1.0 / 9007199254740992.0);
}

// A small sequential generator for shuffles (seeded, platform-independent).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() { return SplitMix64(state_++); }
  // Uniform integer in [0, n) (n > 0), by rejection so there is no modulo bias.
  std::uint64_t Below(std::uint64_t n) {
    std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t r;
    do {
      r = Next();
    } while (r >= limit);
    return r % n;
  }

 private:
  std::uint64_t state_;
};

}  // namespace sapwood
