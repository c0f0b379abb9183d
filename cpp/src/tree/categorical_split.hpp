#pragma once
// Split search for categorical features (see categorical_split.cpp for the rules).
#include "sapwood/grower.hpp"

namespace sapwood {

// Best split of categorical feature f from its histogram: bins 0..num_cats-1 are the category
// codes, bin num_cats the other/missing bin. Invalid (gain < 0) when nothing is allowed.
SplitInfo FindBestCategoricalSplit(const HistBin* hb, int f, int num_cats,
                                   const HistBin& total_packed, CountPacking pack, double inv_g,
                                   double inv_h, const GrowParams& params);

}  // namespace sapwood
