// The oblivious-forest predictor (oblivious.hpp). Hand-written SIMD because it is the point of
// the mode: a symmetric tree needs no node walk (no load that waits on the last), so a level
// of 16 rows is one compare and an add, and a tree one gather of its leaf values, against a
// walk or bit-vector kernel's per-split work. The AVX2 and AVX-512 paths are compiled with
// target attributes and chosen at run time, as kernels_avx2.cpp / kernels_avx512.cpp are.
#include "oblivious.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.hpp"
#include "sapwood/threading.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SAPWOOD_OBL_X86 1
#include <immintrin.h>
#endif

#define SAPWOOD_OBL_AVX2 __attribute__((target("avx2,fma")))
#define SAPWOOD_OBL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace sapwood::predict {

void BuildObliviousTrees(const std::vector<Tree>& trees, int num_features, ObliviousTrees& ob) {
  ob = ObliviousTrees{};
  for (const Tree& t : trees) {
    if (t.NumNodes() == 0) return;
    // Level by level from the root, children left then right: the last level's nodes come in
    // leaf-index order (the path's bits, level 0 first, 1 = right).
    std::vector<std::int32_t> cur{0}, next;
    const std::int32_t tb = static_cast<std::int32_t>(ob.feature.size());
    int depth = 0;
    while (!t.IsLeaf(cur[0])) {
      const std::int32_t n0 = cur[0];
      if (depth >= kObliviousMaxDepth) return;
      const int f = t.feature[static_cast<std::size_t>(n0)];
      if (f < 0 || f >= num_features) return;
      next.clear();
      for (std::int32_t n : cur) {
        const std::size_t u = static_cast<std::size_t>(n);
        if (t.IsLeaf(n) || t.feature[u] != f ||
            std::memcmp(&t.threshold[u], &t.threshold[static_cast<std::size_t>(n0)],
                        sizeof(float)) != 0 ||
            t.default_left[u] != t.default_left[static_cast<std::size_t>(n0)] ||
            (!t.split_type.empty() && t.split_type[u] != 0)) {
          return;
        }
        next.push_back(t.left[u]);
        next.push_back(t.right[u]);
      }
      ob.feature.push_back(f);
      ob.threshold.push_back(t.threshold[static_cast<std::size_t>(n0)]);
      ob.default_left.push_back(t.default_left[static_cast<std::size_t>(n0)]);
      cur.swap(next);
      ++depth;
    }
    ob.level_begin.push_back(tb);
    ob.depth.push_back(depth);
    ob.leaf_begin.push_back(static_cast<std::int32_t>(ob.value.size()));
    for (std::int32_t n : cur) {
      if (!t.IsLeaf(n)) return;
      ob.value.push_back(t.value[static_cast<std::size_t>(n)]);
    }
  }
  ob.ok = !trees.empty();
  if (!ob.ok) ob = ObliviousTrees{};
}

