// bench_train: the speed and memory of whole training steps (forward, cross-entropy, backward, AdamW)
// of the LRA backbone, in the configurations of ../shared/bench/torch_reference.py, printing the same
// JSON line per configuration so tools/bench/compare_train.py can put the two side by side.
//
// The architectures, built with models/backbone (ModelConfig + the mixer registry):
//   rotary_transformer_*: model rotary_transformer, rotary per head (its default; base 10000, consecutive
//     channel pairs: ops/rope), pre-norm LayerNorm blocks, ReLU FFN, final LayerNorm, mean over all
//     positions, dropout 0.
//   s4d_*: model s4d (N = 64: N/2 complex modes, ZOH, D skip, unidirectional FFT convolution, GELU,
//     Linear d→2d, GLU), ffn 0 (the block is pre-LN → S4D → residual), final LayerNorm, mean, dropout 0.
// Matching torch_reference.py: the classifier is one Linear (head_layers = 0) and the attention
// projections have biases (the attention mixers' attention_bias = true); the batch carries no padding mask, so the mixers
// skip masking as torch does. What still differs, printed in each JSON line's "differs" ("params"
// shows the count): LayerNorm eps is 1e-6 (flax, the LRA code) where torch uses 1e-5 (no cost
// difference).
//   AdamW decays every parameter by 0.05 at lr 1e-4, as torch.optim.AdamW does over model.parameters().
//
// Timing, as torch_reference.py does: the same random batch every step (tokens 1..vocab−1, labels
// 0..classes−1), --warmup steps (3), then the median of --steps separately timed steps, each bracketed by
// CUDA events on the engine stream and synchronised (engine/bench.h; a steady clock on the CPU). The peak
// is the caching allocator's peak of live bytes (engine/memory.h, rounded to its size classes) since a
// reset right after the warm-up, as torch's max_memory_allocated after reset_peak_memory_stats().
//
// lra_text, the generic row: the LRA text shape scaled to the 2-core CPU (vocab 257, width 128, depth 2,
// FFN 256, batch 2, length 1024 unless overridden) for any registered mixer (--model NAME, --mixer k=v):
// the declared `heads` is set to 4 and every declared *dropout key to 0; the PyTorch side is the parity
// oracle's model of the same settings (tools/bench/torch_speed.py), and lra-speed
// (tools/bench/lra_speed.cpp) runs both, interleaved, into the tables of docs/benchmarks.md.
//
// Memory: peak_gpu_MB is the caching allocator's peak on the GPU; peak_host_MB (every device) is the
// anonymous resident memory's peak over the timed steps (VmHWM, reset through /proc/self/clear_refs after
// the warm-up, less the file-backed and shared pages — the libraries' code) above its level right after
// the model is built: the optimizer state, gradients, activations and workspace of a step, as the
// operating system sees them, measured the same way for PyTorch by torch_speed.py.
//
// --profile FILE (markdown, "-" for stdout): after the timed steps, --profile-steps more steps with marks
// (CUDA events / clock readings) between the phases (zero_grad, forward + loss, backward, AdamW), at every
// tape record in the forward (autograd::set_record_observer: an op records right after computing its
// output, so the interval since the previous record is that op's forward, plus any view or no-grad work
// before it), and around every tape node's backward function: both directions break down by op. Marks
// between consecutive GPU events include any idle time while the host
// launches kernels: a launch-bound op shows up as slow, which is what it costs.
//
//   bench_train --device cuda --tf32 --config s4d_listops --steps 20 > lra.jsonl
//   bench_train --device cpu --config s4d_listops --batch 2 --length 64 --depth 1 --steps 2   (a smoke test)
//   bench_train --device cpu --model local --mixer block=64 --length 2048 --steps 3
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/autograd.h"
#include "engine/base.h"
#include "engine/bench.h"
#include "engine/memory.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/settings.h"
#include "models/backbone/backbone.h"
#include "ops/loss/loss.h"

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#endif

