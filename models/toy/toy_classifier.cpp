#include "models/toy/toy_classifier.h"

#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/embedding/embedding.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"

namespace lra::models {

Dense::Dense(int in, int out, Generator& rng, bool relu_init) {
  weight_ = register_parameter("weight", Tensor::empty({out, in}));
  if (relu_init) nn::init::kaiming_uniform(weight_, rng);
  else nn::init::xavier_uniform(weight_, rng);
  bias_ = register_parameter("bias", Tensor::zeros({out}), nn::ParamKind::Bias);
}

Tensor Dense::forward(const Tensor& x) const { return ops::linear(x, weight_, bias_); }

ToyClassifier::ToyClassifier(int vocab, int width, int hidden, int classes, Generator& rng, double dropout)
    : dropout_(dropout) {
  embed_ = register_parameter("embed", Tensor::empty({vocab, width}), nn::ParamKind::Embedding);
  nn::init::normal(embed_, rng, 0.0, 1.0);
  mlp_ = register_module("mlp", std::make_shared<Dense>(width, hidden, rng));
  norm_weight_ = register_parameter("norm_weight", Tensor::ones({hidden}), nn::ParamKind::Norm);
  norm_bias_ = register_parameter("norm_bias", Tensor::zeros({hidden}), nn::ParamKind::Norm);
  head_hidden_ = register_module("head_hidden", std::make_shared<Dense>(hidden, hidden, rng, true));
  head_out_ = register_module("head_out", std::make_shared<Dense>(hidden, classes, rng));
}

Tensor ToyClassifier::forward(const Tensor& ids, const Tensor& mask, Generator& gen) {
  Tensor h = ops::gelu(mlp_->forward(ops::embedding(ids, embed_)));
  h = ops::dropout(h, dropout_, gen, training());
  h = ops::layer_norm(h, norm_weight_, norm_bias_);
  Tensor pooled = ops::masked_mean(h, mask);
  return head_out_->forward(ops::relu(head_hidden_->forward(pooled)));
}

}  // namespace lra::models
