#include "sapwood/predict.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "sapwood/error.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

Forest::Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output,
               int num_outputs, int num_features)
    : tree_output_(std::move(tree_output)), num_outputs_(num_outputs), num_features_(num_features) {
  if (num_outputs_ < 1) throw ModelFormatError("num_outputs must be >= 1");
  if (num_features_ < 0) throw ModelFormatError("num_features must be >= 0");
  if (tree_output_.size() != trees.size()) {
    throw ModelFormatError("tree_output has " + std::to_string(tree_output_.size()) +
                           " entries for " + std::to_string(trees.size()) + " trees");
  }
  std::int64_t total = 0;
  for (const auto& t : trees) total += t.NumNodes();
  if (total > 0x7FFFFFFF) throw ModelFormatError("forest has more than 2^31 nodes");
  nodes_.reserve(static_cast<std::size_t>(total));
  leaf_value_.reserve(static_cast<std::size_t>(total));
  for (std::size_t ti = 0; ti < trees.size(); ++ti) {
    const Tree& t = trees[ti];
    const std::string where = "tree " + std::to_string(ti);
    const std::int32_t n = t.NumNodes();
    if (n < 1) throw ModelFormatError(where + ": has no nodes");
    if (t.threshold.size() != static_cast<std::size_t>(n) || t.left.size() != static_cast<std::size_t>(n) ||
        t.right.size() != static_cast<std::size_t>(n) || t.value.size() != static_cast<std::size_t>(n) ||
        t.default_left.size() != static_cast<std::size_t>(n)) {
      throw ModelFormatError(where + ": node arrays differ in length");
    }
    if (tree_output_[ti] < 0 || tree_output_[ti] >= num_outputs_) {
      throw ModelFormatError(where + ": output index " + std::to_string(tree_output_[ti]) +
                             " out of range");
    }
    std::vector<std::int32_t> parents(static_cast<std::size_t>(n), 0);
    const std::int32_t base = static_cast<std::int32_t>(nodes_.size());
    for (std::int32_t i = 0; i < n; ++i) {
      PackedNode pn{};
      pn.feature = t.feature[i];
      pn.default_left = t.default_left[i] ? 1 : 0;
      if (pn.feature >= 0) {
        if (pn.feature >= num_features_) {
          throw ModelFormatError(where + ", node " + std::to_string(i) + ": feature " +
                                 std::to_string(pn.feature) + " out of range (model has " +
                                 std::to_string(num_features_) + " features)");
        }
        const std::int32_t l = t.left[i], r = t.right[i];
        if (l <= i || r <= i || l >= n || r >= n || l == r) {
          throw ModelFormatError(where + ", node " + std::to_string(i) +
                                 ": child index out of range");
        }
        if (std::isnan(t.threshold[i])) {
          throw ModelFormatError(where + ", node " + std::to_string(i) + ": threshold is NaN");
        }
        ++parents[static_cast<std::size_t>(l)];
        ++parents[static_cast<std::size_t>(r)];
        pn.threshold = t.threshold[i];
        pn.left = base + l;
        pn.right = base + r;
      } else {
        if (pn.feature != -1) {
          throw ModelFormatError(where + ", node " + std::to_string(i) + ": bad feature index");
        }
        if (!std::isfinite(t.value[i])) {
          throw ModelFormatError(where + ", node " + std::to_string(i) + ": leaf value not finite");
        }
        pn.left = pn.right = -1;
      }
      nodes_.push_back(pn);
      leaf_value_.push_back(t.value[i]);
    }
    for (std::int32_t i = 1; i < n; ++i) {
      if (parents[static_cast<std::size_t>(i)] != 1) {
        throw ModelFormatError(where + ", node " + std::to_string(i) +
                               ": not reachable exactly once from the root");
      }
    }
    tree_root_.push_back(base);
  }
}

namespace {

template <class T>
inline std::int32_t Walk(const PackedNode* nodes, std::int32_t node, const MatrixView<T>& x,
                         std::int64_t r) {
  while (nodes[node].feature >= 0) {
    const PackedNode& pn = nodes[node];
    const float v = static_cast<float>(x.At(r, pn.feature));
    const bool left = std::isnan(v) ? pn.default_left != 0 : v <= pn.threshold;
    node = left ? pn.left : pn.right;
  }
  return node;
}

void CheckRange(const Forest& f, int b, int e) {
  if (b < 0 || e > f.NumTrees() || b > e) {
    throw ParameterError("tree range [" + std::to_string(b) + ", " + std::to_string(e) +
                         ") out of bounds for a forest of " + std::to_string(f.NumTrees()) +
                         " trees");
  }
}

}  // namespace

template <class T>
void Forest::PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                        int n_threads) const {
  CheckRange(*this, tree_begin, tree_end);
  if (x.cols != num_features_) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(num_features_));
  }
  constexpr std::int64_t kBlock = 256;
  const int K = num_outputs_;
  const PackedNode* nodes = nodes_.data();
  ParallelFor(0, (x.rows + kBlock - 1) / kBlock, x.rows >= 2 * kBlock ? n_threads : 1,
              [&](std::int64_t b) {
                const std::int64_t r0 = b * kBlock, r1 = std::min(x.rows, r0 + kBlock);
                for (int t = tree_begin; t < tree_end; ++t) {
                  const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
                  const int k = tree_output_[static_cast<std::size_t>(t)];
                  for (std::int64_t r = r0; r < r1; ++r) {
                    out[r * K + k] += leaf_value_[static_cast<std::size_t>(Walk(nodes, root, x, r))];
                  }
                }
              });
}

template <class T>
void Forest::PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                         int n_threads) const {
  CheckRange(*this, tree_begin, tree_end);
  if (x.cols != num_features_) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(num_features_));
  }
  const int nt = tree_end - tree_begin;
  constexpr std::int64_t kBlock = 256;
  ParallelFor(0, (x.rows + kBlock - 1) / kBlock, x.rows >= 2 * kBlock ? n_threads : 1,
              [&](std::int64_t b) {
                const std::int64_t r0 = b * kBlock, r1 = std::min(x.rows, r0 + kBlock);
                for (std::int64_t r = r0; r < r1; ++r) {
                  for (int t = tree_begin; t < tree_end; ++t) {
                    const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
                    out[r * nt + (t - tree_begin)] = Walk(nodes_.data(), root, x, r) - root;
                  }
                }
              });
}

template void Forest::PredictRaw<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictRaw<double>(const MatrixView<double>&, int, int, double*, int) const;
template void Forest::PredictLeaf<float>(const MatrixView<float>&, int, int, std::int32_t*, int) const;
template void Forest::PredictLeaf<double>(const MatrixView<double>&, int, int, std::int32_t*, int) const;

}  // namespace sapwood
