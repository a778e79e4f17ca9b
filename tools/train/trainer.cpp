// The shared training loop (see trainer.h).
#include "tools/train/trainer.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/io.h"
#include "engine/memory.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "models/backbone/backbone.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "ops/shape/shape_ops.h"
#include "tasks/common/denoise.h"
#include "tasks/common/png.h"
#include "tasks/image/image.h"


namespace lra::train {
namespace fs = std::filesystem;

// --- settings -------------------------------------------------------------------------------------

namespace {

int64_t parse_int(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  fail(str("setting ", key, " takes an integer, got '", v, "'"));
}

double parse_double(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  fail(str("setting ", key, " takes a number, got '", v, "'"));
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "off" || v == "no") return false;
  fail(str("setting ", key, " takes true or false, got '", v, "'"));
}

std::string fmt_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}

std::string one_of(const std::string& key, const std::string& v, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  fail(str("setting ", key, " must be one of ", list, ", got '", v, "'"));
}

std::string choices(std::initializer_list<const char*> allowed) {
  std::string t = "{";
  for (const char* a : allowed) t += (t.size() > 1 ? "|" : "") + std::string(a);
  return t + "}";
}

std::vector<Setting> make_settings() {
  std::vector<Setting> s;
#define LRA_INT(field, help)                                                                                \
  s.push_back({#field, help, "INT",                                                                     \
               [](TrainConfig& c, const std::string& v) { c.field = decltype(c.field)(parse_int(#field, v)); }, \
               [](const TrainConfig& c) { return std::to_string(c.field); }})
#define LRA_DOUBLE(field, help)                                                                             \
  s.push_back({#field, help, "FLOAT", [](TrainConfig& c, const std::string& v) { c.field = parse_double(#field, v); }, \
               [](const TrainConfig& c) { return fmt_double(c.field); }})
#define LRA_BOOL(field, help)                                                                               \
  s.push_back({#field, help, "BOOL", [](TrainConfig& c, const std::string& v) { c.field = parse_bool(#field, v); }, \
               [](const TrainConfig& c) { return std::string(c.field ? "true" : "false"); }})
#define LRA_STRING(field, help)                                                                             \
  s.push_back({#field, help, "TEXT", [](TrainConfig& c, const std::string& v) { c.field = v; },             \
               [](const TrainConfig& c) { return c.field; }})
#define LRA_CHOICE(field, help, ...)                                                                        \
  s.push_back({#field, help, choices({__VA_ARGS__}),                                                       \
               [](TrainConfig& c, const std::string& v) { c.field = one_of(#field, v, {__VA_ARGS__}); },    \
               [](const TrainConfig& c) { return c.field; }})
  // model
  LRA_STRING(model, "the sequence mixer (--list-models shows them)");
  LRA_INT(width, "model width D");
  LRA_INT(depth, "number of blocks");
  LRA_INT(heads, "attention heads (attention mixers)");
  LRA_INT(ffn, "feed-forward hidden width");
  LRA_INT(max_len, "sequence length (0: the task's; smaller truncates)");
  LRA_CHOICE(position, "position encoding", "none", "sinusoidal", "learned", "rotary", "rotary_full", "rotary_half");
  LRA_BOOL(cls_token, "prepend a CLS token");
  LRA_BOOL(prenorm, "normalise before each sublayer (false: after)");
  LRA_BOOL(final_norm, "pre-norm: a norm after the last block (false: none, as the locality-bias predecessor)");
  LRA_CHOICE(norm, "normalisation", "layer", "batch");
  LRA_CHOICE(activation, "feed-forward activation", "gelu", "relu");
  LRA_DOUBLE(dropout, "dropout rate");
  LRA_DOUBLE(attention_dropout, "dropout on attention weights");
  LRA_BOOL(attention_bias, "biases on the attention q/k/v and output projections (PyTorch nn.Linear style; LRA has none)");
  LRA_BOOL(tied_dropout, "one dropout mask per channel, shared over the sequence");
  LRA_CHOICE(pooling, "sequence pooling for the classifier", "cls", "masked_mean", "mean", "sum");
  LRA_INT(mlp_dim, "classifier hidden width (0: width)");
  LRA_INT(head_layers, "classifier: 0 = one Linear (S4's decoder), 1 = Linear-ReLU-Linear (retrieval: the LRA head)");
  LRA_CHOICE(interaction, "retrieval: how the two encodings meet", "concat", "nli");
  LRA_CHOICE(input, "tokens (embedding) or scalars (normalised pixels; image tasks)", "tokens", "scalars");
  // optimisation
  LRA_INT(steps, "training steps (0: use epochs)");
  LRA_DOUBLE(epochs, "training epochs, when steps is 0");
  LRA_INT(batch, "sequences per step");
  LRA_DOUBLE(lr, "peak learning rate (AdamW)");
  LRA_DOUBLE(weight_decay, "decoupled weight decay (never on the ssm group; see decay-all, decay-embeddings)");
  LRA_BOOL(decay_all, "weight decay on biases and norms too (the LRA code decays every parameter)");
  LRA_BOOL(decay_embeddings, "weight decay on embedding tables: ids, cls, learned positions (false: none)");
  LRA_DOUBLE(beta1, "AdamW beta1");
  LRA_DOUBLE(beta2, "AdamW beta2");
  LRA_DOUBLE(eps, "AdamW epsilon");
  LRA_DOUBLE(clip, "clip the global gradient norm to this (0: off)");
  LRA_STRING(schedule, "schedule spec, e.g. cosine:warmup=500 | rsqrt:warmup=1000 | constant | last10");
  s.push_back({"plateau",
               "ReduceLROnPlateau on the validation accuracy, times the schedule (patience counts evaluations): "
               "none | on | factor=0.2,patience=20[,threshold=1e-4,cooldown=0,min_lr=0,metric=acc|loss]",
               "TEXT",
               [](TrainConfig& c, const std::string& v) {
                 parse_plateau(v);  // a bad spec fails here, naming the key, not at the first evaluation
                 c.plateau = v.empty() ? "none" : v;
               },
               [](const TrainConfig& c) { return c.plateau; }});
  LRA_DOUBLE(ssm_lr, "learning rate of the ssm parameter group (0: the base lr); that group never gets weight decay");
  LRA_BOOL(augment, "the task's training augmentation");
  LRA_DOUBLE(denoise, "weight of the masked-token denoising loss (0: off; text and retrieval)");
  LRA_DOUBLE(denoise_rate, "fraction of tokens corrupted for denoising");
  // evaluation, logging, run
  LRA_INT(eval_every, "steps between validation evaluations");
  LRA_INT(eval_batches, "validation batches per evaluation (0: the whole split)");
  LRA_INT(test_batches, "test batches at the end (0: the whole split; a cap is a quick check, not a result)");
  LRA_INT(log_every, "steps between progress lines (one GPU sync each)");
  LRA_INT(save_every, "steps between last-checkpoint saves besides evaluations (0: none)");
  LRA_INT(seed, "seed for initialisation, data order, dropout and denoising");
  LRA_STRING(device, "auto (GPU if present), cpu or cuda");
  LRA_BOOL(tf32, "allow TF32 tensor-core matmuls on the GPU");
  LRA_STRING(out, "run directory (default runs/<task>-<model>)");
#undef LRA_INT
#undef LRA_DOUBLE
#undef LRA_BOOL
#undef LRA_STRING
#undef LRA_CHOICE
  return s;
}

std::string underscores(std::string k) {
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}
std::string dashes(std::string k) {
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

std::string json_string(const std::string& v) {
  std::string o = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (ch == '\n') {
      o += "\\n";
      continue;
    }
    o += ch;
  }
  return o + "\"";
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> s = make_settings();
  return s;
}

void apply_setting(TrainConfig& c, const std::string& assignment) {
  size_t eq = assignment.find('=');
  LRA_CHECK(eq != std::string::npos && eq > 0, "--set takes key=value, got '", assignment, "'");
  std::string key = underscores(assignment.substr(0, eq)), value = assignment.substr(eq + 1);
  if (key.rfind("mixer.", 0) == 0) {
    c.mixer[key.substr(6)] = value;
    return;
  }
  std::string known;
  for (const Setting& s : settings()) {
    if (s.name == key) {
      s.set(c, value);
      return;
    }
    known += (known.empty() ? "" : " ") + s.name;
  }
  fail(str("--set: unknown key '", key, "' (mixer settings are mixer.<key>=value; known keys: ", known, ")"));
}

std::string config_toml(const TrainConfig& c) {
  std::string t = "# Resolved settings of this run; train again with --config <this file>.\n";
  for (const Setting& s : settings()) t += dashes(s.name) + " = " + json_string(s.get(c)) + "\n";
  if (!c.mixer.empty()) {
    t += "mixer = [";
    bool first = true;
    for (const auto& [k, v] : c.mixer) {
      t += (first ? "" : ", ") + json_string(k + "=" + v);
      first = false;
    }
    t += "]\n";
  }
  return t;
}

std::string config_json(const TrainConfig& c) {
  std::string j = "{";
  bool first = true;
  for (const Setting& s : settings()) {
    j += (first ? "" : ", ") + json_string(s.name) + ": " + json_string(s.get(c));
    first = false;
  }
  j += ", \"mixer\": {";
  first = true;
  for (const auto& [k, v] : c.mixer) {
    j += (first ? "" : ", ") + json_string(k) + ": " + json_string(v);
    first = false;
  }
  return j + "}}";
}

double parse_duration(const std::string& text) {
  std::string t = text;
  double unit = 1;
  if (!t.empty()) {
    char u = t.back();
    if (u == 's' || u == 'm' || u == 'h') {
      unit = u == 's' ? 1 : u == 'm' ? 60 : 3600;
      t.pop_back();
    }
  }
  try {
    size_t used = 0;
    double x = std::stod(t, &used);
    if (used == t.size() && x >= 0) return x * unit;
  } catch (const std::exception&) {
  }
  fail(str("--time-limit: expected a duration like 90s, 5m or 1.5h, got '", text, "'"));
}

std::optional<optim::PlateauConfig> parse_plateau(const std::string& spec) {
  if (spec.empty() || spec == "none") return std::nullopt;
  optim::PlateauConfig p;
  p.maximize = true;  // validation accuracy unless metric=loss
  if (spec != "on") {
    const std::string keys = "factor, patience, threshold, cooldown, min_lr, metric";
    std::vector<std::string> seen;
    size_t pos = 0;
    while (pos <= spec.size()) {
      const size_t comma = std::min(spec.find(',', pos), spec.size());
      const std::string item = spec.substr(pos, comma - pos);
      pos = comma + 1;
      const size_t eq = item.find('=');
      LRA_CHECK(eq != std::string::npos && eq > 0, "setting plateau: expected none, on or key=value pairs, got '",
                item, "' in '", spec, "' (keys: ", keys, ")");
      const std::string key = item.substr(0, eq), v = item.substr(eq + 1);
      LRA_CHECK(std::find(seen.begin(), seen.end(), key) == seen.end(), "setting plateau: key '", key,
                "' is given twice in '", spec, "'");
      seen.push_back(key);
      if (key == "factor") p.factor = parse_double("plateau." + key, v);
      else if (key == "threshold") p.threshold = parse_double("plateau." + key, v);
      else if (key == "min_lr") p.min_lr = parse_double("plateau." + key, v);
      else if (key == "patience") p.patience = parse_int("plateau." + key, v);
      else if (key == "cooldown") p.cooldown = parse_int("plateau." + key, v);
      else if (key == "metric") p.maximize = one_of("plateau.metric", v, {"acc", "loss"}) == "acc";
      else fail(str("setting plateau: unknown key '", key, "' in '", spec, "' (keys: ", keys, ")"));
    }
  }
  try {
    optim::ReduceOnPlateau check(p);  // the engine's own range checks (factor in (0, 1), ...)
  } catch (const Error& e) {
    fail(str("setting plateau '", spec, "': ", e.what()));
  }
  return p;
}

std::unique_ptr<optim::AdamW> make_optimizer(const TrainConfig& c, std::vector<nn::NamedParameter> params) {
  optim::AdamWConfig oc;
  oc.lr = c.lr;
  oc.beta1 = c.beta1;
  oc.beta2 = c.beta2;
  oc.eps = c.eps;
  oc.weight_decay = c.weight_decay;
  oc.decay_norms_and_biases = c.decay_all;
  // SSM parameters (S4D's A, Δ, ...) never get weight decay; ssm_lr > 0 gives them their own rate.
  oc.groups.push_back({"ssm", c.ssm_lr > 0 ? c.ssm_lr / c.lr : 1.0, 0.0});
  if (!c.decay_embeddings) {
    // The optimizer knows groups, not kinds: embedding tables move to a group of their own with no decay.
    // Only those in the default group, so that a mixer's own group keeps its settings.
    for (nn::NamedParameter& p : params)
      if (p.kind == nn::ParamKind::Embedding && p.group == "default") p.group = "embedding";
    oc.groups.push_back({"embedding", 1.0, 0.0});
  }
  return std::make_unique<optim::AdamW>(params, oc);
}

// --- the loop --------------------------------------------------------------------------------------

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

// Installs the Ctrl-C handler for the lifetime of a run and restores the previous one after.
struct SigintGuard {
  void (*previous)(int);
  SigintGuard() : previous(std::signal(SIGINT, on_sigint)) { g_interrupted = 0; }
  ~SigintGuard() { std::signal(SIGINT, previous); }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The number after "key": in a one-line JSON object (metrics.jsonl lines we wrote ourselves).
bool json_number(const std::string& line, const std::string& key, double* out) {
  std::string pat = "\"" + key + "\": ";
  size_t p = line.find(pat);
  if (p == std::string::npos) return false;
  *out = std::strtod(line.c_str() + p + pat.size(), nullptr);
  return true;
}

struct Point {
  int64_t step;
  double loss, acc;
};

// The weight decay the optimizer applies to its parameter i (that of the segment holding its slot).
double segment_weight_decay(const optim::Optimizer& opt, size_t i) {
  const int64_t at = opt.slot_begin(i);
  const optim::Segments& segs = opt.segments();
  for (int k = 0; k < segs.count; ++k)
    if (segs.seg[k].begin <= at && at < segs.seg[k].end) return segs.seg[k].weight_decay;
  fail(str("optimizer: parameter ", opt.parameters()[i].name, " lies in no segment"));
}

// --- curves.png: loss (left) and accuracy (right), train in blue and validation in orange ----------
void draw_line(std::vector<uint8_t>& img, int W, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0)) + 1;
  for (int i = 0; i < n; ++i) {
    int x = x0 + (n == 1 ? 0 : (x1 - x0) * i / (n - 1));
    int y = y0 + (n == 1 ? 0 : (y1 - y0) * i / (n - 1));
    for (int dy = 0; dy < 2; ++dy) {
      size_t o = (size_t(y + dy) * size_t(W) + size_t(x)) * 3;
      if (o + 2 < img.size()) std::copy(rgb, rgb + 3, img.begin() + std::ptrdiff_t(o));
    }
  }
}

// A 5x7 bitmap font for the few characters the plot labels use (unknown characters draw as blanks).
void draw_text(std::vector<uint8_t>& img, int W, int x, int y, const std::string& text, const uint8_t rgb[3]) {
  struct Glyph {
    char ch;
    uint8_t rows[7];  // 5 bits each, most significant = leftmost
  };
  static const Glyph glyphs[] = {
      {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
      {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
      {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
      {'3', {0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e}},
      {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
      {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
      {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
      {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
      {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
      {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
      {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
      {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
      {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}},
      {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
      {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
      {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
      {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}},
      {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}},
      {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
      {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}},
      {'N', {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11}},
      {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
      {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}},
      {'R', {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}},
      {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}},
      {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
      {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
      {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}},
      {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}},
  };
  const int scale = 2;
  for (char ch : text) {
    for (const Glyph& g : glyphs) {
      if (g.ch != ch) continue;
      for (int r = 0; r < 7; ++r)
        for (int col = 0; col < 5; ++col)
          if (g.rows[r] >> (4 - col) & 1)
            for (int dy = 0; dy < scale; ++dy)
              for (int dx = 0; dx < scale; ++dx) {
                size_t o = (size_t(y + r * scale + dy) * size_t(W) + size_t(x + col * scale + dx)) * 3;
                if (o + 2 < img.size()) std::copy(rgb, rgb + 3, img.begin() + std::ptrdiff_t(o));
              }
    }
    x += 6 * scale;
  }
}

std::string upper_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  std::string t = buf;
  for (char& ch : t) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return t;
}

void write_curves(const std::string& path, const std::vector<Point>& train, const std::vector<Point>& val) {
  if (train.empty()) return;
  const int W = 960, H = 360, pad = 30, pw = W / 2 - 2 * pad, ph = H - 2 * pad;
  std::vector<uint8_t> img(size_t(W) * H * 3, 255);
  const uint8_t axis[3] = {0, 0, 0}, grid[3] = {225, 225, 225}, blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14};
  int64_t max_step = train.back().step;
  for (const Point& p : val) max_step = std::max(max_step, p.step);
  double max_loss = 0;
  for (const auto* series : {&train, &val})
    for (const Point& p : *series)
      if (std::isfinite(p.loss)) max_loss = std::max(max_loss, p.loss);
  if (max_loss <= 0) max_loss = 1;
  for (int panel = 0; panel < 2; ++panel) {
    int left = panel * (W / 2) + pad, top = pad;
    for (int g = 0; g <= 4; ++g) draw_line(img, W, left, top + ph * g / 4, left + pw, top + ph * g / 4, grid);
    draw_text(img, W, left, 6, panel == 0 ? "LOSS (0 - " + upper_number(max_loss) + ")" : "ACCURACY (0 - 1)", axis);
    draw_text(img, W, left + pw - 170, 6, "TRAIN", blue);
    draw_text(img, W, left + pw - 90, 6, "VAL", orange);
    draw_text(img, W, left + pw - 12 * int(upper_number(double(max_step)).size() + 5), top + ph + 6,
              "STEP " + upper_number(double(max_step)), axis);
    draw_line(img, W, left, top, left, top + ph, axis);
    draw_line(img, W, left, top + ph, left + pw, top + ph, axis);
    for (int s = 0; s < 2; ++s) {
      const std::vector<Point>& series = s == 0 ? train : val;
      int px = -1, py = -1;
      for (const Point& p : series) {
        double v = panel == 0 ? p.loss / max_loss : p.acc;
        if (!std::isfinite(v)) continue;
        v = std::clamp(v, 0.0, 1.0);
        int x = left + int(double(pw) * double(p.step) / double(std::max<int64_t>(1, max_step)));
        int y = top + ph - int(double(ph) * v);
        if (px >= 0) draw_line(img, W, px, py, x, y, s == 0 ? blue : orange);
        else draw_line(img, W, x, y, x, y, s == 0 ? blue : orange);
        px = x;
        py = y;
      }
    }
  }
  tasks::write_png_rgb(path, img.data(), H, W);
}

class Run {
 public:
  Run(const TaskSpec& task, const TrainConfig& c, const tasks::Dataset& data)
      : task_(task), c_(c), data_(data), info_(data.info) {}

  TrainResult go();

 private:
  Tensor input(const Tensor& ids) const {
    if (scalars_) return tasks::image::pixel_scalars(ids, norm_, device_);
    return ids.to(device_);
  }
  Tensor logits(const tasks::Batch& b, Generator& gen) {
    if (info_.pair)
      return model_->forward_pair(input(b.ids), b.mask.to(device_), input(b.ids2), b.mask2.to(device_), gen);
    return model_->forward(input(b.ids), b.mask.to(device_), gen);
  }
  struct Eval {
    double loss = 0, acc = 0;
    int64_t n = 0;
  };
  Eval evaluate(const std::string& split_name, int64_t max_batches);
  void save(const std::string& name, int64_t step);
  void log_json(const std::string& line);
  void restore_metrics(int64_t step);

  const TaskSpec& task_;
  TrainConfig c_;
  const tasks::Dataset& data_;
  tasks::TaskInfo info_;
  Device device_ = Device::CPU;
  bool scalars_ = false;
  tasks::image::Normalization norm_;
  std::unique_ptr<models::LraModel> model_;
  std::unique_ptr<optim::AdamW> opt_;
  std::optional<optim::ReduceOnPlateau> plateau_;  // the plateau setting; saved in checkpoint metadata
  std::string dir_;
  std::vector<Point> train_curve_, val_curve_;
  double best_acc_ = -1;
  int64_t best_step_ = 0;
  int64_t saved_step_ = -1;  // step of the newest last.safetensors
};

Run::Eval Run::evaluate(const std::string& split_name, int64_t max_batches) {
  autograd::NoGrad no_grad;
  model_->eval();
  tasks::LoaderOptions lo;
  lo.batch_size = c_.batch;
  // A capped evaluation takes a fixed random subset (splits are often sorted by label); a full one is in order.
  lo.shuffle = max_batches > 0;
  lo.drop_last = false;
  lo.epochs = 1;
  lo.seed = c_.seed;
  tasks::BatchLoader loader(data_.split(split_name), info_, lo);
  Generator unused(0);
  Eval e;
  double loss_sum = 0;
  int64_t correct = 0, batches = 0;
  while (auto b = loader.next()) {
    Tensor lg = logits(*b, unused);
    Tensor labels = b->labels.to(device_);
    int64_t n = b->labels.dim(0);
    loss_sum += ops::cross_entropy(lg, labels).item() * double(n);
    correct += ops::count_correct(lg, labels);
    e.n += n;
    if (max_batches > 0 && ++batches >= max_batches) break;
  }
  model_->train();
  LRA_CHECK(e.n > 0, "the ", split_name, " split is empty");
  e.loss = loss_sum / double(e.n);
  e.acc = double(correct) / double(e.n);
  return e;
}

void Run::save(const std::string& name, int64_t step) {
  Generator unused(c_.seed);
  std::map<std::string, std::string> meta = {{"best_val_acc", fmt_double(best_acc_)},
                                             {"best_step", std::to_string(best_step_)}};
  if (plateau_) meta["plateau"] = plateau_->state();
  io::save_checkpoint(dir_ + "/" + name, *model_, opt_.get(), step, unused, config_json(c_), meta);
  if (name == "last.safetensors") saved_step_ = step;
}

void Run::log_json(const std::string& line) {
  std::ofstream f(dir_ + "/metrics.jsonl", std::ios::app);
  f << line << "\n";
}

// On resume: keeps the metrics lines up to `step` (a crash may have logged past the checkpoint) and
// reloads the curves from them.
void Run::restore_metrics(int64_t step) {
  std::string path = dir_ + "/metrics.jsonl";
  std::ifstream in(path);
  std::vector<std::string> kept;
  std::string line;
  while (std::getline(in, line)) {
    double s = 0, loss = 0, acc = 0;
    if (!json_number(line, "step", &s) || int64_t(s) > step) continue;
    if (line.find("\"type\": \"test\"") != std::string::npos) continue;
    kept.push_back(line);
    json_number(line, "loss", &loss);
    json_number(line, "acc", &acc);
    if (line.find("\"type\": \"train\"") != std::string::npos) train_curve_.push_back({int64_t(s), loss, acc});
    if (line.find("\"type\": \"val\"") != std::string::npos) val_curve_.push_back({int64_t(s), loss, acc});
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& l : kept) out << l << "\n";
}

TrainResult Run::go() {
  TrainResult result;
  // --- check the settings against the task ---
  device_ = parse_device(c_.device);
  set_allow_tf32(c_.tf32);
  LRA_CHECK(c_.batch > 0, "batch must be positive, got ", c_.batch);
  LRA_CHECK(c_.eval_every > 0 && c_.log_every > 0, "eval_every and log_every must be positive");
  LRA_CHECK(c_.steps > 0 || c_.epochs > 0, "give --steps or --epochs");
  scalars_ = c_.input == "scalars";
  LRA_CHECK(!scalars_ || task_.pixels, "input=scalars needs a pixel task (image, pathfinder)");
  LRA_CHECK(c_.denoise <= 0 || task_.denoise_ok, "denoise is for the byte tasks (text, retrieval)");
  LRA_CHECK(c_.max_len >= 0, "max_len must be >= 0, got ", c_.max_len);
  if (c_.max_len > 0) info_.max_len = std::min(info_.max_len, c_.max_len);
  if (scalars_) {
    // Pathfinder: pixel/255 mapped to [-1, 1] as the S4 loaders do; image tasks: their dataset statistics.
    if (info_.name.rfind("pathfinder", 0) == 0) norm_ = {0.5f, 0.5f};
    else norm_ = tasks::image::normalization_for(info_);
  }
  const bool denoise = c_.denoise > 0;

  dir_ = c_.out;
  fs::create_directories(dir_);

  // --- model and optimizer (built after the move, as optim.h asks) ---
  models::ModelConfig mc;
  mc.model = c_.model;
  mc.vocab_size = scalars_ ? 0 : (denoise ? tasks::kDenoiseVocabSize : info_.vocab_size);
  mc.num_classes = info_.num_classes;
  mc.max_len = info_.max_len;
  mc.width = c_.width;
  mc.depth = c_.depth;
  mc.heads = c_.heads;
  mc.ffn = c_.ffn;
  mc.position = c_.position;
  mc.cls_token = c_.cls_token;
  mc.prenorm = c_.prenorm;
  mc.norm = c_.norm;
  mc.activation = c_.activation;
  mc.dropout = c_.dropout;
  mc.attention_dropout = c_.attention_dropout;
  mc.tied_dropout = c_.tied_dropout;
  mc.pooling = c_.pooling;
  mc.mlp_dim = c_.mlp_dim;
  mc.head_layers = c_.head_layers;
  mc.final_norm = c_.final_norm;
  mc.attention_bias = c_.attention_bias;
  mc.dual = info_.pair;
  mc.interaction = c_.interaction;
  mc.denoise_vocab = denoise ? tasks::kDenoiseVocabSize : 0;
  mc.extra = c_.mixer;
  Generator init(c_.seed);
  model_ = std::make_unique<models::LraModel>(mc, init);
  model_->to(device_);
  opt_ = make_optimizer(c_, model_->named_parameters());
  int64_t ssm_params = 0, decayed = 0, undecayed = 0;
  for (size_t i = 0; i < opt_->parameters().size(); ++i) {
    const nn::NamedParameter& p = opt_->parameters()[i];
    if (p.group == "ssm") ssm_params += p.tensor.numel();
    (segment_weight_decay(*opt_, i) > 0 ? decayed : undecayed) += p.tensor.numel();
  }
  if (auto pc = parse_plateau(c_.plateau)) plateau_.emplace(*pc);

  // --- data ---
  tasks::LoaderOptions lo;
  lo.batch_size = c_.batch;
  lo.seed = c_.seed;
  if (c_.augment) {
    LRA_CHECK(task_.augment != nullptr, "augment: ", task_.binary, " has no training augmentation");
    lo.augment = task_.augment(info_);
  }
  tasks::BatchLoader loader(data_.split("train"), info_, lo);
  LRA_CHECK(loader.batches_per_epoch() > 0, "the train split has fewer examples than one batch (", c_.batch, ")");
  const int64_t total = c_.steps > 0 ? c_.steps
                                     : std::max<int64_t>(1, int64_t(std::ceil(c_.epochs * double(loader.batches_per_epoch()))));
  optim::Schedule schedule = optim::parse_schedule(c_.schedule, c_.lr, total);

  // --- resume ---
  int64_t start = 0;
  const std::string last_path = dir_ + "/last.safetensors";
  if (c_.resume) {
    LRA_CHECK(fs::exists(last_path), "--resume: no checkpoint ", last_path, " to resume from");
    io::CheckpointInfo ci = io::load_checkpoint(last_path, *model_, opt_.get(), nullptr);
    start = ci.step;
    saved_step_ = start;
    if (ci.config != config_json(c_))
      std::printf("note: the settings differ from the checkpoint's (%s/config.toml is rewritten)\n", dir_.c_str());
    if (ci.metadata.count("best_val_acc")) best_acc_ = std::strtod(ci.metadata.at("best_val_acc").c_str(), nullptr);
    if (ci.metadata.count("best_step")) best_step_ = std::strtoll(ci.metadata.at("best_step").c_str(), nullptr, 10);
    // The plateau's best metric, bad-evaluation count and scale: without them a resumed run would start
    // its reductions over at scale 1.
    if (plateau_ && ci.metadata.count("plateau")) plateau_->load_state(ci.metadata.at("plateau"));
    else if (plateau_) std::printf("note: the checkpoint has no plateau state; the plateau starts afresh\n");
    restore_metrics(start);
    for (int64_t i = 0; i < start; ++i) LRA_CHECK(loader.next().has_value(), "data ended while replaying");
    std::printf("resumed from %s at step %lld\n", last_path.c_str(), (long long)start);
  } else {
    std::ofstream(dir_ + "/metrics.jsonl", std::ios::trunc);
  }
  std::ofstream(dir_ + "/config.toml") << config_toml(c_);
  std::ofstream(dir_ + "/config.json") << config_json(c_) << "\n";

  const bool gpu = device_ == Device::CUDA;
  std::printf("%s: %s on %s (%lld train / %lld val examples, length %d, %d classes)\n", task_.binary.c_str(),
              c_.model.c_str(), info_.name.c_str(), (long long)data_.split("train")->size(),
              (long long)data_.split("val")->size(), info_.max_len, info_.num_classes);
  std::printf("device %s | %lld parameters | batch %lld | %lld steps | schedule %s | seed %llu | run dir %s\n",
              device_name(device_), (long long)model_->num_parameters(), (long long)c_.batch, (long long)total,
              schedule.to_string().c_str(), (unsigned long long)c_.seed, dir_.c_str());
  if (ssm_params > 0)
    std::printf("parameter group ssm: %lld parameters, lr %s, no weight decay\n", (long long)ssm_params,
                c_.ssm_lr > 0 ? fmt_double(c_.ssm_lr).c_str() : "the base lr");
  if (c_.weight_decay > 0) {
    std::string spared = c_.decay_all ? "" : "biases, norms";
    if (!c_.decay_embeddings) spared += std::string(spared.empty() ? "" : ", ") + "embeddings";
    if (ssm_params > 0) spared += std::string(spared.empty() ? "" : ", ") + "the ssm group";
    std::printf("weight decay %s on %lld parameters, none on %lld%s\n", fmt_double(c_.weight_decay).c_str(),
                (long long)decayed, (long long)undecayed, spared.empty() ? "" : (" (" + spared + ")").c_str());
  }
  if (plateau_)
    std::printf("plateau: lr x %s after %lld evaluations in a row without a better validation %s (scale now %s)\n",
                fmt_double(plateau_->config().factor).c_str(), (long long)plateau_->config().patience + 1,
                plateau_->config().maximize ? "accuracy" : "loss", fmt_double(plateau_->scale()).c_str());
  std::fflush(stdout);

  SigintGuard sigint;
  const bool tty = isatty(fileno(stdout));
  const auto t0 = std::chrono::steady_clock::now();
  Tensor running;
  int64_t running_count = 0, last_log = start;
  // The rate of update s: the schedule's, times the plateau's scale when there is one.
  auto rate = [&](int64_t s) { return plateau_ ? plateau_->apply(schedule(s)) : schedule(s); };
  double lr = rate(start + 1);
  int64_t step = start;
  std::string stop_reason;
  for (step = start + 1; step <= total; ++step) {
    std::optional<tasks::Batch> b = loader.next();
    LRA_CHECK(b.has_value(), "the training data ended early");
    // Dropout and denoising draw from generators keyed by (seed, step): resuming needs no RNG state.
    Generator dropout(c_.seed + 2, uint64_t(step) << 32), corrupt(c_.seed + 3, uint64_t(step) << 32);
    opt_->zero_grad();
    Tensor lg = logits(*b, dropout);
    Tensor labels = b->labels.to(device_);
    Tensor loss = ops::cross_entropy(lg, labels);
    if (denoise) {
      tasks::DenoiseOptions dopt;
      dopt.rate = c_.denoise_rate;
      tasks::Denoised d = tasks::corrupt(b->ids, corrupt, dopt);
      Tensor enc = model_->encode(d.ids.to(device_), b->mask.to(device_), dropout);
      Tensor dl = model_->denoise_logits(enc);
      Tensor dloss = ops::cross_entropy(ops::reshape(dl, {-1, int64_t(tasks::kDenoiseVocabSize)}),
                                        ops::reshape(d.targets.to(device_), {-1}), tasks::kDenoiseIgnore);
      loss = ops::add(loss, ops::scale(dloss, c_.denoise));
    }
    loss.backward();
    if (c_.clip > 0) optim::clip_grad_norm(*opt_, c_.clip);
    lr = rate(step);
    opt_->step(lr);
    {
      autograd::NoGrad no_grad;
      if (!running.defined()) running = loss.detach().clone();
      else running.add_(loss.detach());
    }
    ++running_count;

    // Decided before logging, so the loss of the steps since the last log line is not lost.
    if (g_interrupted) stop_reason = "interrupted (Ctrl-C)";
    else if (c_.stop_after > 0 && step >= c_.stop_after) stop_reason = "stopped after step " + std::to_string(step);
    else if (c_.time_limit_s > 0 && seconds_since(t0) >= c_.time_limit_s) {
      stop_reason = "time limit reached";
      result.time_limit = true;
    }
    const bool last_step = step == total;
    const bool eval_step = step % c_.eval_every == 0 || last_step;
    const bool save_step = c_.save_every > 0 && step % c_.save_every == 0;
    // Every checkpoint is preceded by a log line, whose loss check keeps a NaN model from being saved.
    if (step % c_.log_every == 0 || eval_step || save_step || !stop_reason.empty()) {
      double mean = running.item() / double(running_count);  // the one sync per log line
      running = Tensor();
      running_count = 0;
      double acc = double(ops::count_correct(lg, labels)) / double(b->labels.dim(0));
      if (!std::isfinite(mean)) {
        fail(str("the training loss became ", mean, " between steps ", last_log + 1, " and ", step,
                 " (learning rate ", lr, "); go back to ",
                 saved_step_ >= 0 ? str(last_path, " (step ", saved_step_, ")") : std::string("the start (no checkpoint yet)"),
                 " and lower lr or clip"));
      }
      last_log = step;
      double secs = seconds_since(t0);
      double rate = double((step - start) * c_.batch) / std::max(secs, 1e-9);
      double eta = secs / double(step - start) * double(total - step);
      std::printf("%sstep %lld/%lld  loss %.4f  acc %5.1f%%  lr %.2e  %.0f seq/s  ETA %.0fs", tty ? "\r" : "",
                  (long long)step, (long long)total, mean, 100 * acc, lr, rate, eta);
      if (gpu) std::printf("  gpu %.0f MB", double(cuda_memory_stats().peak) / (1 << 20));
      std::printf(tty ? "   " : "\n");
      std::fflush(stdout);
      train_curve_.push_back({step, mean, acc});
      result.losses.push_back(mean);
      log_json(str("{\"type\": \"train\", \"step\": ", step, ", \"loss\": ", fmt_double(mean), ", \"acc\": ",
                   fmt_double(acc), ", \"lr\": ", fmt_double(lr), ", \"seq_per_s\": ", fmt_double(rate),
                   ", \"elapsed_s\": ", fmt_double(secs), "}"));
    }
    if (eval_step) {
      Eval v = evaluate("val", c_.eval_batches);
      LRA_CHECK(std::isfinite(v.loss), "the validation loss became ", v.loss, " at step ", step, " (learning rate ",
                lr, "); go back to ",
                saved_step_ >= 0 ? str(last_path, " (step ", saved_step_, ")") : std::string("the start (no checkpoint yet)"));
      val_curve_.push_back({step, v.loss, v.acc});
      bool best = v.acc > best_acc_;
      if (best) {
        best_acc_ = v.acc;
        best_step_ = step;
      }
      const bool reduced = plateau_ && plateau_->observe(plateau_->config().maximize ? v.acc : v.loss);
      std::printf("%sstep %lld  val loss %.4f  val acc %5.1f%%%s\n", tty ? "\n" : "", (long long)step, v.loss,
                  100 * v.acc, best ? "  (best)" : "");
      if (reduced)
        std::printf("plateau: no better validation %s for %lld evaluations; lr scale now %s\n",
                    plateau_->config().maximize ? "accuracy" : "loss", (long long)plateau_->config().patience + 1,
                    fmt_double(plateau_->scale()).c_str());
      std::fflush(stdout);
      log_json(str("{\"type\": \"val\", \"step\": ", step, ", \"loss\": ", fmt_double(v.loss), ", \"acc\": ",
                   fmt_double(v.acc), plateau_ ? ", \"lr_scale\": " + fmt_double(plateau_->scale()) : std::string(),
                   "}"));
      if (best) save("best.safetensors", step);
      save("last.safetensors", step);
    } else if (save_step) {
      save("last.safetensors", step);
    }
    if (!stop_reason.empty()) break;
  }
  if (step > total) step = total;
  result.steps = step;
  if (saved_step_ != step) save("last.safetensors", step);
  write_curves(dir_ + "/curves.png", train_curve_, val_curve_);
  if (tty) std::printf("\n");
  if (!stop_reason.empty() && !result.time_limit) {
    result.interrupted = true;
    std::printf("%s: checkpoint %s (step %lld); continue with --resume\n", stop_reason.c_str(), last_path.c_str(),
                (long long)step);
    return result;
  }
  if (result.time_limit) std::printf("time limit reached at step %lld\n", (long long)step);

  // --- test accuracy of the last and the best checkpoint ---
  if (best_step_ == 0 || !fs::exists(dir_ + "/best.safetensors")) {
    Eval v = evaluate("val", c_.eval_batches);
    best_acc_ = v.acc;
    best_step_ = step;
    save("best.safetensors", step);
  }
  result.best_val_acc = best_acc_;
  result.best_step = best_step_;
  result.test_acc_last = evaluate("test", c_.test_batches).acc;
  io::load_checkpoint(dir_ + "/best.safetensors", *model_, nullptr, nullptr);
  result.test_acc_best = evaluate("test", c_.test_batches).acc;
  log_json(str("{\"type\": \"test\", \"step\": ", step, ", \"checkpoint\": \"last\", \"acc\": ",
               fmt_double(result.test_acc_last), "}"));
  log_json(str("{\"type\": \"test\", \"step\": ", best_step_, ", \"checkpoint\": \"best\", \"acc\": ",
               fmt_double(result.test_acc_best), "}"));
  std::printf("test accuracy: last (step %lld) %.2f%% | best validation (step %lld, val %.2f%%) %.2f%%\n",
              (long long)step, 100 * result.test_acc_last, (long long)best_step_, 100 * best_acc_,
              100 * result.test_acc_best);
  std::printf("run dir %s: metrics.jsonl, config.toml, last.safetensors, best.safetensors, curves.png\n",
              dir_.c_str());
  return result;
}

}  // namespace

TrainResult train(const TaskSpec& task, const TrainConfig& config, const tasks::Dataset& data) {
  Run run(task, config, data);
  return run.go();
}

// --- the binary ------------------------------------------------------------------------------------

int run_main(const TaskSpec& task, int argc, char** argv) {
  TrainConfig c;
  if (task.defaults) task.defaults(c);
  const TrainConfig defaults = c;
  CLI::App app{task.description +
               "\n\nEvery setting is a flag (--width 128), a key of a TOML --config file (width = 128) and a"
               "\n--set key (--set width=128, applied last). Examples:\n  " +
               task.binary + " --generate --steps 200 --device cpu --out runs/try\n  " + task.binary +
               " --data DIR --config configs/<task>/transformer.toml --set lr=5e-4\n"};
  app.set_config("--config", "", "TOML file of settings (see configs/<task>/*.toml)");
  // A key of --config that is no flag (a typo such as "widht") is an error naming it, not silently ignored.
  app.allow_config_extras(CLI::config_extras_mode::error);
  DataSource src;
  std::vector<std::string> sets, mixer;
  std::string time_limit;
  bool list = false;
  app.add_option("--data", src.dir, task.data_help)->group("Data");
  app.add_flag("--generate", src.generate, task.generate_help)->group("Data");
  app.add_option("--set", sets, "key=value overrides, applied after flags and --config")->group("Run");
  app.add_option("--mixer", mixer,
                 "mixer settings key=value (passed to the mixer; --list-models shows each mixer's keys, any other "
                 "key is an error)")
      ->group("Settings");
  app.add_flag("--resume", c.resume, "continue from RUN_DIR/last.safetensors")->group("Run");
  app.add_option("--time-limit", time_limit, "stop after this wall-clock time (90s, 5m, 1.5h) and test")->group("Run");
  app.add_option("--stop-after", c.stop_after, "stop as if interrupted after this step (for testing --resume)")
      ->group("Run");
  app.add_flag("--list-models", list, "print the registered models with their mixer keys and exit");
  for (const Setting& s : settings()) {
    bool model = s.name == "model" || s.name == "steps" || s.name == "epochs" || s.name == "seed" ||
                 s.name == "device" || s.name == "out";
    const Setting* sp = &s;
    app.add_option_function<std::string>("--" + dashes(s.name), [&c, sp](const std::string& v) { sp->set(c, v); },
                                         s.help)
        ->type_name(s.type)
        ->default_str(s.get(defaults))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->group(model ? "Run" : "Settings");
  }
  if (task.add_flags) task.add_flags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", task.binary.c_str(), e.what());
    return 2;
  }
  try {
    if (list) {
      std::printf("%s", models::list_models().c_str());
      return 0;
    }
    // The mixer list (from --mixer or the config file) first, so that --set mixer.<key>=... wins, as --set does.
    for (const std::string& m : mixer) apply_setting(c, "mixer." + m);
    for (const std::string& s : sets) apply_setting(c, s);
    if (!time_limit.empty()) c.time_limit_s = parse_duration(time_limit);
    LRA_CHECK(src.generate != !src.dir.empty(), "give either --data DIR (", task.data_help,
              ") or --generate (offline data)");
    if (c.out.empty()) c.out = "runs/" + task.binary.substr(task.binary.find('-') + 1) + "-" + c.model;
    tasks::Dataset data;
    if (src.generate) {
      LRA_CHECK(task.generate != nullptr, task.binary, " cannot generate offline data; give --data DIR");
      data = task.generate(c.out + "/data", c.seed);
    } else {
      data = task.load(src.dir);
    }
    TrainResult r = train(task, c, data);
    return r.interrupted ? 130 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", task.binary.c_str(), e.what());
    return 1;
  }
}

}  // namespace lra::train
