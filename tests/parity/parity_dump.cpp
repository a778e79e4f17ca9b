// parity_dump: trains a tiny LraModel for a few AdamW steps and writes, at the final parameters, one
// safetensors file with everything a PyTorch re-implementation needs to recompute the step and
// compare (tests/parity/check_parity.py):
//
//   <param name>          every parameter, under its checkpoint name (blocks.0.mixer.qkv.weight, ...)
//   <buffer name>         every buffer (BatchNorm running statistics) as the final forward found them
//   after/<buffer name>   the same buffers after the final training-mode forward (the momentum update)
//   input/ids | input/pixels, input/mask, input/labels (dual: also input/ids2, input/mask2)
//   out/logits, out/loss  the final training-mode forward (batch statistics for BatchNorm)
//   out/eval_logits       an eval-mode forward at the same parameters (running statistics)
//   grad/<param name>     d loss / d param of the final forward
//   __metadata__          every model setting (models/config.h, as the trainer prints them), the task-side
//                         fields (vocab_size, num_classes, max_len, dual), the mixer's settings as
//                         "mixer.<key>" with the mixer's declared defaults filled in, the dump settings
//
// Usage: parity_dump OUT.safetensors [key=value ...]
//   keys naming a model setting set it, parsed by that setting (model=s4d width=16 prenorm=false ...);
//   vocab_size, num_classes, max_len, dual set the task-side fields; batch, length, steps, lr, seed,
//   mask (0: no key mask, as the pixel tasks pass none) and zero_pixels (1: every third real position,
//   position 0 of row 0 included, gets id / pixel 0, and pixels are ids 1..255 over 255) set the dump; any other key is a mixer setting,
//   which the mixer reads (an unknown key or a bad value is its error). dtype=f64 runs the model, the batch and
//   the optimizer in double (the CPU references are templated on the scalar type): then any difference
//   from the float64 PyTorch reference larger than ~1e-12 is a mismatch of definitions, not rounding.
//   Dropout is always 0, so a training-mode step is deterministic.
//        parity_dump --list-mixers     prints every registered mixer, one per line.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/io.h"
#include "engine/optim.h"
#include "engine/settings.h"
#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"

