#include "sapwood/objective.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "sapwood/error.hpp"
#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

// Canonical names only: aliases and foreign names are resolved in Python by the objective
// registry (python/sapwood/objectives.py), which lists one entry per ObjectiveKind.
ObjectiveKind ParseObjective(const std::string& name) {
  if (name == "regression") return ObjectiveKind::kRegression;
  if (name == "binary") return ObjectiveKind::kBinary;
  if (name == "multiclass") return ObjectiveKind::kMulticlass;
  if (name == "poisson") return ObjectiveKind::kPoisson;
  if (name == "gamma") return ObjectiveKind::kGamma;
  if (name == "tweedie") return ObjectiveKind::kTweedie;
  if (name == "l1") return ObjectiveKind::kL1;
  if (name == "huber") return ObjectiveKind::kHuber;
  if (name == "quantile") return ObjectiveKind::kQuantile;
  if (name == "lambdarank") return ObjectiveKind::kLambdarank;
  if (name == "rank_xendcg") return ObjectiveKind::kRankXendcg;
  if (name == "cox") return ObjectiveKind::kCox;
  if (name == "custom") return ObjectiveKind::kCustom;
  throw ParameterError("unknown objective '" + name +
                       "' (expected 'regression', 'binary', 'multiclass', 'poisson', 'gamma', "
                       "'tweedie', 'l1', 'huber', 'quantile', 'lambdarank', 'rank_xendcg' or "
                       "'cox')");
}

std::vector<double> DefaultLabelGain() {
  std::vector<double> g(32);
  for (int i = 0; i < 32; ++i) g[static_cast<std::size_t>(i)] = std::ldexp(1.0, i) - 1.0;
  return g;
}

namespace {

// The sum of term(0) .. term(m - 1), each |term(i)| <= bound, bit-identical in any order: each
// term is rounded to a grid of 2^-s and summed exactly as an int64, s chosen from the bound and
// m so that the sum cannot overflow (a resolution of about bound * m * 2^-62). The scaling is a
// multiply by the power of two and the rounding is inline (std::ldexp and std::llround are libm
// calls per term, and made the huber re-fit cost more than the tree's histograms); any fixed
// per-term rounding keeps the sum an exact, order-free integer.
template <class Term>
double OrderFreeSum(std::int64_t m, double bound, Term term) {
  if (m <= 0 || !(bound > 0) || !std::isfinite(bound)) {
    double s = 0;  // nothing to scale by: every term is 0 (or the bound is not finite)
    for (std::int64_t i = 0; i < m; ++i) s += term(i);
    return s;
  }
  int e_bound = 0, e_count = 0;
  std::frexp(bound, &e_bound);                         // bound < 2^e_bound
  std::frexp(static_cast<double>(m), &e_count);        // m < 2^e_count
  const int shift = 62 - e_bound - e_count;
  const double scale = std::ldexp(1.0, shift);
  std::int64_t acc = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    // |x| < 2^(62 - e_count): fits an int64. Half away from zero, without a branch (a
    // mispredicted sign test per term was most of this loop's time).
    const double x = term(i) * scale;
    acc += static_cast<std::int64_t>(x + std::copysign(0.5, x));
  }
  return std::ldexp(static_cast<double>(acc), -shift);
}

// The k-th smallest (0-based) of src[0, n) by quickselect with out-of-place, branch-free
// three-way partitions: each level writes every value to both ends of the other buffer and
// moves one end on, with no branch on the data (std::nth_element's partition mispredicts about
// half its branches: 20-25 ns per value on leaf-sized arrays of residuals, against 3 here).
// src is only read; a and b: scratch of n values each. With next: also the (k+1)-th smallest
// (k + 1 < n). Pivots are values of the array and only change the work, never the answer. Each
// level keeps at least the pivot out of the next; after 2 log2(n) + 16 levels without an end,
// std::nth_element finishes (O(n log n) at worst).
double QuickSelect(const double* src, double* a, double* b, std::int64_t n, std::int64_t k,
                   double* next) {
  double right_min = std::numeric_limits<double>::infinity();  // least value right of the range
  const double* cur = src;
  double* out = a;
  double* other = b;
  int levels = 0;
  const int max_levels = 2 * static_cast<int>(std::log2(static_cast<double>(n) + 1.0)) + 16;
  auto med3 = [](double x, double y, double z) {
    return std::max(std::min(x, y), std::min(std::max(x, y), z));
  };
  while (n > 16) {
    if (++levels > max_levels) {
      std::copy(cur, cur + n, out);
      std::nth_element(out, out + k, out + n);
      if (next != nullptr) {
        *next = k + 1 < n ? *std::min_element(out + k + 1, out + n) : right_min;
      }
      return out[k];
    }
    // the pivot: the median of three values (of nine above 128 values)
    double p;
    if (n > 128) {
      const std::int64_t s = n / 8;
      p = med3(med3(cur[0], cur[s], cur[2 * s]), med3(cur[3 * s], cur[4 * s], cur[5 * s]),
               med3(cur[6 * s], cur[7 * s], cur[n - 1]));
    } else {
      p = med3(cur[0], cur[n / 2], cur[n - 1]);
    }
    std::int64_t lt = 0, gt = n - 1;
    for (std::int64_t i = 0; i < n; ++i) {
      // lt <= gt until the last value: both slots are free
      const double x = cur[i];
      out[lt] = x;
      lt += x < p;
      out[gt] = x;
      gt -= x > p;
    }
    // out[0, lt) < p, out[lt, gt] == p (not written), out(gt, n) > p
    if (k < lt) {
      right_min = p;
      n = lt;
      cur = out;
    } else if (k <= gt) {
      if (next != nullptr) {
        double mn = right_min;
        for (std::int64_t i = gt + 1; i < n; ++i) mn = std::min(mn, out[i]);
        *next = k + 1 <= gt ? p : mn;
      }
      return p;
    } else {
      k -= gt + 1;
      n -= gt + 1;
      cur = out + gt + 1;
    }
    std::swap(out, other);
  }
  std::copy(cur, cur + n, out);  // a few values left: sort them
  std::sort(out, out + n);
  if (next != nullptr) *next = k + 1 < n ? out[k + 1] : right_min;
  return out[k];
}

