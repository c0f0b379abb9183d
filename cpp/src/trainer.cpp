#include "sapwood/trainer.hpp"

#include <algorithm>
#include <cstdlib>
#include <cmath>

#include "sapwood/error.hpp"
#include "sapwood/random.hpp"
#include "sapwood/threading.hpp"
#include "tree/split_evaluator.hpp"
#include "tree/oblivious.hpp"

namespace sapwood {

namespace {
// std::llround (half away from zero) without the libm call per row (about 3% of a fit in the
// profile): the truncation is exact, and so is x - trunc(x) (for |x| >= 2^53 x is an integer
// and the fraction 0), so the result equals llround's bit for bit for |x| < 2^63; the fixed
// point scales keep |x| < 2^62.
inline std::int64_t LlroundExact(double x) {
  const std::int64_t i = static_cast<std::int64_t>(x);
  const double f = x - static_cast<double>(i);
  return i + (f >= 0.5 ? 1 : 0) - (f <= -0.5 ? 1 : 0);
}
// std::floor as an integer, branch-free (the rounding pass ran std::floor's inlined SSE2
// sequence and a double clamp with branches: 2.5x the time of the full-precision pass in the
// profile): truncation is exact and is one too high exactly when x < 0 is not an integer.
// Exact for |x| < 2^63 (the quantized levels are a few units).
inline std::int64_t FloorExact(double x) {
  const std::int64_t i = static_cast<std::int64_t>(x);
  return i - (x < static_cast<double>(i) ? 1 : 0);
}

// The rounding of rows [0, m) of one output with unit stride (one output, no 16-byte words):
// the common case, a plain loop the compiler vectorises. `first` is the global index of row
// 0. Same arithmetic as the general loop in Trainer::Quantize, so the same levels.
#define SAPWOOD_QUANTIZE_BODY                                                                   \
  for (std::int64_t r = 0; r < m; ++r) {                                                        \
    const std::uint64_t u = SplitMix64(key ^ static_cast<std::uint64_t>(first + r));            \
    const double ug = static_cast<double>(static_cast<std::int32_t>(u >> 40)) * kU24;           \
    const double uh = static_cast<double>(static_cast<std::int32_t>((u >> 16) & 0xFFFFFFu)) *   \
                      kU24;                                                                     \
    const std::int64_t gq = std::clamp(FloorExact(grad[r] * sg + ug), -gmax, gmax);             \
    const std::int64_t hq = std::clamp(FloorExact(hess[r] * sh + uh), std::int64_t{0}, levels); \
    qg[2 * r] = static_cast<std::int8_t>(gq);                                                   \
    qg[2 * r + 1] = static_cast<std::int8_t>(hq);                                               \
  }
constexpr double kU24 = 1.0 / 16777216.0;
static_assert(sizeof(QuantGrad) == 2, "QuantGrad is read as int8 pairs");
void QuantizeRowsPortable(const double* grad, const double* hess, std::int64_t m,
                          std::uint64_t key, std::uint64_t first, double sg, double sh,
                          std::int64_t gmax, std::int64_t levels, std::int8_t* qg) {
  SAPWOOD_QUANTIZE_BODY
}
// AVX-512 (64-bit multiplies and double/int64 conversions in vectors: the hash and the floors
// of 8 rows at once). fp-contract off: a fused multiply-add would round grad * sg + u once
// instead of twice and change the levels.
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"), optimize("fp-contract=off")))
void QuantizeRowsAvx512(const double* grad, const double* hess, std::int64_t m,
                        std::uint64_t key, std::uint64_t first, double sg, double sh,
                        std::int64_t gmax, std::int64_t levels, std::int8_t* qg) {
  SAPWOOD_QUANTIZE_BODY
}
#undef SAPWOOD_QUANTIZE_BODY
}  // namespace

Trainer::Trainer(std::shared_ptr<const BinnedMatrix> data, std::vector<double> labels,
                 std::vector<double> weights, const TrainParams& params)
    : data_(std::move(data)), labels_(std::move(labels)), weights_(std::move(weights)),
      params_(params), objective_(params.objective, params.num_class, params.objective_params) {
  const std::int64_t n = data_->NumRows();
  if (n == 0) throw DataError("training data has zero rows");
  if (n > 0xFFFFFFFFll) throw DataError("training data has more than 2^32 rows");
  if (static_cast<std::int64_t>(labels_.size()) != n) {
    throw DataError("label has " + std::to_string(labels_.size()) + " rows but data has " +
                    std::to_string(n));
  }
  if (!weights_.empty() && static_cast<std::int64_t>(weights_.size()) != n) {
    throw DataError("weight has " + std::to_string(weights_.size()) + " rows but data has " +
                    std::to_string(n));
  }
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (!std::isfinite(weights_[i]) || weights_[i] < 0) {
      throw DataError("weight at row " + std::to_string(i) + " is negative or not finite");
    }
  }
  if (params_.quantized && (params_.quant_bins < 2 || params_.quant_bins > 127)) {
    throw ParameterError("num_grad_quant_bins must be in [2, 127], got " +
                         std::to_string(params_.quant_bins));
  }
  objective_.CheckLabels(labels_.data(), n);

