#include "sapwood/dataset.hpp"

#include <algorithm>

#include "sapwood/error.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

template <class T>
std::shared_ptr<BinnedMatrix> BinnedMatrix::FromDense(const MatrixView<T>& x,
                                                      const BinMapper& mapper, int n_threads) {
  if (x.cols != mapper.NumFeatures()) {
    throw DataError("data has " + std::to_string(x.cols) + " columns but the bin mapper has " +
                    std::to_string(mapper.NumFeatures()) + " features");
  }
  auto out = std::make_shared<BinnedMatrix>();
  out->rows_ = x.rows;
  out->cols_ = static_cast<int>(x.cols);
  out->mapper_ = mapper;
  out->wide_ = mapper.MaxNumBins() > 256;
  const std::size_t total = static_cast<std::size_t>(x.rows) * static_cast<std::size_t>(x.cols);
  if (out->wide_) {
    out->data16_.resize(total);
  } else {
    out->data8_.resize(total);
  }
  out->BuildLookups();
  // Row blocks keep each block of input in cache while every column of it is binned.
  constexpr std::int64_t kBlock = 2048;
  const std::int64_t n_blocks = (x.rows + kBlock - 1) / kBlock;
  BinnedMatrix* self = out.get();
  ParallelFor(0, n_blocks, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock;
    const std::int64_t r1 = std::min(x.rows, r0 + kBlock);
    for (std::int64_t f = 0; f < x.cols; ++f) {
      const FeatureBins& fb = mapper.Feature(static_cast<int>(f));
      const std::size_t base = static_cast<std::size_t>(f) * static_cast<std::size_t>(x.rows);
      auto fill = [&](const auto& bin) {
        if (self->wide_) {
          BinU16* col = self->data16_.data() + base;
          for (std::int64_t r = r0; r < r1; ++r)
            col[r] = static_cast<BinU16>(bin(static_cast<float>(x.At(r, f))));
        } else {
          BinU8* col = self->data8_.data() + base;
          for (std::int64_t r = r0; r < r1; ++r)
            col[r] = static_cast<BinU8>(bin(static_cast<float>(x.At(r, f))));
        }
      };
      if (self->lookup_.empty()) {
        fill([&](float v) { return fb.ValueToBin(v); });
      } else {
        const BinLookup& lk = self->lookup_[static_cast<std::size_t>(f)];
        fill([&](float v) { return lk.Bin(v); });
      }
    }
  });
  return out;
}

std::shared_ptr<BinnedMatrix> BinnedMatrix::Allocate(std::int64_t rows, const BinMapper& mapper) {
  if (rows < 0) throw DataError("row count must be >= 0, got " + std::to_string(rows));
  auto out = std::make_shared<BinnedMatrix>();
  out->rows_ = rows;
  out->cols_ = mapper.NumFeatures();
  out->mapper_ = mapper;
  out->wide_ = mapper.MaxNumBins() > 256;
  const std::size_t total = static_cast<std::size_t>(rows) * static_cast<std::size_t>(out->cols_);
  if (out->wide_) {
    out->data16_.resize(total);
  } else {
    out->data8_.resize(total);
  }
  out->BuildLookups();
  return out;
}

void BinnedMatrix::BuildLookups() {
  // A table costs about as much to build as binary-searching a few thousand values.
  constexpr std::int64_t kMinRows = 16384;
  lookup_.clear();
  if (rows_ < kMinRows) return;
  lookup_.reserve(static_cast<std::size_t>(cols_));
  for (int f = 0; f < cols_; ++f) lookup_.emplace_back(mapper_.Feature(f));
}

template <class Bin>
void BinnedMatrix::FillRange(std::size_t base, const ColumnView& col, std::int64_t r0,
                             std::int64_t r1, const Bin& bin) {
  if (wide_) {
    BinU16* dst = data16_.data() + base;
    if (col.f32 && col.stride == 1) {
      for (std::int64_t r = r0; r < r1; ++r) dst[r] = static_cast<BinU16>(bin(col.f32[r]));
    } else {
      for (std::int64_t r = r0; r < r1; ++r) dst[r] = static_cast<BinU16>(bin(col.At(r)));
    }
  } else {
    BinU8* dst = data8_.data() + base;
    if (col.f32 && col.stride == 1) {
      for (std::int64_t r = r0; r < r1; ++r) dst[r] = static_cast<BinU8>(bin(col.f32[r]));
    } else {
      for (std::int64_t r = r0; r < r1; ++r) dst[r] = static_cast<BinU8>(bin(col.At(r)));
    }
  }
}

