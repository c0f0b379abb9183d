#pragma once
// Exact bin lookup for many values: the bin of v is the number of edges below it (the first i
// with v <= edges[i]), found through a table indexed by the float's order-preserving key.
// Shared by training-time binning (binning.hpp BinLookup) and monitoring profiles.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

// Block lookups pick AVX2 at run time where the CPU has it (GCC / Clang on x86-64).
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_BIN_INDEX_AVX2 1
#else
#define SAPWOOD_BIN_INDEX_AVX2 0
#endif

namespace sapwood {

// The float's 32-bit key in float order: a < b (non-NaN floats) exactly when
// OrderKey(a) < OrderKey(b). -0.0 takes +0.0's key, as they compare equal.
inline std::uint32_t OrderKey(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if (u == 0x80000000u) u = 0;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// First i with v <= edges[i] (k when v is above every edge): branch-free lower_bound.
inline int LowerBound(const float* edges, int k, float v) {
  if (k == 0) return 0;
  const float* base = edges;
  int len = k;
  while (len > 1) {
    const int half = len >> 1;
    base += (base[half - 1] < v) ? half : 0;
    len -= half;
  }
  return static_cast<int>(base - edges) + (*base < v ? 1 : 0);
}

// Bin lookup through a table indexed by the top bits of the float's order-preserving key (a
// piecewise-linear, log-like scale, so heavy tails and offset data both spread over the cells).
// The cell of v bounds its bin to [start(c), start(c + 1)]: cells are monotone in v, so every
// edge of an earlier cell is below v and every edge of a later one above it. The shift is the
// largest one that leaves at most kFixed edges in every cell (capped at kMaxCells cells); those
// cells finish with kFixed branch-free compares (+inf pads the end), the rest with a binary
// search over their range.
class BinIndex {
 public:
  static constexpr int kFixed = 1;
  static constexpr std::uint32_t kWide = 0x80000000u;
  static constexpr std::uint32_t kMaxCells = 1u << 14;

  BinIndex() : BinIndex(std::vector<float>{}) {}
  explicit BinIndex(const std::vector<float>& edges) : k_(static_cast<int>(edges.size())) {
    padded_ = edges;
    padded_.insert(padded_.end(), kFixed, std::numeric_limits<float>::infinity());
    if (k_ == 0) {
      start_.assign(2, 0);
      return;
    }
    std::vector<std::uint32_t> keys(edges.size());
    for (std::size_t i = 0; i < edges.size(); ++i) keys[i] = OrderKey(edges[i]);
    // Collapse the widest gap between consecutive edge keys (for data around zero: the ~200
    // binades of tiny magnitudes) so that the cells spread over where the edges are.
    std::size_t g = 0;
    for (std::size_t i = 1; i + 1 < keys.size(); ++i) {
      if (keys[i + 1] - keys[i] > keys[g + 1] - keys[g]) g = i;
    }
    if (keys.size() >= 2 && keys[g + 1] - keys[g] > 1) {
      gap_lo_ = keys[g] + 1;
      gap_hi_ = keys[g + 1];
    }
    for (std::uint32_t& k : keys) k = Squeeze(k);
    lo_ = keys.front();
    const std::uint32_t range = keys.back() - lo_;
    std::uint32_t min_gap = 0xFFFFFFFFu;
    for (int i = 0; i + kFixed < k_; ++i) min_gap = std::min(min_gap, keys[i + kFixed] - keys[i]);
    shift_ = 0;
    while (shift_ < 31 && (std::uint64_t{1} << (shift_ + 1)) <= min_gap) ++shift_;
    while ((range >> shift_) + 1 > kMaxCells) ++shift_;
    last_ = (range >> shift_) + 1;  // the cell of every key above the last edge
    std::vector<std::uint32_t> lo(static_cast<std::size_t>(last_) + 2, 0);
    for (int i = 0; i < k_; ++i) ++lo[((keys[i] - lo_) >> shift_) + 1];
    for (std::uint32_t c = 0; c <= last_; ++c) lo[c + 1] += lo[c];
    start_.resize(static_cast<std::size_t>(last_) + 2);
    for (std::uint32_t c = 0; c <= last_ + 1; ++c) {
      std::uint32_t v = lo[c];
      if (c <= last_ && lo[c + 1] - lo[c] > static_cast<std::uint32_t>(kFixed)) v |= kWide;
      start_[c] = v;
    }
  }

  __attribute__((always_inline)) inline int Lookup(float v) const {
    const std::uint32_t key = Squeeze(OrderKey(v));
    std::uint32_t c = (key - lo_) >> shift_;
    c = c < last_ ? c : last_;
    c = key < lo_ ? 0 : c;
    const std::uint32_t st = start_[c];
    const float* e = padded_.data();
    if (__builtin_expect((st & kWide) != 0, 0)) {
      const int a = static_cast<int>(st & ~kWide);
      const int b = static_cast<int>(start_[c + 1] & ~kWide);
      return a + LowerBound(e + a, b - a, v);
    }
    const int a = static_cast<int>(st);
    int bin = a;
    for (int j = 0; j < kFixed; ++j) bin += e[a + j] < v ? 1 : 0;
    return bin;
  }

  // bins[i] = Lookup(float(x[i])) for i < n (x finite).
  void LookupBlock(const double* x, std::int64_t n, std::uint32_t* bins) const;

  // The table's parameters, for a caller's own SIMD lookup (the profile's AVX-512 path): the
  // cell of a key is as in Lookup; start[c] (kWide flagged) indexes padded (k + kFixed floats).
  struct Layout {
    std::uint32_t gap_lo, gap_hi, lo, last;
    int shift;
    const std::uint32_t* start;  // last + 2 entries
    const float* padded;
  };
  Layout GetLayout() const {
    return {gap_lo_, gap_hi_, lo_, last_, shift_, start_.data(), padded_.data()};
  }

  // Memory held by the table and the edges.
  std::size_t Bytes() const { return (start_.size() + padded_.size()) * 4; }

 private:
#if SAPWOOD_BIN_INDEX_AVX2
  void LookupBlockAvx2(const double* x, std::int64_t n, std::uint32_t* bins) const;
#endif
  // Monotone map of keys that sends the whole gap [gap_lo_, gap_hi_) to gap_lo_.
  inline std::uint32_t Squeeze(std::uint32_t key) const {
    std::uint32_t t = key < gap_lo_ ? gap_lo_ : key;
    t = t > gap_hi_ ? gap_hi_ : t;
    return key - (t - gap_lo_);
  }
  int k_;
  std::uint32_t gap_lo_ = 0, gap_hi_ = 0;
  std::uint32_t lo_ = 0;
  int shift_ = 0;
  std::uint32_t last_ = 0;
  std::vector<float> padded_;
  std::vector<std::uint32_t> start_;
};

}  // namespace sapwood
