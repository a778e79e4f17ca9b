// upsample_linear against values PyTorch 1.13 printed for F.interpolate(x[None, None], scale_factor=f,
// mode="linear") (align_corners False): powers of two, an odd factor, a single sample, float32 and float64;
// and the argument errors.
#include <gtest/gtest.h>

#include <vector>

#include "ops/interp/interp.h"

namespace lra {
namespace {

void expect_rows(DType dtype, const std::vector<double>& x, int64_t f, const std::vector<double>& want, double tol) {
  Tensor t = Tensor::from_vector(x, {1, int64_t(x.size())});
  if (dtype == DType::F32) t = Tensor::from_vector(std::vector<float>(x.begin(), x.end()), {1, int64_t(x.size())});
  Tensor y = ops::upsample_linear(t, f);
  ASSERT_EQ(y.shape(), Shape({1, int64_t(x.size()) * f}));
  std::vector<double> got;
  if (dtype == DType::F32)
    for (float v : y.to_vector<float>()) got.push_back(v);
  else
    got = y.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "factor " << f << " output " << i;
}

TEST(Interp, MatchesPyTorchInterpolate) {
  for (DType dt : {DType::F32, DType::F64}) {
    double tol = dt == DType::F32 ? 1e-6 : 1e-14;
    expect_rows(dt, {1, 3, 7}, 1, {1, 3, 7}, tol);
    expect_rows(dt, {1, 3, 7}, 2, {1, 1.5, 2.5, 4, 6, 7}, tol);
    expect_rows(dt, {1, 3, 7}, 4, {1, 1, 1.25, 1.75, 2.25, 2.75, 3.5, 4.5, 5.5, 6.5, 7, 7}, tol);
    expect_rows(dt, {1, 3, 7, -2}, 3,
                {1.0, 1.0, 1.6666666666666665, 2.3333333333333335, 2.9999999999999996, 4.333333333333333,
                 5.666666666666666, 6.999999999999999, 4.000000000000003, 1.0000000000000013, -2.0, -2.0},
                dt == DType::F32 ? 2e-6 : 1e-14);
    expect_rows(dt, {5}, 4, {5, 5, 5, 5}, tol);
  }
}

TEST(Interp, RejectsBadArguments) {
  EXPECT_THROW(ops::upsample_linear(Tensor::zeros({2, 3}), 0), Error);
  EXPECT_THROW(ops::upsample_linear(Tensor::zeros({2, 3}, DType::I32), 2), Error);
}

}  // namespace
}  // namespace lra
