#include "engine/memory.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/base.h"

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#endif

namespace lra {

size_t cuda_size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  // Small blocks: multiples of 512 bytes. Large: round up to an eighth of the power of two below,
  // wasting at most 12.5% while keeping the number of classes small.
  if (bytes <= (size_t(1) << 20)) return (bytes + 511) / 512 * 512;
  size_t p = size_t(1) << (63 - __builtin_clzll(bytes));
  size_t step = p / 8;
  return (bytes + step - 1) / step * step;
}

#if LRA_WITH_CUDA
std::string cuda_malloc_error_message(int error, size_t bytes, const MemoryStats& stats) {
  const cudaError_t e = cudaError_t(error);
  if (e == cudaErrorMemoryAllocation)
    return str("GPU out of memory: could not allocate ", bytes, " bytes (", stats.current,
               " bytes in use by tensors, peak ", stats.peak, "): ", cudaGetErrorString(e));
  const std::string failed = str("cudaMalloc of ", bytes, " bytes failed with ", cudaGetErrorName(e), " (",
                                 cudaGetErrorString(e), ")");
  switch (e) {
    // Faults of a running kernel. Kernels run asynchronously, so CUDA reports the fault at some later
    // call, here an allocation, and every call after it returns the same error.
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorLaunchTimeout:
      return str(failed, ": this is not a lack of memory but an earlier kernel that failed; CUDA reports "
                 "a kernel's fault at a later call. To find the kernel, rerun with CUDA_LAUNCH_BLOCKING=1 (each "
                 "launch then waits, and the failing launch's check names it) or under compute-sanitizer "
                 "(compute-sanitizer --tool memcheck <command> names the kernel and the faulting access)");
    default:
      return str(failed, ": not a lack of memory. If an earlier kernel failed, CUDA_LAUNCH_BLOCKING=1 or "
                 "compute-sanitizer finds it");
  }
}
#endif

namespace {

#if LRA_WITH_CUDA
class CudaCache {
 public:
  void* allocate(size_t bytes) {
    size_t cls = cuda_size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = free_[cls];
    void* p = nullptr;
    if (!list.empty()) {
      p = list.back();
      list.pop_back();
      stats_.cached -= cls;
    } else {
      cudaError_t e = cudaMalloc(&p, cls);
      if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
        (void)cudaGetLastError();
        release_locked();
        e = cudaMalloc(&p, cls);
      }
      if (e != cudaSuccess) {
        (void)cudaGetLastError();  // clears a non-sticky error; a kernel fault stays with the context
        fail(cuda_malloc_error_message(e, cls, stats_));
      }
      ++stats_.device_mallocs;
      sizes_[p] = cls;
    }
    stats_.current += cls;
    if (stats_.current > stats_.peak) stats_.peak = stats_.current;
    return p;
  }
  void release(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t cls = sizes_.at(p);
    free_[cls].push_back(p);
    stats_.current -= cls;
    stats_.cached += cls;
  }
  void release_all() {
    std::lock_guard<std::mutex> lock(mu_);
    release_locked();
  }
  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak = stats_.current;
  }

 private:
  void release_locked() {
    cudaStreamSynchronize(cuda::stream());
    for (auto& [cls, list] : free_) {
      for (void* p : list) {
        cudaFree(p);
        sizes_.erase(p);
      }
      stats_.cached -= cls * list.size();
      list.clear();
    }
  }
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, size_t> sizes_;
  MemoryStats stats_;
};

CudaCache& cache() {
  static CudaCache* c = new CudaCache();  // never destroyed: see engine/device.cpp
  return *c;
}
#endif

}  // namespace

Storage::Storage(size_t n, Device d) : bytes(n), device(d) {
  if (d == Device::CPU) {
    size_t rounded = (n + 63) / 64 * 64;
    ptr = std::aligned_alloc(64, rounded ? rounded : 64);
    LRA_CHECK(ptr, "out of host memory allocating ", n, " bytes");
    return;
  }
#if LRA_WITH_CUDA
  ptr = cache().allocate(n);
#else
  fail("a CUDA tensor was requested, but this binary was built without the CUDA backend");
#endif
}

Storage::~Storage() {
  if (!ptr) return;
  if (device == Device::CPU) {
    std::free(ptr);
    return;
  }
#if LRA_WITH_CUDA
  cache().release(ptr);
#endif
}

#if LRA_WITH_CUDA
MemoryStats cuda_memory_stats() { return cache().stats(); }
void reset_cuda_peak_memory() { cache().reset_peak(); }
void empty_cuda_cache() { cache().release_all(); }
#else
MemoryStats cuda_memory_stats() { return {}; }
void reset_cuda_peak_memory() {}
void empty_cuda_cache() {}
#endif

}  // namespace lra
