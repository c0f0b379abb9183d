// The growth loop: pick the open leaf with the best split, partition its rows, build the
// smaller child's histogram and subtract it from the parent's for the larger child, then
// search both children. Stops at num_leaves, max_depth, or when no split gains.
#include "sapwood/grower.hpp"

#include <limits>

#include "histogram.hpp"
#include "row_partitioner.hpp"
#include "split_evaluator.hpp"

namespace sapwood {

TreeGrower::TreeGrower(std::shared_ptr<const BinnedMatrix> data, int n_threads)
    : data_(std::move(data)), n_threads_(n_threads) {
  layout_ = MakeHistLayout(data_->Mapper());
  for (int f = 0; f < data_->NumFeatures(); ++f)
    layout_.num_cats.push_back(data_->Mapper().Feature(f).num_cats);
  hist_ = std::make_unique<HistogramBuilder>(*data_, layout_, n_threads_);
  part_ = std::make_unique<RowPartitioner>(n_threads_);
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

Tree TreeGrower::Grow(const GradPair* gh, double scale_g, double scale_h, CountPacking pack,
                      const std::vector<std::uint32_t>& rows, const std::vector<int>& features,
                      const GrowParams& params) {
  struct OpenLeaf {
    std::int32_t node;
    std::int64_t begin, end;
    int depth;
    HistBin total;
    SplitInfo split;
    int slot;  // histogram pool slot, -1 when none is kept
  };
  const double inv_g = 1.0 / scale_g, inv_h = 1.0 / scale_h;
  auto out_of = [&](const HistBin& packed) {
    const NodeSums s = pack.Decode(packed);
    return LeafOutput(static_cast<double>(s.g) * inv_g, static_cast<double>(s.h) * inv_h, params) *
           params.learning_rate;
  };
  auto hess_of = [&](const HistBin& packed) {
    return static_cast<double>(pack.Decode(packed).h) * inv_h;
  };
  auto can_split = [&](std::int64_t count, int depth) {
    if (params.max_depth > 0 && depth >= params.max_depth) return false;
    return count >= 2 * std::max<std::int64_t>(1, params.min_child_samples);
  };

  const std::size_t n_slots = static_cast<std::size_t>(params.num_leaves) + 1;
  if (pool_.size() < n_slots) pool_.resize(n_slots);
  std::vector<int> free_slots;
  for (int s = static_cast<int>(n_slots) - 1; s >= 0; --s) free_slots.push_back(s);
  auto take_slot = [&]() {
    int s = free_slots.back();
    free_slots.pop_back();
    if (pool_[s].size() != layout_.total) pool_[s].resize(layout_.total);
    return s;
  };

  part_->Init(rows);
  const std::int64_t n = static_cast<std::int64_t>(rows.size());
  Tree tree;
  std::vector<std::pair<std::int32_t, std::vector<std::uint32_t>>> cat_splits;  // node, bitset
  std::vector<OpenLeaf> leaves;
  {
    HistBin total{0, 0};
    for (std::int64_t i = 0; i < n; ++i) {
      total.g += gh[rows[i]].g;
      total.hc += gh[rows[i]].hc;
    }
    OpenLeaf root{tree.AddLeaf(out_of(total), hess_of(total), n), 0, n, 0,
                  total, SplitInfo{}, -1};
    if (can_split(n, 0) && params.num_leaves > 1) {
      root.slot = take_slot();
      // all rows in order: read them sequentially, without the index indirection
      const bool identity = n == data_->NumRows();
      hist_->Build(identity ? nullptr : part_->Rows(), n, gh, pool_[root.slot].data());
      root.split = FindBestSplit(pool_[root.slot].data(), layout_, features, total, pack,
                                 scale_g, scale_h, params, n_threads_);
    }
    leaves.push_back(root);
  }

  while (static_cast<int>(leaves.size()) < params.num_leaves) {
    int pick = -1;
    for (int i = 0; i < static_cast<int>(leaves.size()); ++i) {
      if (leaves[i].split.Valid() && (pick < 0 || leaves[i].split.gain > leaves[pick].split.gain))
        pick = i;
    }
    if (pick < 0) break;
    OpenLeaf parent = leaves[static_cast<std::size_t>(pick)];
    const SplitInfo& s = parent.split;
    const FeatureBins& fb = data_->Mapper().Feature(s.feature);
    std::int64_t mid;
    if (s.categorical) {
      std::vector<std::uint8_t> goes_left(static_cast<std::size_t>(fb.NumBins()), 0);
      for (int b = 0; b < fb.num_cats; ++b)
        goes_left[static_cast<std::size_t>(b)] = (s.cat_left[static_cast<std::size_t>(b / 32)] >> (b % 32)) & 1u;
      goes_left[static_cast<std::size_t>(fb.NanBin())] = s.default_left ? 1 : 0;
      mid = part_->SplitByTable(parent.begin, parent.end, *data_, s.feature, goes_left);
      cat_splits.emplace_back(parent.node, s.cat_left);
    } else {
      mid = part_->Split(parent.begin, parent.end, *data_, s.feature, s.threshold_bin,
                         s.default_left);
    }
    const std::int32_t ln = tree.AddLeaf(out_of(s.left), hess_of(s.left), mid - parent.begin);
    const std::int32_t rn = tree.AddLeaf(out_of(s.right), hess_of(s.right), parent.end - mid);
    const std::int32_t p = parent.node;
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

    OpenLeaf L{ln, parent.begin, mid, parent.depth + 1, s.left, SplitInfo{}, -1};
    OpenLeaf R{rn, mid, parent.end, parent.depth + 1, s.right, SplitInfo{}, -1};
    const bool split_l = can_split(L.end - L.begin, L.depth);
    const bool split_r = can_split(R.end - R.begin, R.depth);
    const bool room = static_cast<int>(leaves.size()) + 1 < params.num_leaves;
    if ((split_l || split_r) && room) {
      OpenLeaf& small = (L.end - L.begin) <= (R.end - R.begin) ? L : R;
      OpenLeaf& large = (&small == &L) ? R : L;
      small.slot = take_slot();
      hist_->Build(part_->Rows() + small.begin, small.end - small.begin, gh,
                   pool_[small.slot].data());
      large.slot = parent.slot;  // parent's histogram becomes the larger child's
      hist_->Subtract(pool_[large.slot].data(), pool_[small.slot].data(),
                      pool_[large.slot].data());
      for (OpenLeaf* c : {&L, &R}) {
        if (can_split(c->end - c->begin, c->depth)) {
          c->split = FindBestSplit(pool_[c->slot].data(), layout_, features, c->total, pack,
                                   scale_g, scale_h, params, n_threads_);
        }
        if (!c->split.Valid()) {
          free_slots.push_back(c->slot);
          c->slot = -1;
        }
      }
    } else if (parent.slot >= 0) {
      free_slots.push_back(parent.slot);
    }
    leaves[static_cast<std::size_t>(pick)] = L;
    leaves.push_back(R);
  }

  if (!cat_splits.empty()) {
    // Categorical splits in the predictor's representation (tree.hpp): split_type 2 and a
    // bitset of the codes going left.
    const std::size_t nn = static_cast<std::size_t>(tree.NumNodes());
    tree.split_type.assign(nn, 0);
    tree.cat_begin.assign(nn, 0);
    tree.cat_size.assign(nn, 0);
    for (const auto& [node, bits] : cat_splits) {
      tree.split_type[static_cast<std::size_t>(node)] = 2;
      tree.cat_begin[static_cast<std::size_t>(node)] = static_cast<std::int32_t>(tree.cat_bits.size());
      tree.cat_size[static_cast<std::size_t>(node)] = static_cast<std::int32_t>(bits.size());
      tree.cat_bits.insert(tree.cat_bits.end(), bits.begin(), bits.end());
    }
  }
  leaf_ranges_.clear();
  for (const auto& l : leaves) leaf_ranges_.push_back({l.node, l.begin, l.end});
  return tree;
}

}  // namespace sapwood