  const double* w = weights_.empty() ? nullptr : weights_.data();
  init_score_ = objective_.InitScore(labels_.data(), w, n);
  const int K = objective_.NumOutputs();
  scores_.resize(static_cast<std::size_t>(n) * K);
  for (std::int64_t i = 0; i < n; ++i)
    for (int k = 0; k < K; ++k) scores_[static_cast<std::size_t>(i * K + k)] = init_score_[k];
  grad_.resize(scores_.size());
  hess_.resize(scores_.size());
  gh_.resize(static_cast<std::size_t>(n));
  in_bag_.assign(static_cast<std::size_t>(n), 1);
  for (int f = 0; f < data_->NumFeatures(); ++f) {
    if (data_->Mapper().Feature(f).NumBins() > 2) {
      usable_features_.push_back(f);
    } else {
      // one numeric bin: splittable only when missing values are present in the data
      const int nan_bin = data_->Mapper().Feature(f).NanBin();
      bool has_nan = false;
      for (std::int64_t r = 0; r < n && !has_nan; ++r) has_nan = data_->BinAt(r, f) == nan_bin;
      if (has_nan) usable_features_.push_back(f);
    }
  }
  grower_ = std::make_unique<TreeGrower>(data_, params_.n_threads);
  if (params_.oblivious)
    oblivious_ = std::make_unique<ObliviousGrower>(*grower_, data_, params_.n_threads);
  if (params_.ordered) {
    if (!params_.oblivious)
      throw ParameterError("boosting_type='ordered' needs grow_policy='oblivious'");
    if (params_.subsample < 1.0)
      throw ParameterError("boosting_type='ordered' needs every row in every tree (subsample 1)");
    if (objective_.RenewsLeaves() || objective_.Kind() == ObjectiveKind::kCustom)
      throw ParameterError("boosting_type='ordered' needs a built-in Newton-step objective");
    ordered_scores_ = scores_;
    grad_plain_.resize(scores_.size());
    hess_plain_.resize(scores_.size());
    // One seeded permutation for the whole fit: rows ordered by a counter draw keyed by the
    // row (ties by row), so the same on any thread count.
    std::vector<std::pair<double, std::uint32_t>> key(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      key[static_cast<std::size_t>(i)] = {
          UniformCounter(params_.seed, 0x5000u, static_cast<std::uint64_t>(i)),
          static_cast<std::uint32_t>(i)};
    }
    std::sort(key.begin(), key.end());
    perm_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      perm_[static_cast<std::size_t>(i)] = key[static_cast<std::size_t>(i)].second;
  }
}

Trainer::~Trainer() = default;

void Trainer::SetScores(const double* scores, const std::vector<double>& init_score) {
  if (init_score.size() != init_score_.size()) {
    throw DataError("init_score needs " + std::to_string(init_score_.size()) + " value(s)");
  }
  init_score_ = init_score;
  std::copy(scores, scores + scores_.size(), scores_.begin());
  if (params_.ordered) ordered_scores_ = scores_;  // no ordered history before this fit
}

void Trainer::AddTreeScores(const Tree& tree, int k) {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  if (k < 0 || k >= K) throw DataError("tree output out of range");
  const int nf = data_->NumFeatures();
  for (std::int32_t i = 0; i < tree.NumNodes(); ++i) {
    if (!tree.IsLeaf(i) && (tree.feature[i] >= nf || tree.left[i] <= i || tree.right[i] <= i ||
                            tree.left[i] >= tree.NumNodes() || tree.right[i] >= tree.NumNodes())) {
      throw ModelFormatError("a tree of the initial model does not fit the training data");
    }
  }
  // Rows own their score: each is written by one thread, whatever the thread count.
  ParallelFor(0, (n + 8191) / 8192, params_.n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * 8192, r1 = std::min(n, r0 + 8192);
    for (std::int64_t r = r0; r < r1; ++r) {
      const double v = tree.value[static_cast<std::size_t>(grower_->LeafOfRow(tree, r))];
      scores_[static_cast<std::size_t>(r * K + k)] += v;
      if (params_.ordered) ordered_scores_[static_cast<std::size_t>(r * K + k)] += v;
    }
  });
}

