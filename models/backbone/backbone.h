// The shared LRA backbone: embedding, positions, a stack of residual blocks around a registered mixer,
// pooling and the classifier heads. One model per registered mixer (models/mixer.h).
//
//   input ids [B, L] int32 (vocab_size > 0, id 0 = padding)  -> embedding table [vocab, D], N(0, 1)
//   or scalars [B, L, 1] float (vocab_size == 0)             -> linear encoder 1 -> D
//   [cls_token: a learned zero-initialised row prepended; its mask copies the mask of token 0]
//   + positions (none | sinusoidal | learned; rotary* adds nothing here and tells the attention mixers
//     through MixerConfig::extra["rotary"] = head | full | half)
//   -> dropout -> depth × Block -> final norm (pre-norm only; final_norm = false drops it, as the
//      locality-bias predecessor has none) = encode(): [B, L(+1), D]
//   Block, pre-norm:  x += Drop(Mixer(Norm1(x)));  x += FFN(Norm2(x))
//   Block, post-norm: x = Norm1(x + Drop(Mixer(x))); x = Norm2(x + FFN(x))
//   FFN = Linear(D→ffn) → GELU|ReLU → Drop → Linear(ffn→D) → Drop   (ffn = 0: no FFN sub-layer)
//   pooling: cls (row 0; without a cls token that is the first token, as in LRA's dual encoder) |
//            masked_mean (valid positions) | mean (all positions, padding included: the LRA code) | sum
//   head (head_layers = 1): Linear(D→mlp) → ReLU → Linear(mlp→classes)
//   dual (retrieval, one shared encoder): features [u, v] (concat) or [u, v, u⊙v, u−v] (nli), then
//         (head_layers = 1) Linear(F→mlp) → ReLU → Linear(mlp→mlp/2) → ReLU → Linear(mlp/2→classes)
//   head_layers = 0: a single Linear(D→classes), or Linear(F→classes) for dual (S4's decoder, the
//         locality-bias predecessor's 0 hidden layers); mlp_dim is then unused.
//   denoise head: Linear(D→denoise_vocab) per position.
//
// Parameter names follow the module tree: embed | encoder.weight, cls, pos, blocks.3.norm1.weight,
// blocks.3.mixer.qkv.weight, blocks.3.ffn.fc1.weight, final_norm.weight, head.hidden.weight,
// head.out.weight, denoise.weight (head_layers = 0 keeps head.out alone). attention_bias adds
// blocks.3.mixer.qkv.bias and blocks.3.mixer.out.bias.
// Norm: LayerNorm eps 1e-6 (flax default, the LRA code). BatchNorm normalises every channel over all
// B×L positions (padding included) with batch statistics (biased variance) in training and running
// statistics in eval; the running variance is updated with the unbiased batch variance, momentum 0.1,
// as PyTorch's BatchNorm1d does. The running statistics are module buffers ("blocks.0.norm1.running_mean"):
// not parameters, but moved by to() and saved in checkpoints.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/mixer.h"

namespace lra::models {

struct ModelConfig {
  std::string model = "transformer";   // registered mixer name
  int vocab_size = 0;                  // token embedding size (pad id 0); 0 = pixel scalars [B, L, 1] via a linear encoder
  int num_classes = 2;
  int max_len = 1024;
  int width = 128, depth = 2, heads = 4, ffn = 256;
  std::string position = "sinusoidal"; // none | sinusoidal | learned | rotary | rotary_full | rotary_half
                                       // (rotary* are applied by attention mixers to q,k: per head, over the full
                                       //  width before the head split, or with "disable half")
  bool cls_token = false;
  bool prenorm = true;
  std::string norm = "layer";          // layer | batch (BatchNorm over B×L)
  std::string activation = "gelu";     // FFN activation: gelu | relu
  double dropout = 0.1, attention_dropout = 0.1;
  bool tied_dropout = false;           // one mask per channel, broadcast over the sequence
  std::string pooling = "mean";        // cls | masked_mean | mean (all positions, the LRA code) | sum
  int mlp_dim = 0;                     // classifier hidden width (0 = width)
  int head_layers = 1;                 // 0: the classifier is one Linear; 1: Linear-ReLU-Linear (dual: see above)
  bool final_norm = true;              // pre-norm only: the norm after the last block (false: none)
  bool attention_bias = false;         // attention mixers: biases on the q/k/v and output projections
  bool dual = false;                   // two-tower retrieval (shared encoder)
  std::string interaction = "concat";  // concat [u, v] | nli [u, v, u*v, u-v]
  int denoise_vocab = 0;               // > 0: token-level head for masked-token denoising with this many outputs
  std::map<std::string, std::string> extra;  // mixer settings (passed to MixerConfig::extra)
};

// A dense layer: weight [out, in] (PyTorch layout, Xavier-uniform), bias [out] (zeros) or none.
class Linear : public nn::Module {
 public:
  Linear(int in, int out, Generator& init, bool bias = true);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor weight_, bias_;
};

// LayerNorm over the last dim, or BatchNorm over all leading dims (B×L), by name ("layer" | "batch").
class Norm : public nn::Module {
 public:
  Norm(const std::string& kind, int width);
  Tensor forward(const Tensor& x);  // x [..., D]

 private:
  bool batch_;
  Tensor weight_, bias_;
  Tensor running_mean_, running_var_;  // BatchNorm only: buffers (moved by to(), saved in checkpoints)
};

// FFN = Linear(D→hidden) → act → Drop → Linear(hidden→D) → Drop.
class FeedForward : public nn::Module {
 public:
  FeedForward(int width, int hidden, const std::string& activation, Generator& init);
  Tensor forward(const Tensor& x, double dropout, bool tied, Generator& gen);

 private:
  bool relu_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

// One residual block around a mixer (see the header comment for the pre/post-norm formulas).
class Block : public nn::Module {
 public:
  Block(const ModelConfig& config, const MixerConfig& mixer_config, Generator& init);
  Tensor forward(const Tensor& x, const Tensor& mask, Generator& gen);

 private:
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
  // input: ids [B, L] int32 (vocab_size > 0) or scalars [B, L, 1] float (vocab_size == 0); mask [B, L] int32.
  Tensor encode(const Tensor& input, const Tensor& mask, Generator& gen);   // [B, L(+1 with cls), D], final norm applied
  Tensor forward(const Tensor& input, const Tensor& mask, Generator& gen);  // logits [B, num_classes]
  Tensor forward_pair(const Tensor& in1, const Tensor& mask1, const Tensor& in2, const Tensor& mask2, Generator& gen);
  Tensor denoise_logits(const Tensor& encoded);  // [B, L, denoise_vocab] from encode()'s output (cls row dropped)
  const ModelConfig& config() const { return config_; }

 private:
  // The mask encode() ran with: [B, L(+1)] (ones when the caller gave none, the cls column prepended).
  Tensor full_mask(const Tensor& input, const Tensor& mask) const;
  Tensor pool(const Tensor& encoded, const Tensor& full_mask) const;  // [B, D]

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
