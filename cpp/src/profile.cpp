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

// The AVX-512 path is compiled with target attributes and chosen at run time (GCC / Clang on
// x86-64); elsewhere only the portable path exists.
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_PROFILE_AVX512 1
#include <immintrin.h>
#define SAPWOOD_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#else
#define SAPWOOD_PROFILE_AVX512 0
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
  std::uint64_t rest[kBlockRows];  // AVX-512 sums: bits of the values left to Add()
  std::uint32_t cell[kBlockRows];  // AVX-512 bins: cell and order key of each value
  std::uint32_t key[kBlockRows];

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

// The sign of a zero min / max does not depend on how lanes met the values: a block whose min
// is zero has min -0.0 when it holds a -0.0, and a block whose max is zero has max +0.0 when it
// holds a +0.0 (the order the merge of profiles uses), so every kernel gives the same bits.
inline void FixZeroSigns(const double* x, std::int64_t n, double* mn, double* mx) {
  if (*mn != 0.0 && *mx != 0.0) return;
  bool neg_zero = false, pos_zero = false;
  for (std::int64_t i = 0; i < n; ++i) {
    if (x[i] == 0.0) (std::signbit(x[i]) ? neg_zero : pos_zero) = true;
  }
  if (*mn == 0.0) *mn = neg_zero ? -0.0 : 0.0;
  if (*mx == 0.0) *mx = pos_zero ? 0.0 : -0.0;
}

#if SAPWOOD_PROFILE_AVX512
// GCC 12 flags the masked AVX-512 intrinsics' internal undefined operands.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// MinMaxNan, 8 lanes at a time (the tail under a mask).
SAPWOOD_AVX512_TARGET void MinMaxNanAvx512(const double* x, std::int64_t n, double* mn,
                                           double* mx, bool* any_nan) {
  const double inf = std::numeric_limits<double>::infinity();
  __m512d vmin0 = _mm512_set1_pd(inf), vmin1 = vmin0;
  __m512d vmax0 = _mm512_set1_pd(-inf), vmax1 = vmax0;
  __mmask8 nan = 0;
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512d a = _mm512_loadu_pd(x + i);
    const __m512d b = _mm512_loadu_pd(x + i + 8);
    vmin0 = _mm512_min_pd(a, vmin0);  // a NaN in `a` keeps the second operand
    vmin1 = _mm512_min_pd(b, vmin1);
    vmax0 = _mm512_max_pd(a, vmax0);
    vmax1 = _mm512_max_pd(b, vmax1);
    nan |= _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q);
  }
  for (; i < n; i += 8) {
    const __mmask8 k = n - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - i)) - 1);
    const __m512d a = _mm512_maskz_loadu_pd(k, x + i);
    vmin0 = _mm512_mask_min_pd(vmin0, k, a, vmin0);
    vmax0 = _mm512_mask_max_pd(vmax0, k, a, vmax0);
    nan |= _mm512_mask_cmp_pd_mask(k, a, a, _CMP_UNORD_Q);
  }
  // (stored and reduced by hand: GCC 12's _mm512_reduce_* warn of uninitialised use)
  alignas(64) double lo[8], hi[8];
  _mm512_store_pd(lo, _mm512_min_pd(vmin0, vmin1));
  _mm512_store_pd(hi, _mm512_max_pd(vmax0, vmax1));
  double l = lo[0], h = hi[0];
  for (int k = 1; k < 8; ++k) {
    l = lo[k] < l ? lo[k] : l;
    h = hi[k] > h ? hi[k] : h;
  }
  *mn = l;
  *mx = h;
  *any_nan = nan != 0;
}

