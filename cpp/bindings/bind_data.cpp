// Column-wise binning for sapwood.data: frames arrive as separate 1-D columns (views into
// pandas/Arrow/polars buffers, not copied), and streamed inputs (Parquet record batches) are
// binned batch by batch into a preallocated matrix.
#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/binning.hpp"
#include "sapwood/dataset.hpp"

namespace sapwood::bindings {

namespace {

ColumnView ColumnOf(const py::array& a, std::size_t index) {
  const std::string name = "column " + std::to_string(index);
  if (a.ndim() != 1) throw DataError(name + " must be 1-D");
  ColumnView c;
  c.rows = a.shape(0);
  if (a.dtype().kind() == 'f' && a.itemsize() == 4) {
    c.f32 = static_cast<const float*>(a.data());
  } else if (a.dtype().kind() == 'f' && a.itemsize() == 8) {
    c.f64 = static_cast<const double*>(a.data());
  } else {
    throw DataError(name + " must be float32 or float64, got dtype " +
                    std::string(py::str(a.dtype())));
  }
  if (!a.dtype().attr("isnative").cast<bool>()) throw DataError(name + " is not native-endian");
  if (a.strides(0) % a.itemsize() != 0) throw DataError(name + " has an unaligned stride");
  c.stride = a.strides(0) / a.itemsize();
  return c;
}

std::vector<ColumnView> ColumnsOf(const std::vector<py::array>& cols) {
  std::vector<ColumnView> out;
  out.reserve(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) out.push_back(ColumnOf(cols[i], i));
  return out;
}

BinMapper MapperOf(const std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>>& edges,
                   const std::vector<int>& num_cats) {
  if (!num_cats.empty() && num_cats.size() != edges.size()) {
    throw ModelFormatError("num_cats has " + std::to_string(num_cats.size()) + " entries for " +
                           std::to_string(edges.size()) + " features");
  }
  std::vector<FeatureBins> fbs;
  for (std::size_t f = 0; f < edges.size(); ++f) {
    FeatureBins fb;
    const int nc = num_cats.empty() ? -1 : num_cats[f];
    if (nc >= 0) {
      if (nc > 65534) throw ModelFormatError("feature " + std::to_string(f) + " has too many categories");
      fb.num_cats = nc;
    } else {
      const auto& e = edges[f];
      fb.edges.assign(e.data(), e.data() + e.size());
      for (std::size_t i = 0; i + 1 < fb.edges.size(); ++i) {
        if (!(fb.edges[i] < fb.edges[i + 1])) {
          throw ModelFormatError("bin edges must be strictly increasing");
        }
      }
    }
    fbs.push_back(std::move(fb));
  }
  return BinMapper(std::move(fbs));
}

}  // namespace

void BindData(py::module_& m) {
  m.def(
      "fit_bin_edges_columns",
      [](const std::vector<py::array>& cols, const std::vector<int>& num_cats, int max_bin,
         std::int64_t sample_rows, std::uint64_t seed, int n_threads) {
        BinningParams p;
        p.max_bin = max_bin;
        p.sample_rows = sample_rows;
        p.seed = seed;
        p.n_threads = n_threads;
        const std::vector<ColumnView> views = ColumnsOf(cols);
        BinMapper mapper;
        {
          // Safe: the arrays are held by `cols` for the whole call; no Python object is touched.
          py::gil_scoped_release release;
          mapper = BinMapper::FitColumns(views, num_cats, p);
        }
        py::list out;
        for (const auto& f : mapper.Features()) out.append(ToArray(f.edges));
        return out;
      },
      py::arg("columns"), py::arg("num_cats"), py::arg("max_bin"), py::arg("sample_rows"),
      py::arg("seed"), py::arg("n_threads"),
      "Quantile bin edges of each column (empty for categorical columns, num_cats >= 0).");

  m.def(
      "binned_allocate",
      [](std::int64_t rows,
         const std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>>& edges,
         const std::vector<int>& num_cats) {
        BinMapper mapper = MapperOf(edges, num_cats);
        // Safe: only C++ memory is allocated.
        py::gil_scoped_release release;
        return BinnedMatrix::Allocate(rows, mapper);
      },
      py::arg("rows"), py::arg("edges"), py::arg("num_cats"));

  m.def(
      "binned_fill_columns",
      [](BinnedMatrix& bm, std::int64_t row_offset, const std::vector<py::array>& cols,
         int n_threads) {
        if (static_cast<int>(cols.size()) != bm.NumFeatures()) {
          throw DataError("got " + std::to_string(cols.size()) + " columns for a matrix of " +
                          std::to_string(bm.NumFeatures()) + " features");
        }
        const std::vector<ColumnView> views = ColumnsOf(cols);
        // Safe: the arrays are held by `cols`; the matrix is not shared with a running trainer
        // (the Python layer fills it before training starts).
        py::gil_scoped_release release;
        bm.FillColumns(row_offset, views, n_threads);
      },
      py::arg("matrix"), py::arg("row_offset"), py::arg("columns"), py::arg("n_threads"),
      "Bins one batch of columns into rows [row_offset, row_offset + batch rows).");

  m.def(
      "lookup_bins",
      [](const py::array_t<float, py::array::c_style | py::array::forcecast>& values,
         const py::array_t<float, py::array::c_style | py::array::forcecast>& edges) {
        std::vector<py::array_t<float, py::array::c_style | py::array::forcecast>> e{edges};
        const BinLookup lookup(MapperOf(e, {}).Feature(0));
        py::array_t<std::int32_t> out(values.size());
        const float* v = values.data();
        std::int32_t* o = out.mutable_data();
        // Safe: both arrays are held by the caller's frame; no Python object is touched.
        py::gil_scoped_release release;
        for (py::ssize_t i = 0; i < values.size(); ++i) o[i] = lookup.Bin(v[i]);
        return out;
      },
      py::arg("values"), py::arg("edges"),
      "Bins of values through the table lookup used for large matrices (tests).");
}

}  // namespace sapwood::bindings