namespace {

enum class Isa { kPortable, kAvx2, kAvx512 };

Isa ChooseIsa(int cap) {
  if (cap >= 2 && CpuHasAvx2() && CpuHasAvx512()) return Isa::kAvx512;
  if (cap >= 1 && CpuHasAvx2()) return Isa::kAvx2;
  return Isa::kPortable;
}

constexpr std::int64_t kBlock = 128;  // rows per block (a multiple of 16)

// The portable path, and few rows on any CPU: a row at a time, the level bits branch-free.
void ScorePortable(const ObliviousTrees& ob, const std::int32_t* tree_output, int K,
                   const float* cols, std::int64_t nr, int tb, int te, double* acc) {
  for (std::int64_t r = 0; r < nr; ++r) {
    for (int t = tb; t < te; ++t) {
      const std::size_t u = static_cast<std::size_t>(t);
      const int lb = ob.level_begin[u], depth = ob.depth[u];
      std::uint32_t idx = 0;
      for (int l = 0; l < depth; ++l) {
        const float v = cols[static_cast<std::int64_t>(ob.feature[static_cast<std::size_t>(lb + l)]) * kBlock + r];
        const float thr = ob.threshold[static_cast<std::size_t>(lb + l)];
        // NaN: both compares false; "v > thr" sends it left, "!(v <= thr)" right
        const bool right = ob.default_left[static_cast<std::size_t>(lb + l)] ? v > thr : !(v <= thr);
        idx = (idx << 1) | static_cast<std::uint32_t>(right);
      }
      acc[static_cast<std::int64_t>(tree_output[u]) * kBlock + r] +=
          ob.value[static_cast<std::size_t>(ob.leaf_begin[u]) + idx];
    }
  }
}

#ifdef SAPWOOD_OBL_X86
SAPWOOD_OBL_AVX2 void ScoreAvx2(const ObliviousTrees& ob, const std::int32_t* tree_output,
                                const float* cols, std::int64_t nr, int tb, int te,
                                double* acc) {
  const __m256i one = _mm256_set1_epi32(1);
  for (int t = tb; t < te; ++t) {
    const std::size_t u = static_cast<std::size_t>(t);
    const int lb = ob.level_begin[u], depth = ob.depth[u];
    const double* leaf = ob.value.data() + ob.leaf_begin[u];
    double* a = acc + static_cast<std::int64_t>(tree_output[u]) * kBlock;
    for (std::int64_t r = 0; r < nr; r += 8) {
      __m256i idx = _mm256_setzero_si256();
      for (int l = 0; l < depth; ++l) {
        const std::size_t q = static_cast<std::size_t>(lb + l);
        const __m256 v = _mm256_loadu_ps(cols + static_cast<std::int64_t>(ob.feature[q]) * kBlock + r);
        const __m256 thr = _mm256_set1_ps(ob.threshold[q]);
        // all ones where the row goes left: v <= thr, or (default left) not v > thr
        const __m256 left = ob.default_left[q] ? _mm256_cmp_ps(v, thr, _CMP_NGT_UQ)
                                               : _mm256_cmp_ps(v, thr, _CMP_LE_OQ);
        // idx * 2 + 1 - (left ? 1 : 0)
        idx = _mm256_add_epi32(_mm256_add_epi32(idx, idx),
                               _mm256_add_epi32(one, _mm256_castps_si256(left)));
      }
      const __m256d lo = _mm256_i32gather_pd(leaf, _mm256_castsi256_si128(idx), 8);
      const __m256d hi = _mm256_i32gather_pd(leaf, _mm256_extracti128_si256(idx, 1), 8);
      _mm256_storeu_pd(a + r, _mm256_add_pd(_mm256_loadu_pd(a + r), lo));
      _mm256_storeu_pd(a + r + 4, _mm256_add_pd(_mm256_loadu_pd(a + r + 4), hi));
    }
  }
}

SAPWOOD_OBL_AVX512 void ScoreAvx512(const ObliviousTrees& ob, const std::int32_t* tree_output,
                                    const float* cols, std::int64_t nr, int tb, int te,
                                    double* acc) {
  const __m512i one = _mm512_set1_epi32(1);
  for (int t = tb; t < te; ++t) {
    const std::size_t u = static_cast<std::size_t>(t);
    const int lb = ob.level_begin[u], depth = ob.depth[u];
    const double* leaf = ob.value.data() + ob.leaf_begin[u];
    double* a = acc + static_cast<std::int64_t>(tree_output[u]) * kBlock;
    for (std::int64_t r = 0; r < nr; r += 16) {
      __m512i idx = _mm512_setzero_si512();
      for (int l = 0; l < depth; ++l) {
        const std::size_t q = static_cast<std::size_t>(lb + l);
        const __m512 v = _mm512_loadu_ps(cols + static_cast<std::int64_t>(ob.feature[q]) * kBlock + r);
        const __m512 thr = _mm512_set1_ps(ob.threshold[q]);
        // rows going right: !(v <= thr), or (default left) v > thr
        const __mmask16 right = ob.default_left[q] ? _mm512_cmp_ps_mask(v, thr, _CMP_GT_OQ)
                                                   : _mm512_cmp_ps_mask(v, thr, _CMP_NLE_UQ);
        idx = _mm512_add_epi32(idx, idx);
        idx = _mm512_mask_add_epi32(idx, right, idx, one);
      }
      const __m512d lo = _mm512_i32gather_pd(_mm512_castsi512_si256(idx), leaf, 8);
      const __m512d hi = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx, 1), leaf, 8);
      _mm512_storeu_pd(a + r, _mm512_add_pd(_mm512_loadu_pd(a + r), lo));
      _mm512_storeu_pd(a + r + 8, _mm512_add_pd(_mm512_loadu_pd(a + r + 8), hi));
    }
  }
}
#endif

}  // namespace

