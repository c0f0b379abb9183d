#include "sapwood/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "sapwood/error.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

namespace {

// An order-preserving map of doubles to unsigned integers (-0.0 and +0.0 map alike).
inline std::uint64_t SortKey(double v) {
  v += 0.0;  // -0.0 -> +0.0
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : (b | (std::uint64_t{1} << 63));
}

struct Item {
  std::uint64_t key;
  double weight;
};

inline std::uint64_t KeyOf(const Item& it) { return it.key; }
inline std::uint64_t KeyOf(std::uint64_t k) { return k; }
inline double WeightOf(const Item& it) { return it.weight; }
inline double WeightOf(std::uint64_t) { return 1.0; }

// LSD radix sort on 16-bit digits; a pass is skipped when every key shares that digit (the
// high digits of probabilities often do). Small inputs use std::sort.
template <class T>
void SortByKey(T* items, std::size_t n, std::vector<T>& tmp) {
  if (n < 2048) {
    std::sort(items, items + n, [](const T& a, const T& b) { return KeyOf(a) < KeyOf(b); });
    return;
  }
  tmp.resize(n);
  std::vector<std::uint32_t> count(1u << 16);
  T* src = items;
  T* dst = tmp.data();
  for (int shift = 0; shift < 64; shift += 16) {
    std::fill(count.begin(), count.end(), 0u);
    for (std::size_t i = 0; i < n; ++i) ++count[(KeyOf(src[i]) >> shift) & 0xFFFF];
    if (count[(KeyOf(src[0]) >> shift) & 0xFFFF] == n) continue;  // one digit everywhere
    std::uint32_t sum = 0;
    for (auto& c : count) {
      const std::uint32_t v = c;
      c = sum;
      sum += v;
    }
    for (std::size_t i = 0; i < n; ++i) dst[count[(KeyOf(src[i]) >> shift) & 0xFFFF]++] = src[i];
    std::swap(src, dst);
  }
  if (src != items) std::memcpy(items, src, n * sizeof(T));
}

// Both metrics from the positives' and negatives' items, each sorted by key.
template <class T>
RankingMetrics FromSorted(const T* pos, std::size_t np, const T* neg, std::size_t nn) {
  double total_pos = 0.0, total_neg = 0.0, num = 0.0;
  // ROC AUC: walk distinct keys upwards; each positive beats the negatives strictly below
  // and ties half of those equal to it.
  {
    std::size_t i = 0, j = 0;
    double neg_below = 0.0;
    while (i < np) {
      const std::uint64_t k = KeyOf(pos[i]);
      while (j < nn && KeyOf(neg[j]) < k) neg_below += WeightOf(neg[j++]);
      double wp = 0.0, wn = 0.0;
      for (; i < np && KeyOf(pos[i]) == k; ++i) wp += WeightOf(pos[i]);
      for (std::size_t jj = j; jj < nn && KeyOf(neg[jj]) == k; ++jj) wn += WeightOf(neg[jj]);
      num += wp * (neg_below + 0.5 * wn);
      total_pos += wp;
    }
    for (std::size_t jj = 0; jj < nn; ++jj) total_neg += WeightOf(neg[jj]);
  }
  RankingMetrics r;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.roc_auc = (total_pos > 0.0 && total_neg > 0.0) ? num / (total_pos * total_neg) : nan;
  // Average precision: walk distinct thresholds downwards; each adds the recall it gains
  // times the precision at that threshold.
  r.average_precision = nan;
  if (total_pos > 0.0) {
    std::size_t i = np, j = nn;
    double tp = 0.0, fp = 0.0, ap = 0.0;
    while (i > 0 || j > 0) {
      std::uint64_t k = 0;
      if (i > 0) k = KeyOf(pos[i - 1]);
      if (j > 0 && (i == 0 || KeyOf(neg[j - 1]) > k)) k = KeyOf(neg[j - 1]);
      double dtp = 0.0;
      for (; i > 0 && KeyOf(pos[i - 1]) == k; --i) dtp += WeightOf(pos[i - 1]);
      for (; j > 0 && KeyOf(neg[j - 1]) == k; --j) fp += WeightOf(neg[j - 1]);
      tp += dtp;
      if (dtp > 0.0) ap += (dtp / total_pos) * (tp / (tp + fp));
    }
    r.average_precision = ap;
  }
  return r;
}

// Positives first, negatives after, in one buffer sized once (fresh memory is slow to get).
template <class T, class Make>
RankingMetrics Compute(const double* score, const double* label, std::int64_t n, Make make) {
  std::size_t np = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(score[i])) throw DataError("score is NaN at row " + std::to_string(i));
    np += label[i] > 0.5;
  }
  const std::size_t total = static_cast<std::size_t>(n);
  std::vector<T> items(total);
  std::size_t ip = 0, in = np;
  for (std::int64_t i = 0; i < n; ++i) {
    items[label[i] > 0.5 ? ip++ : in++] = make(i);
  }
  std::vector<T> tmp;
  SortByKey(items.data(), np, tmp);
  SortByKey(items.data() + np, total - np, tmp);
  return FromSorted(items.data(), np, items.data() + np, total - np);
}

}  // namespace

