#include <pybind11/stl.h>

#include <type_traits>

#include "common.hpp"
#include "sapwood/objective.hpp"
#include "sapwood/forest.hpp"

namespace sapwood::bindings {

namespace {

void CheckRows(const py::array& x) {
  if (x.ndim() != 2) throw DataError("X must be 2-D (rows x features)");
}

// out = init_score + raw(out), then the link if asked: the whole of Booster.predict for
// "value"/"raw" in one call (raw adds the trees' margins; it runs without the GIL).
template <class Raw>
py::array_t<double> ScoreOut(const Forest& f, py::ssize_t n,
                             const py::array_t<double, py::array::c_style | py::array::forcecast>&
                                 init_score,
                             const std::string& objective, int num_class, bool transform,
                             int n_threads, Raw&& raw) {
  const int K = f.NumOutputs();
  if (init_score.size() != K) {
    throw ModelFormatError("init_score has " + std::to_string(init_score.size()) +
                           " entries for " + std::to_string(K) + " outputs");
  }
  py::array_t<double> out = K == 1 ? py::array_t<double>(n)
                                   : py::array_t<double>({n, static_cast<py::ssize_t>(K)});
  double* o = out.mutable_data();
  const double* init = init_score.data();
  Objective obj(ParseObjective(objective), num_class);
  if (obj.NumOutputs() != K) throw ModelFormatError("num_class does not match the trees");
  raw([&] {
    for (py::ssize_t r = 0; r < n; ++r) {
      for (int k = 0; k < K; ++k) o[r * K + k] = init[k];
    }
  }, o);
  if (transform) {
    py::gil_scoped_release release;
    obj.Transform(o, n, n < 4096 ? 1 : n_threads);
  }
  return out;
}

// Booster.predict's value / raw output for the default trees, resolved once (the objective
// parsed, the init score checked, the tree range fixed), so that a call converts one array and
// one int instead of eight arguments, and releases the GIL once: the fixed cost of a single row.
// init_score is held, not copied (Booster.predict reads it per call, so an update in place shows
// either way).
struct Scorer {
  std::shared_ptr<const Forest> forest;
  int tree_begin = 0, tree_end = 0;
  py::array_t<double> init;
  Objective obj;
  bool transform = false;

  // None (nothing done) unless X is a 2-D float32 / float64 array of the forest's width: the
  // caller's general path then takes it (and names what is wrong).
  py::object Predict(const py::handle& xh, int n_threads) const {
    // Read and made through numpy's C API in place (no dtype objects, no shape vectors on the
    // heap): this is the fixed cost of every single-row call.
    auto& api = py::detail::npy_api::get();
    if (!api.PyArray_Check_(xh.ptr())) return py::none();
    const auto* a = py::detail::array_proxy(xh.ptr());
    const Forest& f = *forest;
    if (a->nd != 2 || a->dimensions[1] != f.NumFeatures()) return py::none();
    const auto* descr = py::detail::array_descriptor_proxy(a->descr);
    const int type_num = descr->type_num;
    if ((type_num != py::detail::npy_api::NPY_FLOAT_ &&
         type_num != py::detail::npy_api::NPY_DOUBLE_) ||
        descr->byteorder == '>') {  // (this module is built for little-endian machines)
      return py::none();
    }
    const bool f32 = type_num == py::detail::npy_api::NPY_FLOAT_;
    const py::ssize_t item = f32 ? 4 : 8;
    if (a->strides[0] % item != 0 || a->strides[1] % item != 0) return py::none();
    const int K = f.NumOutputs();
    const py::ssize_t n = a->dimensions[0];
    Py_intptr_t shape[2] = {n, K};
    PyObject* made = api.PyArray_NewFromDescr_(
        api.PyArray_Type_, api.PyArray_DescrFromType_(py::detail::npy_api::NPY_DOUBLE_),
        K == 1 ? 1 : 2, shape, nullptr, nullptr, 0, nullptr);
    if (made == nullptr) throw py::error_already_set();
    py::object out = py::reinterpret_steal<py::object>(made);
    double* o = reinterpret_cast<double*>(py::detail::array_proxy(made)->data);
    const double* in = init.data();
    const auto run = [&](auto view) {
      // Safe: the forest is immutable and shared read-only; x, init and out are referenced
      // here and only their buffers are touched.
      py::gil_scoped_release release;
      for (py::ssize_t r = 0; r < n; ++r) {
        for (int k = 0; k < K; ++k) o[r * K + k] = in[k];
      }
      f.PredictRaw(view, tree_begin, tree_end, o, n_threads);
      if (transform) obj.Transform(o, n, n < 4096 ? 1 : n_threads);
    };
    const auto view = [&](auto* data) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
      MatrixView<T> v;
      v.data = data;
      v.rows = n;
      v.cols = a->dimensions[1];
      v.row_stride = a->strides[0] / item;
      v.col_stride = a->strides[1] / item;
      return v;
    };
    if (f32) {
      run(view(reinterpret_cast<const float*>(a->data)));
    } else {
      run(view(reinterpret_cast<const double*>(a->data)));
    }
    return out;
  }
};

}  // namespace

