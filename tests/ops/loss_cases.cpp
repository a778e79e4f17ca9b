// Cases for cross_entropy (with ignored rows and rank-3 logits) and count_correct.
#include "ops/loss/loss.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// Labels in [0, C) with every `ignore_every`-th row (if > 0) set to ignore_index -100.
Tensor labels_for(const Shape& shape, int64_t C, Generator& gen, int ignore_every) {
  Tensor t = random_ints(shape, gen, 0, int32_t(C));
  int32_t* p = t.data<int32_t>();
  if (ignore_every > 0)
    for (int64_t i = 0; i < t.numel(); i += ignore_every) p[i] = -100;
  return t;
}

// count_correct as an op: its integer result wrapped in a scalar so the parity check compares the CUDA
// and CPU counts exactly.
OpCase count_correct_case(std::string name, std::vector<Tensor> inputs) {
  OpCase c;
  c.name = std::move(name);
  c.inputs = std::move(inputs);
  c.fn = [](const std::vector<Tensor>& in) {
    return Tensor::scalar(double(ops::count_correct(in[0], in[1])), DType::F32, in[0].device());
  };
  c.gradcheck = false;  // integer-valued
  c.rtol = 0;
  c.atol = 0;
  return c;
}

std::vector<OpCase> loss_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Ce {
    Shape logits;
    int ignore_every;
  };
  // C = 1 (degenerate: loss and gradient 0), 2, 10, 257 (prime, > 256) and 1031 (block-per-row
  // kernel); N = 1, 5, 64; every third / every row ignored; rank-3 logits of a masked-token loss.
  const Ce ces[] = {{{1, 1}, 0},  {{5, 1}, 0},   {{1, 2}, 0},      {{5, 2}, 3},     {{5, 10}, 0},
                    {{64, 10}, 3}, {{64, 257}, 0}, {{5, 257}, 2},    {{3, 1031}, 0},  {{5, 10}, 1},
                    {{2, 9, 11}, 4}, {{4, 32, 256}, 5}};
  for (const Ce& ce : ces) {
    int64_t C = ce.logits[ce.logits.ndim() - 1];
    Shape label_shape;
    for (int d = 0; d + 1 < ce.logits.ndim(); ++d) label_shape.push_back(ce.logits[d]);
    OpCase c;
    c.name = "cross_entropy " + ce.logits.to_string() +
             (ce.ignore_every == 1   ? " all ignored"
              : ce.ignore_every > 0 ? " every " + std::to_string(ce.ignore_every) + " ignored"
                                    : "");
    c.inputs = {random_input(ce.logits, gen, -3, 3), labels_for(label_shape, C, gen, ce.ignore_every)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], in[1]); };
    cases.push_back(c);
  }
  {
    // A non-default ignore_index: rows labelled 0 are the ignored ones.
    OpCase c;
    c.name = "cross_entropy [6, 4] ignore_index 0";
    c.inputs = {random_input({6, 4}, gen, -3, 3), random_ints({6}, gen, 0, 4)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], in[1], 0); };
    cases.push_back(c);
  }
  {
    // Logits are spread so that float32 rounding cannot flip an argmax.
    OpCase c = count_correct_case("count_correct [64, 10] every 3 ignored",
                                  {random_input({64, 10}, gen, -20, 20), labels_for({64}, 10, gen, 3)});
    // Make about half the rows correct: put the label on the row's argmax.
    {
      std::vector<double> x = c.inputs[0].to_vector<double>();
      int32_t* lab = c.inputs[1].data<int32_t>();
      for (int64_t i = 0; i < 64; i += 2) {
        if (lab[i] < 0) continue;
        int32_t best = 0;
        for (int32_t k = 1; k < 10; ++k)
          if (x[size_t(i * 10 + k)] > x[size_t(i * 10 + best)]) best = k;
        lab[i] = best;
      }
    }
    cases.push_back(c);
  }
  // Empty extents: no rows (rank 2, and a 0 inside rank-3 logits) is "no counted row": a loss of 0 and an
  // empty gradient on both devices (loss.h). Classes C = 0 are an error (loss_test_properties.cpp).
  for (const Shape& logits : {Shape{0, 5}, Shape{2, 0, 7}}) {
    std::vector<int64_t> lead = logits.vec();
    lead.pop_back();
    const Shape label_shape(lead);
    OpCase c;
    c.name = "cross_entropy " + logits.to_string() + " (no rows)";
    c.inputs = {random_input(logits, gen, -3, 3), random_ints(label_shape, gen, 0, int32_t(logits.last()))};
    c.fn = [](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], in[1]); };
    c.out_shape = Shape{};
    cases.push_back(c);
  }
  cases.push_back(count_correct_case("count_correct [0, 10]", {random_input({0, 10}, gen), random_ints({0}, gen, 0, 10)}));
  return cases;
}

}  // namespace
LRA_OP_CASES(loss, loss_cases);
}  // namespace lra::test
