#include "sapwood/predict.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "sapwood/error.hpp"
#include "sapwood/threading.hpp"
#include "predict_simd.hpp"

namespace sapwood {

namespace {

std::string Where(std::size_t tree, std::int32_t node) {
  return "tree " + std::to_string(tree) + ", node " + std::to_string(node);
}

template <class V>
bool SizeIs(const V& v, std::int32_t n) {
  return v.size() == static_cast<std::size_t>(n);
}

}  // namespace

Forest::Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output,
               int num_outputs, int num_features)
    : tree_output_(std::move(tree_output)), num_outputs_(num_outputs), num_features_(num_features) {
  if (num_outputs_ < 1) throw ModelFormatError("num_outputs must be >= 1");
  if (num_features_ < 0) throw ModelFormatError("num_features must be >= 0");
  if (num_features_ > static_cast<int>(PackedNode::kFeatureMask)) {
    throw ModelFormatError("num_features must be < 2^24");
  }
  if (tree_output_.size() != trees.size()) {
    throw ModelFormatError("tree_output has " + std::to_string(tree_output_.size()) +
                           " entries for " + std::to_string(trees.size()) + " trees");
  }
  std::int64_t total = 0;
  for (const auto& t : trees) total += t.NumNodes();
  if (total > 0x7FFFFFFF) throw ModelFormatError("forest has more than 2^31 nodes");
  nodes_.reserve(static_cast<std::size_t>(total));
  value_.reserve(static_cast<std::size_t>(total));
  cover_.reserve(static_cast<std::size_t>(total));
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
    if (tree_output_[ti] < 0 || tree_output_[ti] >= num_outputs_) {
      throw ModelFormatError(where + ": output index " + std::to_string(tree_output_[ti]) +
                             " out of range");
    }
    std::vector<std::int32_t> parents(static_cast<std::size_t>(n), 0);
    std::vector<std::int32_t> depth(static_cast<std::size_t>(n), 0);
    const std::int32_t base = static_cast<std::int32_t>(nodes_.size());
    std::int32_t tdepth = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      PackedNode pn{};
      const std::int32_t f = t.feature[i];
      if (f >= 0) {
        if (f >= num_features_) {
          throw ModelFormatError(Where(ti, i) + ": feature " + std::to_string(f) +
                                 " out of range (model has " + std::to_string(num_features_) +
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
          const std::int32_t slot = static_cast<std::int32_t>(cat_slot_begin_.size());
          cat_slot_begin_.push_back(static_cast<std::int32_t>(cat_bits_.size()));
          cat_slot_size_.push_back(static_cast<std::int32_t>(s));
          cat_bits_.insert(cat_bits_.end(), t.cat_bits.begin() + b, t.cat_bits.begin() + b + s);
          std::memcpy(&pn.threshold, &slot, sizeof(slot));
        } else {
          if (std::isnan(t.threshold[i])) {
            throw ModelFormatError(Where(ti, i) + ": threshold is NaN");
          }
          pn.threshold = t.threshold[i];
        }
        if (type != 0) has_special_ = true;
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
      nodes_.push_back(pn);
      value_.push_back(t.value[i]);
      cover_.push_back(has_cover ? t.hess[i] : 0.0);
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
        const double c = cover_[base + ui];
        const double cl = cover_[base + static_cast<std::size_t>(t.left[i])];
        const double cr = cover_[base + static_cast<std::size_t>(t.right[i])];
        if (!(c > 0) || !std::isfinite(c) || !(cl >= 0) || !(cr >= 0) || !std::isfinite(cl) ||
            !std::isfinite(cr)) {
          cover_ok = false;
          break;
        }
        ev[ui] = (cl * ev[static_cast<std::size_t>(t.left[i])] +
                  cr * ev[static_cast<std::size_t>(t.right[i])]) / c;
      }
    }
    tree_expected_.push_back(cover_ok ? ev[0] : std::nan(""));
    tree_root_.push_back(base);
    tree_depth_.push_back(tdepth);
    max_depth_ = std::max(max_depth_, tdepth);
  }
  BuildShapPaths();
  BuildQuantized();
}

