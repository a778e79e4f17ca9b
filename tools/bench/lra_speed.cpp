// lra-speed: Table 2 of the LRA paper (training steps per second and peak memory of every model on the
// text task at lengths 1K–4K) regenerated on this machine in one command, optionally with the PyTorch
// implementation of each model measured beside it in the same run.
//
//   lra-speed                                  every registered mixer, LRA text shape, 1K/2K/3K/4K
//   lra-speed --small --with-torch             the shape scaled to a 2-core CPU, PyTorch eager + compile
//   lra-speed --models transformer,s4d --lengths 1024,4096 --device cuda --precision fp32,bf16
//   lra-speed --from-jsonl runs/speed.jsonl     print the tables of an earlier run (one cut short, say)
//
// The shape (LRA paper Table 2 and the text task's config, ../shared/reference/lra-benchmark.md §5): byte
// vocabulary (257), 2 classes, width 256, 4 layers, 4 heads, MLP 1024, batch 32, mean pooling, no
// dropout; --small: width 64, 2 layers, 4 heads, MLP 128, batch 2 (stated in the table's heading).
//
// Every cell is one process, so a cell that runs out of memory, crashes or passes --timeout is marked in
// the table ("OOM", "timeout", "error") and the run goes on, and the peak memory of a cell is that
// process's alone:
//   * engine: bench_train's generic row (lra_text, --model NAME) with the shape above: full training steps
//     (forward, cross-entropy, backward, AdamW) on one random batch; --warmup steps, then the median of
//     --steps separately timed steps; peak memory = the caching allocator's peak on the GPU, the resident
//     set's peak above the built model on the CPU (bench_train's header says how);
//   * PyTorch: tools/bench/torch_speed.py, the parity oracle's model (tests/parity/torch_models.py) built
//     from the very settings bench_train printed for the engine's cell, timed and measured the same way,
//     eager and torch.compile, with the interpreter of tools/bench/setup_torch.sh's virtual environment
//     (.venv-torch: the newest PyTorch) when it exists, else --torch-python. torch.compile compiles in the
//     warm-up steps (untimed, reported as compile_s): with static shapes ~30 s per model and length on a
//     2-core host, so --small compiles with dynamic shapes (one graph per model, the other lengths' processes
//     load it from inductor's on-disk cache) unless --compile-shapes static.
// For each length and model the sides run back to back (engine, eager, compile), so load from other jobs
// falls on all of them alike; with --rounds R the order alternates each round and each cell is the median
// over rounds. Both sides get --threads threads (OMP_NUM_THREADS and torch.set_num_threads).
//
// Output: every measurement as a JSON line (--jsonl FILE, and the tables are rebuilt from it by
// --from-jsonl), and markdown on stdout: the paper's layout (steps/s with the speed-up over the
// Transformer, peak memory with its ratio to the Transformer's) for each implementation, then, with
// --with-torch, the engine against PyTorch per model and length (speed ratio PyTorch time / engine time,
// memory ratio engine / PyTorch).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/base.h"
#include "engine/device.h"
#include "models/mixer.h"
#include "tools/common/lists.h"
#include "tools/common/subprocess.h"

using namespace lra;
using json = nlohmann::ordered_json;

namespace {

// The LRA paper's eleven, in its order: --models lra.
const std::vector<std::string> kLraEleven = {"transformer", "local",       "sparse_transformer", "longformer",
                                             "linformer",   "reformer",    "sinkhorn",           "synthesizer",
                                             "bigbird",     "linear_transformer", "performer"};

struct Shape {
  int vocab = 257, classes = 2, width = 256, depth = 4, heads = 4, ffn = 1024, batch = 32;
  std::string describe() const {
    return str("width ", width, ", ", depth, " layers, ", heads, " heads, MLP ", ffn, ", batch ", batch, ", vocab ",
               vocab, ", ", classes, " classes, mean pooling, dropout 0");
  }
};
const Shape kSmall{257, 2, 64, 2, 4, 128, 2};

// --- child processes (tools/common/subprocess.h) ------------------------------------------------

using tools::Outcome;
using tools::run_process;
using tools::self_dir;

// The cell of a run: its last JSON line, or {"error": the reason}.
json result_of(const Outcome& o, double timeout_s) {
  if (o.timed_out) return json{{"error", str("timeout (", timeout_s, " s)")}};
  std::istringstream in(o.output);
  std::string line, last_json, last_line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '{') last_json = line;
    if (!line.empty()) last_line = line;
  }
  json j;
  if (!last_json.empty()) {
    try {
      j = json::parse(last_json);
    } catch (const std::exception&) {
      j = json{{"error", "unreadable JSON line: " + last_json.substr(0, 200)}};
    }
  } else {
    j = json{{"error", (last_line.empty() ? str("exit status ", o.status) : last_line).substr(0, 300)}};
  }
  j["wall_s"] = std::round(o.wall_s * 10) / 10;
  return j;
}