// The k-th smallest (0-based) of v[0, m), exactly; v is only read. With next: also the (k+1)-th
// smallest (k + 1 < m). Arrays of a few thousand values or more first take two pivots
// bracketing rank k (3 standard deviations either side) from a strided sample, and keep the
// values between them after one branch-free pass (about a tenth of them); QuickSelect then
// selects among those (or, when rank k or k + 1 falls outside the bracket, among all). The
// result depends only on the multiset of values.
double SelectKth(double* v, std::int64_t m, std::int64_t k, double* next) {
  constexpr std::int64_t kSampleFrom = 2048;
  // scratch per thread, grown only (shrinking and growing again would zero-fill every call)
  thread_local std::vector<double> sa, sb, mid, sample;
  if (sa.size() < static_cast<std::size_t>(m)) {
    sa.resize(static_cast<std::size_t>(m));
    sb.resize(static_cast<std::size_t>(m));
  }
  if (m >= kSampleFrom) {
    const std::int64_t ns = std::min<std::int64_t>(1024, m / 8);
    const std::int64_t gap =
        static_cast<std::int64_t>(1.5 * std::sqrt(static_cast<double>(ns))) + 2;
    sample.resize(static_cast<std::size_t>(ns));
    for (std::int64_t i = 0; i < ns; ++i) sample[static_cast<std::size_t>(i)] = v[i * m / ns];
    const std::int64_t ks = k * ns / m;
    const std::int64_t a = std::max<std::int64_t>(0, ks - gap);
    const std::int64_t b = std::min<std::int64_t>(ns - 1, ks + gap);
    const double lo = QuickSelect(sample.data(), sa.data(), sb.data(), ns, a, nullptr);
    const double hi = QuickSelect(sample.data(), sa.data(), sb.data(), ns, b, nullptr);
    if (mid.size() < static_cast<std::size_t>(m)) mid.resize(static_cast<std::size_t>(m));
    double* md = mid.data();
    std::int64_t below = 0, nm = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      const double x = v[i];
      below += x < lo;
      md[nm] = x;
      nm += (x >= lo) & (x <= hi);
    }
    const std::int64_t kk = k - below;
    if (kk >= 0 && kk + (next != nullptr ? 1 : 0) < nm) {
      return QuickSelect(md, sa.data(), sb.data(), nm, kk, next);
    }
  }
  return QuickSelect(v, sa.data(), sb.data(), m, k, next);
}

}  // namespace

double WeightedQuantile(double* values, double* weights, std::int64_t m, double alpha) {
  if (m <= 0) return 0.0;
  if (weights == nullptr) {
    // Unweighted: the k-th smallest by selection, O(m). target = alpha * m rows must lie at or
    // below the answer.
    const double target = alpha * static_cast<double>(m);
    std::int64_t k = static_cast<std::int64_t>(std::ceil(target)) - 1;
    k = std::clamp<std::int64_t>(k, 0, m - 1);
    // exactly alpha of the rows at or below values[k]: [values[k], next] all minimise
    const bool between = static_cast<double>(k + 1) == target && k + 1 < m;
    double next = 0;
    const double q = SelectKth(values, m, k, between ? &next : nullptr);
    return between ? 0.5 * (q + next) : q;
  }
  // Weighted: sort (value, weight) pairs. Sorting by the pair (not just the value) fixes the
  // order of the cumulative sums, so the result is bit-identical whatever order rows came in.
  std::vector<std::pair<double, double>> vw(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) vw[static_cast<std::size_t>(i)] = {values[i], weights[i]};
  std::sort(vw.begin(), vw.end());
  double total = 0;
  for (const auto& p : vw) total += p.second;
  if (!(total > 0)) return 0.0;
  const double target = alpha * total;
  double cum = 0;
  for (std::size_t i = 0; i < vw.size(); ++i) {
    cum += vw[i].second;
    if (cum >= target && vw[i].second > 0) {
      if (cum == target) {
        for (std::size_t j = i + 1; j < vw.size(); ++j) {
          if (vw[j].second > 0) return 0.5 * (vw[i].first + vw[j].first);
        }
      }
      return vw[i].first;
    }
  }
  // rounding left cum just short of the target: the largest value with weight
  for (std::size_t i = vw.size(); i-- > 0;) {
    if (vw[i].second > 0) return vw[i].first;
  }
  return 0.0;
}