void Forest::BuildQuantized() {
  quantized_ = false;
  if (has_special_ || num_features_ < 1 || 2 * static_cast<std::int64_t>(num_features_) > 0xFFFF) {
    return;
  }
  const auto F = static_cast<std::size_t>(num_features_);
  std::vector<std::vector<float>> thr(F);
  for (const PackedNode& n : nodes_) {
    if (!(n.meta & PackedNode::kLeaf)) thr[n.meta & PackedNode::kFeatureMask].push_back(n.threshold);
  }
  qthr_begin_.assign(F + 1, 0);
  std::vector<float> all;
  for (std::size_t f = 0; f < F; ++f) {
    auto& v = thr[f];
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    if (v.size() >= 0xFFFF) return;  // ranks must stay below the leaf's 0xFFFF
    qthr_begin_[f] = static_cast<std::int32_t>(all.size());
    all.insert(all.end(), v.begin(), v.end());
  }
  qthr_begin_[F] = static_cast<std::int32_t>(all.size());
  qthr_ = std::move(all);
  qsearch_.clear();
  qsearch_begin_.assign(F, 0);
  qsearch_steps_.assign(F, 0);
  qsearch_max_steps_ = 0;
  for (std::size_t f = 0; f < F; ++f) {
    int steps = 0;
    while ((std::size_t{1} << steps) < thr[f].size() + 1) ++steps;
    qsearch_begin_[f] = static_cast<std::int32_t>(qsearch_.size());
    qsearch_steps_[f] = steps;
    qsearch_max_steps_ = std::max(qsearch_max_steps_, steps);
    qsearch_.insert(qsearch_.end(), thr[f].begin(), thr[f].end());
    qsearch_.insert(qsearch_.end(), (std::size_t{1} << steps) - 1 - thr[f].size(),
                    std::numeric_limits<float>::infinity());
  }
  // Codes for the single-row path and the two-level walk (batches without AVX2, trees of more
  // than 256 leaves) through BinIndex tables when they fit 8 MiB for the forest, else a binary
  // search; AVX2 batches search qsearch_ instead (QuantizeColumnsAvx2), as the tables' random
  // reads missed the cache once the bit-vector records streamed through it (40% of the
  // XGBoost model's batch time, perf). Measured here (32 features of ~250 thresholds), ns per
  // row of codes: 173-264 against 393-635 (binary search) for the LightGBM model, 488-550
  // against 661-666 for the XGBoost model, whose crowded thresholds leave several in most cells.
  constexpr std::size_t kQuantIndexBytes = std::size_t{8} << 20;
  qindex_.clear();
  std::size_t bytes = 0;
  for (std::size_t f = 0; f < F && bytes <= kQuantIndexBytes; ++f) {
    qindex_.emplace_back(thr[f]);
    bytes += qindex_.back().Bytes();
  }
  if (bytes > kQuantIndexBytes) qindex_.clear();
  qnodes_.resize(nodes_.size());
  qvalue_.resize(nodes_.size());
  qroot_.resize(tree_root_.size());
  // Breadth-first per tree, so the two children of a node get adjacent slots.
  std::vector<std::int32_t> order;
  std::int32_t next = 0;
  for (std::size_t t = 0; t < tree_root_.size(); ++t) {
    order.assign(1, tree_root_[t]);
    qroot_[t] = next;
    std::int32_t slot_of_front = next;
    ++next;
    for (std::size_t q = 0; q < order.size(); ++q, ++slot_of_front) {
      const PackedNode& n = nodes_[static_cast<std::size_t>(order[q])];
      QuantNode& qn = qnodes_[static_cast<std::size_t>(slot_of_front)];
      qvalue_[static_cast<std::size_t>(slot_of_front)] = value_[static_cast<std::size_t>(order[q])];
      if (n.meta & PackedNode::kLeaf) {
        qn = QuantNode{0xFFFF, 0, slot_of_front};
        continue;
      }
      const std::uint32_t f = n.meta & PackedNode::kFeatureMask;
      const float* b = qthr_.data() + qthr_begin_[f];
      const float* e = qthr_.data() + qthr_begin_[f + 1];
      const auto rank = static_cast<std::uint16_t>(std::lower_bound(b, e, n.threshold) - b);
      const auto col = static_cast<std::uint16_t>(
          f + ((n.meta & PackedNode::kDefaultLeft) ? F : 0));
      qn = QuantNode{rank, col, next};
      next += 2;
      order.push_back(n.child[0]);
      order.push_back(n.child[1]);
    }
  }
  quantized_ = true;
  BuildSuperNodes();
  BuildNode32();
  BuildBitvec();
}

