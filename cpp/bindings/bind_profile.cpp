// Bindings of the one-pass column profiler (sapwood.Profile is the public face).
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "sapwood/profile.hpp"

namespace sapwood::bindings {
namespace {

ColumnType TypeOf(const py::array& a, std::size_t j) {
  const char kind = a.dtype().kind();
  const auto size = a.itemsize();
  if (!a.dtype().attr("isnative").cast<bool>()) {
    throw DataError("column " + std::to_string(j) + " is not in native byte order");
  }
  if (kind == 'f' && size == 4) return ColumnType::kFloat32;
  if (kind == 'f' && size == 8) return ColumnType::kFloat64;
  if (kind == 'i') {
    if (size == 1) return ColumnType::kInt8;
    if (size == 2) return ColumnType::kInt16;
    if (size == 4) return ColumnType::kInt32;
    if (size == 8) return ColumnType::kInt64;
  }
  if (kind == 'u' || kind == 'b') {
    if (size == 1) return ColumnType::kUInt8;
    if (size == 2) return ColumnType::kUInt16;
    if (size == 4) return ColumnType::kUInt32;
    if (size == 8) return ColumnType::kUInt64;
  }
  throw DataError("column " + std::to_string(j) + " has unsupported dtype " +
                  std::string(py::str(a.dtype())));
}

// The exact sum as a Python int: the integer  sum * 2^kScaleBits.
template <class S>
py::object IntOf(S& s, const py::object& from_bytes) {
  std::vector<std::uint8_t> b = s.ToBytes();
  py::object v = from_bytes(py::bytes(reinterpret_cast<const char*>(b.data()), b.size()),
                            "little", py::arg("signed") = true);
  return s.BaseBit() == 0 ? v : v.attr("__lshift__")(s.BaseBit());
}

}  // namespace

void BindProfile(py::module_& m) {
  m.attr("exact_sum_scale_bits") = ExactSum::kScaleBits;
  m.attr("exact_sum_sq_scale_bits") = ExactSumSq::kScaleBits;
  m.def(
      "profile_numeric",
      [](const py::list& columns, std::int64_t rows, const py::list& edges,
         const py::list& extra_edges, int fine_bins, std::int64_t sample_rows,
         std::uint64_t seed, int n_threads, const std::string& kernel) {
        const std::size_t m = columns.size();
        if (edges.size() != m || extra_edges.size() != m) {
          throw ParameterError("profile_numeric: one edges entry per column is required");
        }
        std::vector<py::array> keep;  // holds the arrays while the GIL is released
        std::vector<ColumnRef> refs;
        std::vector<std::optional<std::vector<float>>> e(m);
        std::vector<std::vector<float>> extra(m);
        for (std::size_t j = 0; j < m; ++j) {
          if (!py::isinstance<py::array>(columns[j])) {
            throw DataError("column " + std::to_string(j) + " is not a numpy array");
          }
          py::array a = py::reinterpret_borrow<py::array>(columns[j]);
          if (a.ndim() != 1) throw DataError("column " + std::to_string(j) + " must be 1-D");
          if (a.shape(0) != rows) {
            throw DataError("column " + std::to_string(j) + " has " + std::to_string(a.shape(0)) +
                            " rows, expected " + std::to_string(rows));
          }
          ColumnRef r;
          r.type = TypeOf(a, j);
          r.data = a.data();
          if (a.strides(0) % static_cast<py::ssize_t>(a.itemsize()) != 0) {
            throw DataError("column " + std::to_string(j) + " has unaligned strides");
          }
          r.stride = a.strides(0) / static_cast<py::ssize_t>(a.itemsize());
          refs.push_back(r);
          keep.push_back(a);
          auto as_edges = [&](const py::handle& h) {
            auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(h);
            if (!arr || arr.ndim() != 1) {
              throw DataError("bin edges of column " + std::to_string(j) + " must be 1-D");
            }
            return std::vector<float>(arr.data(), arr.data() + arr.size());
          };
          if (!edges[j].is_none()) e[j] = as_edges(edges[j]);
          if (!extra_edges[j].is_none()) extra[j] = as_edges(extra_edges[j]);
        }
        ProfileParams p;
        if (kernel == "auto") {
          p.kernel = ProfileKernel::kAuto;
        } else if (kernel == "portable") {
          p.kernel = ProfileKernel::kPortable;
        } else if (kernel == "avx512") {
          p.kernel = ProfileKernel::kAvx512;
        } else {
          throw ParameterError("profile kernel must be 'auto', 'portable' or 'avx512', got '" +
                               kernel + "'");
        }
        p.fine_bins = fine_bins;
        p.sample_rows = sample_rows;
        p.seed = seed;
        p.n_threads = n_threads;
        std::vector<NumericStats> stats;
        {
          // Releasing the GIL is safe: `keep` holds every input array and the work touches
          // no Python object.
          py::gil_scoped_release release;
          stats = ProfileNumeric(refs, rows, std::move(e), std::move(extra), p);
        }
        // One small tuple per column (a dict each cost ~0.6 KB more), and each column's C++
        // buffers are released as soon as they are converted.
        const py::object from_bytes =
            py::module_::import("builtins").attr("int").attr("from_bytes");
        py::list out(stats.size());
        for (std::size_t j = 0; j < stats.size(); ++j) {
          NumericStats& s = stats[j];
          out[j] = py::make_tuple(ToArray(s.edges), ToArray(s.counts), s.nan_count,
                                  s.neg_inf_count, s.pos_inf_count, s.finite_count, s.min, s.max,
                                  IntOf(s.sum, from_bytes), IntOf(s.sum_sq, from_bytes));
          s = NumericStats();
        }
        return out;
      },
      py::arg("columns"), py::arg("rows"), py::arg("edges"), py::arg("extra_edges"),
      py::arg("fine_bins"), py::arg("sample_rows"), py::arg("seed"), py::arg("n_threads"),
      py::arg("kernel") = "auto",
      "Profiles 1-D numeric columns in one pass: a list of tuples (edges, counts, null_count, "
      "neg_inf_count, pos_inf_count, finite_count, min, max, sum, sum_sq), the sums as exact "
      "ints scaled by 2^exact_sum[_sq]_scale_bits. kernel: 'auto' (AVX-512 where the CPU has "
      "it), 'portable' or 'avx512'; all give the same profile.");
  m.def("profile_avx512_available", &ProfileAvx512Available,
        "Whether this CPU runs profile_numeric's AVX-512 path.");
}

}  // namespace sapwood::bindings
