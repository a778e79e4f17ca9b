// The float32 CPU path of the unary ops and GLU (ops/elementwise/elementwise_cpu_fast.cpp) against the
// float64 reference loops, forward and backward with a random upstream gradient, for every op, on sizes
// around its threading threshold; and independence from the thread count.
// Tolerance: the same formulas in float32 with fast_exp (~2 ulp), fast_erf (<= 1.3 ulp), fast_log1p_unit
// and glibc's tanh/sin/cos, FMA contractions allowed: |fast − ref| <= 2e-6 + 2e-5·|ref| (a few float32 ulp
// of each term).
#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "ops/elementwise/elementwise.h"

namespace lra::test {
namespace {

using ops::UnaryOp;

const UnaryOp kOps[] = {UnaryOp::Relu, UnaryOp::GeluTanh, UnaryOp::GeluErf, UnaryOp::Silu,  UnaryOp::Sigmoid,
                        UnaryOp::Tanh, UnaryOp::Scale,    UnaryOp::Rsqrt,   UnaryOp::Elu,   UnaryOp::Exp,
                        UnaryOp::Guard, UnaryOp::Sin,     UnaryOp::Cos,     UnaryOp::Softplus, UnaryOp::Laplace};

void expect_close(const std::vector<float>& fast, const std::vector<double>& ref, const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::abs(double(fast[i]) - ref[i]), 2e-6 + 2e-5 * std::abs(ref[i]))
        << what << " at " << i << ": fast " << fast[i] << ", reference " << ref[i];
}

TEST(ElementwiseCpuFast, EveryUnaryOpMatchesTheFloat64Reference) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> xs(-4.0, 4.0), gs(-1.0, 1.0);
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(17), (int64_t(1) << 15) - 1, (int64_t(1) << 15) + 3})
    for (UnaryOp op : kOps) {
      const double alpha = op == UnaryOp::Rsqrt ? 4.5 : 0.3;  // Rsqrt: x + alpha > 0 on [-4, 4]
      std::vector<double> x(static_cast<size_t>(n)), g(static_cast<size_t>(n)), y(static_cast<size_t>(n)), gx(static_cast<size_t>(n));
      for (auto& v : x) v = xs(gen);
      for (auto& v : g) v = gs(gen);
      ops::cpu::unary_forward<double>(op, x.data(), y.data(), n, alpha);
      ops::cpu::unary_backward<double>(op, x.data(), y.data(), g.data(), gx.data(), n, alpha);
      const std::vector<float> xf(x.begin(), x.end()), gf(g.begin(), g.end());
      std::vector<float> yf(static_cast<size_t>(n)), gxf(static_cast<size_t>(n));
      ops::cpu::unary_forward_fast(op, xf.data(), yf.data(), n, float(alpha));
      ops::cpu::unary_backward_fast(op, xf.data(), yf.data(), gf.data(), gxf.data(), n, float(alpha));
      const std::string what = "op " + std::to_string(int(op)) + " n " + std::to_string(n);
      expect_close(yf, y, what + " forward");
      expect_close(gxf, gx, what + " backward");
    }
}

TEST(ElementwiseCpuFast, GluMatchesTheFloat64Reference) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  struct G {
    int64_t outer, d, inner;
  };
  for (G s : {G{1, 1, 1}, G{3, 5, 7}, G{0, 4, 2}, G{2, 128, 300}}) {
    const int64_t n = s.outer * 2 * s.d * s.inner, m = s.outer * s.d * s.inner;
    std::vector<double> x(static_cast<size_t>(n)), g(static_cast<size_t>(m)), y(static_cast<size_t>(m)), gx(static_cast<size_t>(n));
    for (auto& v : x) v = u(gen);
    for (auto& v : g) v = u(gen);
    ops::cpu::glu_forward<double>(x.data(), y.data(), s.outer, s.d, s.inner);
    ops::cpu::glu_backward<double>(x.data(), g.data(), gx.data(), s.outer, s.d, s.inner);
    const std::vector<float> xf(x.begin(), x.end()), gf(g.begin(), g.end());
    std::vector<float> yf(static_cast<size_t>(m)), gxf(static_cast<size_t>(n));
    ops::cpu::glu_forward_fast(xf.data(), yf.data(), s.outer, s.d, s.inner);
    ops::cpu::glu_backward_fast(xf.data(), gf.data(), gxf.data(), s.outer, s.d, s.inner);
    expect_close(yf, y, "glu forward");
    expect_close(gxf, gx, "glu backward");
  }
}

