// lra-probe locality and positional (tools/probe/experiments.h): the variants and the paper's numbers
// each carries, the errors in the lists, and end to end on every task at a tiny size: each variant's
// settings reach its run (the run's own config.toml is read back), the results are the runs' test
// records, a second call reuses finished runs and continues an interrupted one, a run started with other
// arguments is refused, and failed runs are recorded and make the command fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tools/probe/experiments.h"

namespace {

namespace fs = std::filesystem;
using lra::probe::Experiment;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read(p)); }

const std::string kBin = std::string(LRA_BINARY_DIR) + "/tools/";

TEST(ProbeExperiments, LocalityHasOneVariantPerKernelWithThePapersRow) {
  const Experiment e = lra::probe::locality_experiment("listops", "5,61,9");
  ASSERT_EQ(e.variants.size(), 3u);
  EXPECT_EQ(e.config, "configs/listops/residual_conv.toml");
  EXPECT_EQ(e.variants[0].sets, std::vector<std::string>{"mixer.kernel_size=5"});
  EXPECT_EQ(e.variants[1].sets, std::vector<std::string>{"mixer.kernel_size=61"});
  EXPECT_DOUBLE_EQ(e.variants[0].x, 5);
  EXPECT_DOUBLE_EQ(e.variants[0].paper, 45.24);  // Table 1, ListOps
  EXPECT_DOUBLE_EQ(e.variants[1].paper, 52.73);
  EXPECT_TRUE(std::isnan(e.variants[2].paper));  // 9 is not in the paper's table
  EXPECT_DOUBLE_EQ(lra::probe::locality_experiment("image", "61").variants[0].paper, 83.62);
  EXPECT_DOUBLE_EQ(lra::probe::locality_experiment("pathfinder", "61").variants[0].paper, 72.28);
}

TEST(ProbeExperiments, BadKernelListsAndTasksAreReadableErrors) {
  for (const std::string bad : {"4", "x", "5,5", "", "-3", "5;7", "7a"}) {
    const std::string err = error_of([&] { lra::probe::locality_experiment("listops", bad); });
    EXPECT_NE(err.find("--kernels"), std::string::npos) << "'" << bad << "': " << err;
  }
  const std::string err = error_of([] { lra::probe::locality_experiment("pathx", "5"); });
  EXPECT_NE(err.find("--task must be one of listops"), std::string::npos) << err;
  const std::string bad_variant = error_of([] { lra::probe::positional_experiment("text", "rotary,alibi"); });
  EXPECT_NE(bad_variant.find("--variants: 'alibi'"), std::string::npos) << bad_variant;
}

TEST(ProbeExperiments, PositionalVariantsSwitchThePositionAndTheRotaryKey) {
  const Experiment e = lra::probe::positional_experiment("text", "rotary,learned,sinusoidal,none,rotary_plain");
  ASSERT_EQ(e.variants.size(), 5u);
  EXPECT_EQ(e.config, "configs/text/rotary_transformer.toml");
  EXPECT_TRUE(e.variants[0].sets.empty());  // the recipe as it is
  EXPECT_EQ(e.variants[1].sets, (std::vector<std::string>{"position=learned", "mixer.rotary=none"}));
  EXPECT_EQ(e.variants[2].sets, (std::vector<std::string>{"position=sinusoidal", "mixer.rotary=none"}));
  EXPECT_EQ(e.variants[3].sets, (std::vector<std::string>{"position=none", "mixer.rotary=none"}));
  EXPECT_EQ(e.variants[4].sets, std::vector<std::string>{"denoise=0"});  // text's technique
  EXPECT_DOUBLE_EQ(e.variants[0].paper, 90.33);                          // Table 4, Text
  EXPECT_DOUBLE_EQ(e.variants[1].paper, 64.49);
  EXPECT_DOUBLE_EQ(e.variants[2].paper, 88.47);
  EXPECT_TRUE(std::isnan(e.variants[3].paper));  // no column for "none"
  EXPECT_DOUBLE_EQ(e.variants[4].paper, 69.73);
  EXPECT_EQ(lra::probe::positional_experiment("pathfinder", "rotary_plain").variants[0].sets,
            std::vector<std::string>{"difficulty=hard"});
  EXPECT_EQ(lra::probe::positional_experiment("listops", "rotary_plain").variants[0].sets,
            std::vector<std::string>{"augment=false"});
}

