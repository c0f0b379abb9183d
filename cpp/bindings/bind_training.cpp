#include <pybind11/stl.h>
#include <cstring>

#include "common.hpp"
#include "sapwood/threading.hpp"
#include "sapwood/binning.hpp"
#include "sapwood/objective.hpp"
#include "sapwood/trainer.hpp"

namespace sapwood::bindings {

namespace {

template <class T>
T Get(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw ParameterError(std::string("missing parameter '") + key + "'");
  return d[key].cast<T>();
}

std::vector<double> ToVector(const py::object& o) {
  if (o.is_none()) return {};
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a || a.ndim() != 1) throw DataError("expected a 1-D array");
  return std::vector<double>(a.data(), a.data() + a.size());
}

TrainParams ParseTrainParams(const py::dict& params) {
  TrainParams p;
  p.grow.num_leaves = Get<int>(params, "num_leaves");
  p.grow.max_depth = Get<int>(params, "max_depth");
  p.grow.min_child_samples = Get<std::int64_t>(params, "min_child_samples");
  p.grow.min_child_weight = Get<double>(params, "min_child_weight");
  p.grow.min_split_gain = Get<double>(params, "min_split_gain");
  p.grow.reg_lambda = Get<double>(params, "reg_lambda");
  p.grow.reg_alpha = Get<double>(params, "reg_alpha");
  p.grow.learning_rate = Get<double>(params, "learning_rate");
  p.objective = ParseObjective(Get<std::string>(params, "objective"));
  p.num_class = Get<int>(params, "num_class");
  p.subsample = Get<double>(params, "subsample");
  p.colsample_bytree = Get<double>(params, "colsample_bytree");
  p.seed = Get<std::uint64_t>(params, "random_state");
  p.n_threads = ResolveThreads(Get<int>(params, "n_jobs"));  // at most the cores
  // Categorical split settings: optional, GrowParams holds the defaults.
  auto opt = [&](const char* key, auto& field) {
    if (params.contains(key)) field = params[key].cast<std::decay_t<decltype(field)>>();
  };
  opt("max_cat_to_onehot", p.grow.max_cat_to_onehot);
  opt("max_cat_threshold", p.grow.max_cat_threshold);
  opt("cat_smooth", p.grow.cat_smooth);
  opt("cat_l2", p.grow.cat_l2);
  opt("min_data_per_group", p.grow.min_data_per_group);
  opt("use_quantized_grad", p.quantized);
  opt("num_grad_quant_bins", p.quant_bins);
  opt("quant_train_renew_leaf", p.quant_renew_leaf);
  if (params.contains("grow_policy")) {
    const auto policy = params["grow_policy"].cast<std::string>();
    if (policy != "leafwise" && policy != "oblivious")
      throw ParameterError("grow_policy must be 'leafwise' or 'oblivious', got '" + policy + "'");
    p.oblivious = policy == "oblivious";
  }
  if (params.contains("score_function")) {
    const auto sf = params["score_function"].cast<std::string>();
    if (sf != "l2" && sf != "cosine")
      throw ParameterError("score_function must be 'l2' or 'cosine', got '" + sf + "'");
    p.score_cosine = sf == "cosine";
  }
  if (params.contains("boosting_type")) {
    const auto bt = params["boosting_type"].cast<std::string>();
    if (bt != "plain" && bt != "ordered")
      throw ParameterError("boosting_type must be 'plain' or 'ordered', got '" + bt + "'");
    p.ordered = bt == "ordered";
  }
  opt("random_strength", p.random_strength);
  opt("bagging_temperature", p.bagging_temperature);
  if (params.contains("monotone_constraints") && !params["monotone_constraints"].is_none()) {
    for (const auto& v : params["monotone_constraints"].cast<std::vector<int>>()) {
      if (v < -1 || v > 1) throw ParameterError("monotone_constraints hold -1, 0 or 1");
      p.grow.monotone.push_back(static_cast<std::int8_t>(v));
    }
  }
  opt("monotone_method", p.grow.monotone_method);
  opt("monotone_missing", p.grow.monotone_missing);
  if (params.contains("interaction_constraints") &&
      !params["interaction_constraints"].is_none()) {
    p.grow.interaction_sets =
        params["interaction_constraints"].cast<std::vector<std::vector<int>>>();
  }
  opt("tweedie_variance_power", p.objective_params.tweedie_variance_power);
  opt("poisson_max_delta_step", p.objective_params.poisson_max_delta_step);
  opt("huber_delta", p.objective_params.huber_delta);
  if (params.contains("alpha") && py::isinstance<py::sequence>(params["alpha"]) &&
      !py::isinstance<py::str>(params["alpha"])) {
    // multi-quantile: one level per output (num_class of them; checked by Objective)
    p.objective_params.alphas = params["alpha"].cast<std::vector<double>>();
    if (!p.objective_params.alphas.empty()) p.objective_params.alpha = p.objective_params.alphas[0];
  } else {
    opt("alpha", p.objective_params.alpha);
  }
  opt("lambdarank_truncation_level", p.objective_params.lambdarank_truncation_level);
  opt("lambdarank_norm", p.objective_params.lambdarank_norm);
  if (params.contains("label_gain") && !params["label_gain"].is_none())
    p.objective_params.label_gain = params["label_gain"].cast<std::vector<double>>();
  p.objective_params.seed = p.seed;
  return p;
}

// Distributed training: expansion requests travel as an int64 (n, 8) array (leaf, left, right,
// build, feature, threshold_bin, default_left, categorical) and one uint32 array of category
// bits per request; histograms as int64 (bins, 2) arrays of (gradient, hessian|count) words.
constexpr int kReqCols = 8;

py::array_t<std::int64_t> NewHist(py::ssize_t n, std::size_t total) {
  return py::array_t<std::int64_t>({n, static_cast<py::ssize_t>(total), py::ssize_t{2}});
}

std::vector<GrownLeaf> LeavesOf(const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& a) {
  if (a.ndim() != 2 || a.shape(1) != 2) throw DataError("leaves must be an (n, 2) int32 array");
  std::vector<GrownLeaf> out(static_cast<std::size_t>(a.shape(0)));
  for (py::ssize_t i = 0; i < a.shape(0); ++i) out[static_cast<std::size_t>(i)] = {a.at(i, 0), a.at(i, 1)};
  return out;
}

// Requests decoded on a worker; the SplitInfos live in `splits`.
void DecodeRequests(const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& a,
                    const std::vector<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>& cats,
                    std::vector<SplitInfo>* splits, std::vector<ExpandRequest>* reqs) {
  if (a.ndim() != 2 || a.shape(1) != kReqCols) throw DataError("requests must be an (n, 8) int64 array");
  const py::ssize_t n = a.shape(0);
  if (static_cast<py::ssize_t>(cats.size()) != n) throw DataError("one category bitset per request");
  splits->assign(static_cast<std::size_t>(n), SplitInfo{});
  reqs->assign(static_cast<std::size_t>(n), ExpandRequest{});
  for (py::ssize_t i = 0; i < n; ++i) {
    SplitInfo& sp = (*splits)[static_cast<std::size_t>(i)];
    sp.feature = static_cast<int>(a.at(i, 4));
    sp.threshold_bin = static_cast<int>(a.at(i, 5));
    sp.default_left = a.at(i, 6) != 0;
    sp.categorical = a.at(i, 7) != 0;
    const auto& c = cats[static_cast<std::size_t>(i)];
    sp.cat_left.assign(c.data(), c.data() + c.size());
    ExpandRequest& r = (*reqs)[static_cast<std::size_t>(i)];
    r.leaf = static_cast<std::int32_t>(a.at(i, 0));
    r.left = static_cast<std::int32_t>(a.at(i, 1));
    r.right = static_cast<std::int32_t>(a.at(i, 2));
    r.build = static_cast<std::int32_t>(a.at(i, 3));
  }
  for (py::ssize_t i = 0; i < n; ++i) (*reqs)[static_cast<std::size_t>(i)].split = &(*splits)[static_cast<std::size_t>(i)];
}

// The coordinator's histogram source: every call goes to Python (which asks the workers and
// adds their histograms up exactly).
class PyHistogramSource : public HistogramSource {
 public:
  PyHistogramSource(py::function root, py::function expand, std::size_t total)
      : root_(std::move(root)), expand_(std::move(expand)), total_(total) {}

