#include "sapwood/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "sapwood/error.hpp"

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

}  // namespace sapwood
