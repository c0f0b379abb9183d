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

__attribute__((target("avx2"))) void WalkRowsAvx2(const std::uint32_t* nodes,
                                                  const double* value,
                                                  const std::uint16_t* codes, int w,
                                                  std::int64_t nrows, std::int64_t live,
                                                  std::int32_t root, int depth, double* out,
                                                  int K) {
  const int* nb = reinterpret_cast<const int*>(nodes);
  const int* cb = reinterpret_cast<const int*>(codes);
  const __m256i lane =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(w));
  const __m256i root_v = _mm256_set1_epi32(root);
  for (std::int64_t r = 0; r < nrows; r += 16) {  // 16 rows of one tree
    const __m256i oa = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(r * w)));
    const __m256i ob = _mm256_add_epi32(oa, _mm256_set1_epi32(8 * w));
    alignas(32) std::int32_t leaf[16];
    Descend2(nb, cb, root_v, root_v, oa, ob, depth, leaf);
    const std::int64_t n = std::min<std::int64_t>(16, live - r);
    double* o = out + r * K;
    for (std::int64_t j = 0; j < n; ++j) o[j * K] += value[leaf[j]];
  }
}

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

// kPrefix[mask][j]: the number of set bits of mask below bit j.
struct PrefixTable {
  alignas(32) std::int32_t v[256][8];
  PrefixTable() {
    for (int m = 0; m < 256; ++m) {
      int n = 0;
      for (int j = 0; j < 8; ++j) {
        v[m][j] = n;
        n += (m >> j) & 1;
      }
    }
  }
};
const PrefixTable kPrefix;

}  // namespace

// The root of each item's tree (see WalkItemsAvx2); kPerm: at most 16 trees, in lo and hi.
template <bool kPerm>
__attribute__((target("avx2"))) inline __m256i RootOf(__m256i item, int shift,
                                                      const std::int32_t* roots, __m256i lo,
                                                      __m256i hi) {
  const __m256i t = _mm256_srl_epi32(item, _mm_cvtsi32_si128(shift));
  if constexpr (kPerm) {
    const __m256i tt = _mm256_min_epi32(t, _mm256_set1_epi32(15));
    return _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(lo, tt),
                              _mm256_permutevar8x32_epi32(hi, tt),  // uses the low 3 bits
                              _mm256_cmpgt_epi32(tt, _mm256_set1_epi32(7)));
  } else {
    return _mm256_i32gather_epi32(roots, t, 4);
  }
}

// G registers of walks in flight (each level waits on two dependent gathers; the others fill
// that wait). kPerm: at most 16 trees, whose roots are picked with permutes, not a gather.
template <int G, bool kPerm>
__attribute__((target("avx2,popcnt"))) void WalkItems(const std::uint32_t* nodes,
                                                      const std::int32_t* roots,
                                                      const std::uint16_t* codes, int w,
                                                      int shift, int total,
                                                      std::int32_t* done) {
  const int* nb = reinterpret_cast<const int*>(nodes);
  const int* cb = reinterpret_cast<const int*>(codes);
  const __m256i roots_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots));
  const __m256i roots_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots + 8));
  const __m256i rmask = _mm256_set1_epi32((1 << shift) - 1);
  const __m256i wv = _mm256_set1_epi32(w);
  const __m256i totalv = _mm256_set1_epi32(total);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i fourteen = _mm256_set1_epi32(14);
  const __m256i m16 = _mm256_set1_epi32(0xFFFF);
  const __m256i m14 = _mm256_set1_epi32(0x3FFF);
  const __m256i m8 = _mm256_set1_epi32(0xFF);
  __m256i c[G], idx[G], off[G];
  int next = 0;
  for (int g = 0; g < G; ++g) {
    c[g] = _mm256_min_epi32(_mm256_add_epi32(_mm256_set1_epi32(next), lane), totalv);
    next = std::min(next + 8, total);
    idx[g] = RootOf<kPerm>(c[g], shift, roots, roots_lo, roots_hi);
    off[g] = _mm256_mullo_epi32(_mm256_and_si256(c[g], rmask), wv);
  }
  int finished = 0;
  alignas(32) std::int32_t slot[8], leaf_at[8];
  while (finished < total) {
    for (int g = 0; g < G; ++g) {
      const __m256i n = _mm256_i32gather_epi32(nb, idx[g], 4);
      const __m256i col = _mm256_and_si256(_mm256_srli_epi32(n, 16), m8);
      const __m256i rank = _mm256_and_si256(n, m14);
      const __m256i code =
          _mm256_and_si256(_mm256_i32gather_epi32(cb, _mm256_add_epi32(off[g], col), 2), m16);
      const __m256i right = _mm256_cmpgt_epi32(code, rank);  // -1: right
      const __m256i child = _mm256_sub_epi32(_mm256_add_epi32(idx[g], _mm256_srli_epi32(n, 24)),
                                             right);
      const __m256i flag =
          _mm256_and_si256(_mm256_srlv_epi32(n, _mm256_sub_epi32(fourteen, right)), one);
      const __m256i leaf = _mm256_cmpeq_epi32(flag, one);
      const int mask = _mm256_movemask_ps(_mm256_castsi256_ps(leaf));
      if (mask == 0) {
        idx[g] = child;
        continue;
      }
      // Record every lane's leaf, the walks still under way into the scratch slot.
      _mm256_store_si256(reinterpret_cast<__m256i*>(slot), _mm256_blendv_epi8(totalv, c[g], leaf));
      _mm256_store_si256(reinterpret_cast<__m256i*>(leaf_at), child);
      for (int j = 0; j < 8; ++j) done[slot[j]] = leaf_at[j];
      const __m256i real = _mm256_andnot_si256(_mm256_cmpeq_epi32(c[g], totalv), leaf);
      finished += __builtin_popcount(
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(real))));
      // Refill the finished lanes with the next items, in lane order.
      const __m256i pref = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPrefix.v[mask]));
      const __m256i fresh = _mm256_min_epi32(_mm256_add_epi32(_mm256_set1_epi32(next), pref),
                                             totalv);
      next = std::min(next + __builtin_popcount(static_cast<unsigned>(mask)), total);
      const __m256i root = RootOf<kPerm>(fresh, shift, roots, roots_lo, roots_hi);
      c[g] = _mm256_blendv_epi8(c[g], fresh, leaf);
      idx[g] = _mm256_blendv_epi8(child, root, leaf);
      off[g] = _mm256_blendv_epi8(
          off[g], _mm256_mullo_epi32(_mm256_and_si256(fresh, rmask), wv), leaf);
    }
  }
}

void WalkItemsAvx2(const std::uint32_t* nodes, const std::int32_t* roots,
                   const std::uint16_t* codes, int w, int shift, int total, std::int32_t* done) {
  if ((total >> shift) <= 16) {
    WalkItems<4, true>(nodes, roots, codes, w, shift, total, done);
  } else {
    WalkItems<4, false>(nodes, roots, codes, w, shift, total, done);
  }
}

#else

void WalkItemsAvx2(const std::uint32_t*, const std::int32_t*, const std::uint16_t*, int, int,
                   int, std::int32_t*) {}
void WalkRowsAvx2(const std::uint32_t*, const double*, const std::uint16_t*, int, std::int64_t,
                  std::int64_t, std::int32_t, int, double*, int) {}
void WalkTreesAvx2(const std::uint32_t*, const double*, const std::uint16_t*,
                   const std::int32_t*, const std::int32_t*, int, int, int, double*) {}

#endif

}  // namespace sapwood::simd
