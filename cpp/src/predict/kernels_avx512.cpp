// The AVX-512 kernels of the rank-coded predictor (kernels.hpp), compiled with a target
// attribute and chosen at run time (dispatch.cpp), as kernels_avx2.cpp is.
//
// The row-mask batch kernel (MaskSplit, layout.hpp) walks a tree top down for 64 rows at once:
// a row is a bit of a 64-bit mask, a split's two compares of 32 int16 codes give the mask of
// the rows that go right (mask registers, no vector result to combine), and a child's mask is
// its parent's AND (NOT) that, in general registers. Each row's leaf number is summed on the
// way down (one masked byte add per split and 64 rows), and the leaf values are picked from
// registers by permutes (trees of at most 64 leaves) or gathered, 8 rows at a time. Work per tree is one compare pair per split and 64 rows, against the AVX2
// bit-vector kernel's compare, OR and AND per record (a split and a 16-leaf word it touches)
// and 16 rows.
#include "kernels.hpp"

#include <algorithm>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_X86_SIMD 1
#include <immintrin.h>
#endif

#define SAPWOOD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SAPWOOD_AVX512VBMI \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")))

namespace sapwood::predict {

bool CpuHasAvx512() {
#ifdef SAPWOOD_X86_SIMD
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
           __builtin_cpu_supports("avx512vl") != 0 && __builtin_cpu_supports("avx512dq") != 0;
  }();
  return has;
#else
  return false;
#endif
}

bool CpuHasAvx512Vbmi() {
#ifdef SAPWOOD_X86_SIMD
  static const bool has = [] {
    __builtin_cpu_init();
    return CpuHasAvx512() && __builtin_cpu_supports("avx512vbmi") != 0;
  }();
  return has;
#else
  return false;
#endif
}

#ifdef SAPWOOD_X86_SIMD

