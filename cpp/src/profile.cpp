#include "sapwood/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <limits>
#include <string>
#include <type_traits>

#include "sapwood/binning.hpp"
#include "sapwood/error.hpp"
#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

// ------------------------------------------------------------------ NumericStats
void NumericStats::Merge(const NumericStats& o) {
  if (o.edges != edges) throw DataError("profiles to merge were built on different bin edges");
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
  nan_count += o.nan_count;
  neg_inf_count += o.neg_inf_count;
  pos_inf_count += o.pos_inf_count;
  if (o.finite_count > 0) {
    if (finite_count == 0) {
      min = o.min;
      max = o.max;
    } else {
      min = std::min(min, o.min);
      max = std::max(max, o.max);
    }
  }
  finite_count += o.finite_count;
  sum.Merge(o.sum);
  sum_sq.Merge(o.sum_sq);
}

namespace {

// Rows per column sweep: keeps row-major cache lines warm across columns, and bounds the
// exponent buckets (1024 mantissas of < 2^53 each fit an int64).
constexpr std::int64_t kBlockRows = 1024;

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

// Bin lookup through a uniform grid over the central edges: the cell c of v bounds its bin to
// [start(c), start(c + 1)] (the cell map is monotone in v, so every edge of an earlier cell is
// below v and every edge of a later cell above it). Cells with at most kFixed edges finish with
// kFixed branch-free compares (edges past the cell are above v, and +inf pads the end); the
// rest (outer cells, heavy tails) with a binary search over their range.
class BinIndex {
 public:
  static constexpr int kFixed = 3;
  static constexpr std::uint32_t kWide = 0x80000000u;

  explicit BinIndex(const std::vector<float>& edges) : k_(static_cast<int>(edges.size())) {
    if (k_ == 0) return;
    padded_ = edges;
    padded_.insert(padded_.end(), kFixed, std::numeric_limits<float>::infinity());
    cells_ = 2 * k_ + 2;
    const int tail = k_ / 64;
    e0_ = edges[static_cast<std::size_t>(tail)];
    const double span = static_cast<double>(edges[static_cast<std::size_t>(k_ - 1 - tail)]) - e0_;
    inv_w_ = span > 0 ? (cells_ - 2) / span : 0.0;
    std::vector<std::int32_t> lo(static_cast<std::size_t>(cells_) + 1, 0);
    for (int i = 0; i < k_; ++i) ++lo[static_cast<std::size_t>(Cell(edges[i])) + 1];
    for (int c = 0; c < cells_; ++c) lo[c + 1] += lo[c];
    start_.resize(static_cast<std::size_t>(cells_) + 1);
    for (int c = 0; c <= cells_; ++c) {
      std::uint32_t v = static_cast<std::uint32_t>(lo[c]);
      if (c < cells_ && lo[c + 1] - lo[c] > kFixed) v |= kWide;
      start_[c] = v;
    }
  }
  __attribute__((always_inline)) inline int Lookup(float v) const {
    if (k_ == 0) return 0;
    const int c = Cell(v);
    const std::uint32_t st = start_[c];
    const float* e = padded_.data();
    if (__builtin_expect((st & kWide) != 0, 0)) {
      const int a = static_cast<int>(st & ~kWide);
      const int b = static_cast<int>(start_[c + 1] & ~kWide);
      return a + LowerBound(e + a, b - a, v);
    }
    const int a = static_cast<int>(st);
    return a + (e[a] < v ? 1 : 0) + (e[a + 1] < v ? 1 : 0) + (e[a + 2] < v ? 1 : 0);
  }

 private:
  inline int Cell(float v) const {
    const double t = (static_cast<double>(v) - e0_) * inv_w_ + 1.0;
    if (!(t > 0)) return 0;
    if (t >= cells_ - 1) return cells_ - 1;
    return static_cast<int>(t);
  }
  int k_;
  int cells_ = 1;
  double e0_ = 0, inv_w_ = 0;
  std::vector<float> padded_;
  std::vector<std::uint32_t> start_;
};

// Register accumulators for the exact sums of x and x^2 over one block of <= 1024 values.
// x = m * 2^(e - 1075) with m < 2^53 and e = max(biased exponent, 1). Terms are kept in fixed
// point anchored at the largest exponent seen so far; a term more than 60 binades below the
// anchor goes straight to the ExactSum (rare), and a new largest exponent flushes and re-anchors
// (about ln(block) times per block for iid data). Bounds: sum of 1024 terms < 2^(53+60+10) fits
// a signed 128-bit integer; for squares (m^2 < 2^106) 2^(106+60+10) fits 192 bits.
struct BlockSums {
  static constexpr int kSlack = 60;
  unsigned __int128 s1 = 0;  // two's complement
  int anchor1 = 0;           // 0: nothing accumulated
  unsigned __int128 s2_lo = 0;
  std::uint64_t s2_hi = 0;
  int anchor2 = 0;

