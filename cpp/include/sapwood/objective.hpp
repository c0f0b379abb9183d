#pragma once
// Built-in objectives: gradients/hessians of the loss, initial scores, output transforms.
#include <cstdint>
#include <string>
#include <vector>

namespace sapwood {

enum class ObjectiveKind { kRegression, kBinary, kMulticlass };

ObjectiveKind ParseObjective(const std::string& name);

class Objective {
 public:
  Objective(ObjectiveKind kind, int num_class);
  ObjectiveKind Kind() const { return kind_; }
  int NumOutputs() const { return kind_ == ObjectiveKind::kMulticlass ? num_class_ : 1; }

  // Checks labels (finite; {0,1} for binary; integers in [0, num_class) for multiclass).
  void CheckLabels(const double* y, std::int64_t n) const;
  // Initial raw score per output: weighted mean, log-odds, or log class priors.
  std::vector<double> InitScore(const double* y, const double* w, std::int64_t n) const;
  // grad/hess for every row and output (row-major n x K) from raw scores (n x K).
  void Gradients(const double* scores, const double* y, const double* w, std::int64_t n,
                 double* grad, double* hess, int n_threads) const;
  // raw (n x K) -> transformed values, in place.
  void Transform(double* raw, std::int64_t n, int n_threads) const;

 private:
  ObjectiveKind kind_;
  int num_class_;
};

}  // namespace sapwood