using namespace lra;

namespace {

// One row of torch_reference.py's CONFIGS table, same names and numbers.
struct BenchConfig {
  const char* name;
  const char* model;  // rotary_transformer | s4d | "" (any registered mixer, named by --model)
  int vocab, width, depth, heads, ffn, batch, length, classes;
};

constexpr BenchConfig kConfigs[] = {
    {"rotary_transformer_listops", "rotary_transformer", 20, 256, 6, 4, 512, 64, 2000, 10},
    {"s4d_listops", "s4d", 20, 256, 6, 0, 0, 64, 2000, 10},
    {"rotary_transformer_text4k", "rotary_transformer", 257, 256, 8, 4, 512, 16, 4096, 2},
    {"s4d_text4k", "s4d", 257, 256, 6, 0, 0, 16, 4096, 2},
    {"rotary_transformer_pathfinder", "rotary_transformer", 256, 128, 6, 4, 256, 128, 1024, 2},
    {"s4d_pathx", "s4d", 256, 256, 6, 0, 0, 16, 16384, 2},
    // The LRA text shape scaled to the 2-core CPU, for every mixer (--model), beside the parity oracle's
    // PyTorch model of the same settings (tools/bench/torch_speed.py, driven by lra-speed).
    {"lra_text", "", 257, 128, 2, 4, 256, 2, 1024, 2},
};
constexpr double kLr = 1e-4, kWeightDecay = 0.05;  // torch_reference.py's AdamW
constexpr int kSsmN = 64;                            // its S4DBlock(d, N=64)

const BenchConfig& find_config(const std::string& name) {
  std::string names;
  for (const BenchConfig& c : kConfigs) {
    if (name == c.name) return c;
    names += std::string(names.empty() ? "" : ", ") + c.name;
  }
  fail(str("--config '", name, "' is not one of ", names));
}

// Command-line shrinking of a configuration (0 = keep), so the CPU can run the same code path.
struct Overrides {
  int batch = 0, length = 0, width = 0, depth = 0, heads = 0, ffn = 0;
};

// What still differs from torch_reference.py's model once the head is one Linear (head_layers 0) and
// the attention projections have biases (attention_bias), as model_config() sets them.
std::string differences_from_torch(const BenchConfig& b, const models::ModelConfig& c) {
  if (*b.model == '\0') return "";  // the PyTorch side is the parity oracle built from these very settings
  std::string d = "LayerNorm eps 1e-6 (torch 1e-5)";
  if (c.head_layers != 0) d += "; head Linear-ReLU-Linear (torch one Linear)";
  auto bias = c.mixer.find("attention_bias");
  if (c.model != "s4d" && (bias == c.mixer.end() || bias->second != "true")) d += "; no q/k/v/out biases (torch has them)";
  return d;
}

// The model settings of a configuration, through the same settings the trainer reads (models/config.h):
// what a user would write in a config file.
//
// The generic configuration (model "") takes the mixer from --model, sets its declared `heads` to the
// row's heads and every declared key ending in "dropout" to 0, then applies --mixer key=value.
models::ModelConfig model_config(const BenchConfig& b, const Overrides& o, const std::string& model_name,
                                 const std::vector<std::string>& mixer_settings) {
  const bool generic = *b.model == '\0';
  LRA_CHECK(!generic || !model_name.empty(), "bench_train: --config ", b.name, " needs --model NAME (--list-models)");
  LRA_CHECK(generic || model_name.empty(), "bench_train: --model is for the generic configuration lra_text; ",
            b.name, " is a fixed ", b.model, " model");
  LRA_CHECK(generic || mixer_settings.empty(), "bench_train: --mixer is for the generic configuration lra_text");
  const std::string name = generic ? model_name : std::string(b.model);
  const bool attention = name == "rotary_transformer";
  models::ModelConfig c;
  const std::vector<std::string> assignments = {
      str("model=", name), str("width=", o.width > 0 ? o.width : b.width),
      str("depth=", o.depth > 0 ? o.depth : b.depth),
      str("ffn=", o.ffn > 0 ? o.ffn : b.ffn),  // 0 for s4d: the block is norm → mixer → residual
      "position=none", "cls_token=false", "prenorm=true", "norm=layer", "activation=relu", "dropout=0",
      "pooling=mean", "mlp_dim=0",
      "head_layers=0",  // torch_reference's classifier is one Linear
  };
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    const auto* s = settings::find(models::model_settings(), a.substr(0, eq));
    LRA_CHECK(s != nullptr, "bench_train: no model setting ", a);
    s->set(c, a.substr(eq + 1));
  }
  if (generic) {
    for (const models::OptionInfo& info : models::find_mixer(name).options) {
      if (info.key == "heads") c.mixer[info.key] = std::to_string(o.heads > 0 ? o.heads : b.heads);
      const std::string tail = "dropout";
      if (info.key.size() >= tail.size() && info.key.compare(info.key.size() - tail.size(), tail.size(), tail) == 0)
        c.mixer[info.key] = "0";
    }
    for (const std::string& a : mixer_settings) {
      const size_t eq = a.find('=');
      LRA_CHECK(eq != std::string::npos && eq > 0, "bench_train: --mixer takes key=value, got '", a, "'");
      c.mixer[a.substr(0, eq)] = a.substr(eq + 1);
    }
  } else if (attention) {
    // rotary per head, base 10000, and biased projections as torch_reference's attention has them
    c.mixer = {{"heads", std::to_string(b.heads)}, {"rotary", "head"}, {"attention_dropout", "0"},
               {"attention_bias", "true"}};
  } else {
    c.mixer = {{"ssm_n", std::to_string(kSsmN)}};
  }
  c.vocab_size = b.vocab;
  c.num_classes = b.classes;
  c.max_len = o.length > 0 ? o.length : b.length;
  return c;
}

