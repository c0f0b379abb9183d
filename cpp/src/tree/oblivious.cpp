// Oblivious tree growth (oblivious.hpp): one split per level, chosen by the gain summed over
// the level's nodes. The pieces are the leaf-wise grower's: the histogram source (rows
// partitioned per node, the smaller child built, the sibling by exact subtraction), and the
// regularised leaf output of split_evaluator.
#include "oblivious.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"

#include "split_evaluator.hpp"

namespace sapwood {

namespace {

struct LevelNode {
  std::int32_t node;
  std::int32_t handle;
  HistBin total;
  int slot = -1;        // histogram pool slot; -1: none (frozen, or cannot split)
  bool frozen = false;  // keeps its value: its descendants are copies of it
  std::int32_t value_node = -1;  // the node whose value it carries (itself unless frozen)
  double value = 0.0;   // output (learning rate applied)
};

// One node's gain from sending `left` left and the rest of `total` right; < 0 (NaN-free) when
// the node cannot take the split (then it is frozen, and adds nothing to the level's sum).
struct NodeGain {
  const GrowParams& p;
  CountPacking pack;
  double inv_g, inv_h;
  double operator()(const HistBin& left, const NodeSums& total, double parent_score) const {
    ChildSums c;
    if (!SplitChildren(left, total, pack, inv_g, inv_h, p, &c)) return -1.0;
    return LeafScore(c.gl, c.hl, p) + LeafScore(c.gr, c.hr, p) - parent_score;
  }
};

// A level's candidate splits of one feature: numeric, candidate 2 t + dl is "bin <= t goes
// left, missing goes left when dl"; categorical (items 0 .. num_cats - 1 the kept categories,
// item num_cats the other/missing bin):
//  - candidate b <= num_cats is "item b alone goes left" (one-vs-rest);
//  - candidate num_cats + j (j = 1 .. num_cats) is "the first j items of the level's order go
//    left" (many-vs-many), the items ordered by the level's gradient ratio
//    sum g / (sum h + cat_smooth) summed over the level's nodes (CatOrder): a shared split
//    that groups the categories by how the current model errs on them, as LightGBM does per
//    node, here once per level so every node takes the same subset.
inline int NumCats(const HistLayout& layout, int f) {
  return layout.num_cats.empty() ? -1 : layout.num_cats[static_cast<std::size_t>(f)];
}
inline int NumCandidates(const HistLayout& layout, int f) {
  const int nc = NumCats(layout, f);
  return nc >= 0 ? 2 * nc + 1 : 2 * (layout.nbins[static_cast<std::size_t>(f)] - 1);
}

// The packed sums going left at candidate c of feature f in histogram hb (the feature's bins).
struct LeftSums {
  const HistLayout& layout;
  const std::vector<std::vector<int>>& cat_order;  // per feature: the level's item order
  // Fills left[c] for every candidate of feature f.
  void operator()(const HistBin* hb, int f, std::vector<HistBin>& left) const {
    const int nc = NumCats(layout, f);
    if (nc >= 0) {
      for (int b = 0; b <= nc; ++b) left[static_cast<std::size_t>(b)] = hb[b];
      const std::vector<int>& order = cat_order[static_cast<std::size_t>(f)];
      HistBin acc{0, 0};
      for (int j = 1; j <= nc; ++j) {
        const HistBin& x = hb[order[static_cast<std::size_t>(j - 1)]];
        acc.g += x.g;
        acc.hc += x.hc;
        left[static_cast<std::size_t>(nc + j)] = acc;
      }
      return;
    }
    const int nb = layout.nbins[static_cast<std::size_t>(f)];
    const HistBin nan = hb[nb - 1];
    HistBin acc{0, 0};
    for (int t = 0; t + 1 < nb; ++t) {
      acc.g += hb[t].g;
      acc.hc += hb[t].hc;
      left[static_cast<std::size_t>(2 * t)] = acc;
      left[static_cast<std::size_t>(2 * t + 1)] = {acc.g + nan.g, acc.hc + nan.hc};
    }
  }
};

// A standard normal draw for (seed, stream, index), by Box-Muller on two counter draws.
double NormalCounter(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const double u1 = std::max(UniformCounter(seed, stream, 2 * index), 1e-300);
  const double u2 = UniformCounter(seed, stream, 2 * index + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

Tree GrowObliviousTree(HistogramSource& src, const BinMapper& mapper, const HistLayout& layout,
                       std::vector<std::vector<HistBin>>& pool, double scale_g, double scale_h,
                       CountPacking pack, const std::vector<int>& features,
                       const GrowParams& params, const ObliviousParams& op, int n_threads,
                       std::vector<GrownLeaf>* leaves_out,
                       std::vector<std::int32_t>* value_nodes) {
  const double inv_g = 1.0 / scale_g, inv_h = 1.0 / scale_h;
  const int max_depth = params.max_depth > 0 ? params.max_depth : 6;
  const std::int64_t min_rows = 2 * std::max<std::int64_t>(1, params.min_child_samples);
  const NodeGain node_gain{params, pack, inv_g, inv_h};
  std::vector<std::vector<int>> cat_order(layout.nbins.size());
  const LeftSums left_sums{layout, cat_order};
  auto sums_of = [&](const HistBin& b) { return pack.Decode(b); };
  auto out_of = [&](const HistBin& b) {
    const NodeSums s = pack.Decode(b);
    return LeafOutput(static_cast<double>(s.g) * inv_g, static_cast<double>(s.h) * inv_h,
                      params) * params.learning_rate;
  };
  // Cover (hessian) of a node for TreeSHAP, which needs it positive at every internal node; a
  // frozen node's empty child gets a vanishing one (its value equals its sibling's, so it
  // changes no contribution).
  auto cover_of = [&](const HistBin& b) {
    return std::max(static_cast<double>(pack.Decode(b).h) * inv_h, 1e-300);
  };

  HistSlots slots(pool, layout.total);
  auto take_slot = [&]() { return slots.Take(); };
  auto release = [&](int& slot) { slots.Release(slot); };

  Tree tree;
  CatSplits cat_splits;
  std::vector<std::int32_t> carries;  // per node: the node whose value it carries
  std::vector<LevelNode> level(1);
  {
    LevelNode& root = level[0];
    root.handle = 0;
    int slot = take_slot();
    root.total = src.Root(pool[static_cast<std::size_t>(slot)].data());
    root.value = out_of(root.total);
    root.node = tree.AddLeaf(root.value, cover_of(root.total), sums_of(root.total).c);
    root.value_node = root.node;
    carries.push_back(root.value_node);
    if (sums_of(root.total).c >= min_rows) {
      root.slot = slot;
    } else {
      release(slot);
      root.frozen = true;
    }
  }
  std::int32_t next_handle = 1;

  for (int depth = 0; depth < max_depth; ++depth) {
    // The nodes that may still split, with their sums and leaf scores.
    std::vector<int> live;
    std::vector<NodeSums> tot(level.size());
    std::vector<double> parent_score(level.size(), 0.0);
    for (std::size_t i = 0; i < level.size(); ++i) {
      if (level[i].slot < 0) continue;
      live.push_back(static_cast<int>(i));
      tot[i] = sums_of(level[i].total);
      parent_score[i] = LeafScore(static_cast<double>(tot[i].g) * inv_g,
                              static_cast<double>(tot[i].h) * inv_h, params);
    }
    if (live.empty()) break;
    // Each categorical feature's item order for this level (many-vs-many candidates): by the
    // gradient ratio summed over the live nodes, ties by item (a stable sort), so the same on
    // any thread count.
    for (int f : features) {
      const int nc = NumCats(layout, f);
      if (nc < 0) continue;
      std::vector<double> g(static_cast<std::size_t>(nc + 1), 0.0), h(g.size(), 0.0);
      for (int i : live) {
        const HistBin* hb = pool[static_cast<std::size_t>(level[static_cast<std::size_t>(i)].slot)]
                                .data() + layout.offset[static_cast<std::size_t>(f)];
        for (int b = 0; b <= nc; ++b) {
          const NodeSums x = pack.Decode(hb[b]);
          g[static_cast<std::size_t>(b)] += static_cast<double>(x.g) * inv_g;
          h[static_cast<std::size_t>(b)] += static_cast<double>(x.h) * inv_h;
        }
      }
      std::vector<int>& order = cat_order[static_cast<std::size_t>(f)];
      order.resize(static_cast<std::size_t>(nc + 1));
      for (int b = 0; b <= nc; ++b) order[static_cast<std::size_t>(b)] = b;
      std::vector<double> ratio(g.size());
      for (std::size_t b = 0; b < g.size(); ++b) ratio[b] = g[b] / (h[b] + params.cat_smooth);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return ratio[static_cast<std::size_t>(a)] < ratio[static_cast<std::size_t>(b)];
      });
    }

    // Summed gain of every candidate of every feature (features in parallel; each sum is over
    // the nodes in level order, so it does not depend on the thread count); with the cosine
    // score also its numerator and denominator.
    std::vector<std::vector<double>> sum(features.size());
    std::vector<std::vector<double>> num(op.cosine ? features.size() : 0);
    std::vector<std::vector<double>> den(op.cosine ? features.size() : 0);
    // Cosine: the nodes that cannot split this level add their unsplit leaf to every candidate.
    double fixed_num = 0.0, fixed_den = 0.0;
    auto add_leaf = [&](double g, double h, double* n, double* d) {
      const double s = LeafScore(g, h, params);
      const double denom = h + params.reg_lambda;
      *n += s;
      if (denom > 0) *d += s * h / denom;
    };
    if (op.cosine) {
      for (std::size_t i = 0; i < level.size(); ++i) {
        if (level[i].slot >= 0) continue;
        const NodeSums t = sums_of(level[i].total);
        add_leaf(static_cast<double>(t.g) * inv_g, static_cast<double>(t.h) * inv_h, &fixed_num,
                 &fixed_den);
      }
    }
    // Threads only where the level's work pays for a parallel region: small levels finish
    // before the threads meet, and under oversubscription a region's barrier can cost more
    // than the whole scan (measured: 458 rows x 30 features, 300 rounds, load 12: 33 s on 2
    // threads).
    const bool big = static_cast<double>(live.size()) * layout.total >= 262144.0;
    ParallelFor(0, static_cast<std::int64_t>(features.size()),
                features.size() >= 8 && big ? n_threads : 1, [&](std::int64_t k) {
      const int f = features[static_cast<std::size_t>(k)];
      const int nc = NumCandidates(layout, f);
      const std::size_t uk = static_cast<std::size_t>(k);
      std::vector<double>& s = sum[uk];
      s.assign(static_cast<std::size_t>(nc), 0.0);
      if (op.cosine) {
        num[uk].assign(static_cast<std::size_t>(nc), fixed_num);
        den[uk].assign(static_cast<std::size_t>(nc), fixed_den);
      }
      std::vector<HistBin> left(static_cast<std::size_t>(nc));
      for (int i : live) {
        const std::size_t ui = static_cast<std::size_t>(i);
        const HistBin* hb =
            pool[static_cast<std::size_t>(level[ui].slot)].data() +
            layout.offset[static_cast<std::size_t>(f)];
        left_sums(hb, f, left);
        for (int c = 0; c < nc; ++c) {
          const std::size_t uc = static_cast<std::size_t>(c);
          if (!op.cosine) {
            const double g = node_gain(left[uc], tot[ui], parent_score[ui]);
            if (g > 0 || g == 0) s[uc] += g;
            continue;
          }
          // A node takes the candidate when its children are allowed and its own gain is not
          // negative (as the level's split is applied below); otherwise it stays one leaf.
          ChildSums ch;
          const bool ok = SplitChildren(left[uc], tot[ui], pack, inv_g, inv_h, params, &ch);
          const double sl = ok ? LeafScore(ch.gl, ch.hl, params) : 0.0;
          const double sr = ok ? LeafScore(ch.gr, ch.hr, params) : 0.0;
          const double g = ok ? sl + sr - parent_score[ui] : -1.0;
          if (g > 0 || g == 0) {
            s[uc] += g;
            add_leaf(ch.gl, ch.hl, &num[uk][uc], &den[uk][uc]);
            add_leaf(ch.gr, ch.hr, &num[uk][uc], &den[uk][uc]);
          } else {
            add_leaf(static_cast<double>(tot[ui].g) * inv_g,
                     static_cast<double>(tot[ui].h) * inv_h, &num[uk][uc], &den[uk][uc]);
          }
        }
      }
    });
    // Pick the best (first on ties, in feature and candidate order), after the noise.
    double best_plain = 0.0;
    for (const auto& s : sum)
      for (double g : s) best_plain = std::max(best_plain, g);
    // The scores the choice is made on: the summed gains, or the cosines.
    std::vector<std::vector<double>>& score = op.cosine ? num : sum;
    if (op.cosine) {
      for (std::size_t k = 0; k < num.size(); ++k)
        for (std::size_t c = 0; c < num[k].size(); ++c)
          num[k][c] = den[k][c] > 0 ? num[k][c] / std::sqrt(den[k][c]) : 0.0;
    }
    if (op.random_strength > 0 && best_plain > 0) {
      double sd = op.random_strength * 0.1 * best_plain;
      if (op.cosine) {
        const double rows = static_cast<double>(std::max<std::int64_t>(1, op.rows));
        const double m = std::exp(std::log(rows) - op.model_length);
        sd = op.random_strength * op.grad_rms * (std::isfinite(m) ? m / (1.0 + m) : 1.0);
      }
      const std::uint64_t stream = 0x3000u + op.tree_index * 64 + static_cast<std::uint64_t>(depth);
      std::uint64_t idx = 0;
      for (auto& s : score)
        for (double& g : s) g += sd * NormalCounter(op.seed, stream, idx++);
    }
    int best_k = -1, best_c = -1;
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < score.size(); ++k) {
      for (std::size_t c = 0; c < score[k].size(); ++c) {
        if (score[k][c] > best) {
          best = score[k][c];
          best_k = static_cast<int>(k);
          best_c = static_cast<int>(c);
        }
      }
    }
    // The noise chooses among splits; whether to split at all is the plain gain's call.
    if (best_k < 0 || !(best_plain > 0) || !(best_plain > params.min_split_gain)) break;
    {
      // The chosen candidate's plain summed gain must itself gain.
      const int f = features[static_cast<std::size_t>(best_k)];
      double plain = 0.0;
      std::vector<HistBin> left(static_cast<std::size_t>(NumCandidates(layout, f)));
      for (int i : live) {
        left_sums(pool[static_cast<std::size_t>(level[static_cast<std::size_t>(i)].slot)].data() +
                      layout.offset[static_cast<std::size_t>(f)], f, left);
        const double g = node_gain(left[static_cast<std::size_t>(best_c)],
                                   tot[static_cast<std::size_t>(i)],
                                   parent_score[static_cast<std::size_t>(i)]);
        if (g >= 0) plain += g;
      }
      if (!(plain > 0)) break;
    }

    // The level's split.
    const int f = features[static_cast<std::size_t>(best_k)];
    const FeatureBins& fb = mapper.Feature(f);
    SplitInfo split;
    split.feature = f;
    const int nc = layout.num_cats.empty() ? -1 : layout.num_cats[static_cast<std::size_t>(f)];
    if (nc >= 0) {
      split.categorical = true;
      split.threshold_bin = 0;
      split.cat_left.assign(static_cast<std::size_t>(std::max(1, (nc + 31) / 32)), 0u);
      split.default_left = false;
      auto send_left = [&](int item) {
        if (item == nc) {
          split.default_left = true;  // the other/missing bin
        } else {
          split.cat_left[static_cast<std::size_t>(item / 32)] |= 1u << (item % 32);
        }
      };
      if (best_c <= nc) {
        send_left(best_c);
      } else {
        const std::vector<int>& order = cat_order[static_cast<std::size_t>(f)];
        for (int j = 0; j < best_c - nc; ++j) send_left(order[static_cast<std::size_t>(j)]);
      }
    } else {
      split.threshold_bin = best_c / 2;
      split.default_left = (best_c % 2) != 0;
    }
    const float threshold = split.categorical ? 0.0f
                            : split.threshold_bin < static_cast<int>(fb.edges.size())
                                ? fb.edges[static_cast<std::size_t>(split.threshold_bin)]
                                : std::numeric_limits<float>::infinity();

    // Every node's children sums: from its histogram where it has one, else from the rows
    // (the source partitions them; sums come back from the children's ranges).
    const bool last = depth + 1 == max_depth;
    std::vector<SplitInfo> splits(level.size(), split);
    std::vector<ExpandRequest> reqs(level.size());
    std::vector<HistBin*> outs(level.size(), nullptr);
    std::vector<int> small_side(level.size(), -1), small_slot(level.size(), -1);
    std::vector<std::uint8_t> takes(level.size(), 0);  // the node takes the split for real
    std::vector<HistBin> left(static_cast<std::size_t>(NumCandidates(layout, f)));
    for (std::size_t i = 0; i < level.size(); ++i) {
      LevelNode& x = level[i];
      if (x.slot >= 0) {
        left_sums(pool[static_cast<std::size_t>(x.slot)].data() +
                      layout.offset[static_cast<std::size_t>(f)], f, left);
        const HistBin l = left[static_cast<std::size_t>(best_c)];
        splits[i].left = l;
        splits[i].right = {x.total.g - l.g, x.total.hc - l.hc};
        takes[i] = node_gain(l, tot[i], parent_score[i]) >= 0 ? 1 : 0;
      }
      ExpandRequest& r = reqs[i];
      r.leaf = x.handle;
      r.left = next_handle++;
      r.right = next_handle++;
      r.split = &splits[i];
      if (takes[i] && !last) {
        const std::int64_t cl = sums_of(splits[i].left).c, cr = sums_of(splits[i].right).c;
        if (cl >= min_rows || cr >= min_rows) {
          const int small = cl <= cr ? 0 : 1;
          small_side[i] = small;
          r.build = small == 0 ? r.left : r.right;
          small_slot[i] = take_slot();  // the parent's slot becomes the larger child's below
        }
      }
    }
    // (pointers taken after every slot: take_slot may grow the pool)
    for (std::size_t i = 0; i < level.size(); ++i) {
      if (small_slot[i] >= 0) outs[i] = pool[static_cast<std::size_t>(small_slot[i])].data();
    }
    src.Expand(reqs, outs);

    std::vector<LevelNode> next;
    next.reserve(level.size() * 2);
    for (std::size_t i = 0; i < level.size(); ++i) {
      LevelNode& x = level[i];
      const bool real = takes[i] != 0;
      // Children's sums: known for nodes with a histogram. Frozen nodes' children keep the
      // parent's value; their counts and covers are set from the rows after growth
      // (ObliviousGrower::Grow).
      HistBin sums[2] = {splits[i].left, splits[i].right};
      if (x.slot < 0) {
        sums[0] = x.total;
        sums[1] = {0, 0};
      }
      int child_slot[2] = {-1, -1};
      if (small_side[i] >= 0) {
        const int small = small_side[i], large = 1 - small;
        child_slot[small] = small_slot[i];
        child_slot[large] = x.slot;
        x.slot = -1;
        HistBin* lg = pool[static_cast<std::size_t>(child_slot[large])].data();
        const HistBin* sm = pool[static_cast<std::size_t>(child_slot[small])].data();
        for (std::size_t b = 0; b < layout.total; ++b) {
          lg[b].g -= sm[b].g;
          lg[b].hc -= sm[b].hc;
        }
      } else {
        release(x.slot);
      }
      if (split.categorical) cat_splits.emplace_back(x.node, split.cat_left);
      std::int32_t kid[2];
      for (int c = 0; c < 2; ++c) {
        LevelNode ch;
        ch.handle = c == 0 ? reqs[i].left : reqs[i].right;
        ch.frozen = !real;
        ch.value = real ? out_of(sums[c]) : x.value;
        ch.total = sums[c];
        ch.node = tree.AddLeaf(ch.value, cover_of(sums[c]), sums_of(sums[c]).c);
        ch.value_node = real ? ch.node : x.value_node;
        if (static_cast<std::size_t>(ch.node) >= carries.size())
          carries.resize(static_cast<std::size_t>(ch.node) + 1, -1);
        carries[static_cast<std::size_t>(ch.node)] = ch.value_node;
        kid[c] = ch.node;
        ch.slot = child_slot[c];
        if (ch.slot >= 0 && (!real || sums_of(sums[c]).c < min_rows)) release(ch.slot);
        next.push_back(ch);
      }
      const std::int32_t p = x.node;
      tree.feature[static_cast<std::size_t>(p)] = f;
      tree.threshold_bin[static_cast<std::size_t>(p)] = split.threshold_bin;
      tree.threshold[static_cast<std::size_t>(p)] = threshold;
      tree.default_left[static_cast<std::size_t>(p)] = split.default_left ? 1 : 0;
      tree.left[static_cast<std::size_t>(p)] = kid[0];
      tree.right[static_cast<std::size_t>(p)] = kid[1];
      tree.gain[static_cast<std::size_t>(p)] = real ? node_gain(splits[i].left, tot[i],
                                                                parent_score[i]) : 0.0;
    }
    level = std::move(next);
  }
  for (auto& x : level) release(x.slot);