const char* ObliviousKernelName(int isa_cap) {
  switch (ChooseIsa(isa_cap)) {
    case Isa::kAvx512: return "oblivious-avx512";
    case Isa::kAvx2: return "oblivious-avx2";
    default: return "oblivious";
  }
}

template <class T>
void PredictOblivious(const ObliviousTrees& ob, const std::int32_t* tree_output, int K,
                      const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                      int n_threads, int isa_cap) {
  const Isa isa = ChooseIsa(isa_cap);
  const std::int64_t F = x.cols;
  const std::int64_t nblocks = (x.rows + kBlock - 1) / kBlock;
  auto block = [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, nr = std::min(x.rows, r0 + kBlock) - r0;
    // The block by column (reused per thread: fresh pages are slow), and its rows' sums so far.
    // Rows past nr hold stale finite values or zeros; their sums are never stored.
    thread_local std::vector<float> cols;
    thread_local std::vector<double> acc;
    const auto need = static_cast<std::size_t>(std::max<std::int64_t>(F, 1) * kBlock);
    if (cols.size() < need) cols.resize(need, 0.0f);
    if (acc.size() < static_cast<std::size_t>(K * kBlock)) acc.resize(static_cast<std::size_t>(K * kBlock));
    float* c = cols.data();
    if (x.col_stride == 1) {
      for (std::int64_t r = 0; r < nr; ++r) {
        const T* src = x.data + (r0 + r) * x.row_stride;
        for (std::int64_t f = 0; f < F; ++f) c[f * kBlock + r] = static_cast<float>(src[f]);
      }
    } else {
      for (std::int64_t f = 0; f < F; ++f) {
        const T* src = x.data + f * x.col_stride + r0 * x.row_stride;
        for (std::int64_t r = 0; r < nr; ++r) c[f * kBlock + r] = static_cast<float>(src[r * x.row_stride]);
      }
    }
    double* a = acc.data();
    for (int k = 0; k < K; ++k)
      for (std::int64_t r = 0; r < nr; ++r) a[k * kBlock + r] = out[(r0 + r) * K + k];
#ifdef SAPWOOD_OBL_X86
    if (isa == Isa::kAvx512 && nr >= 16) {
      ScoreAvx512(ob, tree_output, c, nr, tree_begin, tree_end, a);
    } else if (isa != Isa::kPortable && nr >= 8) {
      ScoreAvx2(ob, tree_output, c, nr, tree_begin, tree_end, a);
    } else {
      ScorePortable(ob, tree_output, K, c, nr, tree_begin, tree_end, a);
    }
#else
    ScorePortable(ob, tree_output, K, c, nr, tree_begin, tree_end, a);
#endif
    for (int k = 0; k < K; ++k)
      for (std::int64_t r = 0; r < nr; ++r) out[(r0 + r) * K + k] = a[k * kBlock + r];
  };
  if (nblocks <= 1) {
    if (nblocks == 1) block(0);  // few rows: on the calling thread
    return;
  }
  // Rows are independent: the result does not depend on the blocks' order or thread.
  ParallelForDynamic(0, nblocks, n_threads, block);
}

template void PredictOblivious<float>(const ObliviousTrees&, const std::int32_t*, int,
                                      const MatrixView<float>&, int, int, double*, int, int);
template void PredictOblivious<double>(const ObliviousTrees&, const std::int32_t*, int,
                                       const MatrixView<double>&, int, int, double*, int, int);

}  // namespace sapwood::predict
