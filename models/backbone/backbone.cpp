#include "models/backbone/backbone.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/embedding/embedding.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {

namespace {

// A named container of child modules ("blocks.0", "head.out"): register_module is protected.
class ModuleList : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

}  // namespace

// --- Block ---------------------------------------------------------------------------------------

Block::Block(const ModelConfig& config, const MixerConfig& mixer_config, Generator& init) : config_(config) {
  norm1_ = register_module("norm1", std::make_shared<Norm>(config.norm, config.width, config.bn_momentum));
  mixer_ = register_module("mixer", find_mixer(config.model).make(mixer_config, init));
  LRA_CHECK(mixer_ != nullptr, "model: mixer '", config.model, "' returned no module");
  if (config.ffn > 0) {
    norm2_ = register_module("norm2", std::make_shared<Norm>(config.norm, config.width, config.bn_momentum));
    ffn_ = register_module("ffn", std::make_shared<FeedForward>(config.width, config.ffn, config.activation, init,
                                                                config.act_dropout));
  }
}

Tensor Block::forward(const Tensor& x, const Tensor& mask, Generator& gen) {
  const int tie = config_.tied_dropout ? -2 : ops::kNoTie;
  auto drop = [&](const Tensor& t) { return ops::dropout(t, config_.dropout, gen, training(), tie); };
  Tensor h = x;
  // A mixer that owns its residual (MEGA's gated residual, models/mixer.h) returns the sub-layer's output.
  const bool owns = mixer_->owns_residual();
  if (config_.prenorm) {
    h = owns ? mixer_->forward_residual(h, norm1_->forward(h), mask, gen)
             : ops::add(h, drop(mix(norm1_->forward(h), mask, gen)));
    if (ffn_) h = ops::add(h, ffn_->forward(norm2_->forward(h), config_.dropout, config_.tied_dropout, gen));
  } else {
    h = norm1_->forward(owns ? mixer_->forward_residual(h, h, mask, gen) : ops::add(h, drop(mix(h, mask, gen))));
    if (ffn_) h = norm2_->forward(ops::add(h, ffn_->forward(h, config_.dropout, config_.tied_dropout, gen)));
  }
  return h;
}

Tensor Block::mix(const Tensor& x, const Tensor& mask, Generator& gen) {
  Tensor y = mixer_->forward(x, mask, gen);
  if (!config_.mask_zero_pixels || !mask.defined()) return y;
  // LRA's query mask (see the header): a masked query's logits are all −1e10, so its weights are uniform
  // over all L keys and its output is W_o·mean_j v_j (+ b_o). v is affine in x, so mean_j v(x_j) =
  // v(mean_j x_j): that is the mixer applied to the one-position sequence mean_j x_j, whose one key takes
  // all the weight. It runs without attention dropout (the header says why).
  Tensor uniform;
  {
    const bool was_training = mixer_->training();
    struct Restore {
      Mixer& m;
      bool on;
      ~Restore() { m.train(on); }
    } restore{*mixer_, was_training};
    mixer_->eval();
    uniform = mixer_->forward(ops::mean(x, 1, true), Tensor(), gen);  // [B, 1, D]
  }
  // y on real queries, uniform on masked ones; an exact selection (a real row is y to the bit).
  const Tensor q = ops::reshape(ops::cast(mask, x.dtype()), {x.dim(0), x.dim(1), 1});  // 1 = a real query
  const Tensor not_q = ops::sub(Tensor::ones({1}, x.dtype(), x.device()), q);
  return ops::add(ops::mul(y, q), ops::mul(uniform, not_q));
}

// --- positions -----------------------------------------------------------------------------------

Tensor sinusoidal_positions(int64_t L, int64_t D) {
  std::vector<float> table(static_cast<size_t>(L * D));
  for (int64_t p = 0; p < L; ++p)
    for (int64_t j = 0; j < D; ++j) {
      double freq = std::pow(10000.0, -double(2 * (j / 2)) / double(D));
      table[size_t(p * D + j)] = float(j % 2 == 0 ? std::sin(double(p) * freq) : std::cos(double(p) * freq));
    }
  return Tensor::from_vector(table, {L, D});
}

// --- LraModel ------------------------------------------------------------------------------------