Objective::Objective(ObjectiveKind kind, int num_class, const ObjectiveParams& params)
    : kind_(kind), num_class_(num_class), params_(params) {
  if (kind_ == ObjectiveKind::kMulticlass && num_class_ < 2) {
    throw ParameterError("num_class must be >= 2 for the multiclass objective, got " +
                         std::to_string(num_class_));
  }
  if (kind_ == ObjectiveKind::kQuantile) {
    // num_class: the number of quantile levels (outputs); 1 for the single level `alpha`
    num_class_ = std::max(num_class_, 1);
    const auto& as = params_.alphas;
    if (!as.empty() && static_cast<int>(as.size()) != num_class_) {
      throw ParameterError("parameter 'alpha' has " + std::to_string(as.size()) +
                           " levels but num_class is " + std::to_string(num_class_));
    }
    for (std::size_t i = 0; i < as.size(); ++i) {
      if (!(as[i] > 0.0 && as[i] < 1.0) || (i > 0 && !(as[i] > as[i - 1]))) {
        throw ParameterError("parameter 'alpha' must hold strictly increasing levels in (0, 1); "
                             "item " + std::to_string(i) + " is " + std::to_string(as[i]));
      }
    }
  } else if (kind_ == ObjectiveKind::kCustom) {
    // num_class: the number of outputs the caller's loss gives gradients for (one tree each
    // per round, as multiclass)
    num_class_ = std::max(num_class_, 1);
  } else if (kind_ != ObjectiveKind::kMulticlass) {
    num_class_ = 1;
  }
  const double p = params_.tweedie_variance_power;
  if (kind_ == ObjectiveKind::kTweedie && !(p > 1.0 && p < 2.0)) {
    throw ParameterError("parameter 'tweedie_variance_power' must be in (1, 2), got " +
                         std::to_string(p));
  }
  const double hd = params_.huber_delta;
  if (kind_ == ObjectiveKind::kHuber && !(hd > 0.0 && std::isfinite(hd))) {
    throw ParameterError("parameter 'huber_delta' must be > 0 and finite, got " +
                         std::to_string(hd));
  }
  const double a = params_.alpha;
  if (kind_ == ObjectiveKind::kQuantile && params_.alphas.empty() && !(a > 0.0 && a < 1.0)) {
    throw ParameterError("parameter 'alpha' must be in (0, 1), got " + std::to_string(a));
  }
  const double mds = params_.poisson_max_delta_step;
  if (kind_ == ObjectiveKind::kPoisson && !(mds >= 0.0 && std::isfinite(mds))) {
    throw ParameterError("parameter 'poisson_max_delta_step' must be >= 0 and finite, got " +
                         std::to_string(mds));
  }
  if (IsRanking()) {
    if (params_.lambdarank_truncation_level < 1) {
      throw ParameterError("parameter 'lambdarank_truncation_level' must be >= 1, got " +
                           std::to_string(params_.lambdarank_truncation_level));
    }
    if (params_.label_gain.empty()) params_.label_gain = DefaultLabelGain();
    for (std::size_t i = 0; i < params_.label_gain.size(); ++i) {
      const double g = params_.label_gain[i];
      if (!std::isfinite(g) || g < 0) {
        throw ParameterError("parameter 'label_gain' must hold finite values >= 0; item " +
                             std::to_string(i) + " is " + std::to_string(g));
      }
    }
  }
}

void Objective::SetGroups(std::vector<std::int64_t> bounds) {
  if (bounds.size() < 2 || bounds.front() != 0) {
    throw DataError("query groups must start at row 0 and hold at least one query");
  }
  for (std::size_t q = 1; q < bounds.size(); ++q) {
    if (bounds[q] <= bounds[q - 1]) {
      throw DataError("query " + std::to_string(q - 1) + " is empty or its bounds go backwards");
    }
  }
  group_bounds_ = std::move(bounds);
  inv_max_dcg_of_ = nullptr;  // new queries: their ideal DCGs again
}

void Objective::CheckLabels(const double* y, std::int64_t n) const {
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = y[i];
    if (!std::isfinite(v)) {
      throw DataError("label at row " + std::to_string(i) + " is not finite (" + std::to_string(v) +
                      ")");
    }
    if (kind_ == ObjectiveKind::kBinary && v != 0.0 && v != 1.0) {
      throw DataError("binary objective needs labels in {0, 1}; row " + std::to_string(i) +
                      " has " + std::to_string(v));
    }
    if (kind_ == ObjectiveKind::kMulticlass &&
        (v < 0 || v >= num_class_ || v != std::floor(v))) {
      throw DataError("multiclass objective needs integer labels in [0, " +
                      std::to_string(num_class_) + "); row " + std::to_string(i) + " has " +
                      std::to_string(v));
    }
    if ((kind_ == ObjectiveKind::kPoisson || kind_ == ObjectiveKind::kTweedie) && v < 0) {
      throw DataError(std::string(kind_ == ObjectiveKind::kPoisson ? "poisson" : "tweedie") +
                      " objective needs labels >= 0; row " + std::to_string(i) + " has " +
                      std::to_string(v));
    }
    if (kind_ == ObjectiveKind::kGamma && !(v > 0)) {
      throw DataError("gamma objective needs labels > 0; row " + std::to_string(i) + " has " +
                      std::to_string(v));
    }
    if (IsRanking() && (v < 0 || v != std::floor(v) ||
                        v >= static_cast<double>(params_.label_gain.size()))) {
      throw DataError("ranking objectives need integer relevance labels in [0, " +
                      std::to_string(params_.label_gain.size()) + ") (the size of label_gain); row " +
                      std::to_string(i) + " has " + std::to_string(v));
    }
    if (kind_ == ObjectiveKind::kCox && v == 0) {
      throw DataError("cox objective needs non-zero labels (the survival time; negative for a "
                      "censored row); row " + std::to_string(i) + " has 0");
    }
  }
  if (kind_ == ObjectiveKind::kCox) {
    bool event = false;
    for (std::int64_t i = 0; i < n && !event; ++i) event = y[i] > 0;
    if (!event && n > 0) {
      throw DataError("cox objective needs at least one event (a positive label); every row is "
                      "censored (negative)");
    }
  }
}

