// What the case table cannot see: exact values against index arithmetic written out by hand, that
// reshape is a view, every element of every gradient (gradcheck probes only 40), and error messages.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include <string>

#include "ops/shape/shape_ops.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

// x[i] = i, so every output element names its source.
Tensor iota(const Shape& s) {
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  return Tensor::from_vector(v, s);
}

using test::error_of;

TEST(Shape, Rank5PermuteMatchesExplicitIndexing) {
  const int64_t D[5] = {2, 3, 1, 5, 4};
  const std::vector<int> perm = {4, 0, 3, 1, 2};
  Tensor x = iota({2, 3, 1, 5, 4});
  std::vector<double> y = ops::permute(x, perm).to_vector<double>();
  ASSERT_EQ(y.size(), size_t(120));
  size_t k = 0;
  int64_t out[5] = {D[4], D[0], D[3], D[1], D[2]};
  int64_t idx[5];
  for (idx[0] = 0; idx[0] < out[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < out[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < out[2]; ++idx[2])
        for (idx[3] = 0; idx[3] < out[3]; ++idx[3])
          for (idx[4] = 0; idx[4] < out[4]; ++idx[4]) {
            int64_t src[5];
            for (int i = 0; i < 5; ++i) src[perm[size_t(i)]] = idx[i];
            int64_t off = (((src[0] * D[1] + src[1]) * D[2] + src[2]) * D[3] + src[3]) * D[4] + src[4];
            EXPECT_EQ(y[k++], double(off));
          }
}

TEST(Shape, TransposeBackwardIsTheInverseEverywhere) {
  Generator gen(11);
  Tensor x = test::random_input({4, 1000, 64}, gen);
  x.requires_grad_();
  Tensor y = ops::transpose(x, 1, 2);
  ASSERT_EQ(y.shape(), Shape({4, 64, 1000}));
  Tensor w = test::random_input(y.shape(), gen);
  y.backward(w);
  std::vector<double> g = x.grad().to_vector<double>(), wv = w.to_vector<double>(), xv = x.to_vector<double>(),
                      yv = y.to_vector<double>();
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t l = 0; l < 1000; ++l)
      for (int64_t d = 0; d < 64; ++d) {
        size_t xi = size_t((b * 1000 + l) * 64 + d), yi = size_t((b * 64 + d) * 1000 + l);
        ASSERT_EQ(yv[yi], xv[xi]);
        ASSERT_EQ(g[xi], wv[yi]);
      }
}

TEST(Shape, ReshapeIsAViewAndInfersMinusOne) {
  Tensor x = iota({4, 6});
  Tensor y = ops::reshape(x, {2, -1, 3});
  EXPECT_EQ(y.shape(), Shape({2, 4, 3}));
  EXPECT_EQ(y.raw_data(), x.raw_data());
  EXPECT_EQ(ops::reshape(x, {-1}).shape(), Shape({24}));
}

TEST(Shape, SplitPiecesGetTheirOwnGradients) {
  Tensor x = iota({2, 9});
  x.requires_grad_();
  std::vector<Tensor> p = ops::split(x, {2, 3, 4}, 1);
  ASSERT_EQ(p.size(), size_t(3));
  EXPECT_EQ(p[2].to_vector<double>(), (std::vector<double>{5, 6, 7, 8, 14, 15, 16, 17}));
  // Only pieces 0 and 2 reach the loss, with weights 1 and 10: piece 1's columns get exactly zero.
  Tensor loss = ops::concat({p[2], p[0]}, 1);
  std::vector<double> w(size_t(loss.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = (i % 6) < 4 ? 10.0 : 1.0;
  loss.backward(Tensor::from_vector(w, loss.shape()));
  std::vector<double> g = x.grad().to_vector<double>();
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 9; ++c) EXPECT_EQ(g[size_t(r * 9 + c)], c < 2 ? 1.0 : c < 5 ? 0.0 : 10.0) << r << "," << c;
}

TEST(Shape, PadAndSliceValues) {
  Tensor x = Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(ops::pad(x, 1, 1, 2, -7).to_vector<int32_t>(),
            (std::vector<int32_t>{-7, 1, 2, 3, -7, -7, -7, 4, 5, 6, -7, -7}));
  EXPECT_EQ(ops::pad(x, 0, 0, 1, 9).to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 9, 9, 9}));
  EXPECT_EQ(ops::slice(x, -1, 2, 3).to_vector<int32_t>(), (std::vector<int32_t>{3, 6}));
  EXPECT_EQ(ops::slice(x, 0, 1, 1).shape(), Shape({0, 3}));
  Tensor f = Tensor::from_vector(std::vector<float>{1.5f}, {1});
  EXPECT_EQ(ops::pad(f, 0, 1, 1, 0.25).to_vector<float>(), (std::vector<float>{0.25f, 1.5f, 0.25f}));
}

