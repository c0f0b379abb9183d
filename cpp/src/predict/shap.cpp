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
//
// The recursion runs on an explicit stack (a tree thousands of levels deep cannot overflow the
// thread's stack) and keeps one path per level of the current branch, each as long as the
// distinct features above it: per thread, memory linear in the depth times the distinct
// features on a path (BuildShapPaths computes the exact need per tree; PredictContrib refuses
// a tree past Forest::kMaxContribPathElems). A path per level is what lets the cold branch
// start again from its parent's path after the hot one is done.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layout.hpp"
#include "sapwood/error.hpp"
#include "sapwood/forest.hpp"
#include "sapwood/threading.hpp"

namespace sapwood::predict {

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

namespace {

// The path elements the recursion needs for tree t (see the file comment): a node's path holds
// the root's element plus one per distinct feature split on above it, and starts right after
// its parent's path's first (its length) elements.
std::int64_t RecursionElems(const ForestData& d, int t) {
  const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
  const std::int32_t n = d.flt.End(static_cast<std::size_t>(t)) - root;
  const auto feature = [&](std::int32_t i) {
    return static_cast<std::int32_t>(d.flt.nodes[static_cast<std::size_t>(root + i)].meta &
                                     PackedNode::kFeatureMask);
  };
  const auto is_leaf = [&](std::int32_t i) {
    return (d.flt.nodes[static_cast<std::size_t>(root + i)].meta & PackedNode::kLeaf) != 0;
  };
  std::vector<std::int32_t> feats;
  for (std::int32_t i = 0; i < n; ++i) {
    if (!is_leaf(i)) feats.push_back(feature(i));
  }
  std::sort(feats.begin(), feats.end());
  feats.erase(std::unique(feats.begin(), feats.end()), feats.end());
  const auto dense = [&](std::int32_t i) {
    return static_cast<std::size_t>(std::lower_bound(feats.begin(), feats.end(), feature(i)) -
                                    feats.begin());
  };
  std::vector<std::int32_t> on_path(feats.size(), 0);  // splits on each feature above the node
  std::vector<std::int64_t> len(static_cast<std::size_t>(n), 0), at(static_cast<std::size_t>(n), 0);
  // Depth first, iteratively: a node is entered (code >= 0) and later left (~node).
  std::vector<std::int32_t> todo{0};
  len[0] = 1;
  at[0] = 1;
  std::int64_t need = 2;
  while (!todo.empty()) {
    const std::int32_t code = todo.back();
    todo.pop_back();
    if (code < 0) {
      --on_path[dense(~code)];
      continue;
    }
    const auto i = static_cast<std::size_t>(code);
    need = std::max(need, at[i] + len[i]);
    if (is_leaf(code)) continue;
    const std::size_t f = dense(code);
    const std::int64_t child_len = len[i] + (on_path[f] == 0 ? 1 : 0);
    ++on_path[f];
    todo.push_back(~code);
    const PackedNode& pn = d.flt.nodes[static_cast<std::size_t>(root) + i];
    for (int c = 0; c < 2; ++c) {
      const auto k = static_cast<std::size_t>(pn.child[c] - root);
      len[k] = child_len;
      at[k] = at[i] + child_len;
      todo.push_back(static_cast<std::int32_t>(k));
    }
  }
  return need;
}

}  // namespace

void BuildShapPaths(ForestData& d) {
  const int M = kShapMaxElems;
  d.shap.weight.assign(static_cast<std::size_t>((M + 1) * (M + 1)), 0.0);
  for (int n = 1; n <= M; ++n) {
    double w = 1.0 / n;  // W(0, n)
    for (int s = 0; s < n; ++s) {
      d.shap.weight[static_cast<std::size_t>(n * (M + 1) + s)] = w;
      if (s + 1 < n) w = w * (s + 1) / static_cast<double>(n - 1 - s);
    }
  }
  const int T = d.NumTrees();
  d.shap.recursion_elems.assign(static_cast<std::size_t>(T), 0);
  d.shap.leaf_begin.assign(static_cast<std::size_t>(T) + 1, 0);
  d.shap.fast.assign(static_cast<std::size_t>(T), 0);
  struct Step {
    std::int32_t feature;
    std::int32_t cond;  // local parent << 1 | went right
    double ratio;
  };
  std::vector<Step> steps;
  std::vector<std::int32_t> parent;
  for (int t = 0; t < T; ++t) {
    d.shap.leaf_begin[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(d.shap.leaf.size());
    const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
    const std::int32_t end = t + 1 < T ? d.flt.root[static_cast<std::size_t>(t) + 1]
                                       : static_cast<std::int32_t>(d.flt.nodes.size());
    const std::int32_t n = end - root;
    if (std::isnan(d.tree_expected[static_cast<std::size_t>(t)]) || n < 2) continue;
    const std::size_t leaf0 = d.shap.leaf.size(), elem0 = d.shap.elem.size(),
                      cond0 = d.shap.cond.size();
    const std::int64_t cond_cap = kShapMaxConds * n;
    std::int64_t conds = 0;
    parent.assign(static_cast<std::size_t>(n), -1);
    for (std::int32_t i = 0; i < n; ++i) {
      const PackedNode& pn = d.flt.nodes[static_cast<std::size_t>(root + i)];
      if (pn.meta & PackedNode::kLeaf) continue;
      parent[static_cast<std::size_t>(pn.child[0] - root)] = i << 1;
      parent[static_cast<std::size_t>(pn.child[1] - root)] = i << 1 | 1;
    }
    bool ok = true;
    for (std::int32_t i = 0; i < n && ok; ++i) {
      const PackedNode& leaf = d.flt.nodes[static_cast<std::size_t>(root + i)];
      if (!(leaf.meta & PackedNode::kLeaf)) continue;
      steps.clear();
      for (std::int32_t c = i; parent[static_cast<std::size_t>(c)] >= 0;) {
        const std::int32_t pc = parent[static_cast<std::size_t>(c)], p = pc >> 1;
        const auto f = static_cast<std::int32_t>(
            d.flt.nodes[static_cast<std::size_t>(root + p)].meta & PackedNode::kFeatureMask);
        steps.push_back({f, pc, d.flt.cover[static_cast<std::size_t>(root + c)] /
                                    d.flt.cover[static_cast<std::size_t>(root + p)]});
        c = p;
        if (++conds > cond_cap) break;
      }
      if (conds > cond_cap) {
        ok = false;
        break;
      }
      std::stable_sort(steps.begin(), steps.end(),
                       [](const Step& x, const Step& y) { return x.feature < y.feature; });
      ShapLeaf sl{d.flt.value[static_cast<std::size_t>(root + i)],
                  static_cast<std::int32_t>(d.shap.elem.size()), 0};
      for (std::size_t k = 0; k < steps.size();) {
        ShapElem e{1.0, steps[k].feature, static_cast<std::int32_t>(d.shap.cond.size()), 0};
        for (; k < steps.size() && steps[k].feature == e.feature; ++k) {
          e.zero *= steps[k].ratio;
          d.shap.cond.push_back(steps[k].cond);
          ++e.cond_count;
        }
        d.shap.elem.push_back(e);
        ++sl.elem_count;
      }
      if (sl.elem_count > kShapMaxElems || d.shap.cond.size() > (std::size_t{1} << 30)) ok = false;
      d.shap.leaf.push_back(sl);
    }
    if (!ok) {
      d.shap.leaf.resize(leaf0);
      d.shap.elem.resize(elem0);
      d.shap.cond.resize(cond0);
      d.shap.recursion_elems[static_cast<std::size_t>(t)] = RecursionElems(d, t);
      continue;
    }
    d.shap.fast[static_cast<std::size_t>(t)] = 1;
  }
  d.shap.leaf_begin[static_cast<std::size_t>(T)] = static_cast<std::int32_t>(d.shap.leaf.size());
}

namespace {

void CheckContribReady(const ForestData& d, int tree_begin, int tree_end) {
  for (int t = tree_begin; t < tree_end; ++t) {
    if (std::isnan(d.tree_expected[static_cast<std::size_t>(t)])) {
      throw ModelFormatError("tree " + std::to_string(t) +
                             ": contributions need a positive, finite cover ('hess') at every "
                             "internal node, and this tree lacks one");
    }
  }
}

// Adds tree t's contributions for one row (float32 features) to phi; dec: NumNodes scratch.
void ShapTree(const ForestData& d, int t, const float* row, std::uint8_t* dec, double* phi) {
  const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
  const std::int32_t end = d.flt.End(static_cast<std::size_t>(t));
  for (std::int32_t i = 0; i < end - root; ++i) {
    const PackedNode& n = d.flt.nodes[static_cast<std::size_t>(root + i)];
    if (n.meta & PackedNode::kLeaf) continue;
    dec[i] = d.flt.GoRight(n, row[n.meta & PackedNode::kFeatureMask]) ? 1 : 0;
  }
  constexpr int M = kShapMaxElems;
  double hot_zero[M], poly[M + 1];
  std::int32_t hot_feature[M], cold_feature[M];
  const ShapLeaf* lb = d.shap.leaf.data() + d.shap.leaf_begin[static_cast<std::size_t>(t)];
  const ShapLeaf* le = d.shap.leaf.data() + d.shap.leaf_begin[static_cast<std::size_t>(t) + 1];
  for (const ShapLeaf* leaf = lb; leaf != le; ++leaf) {
    const ShapElem* e = d.shap.elem.data() + leaf->elem_begin;
    const int len = leaf->elem_count;
    int H = 0, C = 0;
    double cold = 1.0;
    for (int j = 0; j < len; ++j) {
      const std::int32_t* c = d.shap.cond.data() + e[j].cond_begin;
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
    const double* w = d.shap.weight.data() + static_cast<std::size_t>(len) * (M + 1);
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

// A call of the recursive algorithm still to run: walk into node with the path of length
// depth + 1 that starts at `parent` (an element index), extended by (zero, one, feature).
struct PendingCall {
  std::int32_t node;
  std::int32_t depth;
  std::int64_t parent;
  double zero, one;
  std::int32_t feature;
};

// Lundberg et al.'s Algorithm 2 for one row and tree, its recursion unrolled onto `stack`:
// calls run in the recursion's order (the hot child's subtree, then the cold child), so the
// sums are the same, bit for bit. paths: RecursionElems(d, t) elements.
void RecurseTree(const ForestData& d, std::int32_t root, const float* row, double* phi,
                 PathElement* paths, std::vector<PendingCall>& stack) {
  const PackedNode* nodes = d.flt.nodes.data();
  const double* value = d.flt.value.data();
  const double* cover = d.flt.cover.data();
  stack.clear();
  stack.push_back({root, 0, 0, 1.0, 1.0, -1});
  while (!stack.empty()) {
    const PendingCall call = stack.back();
    stack.pop_back();
    int depth = call.depth;
    const PathElement* parent_path = paths + call.parent;
    PathElement* path = paths + call.parent + depth + 1;
    std::copy(parent_path, parent_path + depth + 1, path);
    ExtendPath(path, depth, call.zero, call.one, call.feature);
    const std::int32_t node = call.node;
    const PackedNode& n = nodes[node];
    if (n.meta & PackedNode::kLeaf) {
      const double v = value[node];
      for (int i = 1; i <= depth; ++i) {
        const double w = UnwoundPathSum(path, depth, i);
        phi[path[i].feature] += w * (path[i].one_fraction - path[i].zero_fraction) * v;
      }
      continue;
    }
    const auto f = static_cast<std::int32_t>(n.meta & PackedNode::kFeatureMask);
    const bool right = d.flt.GoRight(n, row[f]);
    const std::int32_t hot = n.child[right ? 1 : 0], cold = n.child[right ? 0 : 1];
    const double w = cover[node];
    const double hot_zero = cover[hot] / w, cold_zero = cover[cold] / w;
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
    const std::int64_t at = path - paths;
    stack.push_back({cold, depth + 1, at, cold_zero * in_zero, 0, f});  // runs second
    stack.push_back({hot, depth + 1, at, hot_zero * in_zero, in_one, f});
  }
}

}  // namespace

}  // namespace sapwood::predict

namespace sapwood {

using namespace predict;  // NOLINT: TreeSHAP over the forest's layouts

template <class T>
void Forest::PredictContrib(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                            int n_threads) const {
  const ForestData& d = *data_;
  if (tree_begin < 0 || tree_end > d.NumTrees() || tree_begin > tree_end) {
    throw ParameterError("tree range [" + std::to_string(tree_begin) + ", " +
                         std::to_string(tree_end) + ") out of bounds for a forest of " +
                         std::to_string(d.NumTrees()) + " trees");
  }
  if (x.cols != d.num_features) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(d.num_features));
  }
  CheckContribReady(d, tree_begin, tree_end);
  // The recursion's path elements: the most any tree of the range needs (0: leaf paths only).
  std::int64_t path_len = 0;
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int64_t need = d.shap.recursion_elems[static_cast<std::size_t>(t)];
    if (need > kMaxContribPathElems) {
      throw ModelFormatError(
          "tree " + std::to_string(t) + ": contributions would need " + std::to_string(need) +
          " TreeSHAP path elements per thread (the tree is " +
          std::to_string(d.flt.depth[static_cast<std::size_t>(t)]) +
          " levels deep with many distinct features on one path); the limit is " +
          std::to_string(kMaxContribPathElems) + " (64 MiB)");
    }
    path_len = std::max(path_len, need);
  }
  const std::int64_t F1 = d.num_features + 1;
  const int K = d.num_outputs;
  constexpr std::int64_t kBlock = 16;
  const std::int64_t nblocks = (x.rows + kBlock - 1) / kBlock;
  std::int32_t max_nodes = 1;
  for (int t = tree_begin; t < tree_end; ++t) {
    max_nodes = std::max(max_nodes, d.flt.End(static_cast<std::size_t>(t)) -
                                        d.flt.root[static_cast<std::size_t>(t)]);
  }
  const std::int64_t F = std::max<std::int64_t>(1, d.num_features);
  ParallelForDynamic(0, nblocks, x.rows > kBlock ? n_threads : 1, [&](std::int64_t b) {
    // Per-thread scratch, reused across calls (fresh pages are slow to get here).
    thread_local std::vector<PathElement> path;
    thread_local std::vector<PendingCall> stack;
    thread_local std::vector<float> rows;
    thread_local std::vector<std::uint8_t> dec;
    if (path.size() < static_cast<std::size_t>(path_len)) {
      path.resize(static_cast<std::size_t>(path_len));
    }
    if (rows.size() < static_cast<std::size_t>(kBlock * F)) {
      rows.resize(static_cast<std::size_t>(kBlock * F));
    }
    if (dec.size() < static_cast<std::size_t>(max_nodes)) {
      dec.resize(static_cast<std::size_t>(max_nodes));
    }
    const std::int64_t r0 = b * kBlock, r1 = std::min(x.rows, r0 + kBlock);
    for (std::int64_t r = r0; r < r1; ++r) {
      for (std::int64_t f = 0; f < d.num_features; ++f) {
        rows[static_cast<std::size_t>((r - r0) * F + f)] = static_cast<float>(x.At(r, f));
      }
    }
    // Tree by tree over the block: one tree's leaf paths stay in cache for all its rows.
    for (int t = tree_begin; t < tree_end; ++t) {
      const int k = d.tree_output[static_cast<std::size_t>(t)];
      const std::int32_t root = d.flt.root[static_cast<std::size_t>(t)];
      const bool leaf_root =
          (d.flt.nodes[static_cast<std::size_t>(root)].meta & PackedNode::kLeaf) != 0;
      for (std::int64_t r = r0; r < r1; ++r) {
        double* phi = out + (r * K + k) * F1;
        phi[d.num_features] += d.tree_expected[static_cast<std::size_t>(t)];
        if (leaf_root) continue;
        const float* row = rows.data() + (r - r0) * F;
        if (d.shap.fast[static_cast<std::size_t>(t)]) {
          ShapTree(d, t, row, dec.data(), phi);
        } else {
          RecurseTree(d, root, row, phi, path.data(), stack);
        }
      }
    }
  });
}

template void Forest::PredictContrib<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictContrib<double>(const MatrixView<double>&, int, int, double*,
                                             int) const;

}  // namespace sapwood
