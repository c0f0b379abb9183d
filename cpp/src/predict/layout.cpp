// Construction of a Forest's node layouts (layout.hpp): validation and the float layout, then
// the rank-coded layouts for forests of plain numeric splits.
#include "layout.hpp"
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "sapwood/error.hpp"

namespace sapwood::predict {

namespace {

std::string Where(std::size_t tree, std::int32_t node) {
  return "tree " + std::to_string(tree) + ", node " + std::to_string(node);
}

template <class V>
bool SizeIs(const V& v, std::int32_t n) {
  return v.size() == static_cast<std::size_t>(n);
}

}  // namespace

void BuildFloatTrees(const std::vector<Tree>& trees, ForestData& d) {
  if (d.num_outputs < 1) throw ModelFormatError("num_outputs must be >= 1");
  if (d.num_features < 0) throw ModelFormatError("num_features must be >= 0");
  if (d.num_features > static_cast<int>(PackedNode::kFeatureMask)) {
    throw ModelFormatError("num_features must be < 2^24");
  }
  if (d.tree_output.size() != trees.size()) {
    throw ModelFormatError("tree_output has " + std::to_string(d.tree_output.size()) +
                           " entries for " + std::to_string(trees.size()) + " trees");
  }
  std::int64_t total = 0;
  for (const auto& t : trees) total += t.NumNodes();
  if (total > 0x7FFFFFFF) throw ModelFormatError("forest has more than 2^31 nodes");
  d.flt.nodes.reserve(static_cast<std::size_t>(total));
  d.flt.value.reserve(static_cast<std::size_t>(total));
  d.flt.cover.reserve(static_cast<std::size_t>(total));
  for (std::size_t ti = 0; ti < trees.size(); ++ti) {
    const Tree& t = trees[ti];
    const std::string where = "tree " + std::to_string(ti);
    const std::int32_t n = t.NumNodes();
    if (n < 1) throw ModelFormatError(where + ": has no nodes");
    if (!SizeIs(t.threshold, n) || !SizeIs(t.left, n) || !SizeIs(t.right, n) ||
        !SizeIs(t.value, n) || !SizeIs(t.default_left, n)) {
      throw ModelFormatError(where + ": node arrays differ in length");
    }
    const bool typed = !t.split_type.empty();
    if (typed && (!SizeIs(t.split_type, n) || !SizeIs(t.cat_begin, n) || !SizeIs(t.cat_size, n))) {
      throw ModelFormatError(where + ": split_type/cat_begin/cat_size differ in length from "
                             "the node arrays");
    }
    const bool has_cover = SizeIs(t.hess, n);
    if (d.tree_output[ti] < 0 || d.tree_output[ti] >= d.num_outputs) {
      throw ModelFormatError(where + ": output index " + std::to_string(d.tree_output[ti]) +
                             " out of range");
    }
    std::vector<std::int32_t> parents(static_cast<std::size_t>(n), 0);
    std::vector<std::int32_t> depth(static_cast<std::size_t>(n), 0);
    const std::int32_t base = static_cast<std::int32_t>(d.flt.nodes.size());
    std::int32_t tdepth = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      PackedNode pn{};
      const std::int32_t f = t.feature[i];
      if (f >= 0) {
        if (f >= d.num_features) {
          throw ModelFormatError(Where(ti, i) + ": feature " + std::to_string(f) +
                                 " out of range (model has " + std::to_string(d.num_features) +
                                 " features)");
        }
        const std::int32_t l = t.left[i], r = t.right[i];
        if (l <= i || r <= i || l >= n || r >= n || l == r) {
          throw ModelFormatError(Where(ti, i) + ": child index out of range");
        }
        ++parents[static_cast<std::size_t>(l)];
        ++parents[static_cast<std::size_t>(r)];
        depth[static_cast<std::size_t>(l)] = depth[static_cast<std::size_t>(i)] + 1;
        depth[static_cast<std::size_t>(r)] = depth[static_cast<std::size_t>(i)] + 1;
        tdepth = std::max(tdepth, depth[static_cast<std::size_t>(i)] + 1);
        const int type = typed ? t.split_type[i] : 0;
        if (type > 2) {
          throw ModelFormatError(Where(ti, i) + ": split_type " + std::to_string(type) +
                                 " unknown (0 numeric, 1 zero-as-missing, 2 categorical)");
        }
        pn.meta = static_cast<std::uint32_t>(f) | (t.default_left[i] ? PackedNode::kDefaultLeft : 0u) |
                  (static_cast<std::uint32_t>(type) << PackedNode::kTypeShift);
        if (type == 2) {
          const std::int64_t b = t.cat_begin[i], s = t.cat_size[i];
          if (b < 0 || s < 0 || b + s > static_cast<std::int64_t>(t.cat_bits.size()) ||
              s > (1 << 20)) {
            throw ModelFormatError(Where(ti, i) + ": cat_begin/cat_size out of range of cat_bits");
          }
          const std::int32_t slot = static_cast<std::int32_t>(d.flt.cat_begin.size());
          d.flt.cat_begin.push_back(static_cast<std::int32_t>(d.flt.cat_bits.size()));
          d.flt.cat_size.push_back(static_cast<std::int32_t>(s));
          d.flt.cat_bits.insert(d.flt.cat_bits.end(), t.cat_bits.begin() + b, t.cat_bits.begin() + b + s);
          std::memcpy(&pn.threshold, &slot, sizeof(slot));
        } else {
          if (std::isnan(t.threshold[i])) {
            throw ModelFormatError(Where(ti, i) + ": threshold is NaN");
          }
          pn.threshold = t.threshold[i];
        }
        if (type != 0) d.has_special = true;
        pn.child[0] = base + l;
        pn.child[1] = base + r;
      } else {
        if (f != -1) throw ModelFormatError(Where(ti, i) + ": bad feature index");
        if (!std::isfinite(t.value[i])) {
          throw ModelFormatError(Where(ti, i) + ": leaf value not finite");
        }
        pn.meta = PackedNode::kLeaf;
        pn.threshold = 0.0f;
        pn.child[0] = pn.child[1] = base + i;
      }
      d.flt.nodes.push_back(pn);
      d.flt.value.push_back(t.value[i]);
      d.flt.cover.push_back(has_cover ? t.hess[i] : 0.0);
    }
    for (std::int32_t i = 1; i < n; ++i) {
      if (parents[static_cast<std::size_t>(i)] != 1) {
        throw ModelFormatError(Where(ti, i) + ": not reachable exactly once from the root");
      }
    }
    // Expected value under the cover distribution (TreeSHAP's bias term); NaN when some
    // internal node has no usable cover.
    std::vector<double> ev(static_cast<std::size_t>(n), 0.0);
    bool cover_ok = true;
    for (std::int32_t i = n - 1; i >= 0; --i) {
      const auto ui = static_cast<std::size_t>(i);
      if (t.feature[i] < 0) {
        ev[ui] = t.value[i];
      } else {
        const double c = d.flt.cover[base + ui];
        const double cl = d.flt.cover[base + static_cast<std::size_t>(t.left[i])];
        const double cr = d.flt.cover[base + static_cast<std::size_t>(t.right[i])];
        if (!(c > 0) || !std::isfinite(c) || !(cl >= 0) || !(cr >= 0) || !std::isfinite(cl) ||
            !std::isfinite(cr)) {
          cover_ok = false;
          break;
        }
        ev[ui] = (cl * ev[static_cast<std::size_t>(t.left[i])] +
                  cr * ev[static_cast<std::size_t>(t.right[i])]) / c;
      }
    }
    d.tree_expected.push_back(cover_ok ? ev[0] : std::nan(""));
    d.flt.root.push_back(base);
    d.flt.depth.push_back(tdepth);
    d.max_depth = std::max(d.max_depth, tdepth);
  }
}


