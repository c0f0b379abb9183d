#pragma once
// A read-only forest packed once per Booster and shared by all threads. Construction validates
// every index, so prediction never reads out of bounds, whatever arrays it was built from.
#include <cstdint>
#include <vector>

#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

struct PackedNode {
  float threshold;
  std::int32_t feature;  // -1 for a leaf
  std::int32_t left;     // absolute node index in the forest (leaf: index into leaf_value)
  std::int32_t right;
  std::uint8_t default_left;
};

class Forest {
 public:
  Forest() = default;
  Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output, int num_outputs,
         int num_features);

  int NumTrees() const { return static_cast<int>(tree_root_.size()); }
  int NumOutputs() const { return num_outputs_; }
  int NumFeatures() const { return num_features_; }

  // out (n x NumOutputs, row-major) += raw margins of trees [tree_begin, tree_end).
  template <class T>
  void PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                  int n_threads) const;
  // out (n x (tree_end - tree_begin)) = the leaf node index (within its tree) reached per tree.
  template <class T>
  void PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                   int n_threads) const;

 private:
  std::vector<PackedNode> nodes_;
  std::vector<double> leaf_value_;  // per node (only leaves are read)
  std::vector<std::int32_t> tree_root_;
  std::vector<std::int32_t> tree_output_;
  int num_outputs_ = 1;
  int num_features_ = 0;
};

}  // namespace sapwood
