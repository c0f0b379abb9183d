#pragma once
// AVX2 kernels of the rank-coded predictor (predict.cpp), compiled with a target attribute and
// chosen at run time, so the library itself stays portable x86-64 (and builds elsewhere).
//
// They walk the 32-bit node layout (Node32 below): 8 walks per 256-bit register, one gather for
// the nodes and one for the codes per level, every lane advanced branch-free; a lane that sits
// on a leaf stays there, and a walk stops as soon as all its lanes do.
#include <cstdint>

namespace sapwood::simd {

// rank (bits 0-15) | column (16-23) | left child - this node (24-31); a leaf: rank 0xFFFF,
// column 0, offset 0 (points to itself, and no code exceeds 0xFFFF).
constexpr std::uint32_t Node32(std::uint32_t rank, std::uint32_t column, std::uint32_t delta) {
  return rank | column << 16 | delta << 24;
}

// The layout of WalkItemsAvx2: rank (bits 0-13) | left child is a leaf (14) | right child is a
// leaf (15) | column (16-23) | left child - this node (24-31). Walks only ever sit on internal
// nodes (a tree that is a single leaf gets an internal root over two copies of its leaf).
constexpr std::uint32_t RefillNode(std::uint32_t rank, bool left_leaf, bool right_leaf,
                                   std::uint32_t column, std::uint32_t delta) {
  return rank | (left_leaf ? 1u << 14 : 0u) | (right_leaf ? 1u << 15 : 0u) | column << 16 |
         delta << 24;
}

// True when this CPU runs the AVX2 kernels (checked once) and they are not switched off.
bool Avx2Enabled();
// Switches the AVX2 kernels off (false) or back on where the CPU has them (tests, benchmarks).
void SetSimdEnabled(bool on);

// Rows [0, nrows) of a code block (row stride w codes; nrows a multiple of 16, padded with
// zero codes, plus one spare code after the last row) walked through one tree: for the first
// live rows, out[r * K] += value[leaf]. out points at the tree's output column of row 0.
void WalkRowsAvx2(const std::uint32_t* nodes, const double* value, const std::uint16_t* codes,
                  int w, std::int64_t nrows, std::int64_t live, std::int32_t root, int depth,
                  double* out, int K);

// One row's codes (plus one spare code) walked through trees [tree_begin, tree_end), 8 trees
// per register; roots must be readable up to tree_end + 15 (padding: any leaf). Leaves are
// added to out[tree_output[t]] in tree order (the same sums, bit for bit, as the batch path).
void WalkTreesAvx2(const std::uint32_t* nodes, const double* value, const std::uint16_t* codes,
                   const std::int32_t* roots, const std::int32_t* tree_output, int tree_begin,
                   int tree_end, int max_depth, double* out);

// Walks items [0, total), 16 in flight (8 per register), each advanced one level per round;
// a walk that reaches a leaf records it, done[c] = the leaf's node index, and restarts with
// the next item, so the work follows each walk's own depth. Item c walks tree c >> shift
// (root: roots[c >> shift]) on the codes of row c & (2^shift - 1) (row stride w codes).
// done holds total + 1 entries (the last: scratch of the idle walks at the end); roots must
// be readable at total >> shift (an idle walk's tree: any tree); codes need one spare code.
void WalkItemsAvx2(const std::uint32_t* nodes, const std::int32_t* roots,
                   const std::uint16_t* codes, int w, int shift, int total, std::int32_t* done);

}  // namespace sapwood::simd