// The exact sums of one block of n <= kBlockRows finite doubles, 8 lanes at a time, added into
// sum / sum_sq: the same integers BlockSums builds, without its per-value bucket updates (whose
// read-modify-write chains through memory were the pass's largest cost). With emax the largest
// biased exponent of the block and ebase = emax - 10, a value of biased exponent e >= ebase is
// +-a * 2^(ebase - 1075) with a = mantissa << (e - ebase) < 2^63: lanes sum +-a in two 32-bit
// halves and a^2 in 21-bit limbs (a = a2 2^42 + a1 2^21 + a0; each product < 2^42, so 128 of
// them per lane never overflow). The few values below the window (and subnormals) go through
// BlockSums; zeros add nothing.
SAPWOOD_AVX512_TARGET void ExactSumsAvx512(const double* x, std::int64_t n, double mn, double mx,
                                           BlockSums* sums, ExactSum* sum, ExactSumSq* sum_sq) {
  const double amax = -mn > mx ? -mn : mx;
  std::uint64_t abits;
  std::memcpy(&abits, &amax, sizeof(abits));
  const int emax = static_cast<int>((abits >> 52) & 0x7FF);
  if (emax < 11) {  // every value tiny or subnormal: the buckets
    for (std::int64_t i = 0; i < n; ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, &x[i], sizeof(bits));
      sums->Add(bits);
    }
    sums->Flush(sum, sum_sq);
    return;
  }
  const int ebase = emax - 10;
  const __m512i vebase = _mm512_set1_epi64(ebase);
  const __m512i exp_mask = _mm512_set1_epi64(0x7FF);
  const __m512i mant_mask = _mm512_set1_epi64((std::int64_t{1} << 52) - 1);
  const __m512i implicit = _mm512_set1_epi64(std::int64_t{1} << 52);
  const __m512i abs_mask = _mm512_set1_epi64(0x7FFFFFFFFFFFFFFFll);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFll);
  const __m512i low21 = _mm512_set1_epi64((1 << 21) - 1);
  const __m512i zero = _mm512_setzero_si512();
  __m512i lo = zero, hi = zero, c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero;
  std::uint64_t* rest = sums->rest;
  std::int64_t n_rest = 0;
  for (std::int64_t i = 0; i < n; i += 8) {
    const __mmask8 k = n - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - i)) - 1);
    const __m512i b = _mm512_maskz_loadu_epi64(k, x + i);
    const __m512i be = _mm512_and_si512(_mm512_srli_epi64(b, 52), exp_mask);
    const __mmask8 in = _mm512_mask_cmpge_epu64_mask(k, be, vebase);
    const __mmask8 out = _mm512_mask_test_epi64_mask(static_cast<__mmask8>(k & ~in), b, abs_mask);
    if (__builtin_expect(out != 0, 0)) {
      _mm512_mask_compressstoreu_epi64(rest + n_rest, out, b);
      n_rest += __builtin_popcount(out);
    }
    const __m512i m = _mm512_or_si512(_mm512_and_si512(b, mant_mask), implicit);
    const __m512i a = _mm512_maskz_sllv_epi64(in, m, _mm512_sub_epi64(be, vebase));
    const __m512i t = _mm512_mask_sub_epi64(a, _mm512_movepi64_mask(b), zero, a);  // +-a
    lo = _mm512_add_epi64(lo, _mm512_and_si512(t, low32));
    hi = _mm512_add_epi64(hi, _mm512_srai_epi64(t, 32));
    const __m512i a0 = _mm512_and_si512(a, low21);
    const __m512i a1 = _mm512_and_si512(_mm512_srli_epi64(a, 21), low21);
    const __m512i a2 = _mm512_srli_epi64(a, 42);
    c0 = _mm512_add_epi64(c0, _mm512_mul_epu32(a0, a0));
    c1 = _mm512_add_epi64(c1, _mm512_mul_epu32(a0, a1));
    c2 = _mm512_add_epi64(c2, _mm512_add_epi64(_mm512_slli_epi64(_mm512_mul_epu32(a0, a2), 1),
                                               _mm512_mul_epu32(a1, a1)));
    c3 = _mm512_add_epi64(c3, _mm512_mul_epu32(a1, a2));
    c4 = _mm512_add_epi64(c4, _mm512_mul_epu32(a2, a2));
  }
  const auto reduce = [](const std::int64_t* v) {
    std::int64_t t = 0;
    for (int k = 0; k < 8; ++k) t += v[k];
    return t;
  };
  alignas(64) std::int64_t lanes[7][8];
  _mm512_store_si512(lanes[0], lo);
  _mm512_store_si512(lanes[1], hi);
  _mm512_store_si512(lanes[2], c0);
  _mm512_store_si512(lanes[3], c1);
  _mm512_store_si512(lanes[4], c2);
  _mm512_store_si512(lanes[5], c3);
  _mm512_store_si512(lanes[6], c4);
  // sum of +-a: hi * 2^32 + lo (lo >= 0)
  const __int128 s1 = static_cast<__int128>(reduce(lanes[1])) * (std::int64_t{1} << 32) +
                      reduce(lanes[0]);
  if (s1 != 0) {
    const bool neg = s1 < 0;
    const unsigned __int128 mag =
        neg ? -static_cast<unsigned __int128>(s1) : static_cast<unsigned __int128>(s1);
    sum->AddAtBit(mag, neg, ebase - 1075 + ExactSum::kScaleBits);
  }
  // sum of a^2 = c0 + 2 c1 2^21 + c2 2^42 + (2 c3 + c4 2^21) 2^63, each part < 2^97
  using U = unsigned __int128;
  const U r0 = static_cast<U>(reduce(lanes[2]));
  const U r1 = static_cast<U>(reduce(lanes[3]));
  const U r2 = static_cast<U>(reduce(lanes[4]));
  const U r3 = static_cast<U>(reduce(lanes[5]));
  const U r4 = static_cast<U>(reduce(lanes[6]));
  const U low = r0 + (r1 << 22) + (r2 << 42);
  const U high = (r3 << 1) + (r4 << 21);
  const int sq_bit = 2 * (ebase - 1075) + ExactSumSq::kScaleBits;
  sum_sq->AddAtBit(low, false, sq_bit);
  sum_sq->AddAtBit(high, false, sq_bit + 63);
  for (std::int64_t i = 0; i < n_rest; ++i) sums->Add(rest[i]);
  sums->Flush(sum, sum_sq);
}
#pragma GCC diagnostic pop
#endif

