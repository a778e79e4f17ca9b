// Data-parallel training under mpirun (issue 17's contract): the task binaries run as 2 CPU ranks on CI's two
// cores and are compared with one process.
//
// Tolerances. With dropout 0 a 2-rank run differs from one process only in the order of float32 sums: each
// rank's gradient is the sum over its 8 rows, then the two are added (one process adds 16 rows in its own
// order), and the loss is the sum of the two halves' weighted means. That is about one rounding (~6e-8
// relative) per gradient element per step; AdamW normalises the step by sqrt(v), so a relative gradient
// perturbation moves a weight by about lr x 1e-7 per step, and 30 steps at lr 1e-3 stay far below 1e-6.
// Measured here: losses agree to 1.2e-7 absolute and weights to ~1e-7. The bounds (losses 2e-6 relative,
// weights 1e-5 + 1e-4 |w|) are ~10x those, tight enough that a missed all-reduce, a wrong loss share or a
// slice taken twice (errors of 1e-2 and more: see BatchNormWithoutSyncDiffers) fails them.
//
// These tests need mpirun (scripts/setup.sh installs OpenMPI): they FAIL, never skip, without it. CI runs as
// root, which OpenMPI refuses unless told: the command sets OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/io.h"
#include "tests/support/process.h"
#include "tools/train/run_log.h"

namespace {

namespace fs = std::filesystem;
using Output = lra::test::CommandResult;

// The listops configuration of tests/tools/test_trainer.cpp, with every dropout off.
const std::string kSmall =
    " --generate --gen-train 128 --gen-val 48 --gen-min-length 8 --gen-max-length 48 --gen-depth 4 --gen-args 4"
    " --width 32 --depth 1 --mixer heads=2 --ffn 64 --batch 16 --device cpu --log-every 1 --eval-every 10"
    " --seed 7 --plot false --dropout 0 --mixer attention_dropout=0";

std::string binary(const std::string& task) { return std::string(LRA_BINARY_DIR) + "/tools/lra-" + task; }

// mpirun -np N, allowed to run as root, shared-memory transport without ptrace (containers, chroots), one
// OpenMP thread per rank, and a hard timeout so a hang fails the test instead of the CI job.
std::string mpirun(int ranks, const std::string& env = "") {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
         "OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1 " +
         env + " timeout -s KILL 300 " + std::string(LRA_MPIEXEC) + " -np " + std::to_string(ranks) +
         " --oversubscribe --bind-to none ";
}

Output run(int ranks, const std::string& task, const std::string& args, const std::string& env = "") {
  const std::string prefix = ranks == 0 ? "env OMP_NUM_THREADS=1 " + env + " " : mpirun(ranks, env);
  return lra::test::run_command(prefix + binary(task) + " " + args);
}
// ranks 0: one plain process (no launcher at all).
Output listops(int ranks, const std::string& args, const std::string& env = "") {
  return run(ranks, "listops", kSmall + " " + args, env);
}

std::string temp_dir(const std::string& name) {
  fs::path p = lra::test::scratch_dir() / name;
  fs::remove_all(p);
  return p.string();
}

std::vector<nlohmann::json> records(const std::string& dir, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (nlohmann::json& r : lra::train::RunLog(dir).read())
    if (r.at("type") == type) out.push_back(std::move(r));
  return out;
}

void expect_same_losses(const std::string& a, const std::string& b, double rtol = 2e-6) {
  const auto ra = records(a, "train"), rb = records(b, "train");
  ASSERT_EQ(ra.size(), rb.size());
  ASSERT_FALSE(ra.empty());
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i]["step"], rb[i]["step"]);
    const double x = ra[i]["loss"], y = rb[i]["loss"];
    EXPECT_LE(std::abs(x - y), rtol * std::abs(x)) << "step " << ra[i]["step"] << ": " << x << " vs " << y;
  }
}

// The largest |a - b| - 1e-4 |a| over every tensor of two checkpoints (model and optimizer state), except
// those whose name starts with one of `skip`.
double weight_excess(const std::string& a, const std::string& b, const std::vector<std::string>& skip = {}) {
  const lra::io::SafeTensors ta = lra::io::load_safetensors(a), tb = lra::io::load_safetensors(b);
  EXPECT_EQ(ta.tensors.size(), tb.tensors.size());
  double worst = -1;
  for (const auto& [name, t] : ta.tensors) {
    auto it = tb.tensors.find(name);
    if (it == tb.tensors.end()) {
      ADD_FAILURE() << name << " is missing from " << b;
      continue;
    }
    if (t.dtype() != lra::DType::F32) continue;
    if (std::any_of(skip.begin(), skip.end(), [&](const std::string& p) { return name.rfind(p, 0) == 0; })) continue;
    const std::vector<float> x = t.to_vector<float>(), y = it->second.to_vector<float>();
    EXPECT_EQ(x.size(), y.size()) << name;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
      worst = std::max(worst, std::abs(double(x[i]) - double(y[i])) - 1e-4 * std::abs(double(x[i])));
  }
  return worst;
}

