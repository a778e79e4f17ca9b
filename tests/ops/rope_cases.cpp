// Cases for the rotary embedding: per-head [B, H, L, d] and full-width [B, L, D] layouts, odd L,
// size-1 dims, disable_half, a non-default base, the fused Q/K entry and one realistic LRA size (CIFAR
// rotary: L = 1025 with CLS, D_model = 160). CUDA tolerances are the defaults: each output is two
// products and a sum, and the tables are the same double-computed values rounded to float.
#include "ops/rope/rope.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> rope_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape shape;
    ops::RopeOptions opts;
  };
  const std::vector<Setup> setups = {
      {{1, 2}, {}},                        // one position, one plane
      {{7, 2}, {}},                        // no leading dims
      {{2, 3, 7, 6}, {}},                  // per head: [B, H, L, d]
      {{2, 9, 10}, {}},                    // full width: [B, L, D]
      {{3, 13, 22}, {10000, true}},        // disable half, odd number of planes (11)
      {{1, 1, 5, 34}, {500, false}},       // other base
      {{2, 1, 31, 64}, {10000, true}},     // tile-ish sizes, per head with disable half
      {{1, 1025, 160}, {10000, true}},     // CIFAR rotary, full width
      {{0, 4, 6}, {}},                     // empty extents: no rows,
      {{2, 0, 8}, {}},                     //   L = 0 (an empty table),
      {{3, 5, 0}, {10000, true}},          //   D = 0 (no planes)
  };
  for (const Setup& s : setups) {
    OpCase c;
    c.name = std::string("rope ") + s.shape.to_string() + " base " + std::to_string(int(s.opts.base)) +
             (s.opts.disable_half ? " disable_half" : "");
    c.inputs = {random_input(s.shape, gen, -2, 2)};
    ops::RopeOptions opts = s.opts;
    c.fn = [opts](const std::vector<Tensor>& in) { return ops::rope(in[0], opts); };
    c.out_shape = s.shape;
    cases.push_back(c);
  }
  // Fused Q/K: q [2, 4, 11, 8] and k [3, 11, 8] (leading dims may differ). A case has one output, so
  // each output gets its own case; both inputs are passed so the fused launch really runs.
  for (int which = 0; which < 2; ++which) {
    OpCase c;
    c.name = std::string("rope_qk ") + (which == 0 ? "q" : "k") + " out [2, 4, 11, 8] / [3, 11, 8] disable_half";
    c.inputs = {random_input({2, 4, 11, 8}, gen), random_input({3, 11, 8}, gen)};
    c.differentiable = {which == 0, which == 1};
    c.fn = [which](const std::vector<Tensor>& in) {
      auto [q, k] = ops::rope_qk(in[0], in[1], {10000, true});
      return which == 0 ? q : k;
    };
    cases.push_back(c);
  }
  // Fused Q/K with an empty q: the launch covers k's pairs only.
  {
    OpCase c;
    c.name = "rope_qk k out [0, 11, 8] / [3, 11, 8]";
    c.inputs = {random_input({0, 11, 8}, gen), random_input({3, 11, 8}, gen)};
    c.differentiable = {false, true};
    c.fn = [](const std::vector<Tensor>& in) { return ops::rope_qk(in[0], in[1]).second; };
    c.out_shape = Shape{3, 11, 8};
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(rope, rope_cases);
}  // namespace lra::test
