// The growth loop: pick the open leaf with the best split, partition its rows, build the
// smaller child's histogram and subtract it from the parent's for the larger child, then
// search both children. Stops at num_leaves, max_depth, or when no split gains.
#include "sapwood/grower.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sapwood/error.hpp"
#include "sapwood/random.hpp"

#include "histogram.hpp"
#include "row_partitioner.hpp"
#include "split_evaluator.hpp"

namespace sapwood {

TreeGrower::TreeGrower(std::shared_ptr<const BinnedMatrix> data, int n_threads)
    : data_(std::move(data)), n_threads_(n_threads) {
  layout_ = MakeHistLayout(data_->Mapper());
  hist_ = std::make_unique<HistogramBuilder>(*data_, layout_, n_threads_);
  part_ = std::make_unique<RowPartitioner>(n_threads_);
  rows_ = std::make_unique<LocalRows>(*data_, *hist_, *part_);
}

TreeGrower::~TreeGrower() = default;

const std::uint32_t* TreeGrower::PartitionedRows() const { return part_->Rows(); }

std::int32_t TreeGrower::LeafOfRow(const Tree& tree, std::int64_t r) const {
  std::int32_t node = 0;
  while (!tree.IsLeaf(node)) {
    const int f = tree.feature[node];
    const int b = data_->BinAt(r, f);
    bool left;
    if (b == data_->Mapper().Feature(f).NanBin()) {
      left = tree.default_left[node] != 0;
    } else if (!tree.split_type.empty() && tree.split_type[node] == 2) {
      const std::int32_t w = b / 32;  // categorical: category b's bit
      left = w < tree.cat_size[node] &&
             ((tree.cat_bits[static_cast<std::size_t>(tree.cat_begin[node] + w)] >> (b % 32)) & 1u);
    } else {
      left = b <= tree.threshold_bin[node];
    }
    node = left ? tree.left[node] : tree.right[node];
  }
  return node;
}


namespace {

int BitLength(std::uint64_t v) {
  int b = 0;
  while (v) {
    ++b;
    v >>= 1;
  }
  return b;
}

// A power-of-two scale that keeps |value| * n * scale below 2^bits, so fixed-point sums of up
// to n values cannot overflow.
double FixedPointScale(double max_abs, std::int64_t n, int bits) {
  const double bound = max_abs * static_cast<double>(std::max<std::int64_t>(n, 1));
  if (!(bound > 0) || !std::isfinite(bound)) return 1.0;
  int e = 0;
  std::frexp(bound, &e);  // bound < 2^e
  return std::ldexp(1.0, std::clamp(bits - e, -900, 900));
}

}  // namespace

FixedPoint ChooseFixedPoint(double max_abs_g, double max_abs_h, std::int64_t rows) {
  FixedPoint fp;
  // Gradients get 61 bits for their sums; hessians share their word with the row count.
  fp.pack.bits = BitLength(static_cast<std::uint64_t>(rows));
  fp.scale_g = FixedPointScale(max_abs_g, rows, 61);
  fp.scale_h = FixedPointScale(max_abs_h, rows, 61 - fp.pack.bits);
  return fp;
}

FixedPoint ChooseQuantized(double max_abs_g, double max_abs_h, std::int64_t rows, int levels) {
  FixedPoint fp;
  fp.pack.bits = BitLength(static_cast<std::uint64_t>(rows));
  fp.scale_g = max_abs_g > 0 && std::isfinite(max_abs_g) ? 0.5 * levels / max_abs_g : 1.0;
  fp.scale_h = max_abs_h > 0 && std::isfinite(max_abs_h) ? levels / max_abs_h : 1.0;
  return fp;
}

std::vector<int> SampleFeatures(const std::vector<int>& usable, double colsample,
                                std::uint64_t seed, int iteration, int k) {
  std::vector<int> features = usable;
  if (colsample < 1.0 && !features.empty()) {
    Rng rng(HashCounter(seed, 0x2000u + static_cast<std::uint64_t>(iteration),
                        static_cast<std::uint64_t>(k)));
    const std::size_t keep = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::floor(colsample * static_cast<double>(features.size()))));
    for (std::size_t i = 0; i < keep; ++i) {
      const std::size_t j = i + static_cast<std::size_t>(rng.Below(features.size() - i));
      std::swap(features[i], features[j]);
    }
    features.resize(keep);
    std::sort(features.begin(), features.end());
  }
  return features;
}

