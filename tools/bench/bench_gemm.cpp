// bench_gemm: the float32 CPU GEMMs side by side - the reference (matmul_cpu.cpp), ours
// (matmul_cpu_fast.cpp) and OpenBLAS (matmul_cpu_openblas.cpp) - through the raw cpu:: entry points, at
// 512^3 in all four transpose combinations and at the linear-layer shapes of LRA training (rows = B·L,
// the forward y = x·Wᵀ, the backward dx = g·W and dW = gᵀ·x with its inner dimension over all rows).
// Check first: each implementation's C is compared with the reference's on the same inputs (worst
// |a - b| / max |ref|, printed). Then time: --rounds rounds, each calling every implementation once in
// turn (interleaved, so a noisy neighbour slows all sides alike), after one warm-up call each; the median
// per implementation is reported in GFLOP/s (2·m·n·k per call), with the best round in parentheses: on a
// shared 2-core machine a round in which a neighbour took a core shows up as a 4 ms scheduler tick, and
// the best round is the rate the code reaches when it has the cores. The thread count is OpenMP's
// (OMP_NUM_THREADS); the numbers use 2.
//
//   OMP_NUM_THREADS=2 bench_gemm --markdown          (the table in docs/kernels.md)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/matmul/matmul.h"

// OpenBLAS names the kernel set it picked at load time (DYNAMIC_ARCH): Debian's 0.3.21 does not know
// this Xeon (family 6, model 207) and falls back to Prescott (SSE3) unless OPENBLAS_CORETYPE says
// otherwise (Cooperlake and SapphireRapids both give its AVX-512 SGEMM kernels).
extern "C" char* openblas_get_corename(void);

using namespace lra;
using bench::median;
using ops::cpu::GemmImpl;

