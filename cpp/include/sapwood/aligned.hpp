#pragma once
// std::vector storage on 64-byte boundaries (a cache line, an AVX-512 register): the scoring
// kernels read their slot arrays 64 bytes at a time at offsets that are multiples of 64, and
// from malloc's 16-byte alignment every one of those loads spanned two cache lines.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace sapwood {

template <class T, std::size_t kAlign = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) noexcept {}  // NOLINT: rebinding
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  T* allocate(std::size_t n) {
    // aligned_alloc needs a size that is a multiple of the alignment
    const std::size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes == 0 ? kAlign : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, kAlign>&) const noexcept { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace sapwood