#if SAPWOOD_PROFILE_AVX512
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// A BinIndex's cells with each cell's first edge beside its start, as 64-bit entries (start in
// the low half, kWide flagged, the edge's order key in the high half): one 64-bit gather per
// value finds the bin, where BinIndex's own lookups gather twice (the table, then the edge);
// the gathers are what a lookup costs. Edges compare as order keys of the unsqueezed float (the
// same order as the floats; -0.0 takes +0.0's key). At most 16K + 2 cells (128 KiB).
class PackedIndex {
 public:
  explicit PackedIndex(const BinIndex& ix) : ix_(&ix), layout_(ix.GetLayout()) {
    cells_.resize(static_cast<std::size_t>(layout_.last) + 2);
    for (std::size_t c = 0; c < cells_.size(); ++c) {
      const std::uint32_t st = layout_.start[c];
      const float edge = layout_.padded[st & ~BinIndex::kWide];
      cells_[c] = (static_cast<std::uint64_t>(OrderKey(edge)) << 32) | st;
    }
  }

  // ++counts[BinIndex::Lookup(float(x[i]))] for i < n (x finite): LookupBlock without storing
  // the bins and reading them back.
  SAPWOOD_AVX512_TARGET void CountBlock(const double* x, std::int64_t n, std::int64_t* counts,
                                        std::uint32_t* cells, std::uint32_t* keys) const {
    Cells(x, n, cells, keys);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint64_t g = cells_[cells[i]];
      std::uint32_t bin = static_cast<std::uint32_t>(g) + ((g >> 32) < keys[i] ? 1u : 0u);
      if (__builtin_expect((g & BinIndex::kWide) != 0, 0)) {
        bin = static_cast<std::uint32_t>(ix_->Lookup(static_cast<float>(x[i])));
      }
      ++counts[bin];
    }
  }

  // bins[i] = BinIndex::Lookup(float(x[i])) for i < n (x finite).
  SAPWOOD_AVX512_TARGET void LookupBlock(const double* x, std::int64_t n, std::uint32_t* bins,
                                         std::uint32_t* cells, std::uint32_t* keys) const {
    Cells(x, n, cells, keys);
    // Scalar loads of the cells: on this core a gather of 8 entries cost more than 8 loads.
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint64_t g = cells_[cells[i]];
      std::uint32_t bin = static_cast<std::uint32_t>(g) + ((g >> 32) < keys[i] ? 1u : 0u);
      if (__builtin_expect((g & BinIndex::kWide) != 0, 0)) {
        bin = static_cast<std::uint32_t>(ix_->Lookup(static_cast<float>(x[i])));
      }
      bins[i] = bin;
    }
  }

 private:
  // Each value's cell and order key (8 lanes at a time).
  SAPWOOD_AVX512_TARGET void Cells(const double* x, std::int64_t n, std::uint32_t* cells,
                                   std::uint32_t* keys) const {
    const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i gap_lo = _mm256_set1_epi32(static_cast<int>(layout_.gap_lo));
    const __m256i gap_hi = _mm256_set1_epi32(static_cast<int>(layout_.gap_hi));
    const __m256i lo = _mm256_set1_epi32(static_cast<int>(layout_.lo));
    const __m256i last = _mm256_set1_epi32(static_cast<int>(layout_.last));
    const __m256i shift = _mm256_set1_epi32(layout_.shift);
    for (std::int64_t i = 0; i < n; i += 8) {
      const __mmask8 k = n - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - i)) - 1);
      const __m256 f = _mm256_add_ps(_mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k, x + i)),
                                     _mm256_setzero_ps());  // -0 -> +0
      const __m256i u = _mm256_castps_si256(f);
      const __m256i raw = _mm256_xor_si256(u, _mm256_or_si256(_mm256_srai_epi32(u, 31), sign));
      const __m256i t = _mm256_min_epu32(_mm256_max_epu32(raw, gap_lo), gap_hi);
      const __m256i key = _mm256_sub_epi32(raw, _mm256_sub_epi32(t, gap_lo));
      const __mmask8 above = _mm256_cmpgt_epu32_mask(key, lo);
      const __m256i c =
          _mm256_maskz_min_epu32(above, _mm256_srlv_epi32(_mm256_sub_epi32(key, lo), shift), last);
      _mm256_mask_storeu_epi32(cells + i, k, c);
      _mm256_mask_storeu_epi32(keys + i, k, raw);
    }
  }

  const BinIndex* ix_;
  BinIndex::Layout layout_;
  std::vector<std::uint64_t> cells_;
};
#pragma GCC diagnostic pop
#endif