void Trainer::RenewLeaves(Tree& tree, int k) {
  const int K = objective_.NumOutputs();
  const std::uint32_t* prow = grower_->PartitionedRows();
  const auto& ranges = grower_->LeafRanges();
  const bool weighted = !weights_.empty();
  const bool huber = objective_.Kind() == ObjectiveKind::kHuber;
  const double lr = params_.grow.learning_rate;
  // Each leaf's value depends only on the multiset of its rows' (residual, weight) pairs
  // (LeafValue selects and sums them order-free), so the work may be split and ordered in any
  // way on any number of threads. A leaf's residuals go to its own slice of one buffer (its
  // rows' positions in the partition), reused across trees: no allocation or first touch per
  // leaf.
  const std::size_t n_pos = static_cast<std::size_t>(data_->NumRows());
  if (renew_r_.size() != n_pos) renew_r_.resize(n_pos);
  if (weighted && renew_w_.size() != n_pos) renew_w_.resize(n_pos);
  const std::size_t n_leaves = ranges.size();
  // 1. The residuals, gathered in pieces of at most kPiece positions inside one leaf, so the
  // gather is shared evenly by the threads even when one leaf holds most rows (on diamonds
  // one leaf often holds 70% of them). Huber also takes each piece's least and greatest
  // residual in the same pass (exact, so their reduction below is order-free).
  constexpr std::int64_t kPiece = 8192;
  struct Piece {
    std::int64_t begin, end;
    double lo, hi;
  };
  std::vector<Piece> pieces;
  std::vector<std::size_t> first_piece(n_leaves + 1);
  for (std::size_t li = 0; li < n_leaves; ++li) {
    first_piece[li] = pieces.size();
    for (std::int64_t b = ranges[li].begin; b < ranges[li].end; b += kPiece)
      pieces.push_back({b, std::min(ranges[li].end, b + kPiece), 0.0, 0.0});
  }
  first_piece[n_leaves] = pieces.size();
  ParallelFor(0, static_cast<std::int64_t>(pieces.size()), params_.n_threads,
              [&](std::int64_t pi) {
    Piece& pc = pieces[static_cast<std::size_t>(pi)];
    double* r = renew_r_.data();
    for (std::int64_t i = pc.begin; i < pc.end; ++i) {
      const std::size_t row = prow[i];
      r[i] = labels_[row] - scores_[row * K + k];
    }
    if (weighted) {
      for (std::int64_t i = pc.begin; i < pc.end; ++i) renew_w_[i] = weights_[prow[i]];
    }
    if (huber) {
      // four independent minima and maxima: one chain would wait on each min's latency
      const double r0 = r[pc.begin];
      double l4[4] = {r0, r0, r0, r0}, h4[4] = {r0, r0, r0, r0};
      std::int64_t i = pc.begin;
      for (; i + 4 <= pc.end; i += 4) {
        for (int j = 0; j < 4; ++j) {
          l4[j] = std::min(l4[j], r[i + j]);
          h4[j] = std::max(h4[j], r[i + j]);
        }
      }
      for (; i < pc.end; ++i) {
        l4[0] = std::min(l4[0], r[i]);
        h4[0] = std::max(h4[0], r[i]);
      }
      pc.lo = std::min(std::min(l4[0], l4[1]), std::min(l4[2], l4[3]));
      pc.hi = std::max(std::max(h4[0], h4[1]), std::max(h4[2], h4[3]));
    }
  });
  // 2. The leaf values, largest leaf first: on two threads the largest starts at once and the
  // other thread takes the rest, instead of the largest coming last and running alone.
  std::vector<std::size_t> order(n_leaves);
  for (std::size_t li = 0; li < n_leaves; ++li) order[li] = li;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return ranges[a].end - ranges[a].begin > ranges[b].end - ranges[b].begin;
  });
  ParallelForDynamic(0, static_cast<std::int64_t>(n_leaves), params_.n_threads,
                     [&](std::int64_t oi) {
    const std::size_t li = order[static_cast<std::size_t>(oi)];
    const auto& lr_ = ranges[li];
    const std::int64_t m = lr_.end - lr_.begin;
    if (m <= 0) return;
    double* r = renew_r_.data() + lr_.begin;
    double* w = weighted ? renew_w_.data() + lr_.begin : nullptr;
    double v;
    if (huber) {
      double lo = pieces[first_piece[li]].lo, hi = pieces[first_piece[li]].hi;
      for (std::size_t pi = first_piece[li] + 1; pi < first_piece[li + 1]; ++pi) {
        lo = std::min(lo, pieces[pi].lo);
        hi = std::max(hi, pieces[pi].hi);
      }
      v = objective_.HuberLeafValue(r, w, m, lo, hi);
    } else {
      v = objective_.LeafValue(r, w, m, k);
    }
    tree.value[static_cast<std::size_t>(lr_.node)] = v * lr;
  });
}

void Trainer::SetGradients(const double* g, const double* h) {
  const std::size_t m = grad_.size();
  for (std::size_t i = 0; i < m; ++i) {
    if (!std::isfinite(g[i]) || !std::isfinite(h[i]) || h[i] < 0) {
      // The first bad value in row-major (row, output) order: its row, output and round.
      const std::size_t K = static_cast<std::size_t>(objective_.NumOutputs());
      throw DataError("the custom objective returned " +
                      std::string(!std::isfinite(g[i]) ? "a non-finite gradient"
                                  : !std::isfinite(h[i]) ? "a non-finite hessian"
                                                         : "a negative hessian") +
                      " at row " + std::to_string(i / K) +
                      (K > 1 ? ", output " + std::to_string(i % K) : std::string()) +
                      ", in round " + std::to_string(iteration_) + " (counting from 0)");
    }
  }
  std::copy(g, g + m, grad_.begin());
  std::copy(h, h + m, hess_.begin());
  gradients_given_ = true;
}

