#pragma once
// Built-in objectives: gradients/hessians of the loss, initial scores, output transforms.
#include <cstdint>
#include <string>
#include <vector>

namespace sapwood {

// kPoisson, kGamma, kTweedie: log link (value = exp(raw)), negative log-likelihood losses.
// kL1, kHuber, kQuantile: identity link, robust losses whose leaf values are re-fitted after
// each tree is grown (Objective::LeafValue): a Newton step alone is wrong for them.
// kQuantile with several levels (ObjectiveParams::alphas, num_class = their count): one output
// per level, each grown and re-fitted with its own level (as multiclass grows one tree per
// class); the predictions are rearranged (Transform sorts each row's outputs ascending), so the
// predicted quantiles never cross on any input. Sorting never raises the summed pinball loss
// over increasing levels for any label (the rearrangement inequality; Chernozhukov,
// Fernandez-Val and Galichon 2010): sum_k a_k (y - q_k) is largest with q sorted as a is, and
// the rest of the loss depends only on the set of q.
// kLambdarank, kRankXendcg: ranking losses over query groups (SetGroups), identity link (the
// raw score orders a query's documents).
// kCox: Cox proportional hazards (Breslow partial likelihood), labels = survival time, negative
// for a censored row (XGBoost's survival:cox); predictions are hazard ratios exp(raw).
enum class ObjectiveKind {
  kRegression,
  kBinary,
  kMulticlass,
  kPoisson,
  kGamma,
  kTweedie,
  kL1,
  kHuber,
  kQuantile,
  kLambdarank,
  kRankXendcg,
  kCox,
  // kCustom: the gradients come from the caller (Trainer::SetGradients from a Python callable)
  // with the identity link and a starting score of 0 for any finite label
  kCustom
};

ObjectiveKind ParseObjective(const std::string& name);

// Loss parameters of the objectives that have any (the defaults are LightGBM's).
struct ObjectiveParams {
  double tweedie_variance_power = 1.5;  // tweedie: in (1, 2)
  double poisson_max_delta_step = 0.7;  // poisson: hess = exp(f + this), a safeguard
  double huber_delta = 1.0;             // huber: residuals beyond this are penalised linearly
  double alpha = 0.5;                   // quantile: the quantile level, in (0, 1)
  // multi-quantile: the levels, strictly increasing in (0, 1), one output each (empty: the one
  // level `alpha`). Only training reads them; prediction needs the count (num_class) only.
  std::vector<double> alphas;
  // lambdarank: pairs are formed with the documents ranked in the top `truncation_level` by
  // the current scores; `norm` scales each pair's weight by 1 / (0.01 + |score difference|)
  // and a query's gradients by log2(1 + sum) / sum (LightGBM's lambdarank_norm).
  int lambdarank_truncation_level = 30;
  bool lambdarank_norm = true;
  // The gain of each relevance label (lambdarank, rank_xendcg): empty = 2^label - 1 for labels
  // 0..31. Labels must be integers in [0, size).
  std::vector<double> label_gain;
  std::uint64_t seed = 0;  // rank_xendcg: the draws of its per-round target distribution
};

// The default label gains 2^i - 1, i in [0, 32).
std::vector<double> DefaultLabelGain();

// The alpha-quantile of values[0, m) with optional weights: a minimiser c of
// sum_i w_i * pinball_alpha(values_i - c). It is the smallest value at which the cumulative
// weight (values ascending) reaches alpha * total; where it reaches it exactly, every point up
// to the next value minimises the loss too, and their midpoint is taken (the usual median of an
// even count). Reorders values (and weights). Depends only on the multiset of (value, weight)
// pairs, so on no thread count or row order. m == 0 or zero total weight: 0.
double WeightedQuantile(double* values, double* weights, std::int64_t m, double alpha);

class Objective {
 public:
  Objective(ObjectiveKind kind, int num_class, const ObjectiveParams& params = {});
  ObjectiveKind Kind() const { return kind_; }
  bool IdentityLink() const {
    return kind_ == ObjectiveKind::kRegression || (RenewsLeaves() && !SortsOutputs()) ||
           IsRanking() || kind_ == ObjectiveKind::kCustom;
  }
  // Multi-quantile: Transform sorts each row's outputs (the rearrangement that keeps quantiles
  // from crossing).
  bool SortsOutputs() const { return kind_ == ObjectiveKind::kQuantile && num_class_ > 1; }
  // The quantile level of output k (quantile objective).
  double Alpha(int k) const {
    return params_.alphas.empty() ? params_.alpha : params_.alphas[static_cast<std::size_t>(k)];
  }
  // The robust losses: after a tree is grown, each leaf's value becomes LeafValue of the
  // residuals of its rows (as LightGBM's RenewTreeOutput does).
  bool RenewsLeaves() const {
    return kind_ == ObjectiveKind::kL1 || kind_ == ObjectiveKind::kHuber ||
           kind_ == ObjectiveKind::kQuantile;
  }
  bool LogLink() const {
    return kind_ == ObjectiveKind::kPoisson || kind_ == ObjectiveKind::kGamma ||
           kind_ == ObjectiveKind::kTweedie;
  }
  bool IsRanking() const {
    return kind_ == ObjectiveKind::kLambdarank || kind_ == ObjectiveKind::kRankXendcg;
  }
  // Query groups of the ranking objectives: query q holds rows [bounds[q], bounds[q + 1]);
  // bounds[0] == 0 and the last bound is the row count (checked by Gradients). Without groups
  // a ranking objective's Gradients raise DataError.
  void SetGroups(std::vector<std::int64_t> bounds);
  // Distributed training: the global row number of each query's first row (rank_xendcg draws
  // per global row, so a worker holding some of the queries draws what one machine draws).
  // Empty: the local bounds are the global rows.
  void SetQueryRows(std::vector<std::int64_t> first_rows) { query_rows_ = std::move(first_rows); }
  // The round the next Gradients call computes (rank_xendcg draws its target distribution per
  // round from (seed, round, row)); each Gradients call then advances it by one.
  void SetRound(std::int64_t round) { round_ = round; }
  int NumOutputs() const {
    return kind_ == ObjectiveKind::kMulticlass || kind_ == ObjectiveKind::kQuantile ||
                   kind_ == ObjectiveKind::kCustom
               ? num_class_
               : 1;
  }