void BindPredict(py::module_& m) {
  py::class_<Scorer>(m, "Scorer")
      .def("predict", &Scorer::Predict, py::arg("X"), py::arg("n_threads"),
           "init_score + the trees' margins of X (2-D float32 / float64 of the forest's width), "
           "then the link when the scorer was made for 'value'; None for any other X.");
  py::class_<Forest, std::shared_ptr<Forest>>(m, "Forest")
      .def(py::init([](const py::list& trees,
                       const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>&
                           tree_output,
                       int num_outputs, int num_features) {
             std::vector<Tree> ts;
             ts.reserve(trees.size());
             for (const auto& t : trees) {
               if (!py::isinstance<py::dict>(t)) throw ModelFormatError("each tree must be a dict");
               ts.push_back(TreeFromDict(t.cast<py::dict>()));
             }
             std::vector<std::int32_t> to(tree_output.data(),
                                          tree_output.data() + tree_output.size());
             // Safe: only C++ objects owned by this frame are touched while packing.
             py::gil_scoped_release release;
             return std::make_shared<Forest>(ts, std::move(to), num_outputs, num_features);
           }),
           py::arg("trees"), py::arg("tree_output"), py::arg("num_outputs"),
           py::arg("num_features"))
      .def_property_readonly("num_trees", &Forest::NumTrees)
      .def_property_readonly("num_outputs", &Forest::NumOutputs)
      .def_property_readonly("num_features", &Forest::NumFeatures)
      .def_property_readonly("max_depth", &Forest::MaxDepth)
      .def_property_readonly("has_special_splits", &Forest::HasSpecialSplits)
      .def(
          "set_kernel",
          [](Forest& f, const std::string& name) { f.SetKernel(ParseKernelChoice(name)); },
          py::arg("name"),
          "Choose this forest's rank-coded kernels: 'auto' and 'bitvector-avx512' (batches: the "
          "AVX-512 row-mask kernel, or the AVX2 bit-vector kernel where the CPU lacks AVX-512, "
          "trees of more than 256 leaves walked on two-level nodes; few rows: the AVX-512 "
          "QuickScorer for trees of at most 64 leaves on at most 64 features, else the AVX2 "
          "tree lock step; the default), 'bitvector-avx2' (batches: the AVX2 bit-vector kernel; "
          "few rows: the AVX2 tree lock step), 'lockstep-avx2' (batches walk two-level nodes; "
          "few rows: the AVX2 tree lock step) or 'super' (no AVX2: batches walk two-level "
          "nodes, few rows the float walk); forests whose every tree is oblivious (symmetric) are "
          "scored under 'auto' by the oblivious predictor (AVX-512, else AVX2, else portable; "
          "'oblivious-avx2' and 'oblivious-portable' cap its instruction set). Each SIMD kernel needs the CPU's AVX2 (AVX-512) and "
          "the forest's layout. Other forests are not affected; kernel / single_row_kernel say "
          "what runs.")
      .def_property_readonly(
          "kernel_choice", [](const Forest& f) { return KernelChoiceName(f.GetKernel()); },
          "The name set_kernel was given ('auto' unless changed).")
      .def_property_readonly("kernel", &Forest::Kernel)
      .def_property_readonly("single_row_kernel", &Forest::SingleRowKernel)
      .def(
          "predict_raw",
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end,
             py::array_t<double> out, int n_threads) {
            CheckRows(x);
            if (!(out.flags() & py::array::c_style) || out.ndim() != 2 ||
                out.shape(0) != x.shape(0) || out.shape(1) != f.NumOutputs()) {
              throw DataError("out must be a C-contiguous (n_rows, num_outputs) float64 array");
            }
            double* o = out.mutable_data();
            WithMatrix(x, "X", [&](auto view) {
              // Safe: the forest is immutable and shared read-only; x and out are kept alive by
              // the caller and only their buffers are touched.
              py::gil_scoped_release release;
              f.PredictRaw(view, tree_begin, tree_end, o, n_threads);
            });
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("out"),
          py::arg("n_threads"))
      .def(
          "predict",
          // The whole of Booster.predict for "value"/"raw" in one call, so a single row costs
          // one Python -> C++ crossing: out = init_score + margins, then the link if asked.
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             const std::string& objective, int num_class, bool transform, int n_threads) {
            CheckRows(x);
            return ScoreOut(f, x.shape(0), init_score, objective, num_class, transform,
                            n_threads, [&](auto&& fill_init, double* o) {
              WithMatrix(x, "X", [&](auto view) {
                py::gil_scoped_release release;  // see predict_raw
                fill_init();
                f.PredictRaw(view, tree_begin, tree_end, o, n_threads);
              });
            });
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"),
          py::arg("objective"), py::arg("num_class"), py::arg("transform"),
          py::arg("n_threads"))
      .def(
          "scorer",
          [](const std::shared_ptr<Forest>& f, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             const std::string& objective, int num_class, bool transform) {
            const int K = f->NumOutputs();
            if (init_score.ndim() != 1 || init_score.size() != K) {
              throw ModelFormatError("init_score has " + std::to_string(init_score.size()) +
                                     " entries for " + std::to_string(K) + " outputs");
            }
            Objective obj(ParseObjective(objective), num_class);
            if (obj.NumOutputs() != K) throw ModelFormatError("num_class does not match the trees");
            return Scorer{f, tree_begin, tree_end, init_score, obj, transform};
          },
          py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"), py::arg("objective"),
          py::arg("num_class"), py::arg("transform"),
          "A Scorer: predict(X, ...) with these arguments fixed, for calls of a few rows.")
      .def_property_readonly("columns_kernel", &Forest::ColumnsKernel)
      .def(
          "predict_columns",
          // predict for float32 features held as separate 1-D arrays (a scoring job's Arrow
          // buffers), read in place; only where columns_kernel is true.
          [](const Forest& f, const py::list& columns, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             const std::string& objective, int num_class, bool transform, int n_threads) {
            if (static_cast<int>(columns.size()) != f.NumFeatures()) {
              throw DataError("got " + std::to_string(columns.size()) + " columns for " +
                              std::to_string(f.NumFeatures()) + " features");
            }
            std::vector<py::array> keep;  // the arrays stay referenced through the call
            std::vector<const float*> ptr;
            py::ssize_t n = -1;
            for (std::size_t j = 0; j < columns.size(); ++j) {
              py::array a = py::reinterpret_borrow<py::object>(columns[j]);
              const bool ok = py::isinstance<py::array_t<float>>(columns[j]) &&
                              a.dtype().kind() == 'f' && a.itemsize() == 4 && a.ndim() == 1 &&
                              (a.shape(0) < 2 || a.strides(0) == 4);
              if (!ok) {
                throw DataError("column " + std::to_string(j) +
                                " must be a contiguous 1-D float32 array");
              }
              if (n >= 0 && a.shape(0) != n) {
                throw DataError("column " + std::to_string(j) + " has " +
                                std::to_string(a.shape(0)) + " rows, column 0 has " +
                                std::to_string(n));
              }
              n = a.shape(0);
              ptr.push_back(static_cast<const float*>(a.data()));
              keep.push_back(std::move(a));
            }
            if (n < 0) n = 0;
            return ScoreOut(f, n, init_score, objective, num_class, transform, n_threads,
                            [&](auto&& fill_init, double* o) {
              py::gil_scoped_release release;
              fill_init();
              f.PredictRawColumns(ptr.data(), n, tree_begin, tree_end, o, n_threads);
            });
          },
          py::arg("columns"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"),
          py::arg("objective"), py::arg("num_class"), py::arg("transform"),
          py::arg("n_threads"))
      .def(
          "predict_leaf",
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end, int n_threads) {
            CheckRows(x);
            py::array_t<std::int32_t> out(
                {x.shape(0), static_cast<py::ssize_t>(std::max(0, tree_end - tree_begin))});
            std::int32_t* o = out.mutable_data();
            WithMatrix(x, "X", [&](auto view) {
              py::gil_scoped_release release;  // see predict_raw
              f.PredictLeaf(view, tree_begin, tree_end, o, n_threads);
            });
            return out;
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("n_threads"))
      .def(
          "predict_contrib",
          // (n, K, F + 1) contributions; the bias column holds init_score + expected values.
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             int n_threads) {
            CheckRows(x);
            const int K = f.NumOutputs();
            const py::ssize_t F1 = f.NumFeatures() + 1;
            if (init_score.size() != K) {
              throw ModelFormatError("init_score has " + std::to_string(init_score.size()) +
                                     " entries for " + std::to_string(K) + " outputs");
            }
            py::array_t<double> out({x.shape(0), static_cast<py::ssize_t>(K), F1});
            double* o = out.mutable_data();
            const double* init = init_score.data();
            WithMatrix(x, "X", [&](auto view) {
              py::gil_scoped_release release;  // see predict_raw
              const std::int64_t n = view.rows;
              std::fill(o, o + n * K * F1, 0.0);
              for (std::int64_t r = 0; r < n; ++r) {
                for (int k = 0; k < K; ++k) o[(r * K + k) * F1 + F1 - 1] = init[k];
              }
              f.PredictContrib(view, tree_begin, tree_end, o, n_threads);
            });
            return out;
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"),
          py::arg("n_threads"));
}

}  // namespace sapwood::bindings