void require_mpi() {
  ASSERT_STRNE(LRA_MPIEXEC, "") << "mpirun was not found when this build was configured: run scripts/setup.sh "
                                   "(it installs openmpi-bin libopenmpi-dev) and configure again";
}

class Dist : public testing::Test {
 protected:
  void SetUp() override { require_mpi(); }
};

// The equivalence: 30 steps of 2 ranks at global batch 16 = 30 steps of one process.
TEST_F(Dist, TwoRanksReproduceOneProcess) {
  const std::string one = temp_dir("one"), two = temp_dir("two");
  const Output a = listops(0, "--steps 30 --out " + one);
  ASSERT_EQ(a.status, 0) << a.output;
  const Output b = listops(2, "--steps 30 --out " + two);
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("data-parallel, 2 ranks (launched by OpenMPI, collectives over mpi)"), std::string::npos)
      << b.output;
  expect_same_losses(one, two);
  EXPECT_LE(weight_excess(one + "/last.safetensors", two + "/last.safetensors"), 1e-5);
  // Evaluation counts are summed over ranks: the same examples, the same verdicts.
  const auto va = records(one, "val"), vb = records(two, "val");
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(va[i]["n"], 48);
    EXPECT_EQ(va[i]["n"], vb[i]["n"]);
    EXPECT_EQ(va[i]["acc"], vb[i]["acc"]);
  }
  EXPECT_EQ(records(two, "test").size(), 2u);  // rank 0 alone wrote metrics.jsonl: no line twice
  EXPECT_EQ(records(two, "train").size(), 30u);
}

// Dropout (residual, feed-forward and attention weights) is keyed by the global example index: 2 ranks
// draw the masks one process draws, so the equivalence holds with dropout on too.
TEST_F(Dist, TwoRanksWithDropoutReproduceOneProcess) {
  const std::string one = temp_dir("drop1"), two = temp_dir("drop2");
  const std::string args = "--steps 15 --dropout 0.2 --mixer attention_dropout=0.2 --input-dropout 0.1 --out ";
  ASSERT_EQ(listops(0, args + one).status, 0);
  const Output b = listops(2, args + two);
  ASSERT_EQ(b.status, 0) << b.output;
  expect_same_losses(one, two);
  EXPECT_LE(weight_excess(one + "/last.safetensors", two + "/last.safetensors"), 1e-5);
}

// Text with the denoising objective: the corruption is keyed by row too, and each rank's reconstruction
// loss is weighted by its share of the global batch's scored positions.
TEST_F(Dist, DenoisingReproducesOneProcess) {
  const std::string one = temp_dir("den1"), two = temp_dir("den2");
  const std::string args = " --generate --text-len 64 --steps 8 --batch 6 --eval-every 8 --eval-batches 2 --test-batches 2"
                           " --log-every 1 --device cpu --width 16 --depth 1 --ffn 16 --mixer heads=2 --plot false"
                           " --seed 3 --dropout 0.1 --denoise 0.5 --out ";
  ASSERT_EQ(run(0, "text", args + one).status, 0);
  const Output b = run(2, "text", args + two);
  ASSERT_EQ(b.status, 0) << b.output;
  expect_same_losses(one, two);
  EXPECT_LE(weight_excess(one + "/last.safetensors", two + "/last.safetensors"), 1e-5);
}

// Slices of 7 and 8 rows (batch 15), an evaluation split whose last batch is 7 (3 + 4), and a training split
// that is not a whole number of batches.
TEST_F(Dist, OddSizesMatchOneProcess) {
  const std::string one = temp_dir("odd1"), two = temp_dir("odd2");
  const std::string args = "--steps 12 --batch 15 --gen-train 101 --gen-val 37 --eval-every 6 --out ";
  const Output a = listops(0, args + one);
  ASSERT_EQ(a.status, 0) << a.output;
  const Output b = listops(2, args + two);
  ASSERT_EQ(b.status, 0) << b.output;
  expect_same_losses(one, two);
  EXPECT_LE(weight_excess(one + "/last.safetensors", two + "/last.safetensors"), 1e-5);
  const auto vb = records(two, "val");
  ASSERT_EQ(vb.size(), 2u);
  EXPECT_EQ(vb[0]["n"], 37);
  EXPECT_EQ(records(one, "val")[1]["acc"], vb[1]["acc"]);
}