void Forest::BuildBitvec() {
  bv_tree_.assign(qroot_.size(), BitvecTree{});
  bv_rec_.clear();
  bv_value_.clear();
  bv_all_ = true;
  bv_any_ = false;
  const auto is_leaf = [&](std::int32_t i) {
    return qnodes_[static_cast<std::size_t>(i)].left == i;
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
    splits[at].hi = self(self, qnodes_[static_cast<std::size_t>(node)].left);
    return self(self, qnodes_[static_cast<std::size_t>(node)].left + 1);
  };
  for (std::size_t t = 0; t < qroot_.size(); ++t) {
    // Leaves first: a tree of more leaves than the words hold is walked instead (and is never
    // recursed, however deep it is).
    const std::int32_t begin = qroot_[t];
    const std::int32_t end = t + 1 < qroot_.size() ? qroot_[t + 1]
                                                   : static_cast<std::int32_t>(qnodes_.size());
    std::int32_t n_leaves = 0;
    for (std::int32_t i = begin; i < end; ++i) n_leaves += is_leaf(i) ? 1 : 0;
    if (n_leaves > 16 * kBitvecMaxWords) {
      bv_all_ = false;
      continue;
    }
    bv_any_ = true;
    splits.clear();
    leaves.clear();
    number(number, begin);
    BitvecTree& bt = bv_tree_[t];
    bt.words = std::max<std::int32_t>(1, (n_leaves + 15) / 16);
    bt.rec_begin = static_cast<std::int32_t>(bv_rec_.size());
    bt.leaf_begin = static_cast<std::int32_t>(bv_value_.size());
    for (const std::int32_t leaf : leaves) {
      bv_value_.push_back(qvalue_[static_cast<std::size_t>(leaf)]);
    }
    for (std::int32_t w = 0; w < bt.words; ++w) {
      for (const Split& sp : splits) {
        const std::int32_t lo = std::max(sp.lo, 16 * w), hi = std::min(sp.hi, 16 * w + 16);
        if (lo >= hi) continue;
        const std::uint32_t clear = ((1u << (hi - lo)) - 1u) << (lo - 16 * w);
        const std::uint32_t keep = ~clear & 0xFFFFu;
        const QuantNode& q = qnodes_[static_cast<std::size_t>(sp.node)];
        const std::uint32_t rank = (static_cast<std::uint32_t>(q.rank) + 1u) ^ 0x8000u;
        bv_rec_.push_back(BitvecRecord{static_cast<std::int32_t>(q.column * kBitvecRows),
                                       rank | rank << 16, keep | keep << 16});
      }
      bt.word_end[w] = static_cast<std::int32_t>(bv_rec_.size());
    }
  }
}

void Forest::BuildSuperNodes() {
  snodes_.clear();
  svalue_.clear();
  sroot_.assign(qroot_.size(), 0);
  const auto is_leaf = [&](std::int32_t i) {
    return qnodes_[static_cast<std::size_t>(i)].left == i;
  };
  // Slot q of tree t holds the subtree of QuantNode todo[q]; breadth-first, so each node's four
  // children take adjacent slots.
  std::vector<std::int32_t> todo;
  for (std::size_t t = 0; t < qroot_.size(); ++t) {
    const auto root = static_cast<std::int32_t>(snodes_.size());
    sroot_[t] = root;
    todo.assign(1, qroot_[t]);
    for (std::size_t q = 0; q < todo.size(); ++q) {
      const std::int32_t v = todo[q];
      svalue_.push_back(qvalue_[static_cast<std::size_t>(v)]);
      if (is_leaf(v)) {
        snodes_.push_back(SuperNode{{0xFFFF, 0xFFFF, 0xFFFF}, {0, 0, 0},
                                    root + static_cast<std::int32_t>(q)});
        continue;
      }
      const QuantNode& a = qnodes_[static_cast<std::size_t>(v)];
      SuperNode sn{{a.rank, 0xFFFF, 0xFFFF}, {a.column, 0, 0},
                   root + static_cast<std::int32_t>(todo.size())};
      for (int c = 0; c < 2; ++c) {
        const std::int32_t child = a.left + c;
        if (is_leaf(child)) {
          todo.push_back(child);
          todo.push_back(child);
        } else {
          const QuantNode& b = qnodes_[static_cast<std::size_t>(child)];
          sn.rank[1 + c] = b.rank;
          sn.column[1 + c] = b.column;
          todo.push_back(b.left);
          todo.push_back(b.left + 1);
        }
      }
      snodes_.push_back(sn);
    }
  }
}

void Forest::BuildNode32() {
  qnodes32_.clear();
  qroot32_.clear();
  if (2 * static_cast<std::int64_t>(num_features_) > 256) return;
  std::vector<std::uint32_t> packed(qnodes_.size() + 1);
  for (std::size_t i = 0; i < qnodes_.size(); ++i) {
    const QuantNode& q = qnodes_[i];
    const std::int64_t delta = q.left - static_cast<std::int64_t>(i);
    if (delta < 0 || delta > 255) return;
    packed[i] = simd::Node32(q.rank, q.column, static_cast<std::uint32_t>(delta));
  }
  packed.back() = simd::Node32(0xFFFF, 0, 0);  // the spare leaf
  qroot32_ = qroot_;
  qroot32_.insert(qroot32_.end(), 16, static_cast<std::int32_t>(qnodes_.size()));
  qnodes32_ = std::move(packed);
}