namespace {

// Rows [64 w, 64 w + 64) of a block of nrows as a mask.
inline std::uint64_t LiveRows(std::int64_t nrows, int w) {
  const std::int64_t n = nrows - 64 * w;
  if (n >= 64) return ~std::uint64_t{0};
  return n <= 0 ? 0 : (std::uint64_t{1} << n) - 1;
}

// The rows of a 64-row word of codes c (the block's rows 64 w on) that reach split q (mask p)
// and go right there: the compare is masked by p, so its mask is the right child's.
template <class Code>
SAPWOOD_AVX512 inline __mmask64 Right(const MaskSplit& q, std::uint64_t p, const Code* c) {
  if constexpr (sizeof(Code) == 1) {
    return _mm512_mask_cmpgt_epu8_mask(_cvtu64_mask64(p), _mm512_loadu_si512(c),
                                       _mm512_set1_epi8(static_cast<char>(q.rank8)));
  } else {
    const __m512i rank = _mm512_set1_epi16(q.rank16);
    const __mmask32 lo = _mm512_mask_cmpgt_epi16_mask(static_cast<__mmask32>(p),
                                                      _mm512_loadu_si512(c), rank);
    const __mmask32 hi = _mm512_mask_cmpgt_epi16_mask(static_cast<__mmask32>(p >> 32),
                                                      _mm512_loadu_si512(c + 32), rank);
    return _mm512_kunpackd(_cvtu64_mask64(_cvtmask32_u32(hi)), _cvtu64_mask64(_cvtmask32_u32(lo)));
  }
}

// NW words of 64 rows (the block's first 64 * NW rows, nrows of them live) through one tree.
template <class Code, int NW>
SAPWOOD_AVX512 void MaskRows(const BitvecTree& tree, const MaskSplit* split,
                             const double* leaf_value, const Code* codes, std::int64_t nrows,
                             double* out, std::int64_t out_stride) {
  // Slots of a tree of at most 256 leaves: below 511. Only the slots the walk writes are read.
  std::uint64_t m[2 * 16 * kBitvecMaxWords][NW];
  const int n_leaves = tree.split_end - tree.split_begin + 1;
  const int root = n_leaves > 1 ? n_leaves : 0;
  for (int w = 0; w < NW; ++w) m[root][w] = LiveRows(nrows, w);
  // Each row's leaf number (left to right), one byte per row, summed on the way down: a row's
  // leaf is preceded by the leaves of the left subtrees of the splits it goes right at, so
  // each split adds its left_leaves to the rows it sends right (a masked byte add per split and
  // 64 rows, in place of a masked move per leaf in a pass over the leaves' masks after the
  // walk). Two sums per word (even and odd splits) halve the chain of dependent adds; their
  // total is below 256.
  __m512i idx[2][NW];
  for (int w = 0; w < NW; ++w) idx[0][w] = idx[1][w] = _mm512_setzero_si512();
  for (std::int32_t s = tree.split_begin; s < tree.split_end; ++s) {
    const MaskSplit& q = split[s];
    const Code* c = codes + q.offset;
    const __m512i add = _mm512_set1_epi8(static_cast<char>(q.left_leaves));
    const int parity = (s - tree.split_begin) & 1;
    for (int w = 0; w < NW; ++w) {
      // The parent's mask masks the compare: its result is the right child's mask, used as
      // it is by the byte add, and moved once to a general register for the XOR and stores
      // (a compare, one move each way and an AND between the register files per split, else).
      const std::uint64_t p = m[q.self][w];
      const __mmask64 kr = Right(q, p, c + 64 * w);
      std::uint64_t r = _cvtmask64_u64(kr);
      asm("" : "+r"(r));
      m[q.left][w] = p ^ r;
      m[q.right][w] = r;
      if (parity) {
        idx[1][w] = _mm512_mask_add_epi8(idx[1][w], kr, idx[1][w], add);
      } else {
        idx[0][w] = _mm512_mask_add_epi8(idx[0][w], kr, idx[0][w], add);
      }
    }
  }
  alignas(64) std::uint8_t leaf[64 * NW];
  for (int w = 0; w < NW; ++w) {
    _mm512_store_si512(leaf + 64 * w, _mm512_add_epi8(idx[0][w], idx[1][w]));
  }
  const double* lv = leaf_value + tree.leaf_begin;
  const std::int64_t n = std::min<std::int64_t>(nrows, 64 * NW);
  if (out_stride == 1 && n_leaves <= 64) {
    // Trees of at most 64 leaves: their values in (at most 8) registers, each row's picked by
    // permutes of two registers and blends on its leaf number's bits 4 and 5, where a gather of
    // 8 values cost more (2.52 -> 2.21 ns per row-tree, one thread, the LightGBM model of
    // benchmarks/compare/predict.py; 2.41 -> 2.11 on the XGBoost model).
    __m512d v[8];
    for (int j = 0; j < 8; ++j) {
      const int left = n_leaves - 8 * j;
      const __mmask8 k = left >= 8 ? 0xFF : left <= 0 ? 0 : static_cast<__mmask8>((1u << left) - 1);
      v[j] = _mm512_maskz_loadu_pd(k, lv + 8 * j);
    }
    const __m512i b16 = _mm512_set1_epi64(16), b32 = _mm512_set1_epi64(32);
    for (std::int64_t r = 0; r < n; r += 8) {
      const __m512i at =
          _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(leaf + r)));
      __m512d x = _mm512_permutex2var_pd(v[0], at, v[1]);
      if (n_leaves > 16) {
        const __mmask8 hi16 = _mm512_test_epi64_mask(at, b16);
        x = _mm512_mask_blend_pd(hi16, x, _mm512_permutex2var_pd(v[2], at, v[3]));
        if (n_leaves > 32) {
          __m512d y = _mm512_permutex2var_pd(v[4], at, v[5]);
          y = _mm512_mask_blend_pd(hi16, y, _mm512_permutex2var_pd(v[6], at, v[7]));
          x = _mm512_mask_blend_pd(_mm512_test_epi64_mask(at, b32), x, y);
        }
      }
      const __mmask8 k = n - r >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - r)) - 1);
      _mm512_mask_storeu_pd(out + r, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, out + r), x));
    }
  } else if (out_stride == 1) {
    for (std::int64_t r = 0; r < n; r += 8) {
      const __m512i at =
          _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(leaf + r)));
      const __m512d v = _mm512_i64gather_pd(at, lv, 8);
      const __mmask8 k = n - r >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - r)) - 1);
      _mm512_mask_storeu_pd(out + r, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, out + r), v));
    }
  } else {
    for (std::int64_t r = 0; r < n; ++r) out[r * out_stride] += lv[leaf[r]];
  }
}