void Trainer::SetRowSegments(std::vector<std::pair<std::int64_t, std::int64_t>> segments) {
  if (segments.empty() || segments[0].first != 0) {
    throw DataError("row segments must start at local row 0");
  }
  for (std::size_t i = 1; i < segments.size(); ++i) {
    if (segments[i].first <= segments[i - 1].first) {
      throw DataError("row segments must be ascending");
    }
  }
  segments_ = std::move(segments);
  SyncQueryRows();
}

void Trainer::SyncQueryRows() {
  if (groups_.empty() || (segments_.size() == 1 && segments_[0].second == 0)) return;
  std::vector<std::int64_t> first(groups_.size() - 1);
  std::size_t s = 0;
  for (std::size_t q = 0; q + 1 < groups_.size(); ++q) {
    const std::int64_t b = groups_[q];
    while (s + 1 < segments_.size() && segments_[s + 1].first <= b) ++s;
    const std::int64_t end = s + 1 < segments_.size() ? segments_[s + 1].first
                                                       : data_->NumRows();
    if (groups_[q + 1] > end) {
      throw DataError("query " + std::to_string(q) + " spans two partitions");
    }
    first[q] = segments_[s].second + (b - segments_[s].first);
  }
  objective_.SetQueryRows(std::move(first));
}

Trainer::RoundStats Trainer::BeginRound() {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  const int T = params_.n_threads;
  const double* w = weights_.empty() ? nullptr : weights_.data();
  if (objective_.Kind() == ObjectiveKind::kCustom && elementwise_ != nullptr) {
    // A per-row function of one label and one score: one output only (SetElementwise checks).
    if (K != 1) throw ParameterError("a compiled custom objective has one output");
    // Rows own their outputs: the same values on any thread count.
    const ElementwiseFn fn = elementwise_;
    std::vector<std::int64_t> bad(static_cast<std::size_t>((n + 8191) / 8192), -1);
    ParallelFor(0, (n + 8191) / 8192, T, [&](std::int64_t b) {
      const std::int64_t r0 = b * 8192, r1 = std::min(n, r0 + 8192);
      for (std::int64_t r = r0; r < r1; ++r) {
        double g = 0, h = 0;
        fn(labels_[static_cast<std::size_t>(r)], scores_[static_cast<std::size_t>(r)], &g, &h);
        if (w != nullptr) {
          g *= w[r];
          h *= w[r];
        }
        if ((!std::isfinite(g) || !std::isfinite(h) || h < 0) && bad[static_cast<std::size_t>(b)] < 0)
          bad[static_cast<std::size_t>(b)] = r;
        grad_[static_cast<std::size_t>(r)] = g;
        hess_[static_cast<std::size_t>(r)] = h;
      }
    });
    for (std::int64_t r : bad) {
      if (r >= 0) {
        const std::size_t i = static_cast<std::size_t>(r);
        throw DataError("the compiled custom objective returned " +
                        std::string(!std::isfinite(grad_[i]) ? "a non-finite gradient"
                                    : !std::isfinite(hess_[i]) ? "a non-finite hessian"
                                                               : "a negative hessian") +
                        " at row " + std::to_string(r) + ", in round " +
                        std::to_string(iteration_) + " (counting from 0)");
      }
    }
  } else if (objective_.Kind() == ObjectiveKind::kCustom) {
    if (!gradients_given_) {
      throw ParameterError("the custom objective needs this round's gradients first");
    }
    gradients_given_ = false;
  } else if (params_.ordered) {
    // the structure's gradients at the ordered scores; the leaf values' at the plain ones
    objective_.Gradients(ordered_scores_.data(), labels_.data(), w, n, grad_.data(),
                         hess_.data(), T);
    objective_.Gradients(scores_.data(), labels_.data(), w, n, grad_plain_.data(),
                         hess_plain_.data(), T);
  } else {
    objective_.Gradients(scores_.data(), labels_.data(), w, n, grad_.data(), hess_.data(), T);
  }

  // Row subsample for this round: a counter-based draw per (global) row. Without subsampling
  // the row list (all rows) is built once and reused.
  if (params_.subsample < 1.0) {
    all_rows_.clear();
    for (std::size_t sgi = 0; sgi < segments_.size(); ++sgi) {
      const std::int64_t lo = segments_[sgi].first;
      const std::int64_t hi = sgi + 1 < segments_.size() ? segments_[sgi + 1].first : n;
      const std::int64_t g0 = segments_[sgi].second;
      for (std::int64_t i = lo; i < hi; ++i) {
        const bool keep =
            UniformCounter(params_.seed, 0x1000u + static_cast<std::uint64_t>(iteration_),
                           static_cast<std::uint64_t>(g0 + (i - lo))) < params_.subsample;
        in_bag_[static_cast<std::size_t>(i)] = keep ? 1 : 0;
        if (keep) all_rows_.push_back(static_cast<std::uint32_t>(i));
      }
    }
    // An empty draw keeps global row 0 (single machine: local row 0), so the tree has a root.
    if (all_rows_.empty() && segments_.size() == 1 && segments_[0].second == 0) {
      all_rows_.push_back(0);
      in_bag_[0] = 1;
    }
  } else if (static_cast<std::int64_t>(all_rows_.size()) != n) {
    all_rows_.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) all_rows_[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(i);
  }
  const std::vector<std::uint32_t>& rows = all_rows_;

  // max |g| and |h| over the bag per output: a parallel max (order-free, so thread-count
  // independent)
  stats_.max_g.assign(static_cast<std::size_t>(K), 0.0);
  stats_.max_h.assign(static_cast<std::size_t>(K), 0.0);
  stats_.rows = static_cast<std::int64_t>(rows.size());
  const std::int64_t nb = stats_.rows;
  const std::int64_t n_chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(64, nb / 16384));
  for (int k = 0; k < K; ++k) {
    std::vector<double> cmax_g(static_cast<std::size_t>(n_chunks), 0.0);
    std::vector<double> cmax_h(static_cast<std::size_t>(n_chunks), 0.0);
    ParallelFor(0, n_chunks, T, [&](std::int64_t c) {
      double mg = 0, mh = 0;
      for (std::int64_t i = nb * c / n_chunks; i < nb * (c + 1) / n_chunks; ++i) {
        const std::size_t r = rows[static_cast<std::size_t>(i)];
        mg = std::max(mg, std::fabs(grad_[r * K + k]));
        mh = std::max(mh, std::fabs(hess_[r * K + k]));
      }
      cmax_g[static_cast<std::size_t>(c)] = mg;
      cmax_h[static_cast<std::size_t>(c)] = mh;
    });
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      stats_.max_g[static_cast<std::size_t>(k)] =
          std::max(stats_.max_g[static_cast<std::size_t>(k)], cmax_g[static_cast<std::size_t>(c)]);
      stats_.max_h[static_cast<std::size_t>(k)] =
          std::max(stats_.max_h[static_cast<std::size_t>(k)], cmax_h[static_cast<std::size_t>(c)]);
    }
  }
  return stats_;
}