// ------------------------------------------------------------------------------ local rows
LocalRows::LocalRows(const BinnedMatrix& data, HistogramBuilder& hist, RowPartitioner& part)
    : data_(data), hist_(hist), part_(part) {}

void LocalRows::Start(const GradPair* gh, const std::vector<std::uint32_t>& rows,
                      const QuantGrad* q, int levels, int count_bits) {
  gh_ = gh;
  q_ = q;
  levels_ = levels;
  count_bits_ = count_bits;
  part_.Init(rows);
  n_ = static_cast<std::int64_t>(rows.size());
  ranges_.assign(1, {0, n_});
  hist_.SetFeatures({});
}

void LocalRows::UseFeatures(const std::vector<int>& features) { hist_.SetFeatures(features); }

HistBin LocalRows::Root(HistBin* out) {
  const std::uint32_t* rows = part_.Rows();
  HistBin total{0, 0};
  if (q_ != nullptr) {
    // quantized: the same sums from the levels (gh is written only where nodes need 16-byte
    // bins, Trainer::Quantize); every row adds 1 to the count field
    std::int64_t g = 0, h = 0;
    for (std::int64_t i = 0; i < n_; ++i) {
      g += q_[rows[i]].g;
      h += q_[rows[i]].h;
    }
    total = {g, (h << count_bits_) + n_};
  } else {
    for (std::int64_t i = 0; i < n_; ++i) {
      total.g += gh_[rows[i]].g;
      total.hc += gh_[rows[i]].hc;
    }
  }
  if (out != nullptr) {
    // all rows in order: read them sequentially, without the index indirection
    const bool identity = n_ == data_.NumRows();
    Build(identity ? nullptr : rows, n_, out);
  }
  return total;
}

void LocalRows::Build(const std::uint32_t* rows, std::int64_t n, HistBin* out) {
  if (q_ != nullptr) {
    hist_.BuildQuantized(rows, n, gh_, q_, levels_, out);
  } else {
    hist_.Build(rows, n, gh_, out);
  }
}

HistFormat LocalRows::Format(std::int64_t rows) const {
  return q_ != nullptr ? HistogramBuilder::QuantFormat(rows, levels_) : HistFormat{};
}

void LocalRows::Expand(const std::vector<ExpandRequest>& reqs, const std::vector<HistBin*>& outs) {
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const ExpandRequest& r = reqs[i];
    if (!Has(r.leaf) || r.split == nullptr || r.left < 0 || r.right < 0 || r.left == r.right) {
      throw DataError("distributed training: an expansion request names an unknown leaf");
    }
    const auto [begin, end] = ranges_[static_cast<std::size_t>(r.leaf)];
    const SplitInfo& s = *r.split;
    if (s.feature < 0 || s.feature >= data_.NumFeatures()) {
      throw DataError("distributed training: a split names feature " +
                      std::to_string(s.feature) + " of " + std::to_string(data_.NumFeatures()));
    }
    const FeatureBins& fb = data_.Mapper().Feature(s.feature);
    std::int64_t mid;
    if (s.categorical) {
      std::vector<std::uint8_t> goes_left(static_cast<std::size_t>(fb.NumBins()), 0);
      for (int b = 0; b < fb.num_cats; ++b) {
        const std::size_t w = static_cast<std::size_t>(b / 32);
        goes_left[static_cast<std::size_t>(b)] =
            w < s.cat_left.size() ? (s.cat_left[w] >> (b % 32)) & 1u : 0;
      }
      goes_left[static_cast<std::size_t>(fb.NanBin())] = s.default_left ? 1 : 0;
      mid = part_.SplitByTable(begin, end, data_, s.feature, goes_left);
    } else {
      mid = part_.Split(begin, end, data_, s.feature, s.threshold_bin, s.default_left);
    }
    const std::size_t need = static_cast<std::size_t>(std::max(r.left, r.right)) + 1;
    if (ranges_.size() < need) ranges_.resize(need, {-1, -1});
    ranges_[static_cast<std::size_t>(r.left)] = {begin, mid};
    ranges_[static_cast<std::size_t>(r.right)] = {mid, end};
    if (r.build >= 0) {
      if (r.build != r.left && r.build != r.right) {
        throw DataError("distributed training: a histogram request names no child of its leaf");
      }
      const auto [b0, b1] = ranges_[static_cast<std::size_t>(r.build)];
      Build(part_.Rows() + b0, b1 - b0, outs[i]);
    }
  }
}