template <class Code>
SAPWOOD_AVX512 void MaskBlock(const BitvecTree& tree, const MaskSplit* split,
                              const double* leaf_value, const Code* codes, std::int64_t nrows,
                              double* out, std::int64_t out_stride) {
  if (nrows > 64) {
    MaskRows<Code, 2>(tree, split, leaf_value, codes, nrows, out, out_stride);
  } else if (nrows > 0) {
    MaskRows<Code, 1>(tree, split, leaf_value, codes, nrows, out, out_stride);
  }
}

// Tree t's state in a walk of two trees side by side (MaskPair).
struct PairWalk {
  std::uint64_t m[2 * 16 * kBitvecMaxWords][2];
  __m512i idx[2];
  const MaskSplit* split;
  int n_leaves;
};

template <class Code>
SAPWOOD_AVX512 inline void PairStep(PairWalk& t, const MaskSplit& q, const Code* codes) {
  const Code* c = codes + q.offset;
  const __m512i add = _mm512_set1_epi8(static_cast<char>(q.left_leaves));
  for (int w = 0; w < 2; ++w) {
    const std::uint64_t p = t.m[q.self][w];
    const __mmask64 kr = Right(q, p, c + 64 * w);
    std::uint64_t r = _cvtmask64_u64(kr);
    asm("" : "+r"(r));
    t.m[q.left][w] = p ^ r;
    t.m[q.right][w] = r;
    t.idx[w] = _mm512_mask_add_epi8(t.idx[w], kr, t.idx[w], add);
  }
}

// Leaf values of a tree of at most 64 leaves (in v) for the 8 rows whose leaf numbers are at.
SAPWOOD_AVX512 inline __m512d PickLeaves(const __m512d* v, int n_leaves, __m512i at) {
  __m512d x = _mm512_permutex2var_pd(v[0], at, v[1]);
  if (n_leaves > 16) {
    const __mmask8 hi16 = _mm512_test_epi64_mask(at, _mm512_set1_epi64(16));
    x = _mm512_mask_blend_pd(hi16, x, _mm512_permutex2var_pd(v[2], at, v[3]));
    if (n_leaves > 32) {
      __m512d y = _mm512_permutex2var_pd(v[4], at, v[5]);
      y = _mm512_mask_blend_pd(hi16, y, _mm512_permutex2var_pd(v[6], at, v[7]));
      x = _mm512_mask_blend_pd(_mm512_test_epi64_mask(at, _mm512_set1_epi64(32)), x, y);
    }
  }
  return x;
}

// Two trees of at most 64 leaves each through a block of 65-128 rows (two words), their splits
// walked side by side: a walk's every level waits on the last (compare, mask move, store and
// reload of the child's mask), so two independent walks keep the core busier than one. Leaves
// are added tree a first, then tree b, row by row: the same sums as one tree after the other.
template <class Code>
SAPWOOD_AVX512 void MaskPair(const BitvecTree& ta, const BitvecTree& tb, const MaskSplit* split,
                             const double* leaf_value, const Code* codes, std::int64_t nrows,
                             double* out) {
  PairWalk w[2];
  const BitvecTree* tree[2] = {&ta, &tb};
  for (int k = 0; k < 2; ++k) {
    w[k].split = split + tree[k]->split_begin;
    w[k].n_leaves = tree[k]->split_end - tree[k]->split_begin + 1;
    const int root = w[k].n_leaves > 1 ? w[k].n_leaves : 0;
    for (int j = 0; j < 2; ++j) {
      w[k].m[root][j] = LiveRows(nrows, j);
      w[k].idx[j] = _mm512_setzero_si512();
    }
  }
  const int na = w[0].n_leaves - 1, nb = w[1].n_leaves - 1;
  const int both = std::min(na, nb);
  for (int i = 0; i < both; ++i) {
    PairStep(w[0], w[0].split[i], codes);
    PairStep(w[1], w[1].split[i], codes);
  }
  for (int i = both; i < na; ++i) PairStep(w[0], w[0].split[i], codes);
  for (int i = both; i < nb; ++i) PairStep(w[1], w[1].split[i], codes);
  alignas(64) std::uint8_t leaf[2][128];
  __m512d v[2][8];
  for (int k = 0; k < 2; ++k) {
    for (int j = 0; j < 2; ++j) _mm512_store_si512(leaf[k] + 64 * j, w[k].idx[j]);
    const double* lv = leaf_value + tree[k]->leaf_begin;
    for (int j = 0; j < 8; ++j) {
      const int left = w[k].n_leaves - 8 * j;
      const __mmask8 m =
          left >= 8 ? 0xFF : left <= 0 ? 0 : static_cast<__mmask8>((1u << left) - 1);
      v[k][j] = _mm512_maskz_loadu_pd(m, lv + 8 * j);
    }
  }
  for (std::int64_t r = 0; r < nrows; r += 8) {
    const __m512i a0 =
        _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(leaf[0] + r)));
    const __m512i a1 =
        _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(leaf[1] + r)));
    const __m512d x0 = PickLeaves(v[0], w[0].n_leaves, a0);
    const __m512d x1 = PickLeaves(v[1], w[1].n_leaves, a1);
    const __mmask8 k = nrows - r >= 8 ? 0xFF : static_cast<__mmask8>((1u << (nrows - r)) - 1);
    _mm512_mask_storeu_pd(
        out + r, k, _mm512_add_pd(_mm512_add_pd(_mm512_maskz_loadu_pd(k, out + r), x0), x1));
  }
}

}  // namespace

