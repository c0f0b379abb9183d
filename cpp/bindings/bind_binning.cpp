#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/binning.hpp"
#include "sapwood/dataset.hpp"

namespace sapwood::bindings {

py::dict TreeToDict(const Tree& t) {
  py::dict d;
  d["feature"] = ToArray(t.feature);
  d["threshold"] = ToArray(t.threshold);
  d["threshold_bin"] = ToArray(t.threshold_bin);
  d["default_left"] = ToArray(t.default_left);
  d["left"] = ToArray(t.left);
  d["right"] = ToArray(t.right);
  d["value"] = ToArray(t.value);
  d["gain"] = ToArray(t.gain);
  d["hess"] = ToArray(t.hess);
  d["count"] = ToArray(t.count);
  if (!t.split_type.empty()) {
    d["split_type"] = ToArray(t.split_type);
    d["cat_begin"] = ToArray(t.cat_begin);
    d["cat_size"] = ToArray(t.cat_size);
    d["cat_bits"] = ToArray(t.cat_bits);
  }
  return d;
}

Tree TreeFromDict(const py::dict& d) {
  Tree t;
  t.feature = FromArray<std::int32_t>(d, "feature", 0, false);
  const std::size_t n = t.feature.size();
  t.threshold = FromArray<float>(d, "threshold", n, true);
  t.default_left = FromArray<std::uint8_t>(d, "default_left", n, true);
  t.left = FromArray<std::int32_t>(d, "left", n, true);
  t.right = FromArray<std::int32_t>(d, "right", n, true);
  t.value = FromArray<double>(d, "value", n, true);
  auto opt = [&](const char* key, auto& field, auto fill) {
    using V = typename std::decay_t<decltype(field)>::value_type;
    if (d.contains(key)) {
      field = FromArray<V>(d, key, n, true);
    } else {
      field.assign(n, fill);
    }
  };
  opt("threshold_bin", t.threshold_bin, std::int32_t{0});
  opt("gain", t.gain, 0.0);
  opt("hess", t.hess, 0.0);
  opt("count", t.count, std::int64_t{0});
  // Optional split kinds (imported models): absent means every split is numeric.
  if (d.contains("split_type")) {
    t.split_type = FromArray<std::uint8_t>(d, "split_type", n, true);
    opt("cat_begin", t.cat_begin, std::int32_t{0});
    opt("cat_size", t.cat_size, std::int32_t{0});
    if (d.contains("cat_bits")) t.cat_bits = FromArray<std::uint32_t>(d, "cat_bits", 0, false);
  }
  return t;
}

void BindBinning(py::module_& m) {
  m.def(
      "fit_bin_edges",
      [](const py::array& x, int max_bin, std::int64_t sample_rows, std::uint64_t seed,
         int n_threads) {
        BinningParams p;
        p.max_bin = max_bin;
        p.sample_rows = sample_rows;
        p.seed = seed;
        p.n_threads = n_threads;
        BinMapper mapper = WithMatrix(x, "X", [&](auto view) {
          // Releasing the GIL is safe: the array is kept alive by the caller's reference and
          // nothing here touches Python objects.
          py::gil_scoped_release release;
          return BinMapper::Fit(view, p);
        });
        py::list out;
        for (const auto& f : mapper.Features()) out.append(ToArray(f.edges));
        return out;
      },
      py::arg("X"), py::arg("max_bin"), py::arg("sample_rows"), py::arg("seed"),
      py::arg("n_threads"), "Quantile bin edges per column (list of float32 arrays).");

  py::class_<BinnedMatrix, std::shared_ptr<BinnedMatrix>>(m, "BinnedMatrix")
      .def_static(
          "from_dense",
          [](const py::array& x, const std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>>& edges,
             int n_threads) {
            std::vector<FeatureBins> fbs;
            for (const auto& e : edges) {
              FeatureBins fb;
              fb.edges.assign(e.data(), e.data() + e.size());
              for (std::size_t i = 0; i + 1 < fb.edges.size(); ++i) {
                if (!(fb.edges[i] < fb.edges[i + 1])) {
                  throw ModelFormatError("bin edges must be strictly increasing");
                }
              }
              fbs.push_back(std::move(fb));
            }
            BinMapper mapper(std::move(fbs));
            return WithMatrix(x, "X", [&](auto view) {
              py::gil_scoped_release release;  // see fit_bin_edges
              return BinnedMatrix::FromDense(view, mapper, n_threads);
            });
          },
          py::arg("X"), py::arg("edges"), py::arg("n_threads"))
      .def_property_readonly("num_rows", &BinnedMatrix::NumRows)
      .def_property_readonly("num_features", &BinnedMatrix::NumFeatures)
      .def_property_readonly("is_wide", &BinnedMatrix::IsWide)
      .def("to_numpy", [](const BinnedMatrix& b) {
        // A (rows x features) uint16 copy of the codes, for tests and inspection.
        py::array_t<std::uint16_t> out({static_cast<py::ssize_t>(b.NumRows()),
                                        static_cast<py::ssize_t>(b.NumFeatures())});
        auto r = out.mutable_unchecked<2>();
        for (int f = 0; f < b.NumFeatures(); ++f)
          for (std::int64_t i = 0; i < b.NumRows(); ++i)
            r(i, f) = static_cast<std::uint16_t>(b.BinAt(i, f));
        return out;
      });
}

}  // namespace sapwood::bindings