namespace {

struct Shape3 {
  std::string what;
  bool ta, tb;
  int64_t m, n, k;
};

std::vector<float> random_floats(int64_t n, Generator& g) {
  Tensor t = Tensor::empty({n}, DType::F32, Device::CPU);
  uniform_(t, g, -1.0, 1.0);
  return t.to_vector<float>();
}

int run(int rounds, bool markdown, bool with_reference, const std::string& only) {
  const std::vector<Shape3> shapes = {
      {"512^3 NN", false, false, 512, 512, 512},
      {"512^3 NT", false, true, 512, 512, 512},
      {"512^3 TN", true, false, 512, 512, 512},
      {"512^3 TT", true, true, 512, 512, 512},
      // LRA text width 256, MLP 1024, B·L = 4096 rows.
      {"fwd x·Wᵀ 4096x256 -> 256", false, true, 4096, 256, 256},
      {"fwd x·Wᵀ 4096x256 -> 1024", false, true, 4096, 1024, 256},
      {"dx g·W 4096x1024 -> 256", false, false, 4096, 256, 1024},
      {"dW gᵀ·x 1024x256, K=4096", true, false, 1024, 256, 4096},
      // The LRU model of bench_train's lra_text (width 128, MLP 256, batch 4 x L 1024): its ten linear
      // layers are these three GEMMs, 85% of its CPU backward before this path.
      {"LRU fwd x·Wᵀ 4096x128 -> 256", false, true, 4096, 256, 128},
      {"LRU dx g·W 4096x256 -> 128", false, false, 4096, 128, 256},
      {"LRU dW gᵀ·x 256x128, K=4096", true, false, 256, 128, 4096},
      // A narrow layer over long sequences: width 64 -> 128 over B·L = 16384 rows.
      {"fwd x·Wᵀ 16384x64 -> 128", false, true, 16384, 128, 64},
      {"dx g·W 16384x128 -> 64", false, false, 16384, 64, 128},
      {"dW gᵀ·x 128x64, K=16384", true, false, 128, 64, 16384},
  };
  std::vector<GemmImpl> impls = {GemmImpl::Fast, GemmImpl::OpenBLAS};
  if (with_reference) impls.insert(impls.begin(), GemmImpl::Reference);
  auto call = [](GemmImpl impl, const Shape3& s, const float* a, const float* b, float* c) {
    auto fn = impl == GemmImpl::Fast       ? ops::cpu::gemm_fast
              : impl == GemmImpl::OpenBLAS ? ops::cpu::gemm_openblas
                                           : ops::cpu::gemm<float>;
    fn(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a, 0, b, 0, 0.0f, c, 0, 1);
  };
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  Generator g(7);
  if (!markdown) std::printf("%d threads, OpenBLAS core %s\n", threads, openblas_get_corename());
  if (markdown) {
    std::printf("float32 GEMM, %d threads, OpenBLAS core %s, GFLOP/s (2mnk / time): median (best) of %d "
                "interleaved rounds\n\n",
                threads, openblas_get_corename(), rounds);
    std::printf("| shape | m | n | k |");
    for (GemmImpl i : impls) std::printf(" %s |", ops::cpu::gemm_impl_name(i));
    std::printf(" fast / openblas | check (worst rel. err vs reference) |\n|---|---|---|---|");
    for (size_t i = 0; i < impls.size(); ++i) std::printf("---|");
    std::printf("---|---|\n");
  }
  for (const Shape3& s : shapes) {
    if (!only.empty() && s.what.find(only) == std::string::npos) continue;
    const std::vector<float> a = random_floats(s.m * s.k, g), b = random_floats(s.k * s.n, g);
    std::vector<float> ref(size_t(s.m * s.n)), c(size_t(s.m * s.n));
    call(GemmImpl::Reference, s, a.data(), b.data(), ref.data());
    std::string check;
    double scale = 1e-30;
    for (float v : ref) scale = std::max(scale, double(std::fabs(v)));
    for (GemmImpl impl : impls) {
      if (impl == GemmImpl::Reference) continue;
      std::fill(c.begin(), c.end(), NAN);
      call(impl, s, a.data(), b.data(), c.data());
      double worst = 0;
      for (size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::fabs(double(c[i]) - double(ref[i])));
      if (!(worst / scale < 1e-4)) {
        std::fprintf(stderr, "bench_gemm: %s disagrees with the reference on %s: rel err %.2e\n",
                     ops::cpu::gemm_impl_name(impl), s.what.c_str(), worst / scale);
        return 1;
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s %.1e", check.empty() ? "" : ", ", ops::cpu::gemm_impl_name(impl),
                    worst / scale);
      check += buf;
    }
    std::vector<std::vector<double>> ms(impls.size());
    for (GemmImpl impl : impls) call(impl, s, a.data(), b.data(), c.data());  // warm-up
    for (int r = 0; r < rounds; ++r)
      for (size_t i = 0; i < impls.size(); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        call(impls[i], s, a.data(), b.data(), c.data());
        ms[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    std::vector<double> gflops, best;
    for (auto& v : ms) {
      gflops.push_back(flops / (median(v) * 1e-3) / 1e9);
      best.push_back(flops / (*std::min_element(v.begin(), v.end()) * 1e-3) / 1e9);
    }
    const double ratio = gflops[impls.size() - 2] / gflops[impls.size() - 1];  // fast / openblas
    if (markdown) {
      std::printf("| %s | %lld | %lld | %lld |", s.what.c_str(), (long long)s.m, (long long)s.n, (long long)s.k);
      for (size_t i = 0; i < impls.size(); ++i) std::printf(" %.0f (%.0f) |", gflops[i], best[i]);
      std::printf(" %.2f | %s |\n", ratio, check.c_str());
    } else {
      std::printf("%-28s", s.what.c_str());
      for (size_t i = 0; i < impls.size(); ++i)
        std::printf("  %s %6.1f (best %6.1f)", ops::cpu::gemm_impl_name(impls[i]), gflops[i], best[i]);
      std::printf("  fast/openblas %.2f  [%s]\n", ratio, check.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_gemm: float32 CPU GEMM, reference vs ours vs OpenBLAS, interleaved medians"};
  int rounds = 15;
  bool markdown = false, no_reference = false;
  std::string only;
  app.add_option("--rounds", rounds, "interleaved timed rounds (median reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--markdown", markdown, "print a markdown table (for docs/kernels.md)");
  app.add_flag("--no-reference", no_reference, "time only ours and OpenBLAS (the reference is checked, not timed)");
  app.add_option("--only", only, "run only the shapes whose name contains this text");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(rounds, markdown, !no_reference, only);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gemm: error: %s\n", e.what());
    return 1;
  }
}
