// lra-demo: trains the toy sequence classifier on generated "majority token" data and prints the loss
// falling. It is the smallest end-to-end use of the engine: data on the host, model and optimizer on the
// chosen device, forward, backward, clipping, AdamW, schedule, evaluation and a safetensors checkpoint.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/io.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "models/toy/toy_classifier.h"
#include "ops/loss/loss.h"
#include "tasks/toy/majority.h"

using namespace lra;

namespace {

struct Options {
  std::string device = "auto";
  int64_t steps = 0, batch = 0;
  int len = 0, width = 32, hidden = 64;
  double lr = 3e-3, weight_decay = 0.01, clip = 1.0;
  uint64_t seed = 1;
  int eval_every = 50, eval_batches = 8;
  std::string out = "runs/demo";
  bool tf32 = false;
};

// Accuracy over `batches` fresh batches from a held-out generator stream.
double evaluate(models::ToyClassifier& model, const tasks::MajorityTask& task, Device device, int64_t batch,
                int batches, uint64_t seed) {
  autograd::NoGrad no_grad;
  model.eval();
  Generator data(seed), unused(0);
  int64_t correct = 0, total = 0;
  for (int i = 0; i < batches; ++i) {
    tasks::TokenBatch b = task.batch(batch, data);
    Tensor logits = model.forward(b.ids.to(device), b.mask.to(device), unused);
    correct += ops::count_correct(logits, b.labels.to(device));
    total += batch;
  }
  model.train();
  return double(correct) / double(total);
}

int run(const Options& o) {
  Device device = parse_device(o.device);
  set_allow_tf32(o.tf32);
  bool gpu = device == Device::CUDA;
  // The CPU configuration is sized to finish in well under a minute on 2 cores.
  int64_t steps = o.steps ? o.steps : (gpu ? 1500 : 400);
  int64_t batch = o.batch ? o.batch : (gpu ? 256 : 32);
  int len = o.len ? o.len : (gpu ? 512 : 64);

  tasks::MajorityTask task(9, 4, len);
  Generator init(o.seed), data(o.seed + 1), dropout_rng(o.seed + 2);
  models::ToyClassifier model(task.vocab(), o.width, o.hidden, task.classes(), init);
  model.to(device);
  optim::AdamWConfig cfg;
  cfg.lr = o.lr;
  cfg.weight_decay = o.weight_decay;
  cfg.decay_norms_and_biases = false;
  optim::AdamW opt(model.named_parameters(), cfg);
  optim::Schedule schedule = optim::Schedule::cosine(o.lr, steps, o.lr * 0.01).with_warmup(steps / 20);

  std::printf("lra-demo: majority-token classification, %d classes (chance %.0f%%)\n", task.classes(),
              100.0 / task.classes());
  std::printf("device %s | %lld parameters | batch %lld x length %d | %lld steps | schedule %s | seed %llu\n",
              device_name(device), (long long)model.num_parameters(), (long long)batch, len, (long long)steps,
              schedule.to_string().c_str(), (unsigned long long)o.seed);

  auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  int loss_count = 0;
  Tensor running;  // the loss stays on the device between logs: no sync per step
  for (int64_t step = 1; step <= steps; ++step) {
    tasks::TokenBatch b = task.batch(batch, data);
    opt.zero_grad();
    Tensor loss = ops::cross_entropy(model.forward(b.ids.to(device), b.mask.to(device), dropout_rng),
                                     b.labels.to(device));
    loss.backward();
    optim::clip_grad_norm(opt, o.clip);
    double lr = schedule(step);
    opt.step(lr);
    {
      autograd::NoGrad no_grad;
      if (!running.defined()) running = loss.detach().clone();
      else running.add_(loss.detach());
    }
    ++loss_count;
    if (step % o.eval_every == 0 || step == steps) {
      loss_sum = running.item() / loss_count;  // the one sync per log line
      running = Tensor();
      LRA_CHECK(std::isfinite(loss_sum), "loss became ", loss_sum, " at step ", step, " (lr ", lr, ")");
      double acc = evaluate(model, task, device, batch, o.eval_batches, o.seed + 1000);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("step %5lld  loss %.4f  val acc %5.1f%%  lr %.2e  %7.0f seq/s", (long long)step, loss_sum,
                  100 * acc, lr, double(step * batch) / secs);
      if (gpu) std::printf("  gpu peak %.1f MB", double(cuda_memory_stats().peak) / (1 << 20));
      std::printf("\n");
      std::fflush(stdout);
      loss_count = 0;
    }
  }
  double test_acc = evaluate(model, task, device, batch, 4 * o.eval_batches, o.seed + 2000);
  std::printf("test accuracy %.1f%% (chance %.0f%%)\n", 100 * test_acc, 100.0 / task.classes());
  if (!o.out.empty()) {
    std::filesystem::create_directories(o.out);
    std::string path = o.out + "/last.safetensors";
    io::save_checkpoint(path, model, &opt, steps, data, "{\"model\": \"toy_classifier\"}");
    std::printf("checkpoint: %s\n", path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lra-demo: train a tiny sequence classifier on generated data and watch the loss fall.\n"
               "The label of a sequence is the most frequent of tokens 1..4 (tokens 5..8 are distractors)."};
  Options o;
  app.add_option("--device", o.device, "auto (GPU if present), cpu or cuda")->capture_default_str();
  app.add_option("--steps", o.steps, "training steps (default 400 on the CPU, 1500 on the GPU)");
  app.add_option("--batch", o.batch, "sequences per step (default 32 on the CPU, 256 on the GPU)");
  app.add_option("--len", o.len, "maximum sequence length (default 64 on the CPU, 512 on the GPU)");
  app.add_option("--width", o.width, "embedding width")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--hidden", o.hidden, "hidden width")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "peak learning rate (AdamW, warmup then cosine)")->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "decoupled weight decay (not on norms and biases)")
      ->capture_default_str();
  app.add_option("--clip", o.clip, "gradient clipping by global norm")->capture_default_str();
  app.add_option("--seed", o.seed, "seed for initialisation, data and dropout")->capture_default_str();
  app.add_option("--eval-every", o.eval_every, "steps between evaluations")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out", o.out, "directory for the final checkpoint ('' to skip)")->capture_default_str();
  app.add_flag("--tf32", o.tf32, "allow TF32 tensor-core matmuls on the GPU");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-demo: error: %s\n", e.what());
    return 1;
  }
}
