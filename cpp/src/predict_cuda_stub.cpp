// The CUDA predictor's entry points in a build without CUDA: each raises a clear error.
#ifndef SAPWOOD_CUDA
#include "sapwood/error.hpp"
#include "sapwood/predict_cuda.hpp"

namespace sapwood {

namespace {
[[noreturn]] void NoCuda() {
  throw Error(
      "device='cuda': this sapwood was built without CUDA (nvcc was not found at build time); "
      "rebuild with nvcc on PATH or use device='cpu'");
}
}  // namespace

bool CudaAvailable(std::string* why) {
  if (why) *why = "this sapwood was built without CUDA (nvcc was not found at build time)";
  return false;
}

CudaBuffer::CudaBuffer(std::size_t) { NoCuda(); }
CudaBuffer::~CudaBuffer() = default;
void CudaBuffer::CopyToHost(void*) const { NoCuda(); }

struct CudaForest::Impl {};
CudaForest::CudaForest(const Forest&) { NoCuda(); }
CudaForest::~CudaForest() = default;
int CudaForest::NumOutputs() const { NoCuda(); }
int CudaForest::NumFeatures() const { NoCuda(); }
int CudaForest::NumTrees() const { NoCuda(); }
int CudaForest::Device() const { NoCuda(); }
template <class T>
void CudaForest::PredictHost(const MatrixView<T>&, int, int, const double*, int, double*) const {
  NoCuda();
}
void CudaForest::PredictDevice(const void*, bool, std::int64_t, std::int64_t, std::int64_t,
                               std::int64_t, int, int, const double*, int, double*,
                               std::uintptr_t) const {
  NoCuda();
}
template void CudaForest::PredictHost<float>(const MatrixView<float>&, int, int, const double*,
                                             int, double*) const;
template void CudaForest::PredictHost<double>(const MatrixView<double>&, int, int,
                                              const double*, int, double*) const;

}  // namespace sapwood
#endif  // SAPWOOD_CUDA
