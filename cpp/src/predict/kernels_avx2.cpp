// The AVX2 kernels of the rank-coded predictor (kernels.hpp), compiled with a target attribute
// and chosen at run time (dispatch.cpp): the bit-vector batch kernel (BitvecRecord,
// layout.hpp), the code searches and the single-row walk.
//
// The single-row walk runs on the 32-bit node layout (Node32): 8 walks (trees) per 256-bit
// register, one gather for the nodes and one for the codes per level, every lane advanced
// branch-free; a lane that sits on a leaf stays there, and a walk stops as soon as all its
// lanes do. Gathers cost ~9 cycles each here, which is why batches do not walk this way.
#include "kernels.hpp"

#include <algorithm>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_X86_SIMD 1
#include <immintrin.h>
#endif

namespace sapwood::predict {

bool CpuHasAvx2() {
#ifdef SAPWOOD_X86_SIMD
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
#else
  return false;
#endif
}

#ifdef SAPWOOD_X86_SIMD

namespace {

// One level for one register of walks: idx (node indices) and off (code index of each lane's
// row) in; idx moves to the chosen child. n: the nodes at idx, already gathered.
__attribute__((target("avx2"))) inline __m256i Step(__m256i idx, __m256i n, __m256i off,
                                                    const int* codes) {
  const __m256i m16 = _mm256_set1_epi32(0xFFFF);
  const __m256i col = _mm256_and_si256(_mm256_srli_epi32(n, 16), _mm256_set1_epi32(0xFF));
  const __m256i rank = _mm256_and_si256(n, m16);
  // Codes are uint16: read 32 bits at code index * 2 bytes and keep the low half.
  const __m256i c = _mm256_and_si256(
      _mm256_i32gather_epi32(codes, _mm256_add_epi32(off, col), 2), m16);
  const __m256i right = _mm256_cmpgt_epi32(c, rank);  // -1 when going right
  return _mm256_sub_epi32(_mm256_add_epi32(idx, _mm256_srli_epi32(n, 24)), right);
}

__attribute__((target("avx2"))) inline bool AllLeaves(__m256i n) {
  const __m256i leaf = _mm256_cmpeq_epi32(_mm256_srli_epi32(n, 24), _mm256_setzero_si256());
  return _mm256_movemask_epi8(leaf) == -1;
}

// Walks NR registers (8 * NR lanes) of node indices down to their leaves, at most `depth`
// levels, stopping early once every lane is on a leaf; the leaf indices land in leaf[]. off:
// the code index of each lane's row. Several registers are in flight because each level's two
// gathers per register wait on the previous level: the others' work fills the wait. Measured
// here (Zen 4, shared, one row of the LightGBM benchmark model's 300 trees of 63 leaves,
// forest.predict median): 4 registers (32 trees) 5.2-5.3 us against 5.9-7.1 us for 2.
template <int NR>
__attribute__((target("avx2"))) inline void Descend(const int* nodes, const int* codes,
                                                   __m256i* idx, __m256i off, int depth,
                                                   std::int32_t* leaf) {
  for (int d = 0; d < depth; ++d) {
    __m256i n[NR];
    __m256i any = _mm256_setzero_si256();
    for (int k = 0; k < NR; ++k) {
      n[k] = _mm256_i32gather_epi32(nodes, idx[k], 4);
      any = _mm256_or_si256(any, n[k]);
    }
    if (AllLeaves(any)) break;
    for (int k = 0; k < NR; ++k) idx[k] = Step(idx[k], n[k], off, codes);
  }
  for (int k = 0; k < NR; ++k) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(leaf + 8 * k), idx[k]);
  }
}

}  // namespace

__attribute__((target("avx2"))) void WalkTreesAvx2(const std::uint32_t* nodes,
                                                   const double* value,
                                                   const std::uint16_t* codes,
                                                   const std::int32_t* roots,
                                                   const std::int32_t* tree_output,
                                                   int tree_begin, int tree_end, int max_depth,
                                                   double* out) {
  const int* nb = reinterpret_cast<const int*>(nodes);
  const int* cb = reinterpret_cast<const int*>(codes);
  const __m256i off = _mm256_setzero_si256();
  for (int t = tree_begin; t < tree_end; t += kWalkTrees) {  // kWalkTrees trees of one row
    constexpr int NR = kWalkTrees / 8;
    alignas(32) std::int32_t leaf[kWalkTrees];
    __m256i idx[NR];
    for (int k = 0; k < NR; ++k) {
      idx[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots + t + 8 * k));
    }
    Descend<NR>(nb, cb, idx, off, max_depth, leaf);
    const int n = std::min(kWalkTrees, tree_end - t);
    for (int j = 0; j < n; ++j) out[tree_output[t + j]] += value[leaf[j]];
  }
}