  __attribute__((always_inline)) inline void Add(double x, ExactSum* sum, ExactSumSq* sum_sq) {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof(bits));
    const int be = static_cast<int>((bits >> 52) & 0x7FF);
    const std::uint64_t mant =
        (bits & ((std::uint64_t{1} << 52) - 1)) | (be != 0 ? (std::uint64_t{1} << 52) : 0);
    const int e = be != 0 ? be : 1;
    const bool neg = (bits >> 63) != 0;
    // sum of x
    if (__builtin_expect(e > anchor1, 0)) {
      Flush1(sum);
      anchor1 = e;
    }
    const int sh1 = e - anchor1 + kSlack;
    if (__builtin_expect(sh1 >= 0, 1)) {
      const unsigned __int128 t = static_cast<unsigned __int128>(mant) << sh1;
      s1 = neg ? s1 - t : s1 + t;
    } else {
      sum->AddAtBit(mant, neg, e - 1075 + ExactSum::kScaleBits);
    }
    // sum of x^2 = m^2 * 2^(2e - 2150)
    const unsigned __int128 sq = static_cast<unsigned __int128>(mant) * mant;
    const int e2 = 2 * e;
    if (__builtin_expect(e2 > anchor2, 0)) {
      Flush2(sum_sq);
      anchor2 = e2;
    }
    const int sh2 = e2 - anchor2 + kSlack;
    if (__builtin_expect(sh2 >= 0, 1)) {
      const unsigned __int128 lo = sq << sh2;
      const std::uint64_t hi = sh2 == 0 ? 0 : static_cast<std::uint64_t>(sq >> (128 - sh2));
      s2_lo += lo;
      s2_hi += hi + (s2_lo < lo ? 1 : 0);
    } else {
      sum_sq->AddAtBit(sq, false, e2 - 2150 + ExactSumSq::kScaleBits);
    }
  }
  __attribute__((noinline)) void Flush1(ExactSum* sum) {
    if (s1 != 0) {
      const bool neg = (s1 >> 127) != 0;
      const unsigned __int128 mag = neg ? (~s1 + 1) : s1;
      sum->AddAtBit(mag, neg, anchor1 - kSlack - 1075 + ExactSum::kScaleBits);
      s1 = 0;
    }
  }
  __attribute__((noinline)) void Flush2(ExactSumSq* sum_sq) {
    const int bit = anchor2 - kSlack - 2150 + ExactSumSq::kScaleBits;
    if (s2_lo != 0) sum_sq->AddAtBit(s2_lo, false, bit);
    if (s2_hi != 0) sum_sq->AddAtBit(s2_hi, false, bit + 128);
    s2_lo = 0;
    s2_hi = 0;
  }
  void Flush(ExactSum* sum, ExactSumSq* sum_sq) {
    Flush1(sum);
    Flush2(sum_sq);
    anchor1 = 0;
    anchor2 = 0;
  }
};

template <class T>
void AccumulateBlock(const T* p, std::int64_t stride, std::int64_t begin, std::int64_t end,
                     const BinIndex& index, NumericStats* s) {
  std::int64_t* counts = s->counts.data();
  double mn = s->min, mx = s->max;
  std::int64_t finite = s->finite_count;
  BlockSums sums;
  for (std::int64_t i = begin; i < end; ++i) {
    const T raw = p[i * stride];
    const double x = static_cast<double>(raw);
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(x)) {
        if (std::isnan(x)) {
          ++s->nan_count;
        } else if (x > 0) {
          ++s->pos_inf_count;
        } else {
          ++s->neg_inf_count;
        }
        continue;
      }
    }
    // Bins compare in float32, exactly as the trees do.
    ++counts[index.Lookup(static_cast<float>(raw))];
    if (finite == 0) {
      mn = mx = x;
    } else {
      mn = x < mn ? x : mn;
      mx = x > mx ? x : mx;
    }
    ++finite;
    sums.Add(x, &s->sum, &s->sum_sq);
  }
  sums.Flush(&s->sum, &s->sum_sq);
  s->min = mn;
  s->max = mx;
  s->finite_count = finite;
}

std::size_t ItemSize(ColumnType t) {
  switch (t) {
    case ColumnType::kInt8:
    case ColumnType::kUInt8:
      return 1;
    case ColumnType::kInt16:
    case ColumnType::kUInt16:
      return 2;
    case ColumnType::kFloat32:
    case ColumnType::kInt32:
    case ColumnType::kUInt32:
      return 4;
    default:
      return 8;
  }
}