void Trainer::BeginTree(int k, const FixedPoint& fp) {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  if (k < 0 || k >= K) throw DataError("tree output out of range");
  const double sg = fp.scale_g, sh = fp.scale_h;
  const int bits = fp.pack.bits;
  if (params_.quantized) {
    Quantize(k, fp);
    grower_->Rows().Start(gh_.data(), all_rows_, q_.data(), params_.quant_bins, bits);
    return;
  }
  ParallelFor(0, (n + 8191) / 8192, params_.n_threads, [&](std::int64_t b) {
    const std::int64_t r0 = b * 8192, r1 = std::min(n, r0 + 8192);
    for (std::int64_t r = r0; r < r1; ++r) {
      gh_[static_cast<std::size_t>(r)].g =
          LlroundExact(grad_[static_cast<std::size_t>(r * K + k)] * sg);
      const std::int64_t hq = LlroundExact(hess_[static_cast<std::size_t>(r * K + k)] * sh);
      gh_[static_cast<std::size_t>(r)].hc = (hq << bits) | 1;
    }
  });
  grower_->Rows().Start(gh_.data(), all_rows_);
}


void Trainer::Quantize(int k, const FixedPoint& fp) {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  const double sg = fp.scale_g, sh = fp.scale_h;
  const int bits = fp.pack.bits;
  const int levels = params_.quant_bins;
  const std::int64_t gmax = (levels + 1) / 2;
  q_.resize(static_cast<std::size_t>(n));
  // Stochastic rounding: floor(x + u), u uniform in [0, 1), so the expected level is x. u comes
  // from a counter-based hash of (seed, round, output, global row): the same levels whatever
  // the thread count or the partitioning of rows over workers.
  const std::uint64_t stream =
      HashCounter(0x5155414eu, static_cast<std::uint64_t>(iteration_), static_cast<std::uint64_t>(k));
  // HashCounter(seed, stream, row) with its first two rounds done once: one mix per row.
  const std::uint64_t key = SplitMix64(SplitMix64(params_.seed) ^ stream);
  // The 16-byte words are read only for nodes too large for 8-byte bins (BuildQuantized falls
  // back to them); the root's sums come from q (LocalRows::Root). Skipping them saves 16 bytes
  // written per row and tree.
  const bool wide = QuantizedBinBytes(n, levels) == 16;
  for (std::size_t sgi = 0; sgi < segments_.size(); ++sgi) {
    const std::int64_t lo = segments_[sgi].first;
    const std::int64_t hi = sgi + 1 < segments_.size() ? segments_[sgi + 1].first : n;
    const std::int64_t g0 = segments_[sgi].second;
    // dynamic: rows are independent; a descheduled thread holds back one block
    ParallelForDynamic(0, (hi - lo + 8191) / 8192, params_.n_threads, [&](std::int64_t b) {
      const std::int64_t r0 = lo + b * 8192, r1 = std::min(hi, r0 + 8192);
      if (K == 1 && !wide) {
        // (SAPWOOD_NO_AVX512 set: the portable loop, so that tests on an AVX-512 machine can
        // check that both loops give the same levels)
        static const bool avx512 = std::getenv("SAPWOOD_NO_AVX512") == nullptr &&
                                   __builtin_cpu_supports("avx512f") &&
                                   __builtin_cpu_supports("avx512dq") &&
                                   __builtin_cpu_supports("avx512vl") &&
                                   __builtin_cpu_supports("avx512bw");
        std::int8_t* qg = reinterpret_cast<std::int8_t*>(q_.data() + r0);
        const std::uint64_t first = static_cast<std::uint64_t>(g0 + (r0 - lo));
        (avx512 ? QuantizeRowsAvx512 : QuantizeRowsPortable)(
            grad_.data() + r0, hess_.data() + r0, r1 - r0, key, first, sg, sh, gmax, levels, qg);
        return;
      }
      for (std::int64_t r = r0; r < r1; ++r) {
        const std::uint64_t u = SplitMix64(key ^ static_cast<std::uint64_t>(g0 + (r - lo)));
        const double ug = static_cast<double>(u >> 40) * kU24;
        const double uh = static_cast<double>((u >> 16) & 0xFFFFFFu) * kU24;
        const std::size_t i = static_cast<std::size_t>(r * K + k);
        const std::int64_t gq =
            std::clamp(FloorExact(grad_[i] * sg + ug), -gmax, gmax);
        const std::int64_t hq = std::clamp(FloorExact(hess_[i] * sh + uh), std::int64_t{0},
                                           static_cast<std::int64_t>(levels));
        QuantGrad& q = q_[static_cast<std::size_t>(r)];
        q.g = static_cast<std::int8_t>(gq);
        q.h = static_cast<std::int8_t>(hq);
        if (wide) {
          gh_[static_cast<std::size_t>(r)].g = gq;
          gh_[static_cast<std::size_t>(r)].hc = (hq << bits) | 1;
        }
      }
    });
  }
}