namespace {
// 0 auto, 1 lockstep-avx2, 2 super, 3 bitvector-avx2 (see SetPredictKernel)
std::atomic<int> g_kernel{0};
}  // namespace

void SetPredictKernel(const std::string& name) {
  static const char* const kNames[] = {"auto", "lockstep-avx2", "super", "bitvector-avx2"};
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) {
      g_kernel.store(i, std::memory_order_relaxed);
      return;
    }
  }
  throw ParameterError(
      "kernel must be 'auto', 'lockstep-avx2', 'super' or 'bitvector-avx2', got '" + name + "'");
}

bool Forest::BatchBitvec() const {
  const int k = g_kernel.load(std::memory_order_relaxed);
  return quantized_ && bv_any_ && (k == 0 || k == 3) && simd::Avx2Enabled();
}

// Measured here (Zen 3, 2 shared cores, the benchmark's 300 trees of 63 leaves grown
// leaf-wise): for single rows, 16 trees in lock step in two AVX2 registers beat the scalar
// float walk 2.4x and an AVX2 kernel that refilled finished walks 1.1-1.5x. For batches the
// bit-vector kernel (BitvecTree, trees of at most 256 leaves) beats every walk: 4.0-5.0 against
// 16-22 ns per row and tree for the scalar walk on two-level nodes (SuperRawBlock; 4 rows in
// lock step), one thread, the benchmark's models. Those trees end at depth 4 on average but run
// 14 deep, and every walk step waits on the last; the bit-vector kernel tests every split of a
// tree for 16 rows per compare, with no load waiting on another. The two-level walk itself
// beat a binary lock step 1.15-1.2x end to end, and AVX2 walks (rows in lock step, or
// refilled), whose gathers cost ~9 cycles each (36 latency) here; those were removed.
bool Forest::SingleRowAvx2() const {
  return g_kernel.load(std::memory_order_relaxed) != 2 && quantized_ && num_features_ <= 128 &&
         !qnodes32_.empty() && simd::Avx2Enabled();
}

const char* Forest::Kernel() const {
  if (!quantized_) return has_special_ ? "float-special" : "float";
  if (BatchBitvec()) return bv_all_ ? "quant-bitvector-avx2" : "quant-bitvector-avx2+super";
  return "quant-super";
}

const char* Forest::SingleRowKernel() const {
  if (SingleRowAvx2()) return "quant-lockstep-avx2";
  return has_special_ ? "float-special" : "float";
}

bool Forest::SpecialGoRight(const PackedNode& n, float v) const {
  const bool dl = (n.meta & PackedNode::kDefaultLeft) != 0;
  const std::uint32_t type = (n.meta & PackedNode::kTypeMask) >> PackedNode::kTypeShift;
  if (std::isnan(v)) return !dl;
  if (type == 1) {
    // LightGBM's zero-as-missing: |x| <= kZeroThreshold (1e-35f) follows the default side.
    if (v >= -1e-35f && v <= 1e-35f) return !dl;
    return !(v <= n.threshold);
  }
  // Categorical: the category is the value truncated toward zero; negative categories and
  // categories past the bitset go right.
  std::int32_t slot;
  std::memcpy(&slot, &n.threshold, sizeof(slot));
  const std::int32_t words = cat_slot_size_[static_cast<std::size_t>(slot)];
  if (!(v > -1.0f) || !(v < static_cast<float>(words) * 32.0f)) return true;
  const auto c = static_cast<std::int32_t>(v);
  const std::uint32_t w =
      cat_bits_[static_cast<std::size_t>(cat_slot_begin_[static_cast<std::size_t>(slot)] + c / 32)];
  return ((w >> (c % 32)) & 1u) == 0;
}

namespace {

void CheckRange(const Forest& f, int b, int e) {
  if (b < 0 || e > f.NumTrees() || b > e) {
    throw ParameterError("tree range [" + std::to_string(b) + ", " + std::to_string(e) +
                         ") out of bounds for a forest of " + std::to_string(f.NumTrees()) +
                         " trees");
  }
}

template <class T>
void CheckCols(const Forest& f, const MatrixView<T>& x) {
  if (x.cols != f.NumFeatures()) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(f.NumFeatures()));
  }
}

