#pragma once
// The AVX2 kernels of the rank-coded predictor (predict.cpp), compiled with a target
// attribute and chosen at run time, so the library itself stays portable x86-64 (and builds
// elsewhere): the bit-vector batch kernel (BitvecRecord, predict.hpp) and the single-row walk.
//
// The single-row walk runs on the 32-bit node layout (Node32 below): 8 walks (trees) per
// 256-bit register, one gather for the nodes and one for the codes per level, every lane
// advanced branch-free; a lane that sits on a leaf stays there, and a walk stops as soon as all
// its lanes do. Gathers cost ~9 cycles each here, which is why batches do not walk this way.
#include <cstdint>

#include "sapwood/predict.hpp"

namespace sapwood::simd {

// rank (bits 0-15) | column (16-23) | left child - this node (24-31); a leaf: rank 0xFFFF,
// column 0, offset 0 (points to itself, and no code exceeds 0xFFFF).
constexpr std::uint32_t Node32(std::uint32_t rank, std::uint32_t column, std::uint32_t delta) {
  return rank | column << 16 | delta << 24;
}

// True when this CPU runs the AVX2 kernels (checked once) and they are not switched off.
bool Avx2Enabled();
// Switches the AVX2 kernels off (false) or back on where the CPU has them (tests, benchmarks).
void SetSimdEnabled(bool on);

// One row's codes (plus one spare code) walked through trees [tree_begin, tree_end), 8 trees
// per register; roots must be readable up to tree_end + 15 (padding: any leaf). Leaves are
// added to out[tree_output[t]] in tree order (the same sums, bit for bit, as the batch path).
void WalkTreesAvx2(const std::uint32_t* nodes, const double* value, const std::uint16_t* codes,
                   const std::int32_t* roots, const std::int32_t* tree_output, int tree_begin,
                   int tree_end, int max_depth, double* out);

// Adds one bit-vector tree's leaf values to out[r * out_stride] for the block's rows r < nrows
// (at most kBitvecRows). codes: the block's column-major codes (see BitvecRecord), readable for
// nrows rounded up to 16 rows in every column.
void ScoreBitvecAvx2(const BitvecTree& tree, const BitvecRecord* rec, const double* leaf_value,
                     const std::int16_t* codes, std::int64_t nrows, double* out,
                     std::int64_t out_stride);

}  // namespace sapwood::simd
