#include "sapwood/objective.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sapwood/error.hpp"
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
  throw ParameterError("unknown objective '" + name +
                       "' (expected 'regression', 'binary', 'multiclass', 'poisson', 'gamma', "
                       "'tweedie', 'l1', 'huber' or 'quantile')");
}

double WeightedQuantile(double* values, double* weights, std::int64_t m, double alpha) {
  if (m <= 0) return 0.0;
  if (weights == nullptr) {
    // Unweighted: the k-th smallest by selection, O(m). target = alpha * m rows must lie at or
    // below the answer.
    const double target = alpha * static_cast<double>(m);
    std::int64_t k = static_cast<std::int64_t>(std::ceil(target)) - 1;
    k = std::clamp<std::int64_t>(k, 0, m - 1);
    std::nth_element(values, values + k, values + m);
    const double q = values[k];
    if (static_cast<double>(k + 1) == target && k + 1 < m) {
      // exactly alpha of the rows at or below values[k]: [values[k], next] all minimise
      return 0.5 * (q + *std::min_element(values + k + 1, values + m));
    }
    return q;
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
  if (kind_ != ObjectiveKind::kMulticlass) num_class_ = 1;
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
  if (kind_ == ObjectiveKind::kQuantile && !(a > 0.0 && a < 1.0)) {
    throw ParameterError("parameter 'alpha' must be in (0, 1), got " + std::to_string(a));
  }
  const double mds = params_.poisson_max_delta_step;
  if (kind_ == ObjectiveKind::kPoisson && !(mds >= 0.0 && std::isfinite(mds))) {
    throw ParameterError("parameter 'poisson_max_delta_step' must be >= 0 and finite, got " +
                         std::to_string(mds));
  }
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
  if (RenewsLeaves()) {
    // the best constant: the leaf value of the labels themselves (residuals at score 0)
    std::vector<double> r(y, y + n);
    std::vector<double> wc = w ? std::vector<double>(w, w + n) : std::vector<double>();
    return {LeafValue(r.data(), w ? wc.data() : nullptr, n)};
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
          // pinball loss: alpha (y - f) above the label's side, (1 - alpha) (f - y) below
          const double d = scores[i] - y[i];
          grad[i] = (d >= 0 ? 1.0 - params_.alpha : -params_.alpha) * wi;
          hess[i] = wi;
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
      }
    }
  });
}

double Objective::LeafValue(double* r, double* w, std::int64_t m) const {
  switch (kind_) {
    case ObjectiveKind::kL1:
      return WeightedQuantile(r, w, m, 0.5);
    case ObjectiveKind::kQuantile:
      return WeightedQuantile(r, w, m, params_.alpha);
    case ObjectiveKind::kHuber: {
      if (m <= 0) return 0.0;
      // Friedman (2001), M-TreeBoost: median + mean clipped deviation. The median is robust,
      // the clipped mean moves it towards the Huber minimiser. Summed over the residuals in
      // ascending (value, weight) order: the same bits on any thread count.
      std::vector<std::pair<double, double>> vw(static_cast<std::size_t>(m));
      for (std::int64_t i = 0; i < m; ++i)
        vw[static_cast<std::size_t>(i)] = {r[i], w ? w[i] : 1.0};
      std::sort(vw.begin(), vw.end());
      for (std::int64_t i = 0; i < m; ++i) {
        r[i] = vw[static_cast<std::size_t>(i)].first;
        if (w) w[i] = vw[static_cast<std::size_t>(i)].second;
      }
      const double med = WeightedQuantile(r, w, m, 0.5);
      const double hd = params_.huber_delta;
      double sw = 0, swd = 0;
      for (const auto& [v, wi] : vw) {
        sw += wi;
        swd += wi * std::clamp(v - med, -hd, hd);
      }
      return sw > 0 ? med + swd / sw : med;
    }
    default:
      throw ParameterError("LeafValue: the objective does not re-fit its leaves");
  }
}

void Objective::Transform(double* raw, std::int64_t n, int n_threads) const {
  if (IdentityLink()) return;
  const int K = num_class_;
  constexpr std::int64_t kBlock = 8192;
  ParallelFor(0, (n + kBlock - 1) / kBlock, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, r1 = std::min(n, r0 + kBlock);
    for (std::int64_t i = r0; i < r1; ++i) {
      if (kind_ == ObjectiveKind::kBinary) {
        raw[i] = 1.0 / (1.0 + std::exp(-raw[i]));
      } else if (LogLink()) {
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
