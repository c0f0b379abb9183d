#pragma once
// A read-only forest packed once per Booster and shared by all threads. Construction validates
// every index, so prediction never reads out of bounds, whatever arrays it was built from.
//
// Layout: every tree's nodes are stored in their original order at an offset (tree root =
// offset), 16 bytes each. A leaf is a node that points to itself, so a walk can run a fixed
// number of levels without branching on "is this a leaf" (the batch kernel walks several rows
// of one tree in lock step, which hides the load latency of each walk behind the others).
#include <cstdint>
#include <vector>

#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

struct PackedNode {
  float threshold;          // numeric: go left when x <= threshold; categorical: bit-cast slot
  std::uint32_t meta;       // feature | kDefaultLeft | split type << kTypeShift | kLeaf
  std::int32_t child[2];    // packed indices of the left and right child (a leaf: itself)

  static constexpr std::uint32_t kFeatureMask = (1u << 24) - 1;
  static constexpr std::uint32_t kDefaultLeft = 1u << 24;
  static constexpr int kTypeShift = 25;
  static constexpr std::uint32_t kTypeMask = 3u << kTypeShift;
  static constexpr std::uint32_t kLeaf = 1u << 27;
};
static_assert(sizeof(PackedNode) == 16, "PackedNode must stay 16 bytes");

class CudaForest;

class Forest {
 public:
  Forest() = default;
  Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output, int num_outputs,
         int num_features);

  int NumTrees() const { return static_cast<int>(tree_root_.size()); }
  int NumOutputs() const { return num_outputs_; }
  int NumFeatures() const { return num_features_; }
  bool HasSpecialSplits() const { return has_special_; }
  int MaxDepth() const { return max_depth_; }

  // out (n x NumOutputs, row-major) += raw margins of trees [tree_begin, tree_end).
  template <class T>
  void PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                  int n_threads) const;
  // out (n x (tree_end - tree_begin)) = the leaf node index (within its tree) reached per tree.
  template <class T>
  void PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                   int n_threads) const;
  // out (n x NumOutputs x (NumFeatures + 1), row-major) += exact TreeSHAP contributions of
  // trees [tree_begin, tree_end); the last column of each output gets the trees' expected
  // values (the caller adds the init score there). Needs a positive cover (hess) at every
  // internal node; throws ModelFormatError naming the tree and node otherwise.
  template <class T>
  void PredictContrib(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                      int n_threads) const;

  // The decision at one packed internal node for a float32 feature value: true = go right.
  inline bool GoRight(const PackedNode& n, float v) const;

 private:
  friend class CudaForest;  // copies the packed arrays to the GPU (predict_cuda.hpp)
  bool SpecialGoRight(const PackedNode& n, float v) const;
  template <bool kSpecial>
  void RawBlock(const float* rows, std::int64_t row_stride, std::int64_t nrows, int tree_begin,
                int tree_end, double* out) const;
  void CheckContribReady(int tree_begin, int tree_end) const;

  std::vector<PackedNode> nodes_;
  std::vector<double> value_;   // per packed node (leaves: output; internal: unused)
  std::vector<double> cover_;   // per packed node (hess), for TreeSHAP
  std::vector<std::int32_t> tree_root_;
  std::vector<std::int32_t> tree_depth_;
  std::vector<std::int32_t> tree_output_;
  std::vector<double> tree_expected_;  // cover-weighted mean leaf value per tree (NaN: no cover)
  std::vector<std::int32_t> cat_slot_begin_;  // per categorical slot: first word in cat_bits_
  std::vector<std::int32_t> cat_slot_size_;   // number of 32-bit words
  std::vector<std::uint32_t> cat_bits_;
  int num_outputs_ = 1;
  int num_features_ = 0;
  int max_depth_ = 0;
  bool has_special_ = false;
};

inline bool Forest::GoRight(const PackedNode& n, float v) const {
  if (n.meta & PackedNode::kTypeMask) return SpecialGoRight(n, v);
  // Branch-free NaN handling: for NaN both comparisons are false, so "v > t" sends NaN left
  // and "!(v <= t)" sends it right; for any other value they agree.
  const bool gt = v > n.threshold;
  const bool not_le = !(v <= n.threshold);
  return (n.meta & PackedNode::kDefaultLeft) ? gt : not_le;
}

}  // namespace sapwood
