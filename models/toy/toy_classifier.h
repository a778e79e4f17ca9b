// The demo's tiny sequence classifier, built only from core ops:
//   ids [B, L] -> embedding [B, L, D] -> linear + GELU [B, L, H] -> dropout -> layer norm
//   -> masked mean over L [B, H] -> the LRA classifier head: linear + ReLU -> linear [B, classes]
// Parameter names follow the module tree: embed, mlp.weight, mlp.bias, norm.weight, head.hidden.weight...
#pragma once

#include <memory>

#include "engine/nn.h"

namespace lra::models {

// A dense layer's parameters (weight [out, in] as in PyTorch, bias [out]).
class Dense : public nn::Module {
 public:
  Dense(int in, int out, Generator& rng, bool relu_init = false);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor weight_, bias_;
};

class ToyClassifier : public nn::Module {
 public:
  ToyClassifier(int vocab, int width, int hidden, int classes, Generator& init_rng, double dropout = 0.1);
  // gen supplies dropout masks (only used in training mode).
  Tensor forward(const Tensor& ids, const Tensor& mask, Generator& gen);

 private:
  Tensor embed_, norm_weight_, norm_bias_;
  std::shared_ptr<Dense> mlp_, head_hidden_, head_out_;
  double dropout_;
};

}  // namespace lra::models