// Points on the device's timeline: CUDA events recorded on the engine stream on the GPU, steady-clock
// readings on the CPU (whose ops run synchronously). Read them only after synchronize().
class Marks {
 public:
  explicit Marks(Device device) : gpu_(device == Device::CUDA) {}
  Marks(const Marks&) = delete;
  Marks& operator=(const Marks&) = delete;
  ~Marks() {
#if LRA_WITH_CUDA
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
#endif
  }

  int mark() {
    const int i = used_++;
    if (gpu_) {
#if LRA_WITH_CUDA
      if (size_t(i) == events_.size()) {
        cudaEvent_t e;
        LRA_CUDA_CHECK(cudaEventCreate(&e));
        events_.push_back(e);
      }
      LRA_CUDA_CHECK(cudaEventRecord(events_[size_t(i)], cuda::stream()));
#else
      fail("CUDA marks in a CPU-only build");
#endif
    } else {
      if (size_t(i) == clock_.size()) clock_.emplace_back();
      clock_[size_t(i)] = std::chrono::steady_clock::now();
    }
    return i;
  }

  double ms(int from, int to) const {
    if (gpu_) {
#if LRA_WITH_CUDA
      float t = 0;
      LRA_CUDA_CHECK(cudaEventElapsedTime(&t, events_[size_t(from)], events_[size_t(to)]));
      return double(t);
#endif
    }
    return std::chrono::duration<double, std::milli>(clock_[size_t(to)] - clock_[size_t(from)]).count();
  }

  void reuse() { used_ = 0; }  // the events are recycled for the next profiled step

 private:
  bool gpu_;
  int used_ = 0;
#if LRA_WITH_CUDA
  std::vector<cudaEvent_t> events_;
#endif
  std::vector<std::chrono::steady_clock::time_point> clock_;
};

struct NodeSpan {
  const char* name;
  int from, to;
};