// --- options -------------------------------------------------------------------------------------

struct Options {
  std::string models = "all", lengths = "1024,2048,3072,4096", device = "auto", precisions = "fp32";
  bool small = false, with_torch = false, no_compile = false;
  std::string compile_shapes;  // static | dynamic ("" = dynamic with --small, else static)
  int steps = 5, warmup = 2, rounds = 1, threads = 0;
  int width = 0, depth = 0, heads = 0, ffn = 0, batch = 0;
  double timeout = 600;
  std::string bench, torch_python, jsonl, from_jsonl;
};

using tools::split_commas;

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// --- tables ---------------------------------------------------------------------------------------

// Measurements of one side: (model, length) -> the JSON of each round.
using Side = std::map<std::pair<std::string, int>, std::vector<json>>;

struct Run {
  json header;  // the run's description (first JSONL line)
  std::map<std::string, Side> sides;  // "engine fp32", "torch-eager fp32", ...
  std::vector<std::string> models, side_order;
  std::vector<int> lengths;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median over rounds of `key`, or NaN with `why` set to the first error ("OOM", "timeout", ...).
double cell_value(const Run& run, const std::string& side, const std::string& model, int L, const char* key,
                  std::string* why) {
  auto s = run.sides.find(side);
  if (s == run.sides.end()) return NAN;
  auto c = s->second.find({model, L});
  if (c == s->second.end()) {
    if (why) *why = "-";
    return NAN;
  }
  std::vector<double> v;
  for (const json& j : c->second)
    if (j.contains(key) && j[key].is_number()) v.push_back(j[key].get<double>());
  if (!v.empty()) return median(v);
  if (why) {
    const std::string e = c->second.front().value("error", std::string("no ") + key);
    std::string lower = e;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.find("out of memory") != std::string::npos || lower.find("bad_alloc") != std::string::npos ||
        lower.find("outofmemory") != std::string::npos || lower.find("cannot allocate") != std::string::npos)
      *why = "OOM";
    else if (lower.rfind("timeout", 0) == 0)
      *why = "timeout";
    else if (lower.find("no pytorch model") != std::string::npos)
      *why = "n/a";
    else if (lower.find("no torch.compile") != std::string::npos)
      *why = "no compile";
    else
      *why = "error";
  }
  return NAN;
}

