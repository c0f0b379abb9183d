#pragma once
// Helpers shared by the bind_<area>.cpp files: array views and tree conversion.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "sapwood/error.hpp"
#include "sapwood/tree.hpp"
#include "sapwood/types.hpp"

namespace sapwood::bindings {

namespace py = pybind11;

template <class T>
MatrixView<T> ViewOf(const py::array& a, const char* name) {
  if (a.ndim() != 2) throw DataError(std::string(name) + " must be 2-D");
  MatrixView<T> v;
  v.data = static_cast<const T*>(a.data());
  v.rows = a.shape(0);
  v.cols = a.shape(1);
  v.row_stride = a.strides(0) / static_cast<py::ssize_t>(sizeof(T));
  v.col_stride = a.strides(1) / static_cast<py::ssize_t>(sizeof(T));
  if (a.strides(0) % static_cast<py::ssize_t>(sizeof(T)) != 0 ||
      a.strides(1) % static_cast<py::ssize_t>(sizeof(T)) != 0) {
    throw DataError(std::string(name) + " has unaligned strides");
  }
  return v;
}

// Calls fn(view) with a float32 or float64 view of a 2-D array (no copy).
template <class F>
auto WithMatrix(const py::array& a, const char* name, F&& fn) {
  if (py::isinstance<py::array_t<float>>(a) && a.dtype().kind() == 'f' && a.itemsize() == 4) {
    return fn(ViewOf<float>(a, name));
  }
  if (a.dtype().kind() == 'f' && a.itemsize() == 8) {
    return fn(ViewOf<double>(a, name));
  }
  throw DataError(std::string(name) + " must be float32 or float64, got dtype " +
                  std::string(py::str(a.dtype())));
}

template <class T>
py::array_t<T> ToArray(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

template <class T>
std::vector<T> FromArray(const py::dict& d, const char* key, std::size_t expect, bool check_len) {
  if (!d.contains(key)) throw ModelFormatError(std::string("tree field '") + key + "' is missing");
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(d[key]);
  if (!a) throw ModelFormatError(std::string("tree field '") + key + "' is not an array");
  if (a.ndim() != 1) throw ModelFormatError(std::string("tree field '") + key + "' must be 1-D");
  if (check_len && static_cast<std::size_t>(a.size()) != expect) {
    throw ModelFormatError(std::string("tree field '") + key + "' has " +
                           std::to_string(a.size()) + " entries, expected " +
                           std::to_string(expect));
  }
  return std::vector<T>(a.data(), a.data() + a.size());
}

py::dict TreeToDict(const Tree& t);
Tree TreeFromDict(const py::dict& d);

}  // namespace sapwood::bindings
