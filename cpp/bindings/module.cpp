// The one private extension module, sapwood._core. Users see only the Python classes in
// python/sapwood/, never these types.
#include <pybind11/pybind11.h>

#include "sapwood/error.hpp"

namespace py = pybind11;

namespace sapwood::bindings {
void BindBinning(py::module_& m);
void BindTraining(py::module_& m);
void BindPredict(py::module_& m);
void BindProfile(py::module_& m);
void BindMetrics(py::module_& m);
void BindData(py::module_& m);
void BindPredictCuda(py::module_& m);
}  // namespace sapwood::bindings

namespace {

void Raise(const char* cls, const char* what) {
  py::object errors = py::module_::import("sapwood.errors");
  py::object type = errors.attr(cls);
  PyErr_SetString(type.ptr(), what);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "sapwood's compiled core (private: use the sapwood package)";
#ifdef SAPWOOD_VERSION
  m.attr("__version__") = SAPWOOD_VERSION;
#endif
#ifdef SAPWOOD_CUDA
  m.attr("cuda_compiled") = true;
#else
  m.attr("cuda_compiled") = false;
#endif
#ifdef SAPWOOD_OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const sapwood::ParameterError& e) {
      Raise("ParameterError", e.what());
    } catch (const sapwood::DataError& e) {
      Raise("DataError", e.what());
    } catch (const sapwood::ModelFormatError& e) {
      Raise("ModelFormatError", e.what());
    } catch (const sapwood::Error& e) {
      Raise("SapwoodError", e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "sapwood: out of memory");
    }
  });
  sapwood::bindings::BindBinning(m);
  sapwood::bindings::BindTraining(m);
  sapwood::bindings::BindPredict(m);
  sapwood::bindings::BindProfile(m);
  sapwood::bindings::BindMetrics(m);
  sapwood::bindings::BindData(m);
  sapwood::bindings::BindPredictCuda(m);
}
