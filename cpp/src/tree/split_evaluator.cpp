#include "split_evaluator.hpp"

#include <algorithm>
#include <cmath>

#include "categorical_split.hpp"
#include "histogram.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

double LeafOutput(double g, double h, const GrowParams& p) {
  const double denom = h + p.reg_lambda;
  if (!(denom > 0)) return 0.0;
  return -ThresholdL1(g, p.reg_alpha) / denom;
}

namespace {

// The gain of a leaf whose output is fixed at `out` (clamped by a bound): -(2 G o + (H + l2) o^2).
inline double ScoreGivenOutput(double g, double h, double out, const GrowParams& p) {
  return -(2.0 * ThresholdL1(g, p.reg_alpha) * out + (h + p.reg_lambda) * out * out);
}

struct Evaluator {
  const GrowParams& p;
  NodeSums total;
  CountPacking pack;
  double inv_g, inv_h, parent_score;
  double lower, upper;  // bounds of the children's outputs
  bool bounded;         // lower or upper finite

  // Gain of sending the packed sums `left` left and the rest right under monotone direction
  // `mono` (+1, -1, 0); < 0 when a constraint fails.
  inline double GainBounded(const HistBin& left, int mono) const {
    ChildSums c;
    if (!SplitChildren(left, total, pack, inv_g, inv_h, p, &c)) return -1.0;
    const double ol = std::min(std::max(LeafOutput(c.gl, c.hl, p), lower), upper);
    const double orr = std::min(std::max(LeafOutput(c.gr, c.hr, p), lower), upper);
    if ((mono > 0 && ol > orr) || (mono < 0 && ol < orr)) return -1.0;
    return ScoreGivenOutput(c.gl, c.hl, ol, p) + ScoreGivenOutput(c.gr, c.hr, orr, p) -
           parent_score;
  }

  // Gain of sending the packed sums `left` left and the rest right; < 0 when a constraint fails.
  inline double Gain(const HistBin& left) const {
    ChildSums c;
    if (!SplitChildren(left, total, pack, inv_g, inv_h, p, &c)) return -1.0;
    return LeafScore(c.gl, c.hl, p) + LeafScore(c.gr, c.hr, p) - parent_score;
  }
};

inline HistBin Add(const HistBin& a, const HistBin& b) { return {a.g + b.g, a.hc + b.hc}; }
inline HistBin Sub(const HistBin& a, const HistBin& b) { return {a.g - b.g, a.hc - b.hc}; }

// A feature's bins in one histogram format, for the numeric scan. Acc: the running prefix sum
// in the format's own words (a quantized prefix is the sum of a subset of the node's rows, so
// it fits the node's word as the total does); Packed: that sum as the HistBin the evaluators
// take, exactly the sum of the bins widened one by one.
struct WideBins {
  const HistBin* hb;
  using Acc = HistBin;
  HistBin Bin(int t) const { return hb[t]; }
  bool Empty(int t) const { return hb[t].hc == 0; }  // the count field
  HistBin Packed(const HistBin& a) const { return a; }
};
inline HistBin Plus(const HistBin& a, const HistBin& b) { return Add(a, b); }

template <class Word>
struct NarrowBins {
  const AliasWord<Word>* w;
  HistFormat fmt;
  int count_bits;
  using Acc = Word;
  Word Bin(int t) const { return w[t]; }
  bool Empty(int t) const { return w[t] == 0; }  // no row: every field 0
  HistBin Packed(Word a) const { return WidenWord<Word>(a, fmt, count_bits); }
};
inline std::uint64_t Plus(std::uint64_t a, std::uint64_t b) { return a + b; }
inline std::uint32_t Plus(std::uint32_t a, std::uint32_t b) { return a + b; }

// The best threshold of numeric feature f (nb bins, the last the NaN bin).
template <class Bins>
SplitInfo ScanNumeric(const Bins& bins, int f, int nb, int mono, const Evaluator& ev,
                      const HistBin& total_packed, const GrowParams& params) {
  const CountPacking pack = ev.pack;
  const int numeric = nb - 1;
  const HistBin nan = bins.Packed(bins.Bin(nb - 1));
  const bool has_nan = pack.Decode(nan).c > 0;
  SplitInfo best;
  typename Bins::Acc acc{};
  auto consider = [&](const HistBin& left, int t, bool dl) {
    const double gain = (mono != 0 || ev.bounded) ? ev.GainBounded(left, mono) : ev.Gain(left);
    if (gain > best.gain) {
      best.gain = gain;
      best.feature = f;
      best.threshold_bin = t;
      best.default_left = dl;
      best.left = left;
      best.right = Sub(total_packed, left);
    }
  };
  for (int t = 0; t < numeric; ++t) {
    acc = Plus(acc, bins.Bin(t));
    if (t == numeric - 1) {
      // every numeric value left, missing values right
      if (has_nan && (mono == 0 || params.monotone_missing >= 0)) consider(bins.Packed(acc), t, false);
      break;
    }
    if (bins.Empty(t) && t > 0) continue;  // empty bin: same partition as the previous threshold
    const HistBin left = bins.Packed(acc);
    if (mono != 0 && params.monotone_missing != 0) {
      // A constrained feature's missing values rank below (above) every value: they go left
      // (right) at every split on it, so the prediction at NaN is ordered with the others.
      const bool low = params.monotone_missing < 0;
      consider(has_nan && low ? Add(left, nan) : left, t, low);
    } else if (has_nan) {
      consider(left, t, false);
      consider(Add(left, nan), t, true);
    } else {
      // No missing values seen: missing goes with the heavier side (by hessian).
      const bool dl = 2 * pack.Decode(left).h >= ev.total.h;
      consider(left, t, dl);
    }
  }
  return best;
}

}  // namespace

