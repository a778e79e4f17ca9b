// Broadcasting binary ops: the case table (family elementwise_binary, run by the shared runner) and
// targeted tests of broadcast_shape, sum_to and the forward values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/elementwise/binary.h"
#include "ops/elementwise/elementwise.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> binary_cases(Generator& gen) {
  struct Op {
    const char* name;
    Tensor (*fn)(const Tensor&, const Tensor&);
  };
  const Op ops_list[] = {{"add", ops::add}, {"sub", ops::sub}, {"mul", ops::mul}, {"div", ops::div}};
  // Pairs (a, b): same shape, scalar-like, row vector against [B, L, D], [B, 1, D] against [B, L, 1],
  // stretching on both sides, a 0-dim scalar, five dims, and one realistic LRA size (bias over [B, L, D]).
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{3, 17}, {3, 17}},       {{2, 5, 33}, {1}},          {{1}, {4, 3}},
      {{2, 7, 16}, {16}},       {{3, 1, 5}, {3, 4, 1}},     {{3, 1, 5}, {1, 4, 1}},
      {{4, 3}, {}},             {{2, 1, 3, 1, 4}, {5, 1, 2, 1}}, {{4, 128, 64}, {64}},
  };
  std::vector<OpCase> cases;
  for (const Op& op : ops_list)
    for (const auto& [sa, sb] : pairs) {
      OpCase c;
      c.name = std::string(op.name) + " " + sa.to_string() + " " + sb.to_string();
      Tensor a = random_input(sa, gen, -2, 2);
      // div: keep b away from 0 (|b| in [0.5, 2], both signs) so 1/b and a/b^2 stay well conditioned.
      Tensor b = random_input(sb, gen, 0.5, 2);
      if (op.fn == ops::div) {
        double* p = b.data<double>();
        for (int64_t i = 0; i < b.numel(); i += 2) p[i] = -p[i];
      } else {
        b = random_input(sb, gen, -2, 2);
      }
      c.inputs = {a, b};
      auto fn = op.fn;
      c.fn = [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); };
      // The gradient of a stretched operand sums `count` terms (up to 512 in the [4, 128, 64] case). The
      // float32 CPU reference adds them one by one, so its rounding error grows like
      // sqrt(count) * eps * |running sum| ~ sqrt(count) * 6e-8 * sqrt(count / 3) * |term|, with terms up
      // to ~4 (div: g a / b^2). atol is ~10 of those; a near-zero sum would fail the default atol.
      int64_t count = std::max(sa.numel(), sb.numel()) / std::max<int64_t>(1, std::min(sa.numel(), sb.numel()));
      c.atol = std::max(1e-5, 10 * 6e-8 * double(count) / std::sqrt(3.0) * 4);
      cases.push_back(c);
    }
  // Empty extents: a size-1 dim stretched over a 0 gives a 0, and the stretched operand's gradient is a
  // sum over nothing (zeros, which the finite differences confirm); both sides empty; a 0 in a middle dim.
  struct Empty {
    const Op& op;
    Shape a, b, out;
  };
  const Empty empties[] = {{ops_list[0], {0, 3}, {1, 3}, {0, 3}},
                           {ops_list[1], {0}, {0}, {0}},
                           {ops_list[2], {2, 0}, {2, 1}, {2, 0}},
                           {ops_list[3], {3, 1, 2}, {0, 1}, {3, 0, 2}}};
  for (const Empty& e : empties) {
    OpCase c;
    c.name = std::string(e.op.name) + " " + e.a.to_string() + " " + e.b.to_string();
    c.inputs = {random_input(e.a, gen, -2, 2), random_input(e.b, gen, 0.5, 2)};
    auto fn = e.op.fn;
    c.fn = [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); };
    c.out_shape = e.out;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(elementwise_binary, binary_cases);

