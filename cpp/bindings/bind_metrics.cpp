#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/metrics.hpp"
#include "sapwood/threading.hpp"

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

  m.def(
      "query_metric",
      [](const std::string& kind, const py::object& y, const py::object& score,
         const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& bounds,
         std::int64_t k, const std::vector<double>& gain, int n_jobs) {
        Vec s = Vector(score, "y_score", -1);
        Vec l = Vector(y, "y_true", s.shape(0));
        if (bounds.ndim() != 1 || bounds.size() < 1 || bounds.data()[bounds.size() - 1] !=
                                                           static_cast<std::int64_t>(s.shape(0))) {
          throw DataError("query bounds must end at the row count (" +
                          std::to_string(s.shape(0)) + ")");
        }
        const std::int64_t nq = bounds.size() - 1;
        py::array_t<double> out(nq);
        double* o = out.mutable_data();
        const int threads = ResolveThreads(n_jobs);
        {
          // Safe: only the arrays' buffers (kept alive by s, l, bounds, out) are touched.
          py::gil_scoped_release release;
          if (kind == "ndcg") {
            QueryNdcg(s.data(), l.data(), bounds.data(), nq, k, gain, o, threads);
          } else if (kind == "map") {
            QueryAveragePrecision(s.data(), l.data(), bounds.data(), nq, k, o, threads);
          } else {
            throw ParameterError("query_metric: kind must be 'ndcg' or 'map'");
          }
        }
        return out;
      },
      py::arg("kind"), py::arg("y_true"), py::arg("y_score"), py::arg("bounds"), py::arg("k"),
      py::arg("gain"), py::arg("n_jobs") = 1,
      "Per-query NDCG@k or MAP@k (k <= 0: every position).");

  m.def(
      "concordance_index",
      [](const py::object& y, const py::object& risk, const py::object& weight) {
        Vec r = Vector(risk, "risk", -1);
        Vec l = Vector(y, "y_true", r.shape(0));
        Vec w;
        if (!weight.is_none()) w = Vector(weight, "sample_weight", r.shape(0));
        const double* wp = weight.is_none() ? nullptr : w.data();
        py::gil_scoped_release release;  // Safe: only the arrays' buffers are read.
        return ConcordanceIndex(r.data(), l.data(), wp, r.shape(0));
      },
      py::arg("y_true"), py::arg("risk"), py::arg("sample_weight") = py::none(),
      "Harrell's concordance index of right-censored data (negative label = censored).");
}

}  // namespace sapwood::bindings
