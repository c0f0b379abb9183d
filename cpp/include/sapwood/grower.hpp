#pragma once
// Leaf-wise tree growth on binned data. The pieces live in cpp/src/tree/: histogram (build the
// smaller child, subtract for the sibling), split_evaluator, row_partitioner and the short
// growth loop in grower.cpp.
#include <cstdint>
#include <memory>
#include <vector>

#include "sapwood/dataset.hpp"
#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

// Gradient and hessian of one row in fixed point (value * scale, rounded). Integer sums are
// exact, so histograms do not depend on the order or thread count in which rows are added,
// and the sibling histogram obtained by subtraction is exact.
//
// The hessian word also carries the row count: hc = (hessian_fixed << count_bits) | 1, where
// 2^count_bits exceeds the number of rows. Hessians are non-negative, so sums and differences of
// hc never borrow between the two parts, and one 16-byte add updates gradient, hessian and
// count of a histogram bin at once.
struct GradPair {
  std::int64_t g;
  std::int64_t hc;
};

using HistBin = GradPair;

// Decoded sums of a set of rows.
struct NodeSums {
  std::int64_t g = 0;
  std::int64_t h = 0;
  std::int64_t c = 0;
};

struct CountPacking {
  int bits = 32;
  inline NodeSums Decode(const HistBin& b) const {
    return {b.g, b.hc >> bits, b.hc & ((std::int64_t{1} << bits) - 1)};
  }
};

struct GrowParams {
  int num_leaves = 31;
  int max_depth = -1;  // <= 0: unlimited
  std::int64_t min_child_samples = 20;
  double min_child_weight = 1e-3;
  double min_split_gain = 0.0;
  double reg_lambda = 0.0;
  double reg_alpha = 0.0;
  double learning_rate = 0.1;
  // Categorical features (see cpp/src/tree/categorical_split.cpp).
  int max_cat_to_onehot = 4;       // <= this many categories: one-vs-rest splits
  int max_cat_threshold = 32;      // most categories on the smaller side of a many-vs-many split
  double cat_smooth = 10.0;        // added to the hessian when ordering categories
  double cat_l2 = 10.0;            // extra L2 on the children of many-vs-many splits
  std::int64_t min_data_per_group = 100;  // rows per group between candidate cuts
};

struct SplitInfo {
  double gain = -1.0;  // < 0: no valid split
  int feature = -1;
  int threshold_bin = -1;
  bool default_left = false;
  HistBin left{0, 0};   // packed sums of the rows going left
  HistBin right{0, 0};
  // Categorical splits: bit b of cat_left set = bin (category code) b goes left; the
  // other/missing bin follows default_left.
  bool categorical = false;
  std::vector<std::uint32_t> cat_left;
  bool Valid() const { return feature >= 0; }
};

// Feature layout of a flat histogram: feature f owns bins [offset[f], offset[f] + nbins[f]).
struct HistLayout {
  std::vector<std::uint32_t> offset;
  std::vector<std::int32_t> nbins;
  std::uint32_t total = 0;
  std::vector<std::int32_t> num_cats;  // per feature: -1 numeric, else number of categories
};

class RowPartitioner;
class HistogramBuilder;

// The histogram of `rows` (all rows when empty) through the production builder; for tests that
// compare it with a plain reference. Returns the layout and one packed bin per histogram slot.
std::vector<HistBin> BuildHistogram(const BinnedMatrix& data, const std::vector<std::uint32_t>& rows,
                                    const std::vector<GradPair>& gh, int n_threads,
                                    HistLayout* layout);

class TreeGrower {
 public:
  TreeGrower(std::shared_ptr<const BinnedMatrix> data, int n_threads);
  ~TreeGrower();

  // Grows one tree on the rows in `rows` (ascending) with their fixed-point gradients
  // (indexed by row). `features` lists the features that may be split on.
  Tree Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking packing,
            const std::vector<std::uint32_t>& rows, const std::vector<int>& features,
            const GrowParams& params);

  // After Grow: the rows of each leaf, as (node id, begin, end) into PartitionedRows().
  struct LeafRange {
    std::int32_t node;
    std::int64_t begin;
    std::int64_t end;
  };
  const std::vector<LeafRange>& LeafRanges() const { return leaf_ranges_; }
  const std::uint32_t* PartitionedRows() const;

  // Leaf of row r in `tree` walking the binned data (for rows outside the grown sample).
  std::int32_t LeafOfRow(const Tree& tree, std::int64_t r) const;

 private:
  std::shared_ptr<const BinnedMatrix> data_;
  int n_threads_;
  HistLayout layout_;
  std::unique_ptr<HistogramBuilder> hist_;
  std::unique_ptr<RowPartitioner> part_;
  std::vector<LeafRange> leaf_ranges_;
  std::vector<std::vector<HistBin>> pool_;  // one histogram per open leaf, reused across trees
};

}  // namespace sapwood