// Brackets the backward function of every tape node reachable from `root` with two marks. The tape's
// nodes and their std::function are public (engine/autograd.h), so this needs no hook in the engine;
// backward() then runs the wrappers in its usual order and drops them with the graph.
void instrument_backward(const Tensor& root, Marks& marks, std::vector<NodeSpan>& spans) {
  std::vector<autograd::Node*> stack;
  std::unordered_set<autograd::Node*> seen;
  if (root.grad_fn()) stack.push_back(root.grad_fn().get());
  while (!stack.empty()) {
    autograd::Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    autograd::BackwardFn inner = std::move(n->backward);
    n->backward = [inner = std::move(inner), name = n->name, &marks, &spans](const Tensor& g) {
      const int from = marks.mark();
      std::vector<Tensor> grads = inner(g);
      spans.push_back({name, from, marks.mark()});
      return grads;
    };
    for (const Tensor& in : n->inputs)
      if (in.defined() && in.grad_fn()) stack.push_back(in.grad_fn().get());
  }
}

std::string fixed(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

double round_to(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

// Resident memory of this process from /proc/self/status, in KiB: field "VmRSS:" (now) or "VmHWM:" (the
// peak). 0 where /proc is missing.
int64_t proc_status_kib(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = field;
  while (std::getline(f, line))
    if (line.compare(0, key.size(), key) == 0) return std::stoll(line.substr(key.size()));
  return 0;
}

// Makes VmHWM start again from the current resident set (Linux: "5" to /proc/self/clear_refs), so the
// peak read later is the peak since now. Returns false where the kernel refuses; the peak then counts
// from the process start, which for this tool is at most the model build, below the baseline anyway.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

struct Options {
  std::string model;                        // the mixer of the generic configuration
  std::vector<std::string> mixer_settings;  // key=value for it
  std::vector<std::string> configs;
  std::string device = "auto";
  int steps = 10, warmup = 3;
  bool tf32 = false;
  Overrides shrink;
  uint64_t seed = 0;
  std::string profile;  // markdown destination ("" = no profile, "-" = stdout)
  int profile_steps = 3;
};

// Benchmarks one configuration; returns its JSON line and appends its profile to `profile` when asked.
nlohmann::ordered_json run_config(const BenchConfig& b, const Options& opt, Device device, std::string& profile) {
  const models::ModelConfig mc = model_config(b, opt.shrink, opt.model, opt.mixer_settings);
  const int64_t B = opt.shrink.batch > 0 ? opt.shrink.batch : b.batch, L = mc.max_len;
  const bool gpu = device == Device::CUDA;

  Generator init(opt.seed);
  models::LraModel model(mc, init);
  model.to(device);
  // Host memory of the steps: the resident set's peak above what the model alone holds, measured from
  // here (before the optimizer's state, as torch_speed.py measures PyTorch's, whose AdamW state
  // appears at its first step); the peak itself is taken over the timed steps (reset after the warm-up).
  const int64_t rss_base_kib = proc_status_kib("RssAnon:");
  optim::AdamWConfig oc;
  oc.lr = kLr;
  oc.weight_decay = kWeightDecay;
  oc.decay_norms_and_biases = true;  // torch.optim.AdamW(model.parameters(), weight_decay=0.05) decays all
  optim::AdamW adamw(model.named_parameters(), oc);

  // One random batch, reused every step (as torch_reference.py does): tokens 1..vocab−1, no padding.
  Generator data(opt.seed + 1);
  std::vector<int32_t> ids(static_cast<size_t>(B * L)), labels(static_cast<size_t>(B));
  for (int32_t& t : ids) t = int32_t(1 + data.below(uint32_t(b.vocab - 1)));
  for (int32_t& y : labels) y = int32_t(data.below(uint32_t(b.classes)));
  const Tensor x = Tensor::from_vector(ids, {B, L}).to(device);
  const Tensor y = Tensor::from_vector(labels, {B}).to(device);
  Generator dropout(opt.seed + 2);  // dropout is 0: never drawn from

  auto step = [&](int) {
    adamw.zero_grad();
    Tensor loss = ops::cross_entropy(model.forward(x, Tensor(), dropout), y);
    loss.backward();
    adamw.step(kLr);
  };

  for (int i = 0; i < opt.warmup; ++i) step(i);
  synchronize();
  // The host peak counts over the timed steps (as torch_speed.py's, whose warm-up may be torch.compile
  // at work), above the baseline taken before the optimizer existed.
  const bool peak_reset = reset_peak_rss();
  if (gpu) reset_cuda_peak_memory();  // the CUDA calls only when on the GPU: a CUDA build may run on a GPU-less host
  const bench::Timing t = bench::time(device, step, 0, opt.steps);
  const double peak_mb = gpu ? double(cuda_memory_stats().peak) / double(1 << 20) : 0.0;
  // The anonymous part of the peak (torch_speed.py's formula): VmHWM less the file-backed and shared pages
  // resident now (code), less the anonymous baseline.
  const double host_peak_mb =
      double(proc_status_kib("VmHWM:") - proc_status_kib("RssFile:") - proc_status_kib("RssShmem:") - rss_base_kib) /
      1024.0;

  nlohmann::ordered_json j;
  j["impl"] = "lra-engine";
  j["config"] = b.name;
  j["model"] = mc.model;
  j["precision"] = allow_tf32() ? "tf32" : "fp32";
  j["batch"] = B;
  j["length"] = L;
  j["ms_per_step"] = round_to(t.median_ms, 3);
  j["seq_per_s"] = round_to(double(B) / t.median_ms * 1e3, 1);
  j["peak_gpu_MB"] = gpu ? nlohmann::ordered_json(round_to(peak_mb, 1)) : nlohmann::ordered_json(nullptr);
  j["peak_host_MB"] = round_to(host_peak_mb, 1);
  if (!peak_reset) j["peak_host_note"] = "clear_refs refused: peak since process start";
  j["params"] = model.num_parameters();
  j["mixer"] = mc.mixer;  // the resolved mixer settings, which torch_speed.py builds its model from
  nlohmann::ordered_json ms;  // every model setting as the trainer prints it (parity_dump's metadata form)
  for (const auto& setting : models::model_settings()) ms[setting.name] = setting.get(mc);
  j["model_settings"] = ms;
  j["differs"] = differences_from_torch(b, mc);
  j["gpu"] = gpu ? cuda_device_name() : std::string("none (cpu)");
  j["device"] = device_name(device);
  j["steps"] = opt.steps;
  j["min_ms"] = round_to(t.min_ms, 3);
  j["max_ms"] = round_to(t.max_ms, 3);
  const bool shrunk = opt.shrink.batch > 0 || opt.shrink.length > 0 || opt.shrink.width > 0 || opt.shrink.depth > 0 ||
                      opt.shrink.heads > 0 || opt.shrink.ffn > 0;
  if (shrunk && *b.model) j["shrunk"] = str("width ", mc.width, ", depth ", mc.depth, " (not the table's shape)");

  if (!opt.profile.empty()) {
    // Phase marks per step: 0 start, 1 after zero_grad, 2 after forward + loss, [instrumenting: host
    // only, not counted], 3 before backward, 4 after backward, 5 after AdamW.
    Marks marks(device);
    std::map<std::string, std::pair<double, int>> by_op;  // name -> (ms, calls) over all profiled steps
    std::map<std::string, std::pair<double, int>> fwd_by_op;  // the forward's, the same way
    double phase[4] = {0, 0, 0, 0}, nodes_ms = 0, fwd_nodes_ms = 0;
    for (int s = 0; s < opt.profile_steps; ++s) {
      marks.reuse();
      std::vector<NodeSpan> spans, fwd_spans;
      const int m0 = marks.mark();
      adamw.zero_grad();
      const int m1 = marks.mark();
      // The forward by op: an interval ends at each tape record and belongs to the op recorded.
      int last = m1;
      autograd::RecordObserver on_record = [&](const char* name) {
        const int now = marks.mark();
        fwd_spans.push_back({name, last, now});
        last = now;
      };
      autograd::RecordObserver* previous = autograd::set_record_observer(&on_record);
      Tensor loss = ops::cross_entropy(model.forward(x, Tensor(), dropout), y);
      autograd::set_record_observer(previous);
      const int m2 = marks.mark();
      instrument_backward(loss, marks, spans);
      const int m3 = marks.mark();
      loss.backward();
      const int m4 = marks.mark();
      adamw.step(kLr);
      const int m5 = marks.mark();
      synchronize();
      phase[0] += marks.ms(m0, m1);
      phase[1] += marks.ms(m1, m2);
      phase[2] += marks.ms(m3, m4);
      phase[3] += marks.ms(m4, m5);
      for (const NodeSpan& sp : spans) {
        const double ms = marks.ms(sp.from, sp.to);
        by_op[sp.name].first += ms;
        by_op[sp.name].second += 1;
        nodes_ms += ms;
      }
      for (const NodeSpan& sp : fwd_spans) {
        const double ms = marks.ms(sp.from, sp.to);
        fwd_by_op[sp.name].first += ms;
        fwd_by_op[sp.name].second += 1;
        fwd_nodes_ms += ms;
      }
    }
    const double n = double(opt.profile_steps);
    const double total = (phase[0] + phase[1] + phase[2] + phase[3]) / n;
    std::ostringstream o;
    o << "### " << b.name << ", " << j["precision"].get<std::string>() << ", " << device_name(device) << " ("
      << j["gpu"].get<std::string>() << "), batch " << B << ", length " << L << "\n\n"
      << "Timed median " << fixed(t.median_ms, 2) << " ms/step; " << opt.profile_steps
      << " profiled steps (marks between phases, at every tape record in the forward and around every tape node's "
         "backward), mean per step:\n\n"
      << "| phase | ms/step | share |\n|---|---:|---:|\n";
    const char* names[4] = {"zero_grad", "forward + loss", "backward", "AdamW step"};
    for (int i = 0; i < 4; ++i)
      o << "| " << names[i] << " | " << fixed(phase[i] / n, 3) << " | " << fixed(100 * phase[i] / n / total, 1)
        << "% |\n";
    o << "| total | " << fixed(total, 3) << " | 100% |\n\n";
    // One table per direction: ops by time, then what no node accounts for.
    auto by_op_table = [&](const std::map<std::string, std::pair<double, int>>& m, double phase_ms, double in_nodes,
                           const char* title, const char* share, const char* outside_label) {
      std::vector<std::pair<std::string, std::pair<double, int>>> ops(m.begin(), m.end());
      std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& c) { return a.second.first > c.second.first; });
      o << title << "\n\n| op | calls/step | ms/step | " << share << " |\n|---|---:|---:|---:|\n";
      for (const auto& [name, v] : ops)
        o << "| " << name << " | " << fixed(v.second / n, 0) << " | " << fixed(v.first / n, 3) << " | "
          << fixed(100 * v.first / n / phase_ms, 1) << "% |\n";
      const double outside = phase_ms - in_nodes / n;
      o << "| " << outside_label << " | | " << fixed(outside, 3) << " | " << fixed(100 * outside / phase_ms, 1)
        << "% |\n\n";
    };
    by_op_table(fwd_by_op, phase[1] / n, fwd_nodes_ms,
                "Forward + loss by op (the time from one tape record to the next, charged to the op recorded; "
                "views and no-grad work count towards the next op):",
                "share of forward", "(after the last record)");
    by_op_table(by_op, phase[2] / n, nodes_ms, "Backward by tape node (op):", "share of backward",
                "(outside nodes: gradient sums, leaf accumulation)");
    profile += o.str();
  }
  return j;
}

