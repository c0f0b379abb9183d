#pragma once
// Gradient/hessian histograms per node. The builder keeps a row-major copy of the bin codes
// (one cache line holds a whole row for typical widths), so one pass over a node's rows fills
// every feature's histogram.
#include <cstdint>
#include <vector>

#include "sapwood/dataset.hpp"
#include "sapwood/grower.hpp"

namespace sapwood {

class HistogramBuilder {
 public:
  HistogramBuilder(const BinnedMatrix& data, const HistLayout& layout, int n_threads);
  // out (layout.total bins) = histogram of rows[0..n) (rows == nullptr: rows 0..n-1).
  void Build(const std::uint32_t* rows, std::int64_t n, const GradPair* gh, HistBin* out);
  // out = parent - child, bin by bin (exact in fixed point).
  void Subtract(const HistBin* parent, const HistBin* child, HistBin* out) const;

 private:
  template <class BinT>
  void BuildRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin, std::int64_t end,
                  const GradPair* gh, HistBin* out) const;

  const HistLayout& layout_;
  int n_threads_;
  int n_features_;
  bool wide_;
  std::vector<BinU8> rm8_;
  std::vector<BinU16> rm16_;
  std::vector<std::vector<HistBin>> thread_bufs_;
};

}  // namespace sapwood
