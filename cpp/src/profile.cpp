#include "sapwood/profile.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include "sapwood/bin_index.hpp"
#include "sapwood/binning.hpp"
#include "sapwood/error.hpp"
#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sapwood {

// ------------------------------------------------------------------ NumericStats
void NumericStats::Merge(const NumericStats& o) {
  if (o.edges != edges) throw DataError("profiles to merge were built on different bin edges");
  MergeCounts(o);
}

void NumericStats::MergeCounts(const NumericStats& o) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
  nan_count += o.nan_count;
  neg_inf_count += o.neg_inf_count;
  pos_inf_count += o.pos_inf_count;
  if (o.finite_count > 0) {
    // -0.0 orders below +0.0 here, so the merged min / max do not depend on merge order
    const auto below = [](double a, double b) {
      return a < b || (a == b && std::signbit(a) && !std::signbit(b));
    };
    if (finite_count == 0) {
      min = o.min;
      max = o.max;
    } else {
      if (below(o.min, min)) min = o.min;
      if (below(max, o.max)) max = o.max;
    }
  }
  finite_count += o.finite_count;
  sum.Merge(o.sum);
  sum_sq.Merge(o.sum_sq);
}

namespace {

// Rows per column sweep: bounds the exponent buckets of BlockSums (1024 mantissas of < 2^53
// each fit an int64) and keeps a strided tile in L1.
constexpr std::int64_t kBlockRows = 1024;
// Rows per task of the pass (a multiple of kBlockRows).
constexpr std::int64_t kTaskRows = 64 * kBlockRows;

// Exact sums of x and x^2 over one block of <= kBlockRows finite doubles, in buckets by binary
// exponent: x = m * 2^(e - 1075) with m < 2^53 and e = max(biased exponent, 1), so x^2 =
// m^2 * 2^(2e - 2150) and both sums are exact integers per bucket (1024 mantissas < 2^63, 1024
// squares < 2^116). Flush() moves the touched buckets into the exact accumulators.
struct BlockSums {
  struct Bucket {  // one cache-line-friendly record per exponent
    unsigned __int128 s2;  // sum of m^2
    std::int64_t s1;       // sum of +-m
    std::int64_t pad;
  };
  Bucket bucket[2048];
  int emin = 2048, emax = -1;
  double values[kBlockRows];       // a block converted to double / its finite values
  std::uint32_t bins[kBlockRows];  // bin of each value of a block

  BlockSums() { std::memset(bucket, 0, sizeof(bucket)); }

  __attribute__((always_inline)) inline void Add(std::uint64_t bits) {
    const int be = static_cast<int>((bits >> 52) & 0x7FF);
    const std::uint64_t implicit = be != 0 ? (std::uint64_t{1} << 52) : 0;
    const std::uint64_t mant = (bits & ((std::uint64_t{1} << 52) - 1)) | implicit;
    const int e = be != 0 ? be : 1;
    const std::int64_t sm = static_cast<std::int64_t>(mant);
    Bucket& b = bucket[e];
    b.s1 += (bits >> 63) != 0 ? -sm : sm;
    b.s2 += static_cast<unsigned __int128>(mant) * mant;
    emin = e < emin ? e : emin;
    emax = e > emax ? e : emax;
  }