// Three ranks on two cores: slices of 5, 5 and 6, and an evaluation batch of 7 split 2/2/3.
TEST_F(Dist, ThreeRanksMatchOneProcess) {
  const std::string one = temp_dir("three1"), three = temp_dir("three3");
  const std::string args = "--steps 6 --batch 16 --gen-val 37 --eval-every 6 --out ";
  ASSERT_EQ(listops(0, args + one).status, 0);
  const Output c = listops(3, args + three);
  ASSERT_EQ(c.status, 0) << c.output;
  expect_same_losses(one, three);
  EXPECT_EQ(records(three, "val")[0]["n"], 37);
}

TEST_F(Dist, BatchNormSyncMatchesOneProcess) {
  const std::string one = temp_dir("bn1"), two = temp_dir("bn2");
  const std::string args = "--steps 20 --norm batch --out ";
  ASSERT_EQ(listops(0, args + one).status, 0);
  const Output b = listops(2, args + two);
  ASSERT_EQ(b.status, 0) << b.output;
  expect_same_losses(one, two);
  // Running statistics included. Skipped: the bias of the last linear layer before the final BatchNorm, whose
  // exact gradient is zero (BatchNorm removes any constant shift of its input): its computed gradient is
  // rounding noise, which AdamW's m / sqrt(v) turns into steps of about lr in a noise-given direction, so it
  // and the running mean it shifts differ between ANY two summation orders (measured 5e-3), not only here.
  EXPECT_LE(weight_excess(one + "/last.safetensors", two + "/last.safetensors",
                          {"blocks.0.ffn.fc2.bias", "final_norm.running_mean"}),
            1e-5);
}

TEST_F(Dist, BatchNormWithoutSyncDiffers) {
  const std::string one = temp_dir("nobn1"), two = temp_dir("nobn2");
  const std::string args = "--steps 20 --norm batch --out ";
  ASSERT_EQ(listops(0, args + one).status, 0);
  const Output b = listops(2, args + two + " --sync-bn false");
  ASSERT_EQ(b.status, 0) << b.output;
  // Each rank normalises with its own 8 rows: the losses part from one process's by far more than rounding.
  const auto ra = records(one, "train"), rb = records(two, "train");
  ASSERT_EQ(ra.size(), rb.size());
  double worst = 0;
  for (size_t i = 0; i < ra.size(); ++i) worst = std::max(worst, std::abs(double(ra[i]["loss"]) - double(rb[i]["loss"])));
  EXPECT_GT(worst, 1e-3);
  // The checkpoint holds rank 0's running statistics, the ones every rank evaluated with.
  EXPECT_EQ(records(two, "val").size(), 2u);
}

// --resume from a 2-rank checkpoint onto 1 rank and onto 2 ranks continues the uninterrupted run.
TEST_F(Dist, ResumeAcrossWorldSizes) {
  const std::string whole = temp_dir("whole"), base = temp_dir("half");
  ASSERT_EQ(listops(0, "--steps 30 --out " + whole).status, 0);
  const Output stopped = listops(2, "--steps 30 --stop-after 15 --out " + base);
  EXPECT_EQ(stopped.status, 130) << stopped.output;
  EXPECT_NE(stopped.output.find("--resume"), std::string::npos) << stopped.output;
  for (int ranks : {0, 2}) {
    SCOPED_TRACE(testing::Message() << "resumed on " << (ranks == 0 ? 1 : ranks) << " rank(s)");
    const std::string dir = temp_dir("resumed" + std::to_string(ranks));
    fs::copy(base, dir, fs::copy_options::recursive);
    const Output r = listops(ranks, "--steps 30 --resume --out " + dir);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
    expect_same_losses(whole, dir);
    EXPECT_LE(weight_excess(whole + "/last.safetensors", dir + "/last.safetensors"), 1e-5);
  }
}

// --eval of one checkpoint by 1 and by 2 ranks: the same counts, confusion matrix included.
TEST_F(Dist, EvaluationCountsMatch) {
  const std::string dir = temp_dir("evaluated");
  ASSERT_EQ(listops(0, "--steps 5 --out " + dir).status, 0);
  const std::string args = "--eval " + dir + "/last.safetensors --generate --gen-train 128 --gen-val 48 "
                           "--gen-min-length 8 --gen-max-length 48 --gen-depth 4 --gen-args 4 --split val --batch 10";
  const Output a = run(0, "listops", args), b = run(2, "listops", args);
  ASSERT_EQ(a.status, 0) << a.output;
  ASSERT_EQ(b.status, 0) << b.output;
  const auto table = [](const std::string& out) {
    const size_t at = out.find("val: ");
    return at == std::string::npos ? std::string() : out.substr(at);
  };
  EXPECT_NE(table(a.output).find("val: 48 examples"), std::string::npos) << a.output;
  EXPECT_EQ(table(a.output), table(b.output));
}