namespace {

void BuildSuperTrees(ForestData& d);
void BuildNode32(ForestData& d);
void BuildBitvec(ForestData& d);

}  // namespace

void BuildRankLayouts(ForestData& d) {
  d.quantized = false;
  if (d.has_special || d.num_features < 1 || 2 * static_cast<std::int64_t>(d.num_features) > 0xFFFF) {
    return;
  }
  const auto F = static_cast<std::size_t>(d.num_features);
  std::vector<std::vector<float>> thr(F);
  for (const PackedNode& n : d.flt.nodes) {
    if (!(n.meta & PackedNode::kLeaf)) thr[n.meta & PackedNode::kFeatureMask].push_back(n.threshold);
  }
  d.codes.begin.assign(F + 1, 0);
  std::vector<float> all;
  for (std::size_t f = 0; f < F; ++f) {
    auto& v = thr[f];
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    if (v.size() >= 0xFFFF) return;  // ranks must stay below the leaf's 0xFFFF
    d.codes.begin[f] = static_cast<std::int32_t>(all.size());
    all.insert(all.end(), v.begin(), v.end());
  }
  d.codes.begin[F] = static_cast<std::int32_t>(all.size());
  d.codes.thr = std::move(all);
  d.codes.search.clear();
  d.codes.search_begin.assign(F, 0);
  d.codes.search_steps.assign(F, 0);
  d.codes.max_steps = 0;
  for (std::size_t f = 0; f < F; ++f) {
    int steps = 0;
    while ((std::size_t{1} << steps) < thr[f].size() + 1) ++steps;
    d.codes.search_begin[f] = static_cast<std::int32_t>(d.codes.search.size());
    d.codes.search_steps[f] = steps;
    d.codes.max_steps = std::max(d.codes.max_steps, steps);
    d.codes.search.insert(d.codes.search.end(), thr[f].begin(), thr[f].end());
    d.codes.search.insert(d.codes.search.end(), (std::size_t{1} << steps) - 1 - thr[f].size(),
                    std::numeric_limits<float>::infinity());
  }
  d.codes.top.assign(32 * F, std::numeric_limits<float>::infinity());
  for (std::size_t f = 0; f < F; ++f) {
    const int steps = d.codes.search_steps[f];
    const int shift = std::max(steps - 5, 0);
    const int probes = (1 << std::min(steps, 5)) - 1;
    const float* e = d.codes.search.data() + d.codes.search_begin[f];
    for (int j = 0; j < probes; ++j) d.codes.top[32 * f + j] = e[((j + 1) << shift) - 1];
  }
  // Codes for the single-row path and the two-level walk (batches without AVX2, trees of more
  // than 256 leaves) through BinIndex tables when they fit 8 MiB for the forest, else a binary
  // search; AVX2 batches search d.codes.search instead (QuantizeColumnsAvx2), as the tables' random
  // reads missed the cache once the bit-vector records streamed through it (40% of the
  // XGBoost model's batch time, perf). Measured here (32 features of ~250 thresholds), ns per
  // row of codes: 173-264 against 393-635 (binary search) for the LightGBM model, 488-550
  // against 661-666 for the XGBoost model, whose crowded thresholds leave several in most cells.
  constexpr std::size_t kQuantIndexBytes = std::size_t{8} << 20;
  d.codes.index.clear();
  std::size_t bytes = 0;
  for (std::size_t f = 0; f < F && bytes <= kQuantIndexBytes; ++f) {
    d.codes.index.emplace_back(thr[f]);
    bytes += d.codes.index.back().Bytes();
  }
  if (bytes > kQuantIndexBytes) d.codes.index.clear();
  d.quant.nodes.resize(d.flt.nodes.size());
  d.quant.value.resize(d.flt.nodes.size());
  d.quant.root.resize(d.flt.root.size());
  // Breadth-first per tree, so the two children of a node get adjacent slots.
  std::vector<std::int32_t> order;
  std::int32_t next = 0;
  for (std::size_t t = 0; t < d.flt.root.size(); ++t) {
    order.assign(1, d.flt.root[t]);
    d.quant.root[t] = next;
    std::int32_t slot_of_front = next;
    ++next;
    for (std::size_t q = 0; q < order.size(); ++q, ++slot_of_front) {
      const PackedNode& n = d.flt.nodes[static_cast<std::size_t>(order[q])];
      QuantNode& qn = d.quant.nodes[static_cast<std::size_t>(slot_of_front)];
      d.quant.value[static_cast<std::size_t>(slot_of_front)] = d.flt.value[static_cast<std::size_t>(order[q])];
      if (n.meta & PackedNode::kLeaf) {
        qn = QuantNode{0xFFFF, 0, slot_of_front};
        continue;
      }
      const std::uint32_t f = n.meta & PackedNode::kFeatureMask;
      const float* b = d.codes.thr.data() + d.codes.begin[f];
      const float* e = d.codes.thr.data() + d.codes.begin[f + 1];
      const auto rank = static_cast<std::uint16_t>(std::lower_bound(b, e, n.threshold) - b);
      const auto col = static_cast<std::uint16_t>(
          f + ((n.meta & PackedNode::kDefaultLeft) ? F : 0));
      qn = QuantNode{rank, col, next};
      next += 2;
      order.push_back(n.child[0]);
      order.push_back(n.child[1]);
    }
  }
  d.quantized = true;
  BuildSuperTrees(d);
  BuildNode32(d);
  BuildBitvec(d);
}

