// The portable kernels (kernels.hpp): float walks on PackedNodes (any split type, through the
// one decision of decision.hpp), the rank codes of a block, and the two-level walk on codes.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels.hpp"

namespace sapwood::predict {

template <bool kSpecial>
void FloatWalkBlock(const ForestData& d, const float* rows, std::int64_t row_stride,
                    std::int64_t nrows, int tree_begin, int tree_end, double* out) {
  const PackedNode* nodes = d.flt.nodes.data();
  const double* value = d.flt.value.data();
  const int K = d.num_outputs;
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
    const int depth = d.flt.depth[static_cast<std::size_t>(t)];
    const int k = d.tree_output[static_cast<std::size_t>(t)];
    std::int64_t r = 0;
    for (; r + kLanes <= nrows; r += kLanes) {
      std::int32_t idx[kLanes];
      for (int j = 0; j < kLanes; ++j) idx[j] = root;
      const float* base = rows + r * row_stride;
      for (int dd = 0; dd < depth; ++dd) {
        // Deep, unbalanced (loss-guided) trees: stop once every lane sits on a leaf.
        if (dd >= 6 && (dd & 1) == 0) {
          std::uint32_t all = PackedNode::kLeaf;
          for (int j = 0; j < kLanes; ++j) all &= nodes[idx[j]].meta;
          if (all) break;
        }
        for (int j = 0; j < kLanes; ++j) {
          const PackedNode& n = nodes[idx[j]];
          const float v = base[j * row_stride + (n.meta & PackedNode::kFeatureMask)];
          bool right;
          if constexpr (kSpecial) {
            right = d.flt.GoRight(n, v);
          } else {
            right = NumericGoRight(n.meta, n.threshold, v);
          }
          idx[j] = n.child[right];
        }
      }
      for (int j = 0; j < kLanes; ++j) out[(r + j) * K + k] += value[idx[j]];
    }
    for (; r < nrows; ++r) {
      const float* row = rows + r * row_stride;
      std::int32_t i = root;
      while (!(nodes[i].meta & PackedNode::kLeaf)) {
        const PackedNode& n = nodes[i];
        i = n.child[d.flt.GoRight(n, row[n.meta & PackedNode::kFeatureMask])];
      }
      out[r * K + k] += value[i];
    }
  }
}

template void FloatWalkBlock<true>(const ForestData&, const float*, std::int64_t, std::int64_t,
                                   int, int, double*);
template void FloatWalkBlock<false>(const ForestData&, const float*, std::int64_t, std::int64_t,
                                    int, int, double*);

template <class T>
void FloatWalkRows(const ForestData& d, const MatrixView<T>& x, int tree_begin, int tree_end,
                   double* out) {
  const PackedNode* nodes = d.flt.nodes.data();
  const int K = d.num_outputs;
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const T* row = x.data + r * x.row_stride;
    double* o = out + r * K;
    int t = tree_begin;
    for (; t + kLanes <= tree_end; t += kLanes) {
      std::int32_t idx[kLanes];
      int depth = 0;
      for (int j = 0; j < kLanes; ++j) {
        idx[j] = d.flt.root[static_cast<std::size_t>(t + j)];
        depth = std::max(depth, d.flt.depth[static_cast<std::size_t>(t + j)]);
      }
      for (int dd = 0; dd < depth; ++dd) {
        for (int j = 0; j < kLanes; ++j) {
          const PackedNode& n = nodes[idx[j]];
          const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
          idx[j] = n.child[d.flt.GoRight(n, static_cast<float>(row[f * x.col_stride]))];
        }
      }
      for (int j = 0; j < kLanes; ++j) {
        o[d.tree_output[static_cast<std::size_t>(t + j)]] +=
            d.flt.value[static_cast<std::size_t>(idx[j])];
      }
    }
    for (; t < tree_end; ++t) {
      std::int32_t i = d.flt.root[static_cast<std::size_t>(t)];
      while (!(nodes[i].meta & PackedNode::kLeaf)) {
        const PackedNode& n = nodes[i];
        const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
        i = n.child[d.flt.GoRight(n, static_cast<float>(row[f * x.col_stride]))];
      }
      o[d.tree_output[static_cast<std::size_t>(t)]] += d.flt.value[static_cast<std::size_t>(i)];
    }
  }
}

template void FloatWalkRows<float>(const ForestData&, const MatrixView<float>&, int, int,
                                   double*);
template void FloatWalkRows<double>(const ForestData&, const MatrixView<double>&, int, int,
                                    double*);