// The exp-based ops at the ends of float32's range (fast_exp clamps; fast_exp_full_range reaches +inf where
// e^x overflows): where the float64 reference's value overflows float32 the fast path must give that inf,
// elsewhere it must be within the tolerance above.
TEST(ElementwiseCpuFast, ExpFamilyAtTheEndsOfTheRange) {
  const std::vector<double> x = {-100, -88.9, -87.5, -20, -1e-3, 0, 1e-3, 20, 80.5, 88.5, 88.9, 100};
  const std::vector<double> g(x.size(), 0.75);
  for (UnaryOp op : {UnaryOp::GeluErf, UnaryOp::Silu, UnaryOp::Sigmoid, UnaryOp::Elu, UnaryOp::Exp, UnaryOp::Softplus,
                     UnaryOp::Laplace}) {
    const int64_t n = int64_t(x.size());
    std::vector<double> y(x.size()), gx(x.size());
    ops::cpu::unary_forward<double>(op, x.data(), y.data(), n, 0.0);
    ops::cpu::unary_backward<double>(op, x.data(), y.data(), g.data(), gx.data(), n, 0.0);
    const std::vector<float> xf(x.begin(), x.end()), gf(g.begin(), g.end());
    std::vector<float> yf(x.size()), gxf(x.size());
    ops::cpu::unary_forward_fast(op, xf.data(), yf.data(), n, 0.0f);
    ops::cpu::unary_backward_fast(op, xf.data(), yf.data(), gf.data(), gxf.data(), n, 0.0f);
    for (size_t i = 0; i < x.size(); ++i)
      for (auto [fast, ref, what] : {std::tuple{yf[i], y[i], "forward"}, std::tuple{gxf[i], gx[i], "backward"}}) {
        if (what[0] == 'b' && !std::isfinite(float(y[i])))
          continue;  // exp's backward reads y, which float32 holds as inf: no float32 result is right
        else if (!std::isfinite(float(ref)))
          EXPECT_EQ(fast, float(ref)) << "op " << int(op) << " " << what << " x " << x[i];
        else
          EXPECT_LE(std::abs(double(fast) - ref), 2e-6 + 2e-5 * std::abs(ref))
              << "op " << int(op) << " " << what << " x " << x[i] << ": fast " << fast << ", reference " << ref;
      }
  }
}

// Each thread writes its own range with the same per-element formula: 1, 2 or 3 threads, identical bits.
TEST(ElementwiseCpuFast, DoesNotDependOnTheThreadCount) {
#ifdef _OPENMP
  const int64_t n = 100003;
  std::vector<float> x(static_cast<size_t>(n)), g(static_cast<size_t>(n));
  std::mt19937 gen(9);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  for (auto& v : x) v = u(gen);
  for (auto& v : g) v = u(gen);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> y(static_cast<size_t>(n)), gx(static_cast<size_t>(n));
    ops::cpu::unary_forward_fast(UnaryOp::GeluErf, x.data(), y.data(), n, 0.0f);
    ops::cpu::unary_backward_fast(UnaryOp::GeluErf, x.data(), y.data(), g.data(), gx.data(), n, 0.0f);
    y.insert(y.end(), gx.begin(), gx.end());
    return y;
  };
  const int before = omp_get_max_threads();
  const auto one = run(1);
  EXPECT_EQ(one, run(2));
  EXPECT_EQ(one, run(3));
  omp_set_num_threads(before);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

}  // namespace
}  // namespace lra::test