TEST(ProbeExperiments, ReadRunNeedsBothTestRecords) {
  const fs::path dir = lra::test::scratch_dir() / "read_run";
  fs::create_directories(dir);
  EXPECT_EQ(lra::probe::read_run(dir.string()).status, "failed");
  {
    std::ofstream f(dir / "metrics.jsonl");
    f << R"({"type":"train","step":10,"loss":2.0,"acc":0.2,"elapsed_s":3.5})" << "\n"
      << R"({"type":"val","step":10,"loss":2.0,"acc":0.3})" << "\n"
      << R"({"type":"val","step":20,"loss":2.0,"acc":0.25})" << "\n"
      << R"({"type":"test","step":20,"checkpoint":"last","acc":0.27})" << "\n";
  }
  const auto partial = lra::probe::read_run(dir.string());
  EXPECT_EQ(partial.status, "failed");
  EXPECT_NE(partial.error.find("no test records"), std::string::npos) << partial.error;
  {
    std::ofstream f(dir / "metrics.jsonl", std::ios::app);
    f << R"({"type":"test","step":10,"checkpoint":"best","acc":0.31})" << "\n";
  }
  const auto r = lra::probe::read_run(dir.string());
  EXPECT_EQ(r.status, "done");
  EXPECT_DOUBLE_EQ(r.test_best, 0.31);
  EXPECT_DOUBLE_EQ(r.test_last, 0.27);
  EXPECT_DOUBLE_EQ(r.val_best, 0.3);
  EXPECT_EQ(r.steps, 20);
  EXPECT_DOUBLE_EQ(r.wall_s, 3.5);
}

// Tiny overrides per task, after the --small scale: a few steps, little data, capped evaluations.
std::string tiny(const std::string& task) {
  std::string data;
  if (task == "listops") data = " --gen-train 64 --gen-val 16";
  if (task == "text" || task == "retrieval") data = " --text-len 64";
  return std::string(task == "pathfinder" ? " --gen-count 20" : "") +
         " --threads 1 --device cpu --quiet -- --set steps=2 eval_every=1 eval_batches=1 test_batches=1 plot=false" +
         data;
}

std::string toml_value(const fs::path& config, const std::string& key) {
  std::istringstream in(read(config));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + " = ", 0) == 0) return line.substr(key.size() + 3);
  return "";
}

// Every task's small scale is accepted by its binary, and each variant's setting reaches its run (one
// test per task, so ctest runs them side by side).
class ProbeExperimentTask : public ::testing::TestWithParam<std::string> {};

