// The float32 CPU GEMMs beside the reference: ours (cpu::gemm_fast, matmul_cpu_fast.cpp) and OpenBLAS
// (cpu::gemm_openblas) against cpu::gemm<double> on the same float inputs, through the raw entry points
// and the contract of matmul.h: all four transpose combinations, alpha and beta (beta == 0 never reads
// C, which holds NaN), a batch with either operand shared (stride 0), empty extents (m, n or k = 0),
// odd sizes around the micro-tile (14 x 32), the k block (256), the row block (1008) and the column
// block (3072), primes, and realistic LRA linear-layer shapes (rows = B·L up to 16K).
//
// These are not entries of the op-case table: its cases run the CPU side in float64 (the reference, the
// gradcheck), and the float32 CPU path is what is tested here, as for the scan and the SSM kernel.
//
// Tolerance, from K: inputs are uniform in [-1, 1], so a term a·b has rms 1/3 and C's entries are about
// |alpha|·sqrt(K)/3 in size; a float32 sum of K terms (in any order: blocked, FMA) rounds partial sums of
// that size K times, a random walk whose error is ~ sqrt(K)·eps relative to C. Allowed:
//   |got - ref| <= 8·sqrt(K)·eps · (|alpha|·sqrt(K)/3 + |beta|) + 4·eps·|ref|      (eps = 2^-23)
// (8: a margin over the typical error, which the worst element of a large C exceeds by ~4x).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/base.h"
#include "ops/matmul/matmul.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using ops::cpu::GemmImpl;

struct Dims {
  int64_t m, n, k;
};

std::vector<float> randoms(int64_t n, Generator& gen) {
  return n == 0 ? std::vector<float>() : test::random_input({n}, gen).to_vector<float>();
}

void run_impl(GemmImpl impl, bool ta, bool tb, const Dims& d, float alpha, const float* a, int64_t sa,
              const float* b, int64_t sb, float beta, float* c, int64_t batch) {
  auto fn = impl == GemmImpl::Fast ? ops::cpu::gemm_fast : ops::cpu::gemm_openblas;
  fn(ta, tb, d.m, d.n, d.k, alpha, a, sa, b, sb, beta, c, d.m * d.n, batch);
}

// One comparison: returns "" or a message naming the worst element.
std::string check(GemmImpl impl, bool ta, bool tb, const Dims& d, float alpha, float beta, int64_t batch,
                  bool share_a, bool share_b, Generator& gen) {
  const int64_t sa = share_a ? 0 : d.m * d.k, sb = share_b ? 0 : d.k * d.n, sc = d.m * d.n;
  const std::vector<float> a = randoms((share_a ? 1 : batch) * d.m * d.k, gen),
                           b = randoms((share_b ? 1 : batch) * d.k * d.n, gen),
                           c0 = randoms(batch * sc, gen);
  std::vector<float> got = c0;
  if (beta == 0.0f) std::fill(got.begin(), got.end(), NAN);  // must not be read
  run_impl(impl, ta, tb, d, alpha, a.data(), sa, b.data(), sb, beta, got.data(), batch);
  const std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end());
  std::vector<double> ref(c0.begin(), c0.end());
  ops::cpu::gemm<double>(ta, tb, d.m, d.n, d.k, alpha, ad.data(), sa, bd.data(), sb, beta, ref.data(), sc, batch);
  const double eps = std::ldexp(1.0, -23), rk = std::sqrt(double(std::max<int64_t>(d.k, 1)));
  const double atol = 8 * rk * eps * (std::fabs(alpha) * rk / 3 + std::fabs(beta)), rtol = 4 * eps;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]) - (atol + rtol * std::fabs(ref[i]));
    if (!(err <= worst)) worst = err, at = i;  // NaN counts as a failure
  }
  if (worst <= 0) return "";
  return str(ops::cpu::gemm_impl_name(impl), " m=", d.m, " n=", d.n, " k=", d.k, " ta=", ta, " tb=", tb,
                      " alpha=", alpha, " beta=", beta, " batch=", batch, " share_a=", share_a, " share_b=", share_b,
                      ": element ", at, " is ", got[at], ", reference ", ref[at], " (atol ", atol, ")");
}

const std::vector<Dims> kOdd = {
    {1, 1, 1},     {2, 3, 5},      {13, 31, 255},  {14, 32, 256},  {15, 33, 257},  {29, 65, 1},
    {97, 89, 101}, {1, 300, 3},    {300, 1, 3},    {43, 97, 513},  {1009, 17, 20}, {3, 3073, 7},
};

class FastGemm : public ::testing::TestWithParam<GemmImpl> {};

TEST_P(FastGemm, MatchesTheReferenceOnOddShapes) {
  Generator gen(test::kCaseSeed + 160);
  for (const Dims& d : kOdd)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 0.5f}) {
          const std::string e = check(GetParam(), ta, tb, d, -1.5f, beta, 1, false, false, gen);
          ASSERT_TRUE(e.empty()) << e;
        }
}

