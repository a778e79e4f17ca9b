#include <gtest/gtest.h>

#include "engine/device.h"
#include "engine/memory.h"
#include "engine/tensor.h"
#include "tests/support/compare.h"

#if LRA_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace lra {
namespace {

TEST(Memory, SizeClassesCoverRequestsWithBoundedWaste) {
  EXPECT_EQ(cuda_size_class(0), 512u);
  EXPECT_EQ(cuda_size_class(1), 512u);
  EXPECT_EQ(cuda_size_class(513), 1024u);
  for (size_t bytes : {size_t(1) << 20, (size_t(1) << 20) + 1, size_t(3'000'001), size_t(123'456'789), size_t(1) << 33}) {
    size_t cls = cuda_size_class(bytes);
    EXPECT_GE(cls, bytes);
    EXPECT_LE(double(cls), 1.125 * double(bytes) + 512) << bytes;
    EXPECT_EQ(cuda_size_class(cls), cls) << "a class maps to itself";
  }
}

TEST(Memory, CpuStorageIsAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n}, DType::F64);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
}

TEST(Memory, CudaCacheReusesFreedBlocksAndTracksPeak) {
  LRA_REQUIRE_CUDA();
  reset_cuda_peak_memory();
  MemoryStats before = cuda_memory_stats();
  { Tensor a = Tensor::empty({1 << 20}, DType::F32, Device::CUDA); }
  MemoryStats mid = cuda_memory_stats();
  EXPECT_GE(mid.peak, before.current + (size_t(4) << 20));
  for (int i = 0; i < 10; ++i) { Tensor a = Tensor::empty({1 << 20}, DType::F32, Device::CUDA); }
  MemoryStats after = cuda_memory_stats();
  EXPECT_EQ(after.device_mallocs, mid.device_mallocs) << "a same-size allocation must come from the cache";
  EXPECT_EQ(after.current, before.current);
  empty_cuda_cache();
  EXPECT_EQ(cuda_memory_stats().cached, 0u);
}

#if LRA_WITH_CUDA
// The allocator's message for each kind of cudaMalloc failure; needs the CUDA headers, not a GPU.
TEST(Memory, CudaMallocErrorSaysWhetherItIsOutOfMemory) {
  MemoryStats stats;
  stats.current = 1000;
  stats.peak = 3000;
  std::string oom = cuda_malloc_error_message(cudaErrorMemoryAllocation, 4096, stats);
  EXPECT_NE(oom.find("GPU out of memory: could not allocate 4096 bytes (1000 bytes in use by tensors, peak 3000)"),
            std::string::npos)
      << oom;
  EXPECT_EQ(oom.find("CUDA_LAUNCH_BLOCKING"), std::string::npos) << oom;
  // A kernel's fault that the next cudaMalloc returns is not an out-of-memory: say so, name the error and
  // how to find the kernel.
  for (cudaError_t fault : {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorMisalignedAddress,
                            cudaErrorAssert}) {
    std::string m = cuda_malloc_error_message(fault, 512, stats);
    EXPECT_EQ(m.find("out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("cudaMalloc of 512 bytes failed with ") + cudaGetErrorName(fault)),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("an earlier kernel that failed"), std::string::npos) << m;
    EXPECT_NE(m.find("CUDA_LAUNCH_BLOCKING=1"), std::string::npos) << m;
    EXPECT_NE(m.find("compute-sanitizer"), std::string::npos) << m;
  }
  // Any other error: not an out-of-memory either, and no claim that a kernel failed.
  std::string other = cuda_malloc_error_message(cudaErrorInvalidValue, 512, stats);
  EXPECT_EQ(other.find("out of memory"), std::string::npos) << other;
  EXPECT_NE(other.find("cudaErrorInvalidValue"), std::string::npos) << other;
  EXPECT_EQ(other.find("an earlier kernel that failed"), std::string::npos) << other;
}
#endif

TEST(Device, ParseDeviceNamesTheProblem) {
  EXPECT_EQ(parse_device("cpu"), Device::CPU);
  try {
    parse_device("tpu");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device 'tpu'"), std::string::npos) << e.what();
  }
  if (!cuda_available()) {
    try {
      parse_device("cuda");
      FAIL() << "asking for CUDA without a GPU must fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--device cuda"), std::string::npos) << e.what();
    }
    EXPECT_EQ(parse_device("auto"), Device::CPU);
  } else {
    EXPECT_EQ(parse_device("auto"), Device::CUDA);
  }
}

}  // namespace
}  // namespace lra