TEST_F(Dist, KilledRankEndsTheJob) {
  const auto t0 = std::chrono::steady_clock::now();
  const Output r = listops(2, "--steps 30 --out " + temp_dir("killed"), "LRA_DIST_FAULT=kill:1:5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 120);
}

TEST_F(Dist, HungRankTimesOutNamingIt) {
  const auto t0 = std::chrono::steady_clock::now();
  const Output r = listops(2, "--steps 30 --dist-timeout 4 --out " + temp_dir("hung"), "LRA_DIST_FAULT=hang:1:5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("rank 1 did not reach step 5 within 4 s"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60);
}

TEST_F(Dist, NanOnOneRankStopsEveryRank) {
  const Output r = listops(2, "--steps 30 --out " + temp_dir("nan"), "LRA_DIST_FAULT=nan:1:3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("the training loss became nan between steps 3 and 3"), std::string::npos) << r.output;
}

TEST_F(Dist, AnErrorOnOneRankEndsTheJobNamingIt) {
  const Output r = listops(2, "--steps 30 --out " + temp_dir("threw"), "LRA_DIST_FAULT=throw:1:4");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("lra-listops: rank 1: error: LRA_DIST_FAULT: an injected error at step 4"),
            std::string::npos)
      << r.output;
}

// SIGUSR1 to mpirun (which forwards it to every rank) stops a data-parallel run cleanly: every rank stops
// after the same step, rank 0 saves the checkpoint, and the job exits with the interrupted status.
TEST_F(Dist, Sigusr1StopsEveryRankWithACheckpoint) {
  const std::string dir = temp_dir("usr1");
  // mpirun itself must get the signal ($! is mpirun: env execs it), so no timeout wrapper between them; the
  // outer timeout guards the test.
  const std::string cmd = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                          "OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1 " +
                          std::string(LRA_MPIEXEC) + " -np 2 --oversubscribe --bind-to none " + binary("listops") +
                          kSmall + " --steps 1000000 --eval-every 1000000 --out " + dir;
  // The signal is sent once step 1 is logged (the handler is installed by then: before it, SIGUSR1's
  // default action would end the process), however slow a loaded machine starts the job.
  const Output r = lra::test::run_command(
      "timeout -s KILL 120 bash -c '" + cmd + " & pid=$!; until grep -qs train " + dir +
      "/metrics.jsonl; do sleep 0.2; done; sleep 1; kill -USR1 $pid; wait $pid'");
  EXPECT_EQ(r.status, 130) << r.output;
  EXPECT_NE(r.output.find("interrupted (SIGUSR1)"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/last.safetensors"));
  const auto train = records(dir, "train");
  ASSERT_FALSE(train.empty());
  EXPECT_EQ(lra::io::load_safetensors_metadata(dir + "/last.safetensors").at("step"),
            std::to_string(int64_t(train.back()["step"])));
}

// Every task binary trains under mpirun (Pathfinder: rank 0 generates the images, rank 1 reads them).
TEST_F(Dist, EveryTaskBinaryTrains) {
  const std::string common = " --generate --steps 4 --batch 4 --eval-every 4 --eval-batches 2 --test-batches 2"
                             " --log-every 1 --device cpu --width 16 --depth 1 --ffn 16 --mixer heads=2 --plot false"
                             " --seed 3 --out ";
  const std::string fashion = std::string(LRA_SOURCE_DIR) + "/tests/data/image/fashion";
  const std::vector<std::pair<std::string, std::string>> tasks = {
      {"listops", "--gen-train 16 --gen-val 8 --gen-min-length 8 --gen-max-length 32 --gen-depth 3 --gen-args 3"},
      {"text", "--text-len 64"},
      {"retrieval", "--text-len 64 --gen-train 16 --interaction nli"},
      {"image", "--fashion-mnist '" + fashion + "' --max-len 256 --input tokens"},
      {"pathfinder", "--gen-count 20 --max-len 256 --input scalars"},
  };
  for (const auto& [task, extra] : tasks) {
    SCOPED_TRACE(task);
    const std::string dir = temp_dir("task-" + task);
    const Output r = run(2, task, extra + common + dir);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(records(dir, "train").size(), 4u) << "metrics.jsonl is written by rank 0 alone";
    EXPECT_EQ(records(dir, "test").size(), 2u);
    EXPECT_TRUE(fs::exists(dir + "/best.safetensors"));
  }
}

}  // namespace
