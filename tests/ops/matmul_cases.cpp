// Cases for matmul (every transpose combination, shared and batched b, ranks 2 to 5) and linear.
#include <algorithm>
#include <cmath>

#include "ops/matmul/matmul.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// CUDA-vs-CPU tolerance for a case whose longest dot product (over the forward and both backward
// GEMMs) has `terms` terms. cuBLAS sums in a different order (and in blocks) than the CPU loop, so the
// two float32 results differ by rounding that grows like sqrt(terms) for random-sign inputs in [-1, 1];
// the default atol (1e-5, meant for one rounding) would fail long sums whose result happens to be near 0.
void gemm_tolerance(OpCase& c, int64_t terms) {
  c.rtol = 1e-4;
  c.atol = 1e-5 * std::sqrt(double(std::max<int64_t>(terms, 1)));
}

Shape with(Shape lead, int64_t r, int64_t c) {
  lead.push_back(r);
  lead.push_back(c);
  return lead;
}

std::string flags(bool ta, bool tb) { return std::string(ta ? " ta" : "") + (tb ? " tb" : ""); }

// a: batch dims + op(a) [M, K]; b: shared [K, N] (b_batch empty) or batched with a's batch dims.
OpCase matmul_case(Generator& gen, const Shape& batch, bool shared, int64_t M, int64_t N, int64_t K, bool ta,
                   bool tb) {
  OpCase c;
  Shape as = with(batch, ta ? K : M, ta ? M : K), bs = with(shared ? Shape{} : batch, tb ? N : K, tb ? K : N);
  c.name = "matmul " + as.to_string() + " x " + bs.to_string() + flags(ta, tb);
  c.inputs = {random_input(as, gen), random_input(bs, gen)};
  c.fn = [ta, tb](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], ta, tb); };
  // Backward sums over N (da) and over M, or all batch*M rows when b is shared (db).
  gemm_tolerance(c, std::max({K, N, shared ? batch.numel() * M : M}));
  return c;
}

OpCase linear_case(Generator& gen, const Shape& x_shape, int64_t out, bool bias) {
  OpCase c;
  const int64_t in = x_shape.last(), rows = x_shape.numel() / std::max<int64_t>(in, 1);
  c.name = "linear " + x_shape.to_string() + " x [" + std::to_string(out) + ", " + std::to_string(in) + "]" +
           (bias ? " + bias" : "");
  c.inputs = {random_input(x_shape, gen), random_input({out, in}, gen)};
  if (bias) c.inputs.push_back(random_input({out}, gen));
  c.fn = [](const std::vector<Tensor>& in) {
    return ops::linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor());
  };
  gemm_tolerance(c, std::max({in, out, rows}));  // dW and db sum over all rows
  return c;
}

