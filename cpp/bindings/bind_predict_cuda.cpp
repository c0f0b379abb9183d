// sapwood._core.CudaForest / DeviceArray / cuda_available: the GPU predictor (predict_cuda.hpp).
// In a build without CUDA these exist too and raise a clear SapwoodError when used.
#include <pybind11/stl.h>

#include "common.hpp"
#include "sapwood/forest.hpp"
#include "sapwood/predict_cuda.hpp"

namespace sapwood::bindings {

namespace {

// A float64 device array owned by C++, exposed through __cuda_array_interface__ (v3), so
// CuPy, Numba, PyTorch and others read it in place.
struct DeviceArray {
  std::shared_ptr<CudaBuffer> buffer;
  std::vector<py::ssize_t> shape;
};

std::int64_t Stride(const py::object& strides, std::size_t i, std::int64_t contiguous,
                    std::int64_t itemsize) {
  if (strides.is_none()) return contiguous;
  const auto t = strides.cast<std::vector<std::int64_t>>();
  if (t.size() != 2) throw DataError("X's __cuda_array_interface__ strides must have 2 entries");
  if (t[i] % itemsize != 0 || t[i] < 0) throw DataError("X has unaligned or negative strides");
  return t[i] / itemsize;
}

}  // namespace

void BindPredictCuda(py::module_& m) {
  m.def(
      "cuda_available",
      []() {
        std::string why;
        const bool ok = CudaAvailable(&why);
        return py::make_tuple(ok, why);
      },
      "(available, reason): whether device='cuda' can run here, and why not");

  py::class_<DeviceArray>(m, "DeviceArray")
      .def_property_readonly("shape", [](const DeviceArray& a) { return py::tuple(py::cast(a.shape)); })
      .def_property_readonly(
          "__cuda_array_interface__",
          [](const DeviceArray& a) {
            py::dict d;
            d["shape"] = py::tuple(py::cast(a.shape));
            d["typestr"] = "<f8";
            d["data"] = py::make_tuple(reinterpret_cast<std::uintptr_t>(a.buffer->Data()), false);
            d["strides"] = py::none();
            d["version"] = 3;
            d["stream"] = py::none();  // complete when returned: nothing to wait for
            return d;
          })
      .def("get", [](const DeviceArray& a) {
        py::array_t<double> out(a.shape);
        double* o = out.mutable_data();
        // Safe: only the C++ buffer and the new array's memory are touched.
        py::gil_scoped_release release;
        a.buffer->CopyToHost(o);
        return out;
      }, "copy to a numpy array");

  py::class_<CudaForest, std::shared_ptr<CudaForest>>(m, "CudaForest")
      .def(py::init([](const Forest& f) {
             // Safe: the forest is immutable; only its arrays are read while copying.
             py::gil_scoped_release release;
             return std::make_shared<CudaForest>(f);
           }),
           py::arg("forest"))
      .def_property_readonly("num_outputs", &CudaForest::NumOutputs)
      .def_property_readonly("device", &CudaForest::Device)
      .def(
          "predict",
          [](const CudaForest& f, const py::array& x, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             int transform) {
            if (x.ndim() != 2) throw DataError("X must be 2-D (rows x features)");
            const int K = f.NumOutputs();
            if (init_score.size() != K) throw ModelFormatError("init_score size != outputs");
            py::array_t<double> out =
                K == 1 ? py::array_t<double>(x.shape(0))
                       : py::array_t<double>({x.shape(0), static_cast<py::ssize_t>(K)});
            double* o = out.mutable_data();
            const double* init = init_score.data();
            WithMatrix(x, "X", [&](auto view) {
              // Safe: the device forest is immutable and its staging buffers are guarded by a
              // mutex; x and out are kept alive by the caller.
              py::gil_scoped_release release;
              f.PredictHost(view, tree_begin, tree_end, init, transform, o);
            });
            return out;
          },
          py::arg("X"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"),
          py::arg("transform"))
      .def(
          "predict_device",
          [](const CudaForest& f, std::uintptr_t ptr, const std::string& typestr,
             const std::vector<std::int64_t>& shape, const py::object& strides,
             std::uintptr_t stream, int tree_begin, int tree_end,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& init_score,
             int transform) {
            if (shape.size() != 2) throw DataError("X must be 2-D (rows x features)");
            const bool is_double = typestr == "<f8";
            if (!is_double && typestr != "<f4") {
              throw DataError("X on the device must be float32 or float64, got typestr " +
                              typestr);
            }
            const int K = f.NumOutputs();
            if (init_score.size() != K) throw ModelFormatError("init_score size != outputs");
            const std::int64_t item = is_double ? 8 : 4;
            const std::int64_t rs = Stride(strides, 0, shape[1], item);
            const std::int64_t cs = Stride(strides, 1, 1, item);
            DeviceArray out;
            out.shape = K == 1 ? std::vector<py::ssize_t>{static_cast<py::ssize_t>(shape[0])}
                               : std::vector<py::ssize_t>{static_cast<py::ssize_t>(shape[0]),
                                                          static_cast<py::ssize_t>(K)};
            const double* init = init_score.data();
            {
              // Safe: only device memory and this frame's C++ objects are touched.
              py::gil_scoped_release release;
              out.buffer = std::make_shared<CudaBuffer>(
                  static_cast<std::size_t>(std::max<std::int64_t>(shape[0], 0)) * K *
                  sizeof(double));
              f.PredictDevice(reinterpret_cast<const void*>(ptr), is_double, shape[0], shape[1],
                              rs, cs, tree_begin, tree_end, init, transform,
                              static_cast<double*>(out.buffer->Data()), stream);
            }
            return out;
          },
          py::arg("ptr"), py::arg("typestr"), py::arg("shape"), py::arg("strides"),
          py::arg("stream"), py::arg("tree_begin"), py::arg("tree_end"), py::arg("init_score"),
          py::arg("transform"));
}

}  // namespace sapwood::bindings
