// Cases for sum, mean, max over one dim, sum_all / mean_all and masked_mean.
#include <algorithm>
#include <cmath>

#include "ops/reduce/reduce.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// A [B, L] int32 mask of leading ones: row b keeps its first lengths[b] positions.
Tensor length_mask(int64_t B, int64_t L, const std::vector<int64_t>& lengths) {
  Tensor m = Tensor::zeros({B, L}, DType::I32);
  int32_t* p = m.data<int32_t>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < lengths[size_t(b)]; ++l) p[b * L + l] = 1;
  return m;
}

std::vector<OpCase> reduce_cases(Generator& gen) {
  std::vector<OpCase> cases;
  // Reductions over dim 0, a middle dim and the last dim; n = 1; odd and prime sizes; long rows and
  // columns (n ~ 4000, which also exercise the split-n second pass on the GPU).
  struct Dim {
    Shape shape;
    int dim;
  };
  const std::vector<Dim> dims = {{{7}, 0},         {{5, 7, 3}, 0},  {{5, 7, 3}, 1},   {{5, 7, 3}, -1},
                                 {{4, 1, 6}, 1},   {{2, 3, 1}, 2},  {{3, 4001}, -1},  {{4001, 3}, 0},
                                 {{2, 2, 3, 5, 33}, 3}, {{4, 256, 64}, 1}};
  // Float32 tolerance for sums of n terms uniform in [-1, 1]: the CPU reference adds them one by one,
  // so its rounding error grows like sqrt(n) * eps * |running sum| ~ sqrt(n) * 6e-8 * sqrt(n / 3); atol
  // is ~10 of those (n = 4001: 1.4e-3, n = 65536: 2.3e-2; the GPU's tree sum is far more accurate).
  // Means divide the error by n and meet the defaults.
  auto tolerance = [](OpCase& c, int64_t n) { c.atol = std::max(c.atol, 10 * 6e-8 * double(n) / std::sqrt(3.0)); };
  for (const Dim& d : dims)
    for (bool keepdim : {false, true}) {
      int64_t n = d.shape.at(d.dim);
      const std::string suffix = " " + d.shape.to_string() + " dim " + std::to_string(d.dim) +
                                 (keepdim ? " keepdim" : "");
      int dim = d.dim;
      {
        OpCase c;
        c.name = "sum" + suffix;
        c.inputs = {random_input(d.shape, gen)};
        c.fn = [dim, keepdim](const std::vector<Tensor>& in) { return ops::sum(in[0], dim, keepdim); };
        tolerance(c, n);
        cases.push_back(c);
      }
      {
        OpCase c;
        c.name = "mean" + suffix;
        c.inputs = {random_input(d.shape, gen)};
        c.fn = [dim, keepdim](const std::vector<Tensor>& in) { return ops::mean(in[0], dim, keepdim); };
        cases.push_back(c);
      }
      {
        // Random doubles have no ties, so the max is isolated and finite differences see a smooth
        // function; its value and argmax are exact in float32 on both devices.
        OpCase c;
        c.name = "max" + suffix;
        c.inputs = {random_input(d.shape, gen)};
        c.fn = [dim, keepdim](const std::vector<Tensor>& in) { return ops::max(in[0], dim, keepdim); };
        cases.push_back(c);
      }
    }
  for (Shape s : std::vector<Shape>{{1}, {37, 113}, {64, 1024}, {3, 5, 7, 11}}) {
    OpCase c;
    c.name = "sum_all " + s.to_string();
    c.inputs = {random_input(s, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::sum_all(in[0]); };
    tolerance(c, s.numel());
    cases.push_back(c);
    OpCase m = c;
    m.name = "mean_all " + s.to_string();
    m.fn = [](const std::vector<Tensor>& in) { return ops::mean_all(in[0]); };
    m.atol = 1e-5;
    cases.push_back(m);
  }
  struct Masked {
    int64_t B, L, D;
    std::vector<int64_t> lengths;
  };
  // Includes an all-zero row (zeros, no NaN), a full row, L = 1, D = 1, and a realistic LRA size.
  const std::vector<Masked> masked = {{3, 7, 5, {7, 0, 3}},
                                      {2, 1, 4, {1, 0}},
                                      {4, 9, 1, {2, 9, 5, 1}},
                                      {4, 1024, 64, {1024, 700, 1, 0}},
                                      {2, 4001, 3, {4001, 2500}}};
  for (const Masked& m : masked) {
    OpCase c;
    c.name = "masked_mean [" + std::to_string(m.B) + ", " + std::to_string(m.L) + ", " + std::to_string(m.D) + "]";
    c.inputs = {random_input({m.B, m.L, m.D}, gen), length_mask(m.B, m.L, m.lengths)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::masked_mean(in[0], in[1]); };
    cases.push_back(c);
  }
  {
    // A scattered (not prefix) mask.
    OpCase c;
    c.name = "masked_mean random mask [3, 17, 6]";
    c.inputs = {random_input({3, 17, 6}, gen), random_ints({3, 17}, gen, 0, 2)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::masked_mean(in[0], in[1]); };
    cases.push_back(c);
  }
  // Empty extents: n = 0 (a sum of nothing is 0), outer = 0 and inner = 0 (empty results), an empty
  // sum_all (0) and masked_mean with B, L or D = 0 (L = 0: every row is empty, so zeros). The glue
  // answers these on both devices without a kernel. max and mean over an empty dim are errors
  // (reduce_test_properties.cpp), so only their empty results appear here.
  struct Empty {
    const char* op;
    Shape shape;
    int dim;
    bool keepdim;
  };
  const std::vector<Empty> empties = {{"sum", {2, 0, 3}, 1, false}, {"sum", {2, 0, 3}, 1, true},
                                      {"sum", {0}, 0, false},       {"sum", {0, 4}, 1, false},
                                      {"sum", {3, 0}, 0, false},    {"mean", {0, 5}, 1, false},
                                      {"mean", {4, 0}, 0, true},    {"mean", {0, 0}, 0, false},
                                      {"max", {0, 5}, 1, false},    {"max", {4, 0}, 0, false},
                                      {"max", {2, 3, 0}, 1, true}};
  for (const Empty& e : empties) {
    OpCase c;
    c.name = std::string(e.op) + " empty " + e.shape.to_string() + " dim " + std::to_string(e.dim) +
             (e.keepdim ? " keepdim" : "");
    c.inputs = {random_input(e.shape, gen)};
    const std::string op = e.op;
    const int dim = e.dim;
    const bool keepdim = e.keepdim;
    c.fn = [op, dim, keepdim](const std::vector<Tensor>& in) {
      if (op == "sum") return ops::sum(in[0], dim, keepdim);
      if (op == "mean") return ops::mean(in[0], dim, keepdim);
      return ops::max(in[0], dim, keepdim);
    };
    cases.push_back(c);
  }
  for (Shape s : std::vector<Shape>{{0}, {3, 0, 2}}) {
    OpCase c;
    c.name = "sum_all empty " + s.to_string();
    c.inputs = {random_input(s, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::sum_all(in[0]); };
    cases.push_back(c);
  }
  for (Shape s : std::vector<Shape>{{0, 4, 3}, {2, 0, 3}, {2, 4, 0}}) {
    OpCase c;
    c.name = "masked_mean empty " + s.to_string();
    c.inputs = {random_input(s, gen), random_ints({s[0], s[1]}, gen, 0, 2)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::masked_mean(in[0], in[1]); };
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(reduce, reduce_cases);
}  // namespace lra::test
