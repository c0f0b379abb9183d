#pragma once
// The dtypes of sapwood's buffers, named once.
#include <cstddef>
#include <cstdint>

namespace sapwood {

using BinU8 = std::uint8_t;    // bin codes when every feature has at most 256 bins
using BinU16 = std::uint16_t;  // bin codes when max_bin > 255
using Feature = float;         // feature values are compared in float32
using Score = double;          // raw margins accumulated per row
using HistSum = std::int64_t;  // histogram sums: fixed-point, exact and order-independent

// A read-only 2-D view over a caller's buffer with arbitrary element strides, so that
// C- and Fortran-ordered inputs are read in place.
template <class T>
struct MatrixView {
  const T* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t row_stride = 0;  // in elements
  std::int64_t col_stride = 0;  // in elements
  inline T At(std::int64_t r, std::int64_t c) const { return data[r * row_stride + c * col_stride]; }
};

}  // namespace sapwood
