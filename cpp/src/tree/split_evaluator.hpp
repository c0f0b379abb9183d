#pragma once
// Best split of one node from its histogram: L1/L2-regularised gain, the minimum child
// size/weight constraints, and a learned direction for missing values.
#include <limits>
#include <vector>

#include "sapwood/grower.hpp"

namespace sapwood {

inline double ThresholdL1(double g, double alpha) {
  if (alpha <= 0) return g;
  if (g > alpha) return g - alpha;
  if (g < -alpha) return g + alpha;
  return 0.0;
}
double LeafOutput(double g, double h, const GrowParams& p);

// The loss reduction of a leaf with gradient sum g and hessian sum h at its best output.
inline double LeafScore(double g, double h, const GrowParams& p) {
  const double denom = h + p.reg_lambda;
  if (!(denom > 0)) return 0.0;
  const double t = ThresholdL1(g, p.reg_alpha);
  return t * t / denom;
}

// The unscaled sums of the two children of a candidate split (`left` goes left, the rest of
// `total` right), or false when either child breaks min_child_samples / min_child_weight.
// Every split evaluator (leaf-wise, oblivious) takes its children through here.
struct ChildSums {
  double gl, hl, gr, hr;
};
inline bool SplitChildren(const HistBin& left, const NodeSums& total, CountPacking pack,
                          double inv_g, double inv_h, const GrowParams& p, ChildSums* out) {
  const NodeSums l = pack.Decode(left);
  const std::int64_t cl = l.c, cr = total.c - l.c;
  if (cl < p.min_child_samples || cr < p.min_child_samples || cl <= 0 || cr <= 0) return false;
  out->hl = static_cast<double>(l.h) * inv_h;
  out->hr = static_cast<double>(total.h - l.h) * inv_h;
  if (out->hl < p.min_child_weight || out->hr < p.min_child_weight) return false;
  out->gl = static_cast<double>(l.g) * inv_g;
  out->gr = static_cast<double>(total.g - l.g) * inv_g;
  return true;
}

// hist: the node's histogram in format fmt (16-byte HistBin, or quantized words read directly:
// the same split, bit for bit, as from the same sums widened). lower / upper: the bounds of this
// node's children's outputs (monotone constraints; +-inf without). Outputs are unscaled (before
// the learning rate).
SplitInfo FindBestSplit(const HistBin* hist, HistFormat fmt, const HistLayout& layout,
                        const std::vector<int>& features, const HistBin& total, CountPacking pack,
                        double scale_g, double scale_h, const GrowParams& params, int n_threads,
                        double lower = -std::numeric_limits<double>::infinity(),
                        double upper = std::numeric_limits<double>::infinity());

}  // namespace sapwood
