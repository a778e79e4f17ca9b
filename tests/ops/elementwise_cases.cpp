// Cases for the unary ops, GLU and casts.
#include <tuple>

#include "ops/elementwise/elementwise.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

using ops::UnaryOp;

std::vector<OpCase> elementwise_cases(Generator& gen) {
  std::vector<OpCase> cases;
  const std::vector<Shape> shapes = {{1}, {7}, {3, 17}, {2, 5, 33}, {4, 2000}};
  struct Unary {
    const char* name;
    UnaryOp op;
    double alpha;
  };
  const Unary unaries[] = {{"relu", UnaryOp::Relu, 1},     {"gelu_tanh", UnaryOp::GeluTanh, 1},
                           {"gelu_erf", UnaryOp::GeluErf, 1}, {"silu", UnaryOp::Silu, 1},
                           {"sigmoid", UnaryOp::Sigmoid, 1}, {"tanh", UnaryOp::Tanh, 1},
                           {"scale", UnaryOp::Scale, -0.37}, {"rsqrt", UnaryOp::Rsqrt, 1e-5},
                           {"elu", UnaryOp::Elu, 1},        {"exp", UnaryOp::Exp, 1e-3},
                           {"guard", UnaryOp::Guard, 0.25},  {"sin", UnaryOp::Sin, 1},
                           {"cos", UnaryOp::Cos, 1},        {"softplus", UnaryOp::Softplus, 1},
                           {"laplace", UnaryOp::Laplace, 1}};
  for (const Unary& u : unaries)
    for (const Shape& s : shapes) {
      OpCase c;
      c.name = std::string(u.name) + " " + s.to_string();
      // rsqrt is only defined for x + shift > 0: draw its inputs from a positive range.
      c.inputs = {u.op == UnaryOp::Rsqrt ? random_input(s, gen, 0.2, 3) : random_input(s, gen, -3, 3)};
      UnaryOp op = u.op;
      double alpha = u.alpha;
      c.fn = [op, alpha](const std::vector<Tensor>& in) { return ops::unary(op, in[0], alpha); };
      cases.push_back(c);
    }
  for (auto [shape, dim] : std::vector<std::pair<Shape, int>>{{{2, 6}, -1}, {{3, 10, 5}, 1}, {{1, 2}, 1}, {{4, 3, 514}, -1}}) {
    OpCase c;
    c.name = "glu " + shape.to_string() + " dim " + std::to_string(dim);
    c.inputs = {random_input(shape, gen, -2, 2)};
    c.fn = [dim](const std::vector<Tensor>& in) { return ops::glu(in[0], dim); };
    cases.push_back(c);
  }
  {
    // Round trip through bfloat16: forward loses precision (tolerance of one bf16 ulp), and the
    // gradient of cast is cast back.
    OpCase c;
    c.name = "cast bf16 round trip [5, 9]";
    c.inputs = {random_input({5, 9}, gen)};
    c.fn = [](const std::vector<Tensor>& in) {
      DType orig = in[0].dtype();
      return ops::cast(ops::cast(ops::cast(in[0], DType::F32), DType::BF16), orig);
    };
    c.gradcheck = false;  // piecewise constant in float64: finite differences are meaningless
    c.rtol = 1e-2;
    cases.push_back(c);
  }
  // Empty extents: a 0 in the first, last and a middle dim; GLU with a 0 outside the split dim and as
  // the split dim itself (0 is even: two halves of 0); a cast of nothing.
  for (auto [name, op, shape] : std::vector<std::tuple<const char*, UnaryOp, Shape>>{
           {"relu", UnaryOp::Relu, {0}}, {"gelu_erf", UnaryOp::GeluErf, {3, 0}}, {"silu", UnaryOp::Silu, {0, 5}},
           {"tanh", UnaryOp::Tanh, {2, 0, 7}}, {"elu", UnaryOp::Elu, {0, 4}}, {"exp", UnaryOp::Exp, {5, 0}},
           {"softplus", UnaryOp::Softplus, {0}}, {"laplace", UnaryOp::Laplace, {4, 0}}}) {
    OpCase c;
    c.name = std::string(name) + " " + shape.to_string();
    c.inputs = {random_input(shape, gen)};
    c.fn = [op](const std::vector<Tensor>& in) { return ops::unary(op, in[0]); };
    c.out_shape = shape;
    cases.push_back(c);
  }
  for (auto [shape, dim, out] : std::vector<std::tuple<Shape, int, Shape>>{
           {{0, 6}, -1, {0, 3}}, {{3, 0}, -1, {3, 0}}, {{2, 4, 0}, 1, {2, 2, 0}}}) {
    OpCase c;
    c.name = "glu " + shape.to_string() + " dim " + std::to_string(dim);
    c.inputs = {random_input(shape, gen)};
    c.fn = [dim](const std::vector<Tensor>& in) { return ops::glu(in[0], dim); };
    c.out_shape = out;
    cases.push_back(c);
  }
  {
    OpCase c;
    c.name = "cast bf16 round trip [0, 9]";
    c.inputs = {random_input({0, 9}, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::cast(ops::cast(in[0], DType::F32), DType::BF16); };
    c.gradcheck = false;
    c.out_shape = Shape{0, 9};
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(elementwise, elementwise_cases);
}  // namespace lra::test