std::vector<double> Objective::InitScore(const double* y, const double* w, std::int64_t n) const {
  // Serial sums in row order: the same value on any thread count.
  if (kind_ == ObjectiveKind::kMulticlass) {
    std::vector<double> cnt(static_cast<std::size_t>(num_class_), 0.0);
    double tot = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double wi = w ? w[i] : 1.0;
      cnt[static_cast<std::size_t>(y[i])] += wi;
      tot += wi;
    }
    std::vector<double> out(static_cast<std::size_t>(num_class_));
    for (int k = 0; k < num_class_; ++k) {
      const double p = std::max(cnt[static_cast<std::size_t>(k)] / tot, 1e-15);
      out[static_cast<std::size_t>(k)] = std::log(p);
    }
    return out;
  }
  if (kind_ == ObjectiveKind::kCustom) {
    // the caller's loss: no known constant; every output starts at 0
    return std::vector<double>(static_cast<std::size_t>(num_class_), 0.0);
  }
  if (IsRanking() || kind_ == ObjectiveKind::kCox) {
    // Both losses are invariant to adding a constant to every score (of a query; of the
    // data): the start is 0, as in LightGBM and XGBoost.
    return {0.0};
  }
  if (RenewsLeaves()) {
    // the best constant: the leaf value of the labels themselves (residuals at score 0), per
    // output (multi-quantile: per level; quantiles of one sample never decrease with the level)
    std::vector<double> out(static_cast<std::size_t>(num_class_));
    for (int k = 0; k < num_class_; ++k) {
      std::vector<double> r(y, y + n);
      std::vector<double> wc = w ? std::vector<double>(w, w + n) : std::vector<double>();
      out[static_cast<std::size_t>(k)] = LeafValue(r.data(), w ? wc.data() : nullptr, n, k);
    }
    return out;
  }
  double sw = 0, swy = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    sw += wi;
    swy += wi * y[i];
  }
  const double mean = sw > 0 ? swy / sw : 0.0;
  if (LogLink()) {
    // log link: the constant that minimises each of these losses is log(weighted mean)
    if (!(mean > 0)) {
      throw DataError(std::string("the weighted mean label is ") + std::to_string(mean) +
                      ": the log-link objectives need a positive mean (its log is the initial "
                      "score); every label (or every weight) is zero");
    }
    return {std::log(mean)};
  }
  if (kind_ == ObjectiveKind::kBinary) {
    const double p = std::min(std::max(mean, 1e-15), 1 - 1e-15);
    return {std::log(p / (1 - p))};
  }
  return {mean};
}

void Objective::Gradients(const double* scores, const double* y, const double* w, std::int64_t n,
                          double* grad, double* hess, int n_threads) const {
  if (IsRanking()) {
    RankingGradients(scores, y, w, n, grad, hess, n_threads);
    return;
  }
  if (kind_ == ObjectiveKind::kCustom) {
    throw ParameterError("the custom objective's gradients come from its callable "
                         "(Trainer::SetGradients)");
  }
  if (kind_ == ObjectiveKind::kCox) {
    CoxGradients(scores, y, w, n, grad, hess);
    return;
  }
  const int K = num_class_;
  constexpr std::int64_t kBlock = 8192;
  ParallelFor(0, (n + kBlock - 1) / kBlock, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, r1 = std::min(n, r0 + kBlock);
    std::vector<double> p(static_cast<std::size_t>(K));
    for (std::int64_t i = r0; i < r1; ++i) {
      const double wi = w ? w[i] : 1.0;
      switch (kind_) {
        case ObjectiveKind::kRegression:
          grad[i] = (scores[i] - y[i]) * wi;
          hess[i] = wi;
          break;
        case ObjectiveKind::kBinary: {
          const double pr = 1.0 / (1.0 + std::exp(-scores[i]));
          grad[i] = (pr - y[i]) * wi;
          hess[i] = std::max(pr * (1.0 - pr), 1e-16) * wi;
          break;
        }
        case ObjectiveKind::kMulticlass: {
          const double* s = scores + i * K;
          double mx = s[0];
          for (int k = 1; k < K; ++k) mx = std::max(mx, s[k]);
          double sum = 0;
          for (int k = 0; k < K; ++k) {
            p[static_cast<std::size_t>(k)] = std::exp(s[k] - mx);
            sum += p[static_cast<std::size_t>(k)];
          }
          const int label = static_cast<int>(y[i]);
          const double factor = static_cast<double>(K) / (K - 1);
          for (int k = 0; k < K; ++k) {
            const double pk = p[static_cast<std::size_t>(k)] / sum;
            grad[i * K + k] = (pk - (k == label ? 1.0 : 0.0)) * wi;
            hess[i * K + k] = std::max(factor * pk * (1.0 - pk), 1e-16) * wi;
          }
          break;
        }
        case ObjectiveKind::kPoisson: {
          // loss exp(f) - y f; the hessian is inflated by exp(max_delta_step) (LightGBM's
          // safeguard against huge steps where y is 0 and exp(f) is tiny)
          const double ef = std::exp(scores[i]);
          grad[i] = (ef - y[i]) * wi;
          hess[i] = std::exp(scores[i] + params_.poisson_max_delta_step) * wi;
          break;
        }
        case ObjectiveKind::kGamma: {
          // loss y exp(-f) + f
          const double ye = y[i] * std::exp(-scores[i]);
          grad[i] = (1.0 - ye) * wi;
          hess[i] = std::max(ye, 1e-16) * wi;
          break;
        }
        case ObjectiveKind::kL1: {
          // |f - y|: the sign of the residual; the leaf value is re-fitted (LeafValue)
          const double d = scores[i] - y[i];
          grad[i] = (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) * wi;
          hess[i] = wi;
          break;
        }
        case ObjectiveKind::kHuber: {
          // d^2 / 2 within +-delta, linear beyond: the residual clipped to +-delta
          const double d = scores[i] - y[i];
          const double hd = params_.huber_delta;
          grad[i] = std::clamp(d, -hd, hd) * wi;
          hess[i] = wi;
          break;
        }
        case ObjectiveKind::kQuantile: {
          // pinball loss: alpha (y - f) above the label's side, (1 - alpha) (f - y) below;
          // multi-quantile: output k at its own level
          for (int k = 0; k < K; ++k) {
            const double d = scores[i * K + k] - y[i];
            const double a = Alpha(k);
            grad[i * K + k] = (d >= 0 ? 1.0 - a : -a) * wi;
            hess[i * K + k] = wi;
          }
          break;
        }
        case ObjectiveKind::kTweedie: {
          // loss -y exp((1-p) f) / (1-p) + exp((2-p) f) / (2-p)
          const double rho = params_.tweedie_variance_power;
          const double e1 = std::exp((1.0 - rho) * scores[i]);
          const double e2 = std::exp((2.0 - rho) * scores[i]);
          grad[i] = (-y[i] * e1 + e2) * wi;
          hess[i] = std::max(-y[i] * (1.0 - rho) * e1 + (2.0 - rho) * e2, 1e-16) * wi;
          break;
        }
        default:  // ranking and cox: handled above
          break;
      }
    }
  });
}