  // Checks labels (finite; {0,1} for binary; integers in [0, num_class) for multiclass;
  // >= 0 for poisson and tweedie; > 0 for gamma).
  void CheckLabels(const double* y, std::int64_t n) const;
  // Initial raw score per output: weighted mean, log-odds, log class priors, or the log of
  // the weighted mean (log-link objectives; a zero mean is a DataError).
  std::vector<double> InitScore(const double* y, const double* w, std::int64_t n) const;
  // grad/hess for every row and output (row-major n x K) from raw scores (n x K). Ranking
  // objectives work query by query (in parallel; each query's rows are written by one thread in
  // a fixed order, so the result does not depend on the thread count); cox sums over risk sets
  // in time order.
  void Gradients(const double* scores, const double* y, const double* w, std::int64_t n,
                 double* grad, double* hess, int n_threads) const;
  // The constant that minimises the loss over residuals r (label - current score) with optional
  // weights: l1 the weighted median, quantile the weighted alpha-quantile, huber Friedman's
  // one-step M-estimate (median + weighted mean of the residuals' deviations from it clipped to
  // +-huber_delta). Reorders r and w. Only for RenewsLeaves() objectives. k: the output
  // (multi-quantile: its level).
  double LeafValue(double* r, double* w, std::int64_t m, int k = 0) const;
  // huber's LeafValue given lo and hi, the least and greatest of r[0, m) (a caller that has
  // just written r finds them in the same pass).
  double HuberLeafValue(double* r, double* w, std::int64_t m, double lo, double hi) const;
  // raw (n x K) -> transformed values, in place (multi-quantile: each row sorted ascending).
  void Transform(double* raw, std::int64_t n, int n_threads) const;

 private:
  void RankingGradients(const double* scores, const double* y, const double* w, std::int64_t n,
                        double* grad, double* hess, int n_threads) const;
  void CoxGradients(const double* scores, const double* y, const double* w, std::int64_t n,
                    double* grad, double* hess) const;

  ObjectiveKind kind_;
  int num_class_;
  ObjectiveParams params_;
  std::vector<std::int64_t> group_bounds_;
  std::vector<std::int64_t> query_rows_;
  // Gradients is const for its callers, but the round counter it advances (rank_xendcg) and the
  // time order of cox's labels (sorted once, on the first call) are its own state.
  mutable std::int64_t round_ = 0;
  mutable std::vector<std::int64_t> time_order_;
  mutable const double* time_order_of_ = nullptr;
  // lambdarank: 1 / the ideal DCG of each query, from the labels at inv_max_dcg_of_ (computed on
  // the first call)
  mutable std::vector<double> inv_max_dcg_;
  mutable const double* inv_max_dcg_of_ = nullptr;
};

}  // namespace sapwood