RankingMetrics ComputeRankingMetrics(const double* score, const double* label,
                                     const double* weight, std::int64_t n) {
  if (n < 0) throw DataError("negative row count");
  if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint32_t>::max()) {
    throw DataError("ranking metrics support at most 2^32 - 1 rows");
  }
  if (weight == nullptr) {
    return Compute<std::uint64_t>(score, label, n, [&](std::int64_t i) {
      return SortKey(score[i]);
    });
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const double w = weight[i];
    if (!(w >= 0.0) || !std::isfinite(w)) {
      throw DataError("sample weight must be finite and >= 0; row " + std::to_string(i) +
                      " has " + std::to_string(w));
    }
  }
  return Compute<Item>(score, label, n, [&](std::int64_t i) {
    return Item{SortKey(score[i]), weight[i]};
  });
}

namespace {

inline double Discount(std::int64_t i) { return 1.0 / std::log2(static_cast<double>(i) + 2.0); }

void CheckQueries(const double* score, const std::int64_t* bounds, std::int64_t nq) {
  if (nq < 0 || bounds[0] != 0) throw DataError("query bounds must start at row 0");
  for (std::int64_t q = 0; q < nq; ++q) {
    if (bounds[q + 1] < bounds[q]) throw DataError("query bounds must not decrease");
  }
  for (std::int64_t i = 0; i < bounds[nq]; ++i) {
    if (std::isnan(score[i])) throw DataError("score is NaN at row " + std::to_string(i));
  }
}

}  // namespace

void QueryNdcg(const double* score, const double* label, const std::int64_t* bounds,
               std::int64_t nq, std::int64_t k, const std::vector<double>& gain, double* out,
               int n_threads) {
  CheckQueries(score, bounds, nq);
  for (std::int64_t i = 0; i < bounds[nq]; ++i) {
    const double v = label[i];
    if (!(v >= 0) || v != std::floor(v) || v >= static_cast<double>(gain.size())) {
      throw DataError("ndcg needs integer relevance labels in [0, " + std::to_string(gain.size()) +
                      "); row " + std::to_string(i) + " has " + std::to_string(v));
    }
  }
  // Each query is one work item writing one output: any thread count gives the same values.
  ParallelForDynamic(0, nq, n_threads, [&](std::int64_t q) {
    const std::int64_t b = bounds[q], m = bounds[q + 1] - b;
    const std::int64_t kk = k > 0 ? std::min(k, m) : m;
    std::vector<double> g(static_cast<std::size_t>(m));
    for (std::int64_t i = 0; i < m; ++i) g[static_cast<std::size_t>(i)] =
        gain[static_cast<std::size_t>(label[b + i])];
    std::vector<std::int64_t> order(static_cast<std::size_t>(m));
    for (std::int64_t i = 0; i < m; ++i) order[static_cast<std::size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) {
      return score[b + x] > score[b + y] || (score[b + x] == score[b + y] && x < y);
    });
    double dcg = 0;
    for (std::int64_t p = 0; p < kk;) {
      // the tie group [p, e): its mean gain over the discounts of its ranks within the cut
      std::int64_t e = p + 1;
      const double sp = score[b + order[static_cast<std::size_t>(p)]];
      while (e < m && score[b + order[static_cast<std::size_t>(e)]] == sp) ++e;
      double sum_gain = 0, sum_disc = 0;
      for (std::int64_t i = p; i < e; ++i) sum_gain += g[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
      for (std::int64_t i = p; i < std::min(e, kk); ++i) sum_disc += Discount(i);
      dcg += sum_gain / static_cast<double>(e - p) * sum_disc;
      p = e;
    }
    std::sort(g.begin(), g.end(), std::greater<double>());
    double ideal = 0;
    for (std::int64_t i = 0; i < kk; ++i) ideal += g[static_cast<std::size_t>(i)] * Discount(i);
    out[q] = ideal > 0 ? dcg / ideal : 1.0;
  });
}