void Trainer::NodeGradSums(const Tree& tree, int k, const double* grad, const double* hess,
                           const FixedPoint& fp, std::vector<double>* g_out,
                           std::vector<double>* h_out) const {
  const int K = objective_.NumOutputs();
  const std::uint32_t* prow = grower_->PartitionedRows();
  const auto& ranges = grower_->LeafRanges();
  const std::size_t nn = static_cast<std::size_t>(tree.NumNodes());
  std::vector<std::int64_t> sum_g(nn, 0), sum_h(nn, 0);
  const std::int64_t n = data_->NumRows();
  const std::size_t n_leaves = ranges.size();
  if (n_leaves < 0xFFFF) {
    // Rows in row order: gathering grad and hess through the partition cost two cache misses
    // per row on large tables (80% of this pass in the profile, 10% of a quantized fit on 800k
    // rows); instead each row's leaf (2 bytes, an array that fits L2) is scattered from the
    // partition and grad and hess are read sequentially. The sums are exact integers, so they
    // are the same in any order and on any thread count.
    if (leaf_of_.size() != static_cast<std::size_t>(n)) leaf_of_.resize(static_cast<std::size_t>(n));
    std::int64_t covered = 0;
    for (const auto& lr : ranges) covered += lr.end - lr.begin;
    constexpr std::uint16_t kNone = 0xFFFF;  // a row outside every leaf (out of bag)
    if (covered != n) std::fill(leaf_of_.begin(), leaf_of_.end(), kNone);
    ParallelForDynamic(0, static_cast<std::int64_t>(n_leaves), params_.n_threads,
                       [&](std::int64_t li) {
      const auto& lr = ranges[static_cast<std::size_t>(li)];
      for (std::int64_t i = lr.begin; i < lr.end; ++i)
        leaf_of_[prow[i]] = static_cast<std::uint16_t>(li);
    });
    constexpr std::int64_t kBlock = 16384;
    const std::int64_t n_blocks = (n + kBlock - 1) / kBlock;
    // per block: the leaves' sums (g, h), added up after the pass
    std::vector<std::int64_t> part(static_cast<std::size_t>(n_blocks) * 2 * n_leaves, 0);
    ParallelForDynamic(0, n_blocks, params_.n_threads, [&](std::int64_t b) {
      std::int64_t* s = part.data() + static_cast<std::size_t>(b) * 2 * n_leaves;
      const std::int64_t r1 = std::min(n, (b + 1) * kBlock);
      for (std::int64_t r = b * kBlock; r < r1; ++r) {
        const std::uint16_t li = leaf_of_[static_cast<std::size_t>(r)];
        if (li == kNone) continue;
        const std::size_t idx = static_cast<std::size_t>(r) * K + k;
        s[2 * li] += LlroundExact(grad[idx] * fp.scale_g);
        s[2 * li + 1] += LlroundExact(hess[idx] * fp.scale_h);
      }
    });
    for (std::int64_t b = 0; b < n_blocks; ++b) {
      const std::int64_t* s = part.data() + static_cast<std::size_t>(b) * 2 * n_leaves;
      for (std::size_t li = 0; li < n_leaves; ++li) {
        const std::size_t node = static_cast<std::size_t>(ranges[li].node);
        sum_g[node] += s[2 * li];
        sum_h[node] += s[2 * li + 1];
      }
    }
  } else {
    // Leaves own disjoint rows and nodes; integer sums: the same on any thread count.
    ParallelForDynamic(0, static_cast<std::int64_t>(n_leaves), params_.n_threads,
                       [&](std::int64_t li) {
      const auto& lr = ranges[static_cast<std::size_t>(li)];
      std::int64_t g = 0, h = 0;
      for (std::int64_t i = lr.begin; i < lr.end; ++i) {
        const std::size_t idx = static_cast<std::size_t>(prow[i]) * K + k;
        g += LlroundExact(grad[idx] * fp.scale_g);
        h += LlroundExact(hess[idx] * fp.scale_h);
      }
      sum_g[static_cast<std::size_t>(lr.node)] = g;
      sum_h[static_cast<std::size_t>(lr.node)] = h;
    });
  }
  // Children come after their parent in node order: sum bottom-up.
  for (std::int32_t node = tree.NumNodes() - 1; node >= 0; --node) {
    if (tree.IsLeaf(node)) continue;
    const std::size_t i = static_cast<std::size_t>(node);
    sum_g[i] = sum_g[static_cast<std::size_t>(tree.left[i])] +
               sum_g[static_cast<std::size_t>(tree.right[i])];
    sum_h[i] = sum_h[static_cast<std::size_t>(tree.left[i])] +
               sum_h[static_cast<std::size_t>(tree.right[i])];
  }
  const double inv_g = 1.0 / fp.scale_g, inv_h = 1.0 / fp.scale_h;
  g_out->resize(nn);
  h_out->resize(nn);
  for (std::size_t i = 0; i < nn; ++i) {
    (*g_out)[i] = static_cast<double>(sum_g[i]) * inv_g;
    (*h_out)[i] = static_cast<double>(sum_h[i]) * inv_h;
  }
}

