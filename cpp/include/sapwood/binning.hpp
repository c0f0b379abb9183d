#pragma once
// Quantile binning of numeric features.
//
// Feature f with edges e_0 < e_1 < ... < e_{k-1} has k + 1 numeric bins and one NaN bin:
//   bin(v) = the first i with v <= e_i (k when v > e_{k-1}), compared in float32;
//   bin(NaN) = k + 1.
// So "bin(v) <= t" is the same test as "v <= e_t": trees trained on bins predict on raw values.
// -inf lands in bin 0 and +inf in the last numeric bin.
//
// A categorical feature (num_cats = k >= 0) arrives as float codes 0..k-1 (the Python layer
// maps category values to codes, most frequent first). Code c has bin c; everything else --
// NaN (missing), codes >= k (categories too rare to keep) and any other value -- lands in bin
// k, the "other/missing" bin, whose direction each split learns like a NaN direction.
// A code is the value truncated toward zero, as the predictor reads it.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sapwood/bin_index.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

struct FeatureBins {
  std::vector<float> edges;  // strictly increasing upper bounds (numeric features)
  int num_cats = -1;         // >= 0: a categorical feature with this many kept categories
  bool IsCategorical() const { return num_cats >= 0; }
  int NumNumericBins() const {
    return IsCategorical() ? num_cats : static_cast<int>(edges.size()) + 1;
  }
  int NanBin() const { return NumNumericBins(); }
  int NumBins() const { return NumNumericBins() + 1; }

  inline int ValueToBin(float v) const {
    if (std::isnan(v)) return NanBin();
    if (IsCategorical()) {
      return (v > -1.0f && v < static_cast<float>(num_cats)) ? static_cast<int>(v) : num_cats;
    }
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

// FeatureBins::ValueToBin through a BinIndex table (bin_index.hpp), for binning many values.
// Exact: the same bin as ValueToBin for every float.
class BinLookup {
 public:
  BinLookup() = default;
  explicit BinLookup(const FeatureBins& fb)
      : index_(fb.IsCategorical() ? std::vector<float>{} : fb.edges),
        num_cats_(fb.num_cats),
        nan_bin_(fb.NanBin()) {}

  inline int Bin(float v) const {
    if (std::isnan(v)) return nan_bin_;
    if (num_cats_ >= 0) {
      return (v > -1.0f && v < static_cast<float>(num_cats_)) ? static_cast<int>(v) : num_cats_;
    }
    return index_.Lookup(v);
  }

 private:
  BinIndex index_;
  int num_cats_ = -1;
  int nan_bin_ = 0;
};

struct BinningParams {
  int max_bin = 255;                      // numeric bins per feature (NaN bin extra)
  std::int64_t sample_rows = 200000;      // rows sampled to find edges
  std::uint64_t seed = 0;
  int n_threads = 1;
};

// The rows bin edges are fitted on: all (empty result) when n <= params.sample_rows, else a
// seeded sample without replacement (Floyd's algorithm), ascending. Distributed training draws
// the same rows across workers with it.
std::vector<std::int64_t> SampleRows(std::int64_t n, const BinningParams& params);

// One column of a caller's buffer (float32 or float64, element stride), read in place.
struct ColumnView {
  const float* f32 = nullptr;
  const double* f64 = nullptr;
  std::int64_t rows = 0;
  std::int64_t stride = 1;  // in elements
  inline float At(std::int64_t r) const {
    return f32 ? f32[r * stride] : static_cast<float>(f64[r * stride]);
  }
};

// Edges from finite-or-infinite (non-NaN) float values (sorted in place).
std::vector<float> FindEdges(std::vector<float>& values, int max_bin);

class BinMapper {
 public:
  BinMapper() = default;
  explicit BinMapper(std::vector<FeatureBins> features) : features_(std::move(features)) {}

  template <class T>
  static BinMapper Fit(const MatrixView<T>& x, const BinningParams& params);
  // The same edges from separate columns; num_cats[f] >= 0 marks feature f categorical with
  // that many kept categories (no edges are fitted for it).
  static BinMapper FitColumns(const std::vector<ColumnView>& cols,
                              const std::vector<int>& num_cats, const BinningParams& params);

  int NumFeatures() const { return static_cast<int>(features_.size()); }
  const FeatureBins& Feature(int f) const { return features_[f]; }
  const std::vector<FeatureBins>& Features() const { return features_; }
  int MaxNumBins() const;

 private:
  std::vector<FeatureBins> features_;
};

}  // namespace sapwood
