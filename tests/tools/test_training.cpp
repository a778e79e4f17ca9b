// End-to-end training tests: a small classifier learns on the CPU (and on the GPU where there is one),
// a checkpoint resumes to the identical next step, a GPU step allocates nothing after the first, and
// the demo binary runs and reports errors plainly.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/autograd.h"
#include "engine/io.h"
#include "engine/optim.h"
#include "models/toy/toy_classifier.h"
#include "ops/loss/loss.h"
#include "tasks/toy/majority.h"
#include "tests/support/compare.h"
#include "tests/support/process.h"

namespace lra {
namespace {

struct Trainer {
  tasks::MajorityTask task{9, 4, 32};
  Generator init{11}, data{12}, dropout{13};
  models::ToyClassifier model{task.vocab(), 16, 32, task.classes(), init};
  std::unique_ptr<optim::AdamW> opt;

  explicit Trainer(Device device) {
    model.to(device);
    optim::AdamWConfig cfg;
    cfg.weight_decay = 0.01;
    opt = std::make_unique<optim::AdamW>(model.named_parameters(), cfg);
  }
  double step(const tasks::TokenBatch& b, Device device, double lr = 3e-3) {
    opt->zero_grad();
    Tensor loss = ops::cross_entropy(model.forward(b.ids.to(device), b.mask.to(device), dropout), b.labels.to(device));
    loss.backward();
    optim::clip_grad_norm(*opt, 1.0);
    opt->step(lr);
    return loss.item();
  }
  double accuracy(Device device) {
    autograd::NoGrad no_grad;
    model.eval();
    Generator held_out(999);
    tasks::TokenBatch b = task.batch(512, held_out);
    double acc = double(ops::count_correct(model.forward(b.ids.to(device), b.mask.to(device), dropout),
                                           b.labels.to(device))) / 512.0;
    model.train();
    return acc;
  }
};

void trains_to_low_loss(Device device) {
  Trainer t(device);
  double first = 0, last = 0;
  const int steps = 250;
  for (int i = 0; i < steps; ++i) {
    double loss = t.step(t.task.batch(32, t.data), device);
    if (i < 10) first += loss / 10;
    if (i >= steps - 20) last += loss / 20;
  }
  EXPECT_GT(first, 1.0) << "an untrained 4-way classifier starts near ln 4 = 1.39";
  EXPECT_LT(last, 0.6) << "loss must fall well below chance level";
  EXPECT_GT(t.accuracy(device), 0.75) << "held-out accuracy must be far above chance (25%)";
}

TEST(Training, ClassifierLearnsOnCpu) { trains_to_low_loss(Device::CPU); }

TEST(Training, ClassifierLearnsOnGpu) {
  LRA_REQUIRE_CUDA();
  trains_to_low_loss(Device::CUDA);
}

TEST(Training, CheckpointResumesToTheIdenticalNextStep) {
  std::string path = (lra::test::scratch_dir() / "lra_resume_test.safetensors").string();
  Trainer a(Device::CPU);
  for (int i = 0; i < 5; ++i) a.step(a.task.batch(16, a.data), Device::CPU);
  io::save_checkpoint(path, a.model, a.opt.get(), 5, a.dropout, "{}");
  tasks::TokenBatch next = a.task.batch(16, a.data);
  double expected = a.step(next, Device::CPU);

  Trainer b(Device::CPU);  // same architecture, different state until loaded
  b.step(b.task.batch(16, b.data), Device::CPU);
  io::CheckpointInfo info = io::load_checkpoint(path, b.model, b.opt.get(), &b.dropout);
  EXPECT_EQ(info.step, 5);
  double resumed = b.step(next, Device::CPU);
  EXPECT_EQ(resumed, expected) << "save -> load -> step must reproduce the uninterrupted loss exactly";
  auto pa = a.model.named_parameters(), pb = b.model.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(test::all_close(pb[i].tensor, pa[i].tensor, 0, 0, pa[i].name));
  std::filesystem::remove(path);
}

TEST(Training, CheckpointOfAnotherModelIsRefused) {
  std::string path = (lra::test::scratch_dir() / "lra_mismatch_test.safetensors").string();
  Generator g(1);
  models::ToyClassifier small(9, 16, 32, 4, g), wide(9, 24, 32, 4, g);
  io::save_checkpoint(path, small, nullptr, 0, g, "{}");
  try {
    io::load_checkpoint(path, wide, nullptr, nullptr);
    FAIL() << "loading a checkpoint of a different width must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("embed"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Training, GpuStepsMakeNoNewAllocationsAfterTheFirst) {
  LRA_REQUIRE_CUDA();
  Trainer t(Device::CUDA);
  tasks::TokenBatch b = t.task.batch(32, t.data);
  t.step(b, Device::CUDA);
  t.step(b, Device::CUDA);
  size_t mallocs = cuda_memory_stats().device_mallocs;
  for (int i = 0; i < 5; ++i) t.step(b, Device::CUDA);
  EXPECT_EQ(cuda_memory_stats().device_mallocs, mallocs) << "steady-state steps must be served by the cache";
}

std::string run_command(const std::string& cmd, int* status) {
  test::CommandResult r = test::run_command(cmd);
  *status = r.status;
  return r.output;
}

TEST(DemoBinary, TrainsAndWritesACheckpoint) {
  std::string dir = (lra::test::scratch_dir() / "lra_demo_run").string();
  std::filesystem::remove_all(dir);
  int status = 0;
  std::string out = run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-demo --device cpu --steps 20 --eval-every 10 --out " + dir, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("step    20"), std::string::npos) << out;
  EXPECT_NE(out.find("test accuracy"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/last.safetensors")) << out;
  std::filesystem::remove_all(dir);
}

TEST(DemoBinary, BadFlagsGiveAClearError) {
  int status = 0;
  std::string out = run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-demo --device tpu --out ''", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("unknown device 'tpu'"), std::string::npos) << out;
  if (!cuda_available()) {
    out = run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-demo --device cuda --out ''", &status);
    EXPECT_NE(status, 0);
    EXPECT_NE(out.find("--device cuda"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace lra
