#pragma once
// A read-only forest packed once per Booster and shared by all threads. Construction validates
// every index, so prediction never reads out of bounds, whatever arrays it was built from.
//
// Layout: every tree's nodes are stored in their original order at an offset (tree root =
// offset), 16 bytes each. A leaf is a node that points to itself, so a walk can run a fixed
// number of levels without branching on "is this a leaf" (the batch kernel walks several rows
// of one tree in lock step, which hides the load latency of each walk behind the others).
#include <cstdint>
#include <string>
#include <vector>

#include "sapwood/bin_index.hpp"
#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

struct PackedNode {
  float threshold;          // numeric: go left when x <= threshold; categorical: bit-cast slot
  std::uint32_t meta;       // feature | kDefaultLeft | split type << kTypeShift | kLeaf
  std::int32_t child[2];    // packed indices of the left and right child (a leaf: itself)

  static constexpr std::uint32_t kFeatureMask = (1u << 24) - 1;
  static constexpr std::uint32_t kDefaultLeft = 1u << 24;
  static constexpr int kTypeShift = 25;
  static constexpr std::uint32_t kTypeMask = 3u << kTypeShift;
  static constexpr std::uint32_t kLeaf = 1u << 27;
};
static_assert(sizeof(PackedNode) == 16, "PackedNode must stay 16 bytes");

class CudaForest;

// Which kernels rank-coded forests use, process-wide: "auto" and "bitvector-avx2" (batches:
// the bit-vector kernel for trees of at most 256 leaves, two-level nodes for the rest; few
// rows: the AVX2 tree lock step), "lockstep-avx2" (batches: two-level nodes; few rows: the
// AVX2 tree lock step) or "super" (batches: two-level nodes; few rows: the float walk). The
// AVX2 kernels need the CPU's AVX2 and the forest's layout; else the portable ones run. For
// tests and benchmarks of every kernel; throws ParameterError for another name.
void SetPredictKernel(const std::string& name);

// The batch layout for forests of plain numeric splits: each feature's distinct thresholds are
// ranked once, a block of rows is turned into those ranks (uint16 codes) once, and the trees
// are walked on codes. "x <= threshold #j of its feature" is "code(x) <= j" with code(x) the
// number of the feature's thresholds below x. Each row carries its codes twice: in the first
// half NaN is 0xFFFF (greater than every rank: goes right), in the second 0 (goes left); a
// default-left split reads the second half. Siblings are adjacent (right = left + 1); a leaf
// points to itself with rank 0xFFFF, which no code exceeds, so walks can overrun a leaf.
struct QuantNode {
  std::uint16_t rank;     // go right when code > rank
  std::uint16_t column;   // feature, + NumFeatures when NaN goes left
  std::int32_t left;      // packed index of the left child (right = left + 1); a leaf: itself
};
static_assert(sizeof(QuantNode) == 8, "QuantNode must stay 8 bytes");

// Two levels of a rank-coded tree in one node (the scalar batch kernel): split A (index 0) and
// the splits of its children B (left, 1) and C (right, 2). A walk goes on to node
//   base + 2 * (A right) + (A right ? C right : B right)
// so a step costs one node load and three independent code loads, against two dependent node
// and code loads for two levels of QuantNode. A child that is a leaf has rank 0xFFFF (never
// right) and both of its two slots hold the leaf; a leaf has ranks 0xFFFF and base = itself,
// so walks can overrun it, as with QuantNode.
struct SuperNode {
  std::uint16_t rank[3];
  std::uint16_t column[3];  // as QuantNode::column
  std::int32_t base;
};
static_assert(sizeof(SuperNode) == 16, "SuperNode must stay 16 bytes");

// The bit-vector layout (QuickScorer's idea, vectorised across rows) for rank-coded trees of at
// most 256 leaves. Number a tree's leaves left to right; a row's leaf is the first leaf that no
// split going right rules out, where a split going right rules out the leaves of its left
// subtree. A block of rows holds its codes by column (kBitvecRows codes of one column, then the
// next) as int16 (code ^ 0x8000, so a signed compare orders them as unsigned), and each split
// is tested for 16 rows in one AVX2 compare, every split for every row: no branch and no load
// that waits on another, against a walk whose every step waits on the last. The leaf bits of
// a row live in 16-bit words, one register per word for 16 rows; a split touches the words its
// left subtree's leaves fall in, one record per word.
struct BitvecRecord {
  std::int32_t offset;  // column * kBitvecRows: where the split's codes start in the block
  std::uint32_t rank;   // (rank + 1) ^ 0x8000 in both halves: the row goes left when rank > code
  std::uint32_t keep;   // the word's bits outside the split's left subtree, in both halves
  std::int32_t unused = 0;
};
static_assert(sizeof(BitvecRecord) == 16, "BitvecRecord must stay 16 bytes");

constexpr int kBitvecMaxWords = 16;  // trees of at most 256 leaves

