#pragma once
// Quantile binning of numeric features.
//
// Feature f with edges e_0 < e_1 < ... < e_{k-1} has k + 1 numeric bins and one NaN bin:
//   bin(v) = the first i with v <= e_i (k when v > e_{k-1}), compared in float32;
//   bin(NaN) = k + 1.
// So "bin(v) <= t" is the same test as "v <= e_t": trees trained on bins predict on raw values.
// -inf lands in bin 0 and +inf in the last numeric bin.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sapwood/types.hpp"

namespace sapwood {

struct FeatureBins {
  std::vector<float> edges;  // strictly increasing upper bounds
  int NumNumericBins() const { return static_cast<int>(edges.size()) + 1; }
  int NanBin() const { return static_cast<int>(edges.size()) + 1; }
  int NumBins() const { return static_cast<int>(edges.size()) + 2; }

  inline int ValueToBin(float v) const {
    if (std::isnan(v)) return NanBin();
    // lower_bound: first edge >= v
    int lo = 0, hi = static_cast<int>(edges.size());
    while (lo < hi) {
      int mid = (lo + hi) >> 1;
      if (edges[mid] < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
};

struct BinningParams {
  int max_bin = 255;                      // numeric bins per feature (NaN bin extra)
  std::int64_t sample_rows = 200000;      // rows sampled to find edges
  std::uint64_t seed = 0;
  int n_threads = 1;
};

// Edges from sorted finite-or-infinite (non-NaN) float values.
std::vector<float> FindEdges(std::vector<float>& values, int max_bin);

class BinMapper {
 public:
  BinMapper() = default;
  explicit BinMapper(std::vector<FeatureBins> features) : features_(std::move(features)) {}

  template <class T>
  static BinMapper Fit(const MatrixView<T>& x, const BinningParams& params);

  int NumFeatures() const { return static_cast<int>(features_.size()); }
  const FeatureBins& Feature(int f) const { return features_[f]; }
  const std::vector<FeatureBins>& Features() const { return features_; }
  int MaxNumBins() const;

 private:
  std::vector<FeatureBins> features_;
};

}  // namespace sapwood
