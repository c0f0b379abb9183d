#pragma once
// The node layouts of a packed forest, built once per Forest (layout.cpp), read-only and
// shared by every thread. Construction validates every index, so no kernel reads out of
// bounds, whatever arrays the forest was built from.
//
// - FloatTrees: every tree's PackedNodes in their original order (decision.hpp), for the float
//   walks, leaf indices, TreeSHAP and the CUDA kernel. The only layout for categorical and
//   zero-as-missing splits.
// - RankCodes + QuantTrees: forests of plain numeric splits are walked on rank codes. Each
//   feature's distinct thresholds are ranked once and a row turned into uint16 codes once;
//   "x <= threshold #j of its feature" is "code(x) <= j" with code(x) the number of the
//   feature's thresholds below x. Each row carries its codes twice: in the first half NaN is
//   0xFFFF (greater than every rank: goes right), in the second 0 (goes left); a default-left
//   split reads the second half. Siblings are adjacent (right = left + 1); a leaf points to
//   itself with rank 0xFFFF, which no code exceeds, so walks can overrun a leaf.
// - SuperTrees: the same trees two levels per node (the scalar batch kernel).
// - BitvecTrees: QuickScorer-style leaf masks for trees of at most 256 leaves (AVX2 batches).
// - Node32Trees: QuantTrees in 32 bits (the AVX2 single-row walk), where they fit.
// - ShapPaths: leaf paths for TreeSHAP (shap.cpp).
#include "sapwood/aligned.hpp"
#include <cstdint>
#include <vector>

#include "sapwood/bin_index.hpp"
#include "sapwood/tree.hpp"
#include "decision.hpp"
#include "oblivious.hpp"

namespace sapwood::predict {

struct FloatTrees {
  std::vector<PackedNode> nodes;
  std::vector<double> value;  // per packed node (leaves: output; internal: unused)
  std::vector<double> cover;  // per packed node (hess), for TreeSHAP
  std::vector<std::int32_t> root;   // per tree: its first node
  std::vector<std::int32_t> depth;  // per tree
  std::vector<std::int32_t> cat_begin;  // per categorical slot: first word in cat_bits
  std::vector<std::int32_t> cat_size;   // number of 32-bit words
  std::vector<std::uint32_t> cat_bits;

  CategorySets Cats() const { return {cat_begin.data(), cat_size.data(), cat_bits.data()}; }
  // One past tree t's last node.
  std::int32_t End(std::size_t t) const {
    return t + 1 < root.size() ? root[t + 1] : static_cast<std::int32_t>(nodes.size());
  }
  // The decision at packed node n for a float32 feature value: true = go right.
  bool GoRight(const PackedNode& n, float v) const {
    if (n.meta & PackedNode::kTypeMask) {
      return SpecialGoRight(n.meta, n.threshold, v, Cats());
    }
    return NumericGoRight(n.meta, n.threshold, v);
  }
};

// Each feature's distinct thresholds, and the searches that turn values into rank codes.
struct RankCodes {
  std::vector<std::int32_t> begin;  // per feature + 1, into thr
  std::vector<float> thr;           // each feature's distinct thresholds, ascending
  // Per feature, the lookup of a value's rank code (BinIndex::Lookup is the number of
  // thresholds below the value); empty (binary search in thr) when the tables would take
  // more than 8 MiB (see BuildRankCodes).
  std::vector<BinIndex> index;
  // Per feature, its thresholds padded with +inf to 2^steps - 1 values, for a branch-free
  // search of 8 values at once (the AVX2 code searches): from search_begin[f], with
  // search_steps[f] steps.
  std::vector<float> search;
  std::vector<std::int32_t> search_begin;
  std::vector<std::int32_t> search_steps;
  int max_steps = 0;
  // Per feature, 32 floats: the first min(steps, 5) probes of that search, as a table two
  // AVX-512 registers hold (QuantizeColumnsAvx512): entry j = search[(j + 1) * 2^(steps - 5)
  // - 1] (shift 0 below 5 steps), +inf past the probes.
  std::vector<float> top;
};

struct QuantNode {
  std::uint16_t rank;     // go right when code > rank
  std::uint16_t column;   // feature, + NumFeatures when NaN goes left
  std::int32_t left;      // packed index of the left child (right = left + 1); a leaf: itself
};
static_assert(sizeof(QuantNode) == 8, "QuantNode must stay 8 bytes");

struct QuantTrees {
  std::vector<QuantNode> nodes;  // breadth-first per tree
  std::vector<double> value;     // per node (leaves: output)
  std::vector<std::int32_t> root;
};

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

struct SuperTrees {
  std::vector<SuperNode> nodes;
  std::vector<double> value;  // per node (leaves: output)
  std::vector<std::int32_t> root;
};

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
  std::int32_t split_begin = 0, split_end = 0;  // the tree's MaskSplits
};

// The same trees for the AVX-512 row-mask kernel (kernels_avx512.cpp): a block's rows carry one
// bit each in 64-bit masks, and a tree is walked top down for 64 rows at once: a split's
// compare of the rows' codes yields a mask register of the rows going right, and each child's
// mask is its parent's AND (NOT) that. Splits come parent first (breadth-first). Slots number a
// tree's nodes for the walk: its leaves left to right first (0 .. leaves - 1), then its splits.
struct MaskSplit {
  std::int32_t offset;  // column * kBitvecRows, as BitvecRecord
  std::int16_t rank16;  // rank ^ 0x8000: the row goes right when its int16 code > rank16
  std::uint8_t rank8;   // rank, for 8-bit codes (BitvecTrees::codes8)
  // Leaves in the split's left subtree (at most 255 in a tree of 256): a row's leaf number is
  // the sum of these over the splits it goes right at.
  std::uint8_t left_leaves = 0;
  std::uint16_t self, left, right;  // slots
  std::uint16_t unused2 = 0;
};
static_assert(sizeof(MaskSplit) == 16, "MaskSplit must stay 16 bytes");

