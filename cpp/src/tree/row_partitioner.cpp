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
  const int chunks = static_cast<int>(std::min<std::int64_t>(n_threads, 1 + n / 16384));
  std::vector<std::int64_t> n_left(static_cast<std::size_t>(chunks), 0);
  auto chunk_begin = [&](std::int64_t c) { return begin + n * c / chunks; };
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    // bounds hoisted: re-evaluated in the loop condition they cost a division per row
    const std::int64_t b = chunk_begin(c), e = chunk_begin(c + 1);
    std::int64_t k = 0;
    for (std::int64_t i = b; i < e; ++i) k += goes_left[col[idx[i]]];
    n_left[static_cast<std::size_t>(c)] = k;
  });
  std::int64_t total_left = 0;
  for (auto k : n_left) total_left += k;
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    std::int64_t lpos = 0, rpos = total_left;
    for (std::int64_t j = 0; j < c; ++j) {
      lpos += n_left[static_cast<std::size_t>(j)];
      rpos += (chunk_begin(j + 1) - chunk_begin(j)) - n_left[static_cast<std::size_t>(j)];
    }
    const std::int64_t b = chunk_begin(c), e = chunk_begin(c + 1);
    for (std::int64_t i = b; i < e; ++i) {
      // branch-free: the side is data-dependent and mispredicts about half the time
      const std::uint32_t r = idx[i];
      const std::int64_t left = goes_left[col[r]] != 0;
      tmp[left ? lpos : rpos] = r;
      lpos += left;
      rpos += 1 - left;
    }
  });
  std::memcpy(idx + begin, tmp, static_cast<std::size_t>(n) * sizeof(std::uint32_t));
  return begin + total_left;
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
