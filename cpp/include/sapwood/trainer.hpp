#pragma once
// One boosting session on a binned matrix: gradients -> fixed point -> one tree per output ->
// training scores updated. The Python layer drives the rounds and the callbacks.
#include <cstdint>
#include <memory>
#include <vector>

#include "sapwood/dataset.hpp"
#include "sapwood/grower.hpp"
#include "sapwood/objective.hpp"
#include "sapwood/tree.hpp"

namespace sapwood {

struct TrainParams {
  GrowParams grow;
  ObjectiveKind objective = ObjectiveKind::kRegression;
  int num_class = 1;
  ObjectiveParams objective_params;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  std::uint64_t seed = 0;
  int n_threads = 1;
  // Quantized gradients (LightGBM's use_quantized_grad, num_grad_quant_bins,
  // quant_train_renew_leaf): each tree's gradients and hessians are stochastically rounded to
  // integer levels (a counter-based draw per (seed, round, output, global row), so the same on
  // any thread count or partitioning), splits are chosen from their sums, and with renew_leaf
  // the leaf values are re-fitted from the full-precision fixed-point gradients.
  bool quantized = false;
  int quant_bins = 4;
  bool quant_renew_leaf = true;
  // grow_policy "oblivious": one split per level (cpp/src/tree/oblivious.hpp)
  bool oblivious = false;
  bool score_cosine = false;  // score_function "cosine" (else "l2"), oblivious mode
  // boosting_type "ordered" (CatBoost's ordered boosting, oblivious mode): see
  // Trainer::OrderedTree
  bool ordered = false;
  double random_strength = 0.0;
  double bagging_temperature = 0.0;
};

class ObliviousGrower;

class Trainer {
 public:
  Trainer(std::shared_ptr<const BinnedMatrix> data, std::vector<double> labels,
          std::vector<double> weights, const TrainParams& params);
  ~Trainer();

  // Grows one round (one tree per output) and updates the training scores.
  std::vector<Tree> BoostRound();
  // Re-fits the leaves of `tree` (grown for output k on the rows of the last Grow) to the
  // loss's exact minimiser over each leaf's residuals (Objective::LeafValue).
  void RenewLeaves(Tree& tree, int k);
  // Quantized training: every node's value and hessian from the full-precision gradients of
  // output k on the rows of the last Grow, summed in the fixed point `full` (exact integers).
  void RenewQuantized(Tree& tree, int k, const FixedPoint& full);
  const std::vector<double>& InitScore() const { return init_score_; }
  // Starting margins other than the constant InitScore (offsets, continued training):
  // SetScores replaces every row's raw margins (n x K, row-major) and the initial score
  // reported by InitScore() (the model's constant); AddTreeScores adds a tree's leaf values
  // for output k walking the binned data (the trees of a model trained on this same binning:
  // the additions are those the original training made, so continuing reproduces it bit for
  // bit); SetIteration sets the round counter the row and column samples are drawn from.
  void SetScores(const double* scores, const std::vector<double>& init_score);
  void AddTreeScores(const Tree& tree, int k);
  void SetIteration(int iteration) {
    iteration_ = iteration;
    objective_.SetRound(iteration);
  }
  // Query groups of the ranking objectives (Objective::SetGroups): bounds of n_queries + 1.
  void SetGroups(std::vector<std::int64_t> bounds) {
    groups_ = bounds;
    objective_.SetGroups(std::move(bounds));
    SyncQueryRows();
  }
  const std::vector<double>& Scores() const { return scores_; }  // n x K raw margins