TEST_P(FastGemm, BatchWithASharedOperand) {
  Generator gen(test::kCaseSeed + 161);
  for (const Dims& d : {Dims{7, 33, 19}, Dims{45, 64, 300}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int share : {0, 1, 2}) {
          const std::string e = check(GetParam(), ta, tb, d, 0.75f, share == 0 ? 0.0f : 2.0f, 5, share == 1,
                                      share == 2, gen);
          ASSERT_TRUE(e.empty()) << e;
        }
}

// Empty extents: m or n = 0 touches nothing; k = 0 writes C = beta·C (zeros for beta 0, C holding NaN).
TEST_P(FastGemm, EmptyExtents) {
  Generator gen(test::kCaseSeed + 162);
  for (const Dims& d : {Dims{0, 5, 7}, Dims{5, 0, 7}, Dims{5, 7, 0}})
    for (bool ta : {false, true})
      for (float beta : {0.0f, 0.5f}) {
        const std::string e = check(GetParam(), ta, !ta, d, 1.0f, beta, 2, false, false, gen);
        ASSERT_TRUE(e.empty()) << e;
      }
  std::vector<float> c(6, 1.0f);
  run_impl(GetParam(), false, false, {0, 2, 3}, 1.0f, nullptr, 0, nullptr, 0, 0.0f, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(6, 1.0f)) << "m = 0 must leave C alone";
}

// The linear-layer GEMMs of LRA training: forward x·Wᵀ (NT), dx = g·W (NN), dW = gᵀ·x (TN, K = rows).
TEST_P(FastGemm, RealisticLraShapes) {
  Generator gen(test::kCaseSeed + 163);
  const struct {
    bool ta, tb;
    Dims d;
  } shapes[] = {{false, true, {2048, 256, 256}}, {false, false, {2048, 64, 256}}, {true, false, {128, 64, 16384}}};
  for (const auto& s : shapes) {
    const std::string e = check(GetParam(), s.ta, s.tb, s.d, 1.0f, 0.0f, 1, false, false, gen);
    ASSERT_TRUE(e.empty()) << e;
  }
}

INSTANTIATE_TEST_SUITE_P(Impl, FastGemm, ::testing::Values(GemmImpl::Fast, GemmImpl::OpenBLAS),
                         [](const auto& info) { return std::string(ops::cpu::gemm_impl_name(info.param)); });

#ifdef _OPENMP
// Our kernel's result does not depend on the thread count: every element of C is one accumulator lane
// summing k in the same order and the same k blocks, whichever thread (and slab) computes it. Bitwise.
// (The suite runs with OMP_NUM_THREADS=1, so this is also where the slab offsets of the threaded paths
// are checked: the 1-thread result is the one compared with the reference above.)
TEST(FastGemm, SameBitsForAnyThreadCount) {
  Generator gen(test::kCaseSeed + 164);
  const int saved = omp_get_max_threads();
  const struct {
    bool ta, tb;
    Dims d;
    int64_t batch;
  } shapes[] = {// row slabs, column slabs (each transpose combination between them), a batch of small products
                {false, false, {301, 77, 530}, 1}, {true, true, {300, 41, 70}, 1}, {true, false, {45, 260, 3000}, 1},
                {false, true, {40, 300, 70}, 1},   {false, true, {64, 64, 16}, 6}};
  for (const auto& s : shapes) {
    const std::vector<float> a = randoms(s.batch * s.d.m * s.d.k, gen), b = randoms(s.batch * s.d.k * s.d.n, gen);
    std::vector<float> first;
    for (int threads : {1, 2, 3, 4}) {
      omp_set_num_threads(threads);
      std::vector<float> c(size_t(s.batch * s.d.m * s.d.n));
      ops::cpu::gemm_fast(s.ta, s.tb, s.d.m, s.d.n, s.d.k, 1.0f, a.data(), s.d.m * s.d.k, b.data(), s.d.k * s.d.n,
                          0.0f, c.data(), s.d.m * s.d.n, s.batch);
      if (first.empty())
        first = c;
      else
        EXPECT_EQ(0, std::memcmp(first.data(), c.data(), c.size() * sizeof(float)))
            << threads << " threads differ from 1, m=" << s.d.m << " n=" << s.d.n << " k=" << s.d.k;
    }
  }
  omp_set_num_threads(saved);
}
#endif

// The float32 ops run the implementation selected; each gives matmul's result within the tolerance.
TEST(FastGemm, MatmulDispatchFollowsTheSelection) {
  Generator gen(test::kCaseSeed + 165);
  Tensor a = Tensor::from_vector(randoms(3 * 40 * 50, gen), {3, 40, 50});
  Tensor b = Tensor::from_vector(randoms(50 * 30, gen), {50, 30});
  const GemmImpl saved = ops::cpu::gemm_f32_impl();
  ops::cpu::set_gemm_f32_impl(GemmImpl::Reference);
  const std::vector<float> ref = ops::matmul(a, b).to_vector<float>();
  for (GemmImpl impl : {GemmImpl::Fast, GemmImpl::OpenBLAS}) {
    ops::cpu::set_gemm_f32_impl(impl);
    EXPECT_EQ(ops::cpu::gemm_f32_impl(), impl);
    const std::vector<float> got = ops::matmul(a, b).to_vector<float>();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-5) << ops::cpu::gemm_impl_name(impl) << " at " << i;
  }
  ops::cpu::set_gemm_f32_impl(saved);
}

}  // namespace
}  // namespace lra
