// The CUDA twin of the CPU predictor (predict/): one thread per row walks every tree of the
// range in order and sums leaf values in double (bit-identical margins to the CPU predictor),
// deciding each split by the one decision the CPU uses (predict/decision.hpp). See
// predict_cuda.hpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "../predict/decision.hpp"
#include "../predict/layout.hpp"
#include "sapwood/error.hpp"
#include "sapwood/forest.hpp"
#include "sapwood/predict_cuda.hpp"

namespace sapwood {

using predict::PackedNode;

namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky-free error so later calls start clean
    throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
  }
}

constexpr int kBlock = 128;                      // threads (rows) per block
constexpr int kSharedBytes = 48 * 1024;          // rows staged in shared memory up to this
constexpr std::int64_t kChunkRows = 1 << 18;     // host input: rows per pinned chunk

struct DevForest {
  const int4* nodes;        // PackedNode as {threshold bits, meta, left, right}
  const double* value;      // per packed node
  const int* root;          // per tree
  const int* output;        // per tree
  predict::CategorySets cats;  // device copies of the category sets
  int num_outputs;
};

// kShared: the block's rows are first staged (as float32) in shared memory with an odd row
// stride (no bank conflicts), so every feature read in the walk is a shared-memory read.
template <class T, bool kShared>
__global__ void PredictKernel(const T* __restrict__ x, std::int64_t rows, int cols,
                              std::int64_t row_stride, std::int64_t col_stride, DevForest f,
                              int tree_begin, int tree_end, const double* __restrict__ init,
                              int transform, double* __restrict__ out) {
  extern __shared__ float staged[];
  const std::int64_t r0 = static_cast<std::int64_t>(blockIdx.x) * blockDim.x;
  const std::int64_t r = r0 + threadIdx.x;
  const int stride = cols | 1;
  if (kShared) {
    const std::int64_t nr = min(static_cast<std::int64_t>(blockDim.x), rows - r0);
    const int total = static_cast<int>(nr) * cols;
    for (int i = threadIdx.x; i < total; i += blockDim.x) {
      const int rr = i / cols, c = i - rr * cols;
      staged[rr * stride + c] = static_cast<float>(x[(r0 + rr) * row_stride + c * col_stride]);
    }
    __syncthreads();
  }
  if (r >= rows) return;
  const int K = f.num_outputs;
  double* o = out + r * K;
  double acc = init[0];
  if (K > 1) {
    for (int k = 0; k < K; ++k) o[k] = init[k];
  }
  for (int t = tree_begin; t < tree_end; ++t) {
    int i = __ldg(f.root + t);
    int4 n = __ldg(f.nodes + i);
    while (!(static_cast<unsigned>(n.y) & PackedNode::kLeaf)) {
      const int feat = static_cast<int>(static_cast<unsigned>(n.y) & PackedNode::kFeatureMask);
      const float v = kShared ? staged[threadIdx.x * stride + feat]
                              : static_cast<float>(x[r * row_stride + feat * col_stride]);
      i = predict::GoRight(static_cast<unsigned>(n.y), __int_as_float(n.x), v, f.cats) ? n.w : n.z;
      n = __ldg(f.nodes + i);
    }
    const double leaf = __ldg(f.value + i);
    if (K == 1) {
      acc += leaf;
    } else {
      o[__ldg(f.output + t)] += leaf;
    }
  }
  if (K == 1) {
    o[0] = transform == 1 ? 1.0 / (1.0 + exp(-acc)) : transform == 3 ? exp(acc) : acc;
  } else if (transform == 4) {
    // multi-quantile rearrangement (objective.hpp): the row's levels sorted ascending, so the
    // predicted quantiles never cross; insertion sort, as on the host
    for (int a = 1; a < K; ++a) {
      const double v = o[a];
      int b = a;
      for (; b > 0 && o[b - 1] > v; --b) o[b] = o[b - 1];
      o[b] = v;
    }
  } else if (transform == 2) {
    double mx = o[0];
    for (int k = 1; k < K; ++k) mx = fmax(mx, o[k]);
    double sum = 0;
    for (int k = 0; k < K; ++k) {
      o[k] = exp(o[k] - mx);
      sum += o[k];
    }
    for (int k = 0; k < K; ++k) o[k] /= sum;
  }
}