int run(const Options& opt) {
  const Device device = parse_device(opt.device);
  LRA_CHECK(!opt.tf32 || device == Device::CUDA, "--tf32 needs --device cuda (TF32 is a GPU matmul mode)");
  set_allow_tf32(opt.tf32);
  std::vector<std::string> names = opt.configs;
  if (names.empty())
    for (const BenchConfig& c : kConfigs) names.push_back(c.name);
  for (const std::string& n : names) find_config(n);  // every name checked before the first run
  if (opt.configs.empty() && !opt.model.empty()) names = {"lra_text"};  // --model alone: the generic row
  if (opt.configs.empty() && opt.model.empty())
    names.erase(std::remove(names.begin(), names.end(), std::string("lra_text")), names.end());

  int status = 0;
  std::string profile;
  for (const std::string& n : names) {
    const BenchConfig& b = find_config(n);
    nlohmann::ordered_json j;
    try {
      j = run_config(b, opt, device, profile);
    } catch (const std::exception& e) {  // e.g. out of memory: report it in the table's place, go on
      std::string what = e.what();
      j = nlohmann::ordered_json();
      j["impl"] = "lra-engine";
      j["config"] = b.name;
      if (!opt.model.empty()) j["model"] = opt.model;
      j["precision"] = opt.tf32 ? "tf32" : "fp32";
      j["error"] = what.substr(0, what.find('\n')).substr(0, 300);
      status = 1;
    }
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    if (device == Device::CUDA) empty_cuda_cache();  // the next configuration starts from an empty cache
  }
  if (!opt.profile.empty()) {
    if (opt.profile == "-") {
      std::printf("%s", profile.c_str());
    } else {
      std::ofstream f(opt.profile);
      LRA_CHECK(f.good(), "cannot write --profile ", opt.profile);
      f << profile;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_train: median training-step time, sequences/s and peak GPU memory of the LRA backbone in\n"
               "torch_reference.py's configurations; one JSON line each (tools/bench/compare_train.py)"};
  Options opt;
  bool list = false;
  app.add_option("--config", opt.configs,
                 "configuration name (repeatable; default: all of torch_reference.py's, or lra_text with --model)");
  app.add_option("--model", opt.model, "the mixer of the generic configuration lra_text (any of --list-models)");
  app.add_option("--mixer", opt.mixer_settings, "key=value mixer setting for --model (repeatable)");
  app.add_option("--steps", opt.steps, "timed steps (median reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", opt.warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--tf32", opt.tf32, "allow TF32 tensor-core matmuls (precision tf32)");
  app.add_option("--device", opt.device, "auto, cpu or cuda")->capture_default_str();
  app.add_option("--seed", opt.seed, "initialisation and data seed")->capture_default_str();
  app.add_option("--batch", opt.shrink.batch, "override the configuration's batch (a smaller smoke test)");
  app.add_option("--length", opt.shrink.length, "override the sequence length");
  app.add_option("--width", opt.shrink.width, "override the width");
  app.add_option("--depth", opt.shrink.depth, "override the depth");
  app.add_option("--heads", opt.shrink.heads, "override the heads of the generic row's mixer (lra_text)");
  app.add_option("--ffn", opt.shrink.ffn, "override the FFN width (0: keep the configuration's)");
  app.add_option("--profile", opt.profile, "write a per-phase and per-op (forward and backward) markdown profile to FILE ('-': stdout)");
  app.add_option("--profile-steps", opt.profile_steps, "profiled steps (mean reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--list", list, "print the configurations and exit");
  CLI11_PARSE(app, argc, argv);
  try {
    if (list) {
      for (const BenchConfig& c : kConfigs)
        std::printf("%-30s %-18s vocab %3d width %d depth %d heads %d ffn %d batch %d length %d classes %d\n", c.name,
                    *c.model ? c.model : "(--model)", c.vocab, c.width, c.depth, c.heads, c.ffn, c.batch, c.length, c.classes);
      return 0;
    }
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: error: %s\n", e.what());
    return 1;
  }
}
