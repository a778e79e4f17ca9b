// The CUB argsort against the naive rank kernel beside it (sort.h), on rows with many ties, so a
// difference in stability shows. Skipped without a GPU. The op-case table checks both against the CPU's
// std::stable_sort through ops::argsort (the CUB path).
#include <gtest/gtest.h>

#include "ops/sort/sort.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

TEST(ArgsortCuda, CubMatchesNaiveRankKernel) {
  LRA_REQUIRE_CUDA();
#if LRA_WITH_CUDA
  Generator gen(7);
  for (auto [rows, n] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 31}, {4, 1025}, {16, 2020}}) {
    Tensor keys = random_ints({rows, n}, gen, -3, 4).to(Device::CUDA);
    Tensor cub = ops::argsort(keys);
    Tensor naive = Tensor::empty({rows, n}, DType::I32, Device::CUDA);
    ops::cuda::argsort_naive(keys.data<int32_t>(), naive.data<int32_t>(), rows, n);
    EXPECT_EQ(cub.to_vector<int32_t>(), naive.to_vector<int32_t>()) << "rows " << rows << ", n " << n;
  }
#endif
}

}  // namespace
}  // namespace lra::test
