#pragma once
// The one threading wrapper: every parallel region in sapwood goes through here. It honours
// n_jobs and carries the first exception thrown inside a region out to the caller.
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>

#ifdef SAPWOOD_OPENMP
#include <omp.h>
#endif

namespace sapwood {

// The processors this process may run on (at least 1).
inline int MaxThreads() {
#ifdef SAPWOOD_OPENMP
  const int n = omp_get_num_procs();
  return n < 1 ? 1 : n;
#else
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
#endif
}

// The index of the calling thread in the current parallel region (0 outside one): for
// per-thread scratch buffers under dynamic scheduling.
inline int ThreadIndex() {
#ifdef SAPWOOD_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// n_jobs <= 0 means "all cores"; more threads than cores are never started (asking for 500
// under a memory limit ended the process in thread creation, and they could not run faster).
inline int ResolveThreads(int n_jobs) {
  const int max_threads = MaxThreads();
  if (n_jobs > 0) return n_jobs < max_threads ? n_jobs : max_threads;
  return max_threads;
}

class ExceptionCarrier {
 public:
  template <class F>
  void Run(F&& fn) {
    try {
      fn();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ptr_) ptr_ = std::current_exception();
    }
  }
  void Rethrow() {
    if (ptr_) std::rethrow_exception(ptr_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr ptr_;
};

// fn(i) for i in [begin, end), statically scheduled over n_threads (at most MaxThreads()).
template <class F>
void ParallelFor(std::int64_t begin, std::int64_t end, int n_threads, F&& fn) {
  if (end <= begin) return;
  if (n_threads > 1) n_threads = ResolveThreads(n_threads);
  if (n_threads <= 1 || end - begin == 1) {
    for (std::int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
  ExceptionCarrier carrier;
#ifdef SAPWOOD_OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads)
  for (std::int64_t i = begin; i < end; ++i) {
    carrier.Run([&] { fn(i); });
  }
#else
  for (std::int64_t i = begin; i < end; ++i) carrier.Run([&] { fn(i); });
#endif
  carrier.Rethrow();
}

// fn(i) with dynamic scheduling, for uneven work items (at most MaxThreads() threads).
template <class F>
void ParallelForDynamic(std::int64_t begin, std::int64_t end, int n_threads, F&& fn) {
  if (end <= begin) return;
  if (n_threads > 1) n_threads = ResolveThreads(n_threads);
  if (n_threads <= 1 || end - begin == 1) {
    for (std::int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
  ExceptionCarrier carrier;
#ifdef SAPWOOD_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
  for (std::int64_t i = begin; i < end; ++i) {
    carrier.Run([&] { fn(i); });
  }
#else
  for (std::int64_t i = begin; i < end; ++i) carrier.Run([&] { fn(i); });
#endif
  carrier.Rethrow();
}

}  // namespace sapwood
