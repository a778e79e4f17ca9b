// A small two-layer MLP for the dist_unit tests: y = W2 relu(W1 x + b1) + b2, loss = sum(y²). Its
// backward makes W2 and b2 final before W1 and b1, which is what the gradient-bucket tests lean on.
// `extra` registers an unused parameter of that many elements first (slot 0, hence the LAST bucket)
// or, with `unused_last`, last (slot N-1, hence bucket 0).
#pragma once

#include "engine/nn.h"
#include "engine/rng.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"

namespace lra::test {

class Mlp : public nn::Module {
 public:
  Tensor w1, b1, w2, b2, unused;
  Mlp(int64_t in, int64_t hidden, int64_t out, int64_t extra = 0, bool unused_last = false) {
    Generator gen(11);
    if (extra > 0 && !unused_last) unused = register_parameter("unused", Tensor::zeros({extra}));
    w1 = register_parameter("w1", Tensor::empty({hidden, in}));
    b1 = register_parameter("b1", Tensor::empty({hidden}), nn::ParamKind::Bias);
    w2 = register_parameter("w2", Tensor::empty({out, hidden}));
    b2 = register_parameter("b2", Tensor::empty({out}), nn::ParamKind::Bias);
    if (extra > 0 && unused_last) unused = register_parameter("unused", Tensor::zeros({extra}));
    nn::init::normal(w1, gen, 0.0, 0.5);
    nn::init::normal(b1, gen, 0.0, 0.5);
    nn::init::normal(w2, gen, 0.0, 0.5);
    nn::init::normal(b2, gen, 0.0, 0.5);
  }
  Tensor loss(const Tensor& x) const {
    Tensor y = ops::linear(ops::relu(ops::linear(x, w1, b1)), w2, b2);
    return ops::sum_all(ops::mul(y, y));
  }
};

// A seeded input batch [rows, in].
inline Tensor mlp_input(int64_t rows, int64_t in, Device device = Device::CPU) {
  Generator gen(5);
  Tensor x = Tensor::empty({rows, in});
  nn::init::normal(x, gen);
  return x.to(device);
}

}  // namespace lra::test
