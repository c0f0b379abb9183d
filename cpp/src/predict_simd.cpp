#include "predict_simd.hpp"

#include <algorithm>
#include <atomic>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_X86_SIMD 1
#include <immintrin.h>
#endif

namespace sapwood::simd {

namespace {

std::atomic<bool> g_simd_on{true};

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

}  // namespace

bool Avx2Enabled() { return g_simd_on.load(std::memory_order_relaxed) && CpuHasAvx2(); }

void SetSimdEnabled(bool on) { g_simd_on.store(on, std::memory_order_relaxed); }

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

// Walks two registers (16 lanes) of node indices down to their leaves, at most `depth` levels,
// stopping early once every lane is on a leaf; the leaf indices land in leaf[0..15]. oa / ob:
// the code index of each lane's row. Two registers are in flight because each level's two
// gathers per register wait on the previous level: the second register's work fills the wait.
__attribute__((target("avx2"))) inline void Descend2(const int* nodes, const int* codes,
                                                    __m256i a, __m256i b, __m256i oa,
                                                    __m256i ob, int depth, std::int32_t* leaf) {
  for (int d = 0; d < depth; ++d) {
    const __m256i na = _mm256_i32gather_epi32(nodes, a, 4);
    const __m256i nbv = _mm256_i32gather_epi32(nodes, b, 4);
    if (AllLeaves(_mm256_or_si256(na, nbv))) break;
    a = Step(a, na, oa, codes);
    b = Step(b, nbv, ob, codes);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(leaf), a);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(leaf + 8), b);
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
  for (int t = tree_begin; t < tree_end; t += 16) {  // 16 trees of one row
    alignas(32) std::int32_t leaf[16];
    Descend2(nb, cb, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots + t)),
             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots + t + 8)), off, off,
             max_depth, leaf);
    const int n = std::min(16, tree_end - t);
    for (int j = 0; j < n; ++j) out[tree_output[t + j]] += value[leaf[j]];
  }
}

namespace {

// NV registers of 16 rows (16 * NV rows per pass) through a tree of W words. Per record and
// register: one compare (with the codes straight from memory), one OR and one AND.
template <int W, int NV>
__attribute__((target("avx2"))) void BitvecPasses(const BitvecTree& tree,
                                                  const BitvecRecord* rec,
                                                  const double* leaf_value,
                                                  const std::int16_t* codes, std::int64_t nrows,
                                                  double* out, std::int64_t out_stride) {
  // Where each row's 64 leaf bits land after the interleave below (per 128-bit lane).
  static constexpr int kRow[16] = {0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15};
  const __m256i ones = _mm256_set1_epi32(-1);
  for (std::int64_t r = 0; r < nrows; r += 16 * NV) {
    __m256i s[NV][W];
    for (int v = 0; v < NV; ++v) {
      for (int w = 0; w < W; ++w) s[v][w] = ones;
    }
    const std::int16_t* c = codes + r;
    std::int32_t i = tree.rec_begin;
    for (int w = 0; w < W; ++w) {
      const std::int32_t e = tree.word_end[w];
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
    for (int v = 0; v < NV; ++v) {
      const std::int64_t r0 = r + 16 * v;
      if (r0 >= nrows) break;
      const __m256i zero = _mm256_setzero_si256();
      const __m256i w0 = s[v][0];
      const __m256i w1 = W > 1 ? s[v][W > 1 ? 1 : 0] : zero;
      const __m256i w2 = W > 2 ? s[v][W > 2 ? 2 : 0] : zero;
      const __m256i w3 = W > 3 ? s[v][W > 3 ? 3 : 0] : zero;
      // Each row's four words into one 64-bit word (leaf j at bit j).
      const __m256i a = _mm256_unpacklo_epi16(w0, w1), b = _mm256_unpackhi_epi16(w0, w1);
      const __m256i cc = _mm256_unpacklo_epi16(w2, w3), d = _mm256_unpackhi_epi16(w2, w3);
      alignas(32) std::uint64_t bits[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits), _mm256_unpacklo_epi32(a, cc));
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 4), _mm256_unpackhi_epi32(a, cc));
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 8), _mm256_unpacklo_epi32(b, d));
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 12), _mm256_unpackhi_epi32(b, d));
      const double* lv = leaf_value + tree.leaf_begin;
      double* o = out + r0 * out_stride;
      // The rightmost leaf is in no left subtree, so every row keeps a bit.
      if (nrows - r0 >= 16) {
        for (int j = 0; j < 16; ++j) o[kRow[j] * out_stride] += lv[__builtin_ctzll(bits[j])];
      } else {
        for (int j = 0; j < 16; ++j) {
          if (kRow[j] < nrows - r0) o[kRow[j] * out_stride] += lv[__builtin_ctzll(bits[j])];
        }
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
    default: return BitvecRows<4>(tree, rec, leaf_value, codes, nrows, out, out_stride);
  }
}

#else

void ScoreBitvecAvx2(const BitvecTree&, const BitvecRecord*, const double*, const std::int16_t*,
                     std::int64_t, double*, std::int64_t) {}

void WalkTreesAvx2(const std::uint32_t*, const double*, const std::uint16_t*,
                   const std::int32_t*, const std::int32_t*, int, int, int, double*) {}

#endif

}  // namespace sapwood::simd