static_assert(kBitvecRows == 128, "a block is two words of 64 rows");

SAPWOOD_AVX512 void ScoreMaskPairAvx512(const BitvecTree& ta, const BitvecTree& tb,
                                        const MaskSplit* split, const double* leaf_value,
                                        const void* codes, bool codes8, std::int64_t nrows,
                                        double* out) {
  const int la = ta.split_end - ta.split_begin + 1, lb = tb.split_end - tb.split_begin + 1;
  if (nrows <= 64 || la > 64 || lb > 64) {
    ScoreMaskAvx512(ta, split, leaf_value, codes, codes8, nrows, out, 1);
    ScoreMaskAvx512(tb, split, leaf_value, codes, codes8, nrows, out, 1);
  } else if (codes8) {
    MaskPair(ta, tb, split, leaf_value, static_cast<const std::uint8_t*>(codes), nrows, out);
  } else {
    MaskPair(ta, tb, split, leaf_value, static_cast<const std::int16_t*>(codes), nrows, out);
  }
}

SAPWOOD_AVX512 void ScoreMaskAvx512(const BitvecTree& tree, const MaskSplit* split,
                                    const double* leaf_value, const void* codes, bool codes8,
                                    std::int64_t nrows, double* out, std::int64_t out_stride) {
  if (codes8) {
    MaskBlock(tree, split, leaf_value, static_cast<const std::uint8_t*>(codes), nrows, out,
              out_stride);
  } else {
    MaskBlock(tree, split, leaf_value, static_cast<const std::int16_t*>(codes), nrows, out,
              out_stride);
  }
}

SAPWOOD_AVX512 void Codes8Avx512(const std::int16_t* codes, int columns, std::uint8_t* codes8) {
  const __m512i bias = _mm512_set1_epi16(static_cast<short>(0x8000));
  for (std::int64_t i = 0; i < columns * kBitvecRows; i += 32) {
    const __m512i c = _mm512_xor_si512(_mm512_loadu_si512(codes + i), bias);
    // Unsigned saturation: codes above 255 (NaN going right, 0xFFFF) become 255.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes8 + i), _mm512_cvtusepi16_epi8(c));
  }
}

// ---- rank codes of a block by column (QuantizeColumnsAvx2's contract) ----