  HistBin Root(HistBin* out) override {
    py::tuple r = root_(out != nullptr);
    if (r.size() != 3) throw DataError("root callback must return (g, hc, histogram)");
    HistBin total{r[0].cast<std::int64_t>(), r[1].cast<std::int64_t>()};
    if (out != nullptr) CopyHist(r[2], 1, &out);
    return total;
  }

  void Expand(const std::vector<ExpandRequest>& reqs, const std::vector<HistBin*>& outs) override {
    py::array_t<std::int64_t> a({static_cast<py::ssize_t>(reqs.size()), py::ssize_t{kReqCols}});
    py::list cats;
    std::vector<HistBin*> wanted;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const ExpandRequest& r = reqs[i];
      const SplitInfo& sp = *r.split;
      const std::int64_t row[kReqCols] = {r.leaf, r.left, r.right, r.build, sp.feature,
                                          sp.threshold_bin, sp.default_left ? 1 : 0,
                                          sp.categorical ? 1 : 0};
      std::copy(row, row + kReqCols, a.mutable_data(static_cast<py::ssize_t>(i), 0));
      cats.append(ToArray(sp.categorical ? sp.cat_left : std::vector<std::uint32_t>{}));
      if (r.build >= 0) wanted.push_back(outs[i]);
    }
    py::object h = expand_(a, cats);
    if (!wanted.empty()) CopyHist(h, static_cast<py::ssize_t>(wanted.size()), wanted.data());
  }

