#include "sapwood/bin_index.hpp"

#if SAPWOOD_BIN_INDEX_AVX2
#include <immintrin.h>
#endif

namespace sapwood {

#if SAPWOOD_BIN_INDEX_AVX2
// Eight lookups at a time: keys, cells and the three compares in AVX2 lanes, the table and
// edges read with gathers. Lanes whose cell is wide (rare) are redone by the scalar Lookup.
__attribute__((target("avx2"))) void BinIndex::LookupBlockAvx2(const double* x, std::int64_t n,
                                                              std::uint32_t* bins) const {
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i gap_lo = _mm256_set1_epi32(static_cast<int>(gap_lo_));
  const __m256i gap_hi = _mm256_set1_epi32(static_cast<int>(gap_hi_));
  const __m256i lo = _mm256_set1_epi32(static_cast<int>(lo_));
  const __m256i last = _mm256_set1_epi32(static_cast<int>(last_));
  const __m256i wide = _mm256_set1_epi32(static_cast<int>(kWide));
  const __m128i shift = _mm_cvtsi32_si128(shift_);
  const int* table = reinterpret_cast<const int*>(start_.data());
  const float* e = padded_.data();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 f0 = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i));
    const __m128 f1 = _mm256_cvtpd_ps(_mm256_loadu_pd(x + i + 4));
    const __m256 f = _mm256_add_ps(_mm256_set_m128(f1, f0), _mm256_setzero_ps());  // -0 -> +0
    const __m256i u = _mm256_castps_si256(f);
    __m256i key = _mm256_xor_si256(u, _mm256_or_si256(_mm256_srai_epi32(u, 31), sign));
    const __m256i t = _mm256_min_epu32(_mm256_max_epu32(key, gap_lo), gap_hi);
    key = _mm256_sub_epi32(key, _mm256_sub_epi32(t, gap_lo));
    const __m256i below = _mm256_cmpeq_epi32(_mm256_max_epu32(key, lo), lo);  // key <= lo
    __m256i c = _mm256_srl_epi32(_mm256_sub_epi32(key, lo), shift);
    c = _mm256_andnot_si256(below, _mm256_min_epu32(c, last));
    const __m256i st = _mm256_i32gather_epi32(table, c, 4);
    const __m256i a = _mm256_andnot_si256(wide, st);
    __m256i bin = a;
    for (int j = 0; j < kFixed; ++j) {
      const __m256 ej = _mm256_i32gather_ps(e + j, a, 4);
      bin = _mm256_sub_epi32(bin, _mm256_castps_si256(_mm256_cmp_ps(ej, f, _CMP_LT_OQ)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bins + i), bin);
    const int wide_lanes = _mm256_movemask_ps(_mm256_castsi256_ps(st));
    if (__builtin_expect(wide_lanes != 0, 0)) {
      for (int l = 0; l < 8; ++l) {
        if (wide_lanes & (1 << l)) {
          bins[i + l] = static_cast<std::uint32_t>(Lookup(static_cast<float>(x[i + l])));
        }
      }
    }
  }
  for (; i < n; ++i) bins[i] = static_cast<std::uint32_t>(Lookup(static_cast<float>(x[i])));
}
#endif

void BinIndex::LookupBlock(const double* x, std::int64_t n, std::uint32_t* bins) const {
#if SAPWOOD_BIN_INDEX_AVX2
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2 && k_ > 0) return LookupBlockAvx2(x, n, bins);
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    bins[i] = static_cast<std::uint32_t>(Lookup(static_cast<float>(x[i])));
  }
}

}  // namespace sapwood
