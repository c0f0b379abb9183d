#pragma once
// The binned matrix: column-major bin codes, uint8 when every feature has at most 256 bins,
// uint16 otherwise.
#include <cstdint>
#include <memory>
#include <vector>

#include "sapwood/binning.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

class BinnedMatrix {
 public:
  BinnedMatrix() = default;

  template <class T>
  static std::shared_ptr<BinnedMatrix> FromDense(const MatrixView<T>& x, const BinMapper& mapper,
                                                 int n_threads);

  // An all-zero matrix of `rows` rows to be filled column batch by column batch (streamed
  // inputs: Parquet record batches). Each FillColumn writes rows [row_offset, row_offset + n).
  static std::shared_ptr<BinnedMatrix> Allocate(std::int64_t rows, const BinMapper& mapper);
  void FillColumn(int f, std::int64_t row_offset, const ColumnView& col, int n_threads);
  // Every feature of one batch (cols[f] is feature f) in one parallel region.
  void FillColumns(std::int64_t row_offset, const std::vector<ColumnView>& cols, int n_threads);

  std::int64_t NumRows() const { return rows_; }
  int NumFeatures() const { return cols_; }
  bool IsWide() const { return wide_; }  // uint16 codes
  const BinMapper& Mapper() const { return mapper_; }
  const BinU8* Column8(int f) const { return data8_.data() + static_cast<std::size_t>(f) * rows_; }
  const BinU16* Column16(int f) const {
    return data16_.data() + static_cast<std::size_t>(f) * rows_;
  }
  int BinAt(std::int64_t r, int f) const {
    return wide_ ? Column16(f)[r] : Column8(f)[r];
  }

 private:
  // Table lookups (BinLookup) once the matrix is large enough to repay building them.
  void BuildLookups();
  template <class Bin>
  void FillRange(std::size_t base, const ColumnView& col, std::int64_t r0, std::int64_t r1,
                 const Bin& bin);

  std::int64_t rows_ = 0;
  int cols_ = 0;
  bool wide_ = false;
  BinMapper mapper_;
  std::vector<BinU8> data8_;
  std::vector<BinU16> data16_;
  std::vector<BinLookup> lookup_;  // one per feature, or empty (binary search per value)
};

}  // namespace sapwood