LraModel::LraModel(const ModelConfig& config, Generator& init) : config_(config) {
  const ModelConfig& c = config_;
  LRA_CHECK(c.width > 0 && c.depth >= 0 && c.ffn >= 0 && c.max_len > 0 && c.num_classes > 0 && c.mlp_dim >= 0,
            "model: width ", c.width, ", depth ", c.depth, ", ffn ", c.ffn, ", max_len ", c.max_len, ", num_classes ",
            c.num_classes, ", mlp_dim ", c.mlp_dim, " must be positive (depth, ffn and mlp_dim may be 0)");
  LRA_CHECK(c.input == Input::Scalars || c.vocab_size > 0, "model: input = tokens needs vocab_size > 0, got ",
            c.vocab_size);
  LRA_CHECK(c.dropout >= 0 && c.dropout < 1, "model: dropout ", c.dropout, " is not in [0, 1)");
  LRA_CHECK(c.bn_momentum > 0 && c.bn_momentum <= 1, "model: bn_momentum ", c.bn_momentum,
            " is not in (0, 1] (PyTorch's convention: flax's momentum 0.9 is 0.1 here)");
  LRA_CHECK(c.act_dropout < 1, "model: act_dropout ", c.act_dropout, " is not below 1 (< 0: the dropout rate)");
  LRA_CHECK(c.input_dropout >= 0 && c.input_dropout < 1, "model: input_dropout ", c.input_dropout,
            " is not in [0, 1)");
  // The query mask is LRA's full-attention semantics (uniform weights over every key for a masked query,
  // computed from the mean of the sequence, see Block::mix): block-local, LaS (smoothed values) and the
  // convolution mixers would need their own definition, and LRA's local attention masks differently (gap 17).
  LRA_CHECK(!c.mask_zero_pixels || c.model == "transformer" || c.model == "rotary_transformer",
            "model: mask_zero_pixels (LRA's query and key mask) needs a full-attention mixer (transformer, "
            "rotary_transformer), got '", c.model, "'");
  LRA_CHECK(c.head_layers == 0 || c.head_layers == 1, "model: head_layers ", c.head_layers,
            " is not 0 (one Linear) or 1 (Linear-ReLU-Linear)");
  find_mixer(c.model);  // fails early, listing the registered names

  if (c.input == Input::Tokens) {
    embed_ = register_parameter("embed", Tensor::empty({c.vocab_size, c.width}), nn::ParamKind::Embedding);
    nn::init::normal(embed_, init, 0.0, 1.0);
  } else {
    encoder_ = register_module("encoder", std::make_shared<Linear>(1, c.width, init));
  }
  const int rows = c.max_len + (c.cls_token ? 1 : 0);
  if (c.cls_token) {
    cls_ = register_parameter("cls", Tensor::zeros({1, 1, c.width}), nn::ParamKind::Embedding);
    if (c.cls_init == ClsInit::Normal) nn::init::normal(cls_, init, 0.0, 1.0);  // as the embedding rows
  }
  if (c.position == Position::Learned) {
    pos_ = register_parameter("pos", Tensor::empty({rows, c.width}), nn::ParamKind::Embedding);
    nn::init::normal(pos_, init, 0.0, 0.02);
  } else if (c.position == Position::Sinusoidal) {
    pos_ = sinusoidal_positions(rows, c.width);  // fixed, not a parameter
  }

  MixerConfig mc;
  mc.width = c.width;
  mc.max_len = rows;
  mc.dropout = c.dropout;
  mc.options = c.mixer;

  auto blocks = register_module("blocks", std::make_shared<ModuleList>());
  for (int i = 0; i < c.depth; ++i) {
    mc.layer = i;
    blocks_.push_back(blocks->add(std::to_string(i), std::make_shared<Block>(c, mc, init)));
  }
  if (c.prenorm && c.final_norm) final_norm_ = register_module("final_norm", std::make_shared<Norm>(c.norm, c.width, c.bn_momentum));

  const int mlp = c.mlp_dim > 0 ? c.mlp_dim : c.width;
  auto head = register_module("head", std::make_shared<ModuleList>());
  const int features = c.dual ? (c.interaction == Interaction::Nli ? 4 : 2) * c.width : c.width;  // what the head reads
  if (c.head_layers == 0) {
    head_out_ = head->add("out", std::make_shared<Linear>(features, c.num_classes, init));
  } else if (c.dual) {
    const int half = mlp / 2 > 0 ? mlp / 2 : 1;
    head_hidden_ = head->add("hidden", std::make_shared<Linear>(features, mlp, init));
    head_hidden2_ = head->add("hidden2", std::make_shared<Linear>(mlp, half, init));
    head_out_ = head->add("out", std::make_shared<Linear>(half, c.num_classes, init));
  } else {
    head_hidden_ = head->add("hidden", std::make_shared<Linear>(features, mlp, init));
    head_out_ = head->add("out", std::make_shared<Linear>(mlp, c.num_classes, init));
  }
  if (c.denoise_vocab > 0) denoise_ = register_module("denoise", std::make_shared<Linear>(c.width, c.denoise_vocab, init));
}