SplitInfo FindBestSplit(const HistBin* hist, HistFormat fmt, const HistLayout& layout,
                        const std::vector<int>& features, const HistBin& total_packed,
                        CountPacking pack, double scale_g, double scale_h,
                        const GrowParams& params, int n_threads, double lower, double upper) {
  const double inv_g = 1.0 / scale_g, inv_h = 1.0 / scale_h;
  const NodeSums total = pack.Decode(total_packed);
  const bool bounded = std::isfinite(lower) || std::isfinite(upper);
  Evaluator ev{params, total, pack, inv_g, inv_h,
               LeafScore(static_cast<double>(total.g) * inv_g, static_cast<double>(total.h) * inv_h,
                         params),
               lower, upper, bounded};
  const HistWord64* w64 = reinterpret_cast<const HistWord64*>(hist);
  const HistWord32* w32 = reinterpret_cast<const HistWord32*>(hist);
  std::vector<SplitInfo> per_feature(features.size());
  const int threads = features.size() >= 16 ? n_threads : 1;
  // dynamic: features differ in cost, and a descheduled thread then holds back one feature
  ParallelForDynamic(0, static_cast<std::int64_t>(features.size()), threads, [&](std::int64_t k) {
    const int f = features[static_cast<std::size_t>(k)];
    const std::uint32_t off = layout.offset[static_cast<std::size_t>(f)];
    const int nb = layout.nbins[static_cast<std::size_t>(f)];
    if (!layout.num_cats.empty() && layout.num_cats[static_cast<std::size_t>(f)] >= 0) {
      const HistBin* hb = hist + off;
      std::vector<HistBin> widened;
      if (!fmt.Wide()) {  // the feature's few bins decoded, exactly (see WidenWord)
        widened.resize(static_cast<std::size_t>(nb));
        for (int b = 0; b < nb; ++b) {
          widened[static_cast<std::size_t>(b)] =
              fmt.bytes == 8 ? WidenWord<std::uint64_t>(w64[off + b], fmt, pack.bits)
                             : WidenWord<std::uint32_t>(w32[off + b], fmt, pack.bits);
        }
        hb = widened.data();
      }
      per_feature[static_cast<std::size_t>(k)] = FindBestCategoricalSplit(
          hb, f, layout.num_cats[static_cast<std::size_t>(f)], total_packed, pack, inv_g, inv_h,
          params);
      return;
    }
    const int mono = params.monotone.empty() ? 0 : params.monotone[static_cast<std::size_t>(f)];
    SplitInfo& out = per_feature[static_cast<std::size_t>(k)];
    if (fmt.Wide()) {
      out = ScanNumeric(WideBins{hist + off}, f, nb, mono, ev, total_packed, params);
    } else if (fmt.bytes == 8) {
      out = ScanNumeric(NarrowBins<std::uint64_t>{w64 + off, fmt, pack.bits}, f, nb, mono, ev,
                        total_packed, params);
    } else {
      out = ScanNumeric(NarrowBins<std::uint32_t>{w32 + off, fmt, pack.bits}, f, nb, mono, ev,
                        total_packed, params);
    }
  });
  SplitInfo best;
  for (const auto& s : per_feature) {
    if (s.Valid() && s.gain > best.gain) best = s;
  }
  if (!best.Valid() || !(best.gain > params.min_split_gain) || !(best.gain > 0)) return SplitInfo{};
  return best;
}

}  // namespace sapwood
