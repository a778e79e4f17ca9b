// Cases for the diagonal linear recurrence: real and complex, forward and reverse, L = 1, N = 1,
// primes, N = 33 (one more than the 32 channels of a CUDA block), extra leading dims, and the
// realistic long ones: an EMA-like real scan at L = 4096 and an S5-like complex scan at L = 16384
// (Path-X length), both gradient-checked (a few ms per evaluation on the CPU). |lambda| <= 0.995.
#include <cmath>

#include "ops/scan/scan.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// lambda [N] uniform in [lo, hi] with random signs (real), or [N, 2] with modulus in [lo, hi] and a
// random phase (complex).
Tensor random_lambda(int64_t N, bool complex, double lo, double hi, Generator& gen) {
  std::vector<double> v;
  for (int64_t n = 0; n < N; ++n) {
    double r = lo + (hi - lo) * gen.uniform();
    if (complex) {
      double phi = 6.283185307179586 * gen.uniform();
      v.push_back(r * std::cos(phi));
      v.push_back(r * std::sin(phi));
    } else {
      v.push_back(gen.uniform() < 0.5 ? -r : r);
    }
  }
  return complex ? Tensor::from_vector(v, {N, 2}) : Tensor::from_vector(v, {N});
}

std::vector<OpCase> scan_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape b;  // without the trailing 2 of the complex layout
    bool complex;
    double lo, hi;  // |lambda| range
  };
  const std::vector<Setup> setups = {
      {{1, 1, 1}, false, 0.5, 0.9},    {{1, 1, 1}, true, 0.5, 0.9},     {{3, 7, 5}, false, 0.0, 0.95},
      {{2, 13, 3}, true, 0.3, 0.95},   {{2, 2, 17, 33}, false, 0.5, 0.99}, {{19, 33}, true, 0.8, 0.99},
      {{1, 4096, 4}, false, 0.9, 0.995},  // MEGA EMA-like: lambda = 1 - p*alpha close to 1
      {{1, 16384, 2}, true, 0.9, 0.995},  // S5 on Path-X length
      // Empty extents: no batch, L = 0 and N = 0; grad lambda is a sum over no steps (zeros).
      {{0, 5, 3}, false, 0.5, 0.9},    {{2, 0, 3}, true, 0.5, 0.9},     {{4, 0}, false, 0.5, 0.9},
      {{3, 0}, true, 0.5, 0.9},
  };
  for (const Setup& s : setups)
    for (bool reverse : {false, true}) {
      int64_t N = s.b[s.b.ndim() - 1];
      Shape bshape = s.b;
      if (s.complex) bshape.push_back(2);
      OpCase c;
      c.name = std::string(s.complex ? "scan_complex " : "scan_real ") + bshape.to_string() +
               (reverse ? " reverse" : " forward");
      c.inputs = {random_lambda(N, s.complex, s.lo, s.hi, gen), random_input(bshape, gen)};
      bool complex = s.complex;
      c.fn = [complex, reverse](const std::vector<Tensor>& in) {
        return complex ? ops::scan_complex(in[0], in[1], reverse) : ops::scan_real(in[0], in[1], reverse);
      };
      c.out_shape = bshape;
      if (bshape[bshape.ndim() - 2 - complex] >= 4096) {
        // Long scans, in two cases so each gradient gets a tolerance that fits it. States and grad b are
        // sums of ~1/(1-|lambda|) <= 200 terms (|x| up to ~25); a float32 emulation of the kernel's
        // order of operations (segments of 1024, summaries composed in float) errs by <= 1e-4 there,
        // so rtol = atol = 1e-3 leaves a margin of ~10.
        c.rtol = 1e-3;
        c.atol = 1e-3;
        c.differentiable = {false, true};
        c.name += " (grad b)";
        cases.push_back(c);
        // grad lambda sums batch*L products conj(x) a: |grad lambda| ~ sqrt(L) |x| |a| ~ 1e4..1e5, and
        // its float32 error (~1e-5 of that magnitude in the same emulation, up to 0.65 absolute) does
        // not shrink when one component happens to cancel to a small value: hence an absolute 2 (the forward,
        // compared again here, is held to 1e-3 by the grad b case).
        c.differentiable = {true, false};
        c.name.replace(c.name.find("(grad b)"), 8, "(grad lambda)");
        c.atol = 2;
      }
      cases.push_back(c);
    }
  return cases;
}

}  // namespace
LRA_OP_CASES(scan, scan_cases);
}  // namespace lra::test