void Accumulate(const ColumnRef& c, std::int64_t begin, std::int64_t end, const BinIndex& ix,
                NumericStats* s) {
  switch (c.type) {
    case ColumnType::kFloat32:
      return AccumulateBlock(static_cast<const float*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kFloat64:
      return AccumulateBlock(static_cast<const double*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kInt8:
      return AccumulateBlock(static_cast<const std::int8_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kInt16:
      return AccumulateBlock(static_cast<const std::int16_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kInt32:
      return AccumulateBlock(static_cast<const std::int32_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kInt64:
      return AccumulateBlock(static_cast<const std::int64_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kUInt8:
      return AccumulateBlock(static_cast<const std::uint8_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kUInt16:
      return AccumulateBlock(static_cast<const std::uint16_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kUInt32:
      return AccumulateBlock(static_cast<const std::uint32_t*>(c.data), c.stride, begin, end, ix, s);
    case ColumnType::kUInt64:
      return AccumulateBlock(static_cast<const std::uint64_t*>(c.data), c.stride, begin, end, ix, s);
  }
}

template <class T>
void SampleValues(const T* p, std::int64_t stride, const std::vector<std::int64_t>& rows,
                  std::int64_t n, std::vector<float>* out) {
  const bool sampled = !rows.empty();
  const std::int64_t m = sampled ? static_cast<std::int64_t>(rows.size()) : n;
  out->reserve(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t r = sampled ? rows[static_cast<std::size_t>(i)] : i;
    const float v = static_cast<float>(p[r * stride]);
    if (std::isfinite(v)) out->push_back(v);
  }
}

std::vector<float> FitEdges(const ColumnRef& c, const std::vector<std::int64_t>& rows,
                            std::int64_t n, int fine_bins) {
  std::vector<float> values;
  switch (c.type) {
    case ColumnType::kFloat32:
      SampleValues(static_cast<const float*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kFloat64:
      SampleValues(static_cast<const double*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kInt8:
      SampleValues(static_cast<const std::int8_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kInt16:
      SampleValues(static_cast<const std::int16_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kInt32:
      SampleValues(static_cast<const std::int32_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kInt64:
      SampleValues(static_cast<const std::int64_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kUInt8:
      SampleValues(static_cast<const std::uint8_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kUInt16:
      SampleValues(static_cast<const std::uint16_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kUInt32:
      SampleValues(static_cast<const std::uint32_t*>(c.data), c.stride, rows, n, &values);
      break;
    case ColumnType::kUInt64:
      SampleValues(static_cast<const std::uint64_t*>(c.data), c.stride, rows, n, &values);
      break;
  }
  return FindEdges(values, fine_bins);
}

// Seeded sample of k of n row indices without replacement, sorted (Floyd's algorithm).
std::vector<std::int64_t> SampleRows(std::int64_t n, std::int64_t k, std::uint64_t seed) {
  std::vector<std::int64_t> rows;
  if (k <= 0 || n <= k) return rows;
  Rng rng(seed ^ 0x9F0F11E5ull);
  std::vector<char> taken(static_cast<std::size_t>(n), 0);
  for (std::int64_t j = n - k; j < n; ++j) {
    std::int64_t t = static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(j + 1)));
    if (taken[static_cast<std::size_t>(t)]) t = j;
    taken[static_cast<std::size_t>(t)] = 1;
  }
  rows.reserve(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < n; ++i)
    if (taken[static_cast<std::size_t>(i)]) rows.push_back(i);
  return rows;
}

void CheckEdges(const std::vector<float>& e, std::size_t col) {
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) || (i > 0 && !(e[i - 1] < e[i]))) {
      throw DataError("bin edges of column " + std::to_string(col) +
                      " must be strictly increasing and not NaN (at edge " + std::to_string(i) +
                      ")");
    }
  }
}

}  // namespace

std::vector<NumericStats> ProfileNumeric(const std::vector<ColumnRef>& cols, std::int64_t rows,
                                         const std::vector<std::optional<std::vector<float>>>& edges,
                                         const std::vector<std::vector<float>>& extra_edges,
                                         const ProfileParams& params) {
  const std::size_t m = cols.size();
  if (edges.size() != m || extra_edges.size() != m) {
    throw ParameterError("profile: one edges entry per column is required");
  }
  if (params.fine_bins < 2 || params.fine_bins > 65534) {
    throw ParameterError("fine_bins must be in [2, 65534], got " +
                         std::to_string(params.fine_bins));
  }
  if (rows < 0) throw DataError("profile: negative row count");
  const int threads = std::max(1, params.n_threads);

  // 1. Edges: given, or fitted on one seeded row sample shared by all columns.
  std::vector<std::vector<float>> col_edges(m);
  std::vector<char> fitted(m, 0);
  bool need_fit = false;
  for (std::size_t j = 0; j < m; ++j) {
    if (edges[j]) {
      col_edges[j] = *edges[j];
      CheckEdges(col_edges[j], j);
    } else {
      need_fit = true;
      fitted[j] = 1;
      CheckEdges(extra_edges[j], j);
    }
  }
  if (need_fit) {
    const std::vector<std::int64_t> sample = SampleRows(rows, params.sample_rows, params.seed);
    ParallelForDynamic(0, static_cast<std::int64_t>(m), threads, [&](std::int64_t j) {
      if (!fitted[j]) return;
      std::vector<float> e = FitEdges(cols[j], sample, rows, params.fine_bins);
      e.insert(e.end(), extra_edges[j].begin(), extra_edges[j].end());
      std::sort(e.begin(), e.end());
      e.erase(std::unique(e.begin(), e.end()), e.end());
      col_edges[j] = std::move(e);
    });
  }

  // 2. One pass: each thread counts a contiguous row range (all columns, in cache-sized row
  //    blocks); the thread results merge exactly, so the split does not change the answer.
  const std::int64_t n_parts =
      std::max<std::int64_t>(1, std::min<std::int64_t>(threads, rows / kBlockRows));
  std::vector<std::vector<NumericStats>> parts(static_cast<std::size_t>(n_parts));
  std::vector<BinIndex> indexes;
  indexes.reserve(m);
  for (std::size_t j = 0; j < m; ++j) indexes.emplace_back(col_edges[j]);
  ParallelFor(0, n_parts, threads, [&](std::int64_t t) {
    std::vector<NumericStats>& local = parts[static_cast<std::size_t>(t)];
    local.resize(m);
    for (std::size_t j = 0; j < m; ++j) {
      local[j].edges = col_edges[j];
      local[j].counts.assign(col_edges[j].size() + 1, 0);
    }
    const std::int64_t begin = rows * t / n_parts;
    const std::int64_t end = rows * (t + 1) / n_parts;
    // Contiguous columns: one column at a time over the whole range, so its edges, index and
    // counts stay in L1 while the values stream in.
    std::vector<std::size_t> strided;
    for (std::size_t j = 0; j < m; ++j) {
      if (cols[j].stride != 1) {
        strided.push_back(j);
        continue;
      }
      for (std::int64_t b = begin; b < end; b += kBlockRows) {
        Accumulate(cols[j], b, std::min(end, b + kBlockRows), indexes[j], &local[j]);
      }
    }
    // Strided columns (row-major matrices): copy a tile of rows into contiguous per-column
    // buffers (one sequential sweep over the rows), then count each column from its buffer.
    if (!strided.empty()) {
      std::vector<std::vector<std::uint64_t>> buf(strided.size(),
                                                  std::vector<std::uint64_t>(kBlockRows));
      for (std::int64_t b = begin; b < end; b += kBlockRows) {
        const std::int64_t e = std::min(end, b + kBlockRows);
        for (std::int64_t r = b; r < e; ++r) {
          for (std::size_t q = 0; q < strided.size(); ++q) {
            const ColumnRef& c = cols[strided[q]];
            const std::size_t size = ItemSize(c.type);
            const char* src = static_cast<const char*>(c.data) +
                              static_cast<std::ptrdiff_t>(r * c.stride) * static_cast<std::ptrdiff_t>(size);
            std::memcpy(reinterpret_cast<char*>(buf[q].data()) + (r - b) * size, src, size);
          }
        }
        for (std::size_t q = 0; q < strided.size(); ++q) {
          ColumnRef tile = cols[strided[q]];
          tile.data = buf[q].data();
          tile.stride = 1;
          Accumulate(tile, 0, e - b, indexes[strided[q]], &local[strided[q]]);
        }
      }
    }
  });
  std::vector<NumericStats> out = std::move(parts[0]);
  for (std::int64_t t = 1; t < n_parts; ++t) {
    for (std::size_t j = 0; j < m; ++j) out[j].Merge(parts[static_cast<std::size_t>(t)][j]);
  }

  // 3. Range edges for fitted columns: a cut just below min and one at max. Both new bins are
  //    empty here, so the counts only gain a zero at each end.
  for (std::size_t j = 0; j < m; ++j) {
    NumericStats& s = out[j];
    if (!fitted[j] || s.finite_count == 0) continue;
    const float lo = std::nextafter(static_cast<float>(s.min), -std::numeric_limits<float>::infinity());
    const float hi = static_cast<float>(s.max);
    if (std::isfinite(lo) && (s.edges.empty() || lo < s.edges.front())) {
      s.edges.insert(s.edges.begin(), lo);
      s.counts.insert(s.counts.begin(), 0);
    }
    if (std::isfinite(hi) && (s.edges.empty() || hi > s.edges.back())) {
      s.edges.push_back(hi);
      s.counts.push_back(0);
    }
  }
  return out;
}

}  // namespace sapwood