// Rows of the batch kernels: a block of rows as float32, row-major. Float32 C-ordered input is
// read in place; anything else is converted block by block into a buffer owned by the thread
// and reused across calls (fresh pages are slow to get here).
// Whether the AVX2 code search can gather 8 rows at this row stride (32-bit offsets).
inline bool GatherableStride(std::int64_t row_stride) {
  return row_stride < (std::int64_t{1} << 27) && row_stride > -(std::int64_t{1} << 27);
}

template <class T>
const float* RowBlock(const MatrixView<T>& x, std::int64_t r0, std::int64_t nr,
                      std::int64_t* stride) {
  if constexpr (std::is_same_v<T, float>) {
    // (Row strides the AVX2 code search cannot gather are copied.)
    if (x.col_stride == 1 && x.cols > 0 && GatherableStride(x.row_stride)) {
      *stride = x.row_stride;
      return x.data + r0 * x.row_stride;
    }
  }
  thread_local std::vector<float> buf;
  const std::int64_t w = std::max<std::int64_t>(1, x.cols);
  const auto need = static_cast<std::size_t>(nr * w);
  if (buf.size() < need) buf.resize(need);
  float* b = buf.data();
  if (x.cols == 0) {
    std::fill(b, b + need, 0.0f);
  } else if (x.col_stride == 1) {
    for (std::int64_t r = 0; r < nr; ++r) {
      const T* src = x.data + (r0 + r) * x.row_stride;
      for (std::int64_t c = 0; c < w; ++c) b[r * w + c] = static_cast<float>(src[c]);
    }
  } else {
    // Column by column: Fortran-ordered input streams each column once.
    for (std::int64_t c = 0; c < w; ++c) {
      const T* src = x.data + c * x.col_stride + r0 * x.row_stride;
      for (std::int64_t r = 0; r < nr; ++r) b[r * w + c] = static_cast<float>(src[r * x.row_stride]);
    }
  }
  *stride = w;
  return b;
}

constexpr std::int64_t kRowBlock = kBitvecRows;
static_assert(kRowBlock % 16 == 0, "the bit-vector kernel reads whole registers of 16 rows");
constexpr int kLanes = 8;  // rows walked in lock step through one tree
constexpr int kSuperLanes = 4;  // the same, for the rank-coded kernel

}  // namespace

template <bool kSpecial>
void Forest::RawBlock(const float* rows, std::int64_t row_stride, std::int64_t nrows,
                      int tree_begin, int tree_end, double* out) const {
  const PackedNode* nodes = nodes_.data();
  const double* value = value_.data();
  const int K = num_outputs_;
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
    const int depth = tree_depth_[static_cast<std::size_t>(t)];
    const int k = tree_output_[static_cast<std::size_t>(t)];
    std::int64_t r = 0;
    for (; r + kLanes <= nrows; r += kLanes) {
      std::int32_t idx[kLanes];
      for (int j = 0; j < kLanes; ++j) idx[j] = root;
      const float* base = rows + r * row_stride;
      for (int d = 0; d < depth; ++d) {
        // Deep, unbalanced (loss-guided) trees: stop once every lane sits on a leaf.
        if (d >= 6 && (d & 1) == 0) {
          std::uint32_t all = PackedNode::kLeaf;
          for (int j = 0; j < kLanes; ++j) all &= nodes[idx[j]].meta;
          if (all) break;
        }
        for (int j = 0; j < kLanes; ++j) {
          const PackedNode& n = nodes[idx[j]];
          const float v = base[j * row_stride + (n.meta & PackedNode::kFeatureMask)];
          bool right;
          if constexpr (kSpecial) {
            right = GoRight(n, v);
          } else {
            const bool gt = v > n.threshold;
            const bool not_le = !(v <= n.threshold);
            right = (n.meta & PackedNode::kDefaultLeft) ? gt : not_le;
          }
          idx[j] = n.child[right];
        }
      }
      for (int j = 0; j < kLanes; ++j) out[(r + j) * K + k] += value[idx[j]];
    }
    for (; r < nrows; ++r) {
      const float* row = rows + r * row_stride;
      std::int32_t i = root;
      while (!(nodes[i].meta & PackedNode::kLeaf)) {
        const PackedNode& n = nodes[i];
        i = n.child[GoRight(n, row[n.meta & PackedNode::kFeatureMask])];
      }
      out[r * K + k] += value[i];
    }
  }
}

