// Cases for causal linear attention (the running-state product): q, k [..., L, P], v [..., L, R] with
// L = 1, P = 1, R = 1, primes, extra leading dims, R = 127/128/129 around the CUDA kernel's 128-column
// tile, the value width d + 1 the mixers use (a ones column appended for the normaliser), one long
// sequence (L = 1024, the image length, with the pathfinder config's head dim 16), and empty extents.
#include "ops/linear_attention/linear_attention.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> linear_attention_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape qk;  // [..., L, P]
    int64_t R;
  };
  const std::vector<Setup> setups = {
      {{1, 1, 1}, 1},   {{2, 7, 5}, 3},    {{2, 3, 13, 4}, 17}, {{1, 11, 3}, 127}, {{1, 5, 2}, 128},
      {{2, 6, 3}, 129}, {{3, 19, 8}, 9},   {{2, 1024, 16}, 17},
      // Empty extents: no sequences, L = 0, P = 0 (y = 0), R = 0.
      {{0, 4, 3}, 2},   {{2, 0, 3}, 2},    {{2, 5, 0}, 3},      {{2, 5, 3}, 0},
  };
  for (const Setup& s : setups) {
    Shape vshape = s.qk;
    vshape[vshape.ndim() - 1] = s.R;
    OpCase c;
    c.name = "causal_linear_attention q,k " + s.qk.to_string() + " v " + vshape.to_string();
    // Positive features, as elu + 1 and the Performer's exp features are (the op does not need it).
    c.inputs = {random_input(s.qk, gen, 0.0, 1.0), random_input(s.qk, gen, 0.0, 1.0), random_input(vshape, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::causal_linear_attention(in[0], in[1], in[2]); };
    c.out_shape = vshape;
    if (s.qk[s.qk.ndim() - 2] >= 1024) {
      // Outputs are sums of up to L·P = 16384 products (|y| up to ~2000); float32 accumulation in the
      // kernel's order errs by ~1e-6 relative per term, so 1e-3 relative with an absolute 1e-2 leaves
      // a wide margin.
      c.rtol = 1e-3;
      c.atol = 1e-2;
    }
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(linear_attention, linear_attention_cases);
}  // namespace lra::test