template <class T>
void Launch(const T* x, std::int64_t rows, int cols, std::int64_t row_stride,
            std::int64_t col_stride, const DevForest& f, int tb, int te, const double* init,
            int transform, double* out, cudaStream_t s) {
  if (rows == 0) return;
  const auto blocks = static_cast<unsigned>((rows + kBlock - 1) / kBlock);
  const std::size_t shared = static_cast<std::size_t>(kBlock) * static_cast<std::size_t>(cols | 1) *
                             sizeof(float);
  if (shared <= static_cast<std::size_t>(kSharedBytes)) {
    PredictKernel<T, true><<<blocks, kBlock, shared, s>>>(x, rows, cols, row_stride, col_stride,
                                                          f, tb, te, init, transform, out);
  } else {
    PredictKernel<T, false><<<blocks, kBlock, 0, s>>>(x, rows, cols, row_stride, col_stride, f,
                                                      tb, te, init, transform, out);
  }
  Check(cudaGetLastError(), "kernel launch");
}

template <class V>
void* Upload(const std::vector<V>& v, const char* what) {
  void* p = nullptr;
  const std::size_t bytes = std::max<std::size_t>(1, v.size() * sizeof(V));
  Check(cudaMalloc(&p, bytes), what);
  if (!v.empty()) {
    const cudaError_t e = cudaMemcpy(p, v.data(), v.size() * sizeof(V), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
      cudaFree(p);
      Check(e, what);
    }
  }
  return p;
}

}  // namespace

bool CudaAvailable(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

CudaBuffer::CudaBuffer(std::size_t bytes) : bytes_(bytes) {
  Check(cudaGetDevice(&device_), "cudaGetDevice");
  Check(cudaMalloc(&data_, std::max<std::size_t>(1, bytes)), "cudaMalloc (output)");
}

CudaBuffer::~CudaBuffer() {
  if (data_) cudaFree(data_);
}

void CudaBuffer::CopyToHost(void* dst) const {
  Check(cudaSetDevice(device_), "cudaSetDevice");
  Check(cudaMemcpy(dst, data_, bytes_, cudaMemcpyDeviceToHost), "copy to host");
}

struct CudaForest::Impl {
  int device = 0;
  int num_outputs = 1;
  int num_features = 0;
  int num_trees = 0;
  std::vector<void*> allocations;
  DevForest dev{};
  // Staging for host input, reused across calls (fresh pinned pages are slow to get): two
  // slots, each with a pinned input/output pair, device input/output and a stream.
  std::mutex staging_mutex;
  struct Slot {
    float* pinned_in = nullptr;
    double* pinned_out = nullptr;
    float* dev_in = nullptr;
    double* dev_out = nullptr;
    cudaStream_t stream = nullptr;
    std::int64_t rows_cap = 0;
    int cols_cap = 0;
    int outs_cap = 0;
  } slots[2];
  double* dev_init = nullptr;

  void FreeSlot(Slot& s) {
    if (s.pinned_in) cudaFreeHost(s.pinned_in);
    if (s.pinned_out) cudaFreeHost(s.pinned_out);
    if (s.dev_in) cudaFree(s.dev_in);
    if (s.dev_out) cudaFree(s.dev_out);
    s.pinned_in = nullptr;
    s.pinned_out = nullptr;
    s.dev_in = nullptr;
    s.dev_out = nullptr;
    s.rows_cap = 0;
  }

  void EnsureSlot(Slot& s, std::int64_t rows, int cols, int outs) {
    if (!s.stream) Check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "stream");
    if (s.rows_cap >= rows && s.cols_cap == cols && s.outs_cap == outs) return;
    FreeSlot(s);
    const auto in_bytes = static_cast<std::size_t>(rows) * std::max(1, cols) * sizeof(float);
    const auto out_bytes = static_cast<std::size_t>(rows) * outs * sizeof(double);
    Check(cudaMallocHost(reinterpret_cast<void**>(&s.pinned_in), in_bytes), "cudaMallocHost");
    Check(cudaMallocHost(reinterpret_cast<void**>(&s.pinned_out), out_bytes), "cudaMallocHost");
    Check(cudaMalloc(reinterpret_cast<void**>(&s.dev_in), in_bytes), "cudaMalloc (input)");
    Check(cudaMalloc(reinterpret_cast<void**>(&s.dev_out), out_bytes), "cudaMalloc (output)");
    s.rows_cap = rows;
    s.cols_cap = cols;
    s.outs_cap = outs;
  }

  ~Impl() {
    cudaSetDevice(device);
    for (auto& s : slots) {
      FreeSlot(s);
      if (s.stream) cudaStreamDestroy(s.stream);
    }
    if (dev_init) cudaFree(dev_init);
    for (void* p : allocations) cudaFree(p);
  }
};