namespace {

// NV registers of 16 rows (16 * NV rows per pass) through a tree of at most W words (words
// past the tree's have no records and keep all their bits, which changes nothing: the
// rightmost leaf keeps its bit, and it comes first). Per record and register: one compare
// (with the codes straight from memory), one OR and one AND.
template <int W, int NV>
__attribute__((target("avx2"))) void BitvecPasses(const BitvecTree& tree,
                                                  const BitvecRecord* rec,
                                                  const double* leaf_value,
                                                  const std::int16_t* codes, std::int64_t nrows,
                                                  double* out, std::int64_t out_stride) {
  constexpr int G = (W + 3) / 4;  // 64-leaf groups
  // Where each row's 64 leaf bits of a group land after the interleave below (per 128-bit
  // lane).
  static constexpr int kRow[16] = {0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15};
  const __m256i ones = _mm256_set1_epi32(-1);
  const __m256i zero = _mm256_setzero_si256();
  for (std::int64_t r = 0; r < nrows; r += 16 * NV) {
    __m256i s[NV][4 * G];
    for (int v = 0; v < NV; ++v) {
      for (int w = 0; w < 4 * G; ++w) s[v][w] = w < W ? ones : zero;
    }
    const std::int16_t* c = codes + r;
    std::int32_t i = tree.rec_begin;
    for (int w = 0; w < W; ++w) {
      const std::int32_t e = w < tree.words ? tree.word_end[w] : i;
      for (; i < e; ++i) {
        const BitvecRecord& q = rec[i];
        const __m256i rank = _mm256_set1_epi32(static_cast<int>(q.rank));
        const __m256i keep = _mm256_set1_epi32(static_cast<int>(q.keep));
        const std::int16_t* p = c + q.offset;
        for (int v = 0; v < NV; ++v) {
          const __m256i code = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16 * v));
          // -1 where the row goes left (code <= rank): then the word keeps all its bits.
          const __m256i left = _mm256_cmpgt_epi16(rank, code);
          s[v][w] = _mm256_and_si256(s[v][w], _mm256_or_si256(left, keep));
        }
      }
    }
    const double* lv = leaf_value + tree.leaf_begin;
    for (int v = 0; v < NV; ++v) {
      const std::int64_t r0 = r + 16 * v;
      if (r0 >= nrows) break;
      // Each row's four words of a group into one 64-bit word (leaf 64 g + j at bit j).
      alignas(32) std::uint64_t bits[G][16];
      for (int g = 0; g < G; ++g) {
        const __m256i* q = s[v] + 4 * g;
        const __m256i a = _mm256_unpacklo_epi16(q[0], q[1]), b = _mm256_unpackhi_epi16(q[0], q[1]);
        const __m256i cc = _mm256_unpacklo_epi16(q[2], q[3]);
        const __m256i d = _mm256_unpackhi_epi16(q[2], q[3]);
        __m256i* o = reinterpret_cast<__m256i*>(bits[g]);
        _mm256_store_si256(o, _mm256_unpacklo_epi32(a, cc));
        _mm256_store_si256(o + 1, _mm256_unpackhi_epi32(a, cc));
        _mm256_store_si256(o + 2, _mm256_unpacklo_epi32(b, d));
        _mm256_store_si256(o + 3, _mm256_unpackhi_epi32(b, d));
      }
      double* o = out + r0 * out_stride;
      const std::int64_t live = std::min<std::int64_t>(16, nrows - r0);
      for (int j = 0; j < 16; ++j) {
        if (kRow[j] >= live) continue;
        // The first group with a bit left (the rightmost leaf's group always has one).
        int leaf = 0;
        if constexpr (G == 1) {
          leaf = __builtin_ctzll(bits[0][j]);
        } else {
          // Branch-free (the group varies from row to row): the last group first, each earlier
          // one with a bit left replacing it.
          for (int g = G - 1; g >= 0; --g) {
            const std::uint64_t b = bits[g][j];
            const int at = 64 * g + __builtin_ctzll(b | (std::uint64_t{1} << 63));
            leaf = b != 0 ? at : leaf;
          }
        }
        o[kRow[j] * out_stride] += lv[leaf];
      }
    }
  }
}