  SetCategoricalSplits(cat_splits, &tree);
  if (leaves_out != nullptr) {
    leaves_out->clear();
    for (const auto& x : level) leaves_out->push_back({x.node, x.handle});
  }
  if (value_nodes != nullptr) *value_nodes = std::move(carries);
  return tree;
}

Tree ObliviousGrower::Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking pack,
                           const std::vector<std::uint32_t>& rows,
                           const std::vector<int>& features, const GrowParams& params,
                           const ObliviousParams& op) {
  LocalRows& src = grower_.Rows();
  const GradPair* gh0 = gh;
  const double scale_g0 = scale_g;
  if (op.bagging_temperature > 0) {
    // Bayesian bootstrap weights in the same fixed point, 4 bits lower so that weights up to
    // 16 cannot overflow the sums the scales were chosen for (ChooseFixedPoint). Each row's
    // weight depends only on (seed, tree, row): the same on any thread count.
    const std::int64_t n = data_->NumRows();
    if (static_cast<std::int64_t>(weighted_.size()) != n) weighted_.resize(static_cast<std::size_t>(n));
    const std::int64_t m = static_cast<std::int64_t>(rows.size());
    const std::int64_t mask = (std::int64_t{1} << pack.bits) - 1;
    ParallelFor(0, (m + 8191) / 8192, n_threads_, [&](std::int64_t b) {
      for (std::int64_t i = b * 8192; i < std::min(m, b * 8192 + 8192); ++i) {
        const std::uint32_t r = rows[static_cast<std::size_t>(i)];
        const double u = std::max(UniformCounter(op.seed, 0x4000u + op.tree_index, r), 1e-300);
        const double w = std::min(16.0, std::pow(-std::log(u), op.bagging_temperature)) / 16.0;
        const std::int64_t h = gh[r].hc >> pack.bits;
        weighted_[r].g = std::llround(static_cast<double>(gh[r].g) * w);
        weighted_[r].hc = (std::llround(static_cast<double>(h) * w) << pack.bits) | (gh[r].hc & mask);
      }
    });
    gh = weighted_.data();
    scale_g /= 16.0;
    scale_h /= 16.0;
  }
  ObliviousParams o = op;
  if (op.cosine && op.random_strength > 0) {
    // The noise's scale: the root mean square of the tree's gradients (before the bootstrap
    // weights), summed in fixed blocks in block order, so the same on any thread count.
    const std::int64_t m = static_cast<std::int64_t>(rows.size());
    const std::int64_t nb = (m + 8191) / 8192;
    std::vector<double> part(static_cast<std::size_t>(nb), 0.0);
    const double ig = 1.0 / scale_g0;
    ParallelFor(0, nb, n_threads_, [&](std::int64_t b) {
      double acc = 0.0;
      for (std::int64_t i = b * 8192; i < std::min(m, b * 8192 + 8192); ++i) {
        const double g = static_cast<double>(gh0[rows[static_cast<std::size_t>(i)]].g) * ig;
        acc += g * g;
      }
      part[static_cast<std::size_t>(b)] = acc;
    });
    double total = 0.0;
    for (double v : part) total += v;
    o.rows = m;
    o.grad_rms = m > 0 ? std::sqrt(total / static_cast<double>(m)) : 0.0;
  }
  src.Start(gh, rows);
  src.UseFeatures(features);
  std::vector<GrownLeaf> leaves;
  Tree tree = GrowObliviousTree(src, data_->Mapper(), grower_.Layout(), pool_, scale_g, scale_h,
                                pack, features, params, o, n_threads_, &leaves, &value_nodes_);
  grower_.SetLeaves(leaves);
  // Counts and covers from the rows of each leaf, summed up the tree (children come after
  // their parent): exact for frozen subtrees too, whose children have no histogram.
  const std::uint32_t* prow = grower_.PartitionedRows();
  const double inv_h = 1.0 / scale_h;
  std::vector<std::int64_t> hsum(static_cast<std::size_t>(tree.NumNodes()), 0);
  std::vector<std::int64_t> csum(static_cast<std::size_t>(tree.NumNodes()), 0);
  for (const auto& lr : grower_.LeafRanges()) {
    HistBin acc{0, 0};
    for (std::int64_t i = lr.begin; i < lr.end; ++i) acc.hc += gh[prow[i]].hc;
    const NodeSums s = pack.Decode(acc);
    hsum[static_cast<std::size_t>(lr.node)] = s.h;
    csum[static_cast<std::size_t>(lr.node)] = s.c;
  }
  for (std::int32_t n = tree.NumNodes() - 1; n >= 0; --n) {
    const std::size_t u = static_cast<std::size_t>(n);
    if (!tree.IsLeaf(n)) {
      hsum[u] = hsum[static_cast<std::size_t>(tree.left[u])] +
                hsum[static_cast<std::size_t>(tree.right[u])];
      csum[u] = csum[static_cast<std::size_t>(tree.left[u])] +
                csum[static_cast<std::size_t>(tree.right[u])];
    }
    tree.count[u] = csum[u];
    tree.hess[u] = std::max(static_cast<double>(hsum[u]) * inv_h, 1e-300);
  }
  return tree;
}

}  // namespace sapwood