TEST_P(ProbeExperimentTask, BothExperimentsRunAtATinySize) {
  const std::string task = GetParam();
  const fs::path out = lra::test::scratch_dir() / ("tiny-" + task);
  const auto loc = lra::test::run_command(kBin + "lra-probe locality --task " + task +
                                          " --small --kernels 3,5 --no-plot --out " + (out / "loc").string() +
                                          tiny(task));
  ASSERT_EQ(loc.status, 0) << loc.output;
  const auto lj = read_json(out / "loc" / "locality.json");
  ASSERT_EQ(lj["variants"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto& v = lj["variants"][i];
    const auto& run = v["runs"][0];
    EXPECT_EQ(run["status"], "done") << v.dump();
    const double acc = run["test_acc"].get<double>();
    EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
    EXPECT_EQ(toml_value(fs::path(run["run_dir"].get<std::string>()) / "config.toml", "kernel_size"),
              i == 0 ? "3" : "5");
    EXPECT_EQ(toml_value(fs::path(run["run_dir"].get<std::string>()) / "config.toml", "width"), "32");
  }
  EXPECT_NE(read(out / "loc" / "locality.md").find("| K = 5 |"), std::string::npos);
  if (task == "pathfinder") {  // drawn once into OUT/data, read by every run
    EXPECT_TRUE(fs::exists(out / "loc" / "data" / "pathfinder32"));
    for (const char* k : {"K3", "K5"}) {
      const std::string args = read(out / "loc" / "runs" / k / "probe_args.txt");
      EXPECT_NE(args.find("--data " + (out / "loc" / "data").string()), std::string::npos) << args;
      EXPECT_EQ(args.find("--generate"), std::string::npos) << args;
      EXPECT_FALSE(fs::exists(out / "loc" / "runs" / k / "data"));
    }
  }

  const auto pos = lra::test::run_command(kBin + "lra-probe positional --task " + task +
                                          " --small --variants rotary,learned --no-plot --out " +
                                          (out / "pos").string() + tiny(task));
  ASSERT_EQ(pos.status, 0) << pos.output;
  const auto pj = read_json(out / "pos" / "positional.json");
  ASSERT_EQ(pj["variants"].size(), 2u);
  const fs::path rotary = pj["variants"][0]["runs"][0]["run_dir"].get<std::string>();
  const fs::path learned = pj["variants"][1]["runs"][0]["run_dir"].get<std::string>();
  EXPECT_EQ(toml_value(rotary / "config.toml", "position"), "\"none\"");
  EXPECT_NE(toml_value(rotary / "config.toml", "rotary"), "\"none\"");
  EXPECT_EQ(toml_value(learned / "config.toml", "position"), "\"learned\"");
  EXPECT_EQ(toml_value(learned / "config.toml", "rotary"), "\"none\"");
}

INSTANTIATE_TEST_SUITE_P(Tasks, ProbeExperimentTask, ::testing::ValuesIn(lra::probe::experiment_tasks()),
                         [](const auto& info) { return info.param; });

TEST(ProbeExperiments, ASecondCallReusesFinishedRunsAndResumesAnInterruptedOne) {
  const fs::path out = lra::test::scratch_dir() / "reuse";
  const std::string cmd =
      kBin + "lra-probe locality --task listops --small --kernels 3,5 --out " + out.string() + tiny("listops");
  const auto first = lra::test::run_command(cmd);
  ASSERT_EQ(first.status, 0) << first.output;
  ASSERT_TRUE(fs::exists(out / "locality.png") || first.output.find("not drawn") != std::string::npos)
      << first.output;
  const auto j1 = read_json(out / "locality.json");

  // K3 finished: reused as it is. K5 loses its test records, as a run stopped before its end would.
  const fs::path k5 = out / "runs" / "K5" / "metrics.jsonl";
  std::string kept;
  {
    std::istringstream in(read(k5));
    for (std::string line; std::getline(in, line);)
      if (line.find("\"test\"") == std::string::npos) kept += line + "\n";
  }
  std::ofstream(k5) << kept;
  const auto k3_time = fs::last_write_time(out / "runs" / "K3" / "metrics.jsonl");
  const auto second = lra::test::run_command(cmd);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("K = 3, seed 1: test"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("[reused]"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("K = 5, seed 1 (resumed)"), std::string::npos) << second.output;
  EXPECT_EQ(fs::last_write_time(out / "runs" / "K3" / "metrics.jsonl"), k3_time);
  const auto j2 = read_json(out / "locality.json");
  EXPECT_EQ(j2["variants"][0]["runs"][0]["status"], "reused");
  EXPECT_EQ(j2["variants"][1]["runs"][0]["status"], "done");
  // The resumed run tests the same weights (resumed at its last step): the same accuracies.
  EXPECT_EQ(j2["variants"][1]["test_acc_last"], j1["variants"][1]["test_acc_last"]);

  // Other arguments on the same folder are refused, naming the run; --fresh starts again.
  const auto other = lra::test::run_command(kBin + "lra-probe locality --task listops --small --kernels 3 --out " +
                                            out.string() + tiny("listops") + " --set lr=0.01");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find("was started with other arguments"), std::string::npos) << other.output;
  const auto fresh = lra::test::run_command(kBin +
                                            "lra-probe locality --task listops --small --kernels 3 --fresh --out " +
                                            out.string() + tiny("listops") + " --set lr=0.01");
  EXPECT_EQ(fresh.status, 0) << fresh.output;
  EXPECT_EQ(fresh.output.find("[reused]"), std::string::npos) << fresh.output;
}

TEST(ProbeExperiments, MoreSeedsAddRunsBesideTheFirstAndTheTableShowsTheirMean) {
  const fs::path out = lra::test::scratch_dir() / "seeds";
  const std::string cmd = kBin + "lra-probe positional --task listops --small --variants none --out " + out.string();
  const auto one = lra::test::run_command(cmd + " --seeds 1" + tiny("listops"));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto two = lra::test::run_command(cmd + " --seeds 2" + tiny("listops"));
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("no encoding, seed 1: test"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("[reused]"), std::string::npos) << two.output;  // seed 1 from the first call
  EXPECT_EQ(toml_value(out / "runs" / "none-seed2" / "config.toml", "seed"), "2");
  const auto j = read_json(out / "positional.json");
  const auto& runs = j["variants"][0]["runs"];
  ASSERT_EQ(runs.size(), 2u);
  const double mean = (runs[0]["test_acc"].get<double>() + runs[1]["test_acc"].get<double>()) / 2;
  EXPECT_NEAR(j["variants"][0]["test_acc"].get<double>(), 100 * mean, 0.006);
  const std::string md = read(out / "positional.md");
  EXPECT_NE(md.find("mean of 2 seeds"), std::string::npos) << md;
  char each[64];
  std::snprintf(each, sizeof each, " [%.1f, %.1f]", 100 * runs[0]["test_acc"].get<double>(),
                100 * runs[1]["test_acc"].get<double>());
  EXPECT_NE(md.find(each), std::string::npos) << md;
}

TEST(ProbeExperiments, FailedRunsAreRecordedAndTheCommandFails) {
  const fs::path out = lra::test::scratch_dir() / "failing";
  const auto r = lra::test::run_command(kBin + "lra-probe locality --task listops --small --kernels 3,5 --out " +
                                        out.string() + tiny("listops") + " --set no_such_setting=1");
  EXPECT_NE(r.status, 0);
  const auto j = read_json(out / "locality.json");
  EXPECT_EQ(j["failed_runs"], 2);
  for (const auto& v : j["variants"]) {
    EXPECT_EQ(v["runs"][0]["status"], "failed");
    EXPECT_TRUE(v["test_acc"].is_null());
    const std::string err = v["runs"][0]["error"];
    EXPECT_NE(err.find("no_such_setting"), std::string::npos) << err;  // the trainer's own message
    EXPECT_NE(err.find(".log"), std::string::npos) << err;
  }
  EXPECT_NE(read(out / "locality.md").find("(failed)"), std::string::npos);
}

TEST(ProbeExperiments, TheFullRecipeNeedsData) {
  const fs::path out = lra::test::scratch_dir() / "nodata";
  const auto r = lra::test::run_command(kBin + "lra-probe positional --task image --out " + out.string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("needs --data DIR"), std::string::npos) << r.output;
  const auto both = lra::test::run_command(kBin + "lra-probe positional --task image --small --data /x --out " +
                                           out.string());
  EXPECT_NE(both.output.find("--small generates its data"), std::string::npos) << both.output;
  EXPECT_FALSE(fs::exists(out / "runs"));  // nothing started
}

}  // namespace