void SetCategoricalSplits(const CatSplits& splits, Tree* tree) {
  if (splits.empty()) return;
  // the predictor's representation (tree.hpp): split_type 2 and a bitset of the codes going
  // left
  const std::size_t nn = static_cast<std::size_t>(tree->NumNodes());
  tree->split_type.assign(nn, 0);
  tree->cat_begin.assign(nn, 0);
  tree->cat_size.assign(nn, 0);
  for (const auto& [node, bits] : splits) {
    const std::size_t k = static_cast<std::size_t>(node);
    tree->split_type[k] = 2;
    tree->cat_begin[k] = static_cast<std::int32_t>(tree->cat_bits.size());
    tree->cat_size[k] = static_cast<std::int32_t>(bits.size());
    tree->cat_bits.insert(tree->cat_bits.end(), bits.begin(), bits.end());
  }
}

// ------------------------------------------------------------------------------ growth loop
Tree GrowTree(HistogramSource& src, const BinMapper& mapper, const HistLayout& layout,
              std::vector<std::vector<HistBin>>& pool, double scale_g, double scale_h,
              CountPacking pack, const std::vector<int>& features, const GrowParams& params,
              int n_threads, int batch, std::vector<GrownLeaf>* leaves_out) {
  struct OpenLeaf {
    std::int32_t node;
    std::int32_t handle;
    int depth;
    HistBin total;
    SplitInfo split;
    int slot;  // histogram pool slot, -1 when none is kept
    // bounds of this leaf's output (monotone constraints), unscaled
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    // Filled by an expansion (possibly ahead of the pick): the children's handles, splits,
    // histogram slots and output bounds.
    bool expanded = false;
    std::int32_t child_handle[2] = {-1, -1};
    SplitInfo child_split[2];
    int child_slot[2] = {-1, -1};
    double child_lo[2] = {-std::numeric_limits<double>::infinity(),
                          -std::numeric_limits<double>::infinity()};
    double child_hi[2] = {std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::infinity()};
    // features split on along the branch to this leaf (interaction constraints only)
    std::vector<int> used;
    // intermediate monotone method: the split has not been searched under current bounds yet
    bool stale = false;
  };
  const double inv_g = 1.0 / scale_g, inv_h = 1.0 / scale_h;
  // extra_l2: added to the L2 term (the children of a many-vs-many categorical split)
  auto raw_out = [&](const HistBin& packed, double lo, double hi, double extra_l2 = 0.0) {
    const NodeSums s = pack.Decode(packed);
    const double o = LeafOutput(static_cast<double>(s.g) * inv_g,
                                static_cast<double>(s.h) * inv_h + extra_l2, params);
    return std::min(std::max(o, lo), hi);
  };
  auto out_of = [&](const HistBin& packed, double lo, double hi, double extra_l2 = 0.0) {
    return raw_out(packed, lo, hi, extra_l2) * params.learning_rate;
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  auto hess_of = [&](const HistBin& packed) {
    return static_cast<double>(pack.Decode(packed).h) * inv_h;
  };
  auto count_of = [&](const HistBin& packed) { return pack.Decode(packed).c; };
  auto can_split = [&](std::int64_t count, int depth) {
    if (params.max_depth > 0 && depth >= params.max_depth) return false;
    return count >= 2 * std::max<std::int64_t>(1, params.min_child_samples);
  };

  // Intermediate monotone method (GrowParams::monotone_method): per node its unscaled output,
  // parent and whether its split is categorical, to recompute every open leaf's bounds.
  const bool inter = params.monotone_method == 1 &&
                     std::any_of(params.monotone.begin(), params.monotone.end(),
                                 [](std::int8_t m) { return m != 0; });
  if (inter) batch = 1;
  std::vector<double> raw_val;
  std::vector<std::int32_t> parent_of;
  std::vector<char> cat_node;
  auto record = [&](std::int32_t node, double raw, std::int32_t parent) {
    if (!inter) return;
    const std::size_t k = static_cast<std::size_t>(node) + 1;
    if (raw_val.size() < k) {
      raw_val.resize(k);
      parent_of.resize(k, -1);
      cat_node.resize(k, 0);
    }
    raw_val[k - 1] = raw;
    parent_of[k - 1] = parent;
  };

  HistSlots slots(pool, layout.total);
  // each slot's bin format (quantized sources write narrow words: HistogramSource::Format)
  std::vector<HistFormat> fmt_of(pool.size());
  auto take_slot = [&]() {
    const int s = slots.Take();
    if (fmt_of.size() < pool.size()) fmt_of.resize(pool.size());
    return s;
  };
  auto release = [&](int& slot) { slots.Release(slot); };
  // Interaction constraints: the features a leaf may split on are those sharing a set with
  // every feature already used on its branch.
  const bool constrained = !params.interaction_sets.empty();
  auto allowed_for = [&](const std::vector<int>& used) {
    std::vector<char> ok(static_cast<std::size_t>(layout.nbins.size()), 0);
    for (const auto& set : params.interaction_sets) {
      bool holds = true;
      for (int u : used) holds = holds && std::find(set.begin(), set.end(), u) != set.end();
      if (!holds) continue;
      for (int f : set)
        if (f >= 0 && static_cast<std::size_t>(f) < ok.size()) ok[static_cast<std::size_t>(f)] = 1;
    }
    std::vector<int> out;
    for (int f : features)
      if (ok[static_cast<std::size_t>(f)]) out.push_back(f);
    return out;
  };
  auto search = [&](int slot, const HistBin& total, double lo, double hi,
                    const std::vector<int>& used) {
    const HistBin* hist = pool[static_cast<std::size_t>(slot)].data();
    const HistFormat fmt = fmt_of[static_cast<std::size_t>(slot)];
    if (!constrained || used.empty()) {  // no copy of the feature list on the common path
      return FindBestSplit(hist, fmt, layout, features, total, pack, scale_g, scale_h, params,
                           n_threads, lo, hi);
    }
    const std::vector<int> allowed = allowed_for(used);
    if (allowed.empty()) return SplitInfo{};
    return FindBestSplit(hist, fmt, layout, allowed, total, pack, scale_g, scale_h, params,
                         n_threads, lo, hi);
  };

  Tree tree;
  CatSplits cat_splits;
  std::vector<OpenLeaf> leaves;
  std::int32_t next_handle = 1;
  {
    OpenLeaf root;
    root.handle = 0;
    root.depth = 0;
    root.slot = -1;
    // The root is split when it may be; its row count is only known from the sums, so the
    // histogram is requested first and dropped if it turns out not to be needed.
    int slot = params.num_leaves > 1 ? take_slot() : -1;
    root.total = src.Root(slot >= 0 ? pool[static_cast<std::size_t>(slot)].data() : nullptr);
    const std::int64_t n = count_of(root.total);
    if (slot >= 0) fmt_of[static_cast<std::size_t>(slot)] = src.Format(n);
    root.node = tree.AddLeaf(out_of(root.total, -kInf, kInf), hess_of(root.total), n);
    record(root.node, raw_out(root.total, -kInf, kInf), -1);
    if (slot >= 0 && can_split(n, 0)) {
      root.slot = slot;
      root.split = search(slot, root.total, -kInf, kInf, root.used);
      if (!root.split.Valid()) release(root.slot);
    } else {
      release(slot);
    }
    leaves.push_back(std::move(root));
  }

  // Expands leaves[idx...]: partitions their rows and evaluates their children. The caller
  // has checked each has a valid split and is not expanded yet.
  auto expand = [&](const std::vector<int>& which) {
    std::vector<ExpandRequest> reqs(which.size());
    std::vector<HistBin*> outs(which.size(), nullptr);
    std::vector<int> small_side(which.size(), -1);
    const bool room = static_cast<int>(leaves.size()) + 1 < params.num_leaves;
    for (std::size_t i = 0; i < which.size(); ++i) {
      OpenLeaf& x = leaves[static_cast<std::size_t>(which[i])];
      x.child_handle[0] = next_handle++;
      x.child_handle[1] = next_handle++;
      // children's output bounds: the parent's, cut at the midpoint of their outputs when the
      // split feature is monotone (LightGBM's "basic" method)
      for (int c = 0; c < 2; ++c) {
        x.child_lo[c] = x.lo;
        x.child_hi[c] = x.hi;
      }
      const int mono = params.monotone.empty() || x.split.categorical
                           ? 0 : params.monotone[static_cast<std::size_t>(x.split.feature)];
      if (mono != 0 && !inter) {
        const double mid =
            0.5 * (raw_out(x.split.left, x.lo, x.hi) + raw_out(x.split.right, x.lo, x.hi));
        if (mono > 0) {
          x.child_hi[0] = std::min(x.hi, mid);
          x.child_lo[1] = std::max(x.lo, mid);
        } else {
          x.child_lo[0] = std::max(x.lo, mid);
          x.child_hi[1] = std::min(x.hi, mid);
        }
      }
      ExpandRequest& r = reqs[i];
      r.leaf = x.handle;
      r.left = x.child_handle[0];
      r.right = x.child_handle[1];
      r.split = &x.split;
      const std::int64_t cl = count_of(x.split.left), cr = count_of(x.split.right);
      const bool split_l = can_split(cl, x.depth + 1), split_r = can_split(cr, x.depth + 1);
      if ((split_l || split_r) && room) {
        const int small = cl <= cr ? 0 : 1;
        small_side[i] = small;
        r.build = x.child_handle[small];
        x.child_slot[small] = take_slot();
        outs[i] = pool[static_cast<std::size_t>(x.child_slot[small])].data();
      }
    }
    src.Expand(reqs, outs);
    for (std::size_t i = 0; i < which.size(); ++i) {
      OpenLeaf& x = leaves[static_cast<std::size_t>(which[i])];
      x.expanded = true;
      const int small = small_side[i];
      if (small < 0) {
        release(x.slot);
        continue;
      }
      const int large = 1 - small;
      // parent's histogram becomes the larger child's: parent - smaller (exact in fixed point;
      // the larger child keeps the parent's format)
      x.child_slot[large] = x.slot;
      x.slot = -1;
      const std::size_t ls = static_cast<std::size_t>(x.child_slot[large]);
      const std::size_t ss = static_cast<std::size_t>(x.child_slot[small]);
      fmt_of[ss] = src.Format(count_of(small == 0 ? x.split.left : x.split.right));
      SubtractHistogram(pool[ls].data(), fmt_of[ls], pool[ss].data(), fmt_of[ss], layout.total,
                        pack.bits);
      for (int c = 0; c < 2; ++c) {
        const HistBin& tot = c == 0 ? x.split.left : x.split.right;
        if (inter) {
          // searched once the children exist, under bounds from the grown tree (refresh)
          if (!can_split(count_of(tot), x.depth + 1)) release(x.child_slot[c]);
          continue;
        }
        if (can_split(count_of(tot), x.depth + 1)) {
          std::vector<int> used;
          if (constrained) {
            used = x.used;
            if (std::find(used.begin(), used.end(), x.split.feature) == used.end())
              used.push_back(x.split.feature);
          }
          x.child_split[c] = search(x.child_slot[c], tot, x.child_lo[c], x.child_hi[c], used);
        }
        if (!x.child_split[c].Valid()) release(x.child_slot[c]);
      }
    }
  };

  // Intermediate monotone method: every open leaf's bounds from the grown tree. For each
  // ancestor split on a constrained feature, the leaf's outputs must stay on the right side of
  // every current leaf output across that split (below the smallest for an increasing
  // constraint when the leaf is on the left, ...). Existing outputs satisfy this, and new ones
  // are clamped into it, so no two leaves ever cross (by induction over the splits).
  auto refresh_bounds = [&]() {
    const std::size_t nn = static_cast<std::size_t>(tree.NumNodes());
    std::vector<double> mn(nn), mx(nn);
    for (std::size_t k = nn; k-- > 0;) {  // children have larger ids than their parent
      const std::int32_t l = tree.left[k], r = tree.right[k];
      if (l < 0) {
        mn[k] = mx[k] = raw_val[k];
      } else {
        mn[k] = std::min(mn[static_cast<std::size_t>(l)], mn[static_cast<std::size_t>(r)]);
        mx[k] = std::max(mx[static_cast<std::size_t>(l)], mx[static_cast<std::size_t>(r)]);
      }
    }
    for (auto& x : leaves) {
      if (x.slot < 0) continue;  // cannot split: its output is final
      double lo = -kInf, hi = kInf;
      for (std::int32_t c = x.node, a = parent_of[static_cast<std::size_t>(c)]; a >= 0;
           c = a, a = parent_of[static_cast<std::size_t>(a)]) {
        const std::size_t ai = static_cast<std::size_t>(a);
        if (cat_node[ai]) continue;
        const int mono = params.monotone[static_cast<std::size_t>(tree.feature[ai])];
        if (mono == 0) continue;
        const bool on_left = tree.left[ai] == c;
        const std::size_t sib = static_cast<std::size_t>(on_left ? tree.right[ai] : tree.left[ai]);
        if ((mono > 0) == on_left) {
          hi = std::min(hi, mn[sib]);
        } else {
          lo = std::max(lo, mx[sib]);
        }
      }
      if (x.stale || lo != x.lo || hi != x.hi) {
        x.lo = lo;
        x.hi = hi;
        x.stale = false;
        x.split = search(x.slot, x.total, lo, hi, x.used);
      }
    }
  };

  // Which leaves to expand along with `pick` (which must be expanded now): a leaf fetched
  // ahead but never picked costs its histogram on every worker and on the wire, one not
  // fetched costs a later round trip. The picks themselves never depend on this choice (they
  // are made from exact gains above), so any choice gives the same tree.
  //
  // The leaf-wise picks to come are simulated on what is known: open leaves by gain, the
  // children of leaves already expanded (their gains are known), and, for a leaf not expanded
  // yet, two children of gain kChildGain x its own (a guess). Unexpanded leaves the simulation
  // picks before the tree is full are fetched, in pick order, up to `budget`. Ranking the
  // expanded leaves and the children with the rest stops fetching leaves that cannot be picked
  // (the tree fills first), which the plain top-`budget` by gain did: 27% of the histograms on
  // the 2M x 32, 63-leaf benchmark (docs/distributed.md).
  //
  // kChildGain, measured on that benchmark (100 trees, 6,200 splits, batch 8): 0 (only what is
  // known) fetched 6,812 leaves in 1,729 round trips, 0.5 fetched 6,590 in 1,729, 0.7 fetched
  // 6,296 in 1,730; the plain top-8 by gain fetched 7,844 in 1,729.
  constexpr double kChildGain = 0.7;
  auto prefetch = [&](int pick, int budget) {
    std::vector<int> which{pick};
    struct Item {
      double gain;
      int leaf;       // an open leaf (index into leaves), or -1 for a child not open yet
      std::int64_t rows;
      int depth;
    };
    auto before = [](const Item& a, const Item& b) {
      return a.gain < b.gain || (a.gain == b.gain && a.leaf > b.leaf);
    };
    std::vector<Item> heap;
    for (int i = 0; i < static_cast<int>(leaves.size()); ++i) {
      const OpenLeaf& x = leaves[static_cast<std::size_t>(i)];
      if (x.split.Valid()) heap.push_back({x.split.gain, i, count_of(x.total), x.depth});
    }
    std::make_heap(heap.begin(), heap.end(), before);
    auto push = [&](double gain, std::int64_t rows, int depth) {
      heap.push_back({gain, -1, rows, depth});
      std::push_heap(heap.begin(), heap.end(), before);
    };
    int room = params.num_leaves - static_cast<int>(leaves.size());
    while (room > 0 && !heap.empty() && static_cast<int>(which.size()) < budget) {
      std::pop_heap(heap.begin(), heap.end(), before);
      const Item it = heap.back();
      heap.pop_back();
      --room;
      const OpenLeaf* x = it.leaf >= 0 ? &leaves[static_cast<std::size_t>(it.leaf)] : nullptr;
      if (x != nullptr && x->expanded) {
        for (int c = 0; c < 2; ++c) {
          const SplitInfo& cs = x->child_split[c];
          if (cs.Valid())
            push(cs.gain, count_of(c == 0 ? x->split.left : x->split.right), x->depth + 1);
        }
        continue;
      }
      if (x != nullptr && it.leaf != pick) which.push_back(it.leaf);
      // a guess at its children: each child's gain a fraction of the parent's (the rows of a
      // guessed child's children: half its own)
      for (int c = 0; c < 2; ++c) {
        const std::int64_t rows = x != nullptr ? count_of(c == 0 ? x->split.left
                                                                : x->split.right)
                                               : it.rows / 2;
        if (can_split(rows, it.depth + 1)) push(it.gain * kChildGain, rows, it.depth + 1);
      }
    }
    return which;
  };

  while (static_cast<int>(leaves.size()) < params.num_leaves) {
    int pick = -1;
    for (int i = 0; i < static_cast<int>(leaves.size()); ++i) {
      if (leaves[i].split.Valid() && (pick < 0 || leaves[i].split.gain > leaves[pick].split.gain))
        pick = i;
    }
    if (pick < 0) break;
    if (!leaves[static_cast<std::size_t>(pick)].expanded) {
      const int budget = std::min(batch, params.num_leaves - static_cast<int>(leaves.size()));
      expand(budget > 1 ? prefetch(pick, budget) : std::vector<int>{pick});
    }
    OpenLeaf parent = std::move(leaves[static_cast<std::size_t>(pick)]);
    const SplitInfo& s = parent.split;
    const FeatureBins& fb = mapper.Feature(s.feature);
    if (s.categorical) cat_splits.emplace_back(parent.node, s.cat_left);
    // The children of a many-vs-many categorical split keep cat_l2 in their outputs' L2 term,
    // as in the split's gain (LightGBM's categorical leaf outputs): under lambdarank's tiny
    // hessians their unshrunk outputs overfit the category groups.
    const double cat_l2 =
        s.categorical && fb.num_cats > params.max_cat_to_onehot ? params.cat_l2 : 0.0;
    const std::int32_t ln = tree.AddLeaf(
        out_of(s.left, parent.child_lo[0], parent.child_hi[0], cat_l2), hess_of(s.left),
        count_of(s.left));
    const std::int32_t rn = tree.AddLeaf(
        out_of(s.right, parent.child_lo[1], parent.child_hi[1], cat_l2), hess_of(s.right),
        count_of(s.right));
    const std::int32_t p = parent.node;
    record(ln, raw_out(s.left, parent.child_lo[0], parent.child_hi[0]), p);
    record(rn, raw_out(s.right, parent.child_lo[1], parent.child_hi[1]), p);
    if (inter) cat_node[static_cast<std::size_t>(p)] = s.categorical ? 1 : 0;
    tree.feature[p] = s.feature;
    tree.threshold_bin[p] = s.threshold_bin;
    tree.threshold[p] = s.categorical ? 0.0f
                        : s.threshold_bin < static_cast<int>(fb.edges.size())
                            ? fb.edges[static_cast<std::size_t>(s.threshold_bin)]
                            : std::numeric_limits<float>::infinity();
    tree.default_left[p] = s.default_left ? 1 : 0;
    tree.left[p] = ln;
    tree.right[p] = rn;
    tree.gain[p] = s.gain;

    OpenLeaf kids[2];
    const bool room = static_cast<int>(leaves.size()) + 1 < params.num_leaves;
    for (int c = 0; c < 2; ++c) {
      kids[c].node = c == 0 ? ln : rn;
      kids[c].handle = parent.child_handle[c];
      kids[c].depth = parent.depth + 1;
      kids[c].total = c == 0 ? s.left : s.right;
      kids[c].slot = parent.child_slot[c];
      kids[c].lo = parent.child_lo[c];
      kids[c].hi = parent.child_hi[c];
      if (constrained) {
        kids[c].used = parent.used;
        if (std::find(kids[c].used.begin(), kids[c].used.end(), s.feature) == kids[c].used.end())
          kids[c].used.push_back(s.feature);
      }
      if (room) {
        kids[c].split = std::move(parent.child_split[c]);
        kids[c].stale = inter && kids[c].slot >= 0;
      } else {
        release(kids[c].slot);
      }
    }
    leaves[static_cast<std::size_t>(pick)] = std::move(kids[0]);
    leaves.push_back(std::move(kids[1]));
    if (inter && room) refresh_bounds();
  }
  // Histograms of leaves still open (or fetched ahead and never picked) go back to the pool.
  for (auto& l : leaves) {
    release(l.slot);
    release(l.child_slot[0]);
    release(l.child_slot[1]);
  }

  SetCategoricalSplits(cat_splits, &tree);
  if (leaves_out != nullptr) {
    leaves_out->clear();
    for (const auto& l : leaves) leaves_out->push_back({l.node, l.handle});
  }
  return tree;
}

// ------------------------------------------------------------------------------ TreeGrower
LocalRows& TreeGrower::Rows() { return *rows_; }

void TreeGrower::SetLeaves(const std::vector<GrownLeaf>& leaves) {
  leaf_ranges_.clear();
  for (const auto& l : leaves) {
    if (!rows_->Has(l.handle)) throw DataError("distributed training: a leaf names unknown rows");
    leaf_ranges_.push_back({l.node, rows_->RangeBegin(l.handle), rows_->RangeEnd(l.handle)});
  }
}

Tree TreeGrower::Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking pack,
                      const std::vector<std::uint32_t>& rows, const std::vector<int>& features,
                      const GrowParams& params, const QuantGrad* q, int levels) {
  rows_->Start(gh, rows, q, levels, pack.bits);
  rows_->UseFeatures(features);
  std::vector<GrownLeaf> leaves;
  Tree tree = GrowTree(*rows_, data_->Mapper(), layout_, pool_, scale_g, scale_h, pack, features,
                       params, n_threads_, 1, &leaves);
  SetLeaves(leaves);
  return tree;
}

}  // namespace sapwood
