#pragma once
// Oblivious (symmetric) tree growth, as CatBoost grows its trees: every node of a level shares
// one split (feature, threshold, missing direction), chosen by the gain summed over the level's
// nodes. The tree is stored as an ordinary tree (complete, 2^depth leaves), so every predictor,
// exporter and TreeSHAP handle it unchanged; the dedicated predictor (predict/oblivious.cpp)
// recognises the shape.
#include <cstdint>
#include <memory>
#include <vector>

#include "sapwood/grower.hpp"

namespace sapwood {

struct ObliviousParams {
  // How a level's candidate splits are scored (the tree is grown on the best):
  //  - l2 (cosine == false): the Newton gain summed over the level's nodes;
  //  - cosine: CatBoost's default score, the cosine between the gradient vector and the vector
  //    of the candidate's leaf values over the level's rows, N / sqrt(D) with N = sum over the
  //    children of t^2 / (h + lambda) and D = sum of t^2 h / (h + lambda)^2 (t the
  //    L1-thresholded gradient sum, h the hessian sum). A node that cannot take the candidate
  //    counts as one unsplit leaf. Unlike the summed gain it is normalised by the fit's size,
  //    so it prefers splits that explain the gradient evenly.
  // Either way a level splits only when the chosen candidate's summed Newton gain is positive
  // (and above min_split_gain).
  bool cosine = false;
  // Noise on the scores of the candidate splits of a level (CatBoost's random_strength),
  // normal, drawn per candidate from (seed, tree, level, candidate), so the same on any thread
  // count. Its standard deviation:
  //  - l2: random_strength * 0.1 * the level's best summed gain;
  //  - cosine: CatBoost's, random_strength * the root mean square of the tree's gradients *
  //    m / (1 + m), m = exp(ln(rows) - model_length): the noise fades as the model grows past
  //    the log of the row count.
  double random_strength = 0.0;
  double model_length = 0.0;  // rounds before this tree * learning rate
  double grad_rms = 0.0;      // filled by ObliviousGrower::Grow from the tree's gradients
  std::int64_t rows = 0;      // the tree's rows (filled by ObliviousGrower::Grow)
  std::uint64_t seed = 0;
  std::uint64_t tree_index = 0;  // iteration * outputs + output: one noise stream per tree
  // CatBoost's Bayesian bootstrap: each row's gradient and hessian are weighted by
  // (-ln U)^bagging_temperature for this tree (U uniform, drawn per (seed, tree, row); weights
  // capped at 16); 0: no weights. Leaf values are the weighted Newton steps, as in CatBoost.
  double bagging_temperature = 0.0;
};

// Grows one oblivious tree of at most params.max_depth levels (num_leaves is not read) on the
// histograms of `src` (all nodes of a level are expanded in one src.Expand call; the smaller
// child's histogram is built, the sibling's is the parent's minus it).
//
// A node whose rows cannot take the level's split (min_child_samples, min_child_weight) still
// takes it, but is frozen: its children, and every descendant, keep its value. Growth stops
// early when no split has a positive summed gain above min_split_gain. Categorical features
// offer one-vs-rest splits (one category, or the other/missing bin, alone on the left) and
// many-vs-many ones (a prefix of the categories ordered by the level's summed gradient ratio).
// Monotone and interaction constraints are not supported (the Python layer refuses them).
Tree GrowObliviousTree(HistogramSource& src, const BinMapper& mapper, const HistLayout& layout,
                       std::vector<std::vector<HistBin>>& pool, double scale_g, double scale_h,
                       CountPacking pack, const std::vector<int>& features,
                       const GrowParams& params, const ObliviousParams& op, int n_threads,
                       std::vector<GrownLeaf>* leaves,
                       std::vector<std::int32_t>* value_nodes = nullptr);

// GrowObliviousTree on this process's rows (a TreeGrower's partition and histograms), for the
// Trainer. After Grow, the grower's LeafRanges() describe the tree's leaves, and every node's
// count and cover (hess) are those of its training rows (frozen nodes' children included).
class ObliviousGrower {
 public:
  ObliviousGrower(TreeGrower& grower, std::shared_ptr<const BinnedMatrix> data, int n_threads)
      : grower_(grower), data_(std::move(data)), n_threads_(n_threads) {}
  Tree Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking pack,
            const std::vector<std::uint32_t>& rows, const std::vector<int>& features,
            const GrowParams& params, const ObliviousParams& op);
  // After Grow: per node of the tree, the node whose value it carries (itself, or the frozen
  // ancestor whose descendants keep its value).
  const std::vector<std::int32_t>& ValueNodes() const { return value_nodes_; }

 private:
  TreeGrower& grower_;
  std::shared_ptr<const BinnedMatrix> data_;
  int n_threads_;
  std::vector<std::vector<HistBin>> pool_;  // histograms, reused across trees
  std::vector<GradPair> weighted_;           // bagging_temperature's weighted gradients
  std::vector<std::int32_t> value_nodes_;
};

}  // namespace sapwood