double Objective::HuberLeafValue(double* r, double* w, std::int64_t m, double lo,
                                 double hi) const {
  if (m <= 0) return 0.0;
  const double hd = params_.huber_delta;
  double w_max = 1.0;
  if (w != nullptr) {
    w_max = 0.0;
    for (std::int64_t i = 0; i < m; ++i) w_max = std::max(w_max, w[i]);
  }
  const double sw = w != nullptr ? OrderFreeSum(m, w_max, [&](std::int64_t i) { return w[i]; })
                                 : static_cast<double>(m);
  if (!(sw > 0)) return 0.0;  // no weight: as WeightedQuantile
  // (the unweighted sums are separate loops: no test of w per term)
  if (hi - lo <= hd) {
    // Every residual is within huber_delta of the median (of any point in [lo, hi]), so
    // nothing is clipped and the value is the (weighted) mean: a + mean(r - a) for any
    // anchor a in [lo, hi]. Anchored at lo, no selection is needed. The same multiset
    // function, so the same bits in any row order.
    const double bound = (hi - lo) * w_max;
    const double s =
        w != nullptr
            ? OrderFreeSum(m, bound, [&](std::int64_t i) { return w[i] * (r[i] - lo); })
            : OrderFreeSum(m, bound, [&](std::int64_t i) { return r[i] - lo; });
    return lo + s / sw;
  }
  const double med = WeightedQuantile(r, w, m, 0.5);  // keeps the (r, w) pairs together
  auto clipped = [&](std::int64_t i) {
    return std::min(std::max(r[i] - med, -hd), hd);  // branch-free clamp
  };
  const double swd =
      w != nullptr
          ? OrderFreeSum(m, hd * w_max, [&](std::int64_t i) { return w[i] * clipped(i); })
          : OrderFreeSum(m, hd * w_max, clipped);
  return med + swd / sw;
}

double Objective::LeafValue(double* r, double* w, std::int64_t m, int k) const {
  switch (kind_) {
    case ObjectiveKind::kL1:
      return WeightedQuantile(r, w, m, 0.5);
    case ObjectiveKind::kQuantile:
      if (k < 0 || k >= num_class_) throw ParameterError("LeafValue: output out of range");
      if (num_class_ > 1 && params_.alphas.empty()) {
        throw ParameterError("the multi-quantile objective needs its levels (alpha) to train");
      }
      return WeightedQuantile(r, w, m, Alpha(k));
    case ObjectiveKind::kHuber: {
      if (m <= 0) return 0.0;
      // Friedman (2001), M-TreeBoost: median + mean clipped deviation. The median is robust,
      // the clipped mean moves it towards the Huber minimiser. Both depend only on the multiset
      // of (residual, weight) pairs, so the value is the same bits on any thread count and any
      // split of the rows over workers: the median by selection (O(m)), the sums in fixed
      // point (OrderFreeSum). (Sorting every leaf's residuals to fix the summation order made
      // huber fits 3x LightGBM's.)
      double lo = r[0], hi = r[0];
      {
        // four independent minima and maxima: one chain would wait on each min's latency
        double l4[4] = {r[0], r[0], r[0], r[0]}, h4[4] = {r[0], r[0], r[0], r[0]};
        std::int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
          for (int j = 0; j < 4; ++j) {
            l4[j] = std::min(l4[j], r[i + j]);
            h4[j] = std::max(h4[j], r[i + j]);
          }
        }
        for (; i < m; ++i) {
          l4[0] = std::min(l4[0], r[i]);
          h4[0] = std::max(h4[0], r[i]);
        }
        lo = std::min(std::min(l4[0], l4[1]), std::min(l4[2], l4[3]));
        hi = std::max(std::max(h4[0], h4[1]), std::max(h4[2], h4[3]));
      }
      return HuberLeafValue(r, w, m, lo, hi);
    }
    default:
      throw ParameterError("LeafValue: the objective does not re-fit its leaves");
  }
}

