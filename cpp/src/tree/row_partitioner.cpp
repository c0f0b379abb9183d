#include "row_partitioner.hpp"

#include <algorithm>
#include <cstring>

#include "sapwood/threading.hpp"

namespace sapwood {
namespace {

template <class BinT>
std::int64_t SplitByTableImpl(std::uint32_t* idx, std::uint32_t* tmp, std::int64_t begin,
                              std::int64_t end, const BinT* col, const std::uint8_t* goes_left,
                              int n_threads) {
  const std::int64_t n = end - begin;
  const int threads = static_cast<int>(std::min<std::int64_t>(n_threads, 1 + n / 16384));
  // Several chunks per thread, handed out dynamically: a thread the OS deschedules holds back
  // one small chunk, not half the rows. The result does not depend on who took which chunk.
  const int chunks = threads <= 1 ? 1
                                  : static_cast<int>(std::clamp<std::int64_t>(
                                        n / 8192, threads, 4 * static_cast<std::int64_t>(threads)));
  std::vector<std::int64_t> n_left(static_cast<std::size_t>(chunks), 0);
  auto chunk_begin = [&](std::int64_t c) { return begin + n * c / chunks; };
  // One pass over the rows (the bin lookup, a gather, is the cost): each chunk keeps its left
  // rows in place at its front and puts its right rows in tmp at the same offsets; both stay in
  // row order (the partition is stable).
  ParallelForDynamic(0, chunks, threads, [&](std::int64_t c) {
    // bounds hoisted: re-evaluated in the loop condition they cost a division per row
    const std::int64_t b = chunk_begin(c), e = chunk_begin(c + 1);
    std::int64_t lpos = b, rpos = b;
    for (std::int64_t i = b; i < e; ++i) {
      // branch-free: the side is data-dependent and mispredicts about half the time; both
      // stores are made, only the chosen side's position advances (lpos <= i: in place is safe)
      const std::uint32_t r = idx[i];
      const std::int64_t left = goes_left[col[r]] != 0;
      idx[lpos] = r;
      tmp[rpos] = r;
      lpos += left;
      rpos += 1 - left;
    }
    n_left[static_cast<std::size_t>(c)] = lpos - b;
  });
  // Gather the chunks: left rows to the front in chunk order (moving down, in chunk order, never
  // overwrites rows not yet moved), then the right rows after them.
  std::int64_t lpos = begin;
  for (int c = 0; c < chunks; ++c) {
    const std::int64_t b = chunk_begin(c), k = n_left[static_cast<std::size_t>(c)];
    if (lpos != b) std::memmove(idx + lpos, idx + b, static_cast<std::size_t>(k) * sizeof(std::uint32_t));
    lpos += k;
  }
  std::int64_t rpos = lpos;
  for (int c = 0; c < chunks; ++c) {
    const std::int64_t b = chunk_begin(c), e = chunk_begin(c + 1);
    const std::int64_t k = (e - b) - n_left[static_cast<std::size_t>(c)];
    std::memcpy(idx + rpos, tmp + b, static_cast<std::size_t>(k) * sizeof(std::uint32_t));
    rpos += k;
  }
  return lpos;
}

}  // namespace

std::int64_t RowPartitioner::SplitByTable(std::int64_t begin, std::int64_t end,
                                          const BinnedMatrix& data, int feature,
                                          const std::vector<std::uint8_t>& goes_left) {
  if (tmp_.size() < idx_.size()) tmp_.resize(idx_.size());
  if (data.IsWide()) {
    return SplitByTableImpl(idx_.data(), tmp_.data(), begin, end, data.Column16(feature),
                            goes_left.data(), n_threads_);
  }
  return SplitByTableImpl(idx_.data(), tmp_.data(), begin, end, data.Column8(feature),
                          goes_left.data(), n_threads_);
}

std::int64_t RowPartitioner::Split(std::int64_t begin, std::int64_t end, const BinnedMatrix& data,
                                   int feature, int threshold_bin, bool default_left) {
  // A numeric split is a per-bin table too: bins <= threshold go left, the NaN bin follows
  // default_left. One partition routine serves numeric and categorical splits.
  const FeatureBins& fb = data.Mapper().Feature(feature);
  table_.assign(static_cast<std::size_t>(fb.NumBins()), 0);
  for (int b = 0; b < fb.NumBins(); ++b) table_[static_cast<std::size_t>(b)] = b <= threshold_bin;
  table_[static_cast<std::size_t>(fb.NanBin())] = default_left ? 1 : 0;
  return SplitByTable(begin, end, data, feature, table_);
}

}  // namespace sapwood