  void Flush(ExactSum* sum, ExactSumSq* sum_sq) {
    for (int e = emin; e <= emax; ++e) {
      Bucket& b = bucket[e];
      if (b.s1 != 0) {
        const bool neg = b.s1 < 0;
        const std::uint64_t mag =
            neg ? ~static_cast<std::uint64_t>(b.s1) + 1 : static_cast<std::uint64_t>(b.s1);
        sum->AddAtBit(mag, neg, e - 1075 + ExactSum::kScaleBits);
        b.s1 = 0;
      }
      if (b.s2 != 0) {
        sum_sq->AddAtBit(b.s2, false, 2 * e - 2150 + ExactSumSq::kScaleBits);
        b.s2 = 0;
      }
    }
    emin = 2048;
    emax = -1;
  }
};

// min and max of x[0..n) over the non-NaN values (+inf / -inf when there are none), and
// whether any value is NaN.
inline void MinMaxNan(const double* x, std::int64_t n, double* mn, double* mx, bool* any_nan) {
  const double inf = std::numeric_limits<double>::infinity();
  std::int64_t i = 0;
#if defined(__SSE2__)
  __m128d vmin0 = _mm_set1_pd(inf), vmin1 = vmin0;
  __m128d vmax0 = _mm_set1_pd(-inf), vmax1 = vmax0;
  __m128d vnan = _mm_setzero_pd();
  for (; i + 4 <= n; i += 4) {
    const __m128d a = _mm_loadu_pd(x + i);
    const __m128d b = _mm_loadu_pd(x + i + 2);
    vmin0 = _mm_min_pd(a, vmin0);  // a NaN in `a` keeps the second operand
    vmin1 = _mm_min_pd(b, vmin1);
    vmax0 = _mm_max_pd(a, vmax0);
    vmax1 = _mm_max_pd(b, vmax1);
    vnan = _mm_or_pd(vnan, _mm_or_pd(_mm_cmpunord_pd(a, a), _mm_cmpunord_pd(b, b)));
  }
  double lo[4], hi[4];
  _mm_storeu_pd(lo, vmin0);
  _mm_storeu_pd(lo + 2, vmin1);
  _mm_storeu_pd(hi, vmax0);
  _mm_storeu_pd(hi + 2, vmax1);
  double l = inf, h = -inf;
  for (int k = 0; k < 4; ++k) {
    l = lo[k] < l ? lo[k] : l;
    h = hi[k] > h ? hi[k] : h;
  }
  bool nan = _mm_movemask_pd(vnan) != 0;
#else
  double l = inf, h = -inf;
  bool nan = false;
#endif
  for (; i < n; ++i) {
    const double v = x[i];
    l = v < l ? v : l;
    h = v > h ? v : h;
    nan = nan || v != v;
  }
  *mn = l;
  *mx = h;
  *any_nan = nan;
}

// A column's bin lookup: its BinIndex table when a task has rows enough to pay for building one
// (up to 64 KiB), else a binary search over the edges, which allocates nothing (a table per
// column of a short, wide input cost far more memory than the input itself).
struct Binner {
  const BinIndex* index = nullptr;
  const float* edges = nullptr;
  int k = 0;

