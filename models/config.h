// The model's settings: what a user chooses about the LRA backbone (models/backbone/backbone.h), each
// declared once in model_settings() and bound to the field the backbone reads. The mixer's own settings
// travel as text in `mixer` and are read into the mixer's typed options struct by the mixer itself
// (models/mixer.h), which is also where an unknown or malformed mixer key is refused.
//
// Choices are enums, so a bad name fails while the setting is parsed ("setting norm must be one of
// layer, batch") and the backbone needs no check of its own; ranges are checked once, by LraModel.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/settings.h"

namespace lra::models {

enum class Input { Tokens, Scalars };  // token ids through an embedding | pixel scalars through Linear(1→D)
enum class Position { None, Sinusoidal, Learned };
enum class NormKind { Layer, Batch, Scale };  // Scale: MEGA's ScaleNorm
enum class Activation { Gelu, Relu, Silu };
enum class Pooling { Cls, MaskedMean, Mean, Sum };
enum class Interaction { Concat, Nli };
enum class ClsInit { Zeros, Normal };  // the cls row: LRA's zero-initialised vector | an N(0, 1) embedding row

extern const settings::Names<Input> kInputNames;
extern const settings::Names<Position> kPositionNames;
extern const settings::Names<NormKind> kNormNames;
extern const settings::Names<Activation> kActivationNames;
extern const settings::Names<Pooling> kPoolingNames;
extern const settings::Names<Interaction> kInteractionNames;
extern const settings::Names<ClsInit> kClsInitNames;

struct ModelConfig {
  // --- settings (model_settings()) ---
  std::string model = "transformer";  // registered mixer name (models/mixer.h)
  Input input = Input::Tokens;
  int width = 128;   // D
  int depth = 2;     // blocks
  int ffn = 256;     // feed-forward hidden width (0: no FFN sub-layer)
  Position position = Position::Sinusoidal;  // rotary positions are the attention mixers' `rotary` key
  bool cls_token = false;
  ClsInit cls_init = ClsInit::Zeros;
  bool prenorm = true;
  bool final_norm = true;  // pre-norm only: the norm after the last block
  NormKind norm = NormKind::Layer;
  Activation activation = Activation::Gelu;  // of the FFN
  double dropout = 0.1;         // residual branches, FFN, mixer-internal (not the input: input_dropout)
  double bn_momentum = 0.1;     // BatchNorm's running-statistics momentum, PyTorch's convention (flax's m is 1 − m)
  double act_dropout = -1.0;    // FFN: after the activation (< 0: dropout; MEGA's act-dropout is 0)
  double input_dropout = 0.0;   // after embedding + positions (LRA: = dropout; S4 and the predecessor: none)
  bool tied_dropout = false;    // one mask per channel, broadcast over the sequence (input dropout too)
  bool mask_zero_pixels = false;  // LRA's pixel mask: pixel 0 is padding, for queries as well as keys
  Pooling pooling = Pooling::Mean;
  int mlp_dim = 0;      // classifier hidden width (0: width)
  int head_layers = 1;  // 0: one Linear; 1: Linear-ReLU-Linear (dual: two hidden layers)
  Interaction interaction = Interaction::Concat;  // dual: [u, v] | [u, v, u*v, u-v]
  std::map<std::string, std::string> mixer;       // the mixer's settings, key -> text ("ssm_n" -> "64")

  // --- from the task, not settings ---
  int vocab_size = 0;     // token ids lie in [0, vocab_size) (input = tokens)
  int num_classes = 2;
  int max_len = 1024;     // L the model is built for (without the cls row)
  bool dual = false;      // two-tower retrieval (shared encoder)
  int denoise_vocab = 0;  // > 0: a per-position head of this many outputs (masked-token denoising)
};

// The model settings (without `mixer`, which is a table of the mixer's own keys).
const std::vector<settings::Setting<ModelConfig>>& model_settings();

}  // namespace lra::models
