// Cases for softmax and log_softmax over the last dim, with and without a key-padding mask.
#include <tuple>

#include "ops/softmax/softmax.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> softmax_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Variant {
    const char* name;
    bool log;
  };
  const Variant variants[] = {{"softmax", false}, {"log_softmax", true}};
  // Rows of length 1, prime, warp size +1, long rows in both CUDA kernel modes (warp per row up to
  // 1024, block per row above: 1000, 1024 | 1025, 1031, 4099), the longest LRA sequence (16384), and a
  // realistic attention shape [B, H, Lq, L].
  const std::vector<Shape> shapes = {{1},       {7},       {3, 1},    {5, 7},    {2, 3, 33},     {3, 1000},
                                     {2, 1024}, {2, 1025}, {2, 1031}, {1, 4099}, {1, 1, 16384}, {2, 2, 16, 64}};
  for (const Variant& v : variants) {
    bool log = v.log;
    for (const Shape& s : shapes) {
      OpCase c;
      c.name = std::string(v.name) + " " + s.to_string();
      c.inputs = {random_input(s, gen, -4, 4)};
      c.fn = [log](const std::vector<Tensor>& in) { return log ? ops::log_softmax(in[0]) : ops::softmax(in[0]); };
      // Finite-difference noise, not the gradient: the probe sums 16384 outputs of size ~10 (log_softmax),
      // so rounding of ~1e-11 in the sum divided by 2 * eps = 2e-6 leaves errors up to ~1e-5.
      if (s.numel() >= 16384) c.grad_atol = 3e-5;
      cases.push_back(c);
    }
    // Masked: [B, ..., L] with a [B, L] mask; the last case has batch 1 fully masked.
    struct Masked {
      Shape shape;
      int64_t fully_masked;
    };
    const Masked masked[] = {{{2, 1}, -1},        {{3, 7}, -1},       {{2, 5, 33}, -1},
                             {{2, 3, 1000}, -1},  {{2, 1, 4099}, -1}, {{3, 2, 17}, 1},
                             {{2, 2, 1500}, 0}};
    for (const Masked& m : masked) {
      OpCase c;
      c.name = std::string(v.name) + " masked " + m.shape.to_string() +
               (m.fully_masked >= 0 ? " batch " + std::to_string(m.fully_masked) + " fully masked" : "");
      c.inputs = {random_input(m.shape, gen, -4, 4), padding_mask(m.shape[0], m.shape[m.shape.ndim() - 1], gen,
                                                                   m.fully_masked)};
      c.fn = [log](const std::vector<Tensor>& in) {
        return log ? ops::log_softmax(in[0], in[1]) : ops::softmax(in[0], in[1]);
      };
      cases.push_back(c);
    }
  }
  {
    // Large logits: without the max subtraction exp() overflows float32 and float64 alike.
    OpCase c;
    c.name = "softmax large logits [4, 9]";
    c.inputs = {random_input({4, 9}, gen, 800, 900)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); };
    cases.push_back(c);
  }
  // Empty extents: no rows, rows of length 0 (L = 0: no division by it), and masked with an empty
  // batch and with an empty middle dim (a [2, 5] mask over x [2, 0, 5]).
  for (auto [log, shape, masked] : std::vector<std::tuple<bool, Shape, bool>>{
           {false, {0, 5}, false}, {true, {3, 0}, false}, {false, {2, 0, 4}, false}, {true, {0, 4}, true},
           {false, {2, 0, 5}, true}}) {
    OpCase c;
    c.name = std::string(log ? "log_softmax" : "softmax") + (masked ? " masked " : " ") + shape.to_string();
    c.inputs = {random_input(shape, gen, -4, 4)};
    if (masked) c.inputs.push_back(padding_mask(shape[0], shape.last(), gen));
    c.fn = [log](const std::vector<Tensor>& in) {
      Tensor mask = in.size() > 1 ? in[1] : Tensor();
      return log ? ops::log_softmax(in[0], mask) : ops::softmax(in[0], mask);
    };
    c.out_shape = shape;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(softmax, softmax_cases);
}  // namespace lra::test