// Through the feature's BinIndex table; else a search that runs the same number of steps for
// every value of a feature (branch-free lower bound).
inline std::uint16_t Forest::QuantCode(std::int64_t f, float x) const {
  if (std::isnan(x)) return 0xFFFF;
  if (!qindex_.empty()) {
    return static_cast<std::uint16_t>(qindex_[static_cast<std::size_t>(f)].Lookup(x));
  }
  const float* a = qthr_.data() + qthr_begin_[static_cast<std::size_t>(f)];
  std::int64_t n = qthr_begin_[static_cast<std::size_t>(f) + 1] -
                   qthr_begin_[static_cast<std::size_t>(f)];
  if (n == 0) return 0;
  const float* base = a;
  while (n > 1) {
    const std::int64_t half = n / 2;
    base = base[half] < x ? base + half : base;
    n -= half;
  }
  return static_cast<std::uint16_t>((base - a) + (*base < x ? 1 : 0));
}

// Codes of a block of rows (see QuantNode), 2 * NumFeatures per row.
void Forest::QuantizeBlock(const float* rows, std::int64_t row_stride, std::int64_t nrows,
                           std::uint16_t* codes) const {
  const std::int64_t F = num_features_, W = 2 * F;
  for (std::int64_t f = 0; f < F; ++f) {
    for (std::int64_t r = 0; r < nrows; ++r) {
      const std::uint16_t code = QuantCode(f, rows[r * row_stride + f]);
      std::uint16_t* c = codes + r * W;
      c[f] = code;
      c[F + f] = code == 0xFFFF ? 0 : code;
    }
  }
}

void Forest::SuperRawBlock(const std::uint16_t* codes, std::int64_t nrows, int tree_begin,
                           int tree_end, double* out) const {
  const SuperNode* nodes = snodes_.data();
  const double* value = svalue_.data();
  const int K = num_outputs_;
  const std::int64_t W = 2 * static_cast<std::int64_t>(num_features_);
  // Rows walked in lock step through one tree. Measured here (Zen 3, the benchmark's 300 trees
  // of up to 63 leaves, leaf-wise, whose rows end at depth 4 on average but whose trees run
  // 14 deep): 4 lanes beat 2, 6 and 8 (more lanes walk to a deeper max; fewer leave the
  // loads' latency bare); checking "every lane on a leaf" before every step beats folding the
  // check into the step (which stops one step later); a second level
  // picked after the first (one code load waiting on another, 11 instead of 20 instructions a
  // step), 8-bit codes, and walks that restart on the next row as soon as theirs reaches a
  // leaf (scalar or AVX2; their bookkeeping costs more than the steps they save) all lost.
  constexpr int L = kSuperLanes;
  for (int t = tree_begin; t < tree_end; ++t) {
    const std::int32_t root = sroot_[static_cast<std::size_t>(t)];
    const int steps = (tree_depth_[static_cast<std::size_t>(t)] + 1) / 2;
    double* o = out + tree_output_[static_cast<std::size_t>(t)];
    // The caller pads the codes to a multiple of L rows (extra rows are all 0).
    for (std::int64_t r = 0; r < nrows; r += L) {
      std::int32_t idx[L];
      for (int j = 0; j < L; ++j) idx[j] = root;
      const std::uint16_t* base = codes + r * W;
      for (int s = 0; s < steps; ++s) {
        bool live = false;  // stop once every lane sits on a leaf
        for (int j = 0; j < L; ++j) live |= nodes[idx[j]].base != idx[j];
        if (!live) break;
        for (int j = 0; j < L; ++j) {
          const SuperNode& q = nodes[idx[j]];
          const std::uint16_t* row = base + j * W;
          const std::int32_t a = row[q.column[0]] > q.rank[0] ? 1 : 0;
          const std::int32_t b = row[q.column[1]] > q.rank[1] ? 1 : 0;
          const std::int32_t c = row[q.column[2]] > q.rank[2] ? 1 : 0;
          // a ? c : b by masks (a branch would mispredict).
          idx[j] = q.base + 2 * a + (b ^ ((b ^ c) & -a));
        }
      }
      const std::int64_t live = std::min<std::int64_t>(L, nrows - r);
      for (int j = 0; j < live; ++j) o[(r + j) * K] += value[idx[j]];
    }
  }
}

