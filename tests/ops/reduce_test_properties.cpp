// Targeted reduction tests: output shapes, exact values, the first-argmax rule, NaN in max, empty mask
// rows, empty extents and the error messages. The NaN tests live here rather than in the case table
// because its comparisons count NaN as a mismatch and its gradcheck needs finite values.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <cmath>
#include <limits>

#include "ops/reduce/reduce.h"

namespace lra {
namespace {

Tensor vec(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

using test::error_of;

TEST(Reduce, ShapesAndValues) {
  Tensor x = vec({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  EXPECT_EQ(ops::sum(x, 0).shape(), Shape({3, 2}));
  EXPECT_EQ(ops::sum(x, 1, true).shape(), Shape({2, 1, 2}));
  EXPECT_EQ(ops::sum(x, 1).to_vector<double>(), (std::vector<double>{6, 9, 24, 27}));
  EXPECT_EQ(ops::sum(x, -1).to_vector<double>(), (std::vector<double>{1, 5, 9, 13, 17, 21}));
  EXPECT_EQ(ops::mean(x, 0).to_vector<double>(), (std::vector<double>{3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(ops::max(x, 1).to_vector<double>(), (std::vector<double>{4, 5, 10, 11}));
  Tensor all = ops::sum_all(x);
  EXPECT_EQ(all.shape(), Shape());
  EXPECT_EQ(all.item(), 66);
  EXPECT_EQ(ops::mean_all(x).item(), 5.5);
}

TEST(Reduce, MaxGradientGoesToTheFirstArgmax) {
  Tensor x = vec({1, 3, 3, 2, 5, 5}, {2, 3});
  x.requires_grad_();
  ops::max(x, 1).backward(vec({10, 20}, {2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 10, 0, 0, 20, 0}));
  Tensor y = vec({4, 4, 4, 4}, {2, 2});  // ties down a column too
  y.requires_grad_();
  ops::max(y, 0).backward(vec({1, 2}, {2}));
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{1, 2, 0, 0}));
}

// NaN is the largest value (reduce.h): a slice with a NaN gives NaN, and the gradient (the argmax)
// lands on its first NaN. Each row below was checked with PyTorch 1.13: torch.max(x, 0) gives the value
// and index in the comment, and backward puts the gradient at that index.
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
struct NanRow {
  std::vector<double> x;
  double max;     // NaN where PyTorch gives NaN
  int64_t first;  // torch.max's index
};
const std::vector<NanRow> kNanRows = {
    {{kNaN, kNaN, kNaN, kNaN}, kNaN, 0},  // all NaN: NaN, 0
    {{kNaN, 1, 5, 2}, kNaN, 0},           // NaN first, larger numbers after it: NaN, 0
    {{1, 5, 2, kNaN}, kNaN, 3},           // NaN last: NaN, 3
    {{5, kNaN, 5, kNaN}, kNaN, 1},        // NaN among ties, twice: NaN, 1
    {{-kInf, -kInf, kNaN, 3}, kNaN, 2},   // after -inf: NaN, 2
    {{5, 5, 1, 2}, 5, 0},                 // no NaN: the first of the ties
};

// Bitwise equality of the values, where NaN equals NaN.
bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

Tensor of_dtype(const std::vector<double>& v, const Shape& shape, DType dtype) {
  if (dtype == DType::F64) return Tensor::from_vector(v, shape);
  return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), shape);
}

std::string show(const std::vector<double>& v) {
  std::string s;
  for (double e : v) s += (s.empty() ? "" : ", ") + std::to_string(e);
  return "[" + s + "]";
}

// The rows of kNanRows as x [R, n] (reduce dim 1, inner == 1: the row kernel) or transposed to [n, R]
// (reduce dim 0, inner = R: the column kernel); the expected max and gradient (gy[r] = r + 1 at the first
// argmax) in the layout's order.
struct NanCase {
  Tensor x;
  int dim;
  std::vector<double> max, grad;
};
NanCase nan_case(bool columns, DType dtype) {
  const int64_t R = int64_t(kNanRows.size()), n = 4;
  std::vector<double> x(size_t(R * n)), grad(size_t(R * n), 0.0), max;
  for (int64_t r = 0; r < R; ++r) {
    max.push_back(kNanRows[size_t(r)].max);
    for (int64_t j = 0; j < n; ++j) {
      size_t at = size_t(columns ? j * R + r : r * n + j);
      x[at] = kNanRows[size_t(r)].x[size_t(j)];
      if (j == kNanRows[size_t(r)].first) grad[at] = double(r + 1);
    }
  }
  return {of_dtype(x, columns ? Shape{n, R} : Shape{R, n}, dtype), columns ? 0 : 1, max, grad};
}

std::vector<double> upstream(int64_t R) {
  std::vector<double> g;
  for (int64_t r = 0; r < R; ++r) g.push_back(double(r + 1));
  return g;
}

TEST(Reduce, MaxPropagatesNanAndItsGradientGoesToTheFirstNan) {
  for (DType dtype : {DType::F64, DType::F32})
    for (bool columns : {false, true}) {
      NanCase c = nan_case(columns, dtype);
      c.x.requires_grad_();
      Tensor y = ops::max(c.x, c.dim);
      EXPECT_TRUE(same_values(y.to_vector<double>(), c.max))
          << (columns ? "columns " : "rows ") << dtype_name(dtype) << ": got " << show(y.to_vector<double>());
      std::vector<double> g = upstream(int64_t(c.max.size()));
      y.backward(of_dtype(g, y.shape(), dtype));
      EXPECT_EQ(c.x.grad().to_vector<double>(), c.grad) << (columns ? "columns " : "rows ") << dtype_name(dtype);
    }
}

// The kernels against the CPU on NaN: the short rows above in both layouts, and long rows (n = 1000,
// several elements per thread of the row kernel's block) with NaN in different threads and positions.
TEST(Reduce, MaxNanCudaMatchesCpu) {
  LRA_REQUIRE_CUDA();
  std::vector<std::pair<Tensor, int>> inputs;
  for (bool columns : {false, true}) {
    NanCase c = nan_case(columns, DType::F32);
    inputs.push_back({c.x, c.dim});
  }
  const int64_t n = 1000;
  std::vector<double> rows(size_t(5 * n));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t r = 0; r < 5; ++r) rows[size_t(r * n + j)] = double((j * 37) % 101) - 50.0;  // many ties
  for (int64_t j = 0; j < n; ++j) rows[size_t(0 * n + j)] = kNaN;  // all NaN
  rows[size_t(1 * n + 0)] = kNaN;                                  // NaN first
  rows[size_t(2 * n + n - 1)] = kNaN;                              // NaN last
  rows[size_t(3 * n + 700)] = rows[size_t(3 * n + 300)] = kNaN;    // two NaN, other threads' elements
  rows[size_t(4 * n + 257)] = kNaN;                                // a NaN in thread 1's second element
  std::vector<double> columns(rows.size());
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t j = 0; j < n; ++j) columns[size_t(j * 5 + r)] = rows[size_t(r * n + j)];
  inputs.push_back({of_dtype(rows, {5, n}, DType::F32), 1});
  inputs.push_back({of_dtype(columns, {n, 5}, DType::F32), 0});
  for (auto& [x, dim] : inputs) {
    Tensor xc = x.clone(), xg = x.to(Device::CUDA);
    xc.requires_grad_();
    xg.requires_grad_();
    Tensor yc = ops::max(xc, dim), yg = ops::max(xg, dim);
    EXPECT_TRUE(same_values(yg.to_vector<double>(), yc.to_vector<double>()))
        << x.describe() << " dim " << dim << ": GPU " << show(yg.to_vector<double>()) << " CPU "
        << show(yc.to_vector<double>());
    std::vector<double> g = upstream(yc.numel());
    Tensor gy = of_dtype(g, yc.shape(), DType::F32);
    yc.backward(gy);
    yg.backward(gy.to(Device::CUDA));
    EXPECT_EQ(xg.grad().to_vector<double>(), xc.grad().to_vector<double>()) << x.describe() << " dim " << dim;
  }
}

TEST(Reduce, EmptyExtents) {
  // A sum over an empty dim is 0; an empty result is empty; both pass back an empty gradient.
  Tensor x = Tensor::zeros({2, 0, 3}, DType::F64);
  x.requires_grad_();
  Tensor s = ops::sum(x, 1);
  EXPECT_EQ(s.shape(), Shape({2, 3}));
  EXPECT_EQ(s.to_vector<double>(), std::vector<double>(6, 0.0));
  s.backward(Tensor::ones({2, 3}, DType::F64));
  EXPECT_EQ(x.grad().shape(), Shape({2, 0, 3}));
  EXPECT_EQ(ops::sum_all(Tensor::zeros({0})).item(), 0.0);
  EXPECT_EQ(ops::max(Tensor::zeros({0, 5}), 1).shape(), Shape({0}));
  EXPECT_EQ(ops::max(Tensor::zeros({4, 0}), 0, true).shape(), Shape({1, 0}));
  EXPECT_EQ(ops::mean(Tensor::zeros({0, 0}), 1).shape(), Shape({0}));
  Tensor mm = ops::masked_mean(Tensor::zeros({2, 0, 3}), Tensor::zeros({2, 0}, DType::I32));
  EXPECT_EQ(mm.to_vector<double>(), std::vector<double>(6, 0.0)) << "no kept position: zeros, as for an empty mask row";
  // A max or a mean of nothing is an error naming the op and the tensor.
  std::string e = error_of([] { ops::max(Tensor::zeros({3, 0, 2}), 1); });
  EXPECT_NE(e.find("max: dim 1 of float32[3, 0, 2] on cpu is empty"), std::string::npos) << e;
  e = error_of([] { ops::max(Tensor::zeros({0, 0}), 1); });
  EXPECT_NE(e.find("max: dim 1 of float32[0, 0] on cpu is empty"), std::string::npos) << e;
  e = error_of([] { ops::mean(Tensor::zeros({2, 0}), 1); });
  EXPECT_NE(e.find("mean: dim 1 of float32[2, 0] on cpu is empty"), std::string::npos) << e;
  e = error_of([] { ops::mean_all(Tensor::zeros({0, 3})); });
  EXPECT_NE(e.find("mean_all: float32[0, 3] on cpu is empty"), std::string::npos) << e;
}

TEST(Reduce, MaskedMeanEmptyRowIsZeroWithZeroGradient) {
  // x [2, 3, 2]; row 0 keeps positions 0 and 2, row 1 keeps nothing.
  Tensor x = vec({1, 2, 100, 200, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 3, 2});
  x.requires_grad_();
  Tensor mask = Tensor::from_vector(std::vector<int32_t>{1, 0, 1, 0, 0, 0}, {2, 3});
  Tensor y = ops::masked_mean(x, mask);
  std::vector<double> v = y.to_vector<double>();
  EXPECT_EQ(v, (std::vector<double>{2, 3, 0, 0}));
  for (double e : v) EXPECT_FALSE(std::isnan(e));
  y.backward(vec({1, 1, 1, 1}, {2, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0}));
}

TEST(Reduce, SumGradientIsBroadcast) {
  Tensor x = Tensor::zeros({2, 3}, DType::F64);
  x.requires_grad_();
  ops::mean(x, 0).backward(vec({2, 4, 6}, {3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(Reduce, Errors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_NE(error_of([&] { ops::sum(x, 2); }).find("sum: dim 2 is out of range for float32[2, 3]"), std::string::npos)
      << error_of([&] { ops::sum(x, 2); });
  EXPECT_NE(error_of([&] { ops::max(Tensor::zeros({2, 0}), 1); }).find("max: dim 1"), std::string::npos);
  Tensor x3 = Tensor::zeros({2, 5, 4});
  std::string e = error_of([&] { ops::masked_mean(x3, Tensor::zeros({2, 4}, DType::I32)); });
  EXPECT_NE(e.find("masked_mean: mask has shape [2, 4] but x is [2, 5, 4]"), std::string::npos) << e;
  e = error_of([&] { ops::masked_mean(x3, Tensor::zeros({2, 5})); });
  EXPECT_NE(e.find("masked_mean: mask must be int32"), std::string::npos) << e;
  e = error_of([&] { ops::masked_mean(x, Tensor::zeros({2, 3}, DType::I32)); });
  EXPECT_NE(e.find("masked_mean: x must be [B, L, D]"), std::string::npos) << e;
}

}  // namespace
}  // namespace lra