TEST(Shape, ErrorMessagesNameOpArgumentAndShapes) {
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({3, 5}), c = Tensor::zeros({2, 4});
  EXPECT_EQ(error_of([&] { ops::concat({a, a, b}, 0); }),
            "concat: input 2 has shape [3, 5] but input 0 has [3, 4]: all dims except 0 must match");
  EXPECT_EQ(error_of([&] { ops::concat({a, c}, 1); }),
            "concat: input 1 has shape [2, 4] but input 0 has [3, 4]: all dims except 1 must match");
  EXPECT_NE(error_of([&] { ops::concat({a, Tensor::zeros({3, 4}, DType::I32)}, 0); }).find("concat: input 1 is"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { ops::reshape(a, {5, -1}); }),
            "reshape: cannot infer the -1 in [5, -1] for x of shape [3, 4] (12 elements)");
  EXPECT_EQ(error_of([&] { ops::reshape(a, {-1, -1}); }), "reshape: shape [-1, -1] has more than one -1");
  // Beside a 0 any size fits the -1, so it is refused rather than guessed.
  EXPECT_EQ(error_of([&] { ops::reshape(Tensor::zeros({0, 3}), {0, -1}); }),
            "reshape: cannot infer the -1 in [0, -1] for x of shape [0, 3] (0 elements)");
  EXPECT_EQ(error_of([&] { ops::reshape(a, {5, 2}); }),
            "reshape: cannot reshape x of shape [3, 4] (12 elements) to [5, 2] (10 elements)");
  EXPECT_EQ(error_of([&] { ops::permute(a, {0, 0}); }),
            "permute: dims [0, 0] names dim 0 twice; it must be a permutation of the 2 dims of x of shape [3, 4]");
  EXPECT_EQ(error_of([&] { ops::permute(a, {1, 0, 2}); }),
            "permute: dims [1, 0, 2] has 3 entries but x of shape [3, 4] has 2 dims");
  EXPECT_EQ(error_of([&] { ops::transpose(a, 0, 2); }),
            "transpose: dim1 2 is out of range for x of shape [3, 4] (2 dims)");
  EXPECT_EQ(error_of([&] { ops::split(a, {1, 2}, 1); }),
            "split: sizes [1, 2] sum to 3 but dim 1 of x of shape [3, 4] has size 4");
  EXPECT_EQ(error_of([&] { ops::slice(a, 1, 2, 5); }),
            "slice: [2, 5) is not a range inside dim 1 of x of shape [3, 4] (size 4)");
  EXPECT_EQ(error_of([&] { ops::pad(a, -3, 1, 1); }), "pad: dim -3 is out of range for x of shape [3, 4] (2 dims)");
  EXPECT_EQ(error_of([&] { ops::pad(a, 0, -1, 1); }), "pad: before (-1) and after (1) must be >= 0 for x of shape [3, 4]");
}

}  // namespace
}  // namespace lra
