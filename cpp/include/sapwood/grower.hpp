#pragma once
// Leaf-wise tree growth on binned data. The pieces live in cpp/src/tree/: histogram (build the
// smaller child, subtract for the sibling), split_evaluator, row_partitioner and the short
// growth loop in grower.cpp.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
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

// Quantized gradients (use_quantized_grad): a row's gradient and hessian stochastically rounded
// to a few integer levels (|g| <= ceil(levels / 2), 0 <= h <= levels). Histograms of them are
// built in narrow bins (HistogramBuilder::BuildQuantized) and widened to HistBin, so the growth
// loop, the split search and the distributed sums are the same code for both.
struct QuantGrad {
  std::int8_t g;
  std::int8_t h;
};

// The bin format of a histogram. 16 bytes: HistBin. 8 or 4 bytes: a quantized word
// (HistogramBuilder::BuildQuantized), one unsigned integer per bin holding, low to high, the row
// count (bits [0, shift_h)), the hessian sum (bits [shift_h, shift_g)) and the signed gradient
// sum (the bits above, two's complement). A histogram slot (a vector<HistBin>) holds the words
// of its format in its first total * bytes bytes; the split search reads them there directly.
struct HistFormat {
  int bytes = 16;
  int shift_h = 0, shift_g = 0;
  bool Wide() const { return bytes == 16; }
  bool operator==(const HistFormat& o) const {
    return bytes == o.bytes && shift_h == o.shift_h && shift_g == o.shift_g;
  }
};
// Quantized words read and written inside a slot's HistBin storage: may_alias, so the compiler
// assumes they can share memory with the HistBin words of the same slot.
typedef std::uint64_t __attribute__((__may_alias__)) HistWord64;
typedef std::uint32_t __attribute__((__may_alias__)) HistWord32;
template <class Word>
struct MayAliasWord;
template <>
struct MayAliasWord<std::uint64_t> {
  using type = HistWord64;
};
template <>
struct MayAliasWord<std::uint32_t> {
  using type = HistWord32;
};
template <class Word>
using AliasWord = typename MayAliasWord<Word>::type;

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
  // Monotone constraints per feature (empty: none): +1 predictions never decrease as the
  // feature grows, -1 never increase, 0 free. Enforced as LightGBM's "basic" method: a split
  // on a constrained feature must order its children's outputs, and the children's outputs
  // are then bounded by the midpoint, bounds that every descendant inherits.
  std::vector<std::int8_t> monotone;
  // 0: "basic" (above). 1: "intermediate": a leaf's bounds are recomputed after every split
  // from the current outputs of the leaves across each constrained ancestor split (its left
  // side may reach the smallest output on the right side, not only the midpoint), and its
  // split is searched again when they change. Looser bounds, so better fits; one leaf is
  // fetched per call (the bounds of a leaf fetched ahead could change before its pick).
  int monotone_method = 0;
  // Where a constrained feature's missing values rank: -1 below every value (they go left at
  // every split on it), +1 above (right), 0 free (each split picks, as LightGBM does: then the
  // prediction at NaN is not ordered with those at values).
  int monotone_missing = -1;
  // Interaction constraints (empty: none): sets of features; the features split on along any
  // branch must all belong to one set. Every feature must be in at least one set (the Python
  // layer makes an unlisted feature its own set).
  std::vector<std::vector<int>> interaction_sets;
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

// The histogram layout of a binning (bins of every feature, and which are categorical).
HistLayout MakeHistLayout(const BinMapper& mapper);

class RowPartitioner;
class HistogramBuilder;

// One expansion of a leaf: partition the rows of leaf `leaf` (a handle the grower gave it) by
// `split` into children with handles `left` and `right`, and, when `build` >= 0, build the
// histogram of that child (always the child with fewer rows overall: the other one is the
// parent's histogram minus it).
struct ExpandRequest {
  std::int32_t leaf = 0, left = 0, right = 0, build = -1;
  const SplitInfo* split = nullptr;
};