template <class T>
void Forest::PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                        int n_threads) const {
  CheckRange(*this, tree_begin, tree_end);
  CheckCols(*this, x);
  const int K = num_outputs_;
  if (x.rows < 2 * kLanes && SingleRowAvx2()) {
    // Few rows, rank-coded: each row's codes go to the stack (no allocation, nothing shared),
    // then the trees are walked 16 at a time (8 per AVX2 register).
    const std::int64_t F = num_features_;
    std::uint16_t codes[2 * 128 + 2];  // SingleRowAvx2: at most 128 features
    float values[128];
    for (std::int64_t r = 0; r < x.rows; ++r) {
      for (std::int64_t f = 0; f < F; ++f) values[f] = static_cast<float>(x.At(r, f));
      RowCodesAvx2(values, codes);
      codes[2 * F] = codes[2 * F + 1] = 0;
      simd::WalkTreesAvx2(qnodes32_.data(), qvalue_.data(), codes, qroot32_.data(),
                          tree_output_.data(), tree_begin, tree_end, max_depth_, out + r * K);
    }
    return;
  }
  if (x.rows < 2 * kLanes) {
    // Few rows: walk each row straight from the caller's buffer, on the calling thread,
    // without touching any buffer of our own. kLanes trees are walked in lock step (branch-free
    // descents interleaved, as the batch kernel interleaves rows).
    const PackedNode* nodes = nodes_.data();
    for (std::int64_t r = 0; r < x.rows; ++r) {
      const T* row = x.data + r * x.row_stride;
      double* o = out + r * K;
      int t = tree_begin;
      for (; t + kLanes <= tree_end; t += kLanes) {
        std::int32_t idx[kLanes];
        int depth = 0;
        for (int j = 0; j < kLanes; ++j) {
          idx[j] = tree_root_[static_cast<std::size_t>(t + j)];
          depth = std::max(depth, tree_depth_[static_cast<std::size_t>(t + j)]);
        }
        for (int d = 0; d < depth; ++d) {
          for (int j = 0; j < kLanes; ++j) {
            const PackedNode& n = nodes[idx[j]];
            const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
            idx[j] = n.child[GoRight(n, static_cast<float>(row[f * x.col_stride]))];
          }
        }
        for (int j = 0; j < kLanes; ++j) {
          o[tree_output_[static_cast<std::size_t>(t + j)]] += value_[static_cast<std::size_t>(idx[j])];
        }
      }
      for (; t < tree_end; ++t) {
        std::int32_t i = tree_root_[static_cast<std::size_t>(t)];
        while (!(nodes[i].meta & PackedNode::kLeaf)) {
          const PackedNode& n = nodes[i];
          const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
          i = n.child[GoRight(n, static_cast<float>(row[f * x.col_stride]))];
        }
        o[tree_output_[static_cast<std::size_t>(t)]] += value_[static_cast<std::size_t>(i)];
      }
    }
    return;
  }
  const std::int64_t rb = BlockRows(x.rows, n_threads);
  const std::int64_t nblocks = (x.rows + rb - 1) / rb;
  // Blocks are handed out dynamically: when another thread of the process (a scoring job's
  // reader or writer) shares a core with one of ours, the others take its share instead of
  // waiting for it at the end. Rows are independent, so the result does not change.
  ParallelForDynamic(0, nblocks, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * rb, nr = std::min(x.rows, r0 + rb) - r0;
    const bool bitvec = BatchBitvec();
    // float32 input of any layout is coded in place by the bit-vector path (8 rows of a
    // column are one load in Fortran order, one gather otherwise); anything else goes through
    // a row-major float block first.
    bool in_place = false;
    if constexpr (std::is_same_v<T, float>) {
      in_place = bitvec && bv_all_ && x.cols > 0 && GatherableStride(x.row_stride);
    }
    std::int64_t stride = 0;
    const float* rows = in_place ? nullptr : RowBlock(x, r0, nr, &stride);
    if (quantized_) {
      const std::int64_t W = 2 * static_cast<std::int64_t>(num_features_);
      const auto need = static_cast<std::size_t>(kRowBlock * W);
      thread_local std::vector<std::uint16_t> codes;
      if (!bitvec || !bv_all_) {
        // Padded to whole groups of lanes with zero codes.
        const std::int64_t padded = (nr + kSuperLanes - 1) / kSuperLanes * kSuperLanes;
        if (codes.size() < need) codes.resize(need);
        QuantizeBlock(rows, stride, nr, codes.data());
        std::fill(codes.data() + nr * W, codes.data() + padded * W, std::uint16_t{0});
      }
      if (!bitvec) {
        SuperRawBlock(codes.data(), nr, tree_begin, tree_end, out + r0 * K);
        return;
      }
      // Each feature's first value in the block.
      thread_local std::vector<const float*> first;
      first.resize(static_cast<std::size_t>(num_features_));
      for (std::int64_t f = 0; f < num_features_; ++f) {
        if (in_place) {
          if constexpr (std::is_same_v<T, float>) {
            first[static_cast<std::size_t>(f)] = x.data + r0 * x.row_stride + f * x.col_stride;
          }
        } else {
          first[static_cast<std::size_t>(f)] = rows + f;
        }
      }
      BitvecBlock(first.data(), in_place ? x.row_stride : stride, nr, tree_begin, tree_end,
                  codes.data(), out + r0 * K);
    } else if (has_special_) {
      RawBlock<true>(rows, stride, nr, tree_begin, tree_end, out + r0 * K);
    } else {
      RawBlock<false>(rows, stride, nr, tree_begin, tree_end, out + r0 * K);
    }
  });
}