template <class T>
void LeafWalkRows(const ForestData& d, const MatrixView<T>& x, std::int64_t r0, std::int64_t r1,
                  int tree_begin, int tree_end, std::int32_t* out) {
  const int nt = tree_end - tree_begin;
  const PackedNode* nodes = d.flt.nodes.data();
  for (std::int64_t r = r0; r < r1; ++r) {
    for (int t = tree_begin; t < tree_end; ++t) {
      const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
      std::int32_t i = root;
      while (!(nodes[i].meta & PackedNode::kLeaf)) {
        const PackedNode& n = nodes[i];
        const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
        i = n.child[d.flt.GoRight(n, static_cast<float>(x.At(r, f)))];
      }
      out[r * nt + (t - tree_begin)] = i - root;
    }
  }
}

template void LeafWalkRows<float>(const ForestData&, const MatrixView<float>&, std::int64_t,
                                  std::int64_t, int, int, std::int32_t*);
template void LeafWalkRows<double>(const ForestData&, const MatrixView<double>&, std::int64_t,
                                   std::int64_t, int, int, std::int32_t*);

// Through the feature's BinIndex table; else a search that runs the same number of steps for
// every value of a feature (branch-free lower bound).
std::uint16_t QuantCode(const RankCodes& c, std::int64_t f, float x) {
  if (std::isnan(x)) return 0xFFFF;
  if (!c.index.empty()) {
    return static_cast<std::uint16_t>(c.index[static_cast<std::size_t>(f)].Lookup(x));
  }
  const float* a = c.thr.data() + c.begin[static_cast<std::size_t>(f)];
  std::int64_t n = c.begin[static_cast<std::size_t>(f) + 1] - c.begin[static_cast<std::size_t>(f)];
  if (n == 0) return 0;
  const float* base = a;
  while (n > 1) {
    const std::int64_t half = n / 2;
    base = base[half] < x ? base + half : base;
    n -= half;
  }
  return static_cast<std::uint16_t>((base - a) + (*base < x ? 1 : 0));
}

void QuantizeBlock(const ForestData& d, const float* rows, std::int64_t row_stride,
                   std::int64_t nrows, std::uint16_t* codes) {
  const std::int64_t F = d.num_features, W = 2 * F;
  for (std::int64_t f = 0; f < F; ++f) {
    for (std::int64_t r = 0; r < nrows; ++r) {
      const std::uint16_t code = QuantCode(d.codes, f, rows[r * row_stride + f]);
      std::uint16_t* c = codes + r * W;
      c[f] = code;
      c[F + f] = code == 0xFFFF ? 0 : code;
    }
  }
}

void SuperWalkBlock(const ForestData& d, const std::uint16_t* codes, std::int64_t nrows,
                    int tree_begin, int tree_end, double* out) {
  const SuperNode* nodes = d.super.nodes.data();
  const double* value = d.super.value.data();
  const int K = d.num_outputs;
  const std::int64_t W = 2 * static_cast<std::int64_t>(d.num_features);
  // Rows walked in lock step through one tree. Measured here (Zen 3, the benchmark's 300 trees
  // of up to 63 leaves, leaf-wise, whose rows end at depth 4 on average but whose trees run
  // 14 deep): 4 lanes beat 2, 6 and 8 (more lanes walk to a deeper max; fewer leave the
  // loads' latency bare); checking "every lane on a leaf" before every step beats folding the
  // check into the step (which stops one step later); a second level
  // picked after the first (one code load waiting on another, 11 instead of 20 instructions a
  // step), 8-bit codes, and walks that restart on the next row as soon as theirs reaches a
  // leaf (scalar or AVX2; their bookkeeping costs more than the steps they save) all lost.
  constexpr int L = kSuperLanes;
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t root = d.super.root[static_cast<std::size_t>(t)];
    const int steps = (d.flt.depth[static_cast<std::size_t>(t)] + 1) / 2;
    double* o = out + d.tree_output[static_cast<std::size_t>(t)];
    // The caller pads the codes to a multiple of L rows (extra rows are all 0).
    for (std::int64_t r = 0; r < nrows; r += L) {
      std::int32_t idx[L];
      for (int j = 0; j < L; ++j) idx[j] = root;
      const std::uint16_t* base = codes + r * W;
      for (int s = 0; s < steps; ++s) {
        bool live = false;  // stop once every lane sits on a leaf
        for (int j = 0; j < L; ++j) live |= nodes[idx[j]].base != idx[j];
        if (!live) break;
        for (int j = 0; j < L; ++j) {
          const SuperNode& q = nodes[idx[j]];
          const std::uint16_t* row = base + j * W;
          const std::int32_t a = row[q.column[0]] > q.rank[0] ? 1 : 0;
          const std::int32_t b = row[q.column[1]] > q.rank[1] ? 1 : 0;
          const std::int32_t c = row[q.column[2]] > q.rank[2] ? 1 : 0;
          // a ? c : b by masks (a branch would mispredict).
          idx[j] = q.base + 2 * a + (b ^ ((b ^ c) & -a));
        }
      }
      const std::int64_t live = std::min<std::int64_t>(L, nrows - r);
      for (int j = 0; j < live; ++j) o[(r + j) * K] += value[idx[j]];
    }
  }
}

}  // namespace sapwood::predict
