#include "row_partitioner.hpp"

#include <algorithm>
#include <cstring>

#include "sapwood/threading.hpp"

namespace sapwood {
namespace {

template <class BinT>
std::int64_t SplitImpl(std::uint32_t* idx, std::uint32_t* tmp, std::int64_t begin, std::int64_t end,
                       const BinT* col, int threshold_bin, int nan_bin, bool default_left,
                       int n_threads) {
  const std::int64_t n = end - begin;
  auto goes_left = [&](std::uint32_t r) {
    const int b = col[r];
    return b == nan_bin ? default_left : b <= threshold_bin;
  };
  const int chunks = static_cast<int>(std::min<std::int64_t>(n_threads, 1 + n / 16384));
  std::vector<std::int64_t> n_left(static_cast<std::size_t>(chunks), 0);
  auto chunk_begin = [&](int c) { return begin + n * c / chunks; };
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    std::int64_t k = 0;
    for (std::int64_t i = chunk_begin(static_cast<int>(c)); i < chunk_begin(static_cast<int>(c) + 1); ++i)
      k += goes_left(idx[i]);
    n_left[static_cast<std::size_t>(c)] = k;
  });
  std::int64_t total_left = 0;
  for (auto k : n_left) total_left += k;
  ParallelFor(0, chunks, chunks, [&](std::int64_t c) {
    std::int64_t lpos = 0, rpos = total_left;
    for (int j = 0; j < c; ++j) {
      lpos += n_left[static_cast<std::size_t>(j)];
      rpos += (chunk_begin(j + 1) - chunk_begin(j)) - n_left[static_cast<std::size_t>(j)];
    }
    for (std::int64_t i = chunk_begin(static_cast<int>(c)); i < chunk_begin(static_cast<int>(c) + 1); ++i) {
      const std::uint32_t r = idx[i];
      if (goes_left(r)) {
        tmp[lpos++] = r;
      } else {
        tmp[rpos++] = r;
      }
    }
  });
  std::memcpy(idx + begin, tmp, static_cast<std::size_t>(n) * sizeof(std::uint32_t));
  return begin + total_left;
}

}  // namespace

std::int64_t RowPartitioner::Split(std::int64_t begin, std::int64_t end, const BinnedMatrix& data,
                                   int feature, int threshold_bin, bool default_left) {
  if (tmp_.size() < idx_.size()) tmp_.resize(idx_.size());
  const int nan_bin = data.Mapper().Feature(feature).NanBin();
  if (data.IsWide()) {
    return SplitImpl(idx_.data(), tmp_.data(), begin, end, data.Column16(feature), threshold_bin,
                     nan_bin, default_left, n_threads_);
  }
  return SplitImpl(idx_.data(), tmp_.data(), begin, end, data.Column8(feature), threshold_bin,
                   nan_bin, default_left, n_threads_);
}

}  // namespace sapwood
