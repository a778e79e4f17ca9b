// The shared LRA backbone: embedding, positions, a stack of residual blocks around a registered mixer,
// pooling and the classifier heads. One model per registered mixer (models/mixer.h).
//
//   input = tokens:  ids [B, L] int32 (id 0 = padding)  -> embedding table [vocab_size, D], N(0, 1)
//   input = scalars: [B, L, 1] float                    -> linear encoder 1 -> D
//   [cls_token: a learned row prepended, zero-initialised (LRA) or N(0, 1) like an embedding row
//    (cls_init = normal: the locality-bias predecessor's CLS id in its vocabulary); its mask copies the
//    mask of token 0, so every query may attend to it and masked_mean / mean pooling include it]
//   + positions (none | sinusoidal | learned; rotary positions are the attention mixers' own `rotary` key)
//   -> input dropout (input_dropout, default 0: LRA's files set the dropout rate, S4 and the predecessor
//      have none; tied over the sequence with tied_dropout, as S4's dropinp)
//   -> depth × Block -> final norm (pre-norm only; final_norm = false drops it, as the
//      locality-bias predecessor has none) = encode(): [B, L(+1), D]
//   Block, pre-norm:  x += Drop(Mixer(Norm1(x)));  x += FFN(Norm2(x))
//   Block, post-norm: x = Norm1(x + Drop(Mixer(x))); x = Norm2(x + FFN(x))
//   FFN = Linear(D→ffn) → GELU|ReLU → Drop → Linear(ffn→D) → Drop   (ffn = 0: no FFN sub-layer)
//   pooling: cls (row 0; without a cls token that is the first token, as in LRA's dual encoder) |
//            masked_mean (valid positions, the cls row included) | mean (all positions, padding
//            included: the LRA code) | sum
//   head (head_layers = 1): Linear(D→mlp) → ReLU → Linear(mlp→classes)
//   dual (retrieval, one shared encoder): features [u, v] (concat) or [u, v, u⊙v, u−v] (nli), then
//         (head_layers = 1) Linear(F→mlp) → ReLU → Linear(mlp→mlp/2) → ReLU → Linear(mlp/2→classes)
//   head_layers = 0: a single Linear(D→classes), or Linear(F→classes) for dual (S4's decoder, the
//         locality-bias predecessor's 0 hidden layers); mlp_dim is then unused.
//   denoise head: Linear(D→denoise_vocab) per position.
//
// mask_zero_pixels (LRA's pixel mask, the LRA image and Pathfinder files): the LRA code builds its padding
// mask as inputs > 0 (transformer.py L148), so a black pixel is padding, and flax's attention applies that
// mask to queries as well as keys: the bias is −1e10 wherever query or key is masked. A real query then
// attends to the real keys; a masked query's logits are all exactly −1e10 in float32 (|q·k| < 512 is
// below the rounding of 1e10), so its weights are uniform over all L keys and its output is the mean of
// every value row, W_o·mean_j v_j; nothing zeroes it afterwards, and the pooling reads it (MEAN averages
// every row; CLS reads row 0, masked when pixel 0 is black, since the cls row copies token 0's mask).
// Here: the caller builds the mask with input_mask() from the raw pixel ids (so it works for tokens and
// for scalars alike; the trainer's Feed does), the mixer gets it as its key mask, and Block::mix
// replaces the outputs of masked queries with the mixer applied to mean_j x_j as a one-position sequence
// (v is affine, so that is W_o·mean_j v_j exactly). Those rows carry no attention dropout: LRA drops each of
// their L uniform weights, which changes their mean by about sqrt(p/((1−p)·L)) (1.6% at p = 0.2,
// L = 1025), where dropping the one weight of a one-position sequence would zero the whole row. Only the
// full-attention mixers (transformer, rotary_transformer) take the setting (the constructor refuses others).
//
// Parameter names follow the module tree: embed | encoder.weight, cls, pos, blocks.3.norm1.weight,
// blocks.3.mixer.qkv.weight, blocks.3.ffn.fc1.weight, final_norm.weight, head.hidden.weight,
// head.out.weight, denoise.weight (head_layers = 0 keeps head.out alone). The attention mixers'
// attention_bias adds blocks.3.mixer.qkv.bias and blocks.3.mixer.out.bias.
// Norm, Linear and FeedForward are models/layers.h's; BatchNorm's running statistics are module buffers
// ("blocks.0.norm1.running_mean"): not parameters, but moved by to() and saved in checkpoints.
// Settings are checked here, once: ranges in the constructor (choices are enums, checked when parsed).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/config.h"
#include "models/layers.h"
#include "models/mixer.h"

