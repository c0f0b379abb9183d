#pragma once
// The one split decision of sapwood's predictor: which way a float32 feature value goes at a
// packed internal node. Every walk on the CPU (the float kernels, leaf indices, TreeSHAP) and
// the CUDA kernel (cuda/predict.cu) call GoRight, so the two devices cannot disagree on NaN,
// zero-as-missing or categorical splits. The rank-coded kernels encode the same decision in
// their codes (see layout.hpp: NaN codes, ranks); tests compare every kernel to a Python walk.
//
// Plain C++ with no library calls on the device path, so that nvcc compiles it for both sides.
#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define SAPWOOD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SAPWOOD_HOST_DEVICE inline
#endif

namespace sapwood::predict {

// One node of a tree in its original order, 16 bytes (the CUDA kernel reads it as an int4).
// A leaf points to itself, so a walk can run a fixed number of levels without testing for it.
struct PackedNode {
  float threshold;        // numeric: go left when x <= threshold; categorical: bit-cast slot
  std::uint32_t meta;     // feature | kDefaultLeft | split type << kTypeShift | kLeaf
  std::int32_t child[2];  // packed indices of the left and right child (a leaf: itself)

  static constexpr std::uint32_t kFeatureMask = (1u << 24) - 1;
  static constexpr std::uint32_t kDefaultLeft = 1u << 24;
  static constexpr int kTypeShift = 25;
  static constexpr std::uint32_t kTypeMask = 3u << kTypeShift;
  static constexpr std::uint32_t kLeaf = 1u << 27;
};
static_assert(sizeof(PackedNode) == 16, "PackedNode must stay 16 bytes");

// Split types (PackedNode meta >> kTypeShift, Tree::split_type).
constexpr std::uint32_t kSplitNumeric = 0;
constexpr std::uint32_t kSplitZeroAsMissing = 1;  // LightGBM's missing_type=Zero
constexpr std::uint32_t kSplitCategorical = 2;

// LightGBM's kZeroThreshold: |x| <= this counts as zero (missing) in a zero-as-missing split.
constexpr float kZeroThreshold = 1e-35f;

// The category sets of categorical splits: slot s holds size[s] 32-bit words from bits[begin[s]].
struct CategorySets {
  const std::int32_t* begin;
  const std::int32_t* size;
  const std::uint32_t* bits;
};

// A numeric split, branch-free: for NaN both comparisons are false, so "v > t" sends NaN left
// (default left) and "!(v <= t)" sends it right; for any other value they agree.
SAPWOOD_HOST_DEVICE bool NumericGoRight(std::uint32_t meta, float threshold, float v) {
  const bool gt = v > threshold;
  const bool not_le = !(v <= threshold);
  return (meta & PackedNode::kDefaultLeft) ? gt : not_le;
}

SAPWOOD_HOST_DEVICE std::int32_t CategorySlot(float threshold) {
#ifdef __CUDA_ARCH__
  return __float_as_int(threshold);
#else
  std::int32_t slot;
  std::memcpy(&slot, &threshold, sizeof(slot));
  return slot;
#endif
}

// Zero-as-missing and categorical splits (meta's type is not numeric).
SAPWOOD_HOST_DEVICE bool SpecialGoRight(std::uint32_t meta, float threshold, float v,
                                        const CategorySets& cats) {
  const bool dl = (meta & PackedNode::kDefaultLeft) != 0;
  const std::uint32_t type = (meta & PackedNode::kTypeMask) >> PackedNode::kTypeShift;
  if (v != v) return !dl;  // NaN follows the default side
  if (type == kSplitZeroAsMissing) {
    if (v >= -kZeroThreshold && v <= kZeroThreshold) return !dl;
    return !(v <= threshold);
  }
  // Categorical: the category is the value truncated toward zero; negative categories and
  // categories past the bitset go right, as do categories not in the set.
  const std::int32_t slot = CategorySlot(threshold);
  const std::int32_t words = cats.size[slot];
  if (!(v > -1.0f) || !(v < static_cast<float>(words) * 32.0f)) return true;
  const auto c = static_cast<std::int32_t>(v);
  const std::uint32_t w = cats.bits[cats.begin[slot] + c / 32];
  return ((w >> (c % 32)) & 1u) == 0;
}

// The decision: true = go right.
SAPWOOD_HOST_DEVICE bool GoRight(std::uint32_t meta, float threshold, float v,
                                 const CategorySets& cats) {
  if (meta & PackedNode::kTypeMask) return SpecialGoRight(meta, threshold, v, cats);
  return NumericGoRight(meta, threshold, v);
}

}  // namespace sapwood::predict
