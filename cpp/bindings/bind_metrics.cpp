#include "common.hpp"
#include "sapwood/metrics.hpp"

namespace sapwood::bindings {

namespace {

using Vec = py::array_t<double, py::array::c_style | py::array::forcecast>;

Vec Vector(const py::object& o, const char* name, py::ssize_t n) {
  Vec a = Vec::ensure(o);
  if (!a) throw DataError(std::string(name) + " must be a numeric array");
  if (a.ndim() != 1) throw DataError(std::string(name) + " must be 1-D");
  if (n >= 0 && a.shape(0) != n) {
    throw DataError(std::string(name) + " has " + std::to_string(a.shape(0)) +
                    " rows, expected " + std::to_string(n));
  }
  return a;
}

}  // namespace

void BindMetrics(py::module_& m) {
  m.def(
      "ranking_metrics",
      [](const py::object& y, const py::object& score, const py::object& weight) {
        Vec s = Vector(score, "y_score", -1);
        Vec l = Vector(y, "y_true", s.shape(0));
        Vec w;
        if (!weight.is_none()) w = Vector(weight, "sample_weight", s.shape(0));
        const double* wp = weight.is_none() ? nullptr : w.data();
        RankingMetrics r;
        {
          // Safe: only the three arrays' buffers are read; they are kept alive by s, l and w.
          py::gil_scoped_release release;
          r = ComputeRankingMetrics(s.data(), l.data(), wp, s.shape(0));
        }
        return py::make_tuple(r.roc_auc, r.average_precision);
      },
      py::arg("y_true"), py::arg("y_score"), py::arg("sample_weight") = py::none(),
      "(roc_auc, average_precision) of binary scores in O(n log n).");
}

}  // namespace sapwood::bindings
