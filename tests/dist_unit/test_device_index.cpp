// cuda::set_device_index: a data-parallel rank picks its GPU (local_rank % cuda_device_count()) before
// the first CUDA use; afterwards the device is fixed.
#include <gtest/gtest.h>

#include "engine/device.h"
#include "engine/tensor.h"
#include "tests/support/compare.h"

namespace lra {
namespace {

TEST(DeviceIndex, RejectsANegativeIndex) {
  EXPECT_NE(test::error_of([] { cuda::set_device_index(-1); }).find("set_device_index(-1): the device index must be >= 0"),
            std::string::npos);
}

TEST(DeviceIndex, CpuBuildAcceptsAndIgnoresAnIndex) {
  if (cuda_compiled()) GTEST_SKIP() << "a CUDA build: DeviceIndex.FixedOnceTheContextExists covers it";
  EXPECT_EQ(cuda_device_count(), 0);
  cuda::set_device_index(3);
  EXPECT_EQ(cuda::device_index(), 0);
}

TEST(DeviceIndex, FixedOnceTheContextExists) {
  LRA_REQUIRE_CUDA();
  ASSERT_GE(cuda_device_count(), 1);
  Tensor t = Tensor::zeros({4}, DType::F32, Device::CUDA);  // the context exists from here on
  const int used = cuda::device_index();
  cuda::set_device_index(used);  // the same index: fine
  const std::string e = test::error_of([&] { cuda::set_device_index(used + 1); });
  EXPECT_NE(e.find("the CUDA context already exists on device " + std::to_string(used)), std::string::npos) << e;
  EXPECT_EQ(cuda::device_index(), used);
}

}  // namespace
}  // namespace lra