std::string fmt(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

// Memory key of a side: the GPU allocator's peak on the GPU, the resident set's on the CPU.
const char* memory_key(const Run& run) { return run.header.value("device", "cpu") == "cuda" ? "peak_gpu_MB" : "peak_host_MB"; }

// The paper's layout for one side: steps/s (speed-up over the Transformer) and memory (ratio).
void paper_table(const Run& run, const std::string& side, std::ostream& o) {
  const char* mkey = memory_key(run);
  o << "| model |";
  for (int L : run.lengths) o << " steps/s " << L << " |";
  for (int L : run.lengths) o << " MB " << L << " |";
  o << "\n|---|";
  for (size_t i = 0; i < 2 * run.lengths.size(); ++i) o << "---:|";
  o << "\n";
  for (const std::string& m : run.models) {
    o << "| " << m << " |";
    for (int L : run.lengths) {
      std::string why;
      const double ms = cell_value(run, side, m, L, "ms_per_step", &why);
      const double base = cell_value(run, side, "transformer", L, "ms_per_step", nullptr);
      if (std::isnan(ms)) {
        o << " " << why << " |";
        continue;
      }
      o << " " << fmt(1e3 / ms, 1e3 / ms < 10 ? 2 : 1);
      if (!std::isnan(base) && m != "transformer") o << " (" << fmt(base / ms, 1) << "×)";
      o << " |";
    }
    for (int L : run.lengths) {
      std::string why;
      const double mb = cell_value(run, side, m, L, mkey, &why);
      const double base = cell_value(run, side, "transformer", L, mkey, nullptr);
      if (std::isnan(mb)) {
        o << " " << why << " |";
        continue;
      }
      o << " " << fmt(mb, 0);
      if (!std::isnan(base) && base > 0 && m != "transformer") o << " (" << fmt(mb / base, 2) << "×)";
      o << " |";
    }
    o << "\n";
  }
}

// Engine against PyTorch, per model and length: speed = PyTorch ms / engine ms (above 1: the engine is
// faster), memory = engine MB / PyTorch MB (below 1: the engine needs less).
void versus_table(const Run& run, const std::string& precision, std::ostream& o) {
  const char* mkey = memory_key(run);
  const std::string e = "engine " + precision, te = "torch-eager " + precision, tc = "torch-compile " + precision;
  const bool compiled = run.sides.count(tc) > 0;
  o << "| model | L | engine ms | eager ms | speed vs eager |";
  if (compiled) o << " compile ms | speed vs compile |";
  o << " engine MB | eager MB | memory vs eager |";
  if (compiled) o << " compile MB |";
  o << "\n|---|---:|---:|---:|---:|";
  if (compiled) o << "---:|---:|";
  o << "---:|---:|---:|";
  if (compiled) o << "---:|";
  o << "\n";
  auto show = [](double v, const std::string& why, int p) { return std::isnan(v) ? why : fmt(v, p); };
  auto ratio = [](double a, double b) { return std::isnan(a) || std::isnan(b) || b <= 0 ? std::string("-") : fmt(a / b, 2) + "×"; };
  for (const std::string& m : run.models)
    for (int L : run.lengths) {
      std::string we, wt, wc, wme, wmt, wmc;
      const double ems = cell_value(run, e, m, L, "ms_per_step", &we);
      const double tms = cell_value(run, te, m, L, "ms_per_step", &wt);
      const double cms = compiled ? cell_value(run, tc, m, L, "ms_per_step", &wc) : NAN;
      const double emb = cell_value(run, e, m, L, mkey, &wme);
      const double tmb = cell_value(run, te, m, L, mkey, &wmt);
      const double cmb = compiled ? cell_value(run, tc, m, L, mkey, &wmc) : NAN;
      o << "| " << m << " | " << L << " | " << show(ems, we, 0) << " | " << show(tms, wt, 0) << " | "
        << ratio(tms, ems) << " |";
      if (compiled) o << " " << show(cms, wc, 0) << " | " << ratio(cms, ems) << " |";
      o << " " << show(emb, wme, 0) << " | " << show(tmb, wmt, 0) << " | " << ratio(emb, tmb) << " |";
      if (compiled) o << " " << show(cmb, wmc, 0) << " |";
      o << "\n";
    }
}

// Per model, the worst cell over the lengths against the issue-16 bars: speed ≥ 1.5× PyTorch eager and
// ≥ 1.0× torch.compile, peak memory ≤ 0.8× PyTorch eager's. A cell missing on either side is skipped.
void bars_table(const Run& run, const std::string& precision, std::ostream& o) {
  const char* mkey = memory_key(run);
  const std::string e = "engine " + precision, te = "torch-eager " + precision, tc = "torch-compile " + precision;
  o << "| model | worst speed vs eager (≥ 1.5×) | worst speed vs compile (≥ 1.0×) | worst memory vs eager (≤ 0.8×) | bars |\n"
    << "|---|---:|---:|---:|---|\n";
  for (const std::string& m : run.models) {
    double se = INFINITY, sc = INFINITY, me = 0;
    bool any_e = false, any_c = false, any_m = false;
    for (int L : run.lengths) {
      const double ems = cell_value(run, e, m, L, "ms_per_step", nullptr);
      const double tms = cell_value(run, te, m, L, "ms_per_step", nullptr);
      const double cms = cell_value(run, tc, m, L, "ms_per_step", nullptr);
      const double emb = cell_value(run, e, m, L, mkey, nullptr);
      const double tmb = cell_value(run, te, m, L, mkey, nullptr);
      if (!std::isnan(ems) && !std::isnan(tms)) se = std::min(se, tms / ems), any_e = true;
      if (!std::isnan(ems) && !std::isnan(cms)) sc = std::min(sc, cms / ems), any_c = true;
      if (!std::isnan(emb) && !std::isnan(tmb) && tmb > 0) me = std::max(me, emb / tmb), any_m = true;
    }
    std::string verdict;
    if (any_e && se < 1.5) verdict += "slow vs eager; ";
    if (any_c && sc < 1.0) verdict += "slow vs compile; ";
    if (any_m && me > 0.8) verdict += "memory; ";
    if (!any_e && !any_c && !any_m) verdict = "no pair measured";
    else if (verdict.empty()) verdict = "all met";
    else verdict.resize(verdict.size() - 2);
    o << "| " << m << " | " << (any_e ? fmt(se, 2) + "×" : "-") << " | " << (any_c ? fmt(sc, 2) + "×" : "-") << " | "
      << (any_m ? fmt(me, 2) + "×" : "-") << " | " << verdict << " |\n";
  }
}

void print_tables(const Run& run, std::ostream& o) {
  const json& h = run.header;
  o << "## LRA speed and memory (" << h.value("date", std::string("?")) << ")\n\n"
    << "`" << h.value("command", std::string("lra-speed")) << "`\n\n"
    << "Device: " << h.value("device_name", std::string("?")) << "; threads " << h.value("threads", 0)
    << ". Shape: " << h.value("shape", std::string("?")) << ". Full training steps (forward, cross-entropy, "
    << "backward, AdamW) on one random batch: median of " << h.value("steps", 0) << " timed steps after "
    << h.value("warmup", 0) << " warm-up steps, " << h.value("rounds", 1)
    << " round(s), each cell its own process, the sides interleaved per cell. Memory: "
    << (std::string(memory_key(run)) == "peak_gpu_MB" ? "the allocator's peak on the GPU (MB)"
                                                       : "the anonymous resident memory's peak over the timed "
                                                         "steps above its level with the model built (MB)")
    << ".";
  if (h.contains("torch")) o << " PyTorch: " << h["torch"].get<std::string>() << ".";
  o << "\n\n";
  for (const std::string& side : run.side_order) {
    o << "### " << side << "\n\n";
    paper_table(run, side, o);
    o << "\n";
  }
  std::vector<std::string> precisions;
  for (const std::string& side : run.side_order)
    if (side.rfind("torch-eager ", 0) == 0) precisions.push_back(side.substr(12));
  for (const std::string& p : precisions) {
    o << "### engine against PyTorch, " << p
      << " (speed: PyTorch time / engine time, above 1 the engine is faster; memory: engine / PyTorch)\n\n";
    versus_table(run, p, o);
    o << "\n### the bars, " << p << ": each model's worst length\n\n";
    bars_table(run, p, o);
    o << "\n";
  }
}

void add(Run& run, const json& j) {
  const std::string side = j["side"].get<std::string>();
  const std::string model = j["model"].get<std::string>();
  const int L = j["length"].get<int>();
  if (!run.sides.count(side)) run.side_order.push_back(side);
  run.sides[side][{model, L}].push_back(j);
  if (std::find(run.models.begin(), run.models.end(), model) == run.models.end()) run.models.push_back(model);
  if (std::find(run.lengths.begin(), run.lengths.end(), L) == run.lengths.end()) run.lengths.push_back(L);
}

Run read_jsonl(const std::string& path) {
  std::ifstream f(path);
  LRA_CHECK(f.good(), "lra-speed: cannot read --from-jsonl ", path);
  Run run;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      fail(str("lra-speed: ", path, ":", n, ": not a JSON line (", e.what(), ")"));
    }
    if (j.contains("lra_speed_run")) {
      run.header = j["lra_speed_run"];
      continue;
    }
    LRA_CHECK(j.contains("side") && j.contains("model") && j.contains("length"), "lra-speed: ", path, ":", n,
              ": a measurement needs side, model and length");
    add(run, j);
  }
  std::sort(run.lengths.begin(), run.lengths.end());
  return run;
}