void QueryAveragePrecision(const double* score, const double* label, const std::int64_t* bounds,
                           std::int64_t nq, std::int64_t k, double* out, int n_threads) {
  CheckQueries(score, bounds, nq);
  for (std::int64_t i = 0; i < bounds[nq]; ++i) {
    if (!std::isfinite(label[i])) {
      throw DataError("map needs finite labels; row " + std::to_string(i) + " has " +
                      std::to_string(label[i]));
    }
  }
  ParallelForDynamic(0, nq, n_threads, [&](std::int64_t q) {
    const std::int64_t b = bounds[q], m = bounds[q + 1] - b;
    const std::int64_t kk = k > 0 ? std::min(k, m) : m;
    std::vector<std::int64_t> order(static_cast<std::size_t>(m));
    std::int64_t relevant = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      order[static_cast<std::size_t>(i)] = i;
      relevant += label[b + i] > 0;
    }
    if (relevant == 0) {
      out[q] = 1.0;
      return;
    }
    // by descending score; among ties the non-relevant first (pessimistic), then by row
    std::sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) {
      const double sx = score[b + x], sy = score[b + y];
      if (sx != sy) return sx > sy;
      const bool rx = label[b + x] > 0, ry = label[b + y] > 0;
      if (rx != ry) return ry;
      return x < y;
    });
    double hits = 0, sum = 0;
    for (std::int64_t i = 0; i < kk; ++i) {
      if (label[b + order[static_cast<std::size_t>(i)]] > 0) {
        hits += 1;
        sum += hits / static_cast<double>(i + 1);
      }
    }
    out[q] = sum / static_cast<double>(std::min(kk, relevant));
  });
}

double ConcordanceIndex(const double* risk, const double* label, const double* weight,
                        std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(risk[i])) throw DataError("risk score is NaN at row " + std::to_string(i));
    if (!std::isfinite(label[i]) || label[i] == 0) {
      throw DataError("concordance needs finite, non-zero labels (the survival time; negative "
                      "for a censored row); row " + std::to_string(i) + " has " +
                      std::to_string(label[i]));
    }
    if (weight != nullptr && (!std::isfinite(weight[i]) || weight[i] < 0)) {
      throw DataError("sample weight must be finite and >= 0; row " + std::to_string(i) +
                      " has " + std::to_string(weight[i]));
    }
  }
  if (n <= 1) return std::numeric_limits<double>::quiet_NaN();
  // Ranks of the risks (ties share a rank) for a Fenwick tree of the weight at risk.
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) keys[static_cast<std::size_t>(i)] = SortKey(risk[i]);
  std::vector<std::uint64_t> uniq = keys;
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  const std::size_t nr = uniq.size();
  std::vector<std::size_t> rank(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    rank[static_cast<std::size_t>(i)] = static_cast<std::size_t>(
        std::lower_bound(uniq.begin(), uniq.end(), keys[static_cast<std::size_t>(i)]) -
        uniq.begin());
  }
  std::vector<double> tree(nr + 1, 0.0);
  double total = 0;
  auto add = [&](std::size_t r, double v) {
    total += v;
    for (std::size_t i = r + 1; i <= nr; i += i & (~i + 1)) tree[i] += v;
  };
  auto below = [&](std::size_t r) {  // weight at risk with rank < r
    double s = 0;
    for (std::size_t i = r; i > 0; i -= i & (~i + 1)) s += tree[i];
    return s;
  };
  // Rows by descending time (ties by row: a fixed summation order).
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const double ta = std::fabs(label[a]), tb = std::fabs(label[b]);
    return ta > tb || (ta == tb && a < b);
  });
  auto w = [&](std::int64_t i) { return weight ? weight[i] : 1.0; };
  double concordant = 0, comparable = 0;
  for (std::int64_t s0 = 0; s0 < n;) {
    std::int64_t s1 = s0;
    const double t = std::fabs(label[order[static_cast<std::size_t>(s0)]]);
    while (s1 < n && std::fabs(label[order[static_cast<std::size_t>(s1)]]) == t) ++s1;
    // censored rows at t outlived the events at t: at risk for them
    for (std::int64_t i = s0; i < s1; ++i) {
      const std::int64_t r = order[static_cast<std::size_t>(i)];
      if (label[r] < 0) add(rank[static_cast<std::size_t>(r)], w(r));
    }
    for (std::int64_t i = s0; i < s1; ++i) {
      const std::int64_t r = order[static_cast<std::size_t>(i)];
      if (label[r] < 0) continue;
      const std::size_t rr = rank[static_cast<std::size_t>(r)];
      const double lo = below(rr), le = below(rr + 1);
      concordant += w(r) * (lo + 0.5 * (le - lo));
      comparable += w(r) * total;
    }
    for (std::int64_t i = s0; i < s1; ++i) {
      const std::int64_t r = order[static_cast<std::size_t>(i)];
      if (label[r] > 0) add(rank[static_cast<std::size_t>(r)], w(r));
    }
    s0 = s1;
  }
  return comparable > 0 ? concordant / comparable : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace sapwood
