#pragma once
// One-pass column profiles for drift and data-quality monitoring.
//
// A numeric column's profile holds counts of its finite values over fine bins (the same
// float32 "v <= edge" rule as binning.hpp), NaN / -inf / +inf counts, min, max, and the exact
// sums of x and x^2. The sums are kept in an exact fixed-point accumulator (ExactSum), so
// profiles of chunks merge to bit-for-bit the profile of the whole, on any thread count, and the
// mean and variance derived from them are correctly rounded (computed in Python from the exact
// integers).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace sapwood {

// An exact sum of dyadic rationals m * 2^k, as the integer  sum * 2^ScaleBits  held in base-2^32
// digits (int64 each, so carries may be deferred for 2^30 additions). Every finite double is an
// integer multiple of 2^-1074 (and its square of 2^-2148), so nothing is ever rounded. Only the
// window of digits that the added values reach is stored: a few digits for data spanning a few
// binades, at most the whole double range (~70 digits). A fixed array of every digit took
// 1.7 KB per column and made wide profiles (100k columns) run out of memory.
template <int ScaleBits>
class BasicExactSum {
 public:
  static constexpr int kScaleBits = ScaleBits;

  // Adds (neg ? -1 : 1) * magnitude * 2^(bit - kScaleBits); bit >= 0.
  void AddAtBit(unsigned __int128 magnitude, bool neg, int bit) {
    if (magnitude == 0) return;
    const int digit = bit >> 5;
    const int shift = bit & 31;
    // magnitude << shift spans at most 159 bits: five digits.
    const unsigned __int128 low = magnitude << shift;
    const std::uint64_t top = shift == 0 ? 0 : static_cast<std::uint64_t>(magnitude >> (128 - shift));
    const std::int64_t parts[5] = {
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 32) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 64) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(static_cast<std::uint64_t>(low >> 96) & 0xFFFFFFFFull),
        static_cast<std::int64_t>(top)};
    Cover(digit, digit + 5);
    std::int64_t* d = d_.data() + (digit - base_);
    for (int i = 0; i < 5; ++i) d[i] += neg ? -parts[i] : parts[i];
    if (++pending_ >= kNormalizeEvery) Normalize();
  }

  // Propagates carries: every digit but the top one ends in [0, 2^32), the top one carries the
  // sign and stays in [-2^31, 2^31) (the window grows by a digit when it would not).
  void Normalize() {
    const std::size_t n = d_.size();
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const std::int64_t carry = d_[i] >> 32;  // floor division (arithmetic shift)
      d_[i] -= carry * (std::int64_t{1} << 32);
      d_[i + 1] += carry;
    }
    constexpr std::int64_t kHalf = std::int64_t{1} << 31;
    while (!d_.empty() && (d_.back() >= kHalf || d_.back() < -kHalf)) {
      const std::int64_t carry = d_.back() >> 32;
      d_.back() -= carry * (std::int64_t{1} << 32);
      d_.push_back(carry);
    }
    pending_ = 0;
  }
  void Merge(const BasicExactSum& other) {
    if (other.d_.empty()) return;
    BasicExactSum o = other;  // a few digits
    o.Normalize();
    Normalize();
    Cover(o.base_, o.base_ + static_cast<int>(o.d_.size()));
    std::int64_t* d = d_.data() + (o.base_ - base_);
    for (std::size_t i = 0; i < o.d_.size(); ++i) d[i] += o.d_[i];
    Normalize();
  }
  // Back to zero, keeping the allocation (scratch accumulators are reused).
  void Clear() {
    d_.clear();
    base_ = 0;
    pending_ = 0;
  }
  // The integer  sum * 2^kScaleBits  is  B * 2^BaseBit(), where B is the little-endian
  // two's-complement integer in ToBytes() (empty for zero).
  std::vector<std::uint8_t> ToBytes() {
    Normalize();
    std::vector<std::uint8_t> out(d_.size() * 4);
    for (std::size_t i = 0; i < d_.size(); ++i) {
      const auto v = static_cast<std::uint32_t>(static_cast<std::uint64_t>(d_[i]));
      for (int b = 0; b < 4; ++b) out[i * 4 + b] = (v >> (8 * b)) & 0xFF;
    }
    return out;
  }
  int BaseBit() const { return 32 * base_; }

 private:
  static constexpr std::int64_t kNormalizeEvery = std::int64_t{1} << 30;
  // Widens the window to hold digits [lo, hi).
  void Cover(int lo, int hi) {
    if (d_.empty()) {
      base_ = lo;
      d_.assign(static_cast<std::size_t>(hi - lo), 0);
      return;
    }
    if (lo < base_) {
      d_.insert(d_.begin(), static_cast<std::size_t>(base_ - lo), 0);
      base_ = lo;
    }
    if (hi - base_ > static_cast<int>(d_.size())) {
      d_.resize(static_cast<std::size_t>(hi - base_), 0);
    }
  }
  std::vector<std::int64_t> d_;  // digit i weighs 2^(32 * (base_ + i))
  int base_ = 0;
  std::int64_t pending_ = 0;
};

// Sums of x: bits from 2^-1074 up (the scale keeps every bit index non-negative).
using ExactSum = BasicExactSum<1152>;
// Sums of x^2: from 2^-2148 up.
using ExactSumSq = BasicExactSum<2208>;

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
  // The same without comparing edges: `other` was counted over this profile's bins.
  void MergeCounts(const NumericStats& other);
};

// Which code counts the values: kAuto takes AVX-512 (F/BW/VL/DQ) where the CPU has it, else the
// portable path; kAvx512 asks for it (a ParameterError on a CPU without it). Both give the same
// profile, bit for bit (the exact sums are exact either way).
enum class ProfileKernel : int { kAuto, kPortable, kAvx512 };

// Whether this CPU runs the AVX-512 profile path.
bool ProfileAvx512Available();

struct ProfileParams {
  int fine_bins = 1024;               // bins fitted per column when edges are not given
  std::int64_t sample_rows = 200000;  // rows sampled to fit edges
  std::uint64_t seed = 0;
  int n_threads = 1;
  ProfileKernel kernel = ProfileKernel::kAuto;
};

// Profiles `cols` (all of `rows` rows). For column j: edges[j] given -> count over those edges;
// else fit quantile edges on a seeded row sample, union them with extra_edges[j], and add range
// edges just below the column's min and at its max (so that a later batch's values outside the
// range land in the first and last bins). Edges are always finite: +-inf values are never
// binned (they have their own counts, the profile's outer bins), so a +-inf edge given or
// extra (a model's bin edges hold -inf when -inf was frequent in training) bounds an always
// empty bin and is dropped; a NaN edge is a DataError. Finite values beyond the float32 range
// compare as float32 +-inf and land in the first / last bin. Results do not depend on
// n_threads.
//
// Memory: per column O(bins) (edges, counts, a few digits of exact sums); working memory per
// thread is bounded by a tile of rows x a group of columns, independent of the column count.
std::vector<NumericStats> ProfileNumeric(const std::vector<ColumnRef>& cols, std::int64_t rows,
                                         std::vector<std::optional<std::vector<float>>> edges,
                                         std::vector<std::vector<float>> extra_edges,
                                         const ProfileParams& params);

}  // namespace sapwood
