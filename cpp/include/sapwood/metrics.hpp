#pragma once
// Ranking metrics of binary scores in O(n log n): ROC AUC (ties count one half, the
// Mann-Whitney statistic) and average precision (the area under the step-wise PR curve).
#include <cstdint>
#include <vector>

namespace sapwood {

struct RankingMetrics {
  double roc_auc = 0.0;            // NaN when one class has no weight
  double average_precision = 0.0;  // NaN when positives have no weight
};

// label[i] > 0.5 is a positive; weight may be null (every row weighs 1). Scores must not be NaN
// (DataError naming the row); weights must be finite and >= 0.
RankingMetrics ComputeRankingMetrics(const double* score, const double* label,
                                     const double* weight, std::int64_t n);

// Per-query ranking metrics. Query q holds rows [bounds[q], bounds[q + 1]) (bounds: nq + 1
// non-decreasing values from 0); out gets one value per query. k <= 0: every position.
//
// NDCG@k: DCG of the documents ordered by descending score, gain[label] / log2(rank + 2) over
// the first k ranks, divided by the DCG of the ideal order. Documents with tied scores share
// their ranks' discounts equally (scikit-learn's ndcg_score with ignore_ties=False), so the
// value does not depend on row order. A query whose ideal DCG is 0 (every gain 0) scores 1
// (as LightGBM and XGBoost). Labels must be integers in [0, gain.size()) (DataError naming the
// row); scores must not be NaN.
void QueryNdcg(const double* score, const double* label, const std::int64_t* bounds,
               std::int64_t nq, std::int64_t k, const std::vector<double>& gain, double* out,
               int n_threads);
// MAP@k (LightGBM's map@k): relevant = label > 0; per query the sum over relevant documents
// within the first k ranks of the precision at their rank, divided by min(k, relevant
// documents of the query); a query without relevant documents scores 1. Tied scores are
// ranked pessimistically (relevant documents after the others), so the value does not depend
// on row order and a constant score earns nothing.
void QueryAveragePrecision(const double* score, const double* label, const std::int64_t* bounds,
                           std::int64_t nq, std::int64_t k, double* out, int n_threads);

// Harrell's concordance index of right-censored data in O(n log n). label: survival time,
// negative for a censored row (XGBoost's survival:cox); risk: higher = earlier event (a hazard
// ratio or the raw margin). A pair (i, j) is comparable when i is an event and |t_j| > t_i, or
// |t_j| == t_i with j censored; it is concordant when risk_i > risk_j, and counts one half when
// the risks tie. Pairs weigh w_i * w_j (weight may be null). NaN when no pair is comparable.
// Labels must be finite and non-zero, risks not NaN (DataError naming the row).
double ConcordanceIndex(const double* risk, const double* label, const double* weight,
                        std::int64_t n);

}  // namespace sapwood