namespace {

Tensor vec(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

TEST(BroadcastShape, AlignsFromTheRight) {
  EXPECT_EQ(ops::broadcast_shape({2, 3}, {3}, "add"), Shape({2, 3}));
  EXPECT_EQ(ops::broadcast_shape({3, 1, 5}, {1, 4, 1}, "add"), Shape({3, 4, 5}));
  EXPECT_EQ(ops::broadcast_shape({}, {4}, "add"), Shape({4}));
  EXPECT_EQ(ops::broadcast_shape({1}, {0, 2}, "add"), Shape({0, 2}));
}

TEST(BroadcastShape, ErrorNamesOpAndShapes) {
  try {
    ops::broadcast_shape({2, 3}, {4}, "add");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: shapes [2, 3] and [4] do not broadcast"), std::string::npos)
        << e.what();
  }
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4});
  EXPECT_THROW(ops::mul(a, b), Error);
}

TEST(Binary, ForwardValuesWithBroadcast) {
  Tensor a = vec({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = vec({10, 20, 30}, {3});
  EXPECT_EQ(ops::add(a, b).to_vector<double>(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(ops::sub(b, a).to_vector<double>(), (std::vector<double>{9, 18, 27, 6, 15, 24}));
  Tensor col = vec({2, 4}, {2, 1});
  EXPECT_EQ(ops::mul(a, col).to_vector<double>(), (std::vector<double>{2, 4, 6, 16, 20, 24}));
  EXPECT_EQ(ops::div(a, col).to_vector<double>(), (std::vector<double>{0.5, 1, 1.5, 1, 1.25, 1.5}));
  // [2, 1] against [3]: both stretch.
  Tensor outer = ops::mul(col, b);
  EXPECT_EQ(outer.shape(), Shape({2, 3}));
  EXPECT_EQ(outer.to_vector<double>(), (std::vector<double>{20, 40, 60, 40, 80, 120}));
}

TEST(Binary, GradientOnlyWhereRequested) {
  Tensor a = vec({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = vec({1, 2, 4}, {3});
  b.requires_grad_();
  ops::mul(a, b).backward(Tensor::ones({2, 3}, DType::F64));
  EXPECT_FALSE(a.grad().defined());
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
}

TEST(SumTo, ReducesStretchedDims) {
  Tensor g = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  EXPECT_EQ(ops::sum_to(g, {2}).to_vector<double>(), (std::vector<double>{30, 36}));
  EXPECT_EQ(ops::sum_to(g, {3, 1}).to_vector<double>(), (std::vector<double>{14, 22, 30}));
  EXPECT_EQ(ops::sum_to(g, {2, 1, 2}).to_vector<double>(), (std::vector<double>{6, 9, 24, 27}));
  EXPECT_EQ(ops::sum_to(g, {2, 1, 1}).to_vector<double>(), (std::vector<double>{15, 51}));
  EXPECT_EQ(ops::sum_to(g, {1, 3, 1}).to_vector<double>(), (std::vector<double>{14, 22, 30}));
  Tensor all = ops::sum_to(g, {});
  EXPECT_EQ(all.shape(), Shape());
  EXPECT_EQ(all.item(), 66);
  EXPECT_EQ(ops::sum_to(g, {2, 3, 2}).to_vector<double>(), g.to_vector<double>());
}

TEST(SumTo, ErrorWhenShapeDoesNotBroadcast) {
  Tensor g = Tensor::zeros({2, 3}, DType::F64);
  EXPECT_THROW(ops::sum_to(g, {2}), Error);
  EXPECT_THROW(ops::sum_to(g, {1, 2, 3}), Error);
}

TEST(SumTo, IsDifferentiable) {
  Tensor g = Tensor::zeros({2, 3}, DType::F64);
  g.requires_grad_();
  ops::sum_to(g, {3}).backward(vec({1, 2, 3}, {3}));
  EXPECT_EQ(g.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

}  // namespace
}  // namespace lra::test