namespace lra::models {

// One residual block around a mixer (see the header comment for the pre/post-norm formulas).
class Block : public nn::Module {
 public:
  Block(const ModelConfig& config, const MixerConfig& mixer_config, Generator& init);
  Tensor forward(const Tensor& x, const Tensor& mask, Generator& gen);
  Mixer& mixer() const { return *mixer_; }  // for the probes (tools/probe): the block's own mixer

 private:
  // The mixer, with mask_zero_pixels also masking queries (LRA's uniform rows, see the header comment).
  Tensor mix(const Tensor& x, const Tensor& mask, Generator& gen);

  ModelConfig config_;
  std::shared_ptr<Norm> norm1_, norm2_;
  std::shared_ptr<Mixer> mixer_;
  std::shared_ptr<FeedForward> ffn_;
};

// The fixed sinusoid table [L, D]: even dims sin(p·10000^(−2i/D)), odd dims the matching cos.
Tensor sinusoidal_positions(int64_t L, int64_t D);

class LraModel : public nn::Module {
 public:
  LraModel(const ModelConfig& config, Generator& init);
  // The mask to run with raw ids (host int32 [B, L], token or pixel ids, before pixel_scalars): `mask`
  // itself, or with mask_zero_pixels `mask` AND ids > 0 (LRA's pixel mask), a host int32 [B, L].
  Tensor input_mask(const Tensor& ids, const Tensor& mask) const;
  // input: ids [B, L] int32 (vocab_size > 0) or scalars [B, L, 1] float (vocab_size == 0); mask [B, L] int32.
  Tensor encode(const Tensor& input, const Tensor& mask, Generator& gen);   // [B, L(+1 with cls), D], final norm applied
  // encode() in two steps, for the receptive-field probe (tools/probe/receptive_field.h), which needs the
  // gradient with respect to the embedded input: embed() is the part that reads the input values (the
  // token table row or the scalar encoder 1 -> D) [B, L, D]; encode_embedded() is everything after it
  // (cls row, positions, input dropout, blocks, final norm). encode(input) = encode_embedded(embed(input)).
  Tensor embed(const Tensor& input);
  Tensor encode_embedded(const Tensor& embedded, const Tensor& mask, Generator& gen);
  Tensor forward(const Tensor& input, const Tensor& mask, Generator& gen);  // logits [B, num_classes]
  Tensor forward_pair(const Tensor& in1, const Tensor& mask1, const Tensor& in2, const Tensor& mask2, Generator& gen);
  // The pooling and head on encode()'s output (mask: the one encode() was given): forward() is
  // classify(encode()), forward_pair() is classify_pair() of the two encodings. For a caller that needs the
  // encoded sequences too (single-pass denoising: one pass gives the class logits and the reconstruction).
  Tensor classify(const Tensor& encoded, const Tensor& mask);
  Tensor classify_pair(const Tensor& encoded1, const Tensor& mask1, const Tensor& encoded2, const Tensor& mask2);
  Tensor denoise_logits(const Tensor& encoded);  // [B, L, denoise_vocab] from encode()'s output (cls row dropped)
  const ModelConfig& config() const { return config_; }
  // The mixer of every block, first layer first, for the probes (tools/probe). Each was built for
  // sequences of config().max_len positions, plus one with cls_token.
  std::vector<Mixer*> mixers() const;

 private:
  // The mask encode() ran with: [B, L(+1)] (ones when the caller gave none, the cls column prepended).
  Tensor full_mask(int64_t B, int64_t L, Device device, const Tensor& mask) const;
  Tensor pool(const Tensor& encoded, const Tensor& full_mask) const;  // [B, D]
  Tensor pooled(const Tensor& encoded, const Tensor& mask) const;     // pool() with the full mask of `mask`

  ModelConfig config_;
  Tensor embed_, cls_, pos_;
  std::shared_ptr<Linear> encoder_;
  std::vector<std::shared_ptr<Block>> blocks_;
  std::shared_ptr<Norm> final_norm_;
  std::shared_ptr<Linear> head_hidden_, head_hidden2_, head_out_, denoise_;
};

// Every registered mixer, one line each: name, mechanism, complexity and the mixer keys it takes.
std::string list_models();

}  // namespace lra::models