// 16 rows of a feature per register, 2 registers at once. The search's first 5 steps probe a
// table of 31 thresholds held in two registers (RankCodes::top, one permute per step), only
// the steps past those gather (8-step features: 3 gathers instead of 8; gathers cost ~9 cycles
// each here).
SAPWOOD_AVX512 void QuantizeColumnsAvx512(const RankCodes& rc, int num_features,
                                          const float* const* first, std::int64_t row_stride,
                                          std::int64_t nrows, std::int16_t* codes) {
  constexpr int kRegs = 2;
  const std::int64_t F = num_features;
  const __m512i lane = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(row_stride)));
  const __m512i bias = _mm512_set1_epi32(0x8000);
  const __m512i nan_code = _mm512_set1_epi32(0xFFFF);
  for (std::int64_t f = 0; f < F; ++f) {
    const float* e = rc.search.data() + rc.search_begin[static_cast<std::size_t>(f)];
    const int steps = rc.search_steps[static_cast<std::size_t>(f)];
    const int shift = std::max(steps - 5, 0);
    const __m512 t0 = _mm512_loadu_ps(rc.top.data() + 32 * f);
    const __m512 t1 = _mm512_loadu_ps(rc.top.data() + 32 * f + 16);
    std::int16_t* nan_right = codes + f * kBitvecRows;
    std::int16_t* nan_left = codes + (F + f) * kBitvecRows;
    for (std::int64_t r = 0; r < nrows; r += 16 * kRegs) {
      __m512 x[kRegs];
      __m512i pos[kRegs];
      for (int k = 0; k < kRegs; ++k) {
        const std::int64_t r0 = r + 16 * k;
        const std::int64_t live = std::min<std::int64_t>(16, std::max<std::int64_t>(0, nrows - r0));
        const __mmask16 on = static_cast<__mmask16>((1u << live) - 1);
        const float* p = first[f] + (live > 0 ? r0 * row_stride : 0);
        if (row_stride == 1) {
          x[k] = _mm512_maskz_loadu_ps(on, p);
        } else {
          x[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), on, lane, p, 4);
        }
        pos[k] = _mm512_setzero_si512();  // in units of 2^shift during the table steps
      }
      int s = steps - 1;
      for (; s >= shift; --s) {
        const __m512i off = _mm512_set1_epi32((1 << (s - shift)) - 1);
        const __m512i step = _mm512_set1_epi32(1 << (s - shift));
        for (int k = 0; k < kRegs; ++k) {
          const __m512 g = _mm512_permutex2var_ps(t0, _mm512_add_epi32(pos[k], off), t1);
          const __mmask16 below = _mm512_cmp_ps_mask(g, x[k], _CMP_LT_OQ);
          pos[k] = _mm512_mask_add_epi32(pos[k], below, pos[k], step);
        }
      }
      for (int k = 0; k < kRegs; ++k) pos[k] = _mm512_slli_epi32(pos[k], shift);
      for (; s >= 0; --s) {
        const __m512i step = _mm512_set1_epi32(1 << s);
        const __m512i off = _mm512_set1_epi32((1 << s) - 1);
        for (int k = 0; k < kRegs; ++k) {
          const __m512 g = _mm512_i32gather_ps(_mm512_add_epi32(pos[k], off), e, 4);
          const __mmask16 below = _mm512_cmp_ps_mask(g, x[k], _CMP_LT_OQ);
          pos[k] = _mm512_mask_add_epi32(pos[k], below, pos[k], step);
        }
      }
      for (int k = 0; k < kRegs; ++k) {
        const __mmask16 nan = _mm512_cmp_ps_mask(x[k], x[k], _CMP_UNORD_Q);
        const __m512i right = _mm512_xor_si512(_mm512_mask_mov_epi32(pos[k], nan, nan_code), bias);
        const __m512i left = _mm512_xor_si512(_mm512_maskz_mov_epi32(~nan, pos[k]), bias);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nan_right + r + 16 * k),
                            _mm512_cvtepi32_epi16(right));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nan_left + r + 16 * k),
                            _mm512_cvtepi32_epi16(left));
      }
    }
  }
}

#else

void QuantizeColumnsAvx512(const RankCodes&, int, const float* const*, std::int64_t,
                           std::int64_t, std::int16_t*) {}

#endif

#ifdef SAPWOOD_X86_SIMD

// ---- one row: QuickScorer over a tree's splits (RowMaskTrees) ----

