#pragma once
// The CUDA predictor: a Forest's packed nodes copied to the GPU once, scored one thread per
// row (each thread walks every tree in order and sums in double, so margins are bit-identical
// to the CPU predictor's; transforms use the device's exp, within 1e-15 relative).
//
// Host input is staged through pinned buffers in chunks on two streams, so the copy of one
// chunk overlaps the scoring of the previous one. Device input (anything with
// __cuda_array_interface__) is read in place and the output stays on the device.
//
// Built only when nvcc is found (SAPWOOD_CUDA); otherwise every entry point throws a clear
// sapwood::Error, and CudaAvailable() says why.
#include <cstdint>
#include <memory>
#include <string>

#include "sapwood/forest.hpp"
#include "sapwood/types.hpp"

namespace sapwood {

// True when this build has CUDA and a device is usable; otherwise *why gets the reason.
bool CudaAvailable(std::string* why);

// Device memory owned by C++ (the output of device-side prediction).
class CudaBuffer {
 public:
  explicit CudaBuffer(std::size_t bytes);
  ~CudaBuffer();
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  void* Data() const { return data_; }
  std::size_t Bytes() const { return bytes_; }
  int Device() const { return device_; }
  void CopyToHost(void* dst) const;

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
};

// transform: 0 none (raw / regression), 1 sigmoid (binary), 2 softmax (multiclass),
// 3 exp (poisson, gamma, tweedie: log link), 4 sort each row ascending (multi-quantile).
class CudaForest {
 public:
  explicit CudaForest(const Forest& forest);
  ~CudaForest();
  CudaForest(const CudaForest&) = delete;
  CudaForest& operator=(const CudaForest&) = delete;

  int NumOutputs() const;
  int NumFeatures() const;
  int NumTrees() const;
  int Device() const;

  // out (host, n x K row-major) = init + margins of trees [tree_begin, tree_end), transformed.
  template <class T>
  void PredictHost(const MatrixView<T>& x, int tree_begin, int tree_end, const double* init,
                   int transform, double* out) const;
  // The same for a device matrix (element strides; T = float or double, is_double says which)
  // into a device output; runs after `stream` (0: none; 1/2: legacy/per-thread default) and
  // returns when the output is complete.
  void PredictDevice(const void* x, bool is_double, std::int64_t rows, std::int64_t cols,
                     std::int64_t row_stride, std::int64_t col_stride, int tree_begin,
                     int tree_end, const double* init, int transform, double* out,
                     std::uintptr_t stream) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sapwood