std::vector<OpCase> matmul_cases(Generator& gen) {
  std::vector<OpCase> cases;
  // 2-D, every transpose combination; M, N, K drawn from {1, 7, 33, 64, 127}, plus one that crosses
  // the CPU panel edges (K = 128 + 1, N = 256 + 1).
  const int64_t mnk[][3] = {{1, 1, 1}, {1, 7, 33}, {7, 33, 1}, {33, 1, 7}, {64, 127, 33}, {127, 33, 64}, {3, 257, 129}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const auto& d : mnk) cases.push_back(matmul_case(gen, {}, true, d[0], d[1], d[2], ta, tb));
  // Batched a, with b shared and per batch entry, every transpose combination. A shared b with a
  // transposed a takes the batched-GEMM-then-sum path for db; without trans_a it folds into rows.
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool shared : {true, false}) cases.push_back(matmul_case(gen, {3}, shared, 7, 5, 33, ta, tb));
  // Rank 4 and 5, size-1 batch dims.
  cases.push_back(matmul_case(gen, {2, 3}, true, 17, 5, 8, false, false));
  cases.push_back(matmul_case(gen, {2, 3}, true, 17, 5, 8, true, false));
  cases.push_back(matmul_case(gen, {2, 3}, false, 17, 5, 8, false, true));
  cases.push_back(matmul_case(gen, {2, 1, 3}, true, 5, 6, 4, false, true));
  cases.push_back(matmul_case(gen, {1, 2, 1}, false, 5, 6, 4, true, true));
  // Attention-shaped bmm: scores = Q Kᵀ [B, H, L, L], then out = P V.
  cases.push_back(matmul_case(gen, {2, 2}, false, 64, 64, 16, false, true));
  cases.push_back(matmul_case(gen, {2, 2}, false, 64, 16, 64, false, false));
  {
    // One input used twice: aᵀ a, whose gradient is the sum of both contributions.
    OpCase c;
    c.name = "matmul a^T a [9, 5] (input used twice)";
    c.inputs = {random_input({9, 5}, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[0], true, false); };
    gemm_tolerance(c, 9);
    cases.push_back(c);
  }
  // linear: realistic LRA size (B=2, L=1000, D=64 -> 128), without bias, rank 1 and size-1 dims.
  {
    OpCase c = linear_case(gen, {2, 1000, 64}, 128, true);
    // Gradcheck evaluates fn ~80 times per differentiable input, and at this size one evaluation costs
    // ~4-14 ms, mostly the harness touching a fresh 2 MB output; probing x and W too would take ~3 s. So
    // only the bias is differentiated here; x and W at this size are checked against a naive float64
    // reference and on CUDA in matmul_test_api.cpp, and their code paths are gradchecked above.
    c.differentiable = {false, false, true};
    cases.push_back(c);
  }
  cases.push_back(linear_case(gen, {3, 5, 7}, 4, false));
  cases.push_back(linear_case(gen, {2, 3, 1, 33}, 7, true));
  cases.push_back(linear_case(gen, {7}, 5, true));
  cases.push_back(linear_case(gen, {1, 1}, 1, true));
  // Empty extents. M, N, K of 0 one at a time; K = 0 makes C a sum over nothing (zeros). An empty batch
  // with b shared (folded into rows, and with trans_a the batched path whose db is a column sum over
  // no entries: zeros) and with b batched. Every case states its shape, and the gradients of the
  // non-empty operand are finite-difference checked against their exact zeros.
  auto expect = [](OpCase c, const Shape& out) {
    c.out_shape = out;
    return c;
  };
  cases.push_back(expect(matmul_case(gen, {}, true, 0, 3, 5, false, false), {0, 3}));
  cases.push_back(expect(matmul_case(gen, {}, true, 4, 3, 0, false, true), {4, 3}));
  cases.push_back(expect(matmul_case(gen, {}, true, 4, 0, 5, true, false), {4, 0}));
  cases.push_back(expect(matmul_case(gen, {0}, true, 4, 3, 5, false, false), {0, 4, 3}));
  cases.push_back(expect(matmul_case(gen, {0}, true, 4, 3, 5, true, false), {0, 4, 3}));
  cases.push_back(expect(matmul_case(gen, {0, 2}, false, 4, 3, 5, false, true), {0, 2, 4, 3}));
  cases.push_back(expect(matmul_case(gen, {2}, false, 4, 3, 0, true, true), {2, 4, 3}));
  // linear on no rows: y [0, out], dW and db are sums over no rows (zeros; db is the column sum that
  // launched a grid of 0 chunks on CUDA); on in = 0 (y = bias); on out = 0; a 0 in a leading dim.
  cases.push_back(expect(linear_case(gen, {0, 7}, 4, true), {0, 4}));
  cases.push_back(expect(linear_case(gen, {3, 0}, 4, true), {3, 4}));
  cases.push_back(expect(linear_case(gen, {2, 3, 5}, 0, true), {2, 3, 0}));
  cases.push_back(expect(linear_case(gen, {2, 0, 5}, 6, false), {2, 0, 6}));
  return cases;
}

}  // namespace
LRA_OP_CASES(matmul, matmul_cases);
}  // namespace lra::test