namespace {

// The DCG position discount of 0-based rank i: 1 / log2(i + 2).
inline double Discount(std::int64_t i) {
  // a table for the usual ranks (built once; thread-safe static initialisation)
  constexpr std::int64_t kTable = 4096;
  static const std::vector<double> table = [] {
    std::vector<double> t(kTable);
    for (std::int64_t r = 0; r < kTable; ++r)
      t[static_cast<std::size_t>(r)] = 1.0 / std::log2(static_cast<double>(r) + 2.0);
    return t;
  }();
  return i < kTable ? table[static_cast<std::size_t>(i)]
                    : 1.0 / std::log2(static_cast<double>(i) + 2.0);
}

// 1 / (the ideal DCG at the truncation level) of one query: its gains in descending order. 0
// when every gain is 0 (no order is better than another). Depends only on the labels: computed
// once per query, not every round.
double InverseMaxDcg(const double* y, std::int64_t m, const ObjectiveParams& p) {
  const std::int64_t trunc = std::min<std::int64_t>(p.lambdarank_truncation_level, m);
  if (trunc <= 0) return 0.0;
  std::vector<double> ideal(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i)
    ideal[static_cast<std::size_t>(i)] = p.label_gain[static_cast<std::size_t>(y[i])];
  std::partial_sort(ideal.begin(), ideal.begin() + trunc, ideal.end(), std::greater<double>());
  double max_dcg = 0;
  for (std::int64_t i = 0; i < trunc; ++i) max_dcg += ideal[static_cast<std::size_t>(i)] * Discount(i);
  return max_dcg > 0 ? 1.0 / max_dcg : 0.0;
}

// LambdaMART on one query (Burges 2010; the gradients LightGBM's lambdarank computes): every
// pair of documents with different labels, one of them ranked in the top `truncation` by the
// current scores, pushes the better one up and the other down with the pairwise logistic loss's
// gradient, weighted by the change in NDCG that swapping the two would make.
void LambdarankQuery(const double* s, const double* y, std::int64_t m, const ObjectiveParams& p,
                     double inv_max_dcg, double* g, double* h) {
  std::fill(g, g + m, 0.0);
  std::fill(h, h + m, 0.0);
  if (m <= 1 || !(inv_max_dcg > 0)) return;  // every label 0: nothing to order
  const std::int64_t trunc = std::min<std::int64_t>(p.lambdarank_truncation_level, m);
  // Documents by descending score; ties by row (a fixed order: the same gradients every time).
  // Sorting (-score, row) pairs by value: no indirect loads in the comparisons.
  thread_local std::vector<std::pair<double, std::int64_t>> order;
  order.resize(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) order[static_cast<std::size_t>(i)] = {-s[i], i};
  std::sort(order.begin(), order.end());
  // In rank order: score, gain, exp(score - best) and the rank's discount. The pair loop then
  // needs no exp or log: sigmoid(s_lo - s_hi) = e_lo / (e_hi + e_lo). Raw pointers into the
  // thread's buffers (a thread_local vector read inside the loop costs a TLS lookup).
  thread_local std::vector<double> buf;
  buf.resize(static_cast<std::size_t>(m) * 6);
  double* rs = buf.data();
  double* rg = rs + m;
  double* re = rg + m;
  double* rd = re + m;
  double* rgrad = rd + m;
  double* rhess = rgrad + m;
  const double best = -order.front().first;
  for (std::int64_t r = 0; r < m; ++r) {
    const std::int64_t d = order[static_cast<std::size_t>(r)].second;
    rs[r] = s[d];
    rg[r] = p.label_gain[static_cast<std::size_t>(y[d])];
    re[r] = std::exp(s[d] - best);
    rd[r] = Discount(r);
    rgrad[r] = 0.0;
    rhess[r] = 0.0;
  }
  const bool norm = p.lambdarank_norm && rs[0] != rs[m - 1];
  double sum_lambda = 0;
  for (std::int64_t a = 0; a < m - 1 && a < trunc; ++a) {
    const double sa = rs[a], ga = rg[a], ea = re[a], da = rd[a];
    double grad_a = 0, hess_a = 0;
    for (std::int64_t b = a + 1; b < m; ++b) {
      // Equal labels (equal gains) change no NDCG: skipped, as LightGBM skips equal labels
      // (a pair of different labels with equal gains would add exactly 0).
      const double dg = ga - rg[b];
      if (dg == 0) continue;
      // hi: the document with the larger gain, lo the other. The discount difference da - rd[b]
      // is > 0 (a ranks above b), and the denominators below are symmetric in the pair.
      const double delta_ndcg = std::fabs(dg) * (da - rd[b]) * inv_max_dcg;
      const double dist = norm ? 0.01 + std::fabs(sa - rs[b]) : 1.0;
      // d/ds_hi of log(1 + exp(-(s_hi - s_lo))) = -rho, rho = sigmoid(s_lo - s_hi)
      //   = e_lo / (e_hi + e_lo): one division per pair gives both
      //   lambda = -rho * delta_ndcg / dist and hess = rho (1 - rho) delta_ndcg / dist.
      const double den = ea + re[b];
      const double e_lo = dg > 0 ? re[b] : ea;
      double t, hess;  // t = -lambda >= 0: the push up on hi (and down on lo)
      if (den > 0) {
        const double q = delta_ndcg / (den * den * dist);
        t = e_lo * den * q;
        hess = ea * re[b] * q;
      } else {  // both underflowed (scores hundreds apart from the query's best)
        const double delta_score = dg > 0 ? sa - rs[b] : rs[b] - sa;
        const double rho = 1.0 / (1.0 + std::exp(delta_score));
        t = rho * delta_ndcg / dist;
        hess = rho * (1.0 - rho) * delta_ndcg / dist;
      }
      const double ta = dg > 0 ? -t : t;  // a's gradient: down (negative) when a is hi
      grad_a += ta;
      hess_a += hess;
      rgrad[b] -= ta;
      rhess[b] += hess;
      sum_lambda += 2 * t;
    }
    rgrad[a] += grad_a;
    rhess[a] += hess_a;
  }
  // queries with many mis-ordered pairs would otherwise dominate the tree
  const double f = p.lambdarank_norm && sum_lambda > 0
                       ? std::log2(1.0 + sum_lambda) / sum_lambda : 1.0;
  for (std::int64_t r = 0; r < m; ++r) {
    const std::int64_t d = order[static_cast<std::size_t>(r)].second;
    g[d] = rgrad[r] * f;
    h[d] = rhess[r] * f;
  }
}

// XE-NDCG (Bruch 2021, LightGBM's rank_xendcg) on one query: the cross entropy between the
// softmax of the scores and a target distribution proportional to gain + 1 - u, u uniform per
// row and round, with the paper's second-order approximation of the gradient.
void XendcgQuery(const double* s, const double* y, std::int64_t m, const ObjectiveParams& p,
                 std::uint64_t round, std::int64_t row0, double* g, double* h) {
  if (m <= 1) {
    std::fill(g, g + m, 0.0);
    std::fill(h, h + m, 0.0);
    return;
  }
  constexpr double kEps = 1e-15;
  thread_local std::vector<double> rho, phi;
  rho.resize(static_cast<std::size_t>(m));
  phi.resize(static_cast<std::size_t>(m));
  double mx = s[0];
  for (std::int64_t i = 1; i < m; ++i) mx = std::max(mx, s[i]);
  double z = 0;
  for (std::int64_t i = 0; i < m; ++i) z += rho[static_cast<std::size_t>(i)] = std::exp(s[i] - mx);
  for (auto& r : rho) r /= z;
  double den = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    const double u = UniformCounter(p.seed, 0x3000u + round, static_cast<std::uint64_t>(row0 + i));
    phi[static_cast<std::size_t>(i)] = p.label_gain[static_cast<std::size_t>(y[i])] + 1.0 - u;
    den += phi[static_cast<std::size_t>(i)];
  }
  const double inv_den = 1.0 / std::max(kEps, den);
  double sum1 = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    const double term = rho[k] - phi[k] * inv_den;
    g[i] = term;
    phi[k] = term / std::max(kEps, 1.0 - rho[k]);
    sum1 += phi[k];
  }
  double sum2 = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    const double term = rho[k] * (sum1 - phi[k]);
    g[i] += term;
    phi[k] = term / std::max(kEps, 1.0 - rho[k]);
    sum2 += phi[k];
  }
  for (std::int64_t i = 0; i < m; ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    g[i] += rho[k] * (sum2 - phi[k]);
    h[i] = rho[k] * (1.0 - rho[k]);
  }
}

}  // namespace

