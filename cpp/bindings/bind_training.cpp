#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/threading.hpp"
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

}  // namespace

void BindTraining(py::module_& m) {
  py::class_<Trainer>(m, "Trainer")
      .def(py::init([](std::shared_ptr<BinnedMatrix> data, const py::object& label,
                       const py::object& weight, const py::dict& params) {
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
             opt("tweedie_variance_power", p.objective_params.tweedie_variance_power);
             opt("poisson_max_delta_step", p.objective_params.poisson_max_delta_step);
             opt("huber_delta", p.objective_params.huber_delta);
             opt("alpha", p.objective_params.alpha);
             opt("lambdarank_truncation_level", p.objective_params.lambdarank_truncation_level);
             opt("lambdarank_norm", p.objective_params.lambdarank_norm);
             if (params.contains("label_gain") && !params["label_gain"].is_none())
               p.objective_params.label_gain = params["label_gain"].cast<std::vector<double>>();
             p.objective_params.seed = p.seed;
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
      .def_property_readonly("init_score", [](const Trainer& t) { return ToArray(t.InitScore()); })
      .def_property_readonly("num_outputs", &Trainer::NumOutputs)
      .def("scores", [](const Trainer& t) {
        const auto& s = t.Scores();
        const py::ssize_t k = t.NumOutputs();
        py::array_t<double> out({static_cast<py::ssize_t>(s.size()) / k, k});
        std::copy(s.begin(), s.end(), out.mutable_data());
        return out;
      });

  m.def(
      "build_histogram",
      [](const BinnedMatrix& data, py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> rows,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> g,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> h, int count_bits,
         int n_threads) {
        // For tests: the production histogram builder on fixed-point gradients. Returns
        // (offsets, g, h, count) with one entry per histogram bin.
        const std::int64_t n = data.NumRows();
        if (g.size() != n || h.size() != n) throw DataError("g and h need one value per row");
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
          hist = BuildHistogram(data, r, gh, n_threads, &layout);
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
      py::arg("n_threads"));

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
