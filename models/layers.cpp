#include "models/layers.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/dist.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {

namespace {

constexpr double kLayerNormEps = 1e-6;  // flax default, as in the LRA code
constexpr double kBatchNormEps = 1e-5;
constexpr double kScaleNormEps = 1e-5;  // MEGA's SequenceNorm passes 1e-5 to ScaleNorm

}  // namespace

Tensor torch_default_init(const Shape& shape, int64_t fan_in, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  const double bound = 1.0 / std::sqrt(double(fan_in));
  nn::init::uniform(t, gen, -bound, bound);
  return t;
}

// --- Linear --------------------------------------------------------------------------------------

Linear::Linear(int in, int out, Generator& init, LinearInit how, bool bias, int blocks) {
  LRA_CHECK(blocks >= 1 && out % blocks == 0, "Linear: ", out, " outputs do not split into ", blocks, " blocks");
  if (how == LinearInit::XavierUniform) {
    weight_ = register_parameter("weight", Tensor::empty({out, in}));
    const double bound = std::sqrt(6.0 / double(in + out / blocks));
    nn::init::uniform(weight_, init, -bound, bound);
    if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}), nn::ParamKind::Bias);
  } else {
    weight_ = register_parameter("weight", torch_default_init({out, in}, in, init));
    if (bias) bias_ = register_parameter("bias", torch_default_init({out}, in, init), nn::ParamKind::Bias);
  }
}

Tensor Linear::forward(const Tensor& x) const { return ops::linear(x, weight_, bias_); }

// --- Norm ----------------------------------------------------------------------------------------

Norm::Norm(NormKind kind, int width, double momentum)
    : kind_(kind), batch_(kind == NormKind::Batch), momentum_(momentum) {
  if (kind == NormKind::Scale) {
    weight_ = register_parameter("weight", Tensor::ones({1}), nn::ParamKind::Norm);
    return;
  }
  weight_ = register_parameter("weight", Tensor::ones({width}), nn::ParamKind::Norm);
  bias_ = register_parameter("bias", Tensor::zeros({width}), nn::ParamKind::Norm);
  if (batch_) {
    running_mean_ = register_buffer("running_mean", Tensor::zeros({width}));
    running_var_ = register_buffer("running_var", Tensor::ones({width}));
  }
}

Tensor Norm::forward(const Tensor& x) {
  if (kind_ == NormKind::Scale)
    return ops::mul(ops::mul(x, ops::rsqrt(ops::mean(ops::mul(x, x), -1, true), kScaleNormEps)), weight_);
  if (!batch_) return ops::layer_norm(x, weight_, bias_, kLayerNormEps);
  const int64_t D = x.dim(-1), N = x.numel() / D;
  LRA_CHECK(running_mean_.device() == x.device(), "BatchNorm: the input is on ", device_name(x.device()),
            " but the running statistics are on ", device_name(running_mean_.device()), " (move the model with to())");
  Tensor x2 = ops::reshape(x, {N, D});
  Tensor y;
  dist::Comm& comm = dist::current();
  if (training() && comm.world() > 1 && dist::sync_batch_norm()) {
    // Synchronised BatchNorm (data-parallel runs): the statistics of the global batch, two passes over
    // every rank's slice, mean = Σx / N_g then var = Σ(x − mean)² / N_g, each sum a differentiable
    // all-reduce (its backward sums the ranks' gradients), so N ranks compute what one process does.
    int64_t n_global = N;
    comm.all_reduce(&n_global, 1, dist::ReduceOp::Sum);
    Tensor mean = ops::scale(dist::all_reduce_sum_grad(ops::sum(x2, 0, true)), 1.0 / double(n_global));
    Tensor centred = ops::sub(x2, mean);
    Tensor var = ops::scale(dist::all_reduce_sum_grad(ops::sum(ops::mul(centred, centred), 0, true)),
                            1.0 / double(n_global));
    y = ops::mul(centred, ops::rsqrt(var, kBatchNormEps));
    autograd::NoGrad no_grad;
    const DType keep = running_mean_.dtype();
    running_mean_.copy_from(ops::cast(ops::add(ops::scale(ops::cast(running_mean_, x.dtype()), 1 - momentum_),
                                               ops::scale(ops::reshape(mean.detach(), {D}), momentum_)), keep));
    const double unbiased = n_global > 1 ? double(n_global) / double(n_global - 1) : 1.0;
    running_var_.copy_from(ops::cast(ops::add(ops::scale(ops::cast(running_var_, x.dtype()), 1 - momentum_),
                                              ops::scale(ops::reshape(var.detach(), {D}), momentum_ * unbiased)), keep));
  } else if (training()) {
    // Batch statistics: a layer norm of the transposed [D, N] view normalises each channel over the
    // N = B×L positions (biased variance), exactly BatchNorm's training-mode normalisation.
    y = ops::transpose(ops::layer_norm(ops::transpose(x2, 0, 1), Tensor(), Tensor(), kBatchNormEps), 0, 1);
    autograd::NoGrad no_grad;
    Tensor xd = x2.detach();
    Tensor mean = ops::mean(xd, 0);
    Tensor centred = ops::sub(xd, ops::reshape(mean, {1, D}));
    Tensor var = ops::mean(ops::mul(centred, centred), 0);
    const DType keep = running_mean_.dtype();  // the buffers keep their dtype (float64 inputs in gradchecks)
    running_mean_.copy_from(ops::cast(ops::add(ops::scale(ops::cast(running_mean_, x.dtype()), 1 - momentum_),
                                               ops::scale(mean, momentum_)), keep));
    const double unbiased = N > 1 ? double(N) / double(N - 1) : 1.0;
    running_var_.copy_from(ops::cast(ops::add(ops::scale(ops::cast(running_var_, x.dtype()), 1 - momentum_),
                                              ops::scale(var, momentum_ * unbiased)), keep));
  } else {
    // Running statistics, all on the device: (x − mean)·(var + eps)^(−1/2).
    Tensor mean = ops::reshape(ops::cast(running_mean_, x.dtype()), {1, D});
    Tensor inv_std = ops::reshape(ops::rsqrt(ops::cast(running_var_, x.dtype()), kBatchNormEps), {1, D});
    y = ops::mul(ops::sub(x2, mean), inv_std);
  }
  y = ops::add(ops::mul(y, weight_), bias_);
  return ops::reshape(y, x.shape().vec());
}

