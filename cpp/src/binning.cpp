#include "sapwood/binning.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sapwood/error.hpp"
#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {
namespace {

// A cut strictly between a and b (a < b) that keeps a on the left and b on the right:
// the float32 midpoint when it separates them, else a itself.
float CutBetween(float a, float b) {
  double mid = (static_cast<double>(a) + static_cast<double>(b)) * 0.5;
  float m = static_cast<float>(mid);
  if (std::isfinite(m) && m >= a && m < b) return m;
  return a;
}

// Sorts non-NaN floats ascending: an LSD radix sort (3 passes of 11 bits) on OrderKey for
// large inputs, std::sort for small ones. -0.0 becomes +0.0 (they compare equal).
void SortFloats(std::vector<float>& values) {
  const std::size_t n = values.size();
  if (n < 4096) {
    for (float& v : values) v = (v == 0.0f) ? 0.0f : v;
    std::sort(values.begin(), values.end());
    return;
  }
  std::vector<std::uint32_t> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = OrderKey(values[i]);
  constexpr int kRadix = 11;
  constexpr std::uint32_t kMask = (1u << kRadix) - 1;
  std::vector<std::size_t> count(std::size_t{1} << kRadix);
  for (int shift = 0; shift < 32; shift += kRadix) {
    std::fill(count.begin(), count.end(), 0);
    for (std::uint32_t k : a) ++count[(k >> shift) & kMask];
    std::size_t sum = 0;
    for (std::size_t& c : count) {
      const std::size_t c0 = c;
      c = sum;
      sum += c0;
    }
    for (std::uint32_t k : a) b[count[(k >> shift) & kMask]++] = k;
    a.swap(b);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = a[i];
    const std::uint32_t u = (k & 0x80000000u) ? (k ^ 0x80000000u) : ~k;
    std::memcpy(&values[i], &u, sizeof u);
  }
}

}  // namespace

std::vector<float> FindEdges(std::vector<float>& values, int max_bin) {
  std::vector<float> edges;
  if (values.empty() || max_bin <= 1) return edges;
  SortFloats(values);
  // distinct values and their counts
  std::vector<float> distinct;
  std::vector<std::int64_t> counts;
  for (float v : values) {
    if (distinct.empty() || v != distinct.back()) {
      distinct.push_back(v);
      counts.push_back(1);
    } else {
      ++counts.back();
    }
  }
  const std::size_t m = distinct.size();
  if (m <= static_cast<std::size_t>(max_bin)) {
    for (std::size_t i = 0; i + 1 < m; ++i) edges.push_back(CutBetween(distinct[i], distinct[i + 1]));
  } else {
    // Greedy equal-frequency cuts; a value heavier than one bin's share gets a bin of its own.
    double remaining = static_cast<double>(values.size());
    int bins_left = max_bin;
    double cur = 0;
    for (std::size_t i = 0; i + 1 < m && bins_left > 1; ++i) {
      cur += static_cast<double>(counts[i]);
      double target = remaining / bins_left;
      bool next_is_heavy = static_cast<double>(counts[i + 1]) >= target;
      if (cur >= target || next_is_heavy) {
        edges.push_back(CutBetween(distinct[i], distinct[i + 1]));
        remaining -= cur;
        cur = 0;
        --bins_left;
      }
    }
  }
  // Cuts must be strictly increasing (CutBetween can return a repeated lower value only when
  // values are adjacent floats, which still keeps order); deduplicate defensively.
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return edges;
}

namespace {

void CheckMaxBin(const BinningParams& params) {
  if (params.max_bin < 2 || params.max_bin > 65534) {
    throw ParameterError("max_bin must be in [2, 65534], got " + std::to_string(params.max_bin));
  }
}

// Edges of every non-categorical feature; at(r, f) reads one value.
template <class At>
BinMapper FitWith(std::int64_t n, std::int64_t n_cols, const std::vector<int>& num_cats,
                  const BinningParams& params, At at) {
  CheckMaxBin(params);
  const std::vector<std::int64_t> rows = SampleRows(n, params);
  const bool sampled = !rows.empty();
  const std::int64_t m = sampled ? static_cast<std::int64_t>(rows.size()) : n;
  std::vector<FeatureBins> features(static_cast<std::size_t>(n_cols));
  ParallelForDynamic(0, n_cols, params.n_threads, [&](std::int64_t f) {
    const int nc = num_cats.empty() ? -1 : num_cats[static_cast<std::size_t>(f)];
    if (nc >= 0) {
      features[f].num_cats = nc;
      return;
    }
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(m));
    for (std::int64_t i = 0; i < m; ++i) {
      std::int64_t r = sampled ? rows[i] : i;
      float v = at(r, f);
      if (!std::isnan(v)) values.push_back(v);
    }
    features[f].edges = FindEdges(values, params.max_bin);
  });
  return BinMapper(std::move(features));
}

}  // namespace

// The rows edges are fitted on: all when n <= sample_rows, else a seeded sample without
// replacement (Floyd's algorithm), ascending. Empty means "all rows".
std::vector<std::int64_t> SampleRows(std::int64_t n, const BinningParams& params) {
  std::vector<std::int64_t> rows;
  if (params.sample_rows > 0 && n > params.sample_rows) {
    Rng rng(params.seed ^ 0x5A5Aull);
    std::vector<char> taken(static_cast<std::size_t>(n), 0);
    const std::int64_t k = params.sample_rows;
    rows.reserve(static_cast<std::size_t>(k));
    for (std::int64_t j = n - k; j < n; ++j) {
      std::int64_t t = static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(j + 1)));
      if (taken[t]) t = j;
      taken[t] = 1;
    }
    for (std::int64_t i = 0; i < n; ++i)
      if (taken[i]) rows.push_back(i);
  }
  return rows;
}

template <class T>
BinMapper BinMapper::Fit(const MatrixView<T>& x, const BinningParams& params) {
  return FitWith(x.rows, x.cols, {}, params, [&](std::int64_t r, std::int64_t f) {
    return static_cast<float>(x.At(r, f));
  });
}

BinMapper BinMapper::FitColumns(const std::vector<ColumnView>& cols,
                                const std::vector<int>& num_cats, const BinningParams& params) {
  const std::int64_t n = cols.empty() ? 0 : cols[0].rows;
  for (std::size_t f = 0; f < cols.size(); ++f) {
    if (cols[f].rows != n) {
      throw DataError("column " + std::to_string(f) + " has " + std::to_string(cols[f].rows) +
                      " rows but column 0 has " + std::to_string(n));
    }
  }
  if (!num_cats.empty() && num_cats.size() != cols.size()) {
    throw DataError("num_cats has " + std::to_string(num_cats.size()) + " entries for " +
                    std::to_string(cols.size()) + " columns");
  }
  return FitWith(n, static_cast<std::int64_t>(cols.size()), num_cats, params,
                 [&](std::int64_t r, std::int64_t f) { return cols[f].At(r); });
}

int BinMapper::MaxNumBins() const {
  int mx = 0;
  for (const auto& f : features_) mx = std::max(mx, f.NumBins());
  return mx;
}

template BinMapper BinMapper::Fit<float>(const MatrixView<float>&, const BinningParams&);
template BinMapper BinMapper::Fit<double>(const MatrixView<double>&, const BinningParams&);

}  // namespace sapwood
