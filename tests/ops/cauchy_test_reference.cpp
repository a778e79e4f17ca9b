// The DPLR frequency response against definitions written independently of cauchy.h, in double:
//   * P = 0 is the diagonal SSM with the bilinear discretisation: k̂ must be the length-n DFT of the taps
//     K[l] = 2·Re Σ_m C'·B̄·Ā^l (Ā = (1 + dtΛ/2)/(1 − dtΛ/2), B̄ = dt·B/(1 − dtΛ/2)), with C̃ = C'(1 − Ā^n)
//     the op's C (the truncation correction S4 stores); this includes the exact Nyquist bin.
//   * P ≠ 0 against the reference's own expression: nodes ω^k = e^{−2πik/n} in double, z = 2(1−ω)/(1+ω),
//     cauchy_naive over the conjugate-extended modes, the rank-1 Woodbury and 2/(1+ω) (ssm.py 812–872),
//     on every node but the Nyquist one, where the reference's expression is singular.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "ops/cauchy/cauchy.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

using cd = std::complex<double>;

struct Params {
  int64_t Cc, H, S, M, n;
  Tensor dt, ar, ai, P, B, C;
  cd get(const Tensor& t, int64_t i) const { return {t.data<double>()[2 * i], t.data<double>()[2 * i + 1]}; }
  cd lam(int64_t h, int64_t m) const {
    const int64_t sm = (h % S) * M + m;
    return {-std::exp(ar.data<double>()[sm]), -ai.data<double>()[sm]};
  }
  cd b(int64_t h, int64_t m) const { return get(B, (h % S) * M + m); }
  cd p(int64_t h, int64_t m) const { return get(P, (h % S) * M + m); }
  cd c(int64_t ch, int64_t h, int64_t m) const { return get(C, (ch * H + h) * M + m); }
};

Params make(int64_t Cc, int64_t H, int64_t S, int64_t M, int64_t n, bool zero_p, Generator& gen) {
  Params q{Cc, H, S, M, n};
  q.dt = random_input({H}, gen, 1e-3, 0.2);
  q.ar = random_input({S, M}, gen, std::log(0.3), std::log(0.8));
  q.ai = random_input({S, M}, gen, 0.0, 3.0 * double(M));
  q.P = zero_p ? Tensor::zeros({S, M, 2}, DType::F64) : random_input({S, M, 2}, gen);
  q.B = random_input({S, M, 2}, gen);
  q.C = random_input({Cc, H, M, 2}, gen);
  return q;
}

cd khat_of(const Tensor& khat, int64_t H, int64_t K, int64_t c, int64_t h, int64_t k) {
  const double* p = khat.data<double>() + 2 * ((c * H + h) * K + k);
  return {p[0], p[1]};
}

TEST(DPLRResponse, ZeroPIsTheDiagonalBilinearKernelsDFT) {
  Generator gen(kCaseSeed + 1);
  for (int64_t n : {1, 2, 7, 16, 33}) {
    Params q = make(2, 4, 2, 3, n, /*zero_p=*/true, gen);
    Tensor khat = ops::dplr_response(q.dt, q.ar, q.ai, q.P, q.B, q.C, n);
    const int64_t K = n / 2 + 1;
    for (int64_t c = 0; c < q.Cc; ++c)
      for (int64_t h = 0; h < q.H; ++h) {
        const double dt = q.dt.data<double>()[h];
        std::vector<double> taps(size_t(n), 0.0);
        for (int64_t m = 0; m < q.M; ++m) {
          const cd dl = dt * q.lam(h, m), Ab = (1.0 + dl / 2.0) / (1.0 - dl / 2.0);
          const cd Bb = dt * q.b(h, m) / (1.0 - dl / 2.0);
          const cd Cp = q.c(c, h, m) / (1.0 - std::pow(Ab, double(n)));
          for (int64_t l = 0; l < n; ++l) taps[size_t(l)] += 2.0 * (Cp * Bb * std::pow(Ab, double(l))).real();
        }
        for (int64_t k = 0; k < K; ++k) {
          cd want = 0;
          for (int64_t l = 0; l < n; ++l)
            want += taps[size_t(l)] * std::polar(1.0, -2.0 * std::numbers::pi * double((k * l) % n) / double(n));
          const cd got = khat_of(khat, q.H, K, c, h, k);
          EXPECT_NEAR(got.real(), want.real(), 1e-9 * (1.0 + std::abs(want))) << "n " << n << " c " << c << " h " << h
                                                                             << " k " << k;
          EXPECT_NEAR(got.imag(), want.imag(), 1e-9 * (1.0 + std::abs(want))) << "n " << n << " c " << c << " h " << h
                                                                             << " k " << k;
        }
      }
  }
}

TEST(DPLRResponse, MatchesTheReferenceExpressionWithWoodbury) {
  Generator gen(kCaseSeed + 2);
  for (int64_t n : {3, 8, 31, 64}) {
    Params q = make(2, 3, 3, 4, n, /*zero_p=*/false, gen);
    Tensor khat = ops::dplr_response(q.dt, q.ar, q.ai, q.P, q.B, q.C, n);
    const int64_t K = n / 2 + 1;
    for (int64_t h = 0; h < q.H; ++h) {
      const double dt = q.dt.data<double>()[h];
      for (int64_t k = 0; k < K; ++k) {
        if (2 * k == n) continue;
        const cd omega = std::polar(1.0, -2.0 * std::numbers::pi * double(k) / double(n));
        const cd z = 2.0 * (1.0 - omega) / (1.0 + omega);
        // cauchy_naive(v, z, w): Σ over the modes and their conjugates of v/(z − w)
        auto cauchy = [&](auto v_of) {
          cd r = 0;
          for (int64_t m = 0; m < q.M; ++m) {
            const cd w = dt * q.lam(h, m), v = dt * v_of(m);
            r += v / (z - w) + std::conj(v) / (z - std::conj(w));
          }
          return r;
        };
        const cd r_bq = cauchy([&](int64_t m) { return q.b(h, m) * std::conj(q.p(h, m)); });
        const cd r_pq = cauchy([&](int64_t m) { return q.p(h, m) * std::conj(q.p(h, m)); });
        for (int64_t c = 0; c < q.Cc; ++c) {
          const cd r_bc = cauchy([&](int64_t m) { return q.b(h, m) * q.c(c, h, m); });
          const cd r_pc = cauchy([&](int64_t m) { return q.p(h, m) * q.c(c, h, m); });
          const cd want = (r_bc - r_bq * r_pc / (1.0 + r_pq)) * 2.0 / (1.0 + omega);
          const cd got = khat_of(khat, q.H, K, c, h, k);
          EXPECT_NEAR(std::abs(got - want), 0.0, 1e-9 * (1.0 + std::abs(want))) << "n " << n << " h " << h << " k "
                                                                                 << k << " c " << c;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lra::test