namespace {

using lra::Generator;
using lra::Tensor;
using lra::models::ModelConfig;

struct DumpSettings {
  int batch = 3, length = 13, steps = 3;
  double lr = 1e-2;
  uint64_t seed = 1;
  bool mask = true;
  bool zero_pixels = false;  // id / pixel 0 at real positions (for mask_zero_pixels)
  lra::DType dtype = lra::DType::F32;  // f64: the whole model in double, to separate rounding from a mismatch
};

int to_int(const std::string& key, const std::string& v) {
  return int(lra::settings::parse_int("parity_dump: " + key, v));
}
bool to_bool(const std::string& key, const std::string& v) { return lra::settings::parse_bool("parity_dump: " + key, v); }

// The task-side fields of ModelConfig (not settings: the trainer takes them from the data).
struct TaskField {
  const char* name;
  int ModelConfig::*field;
};
constexpr TaskField kTaskFields[] = {{"vocab_size", &ModelConfig::vocab_size},
                                     {"num_classes", &ModelConfig::num_classes},
                                     {"max_len", &ModelConfig::max_len}};

// ids [B, L] in 1..vocab−1 (or pixels [B, L, 1] in [0, 1)), labels [B], and a key mask whose row b
// has its last pad[b] positions padded (id 0). zero_pixels: ids (pixel ids 1..255 for scalars) with
// every third real position set to 0, the pixels id/255; the mask the model runs with is then
// model.input_mask(ids, mask), as the trainer's Feed builds it.
struct Sequence {
  Tensor input, mask, ids;
};
Sequence make_sequence(const ModelConfig& c, const DumpSettings& s, Generator& g, const std::vector<int>& pad) {
  const int B = s.batch, L = s.length;
  std::vector<int32_t> mask(size_t(B * L), 1);
  if (s.mask)
    for (int b = 0; b < B; ++b)
      for (int l = L - std::min(pad[size_t(b) % pad.size()], L - 1); l < L; ++l) mask[size_t(b * L + l)] = 0;
  Sequence out;
  if (s.zero_pixels) {
    const uint32_t top = c.input == lra::models::Input::Tokens ? uint32_t(c.vocab_size - 1) : 255u;
    std::vector<int32_t> ids(size_t(B * L));
    std::vector<float> px(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ids[i] = mask[i] && (i % size_t(L)) % 3 != 1 ? 1 + int32_t(g.below(top)) : 0;
      if (i == 0) ids[i] = 0;  // row 0's first token: the cls row copies its mask
      px[i] = float(ids[i]) / 255.0f;
    }
    out.ids = Tensor::from_vector(ids, {B, L});
    out.input = c.input == lra::models::Input::Tokens ? out.ids
                                                      : lra::ops::cast(Tensor::from_vector(px, {B, L, 1}), s.dtype);
  } else if (c.input == lra::models::Input::Tokens) {
    std::vector<int32_t> ids(size_t(B * L));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = mask[i] ? 1 + int32_t(g.below(uint32_t(c.vocab_size - 1))) : 0;
    out.input = Tensor::from_vector(ids, {B, L});
  } else {
    std::vector<float> px(size_t(B * L));
    for (size_t i = 0; i < px.size(); ++i) px[i] = mask[i] ? g.uniform() : 0.0f;
    out.input = lra::ops::cast(Tensor::from_vector(px, {B, L, 1}), s.dtype);
  }
  if (s.mask) out.mask = Tensor::from_vector(mask, {B, L});
  return out;
}

// Converts a parameter or buffer to `dtype` in place: every handle (the module's, ours) sees the new
// storage, as the optimizer's rebinding into its flat buffer does. There is no Module-wide cast in the
// engine; the parity test is its only user, so it lives here.
void cast_in_place(const Tensor& t, lra::DType dtype) {
  Tensor c = lra::ops::cast(t.detach(), dtype);
  lra::TensorImpl* impl = t.impl();
  impl->storage = c.impl()->storage;
  impl->offset = c.impl()->offset;
  impl->dtype = dtype;
}

int run(int argc, char** argv) {
  LRA_CHECK(argc >= 2, "usage: parity_dump OUT.safetensors [key=value ...] | parity_dump --list-mixers");
  if (std::string(argv[1]) == "--list-mixers") {
    for (const auto& e : lra::models::mixers()) std::printf("%s\n", e.name.c_str());
    return 0;
  }
  const std::string out_path = argv[1];

  ModelConfig c;  // the tiny defaults; every case may override them
  c.vocab_size = 11;
  c.num_classes = 3;
  c.max_len = 16;
  c.width = 16;
  c.depth = 2;
  c.ffn = 24;
  c.dropout = 0;
  DumpSettings s;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    LRA_CHECK(eq != std::string::npos && eq > 0, "parity_dump: argument '", arg, "' is not key=value");
    const std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
    const auto* setting = lra::settings::find(lra::models::model_settings(), key);
    const auto task_field = std::find_if(std::begin(kTaskFields), std::end(kTaskFields),
                                         [&](const TaskField& f) { return key == f.name; });
    if (setting) setting->set(c, value);
    else if (task_field != std::end(kTaskFields)) c.*(task_field->field) = to_int(key, value);
    else if (key == "dual") c.dual = to_bool(key, value);
    else if (key == "batch") s.batch = to_int(key, value);
    else if (key == "length") s.length = to_int(key, value);
    else if (key == "steps") s.steps = to_int(key, value);
    else if (key == "lr") s.lr = lra::settings::parse_double("parity_dump: lr", value);
    else if (key == "seed") s.seed = uint64_t(to_int(key, value));
    else if (key == "mask") s.mask = to_bool(key, value);
    else if (key == "zero_pixels") s.zero_pixels = to_bool(key, value);
    else if (key == "dtype") {
      LRA_CHECK(value == "f32" || value == "f64", "parity_dump: dtype = '", value, "' is not f32 or f64");
      s.dtype = value == "f64" ? lra::DType::F64 : lra::DType::F32;
    }
    else c.mixer[key] = value;  // a mixer setting: the mixer rejects keys it does not take
  }
  // The attention mixers: two heads and no attention dropout unless a case says otherwise.
  for (const auto& o : lra::models::find_mixer(c.model).options) {
    if (o.key == "heads" && !c.mixer.count("heads")) c.mixer["heads"] = "2";
    if (o.key == "attention_dropout" && !c.mixer.count("attention_dropout")) c.mixer["attention_dropout"] = "0";
  }
  LRA_CHECK(s.batch >= 1 && s.length >= 1 && s.steps >= 0, "parity_dump: batch, length must be >= 1, steps >= 0");