template <int W>
__attribute__((target("avx2"))) void BitvecRows(const BitvecTree& tree, const BitvecRecord* rec,
                                                const double* leaf_value,
                                                const std::int16_t* codes, std::int64_t nrows,
                                                double* out, std::int64_t out_stride) {
  // 64 rows per pass (4 registers share each record's loads), then the rest 16 at a time, so a
  // call of 16 rows does a quarter of the work of a padded pass.
  const std::int64_t whole = nrows / 64 * 64;
  if (whole > 0) BitvecPasses<W, 4>(tree, rec, leaf_value, codes, whole, out, out_stride);
  if (whole < nrows) {
    BitvecPasses<W, 1>(tree, rec, leaf_value, codes + whole, nrows - whole,
                       out + whole * out_stride, out_stride);
  }
}

}  // namespace

__attribute__((target("avx2"))) void ScoreBitvecAvx2(const BitvecTree& tree,
                                                     const BitvecRecord* rec,
                                                     const double* leaf_value,
                                                     const std::int16_t* codes,
                                                     std::int64_t nrows, double* out,
                                                     std::int64_t out_stride) {
  switch (tree.words) {
    case 1: return BitvecRows<1>(tree, rec, leaf_value, codes, nrows, out, out_stride);
    case 2: return BitvecRows<2>(tree, rec, leaf_value, codes, nrows, out, out_stride);
    case 3: return BitvecRows<3>(tree, rec, leaf_value, codes, nrows, out, out_stride);
    case 4: return BitvecRows<4>(tree, rec, leaf_value, codes, nrows, out, out_stride);
    default: break;
  }
  if (tree.words <= 8) return BitvecRows<8>(tree, rec, leaf_value, codes, nrows, out, out_stride);
  return BitvecRows<kBitvecMaxWords>(tree, rec, leaf_value, codes, nrows, out, out_stride);
}

#else

void ScoreBitvecAvx2(const BitvecTree&, const BitvecRecord*, const double*, const std::int16_t*,
                     std::int64_t, double*, std::int64_t) {}

void WalkTreesAvx2(const std::uint32_t*, const double*, const std::uint16_t*,
                   const std::int32_t*, const std::int32_t*, int, int, int, double*) {}

#endif

#ifdef SAPWOOD_X86_SIMD

// Rank codes of a block by column (see BitvecRecord): 8 rows of one feature per register, 4
// registers at once so that the gathers' latencies overlap, each a branch-free binary search
// over the feature's thresholds padded with +inf (rc.search). Measured here against a lookup
// per value through the BinIndex tables (the single-row path's codes), one thread, ns per row
// of codes with one tree: 179-242 against 306-330 (the tables' cache misses and branches).
__attribute__((target("avx2"))) void QuantizeColumnsAvx2(const RankCodes& rc, int num_features,
                                                         const float* const* first,
                                                         std::int64_t row_stride,
                                                         std::int64_t nrows, std::int16_t* codes) {
  constexpr int kRegs = 4;
  const std::int64_t F = num_features;
  const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(static_cast<int>(row_stride)));
  const __m256i bias = _mm256_set1_epi32(0x8000);
  const __m256i nan_code = _mm256_set1_epi32(0xFFFF);
  // nrows rounded up to 32: the block's rows past nrows are read from the caller's rows only
  // where they exist (gathers masked), and their codes are never used.
  for (std::int64_t f = 0; f < F; ++f) {
    const float* e = rc.search.data() + rc.search_begin[static_cast<std::size_t>(f)];
    const int steps = rc.search_steps[static_cast<std::size_t>(f)];
    std::int16_t* nan_right = codes + f * kBitvecRows;
    std::int16_t* nan_left = codes + (F + f) * kBitvecRows;
    for (std::int64_t r = 0; r < nrows; r += 8 * kRegs) {
      __m256 x[kRegs];
      __m256i pos[kRegs];
      for (int k = 0; k < kRegs; ++k) {
        const std::int64_t r0 = r + 8 * k;
        const std::int64_t live = std::min<std::int64_t>(8, std::max<std::int64_t>(0, nrows - r0));
        const __m256i on = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(live)),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const float* p = first[f] + (live > 0 ? r0 * row_stride : 0);
        if (row_stride == 1) {
          x[k] = live == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, on);
        } else {
          x[k] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, lane,
                                          _mm256_castsi256_ps(on), 4);
        }
        pos[k] = _mm256_setzero_si256();
      }
      for (int s = steps - 1; s >= 0; --s) {
        const __m256i step = _mm256_set1_epi32(1 << s);
        const __m256i off = _mm256_set1_epi32((1 << s) - 1);
        for (int k = 0; k < kRegs; ++k) {
          const __m256 g = _mm256_i32gather_ps(e, _mm256_add_epi32(pos[k], off), 4);
          const __m256i below = _mm256_castps_si256(_mm256_cmp_ps(g, x[k], _CMP_LT_OQ));
          pos[k] = _mm256_add_epi32(pos[k], _mm256_and_si256(below, step));
        }
      }
      for (int k = 0; k < kRegs; k += 2) {
        __m256i right[2], left[2];
        for (int h = 0; h < 2; ++h) {
          const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x[k + h], x[k + h], _CMP_UNORD_Q));
          right[h] = _mm256_xor_si256(_mm256_blendv_epi8(pos[k + h], nan_code, nan), bias);
          left[h] = _mm256_xor_si256(_mm256_andnot_si256(nan, pos[k + h]), bias);
        }
        // 32-bit lanes (all below 0x10000) to 16 bits, in order.
        const __m256i pr = _mm256_permute4x64_epi64(_mm256_packus_epi32(right[0], right[1]), 0xD8);
        const __m256i pl = _mm256_permute4x64_epi64(_mm256_packus_epi32(left[0], left[1]), 0xD8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nan_right + r + 8 * k), pr);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nan_left + r + 8 * k), pl);
      }
    }
  }
}