// A column's bin lookup: its BinIndex table when a task has rows enough to pay for building one
// (up to 64 KiB), else a binary search over the edges, which allocates nothing (a table per
// column of a short, wide input cost far more memory than the input itself).
struct Binner {
  const BinIndex* index = nullptr;
#if SAPWOOD_PROFILE_AVX512
  const PackedIndex* packed = nullptr;  // the AVX-512 path's view of `index`
#endif
  const float* edges = nullptr;
  int k = 0;

  int Lookup(float v) const { return index != nullptr ? index->Lookup(v) : LowerBound(edges, k, v); }
  void LookupBlock(const double* x, std::int64_t n, bool avx512, std::uint32_t* bins,
                   std::uint32_t* scratch_a, std::uint32_t* scratch_b) const {
    if (index != nullptr) {
#if SAPWOOD_PROFILE_AVX512
      if (avx512 && packed != nullptr) {
        packed->LookupBlock(x, n, bins, scratch_a, scratch_b);
        return;
      }
#endif
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
void AccumulateBlock(const T* p, std::int64_t n, const Binner& index, bool avx512,
                     BlockSums* sums, NumericStats* s) {
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
#if SAPWOOD_PROFILE_AVX512
  if (avx512) {
    MinMaxNanAvx512(x, n, &mn, &mx, &any_nan);
  } else {
    MinMaxNan(x, n, &mn, &mx, &any_nan);
  }
#else
  MinMaxNan(x, n, &mn, &mx, &any_nan);
#endif
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
  FixZeroSigns(x, m, &mn, &mx);
  if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
    // Bins compare in float32(raw), which can differ from float32(double(raw)) for 64-bit
    // integers (double rounding).
    for (std::int64_t i = 0; i < m; ++i) {
      bins[i] = static_cast<std::uint32_t>(index.Lookup(static_cast<float>(p[i])));
    }
  } else {
#if SAPWOOD_PROFILE_AVX512
    if (avx512 && index.packed != nullptr) {
      index.packed->CountBlock(x, m, s->counts.data(), sums->cell, sums->key);
      m = -m;  // counted
    } else
#endif
    index.LookupBlock(x, m, avx512, bins, sums->cell, sums->key);
  }
  if (m >= 0) {
    std::int64_t* counts = s->counts.data();
    for (std::int64_t i = 0; i < m; ++i) ++counts[bins[i]];
  } else {
    m = -m;
  }
  // the exact sums
#if SAPWOOD_PROFILE_AVX512
  if (avx512 && m > 0) {
    ExactSumsAvx512(x, m, mn, mx, sums, &s->sum, &s->sum_sq);
  } else
#endif
  {
    for (std::int64_t j = 0; j < m; ++j) {
      std::uint64_t bits;
      std::memcpy(&bits, &x[j], sizeof(bits));
      sums->Add(bits);
    }
    sums->Flush(&s->sum, &s->sum_sq);
  }
  if (m > 0) {
    if (s->finite_count > 0) {
      // -0.0 orders below +0.0, as in MergeCounts
      if (s->min < mn || (s->min == mn && std::signbit(s->min))) mn = s->min;
      if (s->max > mx || (s->max == mx && !std::signbit(s->max))) mx = s->max;
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
                bool avx512, BlockSums* sums, NumericStats* s) {
  switch (c.type) {
#define SAPWOOD_PROFILE_CASE(TAG, T) \
  case ColumnType::TAG:              \
    return AccumulateBlock(static_cast<const T*>(c.data) + begin, n, ix, avx512, sums, s);
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

bool ProfileAvx512Available() {
#if SAPWOOD_PROFILE_AVX512
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return ok;
#else
  return false;
#endif
}

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
  if (params.kernel == ProfileKernel::kAvx512 && !ProfileAvx512Available()) {
    throw ParameterError("profile kernel 'avx512' needs a CPU with AVX-512 F/BW/VL/DQ");
  }
  const bool avx512 = params.kernel != ProfileKernel::kPortable && ProfileAvx512Available();

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
  const std::int64_t tile_rows = std::max<std::int64_t>(1, std::min(rows, kBlockRows));
  const std::int64_t group = std::max<std::int64_t>(
      1, std::min<std::int64_t>(kMaxGroup, kTileBytes / (tile_rows * 8)));
  const auto n_strided = static_cast<std::int64_t>(strided.size());
  const std::int64_t n_groups = (n_strided + group - 1) / group;
  const std::int64_t n_units = static_cast<std::int64_t>(contiguous.size()) + n_groups;
  // Rows per task: kTaskRows, or longer while there are tasks enough (16 per thread) without
  // splitting columns that finely: each task builds its columns' bin tables (~16K cells), which
  // cost a profile of 1M x 20 five percent of its time when every 64K rows built them anew.
  // (4 per thread left 1M x 20 on 2 threads one whole column per task: the thread that
  // finished first then idled for up to a column's time at the end.)
  const std::int64_t want_chunks =
      std::max<std::int64_t>(1, (16 * std::int64_t{threads} + n_units - 1) / n_units);
  const std::int64_t task_rows =
      std::max(kTaskRows, ((rows + want_chunks - 1) / want_chunks + kBlockRows - 1) /
                              kBlockRows * kBlockRows);
  const std::int64_t n_chunks = std::max<std::int64_t>(1, (rows + task_rows - 1) / task_rows);
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
#if SAPWOOD_PROFILE_AVX512
    std::vector<PackedIndex> packed;            // their AVX-512 views
#endif
    std::vector<Binner> binners;
    std::vector<NumericStats*> targets;
    std::vector<std::size_t> task_cols;
    for (;;) {
      const std::int64_t task = next_task.fetch_add(1, std::memory_order_relaxed);
      if (task >= n_tasks) break;
      const std::int64_t chunk = task % n_chunks;
      const std::int64_t unit = task / n_chunks;
      const std::int64_t begin = chunk * task_rows;
      const std::int64_t end = std::min(rows, begin + task_rows);
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
#if SAPWOOD_PROFILE_AVX512
        packed.clear();
        if (avx512) packed.reserve(k);
#endif
        for (std::size_t q = 0; q < k; ++q) {
          if (binners[q].k < kIndexMinEdges) continue;  // a few compares beat any table
          tables.emplace_back(out[task_cols[q]].edges);
          binners[q].index = &tables.back();
#if SAPWOOD_PROFILE_AVX512
          if (avx512) {
            packed.emplace_back(tables.back());
            binners[q].packed = &packed.back();
          }
#endif
        }
      }
      if (!is_strided) {
        // one column over the chunk: its table and counts stay in cache while values stream in
        const std::size_t j = task_cols[0];
        for (std::int64_t b = begin; b < end; b += kBlockRows) {
          Accumulate(cols[j], b, std::min(end, b + kBlockRows) - b, binners[0], avx512,
                     sums.get(), targets[0]);
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
            Accumulate(run, 0, e - b, binners[q], avx512, sums.get(), targets[q]);
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
