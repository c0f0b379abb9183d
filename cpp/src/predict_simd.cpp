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

#else

void WalkTreesAvx2(const std::uint32_t*, const double*, const std::uint16_t*,
                   const std::int32_t*, const std::int32_t*, int, int, int, double*) {}

#endif

}  // namespace sapwood::simd