Tensor LraModel::full_mask(int64_t B, int64_t L, Device device, const Tensor& mask) const {
  Tensor m = mask.defined() ? mask : Tensor::ones({B, L}, DType::I32, device);
  if (!config_.cls_token) return m;
  return ops::concat({ops::slice(m, 1, 0, 1), m}, 1);  // the cls token copies token 0's mask
}

std::vector<Mixer*> LraModel::mixers() const {
  std::vector<Mixer*> m;
  for (const auto& b : blocks_) m.push_back(&b->mixer());
  return m;
}

Tensor LraModel::input_mask(const Tensor& ids, const Tensor& mask) const {
  if (!config_.mask_zero_pixels) return mask;
  LRA_CHECK(ids.defined() && ids.ndim() == 2 && ids.dtype() == DType::I32 && ids.device() == Device::CPU,
            "model: input_mask takes the host ids [B, L] int32 (before they become scalars), got ",
            ids.defined() ? ids.describe() : std::string("none"));
  if (mask.defined())
    LRA_CHECK(mask.ndim() == 2 && mask.dim(0) == ids.dim(0) && mask.dim(1) == ids.dim(1) && mask.dtype() == DType::I32 &&
                  mask.device() == Device::CPU,
              "model: input_mask takes a host mask int32 [", ids.dim(0), ", ", ids.dim(1), "], got ", mask.describe());
  std::vector<int32_t> m = ids.to_vector<int32_t>();
  const std::vector<int32_t> given = mask.defined() ? mask.to_vector<int32_t>() : std::vector<int32_t>(m.size(), 1);
  for (size_t i = 0; i < m.size(); ++i) m[i] = (m[i] > 0 && given[i] != 0) ? 1 : 0;  // LRA: inputs > 0
  return Tensor::from_vector(m, {ids.dim(0), ids.dim(1)});
}

Tensor LraModel::encode(const Tensor& input, const Tensor& mask, Generator& gen) {
  return encode_embedded(embed(input), mask, gen);
}

Tensor LraModel::embed(const Tensor& input) {
  if (config_.input == Input::Tokens) {
    LRA_CHECK(input.ndim() == 2 && input.dtype() == DType::I32, "model: input = tokens needs ids [B, L] int32, got ",
              input.describe());
    return ops::embedding(input, embed_);
  }
  LRA_CHECK(input.ndim() == 3 && input.dim(2) == 1 && is_floating(input.dtype()),
            "model: input = scalars needs float scalars [B, L, 1], got ", input.describe());
  return encoder_->forward(input);
}

Tensor LraModel::encode_embedded(const Tensor& embedded, const Tensor& mask, Generator& gen) {
  const ModelConfig& c = config_;
  LRA_CHECK(embedded.ndim() == 3 && embedded.dim(2) == c.width, "model: encode_embedded takes embed()'s [B, L, ",
            c.width, "] output, got ", embedded.describe());
  Tensor x = embedded;
  const int64_t B = x.dim(0), L = x.dim(1);
  LRA_CHECK(L <= c.max_len, "model: input length ", L, " exceeds max_len ", c.max_len);
  if (mask.defined())
    LRA_CHECK(mask.ndim() == 2 && mask.dim(0) == B && mask.dim(1) == L && mask.dtype() == DType::I32,
              "model: mask must be int32 [", B, ", ", L, "], got ", mask.describe());
  if (c.cls_token) {
    Tensor cls = ops::add(Tensor::zeros({B, 1, c.width}, x.dtype(), x.device()), cls_);
    x = ops::concat({cls, x}, 1);
  }
  const int64_t rows = x.dim(1);
  if (pos_.defined()) {
    if (pos_.device() != x.device() && !pos_.requires_grad()) pos_ = pos_.to(x.device());
    Tensor pos = ops::slice(pos_, 0, 0, rows);
    if (pos.dtype() != x.dtype()) pos = ops::cast(pos, x.dtype());
    x = ops::add(x, pos);
  }
  x = ops::dropout(x, c.input_dropout, gen, training(), c.tied_dropout ? -2 : ops::kNoTie);
  // No caller mask and no CLS row: nothing is padding, so the mixers get no mask and skip masking.
  Tensor m = mask.defined() || c.cls_token ? full_mask(B, L, x.device(), mask) : Tensor();
  for (auto& block : blocks_) x = block->forward(x, m, gen);
  if (final_norm_) x = final_norm_->forward(x);
  return x;
}