namespace {

// The row's codes at 32 code indices (below 32 * NC), from NC registers of its codes.
template <int NC>
SAPWOOD_AVX512 inline __m512i Lookup(const __m512i* c, __m512i idx) {
  if constexpr (NC == 1) {
    return _mm512_permutexvar_epi16(idx, c[0]);
  } else if constexpr (NC == 2) {
    return _mm512_permutex2var_epi16(c[0], idx, c[1]);
  } else {
    const __m512i lo = _mm512_permutex2var_epi16(c[0], idx, c[1]);
    const __m512i hi = _mm512_permutex2var_epi16(c[2], idx, c[3]);
    return _mm512_mask_blend_epi16(_mm512_test_epi16_mask(idx, _mm512_set1_epi16(64)), lo, hi);
  }
}

// Per tree: one permute and one compare per 32 splits (the splits the row goes right at, as a
// mask register), then the leaf masks of those splits ANDed, 8 per masked AND; the row's leaf
// is the lowest bit left. No load waits on another, and trees overlap freely, where a walk's
// every level waits on the last (gathers of ~25-36 cycles each here).
// kOne: every tree adds to out[0] (one output), kept in a register: the same additions in the
// same order, without a store and reload per tree.
template <int NC, bool kOne>
SAPWOOD_AVX512 void RowMaskTrees_(const RowMaskTrees& rm, const BitvecTrees& bv,
                                  const std::uint16_t* codes, const std::int32_t* tree_output,
                                  int tree_begin, int tree_end, double* out) {
  double sum = kOne ? out[0] : 0.0;
  __m512i c[4];
  for (int k = 0; k < 4; ++k) {
    c[k] = k < NC ? _mm512_loadu_si512(codes + 32 * k) : _mm512_setzero_si512();
  }
  const __m512i ones = _mm512_set1_epi64(-1);
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t at = rm.begin[static_cast<std::size_t>(t)];
    const std::int32_t n = rm.splits[static_cast<std::size_t>(t)];
    __m512i a0 = ones, a1 = ones;
    for (std::int32_t g = 0; g < n; g += 32) {
      const __m512i idx = _mm512_loadu_si512(rm.column.data() + at + g);
      const __m512i rank = _mm512_loadu_si512(rm.rank.data() + at + g);
      const std::uint32_t right =
          _cvtmask32_u32(_mm512_cmpgt_epu16_mask(Lookup<NC>(c, idx), rank));
      const std::uint64_t* keep = rm.keep.data() + at + g;
      // Padding slots never go right (rank 0xFFFF) and keep every leaf.
      a0 = _mm512_mask_and_epi64(a0, static_cast<__mmask8>(right), a0, _mm512_loadu_si512(keep));
      a1 = _mm512_mask_and_epi64(a1, static_cast<__mmask8>(right >> 8), a1,
                                 _mm512_loadu_si512(keep + 8));
      a0 = _mm512_mask_and_epi64(a0, static_cast<__mmask8>(right >> 16), a0,
                                 _mm512_loadu_si512(keep + 16));
      a1 = _mm512_mask_and_epi64(a1, static_cast<__mmask8>(right >> 24), a1,
                                 _mm512_loadu_si512(keep + 24));
    }
    // The leaf reached keeps its bit (only splits whose left subtree holds it clear it, and the
    // row goes left at those), and every leaf before it is cleared.
    const std::uint64_t bits =
        static_cast<std::uint64_t>(_mm512_reduce_and_epi64(_mm512_and_si512(a0, a1)));
    const int leaf = __builtin_ctzll(bits);
    const double v =
        bv.value[static_cast<std::size_t>(bv.tree[static_cast<std::size_t>(t)].leaf_begin + leaf)];
    if constexpr (kOne) {
      sum += v;
    } else {
      out[tree_output[t]] += v;
    }
  }
  if constexpr (kOne) out[0] = sum;
}

template <int NC>
SAPWOOD_AVX512 void RowMaskOutputs(const RowMaskTrees& rm, const BitvecTrees& bv,
                                   const std::uint16_t* codes, int num_outputs,
                                   const std::int32_t* tree_output, int tree_begin, int tree_end,
                                   double* out) {
  if (num_outputs == 1) {
    RowMaskTrees_<NC, true>(rm, bv, codes, tree_output, tree_begin, tree_end, out);
  } else {
    RowMaskTrees_<NC, false>(rm, bv, codes, tree_output, tree_begin, tree_end, out);
  }
}

