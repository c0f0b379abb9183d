#pragma once
// Best split of one node from its histogram: L1/L2-regularised gain, the minimum child
// size/weight constraints, and a learned direction for missing values.
#include <vector>

#include "sapwood/grower.hpp"

namespace sapwood {

double ThresholdL1(double g, double alpha);
double LeafOutput(double g, double h, const GrowParams& p);

SplitInfo FindBestSplit(const HistBin* hist, const HistLayout& layout,
                        const std::vector<int>& features, const HistBin& total, CountPacking pack,
                        double scale_g, double scale_h, const GrowParams& params, int n_threads);

}  // namespace sapwood
