#include "models/config.h"

namespace lra::models {

using namespace settings;

const Names<Input> kInputNames = {{Input::Tokens, "tokens"}, {Input::Scalars, "scalars"}};
const Names<Position> kPositionNames = {
    {Position::None, "none"}, {Position::Sinusoidal, "sinusoidal"}, {Position::Learned, "learned"}};
const Names<NormKind> kNormNames = {
    {NormKind::Layer, "layer"}, {NormKind::Batch, "batch"}, {NormKind::Scale, "scale"}};
const Names<Activation> kActivationNames = {
    {Activation::Gelu, "gelu"}, {Activation::Relu, "relu"}, {Activation::Silu, "silu"}};
const Names<Pooling> kPoolingNames = {
    {Pooling::Cls, "cls"}, {Pooling::MaskedMean, "masked_mean"}, {Pooling::Mean, "mean"}, {Pooling::Sum, "sum"}};
const Names<Interaction> kInteractionNames = {{Interaction::Concat, "concat"}, {Interaction::Nli, "nli"}};
const Names<ClsInit> kClsInitNames = {{ClsInit::Zeros, "zeros"}, {ClsInit::Normal, "normal"}};

const std::vector<Setting<ModelConfig>>& model_settings() {
  using C = ModelConfig;
  static const std::vector<Setting<C>> s = {
      text("model", &C::model, "the sequence mixer (--list-models shows them and their [mixer] keys)"),
      choice("input", &C::input, kInputNames, "tokens (embedding) or scalars (normalised pixels; pixel tasks)"),
      integer("width", &C::width, "model width D"),
      integer("depth", &C::depth, "number of blocks"),
      integer("ffn", &C::ffn, "feed-forward hidden width (0: no feed-forward sub-layer)"),
      choice("position", &C::position, kPositionNames,
             "position encoding added to the input (rotary: the attention mixers' rotary key)"),
      flag("cls_token", &C::cls_token, "prepend a learned CLS token (its mask copies token 0's; mean pooling includes it)"),
      choice("cls_init", &C::cls_init, kClsInitNames,
             "the CLS row's initial value: zeros (LRA) or N(0, 1) like an embedding row (the predecessor)"),
      flag("prenorm", &C::prenorm, "normalise before each sublayer (false: after)"),
      flag("final_norm", &C::final_norm, "pre-norm: a norm after the last block (false: none)"),
      choice("norm", &C::norm, kNormNames,
             "normalisation (batch: over all B x L positions; scale: MEGA's ScaleNorm, one learned scalar)"),
      number("bn_momentum", &C::bn_momentum,
             "BatchNorm running statistics: r = (1 − m)·r + m·batch (PyTorch's m; flax momentum 0.95 is m = 0.05)"),
      choice("activation", &C::activation, kActivationNames, "feed-forward activation"),
      number("dropout", &C::dropout, "dropout rate (residual branches, feed-forward, mixer-internal)"),
      number("act_dropout", &C::act_dropout,
             "feed-forward dropout after the activation (< 0: the dropout rate; MEGA's act-dropout: 0)"),
      number("input_dropout", &C::input_dropout,
             "dropout rate after the embedding and positions (LRA: the dropout rate; S4, the predecessor: 0)"),
      flag("tied_dropout", &C::tied_dropout, "one dropout mask per channel, shared over the sequence"),
      flag("mask_zero_pixels", &C::mask_zero_pixels,
           "LRA's pixel mask: pixel value 0 is padding, masked as keys and as queries (full attention only)"),
      choice("pooling", &C::pooling, kPoolingNames, "sequence pooling for the classifier"),
      integer("mlp_dim", &C::mlp_dim, "classifier hidden width (0: width)"),
      integer("head_layers", &C::head_layers,
              "classifier: 0 = one Linear (S4's decoder), 1 = Linear-ReLU-Linear (retrieval: the LRA head)"),
      choice("interaction", &C::interaction, kInteractionNames, "retrieval: how the two encodings meet"),
  };
  return s;
}

}  // namespace lra::models
