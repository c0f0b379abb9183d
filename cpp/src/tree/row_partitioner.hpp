#pragma once
// The rows of every leaf as contiguous, ascending ranges of one index array; a split
// partitions its leaf's range stably in place.
#include <cstdint>
#include <vector>

#include "sapwood/dataset.hpp"

namespace sapwood {

class RowPartitioner {
 public:
  explicit RowPartitioner(int n_threads) : n_threads_(n_threads) {}
  void Init(const std::vector<std::uint32_t>& rows) { idx_ = rows; }
  // Partitions [begin, end) into rows going left then rows going right; returns the boundary.
  std::int64_t Split(std::int64_t begin, std::int64_t end, const BinnedMatrix& data, int feature,
                     int threshold_bin, bool default_left);
  // The same with goes_left[bin] saying where each bin code goes (categorical splits;
  // defined in categorical_split.cpp).
  std::int64_t SplitByTable(std::int64_t begin, std::int64_t end, const BinnedMatrix& data,
                            int feature, const std::vector<std::uint8_t>& goes_left);
  const std::uint32_t* Rows() const { return idx_.data(); }

 private:
  int n_threads_;
  std::vector<std::uint32_t> idx_;
  std::vector<std::uint32_t> tmp_;
  std::vector<std::uint8_t> table_;  // goes-left per bin for numeric splits (reused)
};

}  // namespace sapwood
