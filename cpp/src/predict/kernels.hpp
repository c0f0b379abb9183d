#pragma once
// The prediction kernels, each over one block of rows and a range of trees; dispatch.cpp picks
// one per forest and call. The scalar ones (kernels_scalar.cpp) run everywhere; the AVX2 ones
// (kernels_avx2.cpp) and AVX-512 ones (kernels_avx512.cpp) are compiled with a target attribute
// and chosen at run time, so the library itself stays portable x86-64 (and builds elsewhere).
#include <cstdint>

#include "layout.hpp"
#include "sapwood/types.hpp"

namespace sapwood::predict {

constexpr int kLanes = 8;       // rows walked in lock step through one tree (float walk)
constexpr int kSuperLanes = 4;  // the same, for the two-level rank-coded walk

// ---- scalar (kernels_scalar.cpp) ----

// A block of nrows float32 rows (row r at rows + r * row_stride) through trees
// [tree_begin, tree_end) on PackedNodes, kLanes rows in lock step; out: the block's first row
// (NumOutputs per row). kSpecial: some splits are categorical or zero-as-missing.
template <bool kSpecial>
void FloatWalkBlock(const ForestData& d, const float* rows, std::int64_t row_stride,
                    std::int64_t nrows, int tree_begin, int tree_end, double* out);

// Few rows straight from the caller's buffer (any layout), kLanes trees in lock step per row.
template <class T>
void FloatWalkRows(const ForestData& d, const MatrixView<T>& x, int tree_begin, int tree_end,
                   double* out);

// The leaf (node index within its tree) each row of [r0, r1) reaches in each tree.
template <class T>
void LeafWalkRows(const ForestData& d, const MatrixView<T>& x, std::int64_t r0, std::int64_t r1,
                  int tree_begin, int tree_end, std::int32_t* out);

// The rank code of x among feature f's thresholds (see layout.hpp), NaN as 0xFFFF.
std::uint16_t QuantCode(const RankCodes& c, std::int64_t f, float x);
// Codes of a block of rows, row-major, 2 * NumFeatures per row.
void QuantizeBlock(const ForestData& d, const float* rows, std::int64_t row_stride,
                   std::int64_t nrows, std::uint16_t* codes);
// A block of rows (codes padded to a multiple of kSuperLanes rows) through trees
// [tree_begin, tree_end) on SuperNodes.
void SuperWalkBlock(const ForestData& d, const std::uint16_t* codes, std::int64_t nrows,
                    int tree_begin, int tree_end, double* out);

// ---- AVX2 (kernels_avx2.cpp) ----

// True when this CPU runs the AVX2 kernels (checked once).
bool CpuHasAvx2();

// Codes of a block of rows by column for the bit-vector kernel (see BitvecRecord), by an AVX2
// search of 8 values at once. Value (r, f) at first[f][r * row_stride]; |row_stride| < 2^27.
void QuantizeColumnsAvx2(const RankCodes& c, int num_features, const float* const* first,
                         std::int64_t row_stride, std::int64_t nrows, std::int16_t* codes);

// One row's codes (2 * num_features) by the same search, 8 features per register.
void RowCodesAvx2(const RankCodes& c, int num_features, const float* values,
                  std::uint16_t* codes);

// Trees walked side by side for one row by WalkTreesAvx2 (8 per AVX2 register).
constexpr int kWalkTrees = 32;

// One row's codes (plus one spare code) walked through trees [tree_begin, tree_end), 8 trees
// per register, kWalkTrees at once; roots must be readable up to tree_end + kWalkTrees - 1
// (padding: any leaf). Leaves are
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

// ---- AVX-512 (kernels_avx512.cpp) ----

// True when this CPU runs the AVX-512 kernels (F, BW, VL, DQ; checked once).
bool CpuHasAvx512();

// ScoreBitvecAvx2's contract on the same trees by row masks (MaskSplit): adds one tree's leaf
// values to out[r * out_stride] for the block's rows r < nrows (at most kBitvecRows). codes:
// the block's codes by column, kBitvecRows per column (all readable): uint8 (Codes8Avx512) when
// codes8, else int16 as for ScoreBitvecAvx2.
void ScoreMaskAvx512(const BitvecTree& tree, const MaskSplit* split, const double* leaf_value,
                     const void* codes, bool codes8, std::int64_t nrows, double* out,
                     std::int64_t out_stride);

// Two trees' ScoreMaskAvx512 (a, then b, row by row: the same sums) for one output
// (out_stride 1), walked side by side where both have at most 64 leaves and the block more than
// 64 rows, else one after the other.
void ScoreMaskPairAvx512(const BitvecTree& ta, const BitvecTree& tb, const MaskSplit* split,
                         const double* leaf_value, const void* codes, bool codes8,
                         std::int64_t nrows, double* out);

// QuantizeColumnsAvx2's codes, 16 rows per register, the search's first steps from registers.
void QuantizeColumnsAvx512(const RankCodes& c, int num_features, const float* const* first,
                           std::int64_t row_stride, std::int64_t nrows, std::int16_t* codes);

// One row's codes (code_columns = 2 * num_features <= 128 of them, readable up to 128) through
// trees [tree_begin, tree_end) by RowMaskTrees (rm.ok); leaves (BitvecTrees values, left to
// right) added to out[tree_output[t]] in tree order (the batch path's sums, bit for bit).
void RowMaskAvx512(const RowMaskTrees& rm, const BitvecTrees& bv, const std::uint16_t* codes,
                   int code_columns, int num_outputs, const std::int32_t* tree_output,
                   int tree_begin, int tree_end, double* out);

// True when this CPU also has AVX-512 VBMI (byte permutes; checked once).
bool CpuHasAvx512Vbmi();

// RowMaskAvx512's contract on RowMaskTrees' byte slots (rm.ok8, a CPU with VBMI): codes as
// there, 128 of them readable (zero past the row's).
void RowMask8Avx512(const RowMaskTrees& rm, const BitvecTrees& bv, const std::uint16_t* codes,
                    int num_outputs, const std::int32_t* tree_output, int tree_begin,
                    int tree_end, double* out);

// A block's int16 codes (columns of kBitvecRows) as bytes, for forests whose features have at
// most 255 thresholds each (BitvecTrees::codes8).
void Codes8Avx512(const std::int16_t* codes, int columns, std::uint8_t* codes8);

}  // namespace sapwood::predict