CudaForest::CudaForest(const Forest& forest) : impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!CudaAvailable(&why)) throw Error("device='cuda': " + why);
  Impl& m = *impl_;
  Check(cudaGetDevice(&m.device), "cudaGetDevice");
  m.num_outputs = forest.NumOutputs();
  m.num_features = forest.NumFeatures();
  m.num_trees = forest.NumTrees();
  auto keep = [&](void* p) {
    m.allocations.push_back(p);
    return p;
  };
  const predict::ForestData& d = forest.Data();
  m.dev.nodes = static_cast<const int4*>(keep(Upload(d.flt.nodes, "copying nodes")));
  m.dev.value = static_cast<const double*>(keep(Upload(d.flt.value, "copying leaf values")));
  m.dev.root = static_cast<const int*>(keep(Upload(d.flt.root, "copying tree roots")));
  m.dev.output = static_cast<const int*>(keep(Upload(d.tree_output, "copying outputs")));
  m.dev.cats.begin =
      static_cast<const std::int32_t*>(keep(Upload(d.flt.cat_begin, "copying cats")));
  m.dev.cats.size = static_cast<const std::int32_t*>(keep(Upload(d.flt.cat_size, "copying cats")));
  m.dev.cats.bits =
      static_cast<const std::uint32_t*>(keep(Upload(d.flt.cat_bits, "copying cats")));
  m.dev.num_outputs = m.num_outputs;
  Check(cudaMalloc(reinterpret_cast<void**>(&m.dev_init), sizeof(double) * m.num_outputs),
        "cudaMalloc (init)");
}

CudaForest::~CudaForest() = default;

int CudaForest::NumOutputs() const { return impl_->num_outputs; }
int CudaForest::NumFeatures() const { return impl_->num_features; }
int CudaForest::NumTrees() const { return impl_->num_trees; }
int CudaForest::Device() const { return impl_->device; }

namespace {

template <class T>
void StageRows(const MatrixView<T>& x, std::int64_t r0, std::int64_t nr, float* dst) {
  const std::int64_t F = x.cols;
  if constexpr (std::is_same_v<T, float>) {
    if (x.col_stride == 1 && x.row_stride == F) {
      std::memcpy(dst, x.data + r0 * F, static_cast<std::size_t>(nr * F) * sizeof(float));
      return;
    }
  }
  for (std::int64_t r = 0; r < nr; ++r) {
    for (std::int64_t f = 0; f < F; ++f) dst[r * F + f] = static_cast<float>(x.At(r0 + r, f));
  }
}

void CheckArgs(int num_trees, int num_features, std::int64_t cols, int tb, int te, int transform) {
  if (tb < 0 || te > num_trees || tb > te) {
    throw ParameterError("tree range [" + std::to_string(tb) + ", " + std::to_string(te) +
                         ") out of bounds for a forest of " + std::to_string(num_trees) +
                         " trees");
  }
  if (cols != num_features) {
    throw DataError("input has " + std::to_string(cols) + " features but the model expects " +
                    std::to_string(num_features));
  }
  if (transform < 0 || transform > 4) throw ParameterError("unknown transform");
}

}  // namespace