 private:
  void CopyHist(const py::handle& h, py::ssize_t n, HistBin* const* outs) const {
    auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(h);
    if (!a || a.size() != n * static_cast<py::ssize_t>(total_) * 2) {
      throw DataError("histogram callback returned the wrong shape");
    }
    const std::int64_t* src = a.data();
    for (py::ssize_t i = 0; i < n; ++i) {
      std::memcpy(outs[i], src + i * static_cast<py::ssize_t>(total_) * 2, total_ * sizeof(HistBin));
    }
  }
  py::function root_, expand_;
  std::size_t total_;
};

// Histograms on the wire, narrowed exactly (distributed training; docs/distributed.md). Each
// block of kNarrowBlock slots carries its own byte width for the gradient words and for the
// hessian-and-count words: the fewest whole bytes that hold every word of the block in two's
// complement. Sums over few rows (deep leaves, sparse bins) are small numbers in 64-bit
// words, so their top bytes are all sign; only those bytes are dropped, no information. Hand
// written because numpy has no sub-word integer packing (a byte-sliced view copy took longer
// than the bytes it saved).
constexpr std::size_t kNarrowBlock = 64;

int BytesFor(std::uint64_t magnitude_or) {
  // magnitude_or: OR of (v ^ (v >> 63)) over the block; one sign bit more than its bit length
  int bits = 1;
  while (magnitude_or) {
    ++bits;
    magnitude_or >>= 1;
  }
  return (bits + 7) / 8;
}

// The low W bytes of every other word from `src` (n of them), packed from `p` (the low bytes
// come first: little-endian hosts, as for the model file). The width is a template argument so
// that each copy compiles to a plain store (a copy of run-time length is a library call).
template <std::size_t W>
std::uint8_t* PutWordsW(const std::int64_t* src, std::size_t n, std::uint8_t* p) {
  for (std::size_t i = 0; i < n; ++i, p += W) std::memcpy(p, &src[2 * i], W);
  return p;
}

std::uint8_t* PutWords(const std::int64_t* src, std::size_t n, std::size_t w, std::uint8_t* p) {
  switch (w) {
    case 1: return PutWordsW<1>(src, n, p);
    case 2: return PutWordsW<2>(src, n, p);
    case 3: return PutWordsW<3>(src, n, p);
    case 4: return PutWordsW<4>(src, n, p);
    case 5: return PutWordsW<5>(src, n, p);
    case 6: return PutWordsW<6>(src, n, p);
    case 7: return PutWordsW<7>(src, n, p);
    default: return PutWordsW<8>(src, n, p);
  }
}

// Sign-extends n words of W bytes from `p` and adds them to every other word of `dst`.
// Wrapping adds: the words are exact sums below 2^61 in magnitude (the fixed-point scale), so
// the true total cannot overflow; unsigned arithmetic keeps a malformed input defined. Each
// word is read with one 8-byte load while 8 bytes remain before `end` (a W-byte copy into a
// zeroed word stalls the load that follows it: 6.5 ns a word, against about 1 this way).
template <std::size_t W>
void AddWordsW(const std::uint8_t* p, std::size_t n, const std::uint8_t* end, std::int64_t* dst) {
  constexpr int kShift = 64 - 8 * static_cast<int>(W);
  for (std::size_t i = 0; i < n; ++i, p += W) {
    std::uint64_t x = 0;
    if (end - p >= 8) {
      std::memcpy(&x, p, 8);
    } else {
      std::memcpy(&x, p, W);
    }
    const std::int64_t v = static_cast<std::int64_t>(x << kShift) >> kShift;
    dst[2 * i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(dst[2 * i]) +
                                           static_cast<std::uint64_t>(v));
  }
}

void AddWords(const std::uint8_t* p, std::size_t n, std::size_t w, const std::uint8_t* end,
              std::int64_t* dst) {
  switch (w) {
    case 1: return AddWordsW<1>(p, n, end, dst);
    case 2: return AddWordsW<2>(p, n, end, dst);
    case 3: return AddWordsW<3>(p, n, end, dst);
    case 4: return AddWordsW<4>(p, n, end, dst);
    case 5: return AddWordsW<5>(p, n, end, dst);
    case 6: return AddWordsW<6>(p, n, end, dst);
    case 7: return AddWordsW<7>(p, n, end, dst);
    default: return AddWordsW<8>(p, n, end, dst);
  }
}