  int Lookup(float v) const { return index != nullptr ? index->Lookup(v) : LowerBound(edges, k, v); }
  void LookupBlock(const double* x, std::int64_t n, std::uint32_t* bins) const {
    if (index != nullptr) {
      index->LookupBlock(x, n, bins);
      return;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      bins[i] = static_cast<std::uint32_t>(LowerBound(edges, k, static_cast<float>(x[i])));
    }
  }
};

// Counts one block of <= kBlockRows values of a contiguous column into s, in short passes over
// the (L1-resident) block, each without cross-iteration dependencies beyond its accumulators:
// min / max / NaN check (SIMD), bins (SIMD where available), counts, exact sums.
template <class T>
void AccumulateBlock(const T* p, std::int64_t n, const Binner& index, BlockSums* sums,
                     NumericStats* s) {
  std::uint32_t* bins = sums->bins;
  const double* x = nullptr;
  std::int64_t m = n;
  if constexpr (std::is_same_v<T, double>) {
    x = p;
  } else {
    for (std::int64_t i = 0; i < n; ++i) sums->values[i] = static_cast<double>(p[i]);
    x = sums->values;
  }
  // One vectorised sweep: min, max and whether anything is NaN (NaN never wins a min / max
  // compare; an infinity shows up as the min or max).
  double mn = 0, mx = 0;
  bool any_nan = false;
  MinMaxNan(x, n, &mn, &mx, &any_nan);
  const double inf = std::numeric_limits<double>::infinity();
  if (any_nan || mn == -inf || mx == inf) {  // rare: count the non-finite values, compact
    double* out = sums->values;
    m = 0;
    mn = inf;
    mx = -inf;
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      if (std::isfinite(v)) {
        out[m++] = v;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
      } else if (std::isnan(v)) {
        ++s->nan_count;
      } else if (v > 0) {
        ++s->pos_inf_count;
      } else {
        ++s->neg_inf_count;
      }
    }
    x = out;
  }
  if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
    // Bins compare in float32(raw), which can differ from float32(double(raw)) for 64-bit
    // integers (double rounding).
    for (std::int64_t i = 0; i < m; ++i) {
      bins[i] = static_cast<std::uint32_t>(index.Lookup(static_cast<float>(p[i])));
    }
  } else {
    index.LookupBlock(x, m, bins);
  }
  std::int64_t* counts = s->counts.data();
  for (std::int64_t i = 0; i < m; ++i) ++counts[bins[i]];
  // the exact sums
  for (std::int64_t j = 0; j < m; ++j) {
    std::uint64_t bits;
    std::memcpy(&bits, &x[j], sizeof(bits));
    sums->Add(bits);
  }
  sums->Flush(&s->sum, &s->sum_sq);
  if (m > 0) {
    if (s->finite_count > 0) {
      mn = s->min < mn ? s->min : mn;
      mx = s->max > mx ? s->max : mx;
    }
    s->min = mn;
    s->max = mx;
    s->finite_count += m;
  }
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