  // BoostRound in steps, for a worker of distributed training (the coordinator grows the trees
  // from every worker's histograms; see GrowTree):
  //   BeginRound    gradients of every output and this round's row sample; returns, per
  //                 output, the largest |gradient| and |hessian| in the sample, and its size
  //   BeginTree     output k's gradients in the fixed point the coordinator chose from every
  //                 worker's maxima; the rows of the sample become the tree's root (handle 0)
  //                 (quantized training: fp is ChooseQuantized's, and the gradients are
  //                 stochastically rounded to its levels)
  //   Rows()        partitions rows and builds histograms as the coordinator asks
  //   FinishTree    the grown tree's leaves (node, handle): training scores updated
  //   EndRound      the round counter moves on
  struct RoundStats {
    std::vector<double> max_g, max_h;
    std::int64_t rows = 0;
  };
  RoundStats BeginRound();
  // The custom objective: this round's gradients and hessians (n x K, row-major), from the
  // caller; BeginRound then uses them instead of the objective's (weights are the caller's).
  void SetGradients(const double* g, const double* h);
  // The custom objective as a compiled per-row function (a numba cfunc):
  //   fn(label, raw score, &grad, &hess)
  // called for every row from C++ threads, without Python (weights multiply the results).
  using ElementwiseFn = void (*)(double, double, double*, double*);
  void SetElementwise(ElementwiseFn fn) { elementwise_ = fn; }
  void BeginTree(int k, const FixedPoint& fp);
  LocalRows& Rows() { return grower_->Rows(); }
  const HistLayout& Layout() const { return grower_->Layout(); }
  void FinishTree(const Tree& tree, int k, const std::vector<GrownLeaf>& leaves);
  void EndRound() { ++iteration_; }
  // Where this process's rows sit in the whole training data: (local first row, global first
  // row) per contiguous run, ascending. The row sample is drawn on global row numbers, so it is
  // the same however the rows are spread over workers.
  void SetRowSegments(std::vector<std::pair<std::int64_t, std::int64_t>> segments);
  // Features with more than one value bin, or one bin and missing values in these rows.
  const std::vector<int>& UsableFeatures() const { return usable_features_; }
  // Residuals label - score (and weights) of output k's rows in each leaf (robust losses:
  // the coordinator re-fits the leaves on every worker's residuals).
  void LeafResiduals(int k, const std::vector<GrownLeaf>& leaves,
                     std::vector<std::vector<double>>* r, std::vector<std::vector<double>>* w);
  const Objective& GetObjective() const { return objective_; }
  const TrainParams& Params() const { return params_; }
  int NumOutputs() const { return objective_.NumOutputs(); }
  int Iteration() const { return iteration_; }

 private:
  void UpdateScores(const Tree& tree, int k);
  void Quantize(int k, const FixedPoint& fp);  // q_ and gh_ of output k at fp's levels
  // Ordered boosting (CatBoost's remedy for prediction shift): the tree's structure was grown
  // on gradients of the ordered scores, in which each row's share of every tree is the leaf
  // value estimated from the rows before it in a fixed seeded permutation (so a row's own label
  // never shapes the prediction its gradient is taken at). This sets the tree's values from
  // the plain gradients of all rows (the model that is saved), then moves each row's ordered
  // score by the leaf value of the rows before it in its leaf.
  void OrderedTree(Tree& tree, int k);
  // Every node's gradient and hessian sums of output k over the rows of the last Grow (grad /
  // hess n x K), in the fixed point fp (exact integers, so the same on any thread count),
  // summed up the tree; the sums come back unscaled.
  void NodeGradSums(const Tree& tree, int k, const double* grad, const double* hess,
                    const FixedPoint& fp, std::vector<double>* g,
                    std::vector<double>* h) const;
  void SyncQueryRows();  // global first rows of the queries, from groups_ and segments_

  std::shared_ptr<const BinnedMatrix> data_;
  std::vector<double> labels_, weights_;
  TrainParams params_;
  Objective objective_;
  std::unique_ptr<TreeGrower> grower_;
  std::unique_ptr<ObliviousGrower> oblivious_;  // set for grow_policy "oblivious"
  std::vector<double> init_score_, scores_, grad_, hess_;
  // ordered boosting: the ordered scores, the plain gradients, the permutation
  std::vector<double> ordered_scores_, grad_plain_, hess_plain_;
  std::vector<std::uint32_t> perm_;
  std::vector<GradPair> gh_;
  std::vector<QuantGrad> q_;  // quantized training: this tree's gradient levels
  // NodeGradSums: each row's leaf (its index in LeafRanges()), reused across trees
  mutable std::vector<std::uint16_t> leaf_of_;
  std::vector<int> usable_features_;
  std::vector<std::uint8_t> in_bag_;
  std::vector<std::uint32_t> all_rows_;  // the rows grown on this round (reused buffer)
  std::vector<double> renew_r_, renew_w_;  // RenewLeaves: residuals (weights) by partition slot
  std::vector<std::pair<std::int64_t, std::int64_t>> segments_{{0, 0}};
  std::vector<std::int64_t> groups_;
  RoundStats stats_;
  bool gradients_given_ = false;
  ElementwiseFn elementwise_ = nullptr;
  int iteration_ = 0;
};

}  // namespace sapwood