void Trainer::RenewQuantized(Tree& tree, int k, const FixedPoint& full) {
  std::vector<double> g, h;
  NodeGradSums(tree, k, grad_.data(), hess_.data(), full, &g, &h);
  for (std::size_t i = 0; i < g.size(); ++i) {
    tree.value[i] = LeafOutput(g[i], h[i], params_.grow) * params_.grow.learning_rate;
    tree.hess[i] = h[i];
  }
}

void Trainer::OrderedTree(Tree& tree, int k) {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  const GrowParams& gp = params_.grow;
  const double lr = gp.learning_rate;
  const std::uint32_t* prow = grower_->PartitionedRows();
  const auto& ranges = grower_->LeafRanges();
  const std::vector<std::int32_t>& vnode = oblivious_->ValueNodes();
  const std::size_t nodes = static_cast<std::size_t>(tree.NumNodes());
  // The plain gradients' sums per node, in a fixed point chosen from their maxima: exact
  // integers, so the values do not depend on the order rows are summed in.
  double max_g = 0, max_h = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    max_g = std::max(max_g, std::fabs(grad_plain_[static_cast<std::size_t>(r * K + k)]));
    max_h = std::max(max_h, std::fabs(hess_plain_[static_cast<std::size_t>(r * K + k)]));
  }
  std::vector<double> gs, hs;
  NodeGradSums(tree, k, grad_plain_.data(), hess_plain_.data(),
               ChooseFixedPoint(max_g, max_h, n), &gs, &hs);
  std::vector<double> value(nodes);
  for (std::size_t x = 0; x < nodes; ++x) value[x] = LeafOutput(gs[x], hs[x], gp) * lr;
  for (std::size_t x = 0; x < nodes; ++x) tree.value[x] = value[static_cast<std::size_t>(vnode[x])];
  // The ordered scores: rows in permutation order, each moved by its leaf's Newton step over
  // the rows before it (their structure gradients), then added to those sums. One pass, in a
  // fixed order: the same on any thread count.
  std::vector<std::int32_t> leaf_of(static_cast<std::size_t>(n), -1);
  for (const auto& lr_ : ranges)
    for (std::int64_t i = lr_.begin; i < lr_.end; ++i)
      leaf_of[prow[i]] = vnode[static_cast<std::size_t>(lr_.node)];
  std::vector<double> pg(nodes, 0.0), ph(nodes, 0.0);
  for (std::uint32_t r : perm_) {
    const std::int32_t u = leaf_of[r];
    if (u < 0) continue;
    const std::size_t x = static_cast<std::size_t>(u);
    const std::size_t at = static_cast<std::size_t>(r) * K + k;
    ordered_scores_[at] += LeafOutput(pg[x], ph[x], gp) * lr;
    pg[x] += grad_[at];
    ph[x] += hess_[at];
  }
}

