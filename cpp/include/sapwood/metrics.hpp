#pragma once
// Ranking metrics of binary scores in O(n log n): ROC AUC (ties count one half, the
// Mann-Whitney statistic) and average precision (the area under the step-wise PR curve).
#include <cstdint>

namespace sapwood {

struct RankingMetrics {
  double roc_auc = 0.0;            // NaN when one class has no weight
  double average_precision = 0.0;  // NaN when positives have no weight
};

// label[i] > 0.5 is a positive; weight may be null (every row weighs 1). Scores must not be NaN
// (DataError naming the row); weights must be finite and >= 0.
RankingMetrics ComputeRankingMetrics(const double* score, const double* label,
                                     const double* weight, std::int64_t n);

}  // namespace sapwood