  Generator init(s.seed), gen(s.seed + 100), data(s.seed + 200);
  lra::models::LraModel model(c, init);
  if (s.dtype != lra::DType::F32) {
    for (const auto& p : model.named_parameters()) cast_in_place(p.tensor, s.dtype);
    for (const auto& b : model.named_buffers()) cast_in_place(b.tensor, s.dtype);
  }

  Sequence x1 = make_sequence(c, s, data, {0, 4, 1}), x2;
  if (c.dual) x2 = make_sequence(c, s, data, {2, 0, 5});
  std::vector<int32_t> labels(size_t(s.batch));
  for (auto& y : labels) y = int32_t(data.below(uint32_t(c.num_classes)));
  Tensor y = Tensor::from_vector(labels, {s.batch});
  // The masks the model runs with (input_mask: the caller's, or with mask_zero_pixels AND ids > 0).
  const Tensor m1 = x1.ids.defined() ? model.input_mask(x1.ids, x1.mask) : x1.mask;
  const Tensor m2 = x2.ids.defined() ? model.input_mask(x2.ids, x2.mask) : x2.mask;
  auto forward = [&]() {
    return c.dual ? model.forward_pair(x1.input, m1, x2.input, m2, gen) : model.forward(x1.input, m1, gen);
  };

  // A few steps move the parameters off their symmetric initial values (zero cls, gMLP's 1e-5 kernel,
  // ones and zeros of the norms), so the comparison sees every parameter do something.
  model.train();
  lra::optim::AdamWConfig oc;
  oc.lr = s.lr;
  lra::optim::AdamW opt(model.named_parameters(), oc);
  for (int step = 0; step < s.steps; ++step) {
    opt.zero_grad();
    lra::ops::cross_entropy(forward(), y).backward();
    opt.step(s.lr);
  }

  std::vector<std::pair<std::string, Tensor>> file;
  const auto params = model.named_parameters();
  for (const auto& p : params) file.emplace_back(p.name, p.tensor.detach().clone());
  for (const auto& b : model.named_buffers()) file.emplace_back(b.name, b.tensor.clone());

  opt.zero_grad();
  Tensor logits = forward();
  Tensor loss = lra::ops::cross_entropy(logits, y);
  loss.backward();
  for (const auto& b : model.named_buffers()) file.emplace_back("after/" + b.name, b.tensor.clone());
  file.emplace_back("out/logits", logits.detach().clone());
  file.emplace_back("out/loss", loss.detach().clone());
  for (const auto& p : params) {
    LRA_CHECK(p.tensor.grad().defined(), "parity_dump: parameter ", p.name, " got no gradient");
    file.emplace_back("grad/" + p.name, p.tensor.grad().clone());
  }
  {
    lra::autograd::NoGrad no_grad;
    model.eval();
    file.emplace_back("out/eval_logits", forward().clone());
  }

  const bool ids = c.input == lra::models::Input::Tokens;
  file.emplace_back(ids ? "input/ids" : "input/pixels", x1.input);
  if (x1.mask.defined()) file.emplace_back("input/mask", x1.mask);
  if (c.dual) {
    file.emplace_back(ids ? "input/ids2" : "input/pixels2", x2.input);
    if (x2.mask.defined()) file.emplace_back("input/mask2", x2.mask);
  }
  file.emplace_back("input/labels", y);

  std::map<std::string, std::string> meta;
  for (const auto& setting : lra::models::model_settings()) meta[setting.name] = setting.get(c);
  for (const TaskField& f : kTaskFields) meta[f.name] = std::to_string(c.*(f.field));
  meta["dual"] = c.dual ? "true" : "false";
  // The mixer's settings with its declared defaults, so the reference never restates a default.
  for (const auto& o : lra::models::find_mixer(c.model).options)
    meta["mixer." + o.key] = c.mixer.count(o.key) ? c.mixer.at(o.key) : o.default_value;
  meta["dump.batch"] = std::to_string(s.batch);
  meta["dump.length"] = std::to_string(s.length);
  meta["dump.steps"] = std::to_string(s.steps);
  meta["dump.seed"] = std::to_string(s.seed);
  meta["dump.dtype"] = s.dtype == lra::DType::F64 ? "f64" : "f32";
  lra::io::save_safetensors(out_path, file, meta);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity_dump: %s\n", e.what());
    return 1;
  }
}
