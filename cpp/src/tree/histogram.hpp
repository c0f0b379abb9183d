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
  // The same histogram from quantized gradients: `q` holds each row's levels (|g| <=
  // ceil(levels / 2), 0 <= h <= levels) and `gh` the same values as HistBin words with count
  // bits `count_bits`. The bins are accumulated as one packed integer word per bin (count,
  // hessian and gradient fields, see QuantWordBits), 4 or 8 bytes chosen from n so that no field
  // can overflow, then widened into out; nodes too large for 8 bytes use Build on gh. The
  // result equals Build(rows, n, gh, out) exactly.
  void BuildQuantized(const std::uint32_t* rows, std::int64_t n, const GradPair* gh,
                      const QuantGrad* q, int levels, int count_bits, HistBin* out);
  // Bytes per bin BuildQuantized accumulates in for a node of n rows (4, 8, or 16: Build).
  static int QuantBinBytes(std::int64_t n, int levels);
  // out = parent - child, bin by bin (exact in fixed point).
  void Subtract(const HistBin* parent, const HistBin* child, HistBin* out) const;

 private:
  template <class BinT>
  void BuildRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin, std::int64_t end,
                  const GradPair* gh, HistBin* out) const;

  template <class BinT, class Word>
  void BuildQuantRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin,
                       std::int64_t end, const QuantGrad* q, int shift_h, int shift_g,
                       Word* out) const;
  template <class Word>
  void BuildQuantizedAs(const std::uint32_t* rows, std::int64_t n, const QuantGrad* q,
                        int shift_h, int shift_g, int count_bits, HistBin* out);

  const HistLayout& layout_;
  int n_threads_;
  int n_features_;
  bool wide_;
  std::vector<BinU8> rm8_;
  std::vector<BinU16> rm16_;
  std::vector<std::vector<HistBin>> thread_bufs_;
  // per chunk, reused: the 8-byte and 4-byte bins of BuildQuantized
  std::vector<std::vector<std::uint64_t>> quant64_;
  std::vector<std::vector<std::uint32_t>> quant32_;
};

}  // namespace sapwood