void Accumulate(const ColumnRef& c, std::int64_t begin, std::int64_t n, const Binner& ix,
                BlockSums* sums, NumericStats* s) {
  switch (c.type) {
#define SAPWOOD_PROFILE_CASE(TAG, T) \
  case ColumnType::TAG:              \
    return AccumulateBlock(static_cast<const T*>(c.data) + begin, n, ix, sums, s);
    SAPWOOD_PROFILE_CASE(kFloat32, float)
    SAPWOOD_PROFILE_CASE(kFloat64, double)
    SAPWOOD_PROFILE_CASE(kInt8, std::int8_t)
    SAPWOOD_PROFILE_CASE(kInt16, std::int16_t)
    SAPWOOD_PROFILE_CASE(kInt32, std::int32_t)
    SAPWOOD_PROFILE_CASE(kInt64, std::int64_t)
    SAPWOOD_PROFILE_CASE(kUInt8, std::uint8_t)
    SAPWOOD_PROFILE_CASE(kUInt16, std::uint16_t)
    SAPWOOD_PROFILE_CASE(kUInt32, std::uint32_t)
    SAPWOOD_PROFILE_CASE(kUInt64, std::uint64_t)
#undef SAPWOOD_PROFILE_CASE
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

// Drops +-inf edges: +-inf values are counted apart, never binned, so such an edge only bounds an
// always empty bin, and a profile's edges must stay finite to be stored and loaded again.
void DropInfinite(std::vector<float>* e) {
  e->erase(std::remove_if(e->begin(), e->end(), [](float v) { return std::isinf(v); }), e->end());
}

// A task builds a BinIndex table for a column (up to 64 KiB, cells ~16 ns of work each
// lookup saves) only when it has kIndexMinRows rows or more and the column kIndexMinEdges edges
// or more; else it bins by binary search over the edges, which allocates nothing.
constexpr std::int64_t kIndexMinRows = 1024;
constexpr int kIndexMinEdges = 32;
// Bytes of the tile buffer that strided columns are copied into, per thread.
constexpr std::int64_t kTileBytes = std::int64_t{2} << 20;
// Most strided columns per task (bounds the per-task bin tables and scratch profiles).
constexpr std::int64_t kMaxGroup = 4096;
// Mutex stripes guarding the merge of task results into the output columns.
constexpr std::size_t kStripes = 64;

}  // namespace

std::vector<NumericStats> ProfileNumeric(const std::vector<ColumnRef>& cols, std::int64_t rows,
                                         std::vector<std::optional<std::vector<float>>> edges,
                                         std::vector<std::vector<float>> extra_edges,
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

  // 1. Edges: given, or fitted on one seeded row sample shared by all columns; kept in the
  //    output profiles directly (nothing else holds a copy per column).
  std::vector<NumericStats> out(m);
  std::vector<char> fitted(m, 0);
  bool need_fit = false;
  for (std::size_t j = 0; j < m; ++j) {
    if (edges[j]) {
      CheckEdges(*edges[j], j);
      out[j].edges = std::move(*edges[j]);
      DropInfinite(&out[j].edges);
      edges[j].reset();
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
      std::vector<float>().swap(extra_edges[j]);
      DropInfinite(&e);
      std::sort(e.begin(), e.end());
      e.erase(std::unique(e.begin(), e.end()), e.end());
      e.shrink_to_fit();
      out[j].edges = std::move(e);
    });
  }
  for (NumericStats& s : out) s.counts.assign(s.edges.size() + 1, 0);

  // 2. One pass, split into tasks of up to kTaskRows rows of one contiguous column or of a group
  //    of strided columns, that the threads take from a shared counter, so a thread that the OS
  //    holds back does not hold up the others. When a column spans one chunk its task counts
  //    straight into the output; else each task counts into the thread's scratch profiles and
  //    merges them into the output under a lock. Merges are exact (integer counts and sums; min
  //    and max order -0.0 below +0.0), so neither the thread count nor the task order changes
  //    the answer. Working memory per thread: one tile of kTileBytes and, per column of a task
  //    (one, or a group of strided columns: <= 256 when tasks are long enough to build tables),
  //    a scratch profile and maybe a bin table; nothing per column of the whole input.
  std::vector<std::size_t> contiguous, strided;
  for (std::size_t j = 0; j < m; ++j) (cols[j].stride == 1 ? contiguous : strided).push_back(j);
  const std::int64_t n_chunks = std::max<std::int64_t>(1, (rows + kTaskRows - 1) / kTaskRows);
  const std::int64_t tile_rows = std::max<std::int64_t>(1, std::min(rows, kBlockRows));
  const std::int64_t group = std::max<std::int64_t>(
      1, std::min<std::int64_t>(kMaxGroup, kTileBytes / (tile_rows * 8)));
  const auto n_strided = static_cast<std::int64_t>(strided.size());
  const std::int64_t n_groups = (n_strided + group - 1) / group;
  const std::int64_t n_units = static_cast<std::int64_t>(contiguous.size()) + n_groups;
  const std::int64_t n_tasks = rows == 0 ? 0 : n_chunks * n_units;
  const std::int64_t n_workers =
      std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n_tasks));
  const bool direct = n_chunks == 1;  // every column is counted by exactly one task
  std::vector<std::mutex> stripes(kStripes);
  std::atomic<std::int64_t> next_task{0};
  ParallelFor(0, n_workers, threads, [&](std::int64_t) {
    auto sums = std::make_unique<BlockSums>();  // buckets and block buffers (~76 KiB), reused
    std::vector<std::uint64_t> tile;            // strided columns' tile, column after column
    std::vector<NumericStats> scratch;          // per column of a task, when !direct
    std::vector<BinIndex> tables;               // per column of a task, for long tasks
    std::vector<Binner> binners;
    std::vector<NumericStats*> targets;
    std::vector<std::size_t> task_cols;
    for (;;) {
      const std::int64_t task = next_task.fetch_add(1, std::memory_order_relaxed);
      if (task >= n_tasks) break;
      const std::int64_t chunk = task % n_chunks;
      const std::int64_t unit = task / n_chunks;
      const std::int64_t begin = chunk * kTaskRows;
      const std::int64_t end = std::min(rows, begin + kTaskRows);
      task_cols.clear();
      const bool is_strided = unit >= static_cast<std::int64_t>(contiguous.size());
      if (!is_strided) {
        task_cols.push_back(contiguous[static_cast<std::size_t>(unit)]);
      } else {
        const std::int64_t g = unit - static_cast<std::int64_t>(contiguous.size());
        const std::int64_t first = g * group;
        const std::int64_t last = std::min(n_strided, first + group);
        for (std::int64_t q = first; q < last; ++q) task_cols.push_back(strided[q]);
      }
      const std::size_t k = task_cols.size();
      // where this task counts, and how it finds bins
      targets.resize(k);
      if (!direct && scratch.size() < k) scratch.resize(k);
      for (std::size_t q = 0; q < k; ++q) {
        NumericStats& o = out[task_cols[q]];
        if (direct) {
          targets[q] = &o;
        } else {
          NumericStats& s = scratch[q];
          s.counts.assign(o.counts.size(), 0);
          s.nan_count = s.neg_inf_count = s.pos_inf_count = s.finite_count = 0;
          s.min = s.max = 0.0;
          s.sum.Clear();
          s.sum_sq.Clear();
          targets[q] = &s;
        }
      }
      const bool use_tables = end - begin >= kIndexMinRows;
      tables.clear();
      binners.assign(k, Binner{});
      for (std::size_t q = 0; q < k; ++q) {
        const std::vector<float>& e = out[task_cols[q]].edges;
        binners[q].edges = e.data();
        binners[q].k = static_cast<int>(e.size());
      }
      if (use_tables) {
        tables.reserve(k);
        for (std::size_t q = 0; q < k; ++q) {
          if (binners[q].k < kIndexMinEdges) continue;  // a few compares beat any table
          tables.emplace_back(out[task_cols[q]].edges);
          binners[q].index = &tables.back();
        }
      }
      if (!is_strided) {
        // one column over the chunk: its table and counts stay in cache while values stream in
        const std::size_t j = task_cols[0];
        for (std::int64_t b = begin; b < end; b += kBlockRows) {
          Accumulate(cols[j], b, std::min(end, b + kBlockRows) - b, binners[0], sums.get(),
                     targets[0]);
        }
      } else {
        // Strided columns (row-major matrices): copy a tile of rows of the group's columns into
        // contiguous per-column runs (one sequential sweep along each row), then count each
        // column from its run.
        tile.resize(static_cast<std::size_t>(tile_rows) * k);
        for (std::int64_t b = begin; b < end; b += tile_rows) {
          const std::int64_t e = std::min(end, b + tile_rows);
          for (std::int64_t r = b; r < e; ++r) {
            for (std::size_t q = 0; q < k; ++q) {
              const ColumnRef& c = cols[task_cols[q]];
              const std::size_t size = ItemSize(c.type);
              const char* src = static_cast<const char*>(c.data) +
                                static_cast<std::ptrdiff_t>(r * c.stride) *
                                    static_cast<std::ptrdiff_t>(size);
              std::memcpy(reinterpret_cast<char*>(tile.data() + q * tile_rows) + (r - b) * size,
                          src, size);
            }
          }
          for (std::size_t q = 0; q < k; ++q) {
            ColumnRef run = cols[task_cols[q]];
            run.data = tile.data() + q * tile_rows;
            run.stride = 1;
            Accumulate(run, 0, e - b, binners[q], sums.get(), targets[q]);
          }
        }
      }
      if (!direct) {
        for (std::size_t q = 0; q < k; ++q) {
          const std::size_t j = task_cols[q];
          std::lock_guard<std::mutex> lock(stripes[j % kStripes]);
          out[j].MergeCounts(scratch[q]);
        }
      }
    }
  });

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