void Objective::RankingGradients(const double* scores, const double* y, const double* w,
                                 std::int64_t n, double* grad, double* hess,
                                 int n_threads) const {
  const std::uint64_t round = static_cast<std::uint64_t>(round_++);
  if (group_bounds_.empty()) {
    throw DataError(std::string("the ") +
                    (kind_ == ObjectiveKind::kLambdarank ? "lambdarank" : "rank_xendcg") +
                    " objective needs query groups (group= or qid= in the Dataset)");
  }
  if (!query_rows_.empty() && query_rows_.size() + 1 != group_bounds_.size()) {
    throw DataError("query rows and query groups differ in count");
  }
  if (group_bounds_.back() != n) {
    throw DataError("the query groups hold " + std::to_string(group_bounds_.back()) +
                    " rows but the data has " + std::to_string(n));
  }
  const std::int64_t nq = static_cast<std::int64_t>(group_bounds_.size()) - 1;
  if (kind_ == ObjectiveKind::kLambdarank &&
      (inv_max_dcg_of_ != y || static_cast<std::int64_t>(inv_max_dcg_.size()) != nq)) {
    // each query's 1 / ideal DCG depends only on its labels: once, not every round
    inv_max_dcg_.resize(static_cast<std::size_t>(nq));
    ParallelForDynamic(0, nq, n_threads, [&](std::int64_t q) {
      const std::int64_t b = group_bounds_[static_cast<std::size_t>(q)];
      const std::int64_t m = group_bounds_[static_cast<std::size_t>(q) + 1] - b;
      inv_max_dcg_[static_cast<std::size_t>(q)] = InverseMaxDcg(y + b, m, params_);
    });
    inv_max_dcg_of_ = y;
  }
  // Queries own disjoint rows, each written by one thread in a fixed order: the same bits on
  // any thread count.
  ParallelForDynamic(0, nq, n_threads, [&](std::int64_t q) {
    const std::int64_t b = group_bounds_[static_cast<std::size_t>(q)];
    const std::int64_t m = group_bounds_[static_cast<std::size_t>(q) + 1] - b;
    if (kind_ == ObjectiveKind::kLambdarank) {
      LambdarankQuery(scores + b, y + b, m, params_, inv_max_dcg_[static_cast<std::size_t>(q)],
                      grad + b, hess + b);
    } else {
      const std::int64_t row0 = query_rows_.empty() ? b : query_rows_[static_cast<std::size_t>(q)];
      XendcgQuery(scores + b, y + b, m, params_, round, row0, grad + b, hess + b);
    }
    if (w != nullptr) {
      // a query's weight: the mean of its rows' weights (LightGBM's query weights)
      double qw = 0;
      for (std::int64_t i = b; i < b + m; ++i) qw += w[i];
      qw /= static_cast<double>(m);
      for (std::int64_t i = b; i < b + m; ++i) {
        grad[i] *= qw;
        hess[i] *= qw;
      }
    }
  });
}