// One row: 8 features per register (each lane its own feature's thresholds, searched for the
// steps its size needs), the registers of 32 features at once. Against a BinIndex lookup per
// feature, whose tables (up to 64 KiB a feature) left the cache between calls: measured here,
// one single-row call with no trees (the codes and the call) took 1.3-2.8 against 2.8-3.7 us,
// and with the benchmark models' 300 trees 8.5-11.8 against 12.2-12.4 us.
__attribute__((target("avx2"))) void RowCodesAvx2(const RankCodes& rc, int num_features,
                                                  const float* values, std::uint16_t* codes) {
  constexpr int kRegs = 4;
  const int F = num_features;
  const float* e = rc.search.data();
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  for (int f0 = 0; f0 < F; f0 += 8 * kRegs) {
    __m256 x[kRegs];
    __m256i base[kRegs], steps[kRegs], pos[kRegs];
    for (int k = 0; k < kRegs; ++k) {
      const int f = f0 + 8 * k;
      const int live = std::min(8, std::max(0, F - f));
      const __m256i on = _mm256_cmpgt_epi32(_mm256_set1_epi32(live), iota);
      const int at = live > 0 ? f : 0;
      x[k] = _mm256_maskload_ps(values + at, on);
      base[k] = _mm256_maskload_epi32(rc.search_begin.data() + at, on);
      steps[k] = _mm256_maskload_epi32(rc.search_steps.data() + at, on);  // 0 past F
      pos[k] = _mm256_setzero_si256();
    }
    for (int s = rc.max_steps - 1; s >= 0; --s) {
      const __m256i step = _mm256_set1_epi32(1 << s);
      const __m256i off = _mm256_set1_epi32((1 << s) - 1);
      const __m256i sv = _mm256_set1_epi32(s);
      for (int k = 0; k < kRegs; ++k) {
        // Lanes whose feature needs fewer steps read nothing (+inf: not below the value).
        const __m256i act = _mm256_cmpgt_epi32(steps[k], sv);
        const __m256i idx = _mm256_add_epi32(_mm256_add_epi32(base[k], pos[k]), off);
        const __m256 g = _mm256_mask_i32gather_ps(inf, e, idx, _mm256_castsi256_ps(act), 4);
        const __m256i below = _mm256_castps_si256(_mm256_cmp_ps(g, x[k], _CMP_LT_OQ));
        pos[k] = _mm256_add_epi32(pos[k], _mm256_and_si256(below, step));
      }
    }
    for (int k = 0; k < kRegs; ++k) {
      const int f = f0 + 8 * k;
      if (f >= F) break;
      const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x[k], x[k], _CMP_UNORD_Q));
      alignas(32) std::int32_t right[8], left[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(right),
                         _mm256_blendv_epi8(pos[k], _mm256_set1_epi32(0xFFFF), nan));
      _mm256_store_si256(reinterpret_cast<__m256i*>(left), _mm256_andnot_si256(nan, pos[k]));
      const int live = std::min(8, F - f);
      for (int j = 0; j < live; ++j) {
        codes[f + j] = static_cast<std::uint16_t>(right[j]);
        codes[F + f + j] = static_cast<std::uint16_t>(left[j]);
      }
    }
  }
}

#else

void QuantizeColumnsAvx2(const RankCodes&, int, const float* const*, std::int64_t, std::int64_t,
                         std::int16_t*) {}

void RowCodesAvx2(const RankCodes&, int, const float*, std::uint16_t*) {}

#endif

}  // namespace sapwood::predict
