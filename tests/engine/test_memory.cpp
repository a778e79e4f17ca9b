#include <gtest/gtest.h>

#include "engine/device.h"
#include "engine/memory.h"
#include "engine/tensor.h"
#include "tests/support/compare.h"

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
