#pragma once
// Best split of one node from its histogram: L1/L2-regularised gain, the minimum child
// size/weight constraints, and a learned direction for missing values.
#include <limits>
#include <vector>

#include "sapwood/grower.hpp"

namespace sapwood {

double ThresholdL1(double g, double alpha);
double LeafOutput(double g, double h, const GrowParams& p);

// lower / upper: the bounds of this node's children's outputs (monotone constraints; +-inf
// without). Outputs are unscaled (before the learning rate).
SplitInfo FindBestSplit(const HistBin* hist, const HistLayout& layout,
                        const std::vector<int>& features, const HistBin& total, CountPacking pack,
                        double scale_g, double scale_h, const GrowParams& params, int n_threads,
                        double lower = -std::numeric_limits<double>::infinity(),
                        double upper = std::numeric_limits<double>::infinity());

}  // namespace sapwood
