// Which kernel runs for which forest and call (kernels.hpp), and the row blocks and threads
// around it: Forest's predict entry points.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels.hpp"
#include "layout.hpp"
#include "sapwood/error.hpp"
#include "sapwood/forest.hpp"
#include "sapwood/threading.hpp"

namespace sapwood {

using namespace predict;  // NOLINT: this file is the predictor's front

KernelChoice ParseKernelChoice(const std::string& name) {
  if (name == "auto") return KernelChoice::kAuto;
  if (name == "bitvector-avx2") return KernelChoice::kBitvecAvx2;
  if (name == "bitvector-avx512") return KernelChoice::kBitvecAvx512;
  if (name == "lockstep-avx2") return KernelChoice::kLockstepAvx2;
  if (name == "super") return KernelChoice::kPortable;
  if (name == "oblivious-avx2") return KernelChoice::kObliviousAvx2;
  if (name == "oblivious-portable") return KernelChoice::kObliviousPortable;
  throw ParameterError(
      "kernel must be 'auto', 'lockstep-avx2', 'super', 'bitvector-avx2', 'bitvector-avx512', "
      "'oblivious-avx2' or 'oblivious-portable', "
      "got '" + name + "'");
}

const char* KernelChoiceName(KernelChoice k) {
  switch (k) {
    case KernelChoice::kBitvecAvx2: return "bitvector-avx2";
    case KernelChoice::kBitvecAvx512: return "bitvector-avx512";
    case KernelChoice::kLockstepAvx2: return "lockstep-avx2";
    case KernelChoice::kPortable: return "super";
    case KernelChoice::kObliviousAvx2: return "oblivious-avx2";
    case KernelChoice::kObliviousPortable: return "oblivious-portable";
    default: return "auto";
  }
}

Forest::Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output,
               int num_outputs, int num_features) {
  auto d = std::make_unique<ForestData>();
  d->tree_output = std::move(tree_output);
  d->num_outputs = num_outputs;
  d->num_features = num_features;
  BuildFloatTrees(trees, *d);
  BuildShapPaths(*d);
  BuildRankLayouts(*d);
  BuildObliviousTrees(trees, num_features, d->oblivious);
  data_ = std::move(d);
}

Forest::~Forest() = default;

int Forest::NumTrees() const { return data_->NumTrees(); }
int Forest::NumOutputs() const { return data_->num_outputs; }
int Forest::NumFeatures() const { return data_->num_features; }
bool Forest::HasSpecialSplits() const { return data_->has_special; }
int Forest::MaxDepth() const { return data_->max_depth; }