namespace {

void BuildBitvec(ForestData& d) {
  d.bitvec.tree.assign(d.quant.root.size(), BitvecTree{});
  d.bitvec.rec.clear();
  d.bitvec.value.clear();
  d.bitvec.split.clear();
  RowMaskTrees& rm = d.rowmask;
  rm = RowMaskTrees{};
  rm.ok = 2 * static_cast<std::int64_t>(d.num_features) <= 128;
  d.bitvec.codes8 = true;
  for (std::size_t f = 0; f + 1 < d.codes.begin.size(); ++f) {
    if (d.codes.begin[f + 1] - d.codes.begin[f] > 255) d.bitvec.codes8 = false;
  }
  d.bitvec.all = true;
  d.bitvec.any = false;
  const auto is_leaf = [&](std::int32_t i) {
    return d.quant.nodes[static_cast<std::size_t>(i)].left == i;
  };
  struct Split {
    std::int32_t node, lo, hi;  // the leaves of its left subtree: [lo, hi), left to right
  };
  std::vector<Split> splits;
  std::vector<std::int32_t> leaves;
  // Left-to-right leaf numbering; returns the end of node's leaf range.
  const auto number = [&](auto&& self, std::int32_t node) -> std::int32_t {
    if (is_leaf(node)) {
      leaves.push_back(node);
      return static_cast<std::int32_t>(leaves.size());
    }
    const std::size_t at = splits.size();
    splits.push_back(Split{node, static_cast<std::int32_t>(leaves.size()), 0});
    splits[at].hi = self(self, d.quant.nodes[static_cast<std::size_t>(node)].left);
    return self(self, d.quant.nodes[static_cast<std::size_t>(node)].left + 1);
  };
  for (std::size_t t = 0; t < d.quant.root.size(); ++t) {
    // Leaves first: a tree of more leaves than the words hold is walked instead (and is never
    // recursed, however deep it is).
    const std::int32_t begin = d.quant.root[t];
    const std::int32_t end = t + 1 < d.quant.root.size() ? d.quant.root[t + 1]
                                                   : static_cast<std::int32_t>(d.quant.nodes.size());
    std::int32_t n_leaves = 0;
    for (std::int32_t i = begin; i < end; ++i) n_leaves += is_leaf(i) ? 1 : 0;
    if (n_leaves > 64) rm.ok = false;
    if (n_leaves > 16 * kBitvecMaxWords) {
      d.bitvec.all = false;
      continue;
    }
    d.bitvec.any = true;
    splits.clear();
    leaves.clear();
    number(number, begin);
    BitvecTree& bt = d.bitvec.tree[t];
    bt.words = std::max<std::int32_t>(1, (n_leaves + 15) / 16);
    bt.rec_begin = static_cast<std::int32_t>(d.bitvec.rec.size());
    bt.leaf_begin = static_cast<std::int32_t>(d.bitvec.value.size());
    for (const std::int32_t leaf : leaves) {
      d.bitvec.value.push_back(d.quant.value[static_cast<std::size_t>(leaf)]);
    }
    // Row masks: the splits breadth-first (parents first); leaves take slots 0 .. n_leaves - 1
    // left to right, splits the next ones. At most 256 leaves: slots stay below 511.
    std::vector<std::uint16_t> slot(static_cast<std::size_t>(end - begin));
    std::uint16_t next_split = static_cast<std::uint16_t>(n_leaves);
    for (std::int32_t i = begin; i < end; ++i) {
      if (!is_leaf(i)) slot[static_cast<std::size_t>(i - begin)] = next_split++;
    }
    for (std::size_t j = 0; j < leaves.size(); ++j) {
      slot[static_cast<std::size_t>(leaves[j] - begin)] = static_cast<std::uint16_t>(j);
    }
    std::vector<std::uint8_t> left_leaves(static_cast<std::size_t>(end - begin));
    for (const Split& sp : splits) {
      left_leaves[static_cast<std::size_t>(sp.node - begin)] =
          static_cast<std::uint8_t>(sp.hi - sp.lo);  // < n_leaves <= 256
    }
    bt.split_begin = static_cast<std::int32_t>(d.bitvec.split.size());
    for (std::int32_t i = begin; i < end; ++i) {
      if (is_leaf(i)) continue;
      const QuantNode& q = d.quant.nodes[static_cast<std::size_t>(i)];
      const auto at = [&](std::int32_t node) { return slot[static_cast<std::size_t>(node - begin)]; };
      d.bitvec.split.push_back(MaskSplit{static_cast<std::int32_t>(q.column * kBitvecRows),
                                         static_cast<std::int16_t>(q.rank ^ 0x8000u),
                                         static_cast<std::uint8_t>(std::min<int>(q.rank, 255)),
                                         left_leaves[static_cast<std::size_t>(i - begin)],
                                         at(i), at(q.left), at(q.left + 1)});
    }
    bt.split_end = static_cast<std::int32_t>(d.bitvec.split.size());
    if (rm.ok) {
      rm.leaf_begin.push_back(bt.leaf_begin);
      const auto at8 = static_cast<std::int32_t>(rm.column8.size());
      const auto n8 = static_cast<std::int32_t>(splits.size());
      const std::size_t slots8 = static_cast<std::size_t>(at8 + (n8 + 63) / 64 * 64);
      rm.begin8.push_back(at8);
      rm.column8.resize(slots8, 0);
      rm.rank8.resize(slots8, 0xFF);
      rm.keep8.resize(slots8, ~std::uint64_t{0});
      for (std::int32_t j = 0; j < n8; ++j) {
        const Split& sp = splits[static_cast<std::size_t>(j)];
        const QuantNode& q = d.quant.nodes[static_cast<std::size_t>(sp.node)];
        const auto k = static_cast<std::size_t>(at8 + j);
        // (only read where ok8: columns below 128, ranks below 255)
        rm.column8[k] = static_cast<std::uint8_t>(q.column & 0x7F);
        rm.rank8[k] = static_cast<std::uint8_t>(std::min<int>(q.rank, 0xFF));
        rm.keep8[k] = ~(((std::uint64_t{1} << (sp.hi - sp.lo)) - 1) << sp.lo);
      }
      const auto at = static_cast<std::int32_t>(rm.column.size());
      const auto n = static_cast<std::int32_t>(splits.size());
      const std::size_t slots = static_cast<std::size_t>(at + (n + 31) / 32 * 32);
      rm.begin.push_back(at);
      rm.splits.push_back(n);
      rm.column.resize(slots, 0);
      rm.rank.resize(slots, 0xFFFF);
      rm.keep.resize(slots, ~std::uint64_t{0});
      for (std::int32_t j = 0; j < n; ++j) {
        const Split& sp = splits[static_cast<std::size_t>(j)];
        const QuantNode& q = d.quant.nodes[static_cast<std::size_t>(sp.node)];
        const auto k = static_cast<std::size_t>(at + j);
        rm.column[k] = q.column;
        rm.rank[k] = q.rank;
        rm.keep[k] = ~(((std::uint64_t{1} << (sp.hi - sp.lo)) - 1) << sp.lo);
      }
    }
    for (std::int32_t w = 0; w < bt.words; ++w) {
      for (const Split& sp : splits) {
        const std::int32_t lo = std::max(sp.lo, 16 * w), hi = std::min(sp.hi, 16 * w + 16);
        if (lo >= hi) continue;
        const std::uint32_t clear = ((1u << (hi - lo)) - 1u) << (lo - 16 * w);
        const std::uint32_t keep = ~clear & 0xFFFFu;
        const QuantNode& q = d.quant.nodes[static_cast<std::size_t>(sp.node)];
        const std::uint32_t rank = (static_cast<std::uint32_t>(q.rank) + 1u) ^ 0x8000u;
        d.bitvec.rec.push_back(BitvecRecord{static_cast<std::int32_t>(q.column * kBitvecRows),
                                       rank | rank << 16, keep | keep << 16});
      }
      bt.word_end[w] = static_cast<std::int32_t>(d.bitvec.rec.size());
    }
  }
  rm.ok8 = rm.ok && d.bitvec.codes8;  // rm.ok: at most 128 code columns
}

void BuildSuperTrees(ForestData& d) {
  d.super.nodes.clear();
  d.super.value.clear();
  d.super.root.assign(d.quant.root.size(), 0);
  const auto is_leaf = [&](std::int32_t i) {
    return d.quant.nodes[static_cast<std::size_t>(i)].left == i;
  };
  // Slot q of tree t holds the subtree of QuantNode todo[q]; breadth-first, so each node's four
  // children take adjacent slots.
  std::vector<std::int32_t> todo;
  for (std::size_t t = 0; t < d.quant.root.size(); ++t) {
    const auto root = static_cast<std::int32_t>(d.super.nodes.size());
    d.super.root[t] = root;
    todo.assign(1, d.quant.root[t]);
    for (std::size_t q = 0; q < todo.size(); ++q) {
      const std::int32_t v = todo[q];
      d.super.value.push_back(d.quant.value[static_cast<std::size_t>(v)]);
      if (is_leaf(v)) {
        d.super.nodes.push_back(SuperNode{{0xFFFF, 0xFFFF, 0xFFFF}, {0, 0, 0},
                                    root + static_cast<std::int32_t>(q)});
        continue;
      }
      const QuantNode& a = d.quant.nodes[static_cast<std::size_t>(v)];
      SuperNode sn{{a.rank, 0xFFFF, 0xFFFF}, {a.column, 0, 0},
                   root + static_cast<std::int32_t>(todo.size())};
      for (int c = 0; c < 2; ++c) {
        const std::int32_t child = a.left + c;
        if (is_leaf(child)) {
          todo.push_back(child);
          todo.push_back(child);
        } else {
          const QuantNode& b = d.quant.nodes[static_cast<std::size_t>(child)];
          sn.rank[1 + c] = b.rank;
          sn.column[1 + c] = b.column;
          todo.push_back(b.left);
          todo.push_back(b.left + 1);
        }
      }
      d.super.nodes.push_back(sn);
    }
  }
}

void BuildNode32(ForestData& d) {
  d.node32.nodes.clear();
  d.node32.root.clear();
  if (2 * static_cast<std::int64_t>(d.num_features) > 256) return;
  std::vector<std::uint32_t> packed(d.quant.nodes.size() + 1);
  for (std::size_t i = 0; i < d.quant.nodes.size(); ++i) {
    const QuantNode& q = d.quant.nodes[i];
    const std::int64_t delta = q.left - static_cast<std::int64_t>(i);
    if (delta < 0 || delta > 255) return;
    packed[i] = Node32(q.rank, q.column, static_cast<std::uint32_t>(delta));
  }
  packed.back() = Node32(0xFFFF, 0, 0);  // the spare leaf
  d.node32.root = d.quant.root;
  d.node32.root.insert(d.node32.root.end(), kWalkTrees, static_cast<std::int32_t>(d.quant.nodes.size()));
  d.node32.nodes = std::move(packed);
}

}  // namespace

}  // namespace sapwood::predict
