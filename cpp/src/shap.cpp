// Exact TreeSHAP contributions, by leaf paths.
//
// A tree's value for a coalition S of "known" features is a sum over leaves: leaf l with
// value v and the unique features U of its path (|U| = d) contributes
//   v * prod_{j in U & S} hot_j * prod_{j in U \ S} zero_j,
// where hot_j = 1 when the row follows every split on j along the path, and zero_j is the
// product of the cover ratios of those splits. The Shapley value of feature i in U is then
//   v * (hot_i - zero_i) * sum_s W(s, d) * e_s(U \ {i}),  W(s, d) = s!(d-1-s)!/d!,
// and since hot is 0 or 1, e_s (the sum over subsets of size s of prod hot * prod zero of the
// rest) is prod_{cold j} zero_j times the x^s coefficient of P(x) = prod_{hot j}(x + zero_j).
// So per leaf: one polynomial over the hot features, one weighted sum shared by every cold
// feature (they all get -v * prod_cold zero * sum_s W P_s), and for each hot feature P divided
// by (x + zero_i). That is O(H^2) per leaf for H hot features, with no division in the inner
// loops, against O(d^2) with divisions per leaf for the recursive algorithm (Lundberg, Erion
// & Lee 2018, Algorithm 2), which is kept for trees whose paths are too long to store.
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

namespace {
constexpr int kShapMaxElems = 64;         // unique features on one leaf path
constexpr std::int64_t kShapMaxConds = 64;  // stored splits per node, on average, per tree
}  // namespace