void BinnedMatrix::FillColumn(int f, std::int64_t row_offset, const ColumnView& col,
                              int n_threads) {
  if (f < 0 || f >= cols_) {
    throw DataError("feature " + std::to_string(f) + " out of range (matrix has " +
                    std::to_string(cols_) + ")");
  }
  if (row_offset < 0 || col.rows < 0 || row_offset + col.rows > rows_) {
    throw DataError("rows [" + std::to_string(row_offset) + ", " +
                    std::to_string(row_offset + col.rows) + ") of feature " + std::to_string(f) +
                    " are outside the matrix's " + std::to_string(rows_) + " rows");
  }
  const FeatureBins& fb = mapper_.Feature(f);
  const std::size_t base = static_cast<std::size_t>(f) * static_cast<std::size_t>(rows_) +
                           static_cast<std::size_t>(row_offset);
  constexpr std::int64_t kBlock = 16384;
  ParallelFor(0, (col.rows + kBlock - 1) / kBlock, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * kBlock, r1 = std::min(col.rows, r0 + kBlock);
    if (lookup_.empty()) {
      FillRange(base, col, r0, r1, [&](float v) { return fb.ValueToBin(v); });
    } else {
      const BinLookup& lk = lookup_[static_cast<std::size_t>(f)];
      FillRange(base, col, r0, r1, [&](float v) { return lk.Bin(v); });
    }
  });
}

void BinnedMatrix::FillColumns(std::int64_t row_offset, const std::vector<ColumnView>& cols,
                               int n_threads) {
  if (static_cast<int>(cols.size()) != cols_) {
    throw DataError("got " + std::to_string(cols.size()) + " columns for a matrix of " +
                    std::to_string(cols_) + " features");
  }
  if (cols.empty()) return;
  const std::int64_t n = cols[0].rows;
  for (std::size_t f = 0; f < cols.size(); ++f) {
    if (cols[f].rows != n) {
      throw DataError("column " + std::to_string(f) + " has " + std::to_string(cols[f].rows) +
                      " rows but column 0 has " + std::to_string(n));
    }
  }
  if (row_offset < 0 || row_offset + n > rows_) {
    throw DataError("rows [" + std::to_string(row_offset) + ", " + std::to_string(row_offset + n) +
                    ") are outside the matrix's " + std::to_string(rows_) + " rows");
  }
  // One task per (feature, block of rows): a single parallel region per batch.
  constexpr std::int64_t kBlock = 32768;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  ParallelFor(0, blocks * cols_, n_threads, [&](std::int64_t task) {
    const int f = static_cast<int>(task / blocks);
    const std::int64_t r0 = (task % blocks) * kBlock, r1 = std::min(n, r0 + kBlock);
    const FeatureBins& fb = mapper_.Feature(f);
    const ColumnView& col = cols[static_cast<std::size_t>(f)];
    const std::size_t base = static_cast<std::size_t>(f) * static_cast<std::size_t>(rows_) +
                             static_cast<std::size_t>(row_offset);
    if (lookup_.empty()) {
      FillRange(base, col, r0, r1, [&](float v) { return fb.ValueToBin(v); });
    } else {
      const BinLookup& lk = lookup_[static_cast<std::size_t>(f)];
      FillRange(base, col, r0, r1, [&](float v) { return lk.Bin(v); });
    }
  });
}

template std::shared_ptr<BinnedMatrix> BinnedMatrix::FromDense<float>(const MatrixView<float>&,
                                                                     const BinMapper&, int);
template std::shared_ptr<BinnedMatrix> BinnedMatrix::FromDense<double>(const MatrixView<double>&,
                                                                      const BinMapper&, int);

}  // namespace sapwood