Tensor LraModel::pool(const Tensor& encoded, const Tensor& m) const {
  switch (config_.pooling) {
    case Pooling::Cls: return ops::reshape(ops::slice(encoded, 1, 0, 1), {encoded.dim(0), encoded.dim(2)});
    case Pooling::MaskedMean: return ops::masked_mean(encoded, m);
    case Pooling::Sum: return ops::sum(encoded, 1);
    case Pooling::Mean: break;
  }
  return ops::mean(encoded, 1);
}

Tensor LraModel::forward(const Tensor& input, const Tensor& mask, Generator& gen) {
  LRA_CHECK(!config_.dual, "model: a dual (two-tower) model takes forward_pair(), not forward()");
  return classify(encode(input, mask, gen), mask);
}

Tensor LraModel::forward_pair(const Tensor& in1, const Tensor& mask1, const Tensor& in2, const Tensor& mask2,
                              Generator& gen) {
  LRA_CHECK(config_.dual, "model: forward_pair() needs a dual model (config.dual = true)");
  Tensor e1 = encode(in1, mask1, gen);
  Tensor e2 = encode(in2, mask2, gen);
  return classify_pair(e1, mask1, e2, mask2);
}

Tensor LraModel::pooled(const Tensor& encoded, const Tensor& mask) const {
  LRA_CHECK(encoded.ndim() == 3 && encoded.dim(2) == config_.width && encoded.dim(1) > (config_.cls_token ? 1 : 0),
            "model: the classifier takes encode()'s [B, L", config_.cls_token ? " + 1" : "", ", ", config_.width,
            "] output, got ", encoded.describe());
  const int64_t B = encoded.dim(0), L = encoded.dim(1) - (config_.cls_token ? 1 : 0);
  return pool(encoded, full_mask(B, L, encoded.device(), mask));
}

Tensor LraModel::classify(const Tensor& encoded, const Tensor& mask) {
  LRA_CHECK(!config_.dual, "model: a dual (two-tower) model takes classify_pair(), not classify()");
  Tensor p = pooled(encoded, mask);
  if (!head_hidden_) return head_out_->forward(p);
  return head_out_->forward(ops::relu(head_hidden_->forward(p)));
}

Tensor LraModel::classify_pair(const Tensor& encoded1, const Tensor& mask1, const Tensor& encoded2,
                               const Tensor& mask2) {
  LRA_CHECK(config_.dual, "model: classify_pair() needs a dual model (config.dual = true)");
  Tensor u = pooled(encoded1, mask1);
  Tensor v = pooled(encoded2, mask2);
  Tensor features = config_.interaction == Interaction::Nli ? ops::concat({u, v, ops::mul(u, v), ops::sub(u, v)}, 1)
                                                 : ops::concat({u, v}, 1);
  if (!head_hidden_) return head_out_->forward(features);
  Tensor h = ops::relu(head_hidden_->forward(features));
  h = ops::relu(head_hidden2_->forward(h));
  return head_out_->forward(h);
}

Tensor LraModel::denoise_logits(const Tensor& encoded) {
  LRA_CHECK(denoise_, "model: denoise_logits() needs denoise_vocab > 0");
  LRA_CHECK(encoded.ndim() == 3 && encoded.dim(2) == config_.width, "model: denoise_logits takes encode()'s [B, L, ",
            config_.width, "] output, got ", encoded.describe());
  Tensor x = config_.cls_token ? ops::slice(encoded, 1, 1, encoded.dim(1)) : encoded;
  return denoise_->forward(x);
}

std::string list_models() {
  std::string out;
  for (const MixerEntry& e : mixers()) {
    out += e.name + "  " + e.mechanism + "  [" + e.complexity + "]\n";
    if (e.options.empty()) out += "    (no mixer settings)\n";
    for (const OptionInfo& o : e.options)
      out += "    " + o.key + " " + o.type + " = " + o.default_value + "  " + o.help + "\n";
  }
  return out;
}

}  // namespace lra::models
