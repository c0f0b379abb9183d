#pragma once
// One regression tree as flat node arrays. Node 0 is the root; children always have larger
// indices than their parent, so a walk from the root always terminates.
#include <cstdint>
#include <vector>

namespace sapwood {

struct Tree {
  std::vector<std::int32_t> feature;        // split feature, -1 for a leaf
  std::vector<float> threshold;             // go left when value <= threshold (float32 compare)
  std::vector<std::int32_t> threshold_bin;  // the same test on bin codes: bin <= threshold_bin
  std::vector<std::uint8_t> default_left;   // where NaN goes
  std::vector<std::int32_t> left;
  std::vector<std::int32_t> right;
  std::vector<double> value;  // leaf output (internal nodes: the output they would have)
  std::vector<double> gain;   // split gain, 0 for leaves
  std::vector<double> hess;   // sum of hessians of the training rows reaching the node (cover)
  std::vector<std::int64_t> count;  // training rows reaching the node
  // Optional split kinds (empty = every split numeric; only imported models fill them):
  //   split_type[n] 0: numeric, go left when x <= threshold, NaN goes default_left;
  //                 1: numeric with zero-as-missing: NaN and |x| <= 1e-35 go default_left;
  //                 2: categorical: NaN goes default_left; otherwise left when x is a
  //                    non-negative integer category c (truncated) whose bit is set in
  //                    cat_bits[cat_begin[n] .. cat_begin[n] + cat_size[n]) (32 bits a word).
  std::vector<std::uint8_t> split_type;
  std::vector<std::int32_t> cat_begin;
  std::vector<std::int32_t> cat_size;
  std::vector<std::uint32_t> cat_bits;

  std::int32_t NumNodes() const { return static_cast<std::int32_t>(feature.size()); }
  bool IsLeaf(std::int32_t n) const { return feature[n] < 0; }
  std::int32_t NumLeaves() const {
    std::int32_t k = 0;
    for (auto f : feature) k += f < 0;
    return k;
  }
  std::int32_t AddLeaf(double v, double h, std::int64_t c) {
    feature.push_back(-1);
    threshold.push_back(0.0f);
    threshold_bin.push_back(0);
    default_left.push_back(0);
    left.push_back(-1);
    right.push_back(-1);
    value.push_back(v);
    gain.push_back(0.0);
    hess.push_back(h);
    count.push_back(c);
    return NumNodes() - 1;
  }
};

}  // namespace sapwood
