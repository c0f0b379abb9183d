#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/predict.hpp"

namespace sapwood::bindings {

void BindPredict(py::module_& m) {
  py::class_<Forest, std::shared_ptr<Forest>>(m, "Forest")
      .def(py::init([](const py::list& trees, const py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>& tree_output,
                       int num_outputs, int num_features) {
             std::vector<Tree> ts;
             for (const auto& t : trees) {
               if (!py::isinstance<py::dict>(t)) throw ModelFormatError("each tree must be a dict");
               ts.push_back(TreeFromDict(t.cast<py::dict>()));
             }
             std::vector<std::int32_t> to(tree_output.data(), tree_output.data() + tree_output.size());
             return std::make_shared<Forest>(ts, std::move(to), num_outputs, num_features);
           }),
           py::arg("trees"), py::arg("tree_output"), py::arg("num_outputs"), py::arg("num_features"))
      .def_property_readonly("num_trees", &Forest::NumTrees)
      .def_property_readonly("num_outputs", &Forest::NumOutputs)
      .def_property_readonly("num_features", &Forest::NumFeatures)
      .def(
          "predict_raw",
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end,
             py::array_t<double> out, int n_threads) {
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
          "predict_leaf",
          [](const Forest& f, const py::array& x, int tree_begin, int tree_end, int n_threads) {
            py::array_t<std::int32_t> out({x.shape(0), static_cast<py::ssize_t>(std::max(0, tree_end - tree_begin))});
            std::int32_t* o = out.mutable_data();
            WithMatrix(x, "X", [&](auto view) {
              py::gil_scoped_release release;  // see predict_raw
              f.PredictLeaf(view, tree_begin, tree_end, o, n_threads);
            });
            return out;
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("n_threads"));
}

}  // namespace sapwood::bindings
