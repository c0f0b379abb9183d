// Exact TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature attribution
// for tree ensembles", Algorithm 2): per row and tree, one recursion over the tree that keeps
// the set of features on the path with the weights of every subset size.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "sapwood/error.hpp"
#include "sapwood/predict.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

namespace {

struct PathElement {
  std::int32_t feature;
  double zero_fraction;  // share of the cover that goes this way (feature "absent")
  double one_fraction;   // 1 when the row goes this way (feature "present"), else 0
  double pweight;        // weight of the subsets of each size
};

// Adds a feature to the path of length `depth` (depth+1 elements after the call).
void ExtendPath(PathElement* path, int depth, double zero_fraction, double one_fraction,
                std::int32_t feature) {
  path[depth].feature = feature;
  path[depth].zero_fraction = zero_fraction;
  path[depth].one_fraction = one_fraction;
  path[depth].pweight = depth == 0 ? 1.0 : 0.0;
  const double inv = 1.0 / static_cast<double>(depth + 1);
  for (int i = depth - 1; i >= 0; --i) {
    path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) * inv;
    path[i].pweight = zero_fraction * path[i].pweight * (depth - i) * inv;
  }
}

// Removes element `index` from the path of length `depth` (undoes ExtendPath).
void UnwindPath(PathElement* path, int depth, int index) {
  const double one = path[index].one_fraction;
  const double zero = path[index].zero_fraction;
  double next = path[depth].pweight;
  for (int i = depth - 1; i >= 0; --i) {
    if (one != 0) {
      const double tmp = path[i].pweight;
      path[i].pweight = next * (depth + 1) / (static_cast<double>(i + 1) * one);
      next = tmp - path[i].pweight * zero * (depth - i) / static_cast<double>(depth + 1);
    } else {
      path[i].pweight = path[i].pweight * (depth + 1) / (zero * (depth - i));
    }
  }
  for (int i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

// The total weight of the path with element `index` unwound (without modifying the path).
double UnwoundPathSum(const PathElement* path, int depth, int index) {
  const double one = path[index].one_fraction;
  const double zero = path[index].zero_fraction;
  double next = path[depth].pweight;
  double total = 0;
  if (one != 0) {
    for (int i = depth - 1; i >= 0; --i) {
      const double tmp = next * (depth + 1) / (static_cast<double>(i + 1) * one);
      total += tmp;
      next = path[i].pweight - tmp * zero * (depth - i) / static_cast<double>(depth + 1);
    }
  } else if (zero != 0) {
    for (int i = depth - 1; i >= 0; --i) {
      total += path[i].pweight / zero * (depth + 1) / static_cast<double>(depth - i);
    }
  }
  return total;
}

}  // namespace

void Forest::CheckContribReady(int tree_begin, int tree_end) const {
  for (int t = tree_begin; t < tree_end; ++t) {
    if (std::isnan(tree_expected_[static_cast<std::size_t>(t)])) {
      throw ModelFormatError("tree " + std::to_string(t) +
                             ": contributions need a positive, finite cover ('hess') at every "
                             "internal node, and this tree lacks one");
    }
  }
}

namespace {

struct ShapContext {
  const Forest* forest;
  const PackedNode* nodes;
  const double* value;
  const double* cover;
  const float* row;
  double* phi;  // NumFeatures + 1 (the last is the bias, not touched here)
};

void Recurse(const ShapContext& c, std::int32_t node, PathElement* parent_path, int depth,
             double parent_zero, double parent_one, std::int32_t parent_feature) {
  PathElement* path = parent_path + depth + 1;
  std::copy(parent_path, parent_path + depth + 1, path);
  ExtendPath(path, depth, parent_zero, parent_one, parent_feature);
  const PackedNode& n = c.nodes[node];
  if (n.meta & PackedNode::kLeaf) {
    const double v = c.value[node];
    for (int i = 1; i <= depth; ++i) {
      const double w = UnwoundPathSum(path, depth, i);
      c.phi[path[i].feature] += w * (path[i].one_fraction - path[i].zero_fraction) * v;
    }
    return;
  }
  const auto f = static_cast<std::int32_t>(n.meta & PackedNode::kFeatureMask);
  const bool right = c.forest->GoRight(n, c.row[f]);
  const std::int32_t hot = n.child[right ? 1 : 0], cold = n.child[right ? 0 : 1];
  const double w = c.cover[node];
  const double hot_zero = c.cover[hot] / w, cold_zero = c.cover[cold] / w;
  double in_zero = 1, in_one = 1;
  int k = 0;
  for (; k <= depth; ++k) {
    if (path[k].feature == f) break;
  }
  if (k != depth + 1) {
    in_zero = path[k].zero_fraction;
    in_one = path[k].one_fraction;
    UnwindPath(path, depth, k);
    depth -= 1;
  }
  Recurse(c, hot, path, depth + 1, hot_zero * in_zero, in_one, f);
  Recurse(c, cold, path, depth + 1, cold_zero * in_zero, 0, f);
}

}  // namespace

template <class T>
void Forest::PredictContrib(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                            int n_threads) const {
  if (tree_begin < 0 || tree_end > NumTrees() || tree_begin > tree_end) {
    throw ParameterError("tree range [" + std::to_string(tree_begin) + ", " +
                         std::to_string(tree_end) + ") out of bounds for a forest of " +
                         std::to_string(NumTrees()) + " trees");
  }
  if (x.cols != num_features_) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(num_features_));
  }
  CheckContribReady(tree_begin, tree_end);
  const std::int64_t F1 = num_features_ + 1;
  const int K = num_outputs_;
  // The recursion stores one path per level: (D+2)(D+3)/2 elements cover depth D.
  const std::size_t path_len =
      static_cast<std::size_t>((max_depth_ + 2) * (max_depth_ + 3) / 2 + 1);
  constexpr std::int64_t kBlock = 16;
  const std::int64_t nblocks = (x.rows + kBlock - 1) / kBlock;
  ParallelForDynamic(0, nblocks, x.rows > kBlock ? n_threads : 1, [&](std::int64_t b) {
    std::vector<PathElement> path(path_len);
    std::vector<float> row(static_cast<std::size_t>(std::max<std::int64_t>(1, num_features_)));
    const std::int64_t r0 = b * kBlock, r1 = std::min(x.rows, r0 + kBlock);
    for (std::int64_t r = r0; r < r1; ++r) {
      for (std::int64_t f = 0; f < num_features_; ++f) {
        row[static_cast<std::size_t>(f)] = static_cast<float>(x.At(r, f));
      }
      for (int t = tree_begin; t < tree_end; ++t) {
        const int k = tree_output_[static_cast<std::size_t>(t)];
        double* phi = out + (r * K + k) * F1;
        phi[num_features_] += tree_expected_[static_cast<std::size_t>(t)];
        const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
        if (nodes_[static_cast<std::size_t>(root)].meta & PackedNode::kLeaf) continue;
        ShapContext c{this, nodes_.data(), value_.data(), cover_.data(), row.data(), phi};
        Recurse(c, root, path.data(), 0, 1.0, 1.0, -1);
      }
    }
  });
}

template void Forest::PredictContrib<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictContrib<double>(const MatrixView<double>&, int, int, double*,
                                             int) const;

}  // namespace sapwood
