#pragma once
// The oblivious-forest predictor (oblivious.cpp). A tree whose every level shares one numeric
// split (grow_policy "oblivious", CatBoost's symmetric trees, or any imported tree of that
// shape) is a table: level l's comparison gives bit (depth - 1 - l) of the leaf index, 1 when
// the row goes right. Rows are scored without walking nodes: per level one compare of 16 rows
// (AVX-512) or 8 (AVX2), the index doubled plus the compare's bit, then one gather of the leaf
// values. Forests with any other tree, or a categorical or zero-as-missing split, are not
// handled here (ok stays false) and take the general kernels.
#include <cstdint>
#include <vector>

#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood::predict {

constexpr int kObliviousMaxDepth = 16;

struct ObliviousTrees {
  bool ok = false;  // every tree is oblivious with numeric splits of depth <= kObliviousMaxDepth
  std::vector<std::int32_t> depth;        // per tree
  std::vector<std::int32_t> level_begin;  // per tree: its first level below
  std::vector<std::int32_t> feature;      // per level
  std::vector<float> threshold;           // per level: go left when x <= threshold
  std::vector<std::uint8_t> default_left;  // per level: where NaN goes
  std::vector<std::int32_t> leaf_begin;   // per tree: its 2^depth leaf values below
  std::vector<double> value;
};

// Fills `out` when every tree is oblivious (ok), else leaves it with ok = false. Trees must
// already be validated (BuildFloatTrees).
void BuildObliviousTrees(const std::vector<Tree>& trees, int num_features, ObliviousTrees& out);

// Which code scores the oblivious forest on this CPU, with SIMD up to isa_cap (2 AVX-512,
// 1 AVX2, 0 none): "oblivious-avx512", "oblivious-avx2" or "oblivious" (portable).
const char* ObliviousKernelName(int isa_cap);

// out (rows x num_outputs, row-major) += the raw margins of trees [tree_begin, tree_end), added
// tree by tree in order (the general kernels' sums, bit for bit).
template <class T>
void PredictOblivious(const ObliviousTrees& ob, const std::int32_t* tree_output, int num_outputs,
                      const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                      int n_threads, int isa_cap);

}  // namespace sapwood::predict
