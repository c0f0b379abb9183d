#pragma once
// One-pass column profiles for drift and data-quality monitoring.
//
// A numeric column's profile holds counts of its finite values over fine bins (the same
// float32 "v <= edge" rule as binning.hpp), NaN / -inf / +inf counts, min, max, and the exact
// sums of x and x^2. The sums are kept in an exact fixed-point accumulator (ExactSum), so
// profiles of chunks merge to bit-for-bit the profile of the whole, on any thread count, and the
// mean and variance derived from them are correctly rounded (computed in Python from the exact
// integers).
#include <cstdint>
#include <optional>
#include <vector>

namespace sapwood {

// An exact sum of dyadic rationals m * 2^k, as the integer  sum * 2^ScaleBits  held in base-2^32
// digits (int64 each, so carries may be deferred for 2^30 additions). Every finite double is an
// integer multiple of 2^-1074 (and its square of 2^-2148), so nothing is ever rounded.
template <int Digits, int ScaleBits>
class BasicExactSum {
 public:
  static constexpr int kDigits = Digits;
  static constexpr int kScaleBits = ScaleBits;

  // Adds (neg ? -1 : 1) * magnitude * 2^(bit - kScaleBits); bit >= 0.
  void AddAtBit(unsigned __int128 magnitude, bool neg, int bit) {
    if (magnitude == 0) return;
    const int digit = bit >> 5;
    const int shift = bit & 31;
    // magnitude << shift spans at most 159 bits: five digits.
    const unsigned __int128 low = magnitude << shift;
    const std::uint64_t top = shift == 0 ? 0 : static_cast<std::uint64_t>(magnitude >> (128 - shift));
    std::int64_t parts[5] = {
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 32) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 64) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 96) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(top)};
    for (int i = 0; i < 5 && digit + i < kDigits; ++i) d_[digit + i] += neg ? -parts[i] : parts[i];
    if (++pending_ >= kNormalizeEvery) Normalize();
  }

  // Propagates carries: digits 0..kDigits-2 end in [0, 2^32), the top digit carries the sign.
  void Normalize() {
    for (int i = 0; i + 1 < kDigits; ++i) {
      const std::int64_t carry = d_[i] >> 32;  // floor division (arithmetic shift)
      d_[i] -= carry * (std::int64_t{1} << 32);
      d_[i + 1] += carry;
    }
    pending_ = 0;
  }
  void Merge(const BasicExactSum& other) {
    BasicExactSum o = other;
    o.Normalize();
    Normalize();
    for (int i = 0; i < kDigits; ++i) d_[i] += o.d_[i];
    Normalize();
  }
  // Little-endian two's-complement bytes of the integer sum * 2^kScaleBits.
  std::vector<std::uint8_t> ToBytes() {
    Normalize();
    std::vector<std::uint8_t> out(static_cast<std::size_t>(kDigits) * 4);
    for (int i = 0; i < kDigits; ++i) {
      const auto v = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d_[i]));
      for (int b = 0; b < 4; ++b) out[static_cast<std::size_t>(i) * 4 + b] = (v >> (8 * b)) & 0xFF;
    }
    return out;
  }

 private:
  static constexpr std::int64_t kNormalizeEvery = std::int64_t{1} << 30;
  std::int64_t d_[kDigits] = {};
  std::int64_t pending_ = 0;
};

// Sums of x: the double range (2^-1074 .. 2^1024) plus 2^64 of headroom.
using ExactSum = BasicExactSum<74, 1152>;
// Sums of x^2: 2^-2148 .. 2^2048 plus headroom.
using ExactSumSq = BasicExactSum<140, 2208>;

enum class ColumnType : int {
  kFloat32,
  kFloat64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
};

// A caller's column, read in place: element i is at data + i * stride (stride in elements).
struct ColumnRef {
  const void* data = nullptr;
  std::int64_t stride = 1;
  ColumnType type = ColumnType::kFloat64;
};

struct NumericStats {
  std::vector<float> edges;          // strictly increasing; bins: edges.size() + 1
  std::vector<std::int64_t> counts;  // finite values per bin
  std::int64_t nan_count = 0;
  std::int64_t neg_inf_count = 0;
  std::int64_t pos_inf_count = 0;
  double min = 0.0;  // over finite values; meaningless when no finite value was seen
  double max = 0.0;
  std::int64_t finite_count = 0;
  ExactSum sum;      // of finite x
  ExactSumSq sum_sq; // of finite x^2, exactly (never overflows)

  // Exact merge of a profile over the same edges (throws DataError otherwise).
  void Merge(const NumericStats& other);
};

struct ProfileParams {
  int fine_bins = 1024;               // bins fitted per column when edges are not given
  std::int64_t sample_rows = 200000;  // rows sampled to fit edges
  std::uint64_t seed = 0;
  int n_threads = 1;
};

// Profiles `cols` (all of `rows` rows). For column j: edges[j] given -> count over those edges
// as they are; else fit quantile edges on a seeded row sample, union them with extra_edges[j],
// and add range edges just below the column's min and at its max (so that a later batch's
// values outside the range land in the first and last bins). Results do not depend on
// n_threads.
std::vector<NumericStats> ProfileNumeric(const std::vector<ColumnRef>& cols, std::int64_t rows,
                                         const std::vector<std::optional<std::vector<float>>>& edges,
                                         const std::vector<std::vector<float>>& extra_edges,
                                         const ProfileParams& params);

}  // namespace sapwood
