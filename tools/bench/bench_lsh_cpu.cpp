// bench_lsh_cpu: the float32 CPU paths of lsh_chunk_attention side by side, forward + backward through the
// raw entry points: the reference (lsh_cpu.cpp, instantiated in float) and the fast path (lsh_cpu_fast.cpp).
// The reformer's shape at LRA text: R = batch·heads, N = L + 10 − L mod 10 (padded), C = N/10, d = dv =
// width/heads, shared q = k, a perm of one round (period N), the self mask and a key mask of the padding.
// Each length is checked first (worst |fast − ref| / (1 + |ref|) over y, gq, gk, gv; above 1e-3 stops the
// run), then timed: the two paths alternate, each repetition times one forward + backward of each, and the
// median of --reps repetitions is reported (the machine is shared).
//
// The reformer's regime by default: q uniform in ±q_amp = ±√3 (unit variance, as after the LayerNorm and
// the Xavier projection; times √d, scores reach ~±60 and most weights underflow) and the upstream gradient
// in ±g_amp = ±1e-4 (a training step's size), so the backward's products of tiny weights and small
// gradients are subnormal, as in the step. --q-amp 0.0625 --g-amp 1 is the benchmark before 2026-12-06
// (q in ±1/d, scores of order 1), which never met a subnormal.
//
//   OMP_NUM_THREADS=2 build-cpu/tools/bench_lsh_cpu [--R 8 --d 16 --L 1024,4096 --reps 5 --q-amp 1.732]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "engine/bench.h"
#include "engine/rng.h"
#include "ops/lsh/lsh.h"

using namespace lra;
using bench::median;
using bench::seconds_of;

int main(int argc, char** argv) {
  CLI::App app{"bench_lsh_cpu: LSH chunk attention, float32 CPU reference vs fast path"};
  int64_t R = 8, d = 16;
  int reps = 5, ref_max_L = 4096;
  double q_amp = 1.7320508;  // √3: unit variance
  double g_amp = 1e-4;
  std::vector<int64_t> lengths{1024, 4096};
  app.add_option("--R", R, "rows (batch·heads·n_hashes)");
  app.add_option("--d", d, "head dim (d = dv)");
  app.add_option("--L", lengths, "sequence lengths (padded to a multiple of 10)")->delimiter(',');
  app.add_option("--reps", reps, "timed repetitions (median)");
  app.add_option("--ref-max-L", ref_max_L, "time the reference only up to this length");
  app.add_option("--q-amp", q_amp, "q uniform in +-q_amp (√3, the default: unit variance like the reformer's q, scores to ~60 and "
                 "subnormal products; 1/d: scores of order 1, the benchmark before 2026-12-06)");
  app.add_option("--g-amp", g_amp, "upstream gradient uniform in +-g_amp (1e-4: the size a training step "
                 "hands the attention; 1: the benchmark before 2026-12-06)");
  CLI11_PARSE(app, argc, argv);

  std::printf("| L | N | C | reference fwd+bwd ms | fast fwd+bwd ms | fast fwd ms | speed-up |\n|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int64_t L : lengths) {
    ops::LshShape s;
    s.R = R, s.N = L + 10 - L % 10, s.C = s.N / 10, s.d = d, s.dv = d, s.scale = std::sqrt(double(d));
    s.self_mask = true, s.period = s.N, s.Bm = R, s.Lm = L;
    Generator gen(5);
    const size_t n = size_t(s.R * s.N * d), ny = size_t(s.R * s.N * (d + 1));
    std::vector<float> q(n), v(n), gy(ny);
    for (float& x : q) x = float((gen.uniform() * 2 - 1) * q_amp);
    for (float& x : v) x = float(gen.uniform() * 2 - 1);
    for (float& x : gy) x = float((gen.uniform() * 2 - 1) * g_amp);
    std::vector<int32_t> perm, mask(size_t(R * L), 1);
    for (int64_t r = 0; r < R; ++r) {
      std::vector<int64_t> p = gen.permutation(s.N);
      for (int64_t x : p) perm.push_back(int32_t(x));
    }
    struct Out {
      std::vector<float> y, gq, gk, gv;
    } ref{std::vector<float>(ny), std::vector<float>(n), std::vector<float>(n), std::vector<float>(n)}, fast = ref;
    auto run = [&](bool is_fast, Out& o) {
      if (is_fast) {
        ops::cpu::lsh_attention_forward_fast(s, q.data(), q.data(), v.data(), perm.data(), mask.data(), o.y.data());
        ops::cpu::lsh_attention_backward_fast(s, q.data(), q.data(), v.data(), perm.data(), mask.data(), o.y.data(),
                                              gy.data(), o.gq.data(), o.gk.data(), o.gv.data());
      } else {
        ops::cpu::lsh_attention_forward<float>(s, q.data(), q.data(), v.data(), perm.data(), mask.data(), o.y.data());
        ops::cpu::lsh_attention_backward<float>(s, q.data(), q.data(), v.data(), perm.data(), mask.data(), o.y.data(),
                                                gy.data(), o.gq.data(), o.gk.data(), o.gv.data());
      }
    };
    const bool with_ref = L <= ref_max_L;
    if (with_ref) {
      run(false, ref);
      run(true, fast);
      double worst = 0;
      auto cmp = [&](const std::vector<float>& a, const std::vector<float>& b) {
        for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])) / (1 + std::abs(b[i])));
      };
      cmp(fast.y, ref.y), cmp(fast.gq, ref.gq), cmp(fast.gk, ref.gk), cmp(fast.gv, ref.gv);
      if (worst > 1e-3) {
        std::fprintf(stderr, "L %lld: fast vs reference differ by %g\n", (long long)L, worst);
        return 1;
      }
    }
    std::vector<double> tr, tf, tff;
    for (int i = 0; i < reps; ++i) {
      if (with_ref) tr.push_back(seconds_of([&] { run(false, ref); }));
      tf.push_back(seconds_of([&] { run(true, fast); }));
      tff.push_back(seconds_of([&] {
        ops::cpu::lsh_attention_forward_fast(s, q.data(), q.data(), v.data(), perm.data(), mask.data(), fast.y.data());
      }));
    }
    const double mr = with_ref ? median(tr) * 1e3 : NAN, mf = median(tf) * 1e3;
    std::printf("| %lld | %lld | %lld | %.1f | %.2f | %.2f | %.1fx |\n", (long long)L, (long long)s.N, (long long)s.C,
                mr, mf, median(tff) * 1e3, mr / mf);
  }
  return 0;
}