namespace {

// Which bit-vector kernel batches use for the trees that have its layout: none, the AVX2 bit
// vectors or the AVX-512 row masks (both on the codes of QuantizeColumnsAvx2).
enum class Batch { kWalk, kAvx2, kAvx512 };

Batch BatchBitvec(const ForestData& d, KernelChoice k) {
  if (!d.quantized || !d.bitvec.any || !CpuHasAvx2()) return Batch::kWalk;
  if ((k == KernelChoice::kAuto || k == KernelChoice::kBitvecAvx512) && CpuHasAvx512()) {
    return Batch::kAvx512;
  }
  if (k == KernelChoice::kAuto || k == KernelChoice::kBitvecAvx2 ||
      k == KernelChoice::kBitvecAvx512) {
    return Batch::kAvx2;
  }
  return Batch::kWalk;
}

// Whether few rows are walked by the AVX2 tree lock step (else the float walk).
// Measured here (Zen 3, 2 shared cores, the benchmark's 300 trees of 63 leaves grown
// leaf-wise): for single rows, 16 trees in lock step in two AVX2 registers beat the scalar
// float walk 2.4x and an AVX2 kernel that refilled finished walks 1.1-1.5x. For batches the
// bit-vector kernel (BitvecTree, trees of at most 256 leaves) beats every walk: 4.0-5.0 against
// 16-22 ns per row and tree for the scalar walk on two-level nodes (SuperWalkBlock; 4 rows in
// lock step), one thread, the benchmark's models. Those trees end at depth 4 on average but run
// 14 deep, and every walk step waits on the last; the bit-vector kernel tests every split of a
// tree for 16 rows per compare, with no load waiting on another. The two-level walk itself
// beat a binary lock step 1.15-1.2x end to end, and AVX2 walks (rows in lock step, or
// refilled), whose gathers cost ~9 cycles each (36 latency) here; those were removed.
bool SingleRowAvx2(const ForestData& d, KernelChoice k) {
  return k != KernelChoice::kPortable && d.quantized && d.num_features <= 128 &&
         !d.node32.nodes.empty() && CpuHasAvx2();
}

// Whether few rows take the AVX-512 QuickScorer (RowMaskTrees), where the forest has its
// layout (trees of at most 64 leaves, at most 64 features): measured here (Zen 4, 2 shared
// cores; one row of the LightGBM benchmark model's 300 trees of 63 leaves, forest.predict, CPU
// time per call in one process) 4.2-4.3 us against 5.4-5.6 us for the AVX2 tree lock step
// (1.1 us of either is the call and the row's codes).
// Where every feature has at most 255 thresholds (rowmask.ok8) and the CPU has VBMI, the splits
// are tested on byte codes, a whole tree of up to 64 leaves per permute and compare
// (RowMask8Avx512): one row through Booster.predict, medians of 4,000 calls, best of 3
// alternated processes at load 9.5, 3.91 -> 3.26 us (LightGBM model), 4.45 -> 3.70 us (XGBoost
// model), together with Scorer.predict's cheaper argument handling. Tried here and dropped
// (same models, same way): walks that take the next tree as soon as their own reaches a leaf
// (the rows end 4 levels down on average, in trees up to 23 deep), 64 walks in four AVX-512
// registers by gathers, 4.51 us against 3.58 us for the 16-bit QuickScorer (Zen 4's gathers are
// slow), or 16 scalar walks, 6.05 us; row codes by a scalar search (0.54 us more per call) or
// by the BinIndex tables (0.1-0.2 us more) instead of RowCodesAvx2.
bool SingleRowAvx512(const ForestData& d, KernelChoice k) {
  return (k == KernelChoice::kAuto || k == KernelChoice::kBitvecAvx512) && d.quantized &&
         d.rowmask.ok && CpuHasAvx2() && CpuHasAvx512();
}

// Whether the oblivious predictor scores (every tree symmetric, and the "auto" or an
// "oblivious-*" choice; the other choices name the general kernels, for comparison), and the
// best instruction set it may use (2 AVX-512, 1 AVX2, 0 portable).
bool UseOblivious(const ForestData& d, KernelChoice k) {
  return d.oblivious.ok && (k == KernelChoice::kAuto || k == KernelChoice::kObliviousAvx2 ||
                            k == KernelChoice::kObliviousPortable);
}
int ObliviousIsaCap(KernelChoice k) {
  return k == KernelChoice::kObliviousPortable ? 0 : k == KernelChoice::kObliviousAvx2 ? 1 : 2;
}

void CheckRange(const ForestData& d, int b, int e) {
  if (b < 0 || e > d.NumTrees() || b > e) {
    throw ParameterError("tree range [" + std::to_string(b) + ", " + std::to_string(e) +
                         ") out of bounds for a forest of " + std::to_string(d.NumTrees()) +
                         " trees");
  }
}

template <class T>
void CheckCols(const ForestData& d, const MatrixView<T>& x) {
  if (x.cols != d.num_features) {
    throw DataError("input has " + std::to_string(x.cols) + " features but the model expects " +
                    std::to_string(d.num_features));
  }
}

// Whether the AVX2 code search can gather 8 rows at this row stride (32-bit offsets).
inline bool GatherableStride(std::int64_t row_stride) {
  return row_stride < (std::int64_t{1} << 27) && row_stride > -(std::int64_t{1} << 27);
}

// Rows of the batch kernels: a block of rows as float32, row-major. Float32 C-ordered input is
// read in place; anything else is converted block by block into a buffer owned by the thread
// and reused across calls (fresh pages are slow to get here).
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

// Blocks of kRowBlock rows; calls of 64 rows up to fewer than the threads would fill are cut
// into one block per thread (whole registers of 16 rows): measured here, batches of 100 rows
// on 2 threads took 188-202 against 285-308 us in one block.
std::int64_t BlockRows(std::int64_t rows, int n_threads) {
  if (n_threads > 1 && rows >= 64 && rows < n_threads * kRowBlock) {
    return std::max<std::int64_t>(16, ((rows + n_threads - 1) / n_threads + 15) / 16 * 16);
  }
  return kRowBlock;
}

// A block of nr rows through the bit-vector trees of [tree_begin, tree_end) (values as for
// QuantizeColumnsAvx2); other trees walk SuperNodes on codes (row-major, QuantizeBlock),
// which may be null when every tree is a bit-vector tree. out: the block's first row.
void BitvecBlock(const ForestData& d, Batch kind, const float* const* first,
                 std::int64_t row_stride, std::int64_t nr, int tree_begin, int tree_end,
                 const std::uint16_t* codes, double* out) {
  const int K = d.num_outputs;
  thread_local std::vector<std::int16_t> columns;
  const auto need = static_cast<std::size_t>(kRowBlock * 2 * d.num_features);
  // Rows past nr stay as they were (any codes): their sums are never stored.
  if (columns.size() < need) columns.resize(need);
  if (kind == Batch::kAvx512) {
    QuantizeColumnsAvx512(d.codes, d.num_features, first, row_stride, nr, columns.data());
  } else {
    QuantizeColumnsAvx2(d.codes, d.num_features, first, row_stride, nr, columns.data());
  }
  const void* mask_codes = columns.data();
  if (kind == Batch::kAvx512 && d.bitvec.codes8) {
    thread_local std::vector<std::uint8_t> bytes;
    if (bytes.size() < need) bytes.resize(need);
    Codes8Avx512(columns.data(), 2 * d.num_features, bytes.data());
    mask_codes = bytes.data();
  }
  for (int t = tree_begin; t < tree_end; ++t) {
    const BitvecTree& bt = d.bitvec.tree[static_cast<std::size_t>(t)];
    if (K == 1 && kind == Batch::kAvx512 && bt.words > 0 && t + 1 < tree_end &&
        d.bitvec.tree[static_cast<std::size_t>(t) + 1].words > 0) {
      // One output: two trees walked side by side (ScoreMaskPairAvx512). Four side by side
      // were slower here (one thread, 1M rows, the benchmark's models, alternated processes at
      // load 1.1-1.3: 0.496-0.590 s with two against 0.600-0.624 s with four, LightGBM model).
      ScoreMaskPairAvx512(bt, d.bitvec.tree[static_cast<std::size_t>(t) + 1],
                          d.bitvec.split.data(), d.bitvec.value.data(), mask_codes,
                          d.bitvec.codes8, nr, out);
      ++t;
    } else if (bt.words > 0 && kind == Batch::kAvx512) {
      ScoreMaskAvx512(bt, d.bitvec.split.data(), d.bitvec.value.data(), mask_codes,
                      d.bitvec.codes8, nr, out + d.tree_output[static_cast<std::size_t>(t)], K);
    } else if (bt.words > 0) {
      ScoreBitvecAvx2(bt, d.bitvec.rec.data(), d.bitvec.value.data(), columns.data(), nr,
                      out + d.tree_output[static_cast<std::size_t>(t)], K);
    } else {
      SuperWalkBlock(d, codes, nr, t, t + 1, out);
    }
  }
}

}  // namespace