// The widths of every block (2 a block: gradient words, hessian-and-count words) and the
// narrowed size in bytes.
std::size_t NarrowWidths(const std::int64_t* h, std::size_t slots, std::vector<std::uint8_t>* w) {
  std::size_t size = 0;
  w->clear();
  for (std::size_t b0 = 0; b0 < slots; b0 += kNarrowBlock) {
    const std::size_t b1 = std::min(slots, b0 + kNarrowBlock);
    std::uint64_t mg = 0, mh = 0;
    for (std::size_t b = b0; b < b1; ++b) {
      const std::int64_t g = h[2 * b], hc = h[2 * b + 1];
      mg |= static_cast<std::uint64_t>(g ^ (g >> 63));
      mh |= static_cast<std::uint64_t>(hc ^ (hc >> 63));
    }
    const int wg = BytesFor(mg), wh = BytesFor(mh);
    w->push_back(static_cast<std::uint8_t>(wg));
    w->push_back(static_cast<std::uint8_t>(wh));
    size += 2 + (b1 - b0) * static_cast<std::size_t>(wg + wh);
  }
  return size;
}

// Writes the narrowed histogram (NarrowWidths' size) to `p`: per block its two widths, then
// its gradient words, then its hessian-and-count words, each the low bytes of the word.
void NarrowHist(const std::int64_t* h, std::size_t slots, const std::vector<std::uint8_t>& w,
                std::uint8_t* p) {
  std::size_t k = 0;
  for (std::size_t b0 = 0; b0 < slots; b0 += kNarrowBlock, k += 2) {
    const std::size_t b1 = std::min(slots, b0 + kNarrowBlock);
    const std::size_t wg = w[k], wh = w[k + 1];
    *p++ = w[k];
    *p++ = w[k + 1];
    p = PutWords(&h[2 * b0], b1 - b0, wg, p);
    p = PutWords(&h[2 * b0 + 1], b1 - b0, wh, p);
  }
}

// Adds a narrowed histogram into `total` (slots x 2 words); returns the bytes read. Every
// width and length is checked before use.
std::size_t AddNarrowHist(const std::uint8_t* p, std::size_t n, std::int64_t* total,
                          std::size_t slots) {
  std::size_t at = 0;
  for (std::size_t b0 = 0; b0 < slots; b0 += kNarrowBlock) {
    const std::size_t b1 = std::min(slots, b0 + kNarrowBlock);
    if (at + 2 > n) throw DataError("narrowed histogram: truncated");
    const int wg = p[at], wh = p[at + 1];
    at += 2;
    if (wg < 1 || wg > 8 || wh < 1 || wh > 8) throw DataError("narrowed histogram: bad width");
    if (at + (b1 - b0) * static_cast<std::size_t>(wg + wh) > n) {
      throw DataError("narrowed histogram: truncated");
    }
    AddWords(p + at, b1 - b0, static_cast<std::size_t>(wg), p + n, &total[2 * b0]);
    at += (b1 - b0) * static_cast<std::size_t>(wg);
    AddWords(p + at, b1 - b0, static_cast<std::size_t>(wh), p + n, &total[2 * b0 + 1]);
    at += (b1 - b0) * static_cast<std::size_t>(wh);
  }
  return at;
}

}  // namespace

