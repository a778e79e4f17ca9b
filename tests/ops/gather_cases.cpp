// Cases for gather along an axis: dims 0, 1 and the last, a rank-1 x, repeated indices (the backward's
// scatter-add sums several rows; unused rows get exact zeros), permutations (the LSH sort and undo-sort),
// inner sizes 1, 31/32/33 and 65, primes, the LSH text layout [B·H, n_hashes·L, d + 1] and empty
// extents (no indices, no inner columns, no outer rows).
#include "ops/gather/gather.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> gather_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape x;
    int dim;
    int64_t M;
    bool permutation;
  };
  const std::vector<Setup> setups = {
      {{5}, 0, 9, false},          {{1}, 0, 1, false},         {{7, 3}, 0, 4, false},       {{3, 11, 2}, 1, 13, false},
      {{2, 17, 31}, 1, 17, true},  {{2, 8, 32}, 1, 5, false},  {{1, 13, 33}, 1, 29, false}, {{4, 19}, 1, 19, true},
      {{2, 3, 7, 65}, 2, 7, true}, {{2, 2, 5, 3}, 3, 6, false}, {{8, 404, 17}, 1, 404, true},
      // Empty extents: no indices, no inner columns, no outer rows.
      {{3, 5, 4}, 1, 0, false},    {{2, 6, 0}, 1, 3, false},   {{0, 4, 3}, 1, 2, false},
  };
  for (const Setup& s : setups) {
    const int dim = s.dim;
    Shape ishape;
    for (int i = 0; i < dim; ++i) ishape.push_back(s.x[i]);
    ishape.push_back(s.M);
    const int64_t N = s.x[dim];
    Tensor index = random_ints(ishape, gen, 0, int32_t(N < 3 || s.permutation ? N : 3));  // repeats when not a permutation
    if (s.permutation) {
      const int64_t rows = index.numel() / s.M;
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<int64_t> p = gen.permutation(N);
        for (int64_t m = 0; m < s.M; ++m) index.data<int32_t>()[r * s.M + m] = int32_t(p[size_t(m)]);
      }
    }
    OpCase c;
    c.name = "gather x " + s.x.to_string() + " dim " + std::to_string(dim) + " index " + ishape.to_string();
    c.inputs = {random_input(s.x, gen), index};
    c.fn = [dim](const std::vector<Tensor>& in) { return ops::gather(in[0], dim, in[1]); };
    Shape out = s.x;
    out[dim] = s.M;
    c.out_shape = out;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(gather, gather_cases);
}  // namespace lra::test