// --- FeedForward ---------------------------------------------------------------------------------

FeedForward::FeedForward(int width, int hidden, Activation activation, Generator& init, double act_dropout)
    : activation_(activation), act_dropout_(act_dropout) {
  fc1_ = register_module("fc1", std::make_shared<Linear>(width, hidden, init));
  fc2_ = register_module("fc2", std::make_shared<Linear>(hidden, width, init));
}

Tensor FeedForward::forward(const Tensor& x, double dropout, bool tied, Generator& gen) {
  const int tie = tied ? -2 : ops::kNoTie;  // [B, L, D]: one mask per (b, d), shared along L
  Tensor h = fc1_->forward(x);
  h = activation_ == Activation::Relu ? ops::relu(h) : activation_ == Activation::Silu ? ops::silu(h) : ops::gelu(h);
  h = ops::dropout(h, act_dropout_ < 0 ? dropout : act_dropout_, gen, training(), tie);
  return ops::dropout(fc2_->forward(h), dropout, gen, training(), tie);
}

// --- mixer helpers -------------------------------------------------------------------------------

Tensor zero_padding(const Tensor& x, const Tensor& key_mask) {
  if (!key_mask.defined()) return x;
  LRA_CHECK(key_mask.ndim() == 2 && key_mask.dim(0) == x.dim(0) && key_mask.dim(1) == x.dim(1),
            "mixer: key_mask has shape ", key_mask.describe(), " but x is ", x.describe());
  Tensor mask = ops::cast(key_mask, x.dtype()).view({x.dim(0), x.dim(1), 1});
  return ops::mul(x, mask);
}

int64_t attention_width(const std::string& mixer, int64_t width, int64_t heads, int64_t qkv_dim) {
  const int64_t Q = qkv_dim > 0 ? qkv_dim : width;
  LRA_CHECK(qkv_dim >= 0, mixer, ": qkv_dim must be >= 0 (0: the width), got ", qkv_dim);
  LRA_CHECK(heads > 0 && Q % heads == 0, mixer, ": the attention width (qkv_dim, default the width) ", Q,
            " must be a positive multiple of heads ", heads);
  return Q;
}

void check_mixer_input(const Tensor& x, int64_t width, int64_t max_len, const char* mixer) {
  LRA_CHECK(x.defined() && x.ndim() == 3, mixer, ": x must be [B, L, D], got ",
            x.defined() ? x.describe() : std::string("an undefined tensor"));
  LRA_CHECK(x.dim(2) == width, mixer, ": the last dim of x is ", x.dim(2), " but the mixer was built for width ",
            width);
  LRA_CHECK(x.dim(1) <= max_len, mixer, ": sequence length ", x.dim(1), " exceeds max_len ", max_len);
}

}  // namespace lra::models