struct BitvecTree {
  std::int32_t words = 0;       // 1-16 (16 leaves each); 0: more leaves, walked instead
  std::int32_t rec_begin = 0;   // into the records, word 0's first
  std::int32_t leaf_begin = 0;  // leaf values, left to right
  std::int32_t word_end[kBitvecMaxWords] = {};  // each word's records end (absolute)
};

// Rows per block of the bit-vector kernel's column-major codes (a multiple of 16).
constexpr std::int64_t kBitvecRows = 128;

class Forest {
 public:
  Forest() = default;
  Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output, int num_outputs,
         int num_features);

  int NumTrees() const { return static_cast<int>(tree_root_.size()); }
  int NumOutputs() const { return num_outputs_; }
  int NumFeatures() const { return num_features_; }
  bool HasSpecialSplits() const { return has_special_; }
  int MaxDepth() const { return max_depth_; }
  // The batch kernel this forest runs on this machine: "quant-bitvector-avx2" (rank codes,
  // BitvecTree; "+super" when some trees have more than 256 leaves and walk SuperNodes),
  // "quant-super" (rank codes, scalar, two levels per step: SuperNode; without AVX2),
  // "float" or "float-special" (categorical or
  // zero-as-missing splits: float thresholds). SingleRowKernel: the same for calls of fewer
  // than 16 rows, where "quant-lockstep-avx2" (rank codes, 16 trees in two AVX2 registers)
  // replaces "quant-super".
  const char* Kernel() const;
  const char* SingleRowKernel() const;

  // out (n x NumOutputs, row-major) += raw margins of trees [tree_begin, tree_end).
  template <class T>
  void PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                  int n_threads) const;
  // PredictRaw for float32 features held as separate columns (columns[f]: rows values, e.g.
  // Arrow buffers), read in place. Only where ColumnsKernel(); throws ParameterError otherwise.
  void PredictRawColumns(const float* const* columns, std::int64_t rows, int tree_begin,
                         int tree_end, double* out, int n_threads) const;
  // Whether PredictRawColumns runs here (the bit-vector kernel for every tree).
  bool ColumnsKernel() const;
  // out (n x (tree_end - tree_begin)) = the leaf node index (within its tree) reached per tree.
  template <class T>
  void PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                   int n_threads) const;
  // out (n x NumOutputs x (NumFeatures + 1), row-major) += exact TreeSHAP contributions of
  // trees [tree_begin, tree_end); the last column of each output gets the trees' expected
  // values (the caller adds the init score there). Needs a positive cover (hess) at every
  // internal node; throws ModelFormatError naming the tree and node otherwise.
  template <class T>
  void PredictContrib(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                      int n_threads) const;

  // The decision at one packed internal node for a float32 feature value: true = go right.
  inline bool GoRight(const PackedNode& n, float v) const;

 private:
  friend class CudaForest;  // copies the packed arrays to the GPU (predict_cuda.hpp)
  bool SpecialGoRight(const PackedNode& n, float v) const;
  void BuildQuantized();
  void BuildNode32();
  void BuildSuperNodes();
  void BuildBitvec();
  // Whether batches use the bit-vector kernel for the trees that have its layout.
  bool BatchBitvec() const;
  // Codes of a block of rows by column for the bit-vector kernel (see BitvecRecord), by an
  // AVX2 search of 8 values at once (predict_simd.cpp; CPUs with AVX2). Value (r, f) at
  // first[f][r * row_stride]; |row_stride| < 2^27.
  void QuantizeColumnsAvx2(const float* const* first, std::int64_t row_stride,
                           std::int64_t nrows, std::int16_t* codes) const;
  // A block of nr rows through the bit-vector trees of [tree_begin, tree_end) (values as for
  // QuantizeColumnsAvx2); other trees walk SuperNodes on codes (row-major, QuantizeBlock),
  // which may be null when every tree is a bit-vector tree. out: the block's first row.
  void BitvecBlock(const float* const* first, std::int64_t row_stride, std::int64_t nr,
                   int tree_begin, int tree_end, const std::uint16_t* codes, double* out) const;
  // Rows per block for a call of rows rows on n_threads threads.
  static std::int64_t BlockRows(std::int64_t rows, int n_threads);
  // One row's codes (see QuantNode: 2 * NumFeatures) by the same search, 8 features per
  // register (predict_simd.cpp; CPUs with AVX2).
  void RowCodesAvx2(const float* values, std::uint16_t* codes) const;
  // Whether few rows are walked by the AVX2 tree lock step (else the float walk).
  bool SingleRowAvx2() const;
  // The rank code of x among feature f's thresholds (see QuantNode), NaN as 0xFFFF.
  std::uint16_t QuantCode(std::int64_t f, float x) const;
  void QuantizeBlock(const float* rows, std::int64_t row_stride, std::int64_t nrows,
                     std::uint16_t* codes) const;
  void SuperRawBlock(const std::uint16_t* codes, std::int64_t nrows, int tree_begin,
                     int tree_end, double* out) const;
  template <bool kSpecial>
  void RawBlock(const float* rows, std::int64_t row_stride, std::int64_t nrows, int tree_begin,
                int tree_end, double* out) const;
  void CheckContribReady(int tree_begin, int tree_end) const;
  // TreeSHAP by leaf paths (shap.cpp): built once at construction for every tree whose paths
  // are short enough; other trees fall back to the recursive algorithm.
  void BuildShapPaths();
  // Adds tree t's contributions for one row (float32 features) to phi; dec: NumNodes scratch.
  void ShapTree(int t, const float* row, std::uint8_t* dec, double* phi) const;

  struct ShapLeaf {
    double value;
    std::int32_t elem_begin, elem_count;  // unique features on the path, in shap_elem_
  };
  struct ShapElem {
    double zero;                          // product of the cover ratios of its splits
    std::int32_t feature;
    std::int32_t cond_begin, cond_count;  // its splits, in shap_cond_: local node << 1 | right
  };

  std::vector<PackedNode> nodes_;
  std::vector<double> value_;   // per packed node (leaves: output; internal: unused)
  std::vector<double> cover_;   // per packed node (hess), for TreeSHAP
  std::vector<std::int32_t> tree_root_;
  std::vector<std::int32_t> tree_depth_;
  std::vector<std::int32_t> tree_output_;
  std::vector<double> tree_expected_;  // cover-weighted mean leaf value per tree (NaN: no cover)
  std::vector<std::int32_t> cat_slot_begin_;  // per categorical slot: first word in cat_bits_
  std::vector<std::int32_t> cat_slot_size_;   // number of 32-bit words
  std::vector<std::uint32_t> cat_bits_;
  bool quantized_ = false;               // the QuantNode layout below is built
  std::vector<std::int32_t> qthr_begin_;  // per feature + 1, into qthr_
  std::vector<float> qthr_;               // each feature's distinct thresholds, ascending
  // Per feature, the lookup of a value's rank code (BinIndex::Lookup is the number of
  // thresholds below the value); empty (binary search in qthr_) when the tables would take
  // more than 8 MiB (see BuildQuantized).
  std::vector<BinIndex> qindex_;
  // Per feature, its thresholds padded with +inf to 2^steps - 1 values, for a branch-free
  // search of 8 values at once (QuantizeColumnsAvx2): from qsearch_begin_[f], with
  // qsearch_steps_[f] steps.
  std::vector<float> qsearch_;
  std::vector<std::int32_t> qsearch_begin_;
  std::vector<std::int32_t> qsearch_steps_;
  int qsearch_max_steps_ = 0;
  std::vector<QuantNode> qnodes_;
  std::vector<double> qvalue_;            // per QuantNode (leaves: output)
  std::vector<std::int32_t> qroot_;       // per tree
  std::vector<SuperNode> snodes_;         // the same trees, two levels per node
  std::vector<double> svalue_;            // per SuperNode (leaves: output)
  std::vector<std::int32_t> sroot_;       // per tree
  std::vector<BitvecTree> bv_tree_;       // per tree
  std::vector<BitvecRecord> bv_rec_;
  std::vector<double> bv_value_;          // leaf values, each tree's left to right
  bool bv_all_ = false;                   // every tree has the bit-vector layout
  bool bv_any_ = false;
  // The same nodes packed in 32 bits (simd::Node32) when every column fits 8 bits and every
  // left child lies within 255 slots of its parent; empty otherwise. qroot32_: qroot_ plus 16
  // entries that point at a spare leaf (the last node), for the 8-wide tree loads.
  std::vector<std::uint32_t> qnodes32_;
  std::vector<std::int32_t> qroot32_;
  std::vector<std::int32_t> shap_leaf_begin_;  // per tree + 1; empty range: use the recursion
  std::vector<std::uint8_t> shap_fast_;        // per tree: leaf paths built
  std::vector<ShapLeaf> shap_leaf_;
  std::vector<ShapElem> shap_elem_;
  std::vector<std::int32_t> shap_cond_;
  std::vector<double> shap_weight_;  // (kShapMaxElems + 1)^2: s!(d-1-s)!/d! at [d * (M+1) + s]
  int num_outputs_ = 1;
  int num_features_ = 0;
  int max_depth_ = 0;
  bool has_special_ = false;
};

inline bool Forest::GoRight(const PackedNode& n, float v) const {
  if (n.meta & PackedNode::kTypeMask) return SpecialGoRight(n, v);
  // Branch-free NaN handling: for NaN both comparisons are false, so "v > t" sends NaN left
  // and "!(v <= t)" sends it right; for any other value they agree.
  const bool gt = v > n.threshold;
  const bool not_le = !(v <= n.threshold);
  return (n.meta & PackedNode::kDefaultLeft) ? gt : not_le;
}

}  // namespace sapwood
