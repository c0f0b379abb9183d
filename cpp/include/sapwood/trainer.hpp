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
};

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
  void SetGroups(std::vector<std::int64_t> bounds) { objective_.SetGroups(std::move(bounds)); }
  const std::vector<double>& Scores() const { return scores_; }  // n x K raw margins
  int NumOutputs() const { return objective_.NumOutputs(); }
  int Iteration() const { return iteration_; }

 private:
  std::shared_ptr<const BinnedMatrix> data_;
  std::vector<double> labels_, weights_;
  TrainParams params_;
  Objective objective_;
  std::unique_ptr<TreeGrower> grower_;
  std::vector<double> init_score_, scores_, grad_, hess_;
  std::vector<GradPair> gh_;
  std::vector<int> usable_features_;
  std::vector<std::uint8_t> in_bag_;
  std::vector<std::uint32_t> all_rows_;  // the rows grown on this round (reused buffer)
  int iteration_ = 0;
};

}  // namespace sapwood