// Where a tree's histograms come from. LocalHistogramSource (grower.cpp) builds them from this
// process's rows; sapwood's Dask training sums, exactly, those of every worker's rows (the
// growth loop, and so every split decision, is the same code either way).
class HistogramSource {
 public:
  virtual ~HistogramSource() = default;
  // The packed sums of all rows of the tree (the root, handle 0); its histogram into `out`
  // (layout.total bins) unless `out` is null.
  virtual HistBin Root(HistBin* out) = 0;
  // Carries out the requests in order; outs[i] receives request i's histogram (null when
  // reqs[i].build < 0).
  virtual void Expand(const std::vector<ExpandRequest>& reqs,
                      const std::vector<HistBin*>& outs) = 0;
  // The format Root and Expand write the histogram of a node of `rows` rows in (16-byte
  // HistBin unless the source builds quantized words).
  virtual HistFormat Format(std::int64_t rows) const {
    (void)rows;
    return {};
  }
};

// large = large - small, bin by bin, exactly: `large` (format fl) holds the parent's histogram
// and receives the larger child's, in the same format; `small` (format fs, never wider than fl:
// it has fewer rows) is converted word by word. count_bits: the HistBin count packing.
void SubtractHistogram(HistBin* large, HistFormat fl, const HistBin* small, HistFormat fs,
                       std::size_t total, int count_bits);

// A grown tree's leaves: node id and the handle of the rows that reached it.
struct GrownLeaf {
  std::int32_t node;
  std::int32_t handle;
};

// Categorical splits made while growing a tree: (node, bitset of the codes going left).
using CatSplits = std::vector<std::pair<std::int32_t, std::vector<std::uint32_t>>>;
// Writes them into `tree` in the predictor's representation (every growth loop ends here).
void SetCategoricalSplits(const CatSplits& splits, Tree* tree);

// The histogram slots of one tree's growth: `pool` is kept across trees (its buffers reused);
// a slot is taken per node whose histogram is kept and given back when the node is done.
// Take() may grow the pool, so pointers into it are taken after every Take of a step.
class HistSlots {
 public:
  HistSlots(std::vector<std::vector<HistBin>>& pool, std::size_t total) : pool_(pool), total_(total) {
    for (int s = static_cast<int>(pool.size()) - 1; s >= 0; --s) free_.push_back(s);
  }
  int Take() {
    if (free_.empty()) {
      pool_.emplace_back();
      free_.push_back(static_cast<int>(pool_.size()) - 1);
    }
    const int s = free_.back();
    free_.pop_back();
    if (pool_[static_cast<std::size_t>(s)].size() != total_)
      pool_[static_cast<std::size_t>(s)].resize(total_);
    return s;
  }
  // Gives `slot` back (if any) and clears it.
  void Release(int& slot) {
    if (slot >= 0) free_.push_back(slot);
    slot = -1;
  }

 private:
  std::vector<std::vector<HistBin>>& pool_;
  std::size_t total_;
  std::vector<int> free_;
};

// The leaf-wise growth loop on histograms from `src`: picks the open leaf with the best split
// (first in leaf order on ties), splits it, and evaluates its children. `batch` > 1 lets one
// call to src.Expand carry the children of up to that many of the best open leaves, fetched
// ahead of the picks (a distributed source pays per call, not per leaf); the tree is the same
// for any batch. The histograms live in `pool` (grown as needed, reused across trees).
Tree GrowTree(HistogramSource& src, const BinMapper& mapper, const HistLayout& layout,
              std::vector<std::vector<HistBin>>& pool, double scale_g, double scale_h,
              CountPacking pack, const std::vector<int>& features, const GrowParams& params,
              int n_threads, int batch, std::vector<GrownLeaf>* leaves);

// The per-tree integer encoding of gradients (Trainer::BoostRound): the scales that keep sums of
// up to `rows` values below 2^61 and the count bits of the hessian word.
struct FixedPoint {
  double scale_g = 1.0, scale_h = 1.0;
  CountPacking pack;
};
FixedPoint ChooseFixedPoint(double max_abs_g, double max_abs_h, std::int64_t rows);
// The encoding of quantized gradients: scales that map max |g| to levels / 2 and max h to
// `levels` (so a rounded value is an integer level), and the count bits of the hessian word.
FixedPoint ChooseQuantized(double max_abs_g, double max_abs_h, std::int64_t rows, int levels);