void BindTraining(py::module_& m) {
  py::class_<Trainer>(m, "Trainer")
      .def(py::init([](std::shared_ptr<BinnedMatrix> data, const py::object& label,
                       const py::object& weight, const py::dict& params) {
             const TrainParams p = ParseTrainParams(params);
             return std::make_unique<Trainer>(data, ToVector(label), ToVector(weight), p);
           }),
           py::arg("data"), py::arg("label"), py::arg("weight"), py::arg("params"))
      .def("boost_round",
           [](Trainer& t) {
             std::vector<Tree> trees;
             {
               // Safe: the trainer owns all buffers it touches; no Python objects are used.
               py::gil_scoped_release release;
               trees = t.BoostRound();
             }
             py::list out;
             for (const auto& tr : trees) out.append(TreeToDict(tr));
             return out;
           })
      .def(
          "set_scores",
          [](Trainer& t, const py::array_t<double, py::array::c_style | py::array::forcecast>& s,
             const py::object& init_score) {
            // Starting raw margins (offsets and/or an initial model's): n x K.
            if (s.size() != static_cast<py::ssize_t>(t.Scores().size())) {
              throw DataError("starting scores need " + std::to_string(t.Scores().size()) +
                              " values (rows x outputs), got " + std::to_string(s.size()));
            }
            t.SetScores(s.data(), ToVector(init_score));
          },
          py::arg("scores"), py::arg("init_score"))
      .def(
          "add_tree_scores",
          [](Trainer& t, const py::dict& tree, int k) {
            Tree tr = TreeFromDict(tree);
            py::gil_scoped_release release;  // Safe: C++-owned buffers only.
            t.AddTreeScores(tr, k);
          },
          py::arg("tree"), py::arg("output"))
      .def("set_iteration", &Trainer::SetIteration, py::arg("iteration"))
      .def(
          "set_groups",
          [](Trainer& t, const py::array_t<std::int64_t, py::array::c_style |
                                                      py::array::forcecast>& bounds) {
            // Query bounds (n_queries + 1) of the ranking objectives.
            if (bounds.ndim() != 1) throw DataError("query bounds must be 1-D");
            t.SetGroups(std::vector<std::int64_t>(bounds.data(), bounds.data() + bounds.size()));
          },
          py::arg("bounds"))
      // ---- distributed training: the worker's side (see Trainer::BeginRound)
      .def("begin_round",
           [](Trainer& t) {
             Trainer::RoundStats st;
             {
               py::gil_scoped_release release;  // Safe: C++-owned buffers only.
               st = t.BeginRound();
             }
             return py::make_tuple(ToArray(st.max_g), ToArray(st.max_h), st.rows);
           })
      .def(
          "begin_tree",
          [](Trainer& t, int k, double scale_g, double scale_h, int bits) {
            FixedPoint fp;
            fp.scale_g = scale_g;
            fp.scale_h = scale_h;
            fp.pack.bits = bits;
            py::gil_scoped_release release;  // Safe: C++-owned buffers only.
            t.BeginTree(k, fp);
          },
          py::arg("output"), py::arg("scale_g"), py::arg("scale_h"), py::arg("count_bits"))
      .def(
          "root",
          [](Trainer& t, bool build) {
            const std::size_t total = t.Layout().total;
            py::object hist = py::none();
            HistBin sums{0, 0};
            if (build) {
              auto h = NewHist(1, total);
              HistBin* out = reinterpret_cast<HistBin*>(h.mutable_data());
              {
                py::gil_scoped_release release;  // Safe: `h` is held by this frame.
                sums = t.Rows().Root(out);
              }
              hist = h;
            } else {
              py::gil_scoped_release release;
              sums = t.Rows().Root(nullptr);
            }
            return py::make_tuple(sums.g, sums.hc, hist);
          },
          py::arg("build"))
      .def(
          "expand",
          [](Trainer& t, const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& reqs,
             const std::vector<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>& cats) {
            std::vector<SplitInfo> splits;
            std::vector<ExpandRequest> rq;
            DecodeRequests(reqs, cats, &splits, &rq);
            py::ssize_t nb = 0;
            for (const auto& r : rq) nb += r.build >= 0 ? 1 : 0;
            const std::size_t total = t.Layout().total;
            auto h = NewHist(nb, total);
            std::vector<HistBin*> outs(rq.size(), nullptr);
            HistBin* base = reinterpret_cast<HistBin*>(h.mutable_data());
            py::ssize_t j = 0;
            for (std::size_t i = 0; i < rq.size(); ++i)
              if (rq[i].build >= 0) outs[i] = base + (j++) * static_cast<py::ssize_t>(total);
            {
              py::gil_scoped_release release;  // Safe: `h` and the requests are held here.
              t.Rows().Expand(rq, outs);
            }
            return h;
          },
          py::arg("requests"), py::arg("categories"))
      .def(
          "finish_tree",
          [](Trainer& t, const py::dict& tree, int k,
             const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& leaves) {
            Tree tr = TreeFromDict(tree);
            const std::vector<GrownLeaf> lv = LeavesOf(leaves);
            py::gil_scoped_release release;  // Safe: C++-owned buffers only.
            t.FinishTree(tr, k, lv);
          },
          py::arg("tree"), py::arg("output"), py::arg("leaves"))
      .def("end_round", &Trainer::EndRound)
      .def(
          "set_elementwise",
          [](Trainer& t, std::uintptr_t address) {
            // The address of a compiled function void(double, double, double*, double*) (a
            // numba cfunc the caller keeps alive for the trainer's lifetime).
            if (address == 0) throw ParameterError("the compiled objective has no address");
            t.SetElementwise(reinterpret_cast<Trainer::ElementwiseFn>(address));
          },
          py::arg("address"))
      .def(
          "set_gradients",
          [](Trainer& t, const py::array_t<double, py::array::c_style | py::array::forcecast>& g,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& h) {
            const py::ssize_t m = static_cast<py::ssize_t>(t.Scores().size());
            if (g.size() != m || h.size() != m) {
              throw DataError("the custom objective must return one gradient and one hessian "
                              "per row (" + std::to_string(m) + "), got " +
                              std::to_string(g.size()) + " and " + std::to_string(h.size()));
            }
            t.SetGradients(g.data(), h.data());
          },
          py::arg("grad"), py::arg("hess"))
      .def(
          "leaf_residuals",
          [](Trainer& t, int k,
             const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& leaves) {
            std::vector<std::vector<double>> r, w;
            t.LeafResiduals(k, LeavesOf(leaves), &r, &w);
            py::list out;
            for (std::size_t i = 0; i < r.size(); ++i) out.append(py::make_tuple(ToArray(r[i]), ToArray(w[i])));
            return out;
          },
          py::arg("output"), py::arg("leaves"))
      .def(
          "set_row_segments",
          [](Trainer& t, const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& a) {
            if (a.ndim() != 2 || a.shape(1) != 2) throw DataError("row segments must be (n, 2)");
            std::vector<std::pair<std::int64_t, std::int64_t>> seg;
            for (py::ssize_t i = 0; i < a.shape(0); ++i) seg.emplace_back(a.at(i, 0), a.at(i, 1));
            t.SetRowSegments(std::move(seg));
          },
          py::arg("segments"))
      .def_property_readonly("usable_features",
                             [](const Trainer& t) { return ToArray(t.UsableFeatures()); })
      .def_property_readonly("init_score", [](const Trainer& t) { return ToArray(t.InitScore()); })
      .def_property_readonly("num_outputs", &Trainer::NumOutputs)
      .def("scores", [](const Trainer& t) {
        const auto& s = t.Scores();
        const py::ssize_t k = t.NumOutputs();
        py::array_t<double> out({static_cast<py::ssize_t>(s.size()) / k, k});
        std::copy(s.begin(), s.end(), out.mutable_data());
        return out;
      });

  // ---- distributed training: the coordinator's side
  m.def(
      "grow_tree",
      [](const BinnedMatrix& mapper_of, const py::function& root, const py::function& expand,
         double scale_g, double scale_h, int count_bits, const std::vector<int>& features,
         const py::dict& params, int batch) {
        const TrainParams p = ParseTrainParams(params);
        const BinMapper& mapper = mapper_of.Mapper();
        const HistLayout layout = MakeHistLayout(mapper);
        for (int f : features) {
          if (f < 0 || f >= mapper.NumFeatures()) throw DataError("feature out of range");
        }
        PyHistogramSource src(root, expand, layout.total);
        std::vector<std::vector<HistBin>> pool;
        std::vector<GrownLeaf> leaves;
        CountPacking pack;
        pack.bits = count_bits;
        // The GIL stays held: the source calls back into Python for every batch.
        Tree tree = GrowTree(src, mapper, layout, pool, scale_g, scale_h, pack, features, p.grow,
                             p.n_threads, std::max(1, batch), &leaves);
        py::array_t<std::int32_t> lv({static_cast<py::ssize_t>(leaves.size()), py::ssize_t{2}});
        for (std::size_t i = 0; i < leaves.size(); ++i) {
          lv.mutable_at(static_cast<py::ssize_t>(i), 0) = leaves[i].node;
          lv.mutable_at(static_cast<py::ssize_t>(i), 1) = leaves[i].handle;
        }
        return py::make_tuple(TreeToDict(tree), lv);
      },
      py::arg("mapper_of"), py::arg("root"), py::arg("expand"), py::arg("scale_g"),
      py::arg("scale_h"), py::arg("count_bits"), py::arg("features"), py::arg("params"),
      py::arg("batch"),
      "Grows one tree from histograms supplied by callbacks (distributed training).");
  m.def(
      "hist_narrow",
      [](const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& h) {
        if (h.ndim() < 1 || h.shape(h.ndim() - 1) != 2) {
          throw DataError("hist_narrow: histograms have 2 words a slot");
        }
        const std::size_t slots = static_cast<std::size_t>(h.size() / 2);
        std::vector<std::uint8_t> widths;
        std::size_t size = 0;
        {
          py::gil_scoped_release release;  // Safe: `h` is held by the caller.
          size = NarrowWidths(h.data(), slots, &widths);
        }
        py::array_t<std::uint8_t> out(static_cast<py::ssize_t>(size));  // filled in place
        std::uint8_t* dst = out.mutable_data();
        {
          py::gil_scoped_release release;  // Safe: `h` and `out` are held here.
          NarrowHist(h.data(), slots, widths, dst);
        }
        return out;
      },
      py::arg("hist"),
      "Histograms (..., 2) int64, narrowed exactly for the wire (hist_add_narrow reads them).");
  m.def(
      "hist_add_narrow",
      [](py::array_t<std::int64_t, py::array::c_style> total,
         const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>& packed) {
        if (total.ndim() < 1 || total.shape(total.ndim() - 1) != 2) {
          throw DataError("hist_add_narrow: histograms have 2 words a slot");
        }
        if (!total.writeable()) throw DataError("hist_add_narrow: the total is read-only");
        const std::size_t slots = static_cast<std::size_t>(total.size() / 2);
        std::int64_t* t = total.mutable_data();
        std::size_t used = 0;
        {
          py::gil_scoped_release release;  // Safe: both arrays are held by the caller.
          used = AddNarrowHist(packed.data(), static_cast<std::size_t>(packed.size()), t, slots);
        }
        if (used != static_cast<std::size_t>(packed.size())) {
          throw DataError("hist_add_narrow: the narrowed histograms do not match the total's "
                          "shape");
        }
      },
      py::arg("total"), py::arg("packed"),
      "Adds narrowed histograms (from hist_narrow) into `total` in place, exactly.");
  m.def(
      "fixed_point",
      [](double max_g, double max_h, std::int64_t rows) {
        const FixedPoint fp = ChooseFixedPoint(max_g, max_h, rows);
        return py::make_tuple(fp.scale_g, fp.scale_h, fp.pack.bits);
      },
      py::arg("max_abs_g"), py::arg("max_abs_h"), py::arg("rows"));
  m.def(
      "sample_row_indices",
      [](std::int64_t n, std::int64_t sample_rows, std::uint64_t seed) {
        BinningParams p;
        p.sample_rows = sample_rows;
        p.seed = seed;
        std::vector<std::int64_t> rows = SampleRows(n, p);
        if (rows.empty()) {
          rows.resize(static_cast<std::size_t>(n));
          for (std::int64_t i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
        }
        return ToArray(rows);
      },
      py::arg("n"), py::arg("sample_rows"), py::arg("seed"),
      "The rows fit_bin_edges_columns fits edges on (all rows when n <= sample_rows).");
  m.def(
      "objective_init_score",
      [](const py::dict& params, const py::object& label, const py::object& weight) {
        const TrainParams p = ParseTrainParams(params);
        Objective obj(p.objective, p.num_class, p.objective_params);
        const std::vector<double> y = ToVector(label), w = ToVector(weight);
        if (!w.empty() && w.size() != y.size()) throw DataError("weight and label differ in length");
        obj.CheckLabels(y.data(), static_cast<std::int64_t>(y.size()));
        return ToArray(obj.InitScore(y.data(), w.empty() ? nullptr : w.data(),
                                     static_cast<std::int64_t>(y.size())));
      },
      py::arg("params"), py::arg("label"), py::arg("weight"),
      "The objective's best constant for these labels (the Trainer's init_score).");
  m.def(
      "objective_renews_leaves",
      [](const py::dict& params) {
        const TrainParams p = ParseTrainParams(params);
        return Objective(p.objective, p.num_class, p.objective_params).RenewsLeaves();
      },
      py::arg("params"));
  m.def("sample_features", &SampleFeatures, py::arg("usable"), py::arg("colsample"),
        py::arg("seed"), py::arg("iteration"), py::arg("output"));
  m.def(
      "robust_leaf_value",
      [](const py::dict& params, py::array_t<double, py::array::c_style | py::array::forcecast> r,
         py::array_t<double, py::array::c_style | py::array::forcecast> w, int output) {
        const TrainParams p = ParseTrainParams(params);
        Objective obj(p.objective, p.num_class, p.objective_params);
        if (!obj.RenewsLeaves()) throw ParameterError("the objective does not re-fit its leaves");
        if (output < 0 || output >= obj.NumOutputs()) throw ParameterError("output out of range");
        // No weights (an empty array): the unweighted quantile, as single-machine training.
        if (w.size() != 0 && r.size() != w.size()) {
          throw DataError("residuals and weights differ in length");
        }
        std::vector<double> rv(r.data(), r.data() + r.size()), wv(w.data(), w.data() + w.size());
        if (rv.empty()) return 0.0;
        return obj.LeafValue(rv.data(), wv.empty() ? nullptr : wv.data(),
                             static_cast<std::int64_t>(rv.size()), output) *
               p.grow.learning_rate;
      },
      py::arg("params"), py::arg("residuals"), py::arg("weights"), py::arg("output") = 0);

  m.def("quantized_bin_bytes", &QuantizedBinBytes, py::arg("rows"), py::arg("levels"),
        "Bytes per histogram bin the quantized builder uses for a node of this many rows.");
  m.def(
      "build_histogram",
      [](const BinnedMatrix& data, py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> rows,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> g,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> h, int count_bits,
         int n_threads, int levels) {
        // For tests: the production histogram builder on fixed-point gradients (levels > 0:
        // the quantized builder, on levels |g| <= ceil(levels / 2), 0 <= h <= levels). Returns
        // (offsets, g, h, count) with one entry per histogram bin.
        const std::int64_t n = data.NumRows();
        if (g.size() != n || h.size() != n) throw DataError("g and h need one value per row");
        if (count_bits < 1 || count_bits > 40) throw ParameterError("count_bits must be in [1, 40]");
        std::vector<QuantGrad> q;
        if (levels > 0) {
          if (levels > 127) throw ParameterError("levels must be in [1, 127]");
          q.resize(static_cast<std::size_t>(n));
          for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t gi = g.data()[i], hi = h.data()[i];
            if (gi < -(levels + 1) / 2 || gi > (levels + 1) / 2 || hi < 0 || hi > levels)
              throw DataError("quantized g or h out of range at row " + std::to_string(i));
            q[static_cast<std::size_t>(i)] = {static_cast<std::int8_t>(gi),
                                              static_cast<std::int8_t>(hi)};
          }
        }
        std::vector<std::uint32_t> r(rows.data(), rows.data() + rows.size());
        for (auto v : r) {
          if (v >= n) throw DataError("row index out of range");
        }
        std::vector<GradPair> gh(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) {
          if (h.data()[i] < 0) throw DataError("hessians must be >= 0");
          gh[static_cast<std::size_t>(i)] = {g.data()[i], (h.data()[i] << count_bits) | 1};
        }
        HistLayout layout;
        std::vector<HistBin> hist;
        {
          py::gil_scoped_release release;  // Safe: only C++-owned buffers are touched.
          hist = BuildHistogram(data, r, gh, n_threads, &layout, levels > 0 ? &q : nullptr,
                                levels, count_bits);
        }
        CountPacking pack;
        pack.bits = count_bits;
        std::vector<std::int64_t> og, oh, oc;
        for (const auto& b : hist) {
          NodeSums s = pack.Decode(b);
          og.push_back(s.g);
          oh.push_back(s.h);
          oc.push_back(s.c);
        }
        std::vector<std::uint32_t> off = layout.offset;
        off.push_back(layout.total);
        return py::make_tuple(ToArray(off), ToArray(og), ToArray(oh), ToArray(oc));
      },
      py::arg("data"), py::arg("rows"), py::arg("g"), py::arg("h"), py::arg("count_bits"),
      py::arg("n_threads"), py::arg("levels") = 0);

  m.def(
      "transform_scores",
      [](const std::string& objective, int num_class, py::array_t<double> raw, int n_threads) {
        if (!(raw.flags() & py::array::c_style)) throw DataError("raw scores must be C-contiguous");
        Objective obj(ParseObjective(objective), num_class);
        const std::int64_t k = obj.NumOutputs();
        double* data = raw.mutable_data();
        const std::int64_t n = raw.size() / k;
        py::gil_scoped_release release;  // Safe: only the array's buffer is touched.
        obj.Transform(data, n, n_threads);
      },
      py::arg("objective"), py::arg("num_class"), py::arg("raw"), py::arg("n_threads"));

  m.def(
      "objective_gradients",
      [](const std::string& objective, const py::array_t<double, py::array::c_style |
                                                             py::array::forcecast>& scores,
         const py::object& label, const py::object& weight, const py::dict& params) {
        // For tests: the built-in objective's labels check, initial score and grad/hess of a
        // single-output objective at the given raw scores. Returns (init_score, grad, hess).
        // params may also hold group_bounds (ranking), round and n_jobs.
        ObjectiveParams op;
        if (params.contains("tweedie_variance_power"))
          op.tweedie_variance_power = params["tweedie_variance_power"].cast<double>();
        if (params.contains("poisson_max_delta_step"))
          op.poisson_max_delta_step = params["poisson_max_delta_step"].cast<double>();
        if (params.contains("huber_delta")) op.huber_delta = params["huber_delta"].cast<double>();
        if (params.contains("alpha")) op.alpha = params["alpha"].cast<double>();
        if (params.contains("lambdarank_truncation_level"))
          op.lambdarank_truncation_level = params["lambdarank_truncation_level"].cast<int>();
        if (params.contains("lambdarank_norm"))
          op.lambdarank_norm = params["lambdarank_norm"].cast<bool>();
        if (params.contains("label_gain") && !params["label_gain"].is_none())
          op.label_gain = params["label_gain"].cast<std::vector<double>>();
        if (params.contains("random_state"))
          op.seed = params["random_state"].cast<std::uint64_t>();
        Objective obj(ParseObjective(objective), 1, op);
        if (params.contains("group_bounds")) {
          obj.SetGroups(params["group_bounds"].cast<std::vector<std::int64_t>>());
        }
        if (params.contains("round")) obj.SetRound(params["round"].cast<std::int64_t>());
        const int n_threads = params.contains("n_jobs")
                                  ? ResolveThreads(params["n_jobs"].cast<int>()) : 1;
        if (obj.NumOutputs() != 1) throw ParameterError("single-output objectives only");
        const std::vector<double> y = ToVector(label), w = ToVector(weight);
        const std::int64_t n = static_cast<std::int64_t>(y.size());
        if (scores.ndim() != 1 || scores.size() != n) throw DataError("scores need one per label");
        if (!w.empty() && static_cast<std::int64_t>(w.size()) != n) {
          throw DataError("weight needs one value per label");
        }
        obj.CheckLabels(y.data(), n);
        const double* wp = w.empty() ? nullptr : w.data();
        std::vector<double> init = obj.InitScore(y.data(), wp, n);
        std::vector<double> g(static_cast<std::size_t>(n)), h(static_cast<std::size_t>(n));
        {
          py::gil_scoped_release release;  // Safe: local buffers and the scores array only.
          obj.Gradients(scores.data(), y.data(), wp, n, g.data(), h.data(), n_threads);
        }
        return py::make_tuple(ToArray(init), ToArray(g), ToArray(h));
      },
      py::arg("objective"), py::arg("scores"), py::arg("label"), py::arg("weight"),
      py::arg("params"));
}

}  // namespace sapwood::bindings