const char* Forest::Kernel() const {
  const ForestData& d = *data_;
  if (UseOblivious(d, GetKernel())) return ObliviousKernelName(ObliviousIsaCap(GetKernel()));
  if (!d.quantized) return d.has_special ? "float-special" : "float";
  switch (BatchBitvec(d, GetKernel())) {
    case Batch::kAvx512:
      return d.bitvec.all ? "quant-bitvector-avx512" : "quant-bitvector-avx512+super";
    case Batch::kAvx2:
      return d.bitvec.all ? "quant-bitvector-avx2" : "quant-bitvector-avx2+super";
    default: break;
  }
  return "quant-super";
}

const char* Forest::SingleRowKernel() const {
  const ForestData& d = *data_;
  if (UseOblivious(d, GetKernel())) return "oblivious";
  if (SingleRowAvx512(d, GetKernel())) return "quant-rowmask-avx512";
  if (SingleRowAvx2(d, GetKernel())) return "quant-lockstep-avx2";
  return d.has_special ? "float-special" : "float";
}

template <class T>
void Forest::PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                        int n_threads) const {
  const ForestData& d = *data_;
  CheckRange(d, tree_begin, tree_end);
  CheckCols(d, x);
  const KernelChoice choice = GetKernel();  // once per call
  const int K = d.num_outputs;
  if (UseOblivious(d, choice)) {
    PredictOblivious(d.oblivious, d.tree_output.data(), K, x, tree_begin, tree_end, out,
                     n_threads, ObliviousIsaCap(choice));
    return;
  }
  if (x.rows < 2 * kLanes && SingleRowAvx512(d, choice)) {
    // Few rows, AVX-512: codes on the stack as below, then every split of a tree at once.
    const std::int64_t F = d.num_features;
    alignas(64) std::uint16_t codes[128] = {};  // rowmask.ok: at most 64 features
    const bool bytes = d.rowmask.ok8 && CpuHasAvx512Vbmi();
    float values[64];
    for (std::int64_t r = 0; r < x.rows; ++r) {
      for (std::int64_t f = 0; f < F; ++f) values[f] = static_cast<float>(x.At(r, f));
      RowCodesAvx2(d.codes, d.num_features, values, codes);
      if (bytes) {
        RowMask8Avx512(d.rowmask, d.bitvec, codes, K, d.tree_output.data(), tree_begin, tree_end,
                       out + r * K);
      } else {
        RowMaskAvx512(d.rowmask, d.bitvec, codes, 2 * d.num_features, K, d.tree_output.data(),
                      tree_begin, tree_end, out + r * K);
      }
    }
    return;
  }
  if (x.rows < 2 * kLanes && SingleRowAvx2(d, choice)) {
    // Few rows, rank-coded: each row's codes go to the stack (no allocation, nothing shared),
    // then the trees are walked 16 at a time (8 per AVX2 register).
    const std::int64_t F = d.num_features;
    std::uint16_t codes[2 * 128 + 2];  // SingleRowAvx2: at most 128 features
    float values[128];
    for (std::int64_t r = 0; r < x.rows; ++r) {
      for (std::int64_t f = 0; f < F; ++f) values[f] = static_cast<float>(x.At(r, f));
      RowCodesAvx2(d.codes, d.num_features, values, codes);
      codes[2 * F] = codes[2 * F + 1] = 0;
      WalkTreesAvx2(d.node32.nodes.data(), d.quant.value.data(), codes, d.node32.root.data(),
                    d.tree_output.data(), tree_begin, tree_end, d.max_depth, out + r * K);
    }
    return;
  }
  if (x.rows < 2 * kLanes) {
    // Few rows: walk each row straight from the caller's buffer, on the calling thread,
    // without touching any buffer of our own. kLanes trees are walked in lock step (branch-free
    // descents interleaved, as the batch kernel interleaves rows).
    FloatWalkRows(d, x, tree_begin, tree_end, out);
    return;
  }
  const Batch kind = BatchBitvec(d, choice);
  const bool bitvec = kind != Batch::kWalk;
  if (n_threads > 1) n_threads = ResolveThreads(n_threads);  // blocks for the threads that run
  const std::int64_t rb = BlockRows(x.rows, n_threads);
  const std::int64_t nblocks = (x.rows + rb - 1) / rb;
  // Blocks are handed out dynamically: when another thread of the process (a scoring job's
  // reader or writer) shares a core with one of ours, the others take its share instead of
  // waiting for it at the end. Rows are independent, so the result does not change.
  ParallelForDynamic(0, nblocks, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * rb, nr = std::min(x.rows, r0 + rb) - r0;
    // float32 input of any layout is coded in place by the bit-vector path (8 rows of a
    // column are one load in Fortran order, one gather otherwise); anything else goes through
    // a row-major float block first.
    bool in_place = false;
    if constexpr (std::is_same_v<T, float>) {
      in_place = bitvec && d.bitvec.all && x.cols > 0 && GatherableStride(x.row_stride);
    }
    std::int64_t stride = 0;
    const float* rows = in_place ? nullptr : RowBlock(x, r0, nr, &stride);
    if (d.quantized) {
      const std::int64_t W = 2 * static_cast<std::int64_t>(d.num_features);
      const auto need = static_cast<std::size_t>(kRowBlock * W);
      thread_local std::vector<std::uint16_t> codes;
      if (!bitvec || !d.bitvec.all) {
        // Padded to whole groups of lanes with zero codes.
        const std::int64_t padded = (nr + kSuperLanes - 1) / kSuperLanes * kSuperLanes;
        if (codes.size() < need) codes.resize(need);
        QuantizeBlock(d, rows, stride, nr, codes.data());
        std::fill(codes.data() + nr * W, codes.data() + padded * W, std::uint16_t{0});
      }
      if (!bitvec) {
        SuperWalkBlock(d, codes.data(), nr, tree_begin, tree_end, out + r0 * K);
        return;
      }
      // Each feature's first value in the block.
      thread_local std::vector<const float*> first;
      first.resize(static_cast<std::size_t>(d.num_features));
      for (std::int64_t f = 0; f < d.num_features; ++f) {
        if (in_place) {
          if constexpr (std::is_same_v<T, float>) {
            first[static_cast<std::size_t>(f)] = x.data + r0 * x.row_stride + f * x.col_stride;
          }
        } else {
          first[static_cast<std::size_t>(f)] = rows + f;
        }
      }
      BitvecBlock(d, kind, first.data(), in_place ? x.row_stride : stride, nr, tree_begin, tree_end,
                  codes.data(), out + r0 * K);
    } else if (d.has_special) {
      FloatWalkBlock<true>(d, rows, stride, nr, tree_begin, tree_end, out + r0 * K);
    } else {
      FloatWalkBlock<false>(d, rows, stride, nr, tree_begin, tree_end, out + r0 * K);
    }
  });
}