void Objective::CoxGradients(const double* scores, const double* y, const double* w,
                             std::int64_t n, double* grad, double* hess) const {
  // Negative Breslow log partial likelihood:
  //   L = -sum_{events i} w_i (f_i - log S(t_i)),  S(t) = sum_{j: t_j >= t} w_j exp(f_j),
  // with t = |label|. Rows tied in time share one risk set (Breslow): a row at time t is at risk
  // for every event at t. For row k:
  //   grad_k = e_k A(t_k) - w_k [k is an event],  hess_k = e_k A(t_k) - e_k^2 B(t_k),
  //   e_k = w_k exp(f_k), A(t) = sum_{events i, t_i <= t} w_i / S(t_i), B alike with S^2.
  // Unweighted this is XGBoost's survival:cox (which also adds weights only to the gradients).
  if (n <= 0) return;
  if (time_order_of_ != y || static_cast<std::int64_t>(time_order_.size()) != n) {
    time_order_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) time_order_[static_cast<std::size_t>(i)] = i;
    std::stable_sort(time_order_.begin(), time_order_.end(), [&](std::int64_t a, std::int64_t b) {
      return std::fabs(y[a]) < std::fabs(y[b]);
    });
    time_order_of_ = y;
  }
  const auto& ord = time_order_;
  double mx = scores[0];
  for (std::int64_t i = 1; i < n; ++i) mx = std::max(mx, scores[i]);
  // e_k relative to the largest score (the ratios e_k / S are unchanged; nothing overflows)
  for (std::int64_t i = 0; i < n; ++i) grad[i] = (w ? w[i] : 1.0) * std::exp(scores[i] - mx);
  // S(t) of each distinct time, from the latest back: serial sums in time order, the same on
  // any thread count. hess holds S of each row's time for now.
  double risk = 0;
  for (std::int64_t e = n; e > 0;) {
    std::int64_t b = e - 1;
    const double t = std::fabs(y[ord[static_cast<std::size_t>(b)]]);
    while (b > 0 && std::fabs(y[ord[static_cast<std::size_t>(b - 1)]]) == t) --b;
    for (std::int64_t i = b; i < e; ++i) risk += grad[ord[static_cast<std::size_t>(i)]];
    for (std::int64_t i = b; i < e; ++i) hess[ord[static_cast<std::size_t>(i)]] = risk;
    e = b;
  }
  double a = 0, b2 = 0;
  for (std::int64_t s0 = 0; s0 < n;) {
    std::int64_t s1 = s0;
    const double t = std::fabs(y[ord[static_cast<std::size_t>(s0)]]);
    double events = 0;
    while (s1 < n && std::fabs(y[ord[static_cast<std::size_t>(s1)]]) == t) {
      const std::int64_t k = ord[static_cast<std::size_t>(s1)];
      if (y[k] > 0) events += w ? w[k] : 1.0;
      ++s1;
    }
    const double srisk = hess[ord[static_cast<std::size_t>(s0)]];
    if (events > 0 && srisk > 0) {
      a += events / srisk;
      b2 += events / (srisk * srisk);
    }
    for (std::int64_t i = s0; i < s1; ++i) {
      const std::int64_t k = ord[static_cast<std::size_t>(i)];
      const double ek = grad[k];
      grad[k] = ek * a - (y[k] > 0 ? (w ? w[k] : 1.0) : 0.0);
      hess[k] = std::max(ek * a - ek * ek * b2, 0.0);
    }
    s0 = s1;
  }
}

void Objective::Transform(double* raw, std::int64_t n, int n_threads) const {
  if (IdentityLink()) return;
  const int K = num_class_;
  constexpr std::int64_t kBlock = 8192;
  ParallelFor(0, (n + kBlock - 1) / kBlock, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, r1 = std::min(n, r0 + kBlock);
    for (std::int64_t i = r0; i < r1; ++i) {
      if (SortsOutputs()) {
        // Multi-quantile rearrangement: each row's K levels sorted ascending, so predicted
        // quantiles never cross on any input (see objective.hpp). Insertion sort by hand: K is
        // a handful, and unlike std::sort it is well defined for any values (NaN included).
        double* s = raw + i * K;
        for (int a = 1; a < K; ++a) {
          const double v = s[a];
          int b = a;
          for (; b > 0 && s[b - 1] > v; --b) s[b] = s[b - 1];
          s[b] = v;
        }
      } else if (kind_ == ObjectiveKind::kBinary) {
        raw[i] = 1.0 / (1.0 + std::exp(-raw[i]));
      } else if (LogLink() || kind_ == ObjectiveKind::kCox) {
        raw[i] = std::exp(raw[i]);
      } else {
        double* s = raw + i * K;
        double mx = s[0];
        for (int k = 1; k < K; ++k) mx = std::max(mx, s[k]);
        double sum = 0;
        for (int k = 0; k < K; ++k) {
          s[k] = std::exp(s[k] - mx);
          sum += s[k];
        }
        for (int k = 0; k < K; ++k) s[k] /= sum;
      }
    }
  });
}

}  // namespace sapwood