void Trainer::FinishTree(const Tree& tree, int k, const std::vector<GrownLeaf>& leaves) {
  grower_->SetLeaves(leaves);
  UpdateScores(tree, k);
}

void Trainer::UpdateScores(const Tree& tree, int k) {
  const std::int64_t n = data_->NumRows();
  const int K = objective_.NumOutputs();
  const int T = params_.n_threads;
  // Update training scores: in-bag rows from the partition, the rest by walking the tree.
  const std::uint32_t* prow = grower_->PartitionedRows();
  const auto& ranges = grower_->LeafRanges();
  for (const auto& lr : ranges) {
    if (lr.node < 0 || lr.node >= tree.NumNodes() || !tree.IsLeaf(lr.node)) {
      throw DataError("distributed training: a leaf names a node that is not a leaf");
    }
  }
  // Leaves own disjoint rows: each score is written once, whatever the thread count.
  ParallelForDynamic(0, static_cast<std::int64_t>(ranges.size()), T, [&](std::int64_t li) {
    const auto& lr = ranges[static_cast<std::size_t>(li)];
    const double v = tree.value[static_cast<std::size_t>(lr.node)];
    for (std::int64_t i = lr.begin; i < lr.end; ++i)
      scores_[static_cast<std::size_t>(prow[i]) * K + k] += v;
  });
  if (params_.subsample < 1.0) {
    ParallelFor(0, (n + 8191) / 8192, T, [&](std::int64_t b) {
      const std::int64_t r0 = b * 8192, r1 = std::min(n, r0 + 8192);
      for (std::int64_t r = r0; r < r1; ++r) {
        if (in_bag_[static_cast<std::size_t>(r)]) continue;
        scores_[static_cast<std::size_t>(r * K + k)] +=
            tree.value[static_cast<std::size_t>(grower_->LeafOfRow(tree, r))];
      }
    });
  }
}

void Trainer::LeafResiduals(int k, const std::vector<GrownLeaf>& leaves,
                            std::vector<std::vector<double>>* r,
                            std::vector<std::vector<double>>* w) {
  grower_->SetLeaves(leaves);
  const int K = objective_.NumOutputs();
  const std::uint32_t* prow = grower_->PartitionedRows();
  const auto& ranges = grower_->LeafRanges();
  r->assign(ranges.size(), {});
  w->assign(ranges.size(), {});
  for (std::size_t li = 0; li < ranges.size(); ++li) {
    for (std::int64_t i = ranges[li].begin; i < ranges[li].end; ++i) {
      const std::size_t row = prow[i];
      (*r)[li].push_back(labels_[row] - scores_[row * K + k]);
      if (!weights_.empty()) (*w)[li].push_back(weights_[row]);
    }
  }
}

std::vector<Tree> Trainer::BoostRound() {
  const RoundStats stats = BeginRound();
  const int K = objective_.NumOutputs();
  std::vector<Tree> trees;
  for (int k = 0; k < K; ++k) {
    // Column subsample for this tree.
    const std::vector<int> features = SampleFeatures(
        usable_features_, params_.colsample_bytree, params_.seed, iteration_, k);
    // Fixed-point gradients of this output.
    const double max_g = stats.max_g[static_cast<std::size_t>(k)];
    const double max_h = stats.max_h[static_cast<std::size_t>(k)];
    const FixedPoint full = ChooseFixedPoint(max_g, max_h, stats.rows);
    const FixedPoint fp = params_.quantized
                              ? ChooseQuantized(max_g, max_h, stats.rows, params_.quant_bins)
                              : full;
    BeginTree(k, fp);
    ObliviousParams op;
    if (oblivious_) {
      op.cosine = params_.score_cosine;
      op.random_strength = params_.random_strength;
      op.model_length = static_cast<double>(iteration_) * params_.grow.learning_rate;
      op.seed = params_.seed;
      op.tree_index = static_cast<std::uint64_t>(iteration_) * K + k;
      op.bagging_temperature = params_.bagging_temperature;
    }
    Tree tree = oblivious_
        ? oblivious_->Grow(gh_.data(), fp.scale_g, fp.scale_h, fp.pack, all_rows_, features,
                           params_.grow, op)
        : grower_->Grow(gh_.data(), fp.scale_g, fp.scale_h, fp.pack, all_rows_, features,
                        params_.grow, params_.quantized ? q_.data() : nullptr,
                        params_.quant_bins);
    if (params_.ordered) {
      OrderedTree(tree, k);
    } else if (objective_.RenewsLeaves()) {
      RenewLeaves(tree, k);
    } else if (params_.quantized && params_.quant_renew_leaf) {
      RenewQuantized(tree, k, full);
    }
    UpdateScores(tree, k);
    trees.push_back(std::move(tree));
  }
  EndRound();
  return trees;
}

}  // namespace sapwood
