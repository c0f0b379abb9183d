#pragma once
// The predictor: a read-only forest packed once per Booster and shared by all threads.
// Construction validates every index, so prediction never reads out of bounds, whatever
// arrays it was built from. The node layouts, kernels, kernel choice and TreeSHAP live in
// cpp/src/predict/ (layout, decision, kernels_scalar, kernels_avx2, dispatch, shap).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

namespace predict {
struct ForestData;
}  // namespace predict

// Which kernels a rank-coded forest runs (a setting of the forest, not of the process):
// kAuto (batches: the AVX-512 row-mask kernel, or where the CPU lacks AVX-512 the AVX2
// bit-vector kernel, for trees of at most 256 leaves, two-level nodes for the rest; few rows:
// the AVX-512 QuickScorer where the trees have at most 64 leaves, else the AVX2 tree lock
// step), kBitvecAvx512 (the same), kBitvecAvx2 (batches: the AVX2 bit-vector kernel; few rows:
// the AVX2 tree lock step), kLockstepAvx2 (batches: two-level nodes; few rows: the AVX2 tree lock
// step) or kPortable (no AVX2: batches walk two-level nodes, few rows the float walk). The SIMD
// kernels need the CPU's AVX2 (AVX-512) and the forest's layout; else the next one down runs.
enum class KernelChoice : int {
  kAuto = 0,
  kLockstepAvx2 = 1,
  kPortable = 2,
  kBitvecAvx2 = 3,
  kBitvecAvx512 = 4,
  // Forests whose every tree is oblivious (symmetric): "auto" scores them with the oblivious
  // predictor (predict/oblivious.hpp) on the best SIMD the CPU has; these two cap it (tests).
  kObliviousAvx2 = 5,
  kObliviousPortable = 6
};

// The choice for a name: "auto", "bitvector-avx512", "bitvector-avx2", "lockstep-avx2",
// "super" (kPortable), "oblivious-avx2", "oblivious-portable"; throws ParameterError for another name.
KernelChoice ParseKernelChoice(const std::string& name);
const char* KernelChoiceName(KernelChoice k);

class Forest {
 public:
  Forest(const std::vector<Tree>& trees, std::vector<std::int32_t> tree_output, int num_outputs,
         int num_features);
  ~Forest();
  Forest(const Forest&) = delete;
  Forest& operator=(const Forest&) = delete;

  int NumTrees() const;
  int NumOutputs() const;
  int NumFeatures() const;
  bool HasSpecialSplits() const;
  int MaxDepth() const;

  // The kernels this forest runs (see KernelChoice). Safe to change while other threads
  // predict: each call reads the choice once.
  void SetKernel(KernelChoice k) { kernel_.store(static_cast<int>(k), std::memory_order_relaxed); }
  KernelChoice GetKernel() const {
    return static_cast<KernelChoice>(kernel_.load(std::memory_order_relaxed));
  }
  // The batch kernel this forest runs on this machine: "quant-bitvector-avx512" (rank codes,
  // AVX-512 row masks) or "quant-bitvector-avx2" (rank codes, bit vectors; "+super" when some trees have more than 256 leaves and walk two-level
  // nodes), "quant-super" (rank codes, scalar, two levels per step), "float" or
  // "float-special" (categorical or zero-as-missing splits: float thresholds).
  // SingleRowKernel: the same for calls of fewer than 16 rows, where "quant-rowmask-avx512"
  // (rank codes, every split of a tree of at most 64 leaves at once, AVX-512),
  // "quant-lockstep-avx2" (rank codes, 32 trees in four AVX2 registers) or the float walk runs.
  const char* Kernel() const;
  const char* SingleRowKernel() const;

  // out (n x NumOutputs, row-major) += raw margins of trees [tree_begin, tree_end).
  template <class T>
  void PredictRaw(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                  int n_threads) const;
  // PredictRaw for float32 features held as separate columns (columns[f]: rows values, e.g.
  // Arrow buffers), read in place. Only where ColumnsKernel(); throws ParameterError otherwise.
  void PredictRawColumns(const float* const* columns, std::int64_t rows, int tree_begin,
                         int tree_end, double* out, int n_threads) const;
  // Whether PredictRawColumns runs here (the bit-vector kernel for every tree).
  bool ColumnsKernel() const;
  // out (n x (tree_end - tree_begin)) = the leaf node index (within its tree) reached per tree.
  template <class T>
  void PredictLeaf(const MatrixView<T>& x, int tree_begin, int tree_end, std::int32_t* out,
                   int n_threads) const;
  // out (n x NumOutputs x (NumFeatures + 1), row-major) += exact TreeSHAP contributions of
  // trees [tree_begin, tree_end); the last column of each output gets the trees' expected
  // values (the caller adds the init score there). Needs a positive cover (hess) at every
  // internal node; throws ModelFormatError naming the tree and node otherwise. Memory: per
  // thread, linear in the tree's depth times the distinct features on one path; a tree that
  // would need more than kMaxContribPathElems path elements is refused (ModelFormatError).
  template <class T>
  void PredictContrib(const MatrixView<T>& x, int tree_begin, int tree_end, double* out,
                      int n_threads) const;
  // 2^21 elements of 32 bytes: 64 MiB per thread.
  static constexpr std::int64_t kMaxContribPathElems = std::int64_t{1} << 21;

  // The packed layouts (cpp/src/predict/layout.hpp), for the kernels and the CUDA predictor.
  const predict::ForestData& Data() const { return *data_; }

 private:
  std::unique_ptr<const predict::ForestData> data_;
  std::atomic<int> kernel_{0};
};

}  // namespace sapwood
