#pragma once
// Built-in objectives: gradients/hessians of the loss, initial scores, output transforms.
#include <cstdint>
#include <string>
#include <vector>

namespace sapwood {

// kPoisson, kGamma, kTweedie: log link (value = exp(raw)), negative log-likelihood losses.
enum class ObjectiveKind { kRegression, kBinary, kMulticlass, kPoisson, kGamma, kTweedie };

ObjectiveKind ParseObjective(const std::string& name);

// Loss parameters of the objectives that have any (the defaults are LightGBM's).
struct ObjectiveParams {
  double tweedie_variance_power = 1.5;  // tweedie: in (1, 2)
  double poisson_max_delta_step = 0.7;  // poisson: hess = exp(f + this), a safeguard
};

class Objective {
 public:
  Objective(ObjectiveKind kind, int num_class, const ObjectiveParams& params = {});
  ObjectiveKind Kind() const { return kind_; }
  bool LogLink() const {
    return kind_ == ObjectiveKind::kPoisson || kind_ == ObjectiveKind::kGamma ||
           kind_ == ObjectiveKind::kTweedie;
  }
  int NumOutputs() const { return kind_ == ObjectiveKind::kMulticlass ? num_class_ : 1; }

  // Checks labels (finite; {0,1} for binary; integers in [0, num_class) for multiclass;
  // >= 0 for poisson and tweedie; > 0 for gamma).
  void CheckLabels(const double* y, std::int64_t n) const;
  // Initial raw score per output: weighted mean, log-odds, log class priors, or the log of
  // the weighted mean (log-link objectives; a zero mean is a DataError).
  std::vector<double> InitScore(const double* y, const double* w, std::int64_t n) const;
  // grad/hess for every row and output (row-major n x K) from raw scores (n x K).
  void Gradients(const double* scores, const double* y, const double* w, std::int64_t n,
                 double* grad, double* hess, int n_threads) const;
  // raw (n x K) -> transformed values, in place.
  void Transform(double* raw, std::int64_t n, int n_threads) const;

 private:
  ObjectiveKind kind_;
  int num_class_;
  ObjectiveParams params_;
};

}  // namespace sapwood