// --- the run ----------------------------------------------------------------------------------------

int run(const Options& opt, const std::string& command) {
  if (!opt.from_jsonl.empty()) {
    print_tables(read_jsonl(opt.from_jsonl), std::cout);
    return 0;
  }
  std::vector<std::string> registered;
  for (const models::MixerEntry& e : models::mixers()) registered.push_back(e.name);
  std::vector<std::string> models_wanted;
  if (opt.models == "all") {
    models_wanted = registered;
  } else if (opt.models == "lra") {
    for (const std::string& m : kLraEleven)
      if (std::find(registered.begin(), registered.end(), m) != registered.end()) models_wanted.push_back(m);
  } else {
    models_wanted = split_commas(opt.models);
    for (const std::string& m : models_wanted)
      models::find_mixer(m);  // an unknown name fails here, listing the registered ones
  }
  // The Transformer first: every other row's speed-up is relative to it.
  auto t = std::find(models_wanted.begin(), models_wanted.end(), "transformer");
  if (t != models_wanted.end()) std::rotate(models_wanted.begin(), t, t + 1);

  std::vector<int> lengths;
  for (const std::string& s : split_commas(opt.lengths)) {
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    LRA_CHECK(*end == '\0' && v > 0, "lra-speed: --lengths takes positive integers, got '", s, "'");
    lengths.push_back(int(v));
  }
  LRA_CHECK(!lengths.empty() && !models_wanted.empty(), "lra-speed: nothing to measure");

  std::string device = opt.device;
  if (device == "auto") device = cuda_available() ? "cuda" : "cpu";
  LRA_CHECK(device == "cpu" || device == "cuda", "lra-speed: --device is auto, cpu or cuda, got '", device, "'");
  const std::vector<std::string> precisions = split_commas(opt.precisions);
  for (const std::string& p : precisions) {
    LRA_CHECK(p == "fp32" || p == "tf32" || p == "bf16", "lra-speed: --precision takes fp32, tf32, bf16; got '", p, "'");
    LRA_CHECK(p == "fp32" || device == "cuda", "lra-speed: --precision ", p, " is a GPU mode (--device cuda)");
  }

  Shape shape = opt.small ? kSmall : Shape{};
  if (opt.width > 0) shape.width = opt.width;
  if (opt.depth > 0) shape.depth = opt.depth;
  if (opt.heads > 0) shape.heads = opt.heads;
  if (opt.ffn > 0) shape.ffn = opt.ffn;
  if (opt.batch > 0) shape.batch = opt.batch;
  const std::string compile_shapes = !opt.compile_shapes.empty() ? opt.compile_shapes : opt.small ? "dynamic" : "static";
  LRA_CHECK(compile_shapes == "static" || compile_shapes == "dynamic",
            "lra-speed: --compile-shapes is static or dynamic, got '", compile_shapes, "'");
  const int threads = opt.threads > 0 ? opt.threads : int(std::max(1u, std::thread::hardware_concurrency()));

  const std::string bench = opt.bench.empty() ? self_dir() + "/bench_train" : opt.bench;
  LRA_CHECK(access(bench.c_str(), X_OK) == 0, "lra-speed: cannot run bench_train at ", bench,
            " (build it, or pass --bench PATH)");
  std::string python = opt.torch_python;
  const std::string venv = std::string(LRA_SOURCE_DIR) + "/.venv-torch/bin/python";
  if (python.empty()) python = access(venv.c_str(), X_OK) == 0 ? venv : std::string(LRA_PYTHON);
  const std::string torch_script = std::string(LRA_SOURCE_DIR) + "/tools/bench/torch_speed.py";

  Run run;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  run.header = json{{"date", date},
                    {"command", command},
                    {"device", device},
                    {"device_name", device == "cuda" ? cuda_device_name() : cpu_model_name()},
                    {"threads", threads},
                    {"shape", shape.describe()},
                    {"steps", opt.steps},
                    {"warmup", opt.warmup},
                    {"rounds", opt.rounds}};
  if (opt.with_torch) {
    const Outcome v = run_process({python, "-c", "import torch; print(torch.__version__)"}, {}, 120);
    std::string version = v.output.substr(0, v.output.find('\n'));
    LRA_CHECK(v.status == 0, "lra-speed: --with-torch: ", python, " cannot import torch (",
              version.substr(0, 200), "); run tools/bench/setup_torch.sh or pass --torch-python");
    run.header["torch"] = str("PyTorch ", version, " (", python, ")",
                              opt.no_compile ? "" : str("; torch.compile with ", compile_shapes, " shapes"));
  }
  std::ofstream log;
  if (!opt.jsonl.empty()) {
    log.open(opt.jsonl);
    LRA_CHECK(log.good(), "lra-speed: cannot write --jsonl ", opt.jsonl);
    log << json{{"lra_speed_run", run.header}}.dump() << "\n" << std::flush;
  }

  const std::vector<std::pair<std::string, std::string>> env = {{"OMP_NUM_THREADS", std::to_string(threads)}};
  const std::string timing_steps = std::to_string(opt.steps), timing_warmup = std::to_string(opt.warmup);
  for (int r = 0; r < opt.rounds; ++r)
    for (int L : lengths)
      for (const std::string& model : models_wanted)
        for (const std::string& precision : precisions) {
          // The sides of this cell, back to back; the order alternates with the round.
          std::vector<std::string> sides = {"engine"};
          if (opt.with_torch) {
            sides.push_back("torch-eager");
            if (!opt.no_compile) sides.push_back("torch-compile");
          }
          if (r % 2 == 1) std::reverse(sides.begin(), sides.end());
          json engine_settings;  // the engine cell's resolved settings, which the PyTorch side builds from
          for (const std::string& side : sides) {
            json j;
            if (side == "engine") {
              if (precision == "bf16") {
                j = json{{"error", "n/a: the engine has no bf16 training path (attention_bf16 is a kernel)"}};
              } else {
                std::vector<std::string> cmd = {bench, "--device", device, "--model", model, "--length",
                                                std::to_string(L), "--batch", std::to_string(shape.batch),
                                                "--width", std::to_string(shape.width), "--depth",
                                                std::to_string(shape.depth), "--heads", std::to_string(shape.heads),
                                                "--ffn", std::to_string(shape.ffn), "--steps", timing_steps,
                                                "--warmup", timing_warmup};
                if (precision == "tf32") cmd.push_back("--tf32");
                j = result_of(run_process(cmd, env, opt.timeout), opt.timeout);
              }
            } else {
              if (engine_settings.is_null()) {  // the engine has not run this round yet: ask it at a tiny length
                // The same shape at 16 tokens and batch 1: model_settings carries width, depth and ffn too,
                // and torch_speed.py lets them win over its flags.
                const Outcome probe = run_process({bench, "--device", "cpu", "--model", model, "--length", "16",
                                                   "--batch", "1", "--width", std::to_string(shape.width), "--depth",
                                                   std::to_string(shape.depth), "--heads", std::to_string(shape.heads),
                                                   "--ffn", std::to_string(shape.ffn), "--steps", "1", "--warmup", "0"},
                                                  env, opt.timeout);
                engine_settings = result_of(probe, opt.timeout);
              }
              std::vector<std::string> cmd = {
                  python, torch_script, "--model", model, "--mixer",
                  engine_settings.value("mixer", json::object()).dump(), "--settings",
                  engine_settings.value("model_settings", json::object()).dump(), "--vocab",
                  std::to_string(shape.vocab), "--classes", std::to_string(shape.classes), "--width",
                  std::to_string(shape.width), "--depth", std::to_string(shape.depth), "--ffn",
                  std::to_string(shape.ffn), "--batch", std::to_string(shape.batch), "--length", std::to_string(L),
                  "--steps", timing_steps, "--warmup", timing_warmup, "--threads", std::to_string(threads),
                  "--device", device, "--precision", precision};
              if (side == "torch-compile") cmd.push_back("--compile");
              if (side == "torch-compile" && compile_shapes == "dynamic") cmd.push_back("--dynamic");
              j = result_of(run_process(cmd, env, opt.timeout), opt.timeout);
            }
            if (side == "engine" && j.contains("mixer")) engine_settings = j;
            json rec = {{"side", side + " " + precision}, {"model", model}, {"length", L}, {"round", r}};
            for (auto it = j.begin(); it != j.end(); ++it)
              if (!rec.contains(it.key()) && it.key() != "model_settings") rec[it.key()] = it.value();
            if (log.is_open()) log << rec.dump() << "\n" << std::flush;
            std::fprintf(stderr, "lra-speed: round %d L %d %-20s %-22s %s\n", r, L, model.c_str(),
                         (side + " " + precision).c_str(),
                         rec.contains("ms_per_step") ? str(rec["ms_per_step"].get<double>(), " ms/step, ",
                                                           rec.value(device == "cuda" ? "peak_gpu_MB" : "peak_host_MB", 0.0), " MB")
                                                           .c_str()
                                                     : rec.value("error", std::string("?")).c_str());
            add(run, rec);
          }
        }
  // Rows in the order asked for (add() saw them in measurement order already), lengths ascending.
  run.models = models_wanted;
  std::sort(run.lengths.begin(), run.lengths.end());
  print_tables(run, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lra-speed: the LRA paper's Table 2 (training steps/s and peak memory of every model at 1K-4K on\n"
               "the text task) on this machine, optionally beside PyTorch's implementation of each model"};
  Options opt;
  app.add_option("--models", opt.models, "comma list, 'all' (every registered mixer) or 'lra' (the paper's eleven)")
      ->capture_default_str();
  app.add_option("--lengths", opt.lengths, "comma list of sequence lengths")->capture_default_str();
  app.add_option("--device", opt.device, "auto, cpu or cuda")->capture_default_str();
  app.add_option("--precision", opt.precisions, "comma list of fp32, tf32, bf16 (tf32, bf16: GPU)")->capture_default_str();
  app.add_flag("--small", opt.small, "the shape scaled to a 2-core CPU (width 64, 2 layers, MLP 128, batch 2)");
  app.add_flag("--with-torch", opt.with_torch, "also time PyTorch's model of each row (eager and torch.compile)");
  app.add_flag("--no-compile", opt.no_compile, "with --with-torch: PyTorch eager only");
  app.add_option("--compile-shapes", opt.compile_shapes,
                 "torch.compile's shapes: static (a graph per length) or dynamic (one graph for every length, "
                 "compiled once and served from inductor's disk cache to the other lengths' processes); "
                 "default dynamic with --small, static otherwise");
  app.add_option("--steps", opt.steps, "timed steps per cell (median reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", opt.warmup, "untimed steps first (torch.compile compiles in them)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rounds", opt.rounds, "repeat every cell, alternating the order of the sides; median over rounds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", opt.threads, "CPU threads for both sides (0: every core)")->capture_default_str();
  app.add_option("--width", opt.width, "override the shape's width");
  app.add_option("--depth", opt.depth, "override the shape's number of layers");
  app.add_option("--heads", opt.heads, "override the shape's heads");
  app.add_option("--ffn", opt.ffn, "override the shape's MLP width");
  app.add_option("--batch", opt.batch, "override the shape's batch");
  app.add_option("--timeout", opt.timeout, "seconds per cell before it is marked 'timeout'")->capture_default_str();
  app.add_option("--bench", opt.bench, "the bench_train binary (default: beside lra-speed)");
  app.add_option("--torch-python", opt.torch_python,
                 "Python with torch (default: .venv-torch/bin/python from tools/bench/setup_torch.sh, else " LRA_PYTHON ")");
  app.add_option("--jsonl", opt.jsonl, "also write every measurement to FILE (JSON lines)");
  app.add_option("--from-jsonl", opt.from_jsonl, "print the tables of an earlier run's --jsonl and measure nothing");
  CLI11_PARSE(app, argc, argv);
  std::string command = "lra-speed";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  tools::kill_child_on_interrupt();
  try {
    return run(opt, command);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-speed: error: %s\n", e.what());
    return 1;
  }
}