// RowMaskTrees_ on the byte slots: the row's codes as bytes in two registers (128 columns), one
// byte permute and one compare per 64 splits (a whole tree of up to 64 leaves), so per tree of
// 63 leaves: one permute, one compare and 8 masked ANDs instead of two of each and two 32-bit
// masks, and 640 bytes read instead of 768.
template <bool kOne>
SAPWOOD_AVX512VBMI void RowMask8Trees(const RowMaskTrees& rm, const BitvecTrees& bv,
                                      const std::uint16_t* codes,
                                      const std::int32_t* tree_output, int tree_begin,
                                      int tree_end, double* out) {
  double sum = kOne ? out[0] : 0.0;
  // Unsigned saturation: codes above 255 (NaN going right, 0xFFFF) become 255, above every
  // rank of a forest whose features have at most 255 thresholds (rank8 <= 254).
  __m512i b[2];
  for (int k = 0; k < 2; ++k) {
    const __m256i lo = _mm512_cvtusepi16_epi8(_mm512_loadu_si512(codes + 64 * k));
    const __m256i hi = _mm512_cvtusepi16_epi8(_mm512_loadu_si512(codes + 64 * k + 32));
    b[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  const __m512i ones = _mm512_set1_epi64(-1);
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t at = rm.begin8[static_cast<std::size_t>(t)];
    const std::int32_t n = rm.splits[static_cast<std::size_t>(t)];
    __m512i a0 = ones, a1 = ones;
    for (std::int32_t g = 0; g < n; g += 64) {
      const __m512i idx = _mm512_loadu_si512(rm.column8.data() + at + g);
      const __m512i rank = _mm512_loadu_si512(rm.rank8.data() + at + g);
      const std::uint64_t right = _cvtmask64_u64(
          _mm512_cmpgt_epu8_mask(_mm512_permutex2var_epi8(b[0], idx, b[1]), rank));
      const std::uint64_t* keep = rm.keep8.data() + at + g;
      // Padding slots never go right (rank 255) and keep every leaf; past 32 splits only when
      // the tree has them.
      const int groups = n - g > 32 ? 8 : 4;
      for (int q = 0; q < groups; q += 2) {
        a0 = _mm512_mask_and_epi64(a0, static_cast<__mmask8>(right >> (8 * q)), a0,
                                   _mm512_loadu_si512(keep + 8 * q));
        a1 = _mm512_mask_and_epi64(a1, static_cast<__mmask8>(right >> (8 * q + 8)), a1,
                                   _mm512_loadu_si512(keep + 8 * q + 8));
      }
    }
    const std::uint64_t bits =
        static_cast<std::uint64_t>(_mm512_reduce_and_epi64(_mm512_and_si512(a0, a1)));
    const double v = bv.value[static_cast<std::size_t>(
        rm.leaf_begin[static_cast<std::size_t>(t)] + __builtin_ctzll(bits))];
    if constexpr (kOne) {
      sum += v;
    } else {
      out[tree_output[t]] += v;
    }
  }
  if constexpr (kOne) out[0] = sum;
}

}  // namespace

SAPWOOD_AVX512VBMI void RowMask8Avx512(const RowMaskTrees& rm, const BitvecTrees& bv,
                                       const std::uint16_t* codes, int num_outputs,
                                       const std::int32_t* tree_output, int tree_begin,
                                       int tree_end, double* out) {
  if (num_outputs == 1) {
    RowMask8Trees<true>(rm, bv, codes, tree_output, tree_begin, tree_end, out);
  } else {
    RowMask8Trees<false>(rm, bv, codes, tree_output, tree_begin, tree_end, out);
  }
}

SAPWOOD_AVX512 void RowMaskAvx512(const RowMaskTrees& rm, const BitvecTrees& bv,
                                  const std::uint16_t* codes, int code_columns, int num_outputs,
                                  const std::int32_t* tree_output, int tree_begin, int tree_end,
                                  double* out) {
  if (code_columns <= 32) {
    RowMaskOutputs<1>(rm, bv, codes, num_outputs, tree_output, tree_begin, tree_end, out);
  } else if (code_columns <= 64) {
    RowMaskOutputs<2>(rm, bv, codes, num_outputs, tree_output, tree_begin, tree_end, out);
  } else {
    RowMaskOutputs<4>(rm, bv, codes, num_outputs, tree_output, tree_begin, tree_end, out);
  }
}

#else

void RowMask8Avx512(const RowMaskTrees&, const BitvecTrees&, const std::uint16_t*, int,
                    const std::int32_t*, int, int, double*) {}

void RowMaskAvx512(const RowMaskTrees&, const BitvecTrees&, const std::uint16_t*, int, int,
                   const std::int32_t*, int, int, double*) {}

void ScoreMaskAvx512(const BitvecTree&, const MaskSplit*, const double*, const void*, bool,
                     std::int64_t, double*, std::int64_t) {}

void Codes8Avx512(const std::int16_t*, int, std::uint8_t*) {}

void ScoreMaskPairAvx512(const BitvecTree&, const BitvecTree&, const MaskSplit*, const double*,
                         const void*, bool, std::int64_t, double*) {}

#endif

}  // namespace sapwood::predict