template <class T>
void CudaForest::PredictHost(const MatrixView<T>& x, int tree_begin, int tree_end,
                             const double* init, int transform, double* out) const {
  Impl& m = *impl_;
  CheckArgs(m.num_trees, m.num_features, x.cols, tree_begin, tree_end, transform);
  std::lock_guard<std::mutex> lock(m.staging_mutex);
  Check(cudaSetDevice(m.device), "cudaSetDevice");
  const int K = m.num_outputs;
  const int F = static_cast<int>(x.cols);
  const std::int64_t chunk = std::min<std::int64_t>(kChunkRows, std::max<std::int64_t>(1, x.rows));
  for (auto& s : m.slots) m.EnsureSlot(s, chunk, F, K);
  Check(cudaMemcpy(m.dev_init, init, sizeof(double) * K, cudaMemcpyHostToDevice), "copy init");
  const std::int64_t nchunks = (x.rows + chunk - 1) / chunk;
  // Chunk c uses slot c % 2: while the GPU copies and scores chunk c, the CPU stages chunk
  // c + 1 into the other slot's pinned buffer and unpacks the results of chunk c - 1.
  auto unpack = [&](std::int64_t c) {
    Impl::Slot& s = m.slots[c % 2];
    Check(cudaStreamSynchronize(s.stream), "predict (host input)");
    const std::int64_t r0 = c * chunk, nr = std::min(x.rows, r0 + chunk) - r0;
    std::memcpy(out + r0 * K, s.pinned_out, static_cast<std::size_t>(nr * K) * sizeof(double));
  };
  for (std::int64_t c = 0; c < nchunks; ++c) {
    Impl::Slot& s = m.slots[c % 2];
    if (c >= 2) unpack(c - 2);  // frees this slot
    const std::int64_t r0 = c * chunk, nr = std::min(x.rows, r0 + chunk) - r0;
    float* dst = s.pinned_in;
    StageRows(x, r0, nr, dst);
    Check(cudaMemcpyAsync(s.dev_in, dst, static_cast<std::size_t>(nr * F) * sizeof(float),
                          cudaMemcpyHostToDevice, s.stream),
          "copy input to device");
    Launch<float>(s.dev_in, nr, F, F, 1, m.dev, tree_begin, tree_end, m.dev_init, transform,
                  s.dev_out, s.stream);
    Check(cudaMemcpyAsync(s.pinned_out, s.dev_out, static_cast<std::size_t>(nr * K) * sizeof(double),
                          cudaMemcpyDeviceToHost, s.stream),
          "copy output to host");
  }
  for (std::int64_t c = std::max<std::int64_t>(0, nchunks - 2); c < nchunks; ++c) unpack(c);
}

void CudaForest::PredictDevice(const void* x, bool is_double, std::int64_t rows,
                               std::int64_t cols, std::int64_t row_stride,
                               std::int64_t col_stride, int tree_begin, int tree_end,
                               const double* init, int transform, double* out,
                               std::uintptr_t stream) const {
  Impl& m = *impl_;
  CheckArgs(m.num_trees, m.num_features, cols, tree_begin, tree_end, transform);
  Check(cudaSetDevice(m.device), "cudaSetDevice");
  // The producer's stream (CUDA array interface v3): its pending work on x must finish first.
  if (stream == 1) {
    Check(cudaStreamSynchronize(cudaStreamLegacy), "waiting for the input's stream");
  } else if (stream == 2) {
    Check(cudaStreamSynchronize(cudaStreamPerThread), "waiting for the input's stream");
  } else if (stream != 0) {
    Check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)),
          "waiting for the input's stream");
  }
  cudaStream_t s = nullptr;
  Check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  double* dinit = nullptr;
  try {
    const int K = m.num_outputs;
    Check(cudaMallocAsync(reinterpret_cast<void**>(&dinit), sizeof(double) * K, s), "init");
    Check(cudaMemcpyAsync(dinit, init, sizeof(double) * K, cudaMemcpyHostToDevice, s), "init");
    if (is_double) {
      Launch<double>(static_cast<const double*>(x), rows, static_cast<int>(cols), row_stride,
                     col_stride, m.dev, tree_begin, tree_end, dinit, transform, out, s);
    } else {
      Launch<float>(static_cast<const float*>(x), rows, static_cast<int>(cols), row_stride,
                    col_stride, m.dev, tree_begin, tree_end, dinit, transform, out, s);
    }
    Check(cudaFreeAsync(dinit, s), "free init");
    dinit = nullptr;
    Check(cudaStreamSynchronize(s), "predict (device input)");
  } catch (...) {
    if (dinit) cudaFree(dinit);
    cudaStreamDestroy(s);
    throw;
  }
  cudaStreamDestroy(s);
}

template void CudaForest::PredictHost<float>(const MatrixView<float>&, int, int, const double*,
                                             int, double*) const;
template void CudaForest::PredictHost<double>(const MatrixView<double>&, int, int,
                                              const double*, int, double*) const;

}  // namespace sapwood
