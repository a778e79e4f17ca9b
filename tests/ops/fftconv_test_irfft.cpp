// The inverse real DFT of any length (ops/fftconv/irfft.h): its cases in the shared table (registered as
// their own family, "irfft", in the fftconv test binary, which links the library it lives in), and the
// O(n log n) CPU path against the direct sum for lengths of every kind: 1, 2, powers of two, odd, primes
// (Bluestein) and the LRA recipes' l_max values 2000 and 4000.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "ops/fftconv/irfft.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

OpCase make_case(const Shape& lead, int64_t n, int64_t L, Generator& gen) {
  std::vector<int64_t> dims = lead.vec();
  dims.push_back(n / 2 + 1);
  dims.push_back(2);
  OpCase c;
  c.name = "irfft " + Shape(dims).to_string() + " n" + std::to_string(n) + " L" + std::to_string(L);
  c.inputs = {random_input(Shape(dims), gen)};
  c.fn = [n, L](const std::vector<Tensor>& in) { return ops::irfft(in[0], n, L); };
  // cuFFT float32 against the CPU float32 FFT: both errors grow like ε·log2(n)·‖X‖/√n per output; the
  // atol allows that with a margin (derived, not measured: no GPU when this was written).
  c.rtol = 1e-4;
  c.atol = 1e-6 * (1.0 + std::log2(double(n)));
  return c;
}

std::vector<OpCase> irfft_cases(Generator& gen) {
  std::vector<OpCase> cases;
  cases.push_back(make_case({1}, 1, 1, gen));
  cases.push_back(make_case({3}, 2, 2, gen));
  cases.push_back(make_case({2}, 2, 1, gen));
  cases.push_back(make_case({2, 3}, 7, 7, gen));
  cases.push_back(make_case({5}, 16, 9, gen));
  cases.push_back(make_case({4}, 17, 13, gen));   // prime: Bluestein on the CPU
  cases.push_back(make_case({3}, 31, 31, gen));
  cases.push_back(make_case({2}, 65, 64, gen));   // tile + 1
  cases.push_back(make_case({2, 2}, 2000, 1500, gen));  // an LRA l_max (ListOps: 2000), truncated
  OpCase empty = make_case({0, 3}, 6, 4, gen);
  empty.out_shape = Shape{0, 3, 4};
  cases.push_back(empty);
  return cases;
}

TEST(Irfft, FastPathMatchesTheDirectSum) {
  Generator gen(kCaseSeed + 3);
  for (int64_t n : {1, 2, 3, 4, 5, 8, 12, 13, 97, 128, 255, 2000, 4000, 4099}) {
    const int64_t rows = 3, K = n / 2 + 1;
    for (int64_t L : {int64_t(1), (n + 1) / 2, n}) {
      Tensor X = random_input({rows, K, 2}, gen);
      Tensor g = random_input({rows, L}, gen);
      const ops::IrfftShape s{rows, n, L};
      std::vector<double> x0(size_t(rows * L)), x1(size_t(rows * L)), g0(size_t(rows * K * 2)),
          g1(size_t(rows * K * 2));
      ops::cpu::irfft_direct_forward<double>(s, X.data<double>(), x0.data());
      ops::cpu::irfft_forward<double>(s, X.data<double>(), x1.data());
      ops::cpu::irfft_direct_backward<double>(s, g.data<double>(), g0.data());
      ops::cpu::irfft_backward<double>(s, g.data<double>(), g1.data());
      const double tol = 1e-12 * (1.0 + std::log2(double(n))) * std::sqrt(double(n));
      for (size_t i = 0; i < x0.size(); ++i) ASSERT_NEAR(x0[i], x1[i], tol) << "n " << n << " L " << L << " at " << i;
      for (size_t i = 0; i < g0.size(); ++i) ASSERT_NEAR(g0[i], g1[i], tol) << "n " << n << " L " << L << " at " << i;
    }
  }
}

TEST(Irfft, InvertsTheRealDFT) {
  // x → X = rfft(x) (direct, in the test) → irfft(X, n) gives x back, for odd and even n.
  Generator gen(kCaseSeed + 4);
  for (int64_t n : {1, 2, 6, 11, 2000}) {
    Tensor x = random_input({2, n}, gen);
    const int64_t K = n / 2 + 1;
    std::vector<double> X(size_t(2 * K * 2));
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t k = 0; k < K; ++k) {
        double re = 0, im = 0;
        for (int64_t t = 0; t < n; ++t) {
          const double a = -2.0 * 3.14159265358979323846 * double((k * t) % n) / double(n);
          re += x.data<double>()[r * n + t] * std::cos(a);
          im += x.data<double>()[r * n + t] * std::sin(a);
        }
        X[size_t(2 * (r * K + k))] = re;
        X[size_t(2 * (r * K + k) + 1)] = im;
      }
    Tensor back = ops::irfft(Tensor::from_vector(X, {2, K, 2}), n, n);
    for (int64_t i = 0; i < 2 * n; ++i) ASSERT_NEAR(back.data<double>()[i], x.data<double>()[i], 1e-10) << "n " << n;
  }
}

}  // namespace
}  // namespace lra::test

LRA_OP_CASES(irfft, lra::test::irfft_cases);
