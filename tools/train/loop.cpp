// The training loop (see trainer.h): setup, resume, step, evaluate, finish.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <unistd.h>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/dist.h"
#include "engine/dist/reducer.h"
#include "engine/dist/watchdog.h"
#include "engine/io.h"
#include "engine/memory.h"
#include "engine/schedule.h"
#include "models/backbone/backbone.h"
#include "ops/elementwise/elementwise.h"
#include "ops/loss/loss.h"
#include "tools/train/objective.h"
#include "tools/train/run_log.h"
#include "tools/train/trainer.h"

namespace lra::train {
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_interrupted = 0;  // the signal that asked the run to stop, or 0
void on_stop_signal(int sig) { g_interrupted = sig; }

// Installs the stop handlers for the lifetime of a run and restores the previous ones after: Ctrl-C (SIGINT)
// and SIGUSR1. Under mpirun, Ctrl-C ends the whole job at once (mpirun does not forward SIGINT), but mpirun
// forwards SIGUSR1 to every rank: `kill -USR1 <mpirun's pid>` (Slurm: scancel --signal=USR1) stops a
// data-parallel run cleanly, checkpoint saved, like Ctrl-C stops one process.
struct SigintGuard {
  void (*previous_int)(int);
  void (*previous_usr1)(int);
  SigintGuard() : previous_int(std::signal(SIGINT, on_stop_signal)), previous_usr1(std::signal(SIGUSR1, on_stop_signal)) {
    g_interrupted = 0;
  }
  ~SigintGuard() {
    std::signal(SIGINT, previous_int);
    std::signal(SIGUSR1, previous_usr1);
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(double x) { return settings::format_double(x); }

// The weight decay the optimizer applies to its parameter i (that of the segment holding its slot).
double segment_weight_decay(const optim::Optimizer& opt, size_t i) {
  const int64_t at = opt.slot_begin(i);
  const optim::Segments& segs = opt.segments();
  for (int k = 0; k < segs.count; ++k)
    if (segs.seg[k].begin <= at && at < segs.seg[k].end) return segs.seg[k].weight_decay;
  fail(str("optimizer: parameter ", opt.parameters()[i].name, " lies in no segment"));
}

// Fault injection for the data-parallel tests (tests/dist): LRA_DIST_FAULT=KIND:RANK:STEP makes rank RANK,
// at the start of step STEP, die (kill: SIGKILL), hang (hang: sleep), throw an error (throw), or compute a
// NaN loss (nan). Unset: nothing.
struct Fault {
  std::string kind;
  int rank = -1;
  int64_t step = -1;
};
Fault read_fault() {
  Fault f;
  const char* v = std::getenv("LRA_DIST_FAULT");
  if (!v || !*v) return f;
  const std::string s(v);
  const size_t a = s.find(':'), b = s.find(':', a == std::string::npos ? a : a + 1);
  LRA_CHECK(a != std::string::npos && b != std::string::npos, "LRA_DIST_FAULT='", s, "' is not KIND:RANK:STEP");
  f.kind = s.substr(0, a);
  LRA_CHECK(f.kind == "kill" || f.kind == "hang" || f.kind == "throw" || f.kind == "nan", "LRA_DIST_FAULT: kind '",
            f.kind, "' is not kill, hang, throw or nan");
  f.rank = std::stoi(s.substr(a + 1, b - a - 1));
  f.step = std::stoll(s.substr(b + 1));
  return f;
}

class Run {
 public:
  Run(const tasks::TaskDescriptor& task, const TrainConfig& c, const tasks::Dataset& data)
      : task_(task), c_(c), data_(data), info_(data.info), log_(c.out), comm_(dist::current()),
        root_(comm_.rank() == 0), fault_(read_fault()) {}

  TrainResult go() {
    setup();
    resume();
    announce();
    SigintGuard sigint;
    t0_ = std::chrono::steady_clock::now();
    int64_t s = start_ + 1;
    for (; s <= total_; ++s)
      if (!step(s)) break;
    return finish(std::min(s, total_));
  }

 private:
  void setup();                  // settings against the task; model, optimizer, data stream, schedule
  void resume();                 // --resume: checkpoint, metrics, data stream; else a fresh log
  void announce() const;         // what runs, on what, with which groups
  bool step(int64_t s);          // one update, and the log line, evaluation and saves it is due; false: stop
  void log_line(int64_t s, const Tensor& logits, const Tensor& labels);
  void validate(int64_t s);      // validation, best checkpoint, plateau
  TrainResult finish(int64_t s); // last checkpoint, curves, test accuracy of last and best
  Evaluation evaluate(const std::string& split, int64_t max_batches);
  void save(const std::string& name, int64_t step);
  std::string go_back_to() const;
  // Data-parallel: rank 0's parameters (and BatchNorm buffers; with_optimizer: its optimizer state) on
  // every rank. No-op alone.
  void sync_from_root(bool with_optimizer);
  void sync_buffers_from_root();  // BatchNorm running statistics (unsynchronised BatchNorm)
  void set_context(const std::string& where);
  void inject_fault(int64_t s, Tensor* loss);

  const tasks::TaskDescriptor& task_;
  TrainConfig c_;
  const tasks::Dataset& data_;
  tasks::TaskInfo info_;
  RunLog log_;
  Device device_ = Device::CPU;
  Feed feed_;
  std::unique_ptr<models::LraModel> model_;
  std::unique_ptr<optim::AdamW> opt_;
  std::optional<optim::ReduceOnPlateau> plateau_;  // the plateau setting; saved in checkpoint metadata
  std::unique_ptr<tasks::BatchLoader> loader_;
  std::optional<optim::Schedule> schedule_;
  std::string dir_, last_path_;
  int64_t total_ = 0, start_ = 0;
  std::chrono::steady_clock::time_point t0_;
  double best_acc_ = -1;
  int64_t best_step_ = 0;
  int64_t saved_step_ = -1;  // step of the newest last.safetensors
  Tensor running_;           // the summed loss since the last log line, on the device
  int64_t running_count_ = 0, last_log_ = 0;
  double lr_ = 0;
  std::string stop_reason_;
  TrainResult result_;
  // data-parallel (world 1: a single process, every collective a no-op)
  dist::Comm& comm_;
  bool root_;  // rank 0: the one that writes metrics.jsonl, config.toml, checkpoints and curves
  Fault fault_;
  std::unique_ptr<dist::GradReducer> reducer_;
  Tensor last_correct_;  // rows of the last batch classified correctly, for the log line's accuracy
  int64_t last_rows_ = 0;
};

void Run::setup() {
  device_ = parse_device(c_.device);
  set_allow_tf32(c_.tf32);
  LRA_CHECK(c_.batch > 0, "batch must be positive, got ", c_.batch);
  LRA_CHECK(c_.eval_every > 0 && c_.log_every > 0, "eval_every and log_every must be positive");
  LRA_CHECK(c_.steps > 0 || c_.epochs > 0, "give --steps or --epochs");
  const models::ModelConfig mc = model_config(task_, c_, &info_);
  feed_ = make_feed(task_, c_, info_, device_);

  dir_ = c_.out;
  last_path_ = dir_ + "/last.safetensors";
  if (root_) fs::create_directories(dir_);
  LRA_CHECK(c_.batch >= comm_.world(), "batch ", c_.batch, " is the global batch of ", comm_.world(),
            " ranks: it must give every rank at least one sequence");

  // The model and optimizer (built after the move, as optim.h asks).
  Generator init(c_.seed);
  model_ = std::make_unique<models::LraModel>(mc, init);
  model_->to(device_);
  opt_ = make_optimizer(c_, model_->named_parameters());
  if (auto pc = parse_plateau(c_.plateau)) plateau_.emplace(*pc);
  if (comm_.world() > 1) {
    sync_from_root(false);  // every rank starts from rank 0's initialisation
    reducer_ = std::make_unique<dist::GradReducer>(*opt_, comm_, int64_t(c_.dist_bucket_mb * double(1 << 20)));
  }

  tasks::LoaderOptions lo;
  lo.batch_size = c_.batch;
  lo.seed = c_.seed;
  lo.shard_index = comm_.rank();
  lo.shard_count = comm_.world();
  if (c_.augment) {
    LRA_CHECK(task_.augment != nullptr, "augment: lra-", task_.name, " has no training augmentation");
    lo.augment = task_.augment(info_);
  }
  loader_ = std::make_unique<tasks::BatchLoader>(data_.split("train"), info_, lo);
  LRA_CHECK(loader_->batches_per_epoch() > 0, "the train split has fewer examples than one batch (", c_.batch, ")");
  total_ = c_.steps > 0 ? c_.steps
                        : std::max<int64_t>(1, int64_t(std::ceil(c_.epochs * double(loader_->batches_per_epoch()))));
  schedule_ = optim::parse_schedule(c_.schedule, c_.lr, total_);
}

void Run::resume() {
  if (!c_.resume) {
    if (root_) log_.start();
  } else {
    // Rank 0 reads the checkpoint and hands the model, the optimizer and the loop's state to the others
    // (no shared file system needed); the world size may differ from the run that wrote it.
    std::string state;
    if (root_) {
      LRA_CHECK(fs::exists(last_path_), "--resume: no checkpoint ", last_path_, " to resume from");
      io::CheckpointInfo ci = io::load_checkpoint(last_path_, *model_, opt_.get(), nullptr);
      if (ci.config != config_toml(c_, &task_))
        std::printf("note: the settings differ from the checkpoint's (%s/config.toml is rewritten)\n", dir_.c_str());
      nlohmann::json j = ci.metadata;
      j["step"] = std::to_string(ci.step);
      state = j.dump();
    }
    // A missing or bad checkpoint is an error on rank 0, whose abort ends the others.
    if (comm_.world() > 1) {
      comm_.broadcast(state, 0);
      LRA_CHECK(!state.empty(), "--resume: rank 0 could not load ", last_path_);
      sync_from_root(true);
    }
    const std::map<std::string, std::string> meta = nlohmann::json::parse(state).get<std::map<std::string, std::string>>();
    start_ = std::strtoll(meta.at("step").c_str(), nullptr, 10);
    saved_step_ = start_;
    if (meta.count("best_val_acc")) best_acc_ = std::strtod(meta.at("best_val_acc").c_str(), nullptr);
    if (meta.count("best_step")) best_step_ = std::strtoll(meta.at("best_step").c_str(), nullptr, 10);
    // The plateau's best metric, bad-evaluation count and scale: without them a resumed run would start
    // its reductions over at scale 1.
    if (plateau_ && meta.count("plateau")) plateau_->load_state(meta.at("plateau"));
    else if (plateau_) std::printf("note: the checkpoint has no plateau state; the plateau starts afresh\n");
    if (root_) log_.resume(start_);
    for (int64_t i = 0; i < start_; ++i) LRA_CHECK(loader_->next().has_value(), "data ended while replaying");
    std::printf("resumed from %s at step %lld\n", last_path_.c_str(), (long long)start_);
  }
  last_log_ = start_;
  if (root_) std::ofstream(dir_ + "/config.toml") << config_toml(c_, &task_);
}

void Run::sync_from_root(bool with_optimizer) {
  if (comm_.world() == 1) return;
  Tensor params = opt_->flat_params();
  comm_.broadcast(params, 0);
  sync_buffers_from_root();
  if (!with_optimizer) return;
  optim::OptimizerState st = opt_->state();
  int64_t steps = st.step;
  comm_.all_reduce(&steps, 1, dist::ReduceOp::Max);  // rank 0's count (a fresh optimizer has taken none)
  st.step = steps;
  for (auto& [name, t] : st.tensors) {
    t = t.clone();
    comm_.broadcast(t, 0);
  }
  opt_->load_state(st);
}

void Run::sync_buffers_from_root() {
  if (comm_.world() == 1) return;
  for (auto& [name, t] : model_->named_buffers()) comm_.broadcast(t, 0);
}

void Run::set_context(const std::string& where) {
  if (auto* w = dynamic_cast<dist::WatchedComm*>(&comm_)) w->set_context(where);
}

void Run::inject_fault(int64_t s, Tensor* loss) {
  if (fault_.rank != comm_.rank() || fault_.step != s || (fault_.kind == "nan") != (loss != nullptr)) return;
  std::fprintf(stderr, "rank %d: LRA_DIST_FAULT: %s at step %lld\n", comm_.rank(), fault_.kind.c_str(), (long long)s);
  std::fflush(stderr);
  if (fault_.kind == "kill") std::raise(SIGKILL);
  if (fault_.kind == "hang")
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  if (fault_.kind == "throw") fail(str("LRA_DIST_FAULT: an injected error at step ", s));
  if (fault_.kind == "nan" && loss) *loss = ops::scale(*loss, std::nan(""));
}

void Run::announce() const {
  int64_t ssm_params = 0, ssm_decay_params = 0, decayed = 0, undecayed = 0;
  for (size_t i = 0; i < opt_->parameters().size(); ++i) {
    const nn::NamedParameter& p = opt_->parameters()[i];
    if (p.group == "ssm") ssm_params += p.tensor.numel();
    if (p.group == "ssm_decay") ssm_decay_params += p.tensor.numel();
    (segment_weight_decay(*opt_, i) > 0 ? decayed : undecayed) += p.tensor.numel();
  }
  std::printf("lra-%s: %s on %s (%lld train / %lld val examples, length %d, %d classes)\n", task_.name.c_str(),
              c_.model.model.c_str(), info_.name.c_str(), (long long)data_.split("train")->size(),
              (long long)data_.split("val")->size(), info_.max_len, info_.num_classes);
  std::printf("device %s | %lld parameters | batch %lld | %lld steps | schedule %s | seed %llu | run dir %s\n",
              device_name(device_), (long long)model_->num_parameters(), (long long)c_.batch, (long long)total_,
              schedule_->to_string().c_str(), (unsigned long long)c_.seed, dir_.c_str());
  if (ssm_params > 0)
    std::printf("parameter group ssm: %lld parameters, lr %s, no weight decay\n", (long long)ssm_params,
                c_.ssm_lr > 0 ? fmt(c_.ssm_lr).c_str() : "the base lr");
  if (ssm_decay_params > 0)
    std::printf("parameter group ssm_decay: %lld parameters, lr %s, weight decay as the other weights\n",
                (long long)ssm_decay_params, c_.ssm_lr > 0 ? fmt(c_.ssm_lr).c_str() : "the base lr");
  if (c_.weight_decay > 0) {
    std::string spared = c_.decay_all ? "" : "biases, norms";
    if (!c_.decay_embeddings) spared += std::string(spared.empty() ? "" : ", ") + "embeddings";
    if (ssm_params > 0) spared += std::string(spared.empty() ? "" : ", ") + "the ssm group";
    std::printf("weight decay %s on %lld parameters, none on %lld%s\n", fmt(c_.weight_decay).c_str(),
                (long long)decayed, (long long)undecayed, spared.empty() ? "" : (" (" + spared + ")").c_str());
  }
  if (c_.denoise > 0)
    std::printf("denoising: weight %s, rate %s of every sequence%s, %s, reconstructing the %s positions\n",
                fmt(c_.denoise).c_str(), fmt(c_.denoise_rate).c_str(), info_.pair ? " (both documents)" : "",
                c_.denoise_mode == DenoiseMode::SinglePass ? "one pass on the corrupted input"
                                                           : "classifying the clean input",
                c_.denoise_targets == tasks::DenoiseTargets::All ? "non-pad" : "corrupted");
  if (plateau_)
    std::printf("plateau: lr x %s after %lld evaluations in a row without a better validation %s (scale now %s)\n",
                fmt(plateau_->config().factor).c_str(), (long long)plateau_->config().patience + 1,
                plateau_->config().maximize ? "accuracy" : "loss", fmt(plateau_->scale()).c_str());
  std::fflush(stdout);
}

bool Run::step(int64_t s) {
  const bool shared = comm_.world() > 1;
  inject_fault(s, nullptr);
  if (shared) {
    // The check-in: rank 0 names a rank that does not arrive within dist_timeout (dead or hung).
    set_context(str("step ", s));
    int64_t here = 0;
    comm_.all_reduce_max_checked(&here, 1, c_.dist_timeout, str("step ", s));
  }
  std::optional<tasks::Batch> b = loader_->next();
  LRA_CHECK(b.has_value(), "the training data ended early");
  // Dropout and denoising draw from generators keyed by (seed, step): resuming needs no RNG state. The
  // window keys every draw by the example's row in the global batch, so masks do not depend on the ranks.
  Generator dropout(c_.seed + 2, uint64_t(s) << 32), corrupt(c_.seed + 3, uint64_t(s) << 32);
  if (shared) {
    const BatchWindow window{b->global_rows, b->first_row, b->rows()};
    dropout.set_window(window);
    corrupt.set_window(window);
  }
  opt_->zero_grad();
  StepLoss sl = training_loss(*model_, feed_, *b, c_, dropout, corrupt, &comm_);
  Tensor lg = sl.logits, loss = sl.loss;
  inject_fault(s, &loss);
  Tensor labels = b->labels.to(device_);
  if (reducer_) reducer_->begin();
  loss.backward();
  if (reducer_) reducer_->finish();  // every rank now holds the global batch's gradient
  if (c_.clip > 0) optim::clip_grad_norm(*opt_, c_.clip);
  lr_ = plateau_ ? plateau_->apply((*schedule_)(s)) : (*schedule_)(s);
  opt_->step(lr_);
  {
    autograd::NoGrad no_grad;
    if (!running_.defined()) running_ = loss.detach().clone();
    else running_.add_(loss.detach());
  }
  ++running_count_;

  // Decided before logging, so the loss of the steps since the last log line is not lost. Every rank
  // takes the same decision: Ctrl-C seen by any rank, the time limit by rank 0's clock.
  int64_t flags[2] = {int64_t(g_interrupted),
                      root_ && c_.time_limit_s > 0 && seconds_since(t0_) >= c_.time_limit_s ? 1 : 0};
  if (shared) comm_.all_reduce(flags, 2, dist::ReduceOp::Max);
  if (flags[0]) stop_reason_ = flags[0] == SIGUSR1 ? "interrupted (SIGUSR1)" : "interrupted (Ctrl-C)";
  else if (c_.stop_after > 0 && s >= c_.stop_after) stop_reason_ = "stopped after step " + std::to_string(s);
  else if (flags[1]) {
    stop_reason_ = "time limit reached";
    result_.time_limit = true;
  }
  const bool eval_step = s % c_.eval_every == 0 || s == total_;
  const bool save_step = c_.save_every > 0 && s % c_.save_every == 0;
  // Every checkpoint is preceded by a log line, whose loss check keeps a NaN model from being saved.
  if (s % c_.log_every == 0 || eval_step || save_step || !stop_reason_.empty()) log_line(s, lg, labels);
  if (eval_step) {
    validate(s);
    save("last.safetensors", s);
  } else if (save_step) {
    save("last.safetensors", s);
  }
  return stop_reason_.empty();
}

std::string Run::go_back_to() const {
  return saved_step_ >= 0 ? str(last_path_, " (step ", saved_step_, ")") : std::string("the start (no checkpoint yet)");
}

void Run::log_line(int64_t s, const Tensor& logits, const Tensor& labels) {
  // Data-parallel: each rank's running loss is its share of the global batches' losses, so the sum over
  // ranks is the global mean; the accuracy of the last batch is summed as counts.
  double sums[3] = {running_.item(), double(ops::count_correct(logits, labels)), double(labels.dim(0))};
  if (comm_.world() > 1) comm_.all_reduce(sums, 3, dist::ReduceOp::Sum);
  const double mean = sums[0] / double(running_count_);  // the one sync per log line
  running_ = Tensor();
  running_count_ = 0;
  const double acc = sums[1] / sums[2];
  LRA_CHECK(std::isfinite(mean), "the training loss became ", mean, " between steps ", last_log_ + 1, " and ", s,
            " (learning rate ", lr_, "); go back to ", go_back_to(), " and lower lr or clip");
  last_log_ = s;
  const double secs = seconds_since(t0_);
  const double rate = double((s - start_) * c_.batch) / std::max(secs, 1e-9);
  const double eta = secs / double(s - start_) * double(total_ - s);
  const bool tty = isatty(fileno(stdout));
  std::printf("%sstep %lld/%lld  loss %.4f  acc %5.1f%%  lr %.2e  %.0f seq/s  ETA %.0fs", tty ? "\r" : "",
              (long long)s, (long long)total_, mean, 100 * acc, lr_, rate, eta);
  if (device_ == Device::CUDA) std::printf("  gpu %.0f MB", double(cuda_memory_stats().peak) / (1 << 20));
  std::printf(tty ? "   " : "\n");
  std::fflush(stdout);
  result_.losses.push_back(mean);
  if (root_)
    log_.append({{"type", "train"}, {"step", s}, {"loss", mean}, {"acc", acc}, {"lr", lr_}, {"seq_per_s", rate},
               {"elapsed_s", secs}});
}

void Run::validate(int64_t s) {
  const Evaluation v = evaluate("val", c_.eval_batches);
  LRA_CHECK(std::isfinite(v.loss), "the validation loss became ", v.loss, " at step ", s, " (learning rate ", lr_,
            "); go back to ", go_back_to());
  const bool best = v.acc > best_acc_;
  if (best) {
    best_acc_ = v.acc;
    best_step_ = s;
  }
  const bool reduced = plateau_ && plateau_->observe(plateau_->config().maximize ? v.acc : v.loss);
  std::printf("%sstep %lld  val loss %.4f  val acc %5.1f%%%s\n", isatty(fileno(stdout)) ? "\n" : "", (long long)s,
              v.loss, 100 * v.acc, best ? "  (best)" : "");
  if (reduced)
    std::printf("plateau: no better validation %s for %lld evaluations; lr scale now %s\n",
                plateau_->config().maximize ? "accuracy" : "loss", (long long)plateau_->config().patience + 1,
                fmt(plateau_->scale()).c_str());
  std::fflush(stdout);
  nlohmann::json record = {{"type", "val"}, {"step", s}, {"loss", v.loss}, {"acc", v.acc}, {"n", v.n}};
  if (plateau_) record["lr_scale"] = plateau_->scale();
  if (root_) log_.append(record);
  if (best) save("best.safetensors", s);
}

Evaluation Run::evaluate(const std::string& split, int64_t max_batches) {
  EvalOptions o;
  o.batch = c_.batch;
  o.max_batches = max_batches;
  o.seed = c_.seed;
  o.comm = &comm_;
  // Unsynchronised BatchNorm leaves each rank its own running statistics: evaluate rank 0's everywhere,
  // the ones the checkpoints hold (PyTorch DDP's broadcast_buffers does the same).
  if (!c_.sync_bn) sync_buffers_from_root();
  set_context("evaluation of " + split);
  return train::evaluate(*model_, feed_, data_, info_, split, o);
}

void Run::save(const std::string& name, int64_t step) {
  Generator unused(c_.seed);
  std::map<std::string, std::string> meta = {
      {"task", task_.name}, {"best_val_acc", fmt(best_acc_)}, {"best_step", std::to_string(best_step_)}};
  if (plateau_) meta["plateau"] = plateau_->state();
  if (name == "last.safetensors") saved_step_ = step;
  if (!c_.sync_bn) sync_buffers_from_root();  // the checkpoint holds what every rank evaluates with
  if (!root_) return;
  io::save_checkpoint(dir_ + "/" + name, *model_, opt_.get(), step, unused, config_toml(c_, &task_), meta);
}

TrainResult Run::finish(int64_t s) {
  result_.steps = s;
  if (saved_step_ != s) save("last.safetensors", s);
  if (isatty(fileno(stdout))) std::printf("\n");
  if (!stop_reason_.empty() && !result_.time_limit) {
    if (c_.plot && root_) log_.plot();
    result_.interrupted = true;
    std::printf("%s: checkpoint %s (step %lld); continue with --resume\n", stop_reason_.c_str(), last_path_.c_str(),
                (long long)s);
    return result_;
  }
  if (result_.time_limit) std::printf("time limit reached at step %lld\n", (long long)s);

  // The test accuracy of the last and of the best checkpoint.
  int64_t no_best = root_ && (best_step_ == 0 || !fs::exists(dir_ + "/best.safetensors")) ? 1 : 0;
  if (comm_.world() > 1) comm_.all_reduce(&no_best, 1, dist::ReduceOp::Max);  // rank 0 sees the run dir
  if (no_best) {
    best_acc_ = evaluate("val", c_.eval_batches).acc;
    best_step_ = s;
    save("best.safetensors", s);
  }
  result_.best_val_acc = best_acc_;
  result_.best_step = best_step_;
  result_.test_acc_last = evaluate("test", c_.test_batches).acc;
  if (root_) io::load_checkpoint(dir_ + "/best.safetensors", *model_, nullptr, nullptr);
  sync_from_root(false);
  result_.test_acc_best = evaluate("test", c_.test_batches).acc;
  if (root_) {
    log_.append({{"type", "test"}, {"step", s}, {"checkpoint", "last"}, {"acc", result_.test_acc_last}});
    log_.append({{"type", "test"}, {"step", best_step_}, {"checkpoint", "best"}, {"acc", result_.test_acc_best}});
  }
  if (c_.plot && root_) log_.plot();
  std::printf("test accuracy: last (step %lld) %.2f%% | best validation (step %lld, val %.2f%%) %.2f%%\n",
              (long long)s, 100 * result_.test_acc_last, (long long)best_step_, 100 * best_acc_,
              100 * result_.test_acc_best);
  std::printf("run dir %s: metrics.jsonl, config.toml, last.safetensors, best.safetensors%s\n", dir_.c_str(),
              c_.plot ? ", curves.png" : "");
  return result_;
}

}  // namespace

TrainResult train(const tasks::TaskDescriptor& task, const TrainConfig& config, const tasks::Dataset& data) {
  Run run(task, config, data);
  return run.go();
}

}  // namespace lra::train
