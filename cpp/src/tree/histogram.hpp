#pragma once
// Gradient/hessian histograms per node. The builder keeps a row-major copy of the bin codes
// (one cache line holds a whole row for typical widths), so one pass over a node's rows fills
// every feature's histogram.
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "sapwood/dataset.hpp"
#include "sapwood/grower.hpp"

namespace sapwood {

// An uninitialised array on transparent huge pages where the system allows them (madvise
// mode): the histogram builds read rows of the row-major copy scattered over tens of MB, and
// with 4 KB pages most of those reads also miss the TLB. Falls back to ordinary pages.
template <class T>
class HugeArray {
 public:
  HugeArray() = default;
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  ~HugeArray() { std::free(p_); }
  void Allocate(std::size_t n);
  T* data() { return p_; }
  const T* data() const { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }

 private:
  T* p_ = nullptr;
};

// The sums of a quantized word `w` of format f (HistFormat); Word is its plain unsigned type.
// Exact: the fields never carry into each other; the gradient is the arithmetic shift of the
// signed word, a floor division that is exact since the low fields are non-negative.
template <class Word>
inline NodeSums DecodeWord(Word w, const HistFormat& f) {
  using SWord = std::make_signed_t<Word>;
  const Word low = w & ((Word{1} << f.shift_g) - 1);
  return {static_cast<std::int64_t>(static_cast<SWord>(w) >> f.shift_g),
          static_cast<std::int64_t>(low >> f.shift_h),
          static_cast<std::int64_t>(low & ((Word{1} << f.shift_h) - 1))};
}
// The same sums as a HistBin with count bits count_bits.
template <class Word>
inline HistBin WidenWord(Word w, const HistFormat& f, int count_bits) {
  const NodeSums s = DecodeWord<Word>(w, f);
  return {s.g, (s.h << count_bits) + s.c};
}

class HistogramBuilder {
 public:
  HistogramBuilder(const BinnedMatrix& data, const HistLayout& layout, int n_threads);
  // out (layout.total bins) = histogram of rows[0..n) (rows == nullptr: rows 0..n-1).
  void Build(const std::uint32_t* rows, std::int64_t n, const GradPair* gh, HistBin* out);
  // The same histogram from quantized gradients: `q` holds each row's levels (|g| <=
  // ceil(levels / 2), 0 <= h <= levels) and `gh` the same values as HistBin words. The bins are
  // accumulated as one packed integer word per bin in the format QuantFormat(n, levels) (4 or 8
  // bytes, chosen from n so that no field can overflow) and left in out in that format: the
  // split search and the sibling subtraction read the words directly. Nodes too large for 8
  // bytes use Build on gh (16-byte HistBin). Decoded, the result equals Build(rows, n, gh, out)
  // exactly.
  void BuildQuantized(const std::uint32_t* rows, std::int64_t n, const GradPair* gh,
                      const QuantGrad* q, int levels, HistBin* out);
  // The format BuildQuantized writes for a node of n rows: one fixed word layout per width (that
  // of the largest row count the width holds), so histograms of one width subtract word by word.
  static HistFormat QuantFormat(std::int64_t n, int levels);
  // Bytes per bin BuildQuantized accumulates in for a node of n rows (4, 8, or 16: Build).
  static int QuantBinBytes(std::int64_t n, int levels);
  // out = parent - child, bin by bin (exact in fixed point).
  void Subtract(const HistBin* parent, const HistBin* child, HistBin* out) const;
  // The features the builds fill (ascending; every feature when empty or complete): a tree
  // that colsample_bytree gave some of the features splits on no other, so the others' bins
  // are left at zero rather than added into (with colsample_bytree 0.5, half the adds).
  void SetFeatures(const std::vector<int>& features);

 private:
  template <class BinT>
  void BuildRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin, std::int64_t end,
                  const GradPair* gh, HistBin* out) const;

  template <class BinT, class Word>
  void BuildQuantRange(const BinT* rm, const std::uint32_t* rows, std::int64_t begin,
                       std::int64_t end, const QuantGrad* q, int shift_h, int shift_g,
                       AliasWord<Word>* out) const;
  template <class Word>
  void BuildQuantizedAs(const std::uint32_t* rows, std::int64_t n, const QuantGrad* q,
                        int shift_h, int shift_g, AliasWord<Word>* out);

  const HistLayout& layout_;
  int n_threads_;
  int n_features_;
  std::vector<int> active_;  // SetFeatures: the features filled, or empty for all
  bool wide_;
  HugeArray<BinU8> rm8_;
  HugeArray<BinU16> rm16_;
  std::vector<std::vector<HistBin>> thread_bufs_;
  // per chunk but the first (which builds in out), reused: the 8-byte and 4-byte bins of
  // BuildQuantized
  std::vector<std::vector<std::uint64_t>> quant64_;
  std::vector<std::vector<std::uint32_t>> quant32_;
};

}  // namespace sapwood
