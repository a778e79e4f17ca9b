// Memory: 64-byte aligned host allocations and a caching allocator for the GPU.
//
// The CUDA allocator keeps freed blocks in free lists keyed by a rounded size class, so a training
// step that repeats the same shapes reuses the same blocks and calls cudaMalloc only while the cache
// warms up. All GPU work runs on one stream (engine/cuda.h), so a block freed by the host can be
// handed to the next allocation at once: stream order guarantees the old kernels finish first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/device.h"

namespace lra {

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;  // as requested
  Device device = Device::CPU;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct MemoryStats {
  size_t current = 0;         // bytes handed out to live tensors (rounded to size classes)
  size_t peak = 0;            // highest `current` since the last reset
  size_t cached = 0;          // bytes held in free lists
  size_t device_mallocs = 0;  // cudaMalloc calls so far
};

MemoryStats cuda_memory_stats();
void reset_cuda_peak_memory();
// Returns every cached block to the driver.
void empty_cuda_cache();
// The size class a request of `bytes` is served from (exposed for tests).
size_t cuda_size_class(size_t bytes);

#if LRA_WITH_CUDA
// The message of the error the allocator throws when cudaMalloc of `bytes` returns `error` (a
// cudaError_t; an int here so this header needs no CUDA include). cudaErrorMemoryAllocation is a true
// out-of-memory; anything else is not, and is usually an earlier kernel's asynchronous fault that the
// context keeps returning, so the message says how to find that kernel. Exposed for tests.
std::string cuda_malloc_error_message(int error, size_t bytes, const MemoryStats& stats);
#endif

}  // namespace lra