void Forest::BuildShapPaths() {
  const int M = kShapMaxElems;
  shap_weight_.assign(static_cast<std::size_t>((M + 1) * (M + 1)), 0.0);
  for (int d = 1; d <= M; ++d) {
    double w = 1.0 / d;  // W(0, d)
    for (int s = 0; s < d; ++s) {
      shap_weight_[static_cast<std::size_t>(d * (M + 1) + s)] = w;
      if (s + 1 < d) w = w * (s + 1) / static_cast<double>(d - 1 - s);
    }
  }
  const int T = NumTrees();
  shap_leaf_begin_.assign(static_cast<std::size_t>(T) + 1, 0);
  shap_fast_.assign(static_cast<std::size_t>(T), 0);
  struct Step {
    std::int32_t feature;
    std::int32_t cond;  // local parent << 1 | went right
    double ratio;
  };
  std::vector<Step> steps;
  std::vector<std::int32_t> parent;
  for (int t = 0; t < T; ++t) {
    shap_leaf_begin_[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(shap_leaf_.size());
    const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
    const std::int32_t end = t + 1 < T ? tree_root_[static_cast<std::size_t>(t) + 1]
                                       : static_cast<std::int32_t>(nodes_.size());
    const std::int32_t n = end - root;
    if (std::isnan(tree_expected_[static_cast<std::size_t>(t)]) || n < 2) continue;
    const std::size_t leaf0 = shap_leaf_.size(), elem0 = shap_elem_.size(),
                      cond0 = shap_cond_.size();
    const std::int64_t cond_cap = kShapMaxConds * n;
    std::int64_t conds = 0;
    parent.assign(static_cast<std::size_t>(n), -1);
    for (std::int32_t i = 0; i < n; ++i) {
      const PackedNode& pn = nodes_[static_cast<std::size_t>(root + i)];
      if (pn.meta & PackedNode::kLeaf) continue;
      parent[static_cast<std::size_t>(pn.child[0] - root)] = i << 1;
      parent[static_cast<std::size_t>(pn.child[1] - root)] = i << 1 | 1;
    }
    bool ok = true;
    for (std::int32_t i = 0; i < n && ok; ++i) {
      const PackedNode& leaf = nodes_[static_cast<std::size_t>(root + i)];
      if (!(leaf.meta & PackedNode::kLeaf)) continue;
      steps.clear();
      for (std::int32_t c = i; parent[static_cast<std::size_t>(c)] >= 0;) {
        const std::int32_t pc = parent[static_cast<std::size_t>(c)], p = pc >> 1;
        const auto f = static_cast<std::int32_t>(
            nodes_[static_cast<std::size_t>(root + p)].meta & PackedNode::kFeatureMask);
        steps.push_back({f, pc, cover_[static_cast<std::size_t>(root + c)] /
                                    cover_[static_cast<std::size_t>(root + p)]});
        c = p;
        if (++conds > cond_cap) break;
      }
      if (conds > cond_cap) {
        ok = false;
        break;
      }
      std::stable_sort(steps.begin(), steps.end(),
                       [](const Step& x, const Step& y) { return x.feature < y.feature; });
      ShapLeaf sl{value_[static_cast<std::size_t>(root + i)],
                  static_cast<std::int32_t>(shap_elem_.size()), 0};
      for (std::size_t k = 0; k < steps.size();) {
        ShapElem e{1.0, steps[k].feature, static_cast<std::int32_t>(shap_cond_.size()), 0};
        for (; k < steps.size() && steps[k].feature == e.feature; ++k) {
          e.zero *= steps[k].ratio;
          shap_cond_.push_back(steps[k].cond);
          ++e.cond_count;
        }
        shap_elem_.push_back(e);
        ++sl.elem_count;
      }
      if (sl.elem_count > kShapMaxElems || shap_cond_.size() > (std::size_t{1} << 30)) ok = false;
      shap_leaf_.push_back(sl);
    }
    if (!ok) {
      shap_leaf_.resize(leaf0);
      shap_elem_.resize(elem0);
      shap_cond_.resize(cond0);
      continue;
    }
    shap_fast_[static_cast<std::size_t>(t)] = 1;
  }
  shap_leaf_begin_[static_cast<std::size_t>(T)] = static_cast<std::int32_t>(shap_leaf_.size());
}

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

void Forest::ShapTree(int t, const float* row, std::uint8_t* dec, double* phi) const {
  const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
  const std::int32_t end = t + 1 < NumTrees() ? tree_root_[static_cast<std::size_t>(t) + 1]
                                              : static_cast<std::int32_t>(nodes_.size());
  for (std::int32_t i = 0; i < end - root; ++i) {
    const PackedNode& n = nodes_[static_cast<std::size_t>(root + i)];
    if (n.meta & PackedNode::kLeaf) continue;
    dec[i] = GoRight(n, row[n.meta & PackedNode::kFeatureMask]) ? 1 : 0;
  }
  constexpr int M = kShapMaxElems;
  double hot_zero[M], poly[M + 1];
  std::int32_t hot_feature[M], cold_feature[M];
  const ShapLeaf* lb = shap_leaf_.data() + shap_leaf_begin_[static_cast<std::size_t>(t)];
  const ShapLeaf* le = shap_leaf_.data() + shap_leaf_begin_[static_cast<std::size_t>(t) + 1];
  for (const ShapLeaf* leaf = lb; leaf != le; ++leaf) {
    const ShapElem* e = shap_elem_.data() + leaf->elem_begin;
    const int d = leaf->elem_count;
    int H = 0, C = 0;
    double cold = 1.0;
    for (int j = 0; j < d; ++j) {
      const std::int32_t* c = shap_cond_.data() + e[j].cond_begin;
      bool hot = true;
      for (int k = 0; k < e[j].cond_count; ++k) hot &= dec[c[k] >> 1] == (c[k] & 1);
      if (hot) {
        hot_zero[H] = e[j].zero;
        hot_feature[H++] = e[j].feature;
      } else {
        cold *= e[j].zero;
        cold_feature[C++] = e[j].feature;
      }
    }
    if (cold == 0.0) continue;  // every term carries the product of the cold zero fractions
    poly[0] = 1.0;
    for (int h = 0; h < H; ++h) {  // poly *= (x + hot_zero[h])
      const double z = hot_zero[h];
      poly[h + 1] = poly[h];
      for (int k = h; k > 0; --k) poly[k] = poly[k - 1] + z * poly[k];
      poly[0] *= z;
    }
    const double* w = shap_weight_.data() + static_cast<std::size_t>(d) * (M + 1);
    const double v = leaf->value * cold;
    if (C > 0) {
      double sum = 0.0;
      for (int s = 0; s <= H; ++s) sum += w[s] * poly[s];
      const double add = -v * sum;
      for (int j = 0; j < C; ++j) phi[cold_feature[j]] += add;
    }
    for (int h = 0; h < H; ++h) {
      // poly / (x + z), from the top coefficient down.
      const double z = hot_zero[h];
      double q = poly[H], sum = w[H - 1] * q;
      for (int k = H - 1; k > 0; --k) {
        q = poly[k] - z * q;
        sum += w[k - 1] * q;
      }
      phi[hot_feature[h]] += v * (1.0 - z) * sum;
    }
  }
}

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
  std::int32_t max_nodes = 1;
  for (int t = 0; t < NumTrees(); ++t) {
    const std::int32_t end = t + 1 < NumTrees() ? tree_root_[static_cast<std::size_t>(t) + 1]
                                                : static_cast<std::int32_t>(nodes_.size());
    max_nodes = std::max(max_nodes, end - tree_root_[static_cast<std::size_t>(t)]);
  }
  const std::int64_t F = std::max<std::int64_t>(1, num_features_);
  ParallelForDynamic(0, nblocks, x.rows > kBlock ? n_threads : 1, [&](std::int64_t b) {
    // Per-thread scratch, reused across calls (fresh pages are slow to get here).
    thread_local std::vector<PathElement> path;
    thread_local std::vector<float> rows;
    thread_local std::vector<std::uint8_t> dec;
    if (path.size() < path_len) path.resize(path_len);
    if (rows.size() < static_cast<std::size_t>(kBlock * F)) {
      rows.resize(static_cast<std::size_t>(kBlock * F));
    }
    if (dec.size() < static_cast<std::size_t>(max_nodes)) {
      dec.resize(static_cast<std::size_t>(max_nodes));
    }
    const std::int64_t r0 = b * kBlock, r1 = std::min(x.rows, r0 + kBlock);
    for (std::int64_t r = r0; r < r1; ++r) {
      for (std::int64_t f = 0; f < num_features_; ++f) {
        rows[static_cast<std::size_t>((r - r0) * F + f)] = static_cast<float>(x.At(r, f));
      }
    }
    // Tree by tree over the block: one tree's leaf paths stay in cache for all its rows.
    for (int t = tree_begin; t < tree_end; ++t) {
      const int k = tree_output_[static_cast<std::size_t>(t)];
      const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
      const bool leaf_root = (nodes_[static_cast<std::size_t>(root)].meta & PackedNode::kLeaf) != 0;
      for (std::int64_t r = r0; r < r1; ++r) {
        double* phi = out + (r * K + k) * F1;
        phi[num_features_] += tree_expected_[static_cast<std::size_t>(t)];
        if (leaf_root) continue;
        const float* row = rows.data() + (r - r0) * F;
        if (shap_fast_[static_cast<std::size_t>(t)]) {
          ShapTree(t, row, dec.data(), phi);
        } else {
          ShapContext c{this, nodes_.data(), value_.data(), cover_.data(), row, phi};
          Recurse(c, root, path.data(), 0, 1.0, 1.0, -1);
        }
      }
    }
  });
}

template void Forest::PredictContrib<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictContrib<double>(const MatrixView<double>&, int, int, double*,
                                             int) const;

}  // namespace sapwood
