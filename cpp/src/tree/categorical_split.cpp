// Categorical splits. A categorical feature's bins are its category codes 0..k-1 (most frequent
// first) and one other/missing bin k that holds missing values, categories too rare to keep
// and, at predict time, categories never seen in training.
//
// Items are the non-empty bins of the node, the other/missing bin included, so its direction
// is learned like any category's. A split sends a set of items left:
//  - k <= max_cat_to_onehot: one-vs-rest, each item alone on the left;
//  - otherwise many-vs-many (as LightGBM does it): the items with at least cat_smooth rows
//    are ordered by sum_grad / (sum_hess + cat_smooth); prefixes of that order, taken from
//    either end and at most min(max_cat_threshold, (items + 1) / 2) long, are the candidate
//    left sets, evaluated only once min_data_per_group more rows joined since the last one;
//    the children's leaf scores get cat_l2 added to the L2 term. Items below cat_smooth rows
//    go right.
// The other/missing bin goes left exactly when it is in the left set; when the node has no
// row in it, it goes with the heavier child (by hessian), as numeric NaN directions do.
#include "categorical_split.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "row_partitioner.hpp"
#include "split_evaluator.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {
namespace {

inline double CatLeafScore(double g, double h, double l2, double l1) {
  const double denom = h + l2;
  if (!(denom > 0)) return 0.0;
  const double t = ThresholdL1(g, l1);
  return t * t / denom;
}

}  // namespace

SplitInfo FindBestCategoricalSplit(const HistBin* hb, int f, int num_cats,
                                   const HistBin& total_packed, CountPacking pack, double inv_g,
                                   double inv_h, const GrowParams& p) {
  const NodeSums total = pack.Decode(total_packed);
  const double tg = static_cast<double>(total.g) * inv_g;
  const double th = static_cast<double>(total.h) * inv_h;
  const double parent = CatLeafScore(tg, th, p.reg_lambda, p.reg_alpha);
  const int n_items = num_cats + 1;  // bin num_cats: other/missing
  SplitInfo best;

  auto consider = [&](const HistBin& left, double l2, const std::vector<int>& left_items) {
    const NodeSums l = pack.Decode(left);
    const std::int64_t cl = l.c, cr = total.c - l.c;
    if (cl < p.min_child_samples || cr < p.min_child_samples || cl <= 0 || cr <= 0) return;
    const double hl = static_cast<double>(l.h) * inv_h, hr = th - hl;
    if (hl < p.min_child_weight || hr < p.min_child_weight) return;
    const double gl = static_cast<double>(l.g) * inv_g, gr = tg - gl;
    const double gain = CatLeafScore(gl, hl, l2, p.reg_alpha) + CatLeafScore(gr, hr, l2, p.reg_alpha) - parent;
    if (!(gain > best.gain)) return;
    best.gain = gain;
    best.feature = f;
    best.threshold_bin = 0;
    best.categorical = true;
    best.left = left;
    best.right = {total_packed.g - left.g, total_packed.hc - left.hc};
    best.cat_left.assign(static_cast<std::size_t>(std::max(1, (num_cats + 31) / 32)), 0u);
    bool missing_left = false;
    for (int b : left_items) {
      if (b == num_cats) {
        missing_left = true;
      } else {
        best.cat_left[static_cast<std::size_t>(b / 32)] |= 1u << (b % 32);
      }
    }
    const bool missing_empty = pack.Decode(hb[num_cats]).c == 0;
    best.default_left = missing_empty ? 2 * l.h >= total.h : missing_left;
  };

  std::vector<int> items;
  for (int b = 0; b < n_items; ++b)
    if (pack.Decode(hb[b]).c > 0) items.push_back(b);
  if (items.size() < 2) return best;

  if (num_cats <= p.max_cat_to_onehot) {
    std::vector<int> one(1);
    for (int b : items) {
      one[0] = b;
      consider(hb[b], p.reg_lambda, one);
    }
    return best;
  }

  std::vector<int> used;
  std::vector<double> ctr(static_cast<std::size_t>(n_items), 0.0);
  for (int b : items) {
    const NodeSums s = pack.Decode(hb[b]);
    if (static_cast<double>(s.c) >= p.cat_smooth) {
      used.push_back(b);
      ctr[static_cast<std::size_t>(b)] =
          static_cast<double>(s.g) * inv_g / (static_cast<double>(s.h) * inv_h + p.cat_smooth);
    }
  }
  std::stable_sort(used.begin(), used.end(), [&](int a, int b) {
    return ctr[static_cast<std::size_t>(a)] < ctr[static_cast<std::size_t>(b)];
  });
  const int n_used = static_cast<int>(used.size());
  const int max_num_cat = std::min(p.max_cat_threshold, (n_used + 1) / 2);
  const double l2 = p.reg_lambda + p.cat_l2;
  std::vector<int> left_items;
  for (int dir = 0; dir < 2; ++dir) {
    HistBin acc{0, 0};
    left_items.clear();
    std::int64_t group = 0;
    for (int i = 0; i < n_used && i < max_num_cat; ++i) {
      const int b = used[static_cast<std::size_t>(dir == 0 ? i : n_used - 1 - i)];
      acc.g += hb[b].g;
      acc.hc += hb[b].hc;
      left_items.push_back(b);
      const NodeSums s = pack.Decode(hb[b]);
      group += s.c;
      const NodeSums l = pack.Decode(acc);
      if (l.c < p.min_child_samples) continue;
      if (total.c - l.c < p.min_child_samples) break;
      if (group < p.min_data_per_group) continue;
      group = 0;
      consider(acc, l2, left_items);
    }
  }
  return best;
}

}  // namespace sapwood