// Rows per block of the bit-vector kernel's column-major codes (a multiple of 16).
constexpr std::int64_t kBitvecRows = 128;

struct BitvecTrees {
  std::vector<BitvecTree> tree;  // per tree
  std::vector<BitvecRecord> rec;
  std::vector<double> value;     // leaf values, each tree's left to right
  std::vector<MaskSplit> split;  // MaskSplits, each tree's breadth-first
  // Every feature has at most 255 thresholds: codes fit a byte (NaN as 255 when it goes right,
  // as above every threshold; 0 when it goes left), and 64 rows are one compare.
  bool codes8 = false;
  bool all = false;              // every tree has the bit-vector layout
  bool any = false;
};

// The single-row AVX-512 layout (QuickScorer for one row, kernels_avx512.cpp), for forests of
// trees of at most 64 leaves and at most 128 code columns: a tree's splits in slots of 32
// (column, rank: the row goes right when its code > rank; padding: rank 0xFFFF, never right)
// and per split the 64-bit mask of the leaves outside its left subtree (padding: all ones). A
// row's leaf is the lowest bit of the AND of the masks of the splits it goes right at.
//
// Byte slots (ok8: BitvecTrees::codes8, so every code fits a byte, and at most 128 code
// columns): the same splits in slots of 64 (column8, rank8: bytes; padding rank 255, which no
// byte code exceeds), so one byte permute and one compare test every split of a tree of up to 64 leaves, and a
// split slot takes 10 bytes instead of 12 (AVX-512 VBMI).
struct RowMaskTrees {
  bool ok = false;
  AlignedVector<std::uint16_t> column, rank;  // per split slot
  AlignedVector<std::uint64_t> keep;          // per split slot
  std::vector<std::int32_t> begin;          // per tree: its first slot (a multiple of 32)
  std::vector<std::int32_t> splits;         // per tree
  std::vector<std::int32_t> leaf_begin;     // per tree: BitvecTree::leaf_begin
  bool ok8 = false;
  AlignedVector<std::uint8_t> column8, rank8;  // per byte slot
  AlignedVector<std::uint64_t> keep8;          // per byte slot
  std::vector<std::int32_t> begin8;          // per tree: its first byte slot (a multiple of 64)
};

// rank (bits 0-15) | column (16-23) | left child - this node (24-31); a leaf: rank 0xFFFF,
// column 0, offset 0 (points to itself, and no code exceeds 0xFFFF).
constexpr std::uint32_t Node32(std::uint32_t rank, std::uint32_t column, std::uint32_t delta) {
  return rank | column << 16 | delta << 24;
}

// QuantTrees packed in 32 bits (Node32) when every column fits 8 bits and every left child
// lies within 255 slots of its parent; empty otherwise. root: QuantTrees::root plus
// kWalkTrees (kernels.hpp) entries that point at a spare leaf (the last node), for the walk's
// tree loads.
struct Node32Trees {
  std::vector<std::uint32_t> nodes;
  std::vector<std::int32_t> root;
};

// TreeSHAP by leaf paths (shap.cpp), built for every tree whose paths are short enough; other
// trees use the recursive algorithm.
struct ShapLeaf {
  double value;
  std::int32_t elem_begin, elem_count;  // unique features on the path, in ShapPaths::elem
};
struct ShapElem {
  double zero;                          // product of the cover ratios of its splits
  std::int32_t feature;
  std::int32_t cond_begin, cond_count;  // its splits, in ShapPaths::cond: local node << 1 | right
};
struct ShapPaths {
  std::vector<std::int32_t> leaf_begin;  // per tree + 1; empty range: use the recursion
  std::vector<std::uint8_t> fast;        // per tree: leaf paths built
  std::vector<ShapLeaf> leaf;
  std::vector<ShapElem> elem;
  std::vector<std::int32_t> cond;
  std::vector<double> weight;  // (kShapMaxElems + 1)^2: s!(d-1-s)!/d! at [d * (M+1) + s]
  // Per tree: path elements the recursive algorithm needs for it (0 where the leaf paths
  // serve), see BuildShapPaths.
  std::vector<std::int64_t> recursion_elems;
};

// Everything a Forest holds. The builders below fill it in order.
struct ForestData {
  int num_outputs = 1;
  int num_features = 0;
  int max_depth = 0;
  bool has_special = false;  // some split is categorical or zero-as-missing
  bool quantized = false;    // RankCodes, QuantTrees, SuperTrees, BitvecTrees are built
  std::vector<std::int32_t> tree_output;  // per tree
  std::vector<double> tree_expected;  // cover-weighted mean leaf value per tree (NaN: no cover)
  FloatTrees flt;
  RankCodes codes;
  QuantTrees quant;
  SuperTrees super;
  BitvecTrees bitvec;
  Node32Trees node32;
  RowMaskTrees rowmask;
  ShapPaths shap;
  ObliviousTrees oblivious;  // every tree symmetric: the oblivious predictor (oblivious.hpp)

  int NumTrees() const { return static_cast<int>(flt.root.size()); }
};

// Validates the trees and builds every layout (layout.cpp; shap.cpp for the SHAP paths).
void BuildFloatTrees(const std::vector<Tree>& trees, ForestData& d);
void BuildRankLayouts(ForestData& d);  // RankCodes, QuantTrees, SuperTrees, Node32, Bitvec
void BuildShapPaths(ForestData& d);

}  // namespace sapwood::predict