// Blocks of kRowBlock rows; calls of 64 rows up to fewer than the threads would fill are cut
// into one block per thread (whole registers of 16 rows): measured here, batches of 100 rows
// on 2 threads took 188-202 against 285-308 us in one block.
std::int64_t Forest::BlockRows(std::int64_t rows, int n_threads) {
  if (n_threads > 1 && rows >= 64 && rows < n_threads * kRowBlock) {
    return std::max<std::int64_t>(16, ((rows + n_threads - 1) / n_threads + 15) / 16 * 16);
  }
  return kRowBlock;
}

void Forest::BitvecBlock(const float* const* first, std::int64_t row_stride, std::int64_t nr,
                         int tree_begin, int tree_end, const std::uint16_t* codes,
                         double* out) const {
  const int K = num_outputs_;
  thread_local std::vector<std::int16_t> columns;
  const auto need = static_cast<std::size_t>(kRowBlock * 2 * num_features_);
  // Rows past nr stay as they were (any codes): their sums are never stored.
  if (columns.size() < need) columns.resize(need);
  QuantizeColumnsAvx2(first, row_stride, nr, columns.data());
  for (int t = tree_begin; t < tree_end; ++t) {
    const BitvecTree& bt = bv_tree_[static_cast<std::size_t>(t)];
    if (bt.words > 0) {
      simd::ScoreBitvecAvx2(bt, bv_rec_.data(), bv_value_.data(), columns.data(), nr,
                            out + tree_output_[static_cast<std::size_t>(t)], K);
    } else {
      SuperRawBlock(codes, nr, t, t + 1, out);
    }
  }
}

bool Forest::ColumnsKernel() const { return BatchBitvec() && bv_all_; }

void Forest::PredictRawColumns(const float* const* columns, std::int64_t rows, int tree_begin,
                               int tree_end, double* out, int n_threads) const {
  CheckRange(*this, tree_begin, tree_end);
  if (!ColumnsKernel()) {
    throw ParameterError(
        "scoring from separate columns needs the bit-vector kernel (a CPU with AVX2, numeric "
        "splits, trees of at most 256 leaves); pass a matrix instead");
  }
  const int K = num_outputs_;
  const std::int64_t rb = BlockRows(rows, n_threads);
  const std::int64_t nblocks = (rows + rb - 1) / rb;
  ParallelForDynamic(0, nblocks, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * rb, nr = std::min(rows, r0 + rb) - r0;
    thread_local std::vector<const float*> first;
    first.resize(static_cast<std::size_t>(num_features_));
    for (std::size_t f = 0; f < first.size(); ++f) first[f] = columns[f] + r0;
    BitvecBlock(first.data(), 1, nr, tree_begin, tree_end, nullptr, out + r0 * K);
  });
}

template <class T>
void Forest::PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                         int n_threads) const {
  CheckRange(*this, tree_begin, tree_end);
  CheckCols(*this, x);
  const int nt = tree_end - tree_begin;
  const std::int64_t nblocks = (x.rows + kRowBlock - 1) / kRowBlock;
  ParallelForDynamic(0, nblocks, x.rows >= 2 * kRowBlock ? n_threads : 1, [&](std::int64_t b) {
    const std::int64_t r0 = b * kRowBlock, r1 = std::min(x.rows, r0 + kRowBlock);
    const PackedNode* nodes = nodes_.data();
    for (std::int64_t r = r0; r < r1; ++r) {
      for (int t = tree_begin; t < tree_end; ++t) {
        const std::int32_t root = tree_root_[static_cast<std::size_t>(t)];
        std::int32_t i = root;
        while (!(nodes[i].meta & PackedNode::kLeaf)) {
          const PackedNode& n = nodes[i];
          const auto f = static_cast<std::int64_t>(n.meta & PackedNode::kFeatureMask);
          i = n.child[GoRight(n, static_cast<float>(x.At(r, f)))];
        }
        out[r * nt + (t - tree_begin)] = i - root;
      }
    }
  });
}

template void Forest::PredictRaw<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictRaw<double>(const MatrixView<double>&, int, int, double*, int) const;
template void Forest::PredictLeaf<float>(const MatrixView<float>&, int, int, std::int32_t*, int) const;
template void Forest::PredictLeaf<double>(const MatrixView<double>&, int, int, std::int32_t*, int) const;

}  // namespace sapwood