bool Forest::ColumnsKernel() const {
  return BatchBitvec(*data_, GetKernel()) != Batch::kWalk && data_->bitvec.all;
}

void Forest::PredictRawColumns(const float* const* columns, std::int64_t rows, int tree_begin,
                               int tree_end, double* out, int n_threads) const {
  const ForestData& d = *data_;
  CheckRange(d, tree_begin, tree_end);
  if (!ColumnsKernel()) {
    throw ParameterError(
        "scoring from separate columns needs the bit-vector kernel (a CPU with AVX2, numeric "
        "splits, trees of at most 256 leaves); pass a matrix instead");
  }
  const int K = d.num_outputs;
  const Batch kind = BatchBitvec(d, GetKernel());
  if (n_threads > 1) n_threads = ResolveThreads(n_threads);
  const std::int64_t rb = BlockRows(rows, n_threads);
  const std::int64_t nblocks = (rows + rb - 1) / rb;
  ParallelForDynamic(0, nblocks, n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * rb, nr = std::min(rows, r0 + rb) - r0;
    thread_local std::vector<const float*> first;
    first.resize(static_cast<std::size_t>(d.num_features));
    for (std::size_t f = 0; f < first.size(); ++f) first[f] = columns[f] + r0;
    BitvecBlock(d, kind, first.data(), 1, nr, tree_begin, tree_end, nullptr, out + r0 * K);
  });
}

template <class T>
void Forest::PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                         int n_threads) const {
  const ForestData& d = *data_;
  CheckRange(d, tree_begin, tree_end);
  CheckCols(d, x);
  const std::int64_t nblocks = (x.rows + kRowBlock - 1) / kRowBlock;
  ParallelForDynamic(0, nblocks, x.rows >= 2 * kRowBlock ? n_threads : 1, [&](std::int64_t b) {
    const std::int64_t r0 = b * kRowBlock, r1 = std::min(x.rows, r0 + kRowBlock);
    LeafWalkRows(d, x, r0, r1, tree_begin, tree_end, out);
  });
}

template void Forest::PredictRaw<float>(const MatrixView<float>&, int, int, double*, int) const;
template void Forest::PredictRaw<double>(const MatrixView<double>&, int, int, double*, int) const;
template void Forest::PredictLeaf<float>(const MatrixView<float>&, int, int, std::int32_t*, int) const;
template void Forest::PredictLeaf<double>(const MatrixView<double>&, int, int, std::int32_t*, int) const;

}  // namespace sapwood