// The features tree `k` of round `iteration` may split on (colsample_bytree's draw).
std::vector<int> SampleFeatures(const std::vector<int>& usable, double colsample,
                                std::uint64_t seed, int iteration, int k);

// Rows of this process partitioned per leaf handle (the rows-side of a LocalHistogramSource):
// what a worker of distributed training keeps between the calls of one tree.
class LocalRows : public HistogramSource {
 public:
  LocalRows(const BinnedMatrix& data, HistogramBuilder& hist, RowPartitioner& part);
  // Starts a tree on `rows` (ascending) with fixed-point gradients `gh` (indexed by row).
  // Quantized training also passes the same gradients as small levels `q` (gh holds them in
  // the HistBin encoding with count bits `count_bits`): histograms are then built from `q` in
  // narrow bins.
  void Start(const GradPair* gh, const std::vector<std::uint32_t>& rows,
             const QuantGrad* q = nullptr, int levels = 0, int count_bits = 0);
  // After Start: the tree splits only on `features` (ascending), so only their bins are
  // built; the others stay zero (Start resets to every feature).
  void UseFeatures(const std::vector<int>& features);
  HistBin Root(HistBin* out) override;
  void Expand(const std::vector<ExpandRequest>& reqs, const std::vector<HistBin*>& outs) override;
  HistFormat Format(std::int64_t rows) const override;
  std::int64_t RangeBegin(std::int32_t handle) const { return ranges_.at(handle).first; }
  std::int64_t RangeEnd(std::int32_t handle) const { return ranges_.at(handle).second; }
  bool Has(std::int32_t handle) const {
    return handle >= 0 && static_cast<std::size_t>(handle) < ranges_.size() &&
           ranges_[handle].first >= 0;
  }

 private:
  const BinnedMatrix& data_;
  HistogramBuilder& hist_;
  RowPartitioner& part_;
  const GradPair* gh_ = nullptr;
  const QuantGrad* q_ = nullptr;
  int levels_ = 0, count_bits_ = 0;
  std::int64_t n_ = 0;
  void Build(const std::uint32_t* rows, std::int64_t n, HistBin* out);
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges_;  // by handle; -1: none
};

// The histogram of `rows` (all rows when empty) through the production builder; for tests that
// compare it with a plain reference. Returns the layout and one packed bin per histogram slot.
// With `q` (levels > 0): the quantized builder on the same values (gh in count bits
// `count_bits`).
std::vector<HistBin> BuildHistogram(const BinnedMatrix& data, const std::vector<std::uint32_t>& rows,
                                    const std::vector<GradPair>& gh, int n_threads,
                                    HistLayout* layout, const std::vector<QuantGrad>* q = nullptr,
                                    int levels = 0, int count_bits = 0);
// Bytes per histogram bin the quantized builder uses for a node of `rows` rows (4, 8 or 16).
int QuantizedBinBytes(std::int64_t rows, int levels);

class TreeGrower {
 public:
  TreeGrower(std::shared_ptr<const BinnedMatrix> data, int n_threads);
  ~TreeGrower();

  // Grows one tree on the rows in `rows` (ascending) with their fixed-point gradients
  // (indexed by row). `features` lists the features that may be split on.
  // Quantized training also passes the levels `q` of the same gradients (see LocalRows::Start).
  Tree Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking packing,
            const std::vector<std::uint32_t>& rows, const std::vector<int>& features,
            const GrowParams& params, const QuantGrad* q = nullptr, int levels = 0);

  // The pieces of Grow for a worker of distributed training: Rows() partitions this process's
  // rows as the coordinator's requests say; SetLeaves records the grown tree's leaves (handle
  // -> node) so LeafRanges() and PartitionedRows() describe them as after Grow.
  LocalRows& Rows();
  void SetLeaves(const std::vector<GrownLeaf>& leaves);
  const HistLayout& Layout() const { return layout_; }

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
  std::unique_ptr<LocalRows> rows_;
};

}  // namespace sapwood
