// The training benchmarks: bench_train's generic row trains any registered mixer, and lra-speed
// (tools/bench/lra_speed.cpp) puts it beside PyTorch's model of the same settings — the parameter counts
// of the two sides must agree, or the table compares different models. Checked on one attention and one
// convolution mixer (a PyTorch process per cell costs seconds; the oracle's per-mixer layout is the parity
// tests' business).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/process.h"

namespace {

const std::string kBin = std::string(LRA_BINARY_DIR) + "/tools/";

TEST(BenchTrain, GenericRowTrainsAnyMixerAndPrintsItsSettings) {
  auto r = lra::test::run_command(kBin + "bench_train --device cpu --model local --mixer block=4 --length 12 "
                                         "--steps 1 --warmup 0");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["model"], "local");
  EXPECT_EQ(j["length"], 12);
  EXPECT_GT(j["ms_per_step"].get<double>(), 0.0);
  EXPECT_GE(j["peak_host_MB"].get<double>(), 0.0);
  EXPECT_EQ(j["mixer"]["block"], "4");
  EXPECT_EQ(j["mixer"]["heads"], "4");
  EXPECT_EQ(j["mixer"]["attention_dropout"], "0");  // every *dropout key is off for timing
}

// --profile splits both directions by op: the forward at each tape record, the backward around each node.
TEST(BenchTrain, ProfileBreaksTheForwardAndTheBackwardDownByOp) {
  auto r = lra::test::run_command(kBin + "bench_train --device cpu --model transformer --length 16 --width 16 "
                                         "--depth 1 --steps 1 --warmup 0 --profile-steps 1 --profile -");
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t fwd = r.output.find("Forward + loss by op");
  const size_t bwd = r.output.find("Backward by tape node");
  ASSERT_NE(fwd, std::string::npos) << r.output;
  ASSERT_NE(bwd, std::string::npos) << r.output;
  ASSERT_LT(fwd, bwd);
  // Every op that records in the forward has a row there, with the calls of one step.
  const std::string forward = r.output.substr(fwd, bwd - fwd);
  for (const char* row : {"| embedding | 1 |", "| layer_norm |", "| linear |", "| cross_entropy | 1 |"})
    EXPECT_NE(forward.find(row), std::string::npos) << row << " missing from\n" << forward;
}

TEST(BenchTrain, GenericRowNeedsAModelAndFixedRowsRefuseOne) {
  auto r = lra::test::run_command(kBin + "bench_train --device cpu --config lra_text --steps 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("needs --model"), std::string::npos) << r.output;
  r = lra::test::run_command(kBin + "bench_train --device cpu --config s4d_listops --model s4d --steps 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--model is for the generic configuration"), std::string::npos) << r.output;
}

// lra-speed runs each cell as its own process: bench_train for the engine, torch_speed.py for PyTorch
// (here Debian's 1.13, the interpreter CI has). Both sides must build the same model (equal parameter
// counts), every measurement lands in the JSON lines, and the table has a row per model and length.
TEST(LraSpeed, BothSidesBuildTheSameModelAndTheTablesFollow) {
  const std::string jsonl = (lra::test::scratch_dir() / "lra_speed.jsonl").string();
  auto r = lra::test::run_command(kBin + "lra-speed --models s4d,transformer --lengths 16,24 --small --batch 1 "
                                         "--steps 1 --warmup 0 --threads 1 --rounds 2 --with-torch --torch-python " LRA_PYTHON
                                         " --jsonl " + jsonl);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream f(jsonl);
  std::map<std::string, std::map<std::string, std::vector<long>>> params;  // model -> side -> counts per cell
  std::map<std::string, std::string> compile_error;           // model -> the torch-compile cell's error
  std::string line;
  int measurements = 0;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("lra_speed_run")) {
      EXPECT_EQ(j["lra_speed_run"]["device"], "cpu");
      EXPECT_NE(j["lra_speed_run"]["torch"].get<std::string>().find("PyTorch 1.13"), std::string::npos) << line;
      continue;
    }
    ++measurements;
    const std::string side = j["side"];
    if (side == "torch-compile fp32") {  // torch 1.13 has no torch.compile: the cell says so, the run goes on
      ASSERT_TRUE(j.contains("error")) << line;
      compile_error[j["model"]] = j["error"];
      continue;
    }
    ASSERT_FALSE(j.contains("error")) << line;
    EXPECT_GT(j["ms_per_step"].get<double>(), 0.0) << line;
    params[j["model"]][side].push_back(j["params"].get<long>());
  }
  // models x lengths x (engine, eager, compile) x rounds; the second round runs PyTorch first, from the
  // settings of a probe at 16 tokens, which must build the same model as the engine's own cell.
  EXPECT_EQ(measurements, 2 * 2 * 3 * 2);
  ASSERT_EQ(params.size(), 2u);
  for (const auto& [model, sides] : params) {
    ASSERT_EQ(sides.size(), 2u) << model;
    ASSERT_EQ(sides.at("engine fp32").size(), 4u) << model;
    for (long p : sides.at("torch-eager fp32"))
      EXPECT_EQ(p, sides.at("engine fp32").front()) << model << ": the two sides build different models";
    EXPECT_NE(compile_error[model].find("torch.compile"), std::string::npos) << compile_error[model];
  }
  // The paper's layout (the Transformer first, the others with their speed-up), then engine against PyTorch.
  EXPECT_NE(r.output.find("### engine fp32"), std::string::npos) << r.output;
  EXPECT_LT(r.output.find("| transformer |"), r.output.find("| s4d |")) << r.output;
  EXPECT_NE(r.output.find("| s4d | 24 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no compile"), std::string::npos) << r.output;
  // The bars summary: one row per model, its worst length against PyTorch eager (no compile in 1.13).
  EXPECT_NE(r.output.find("### the bars, fp32"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| s4d | "), r.output.rfind("| s4d | ")) << r.output;
  EXPECT_NE(r.output.find("width 64, 2 layers, 4 heads, MLP 128, batch 1"), std::string::npos) << r.output;
  // --from-jsonl prints the same tables from the file alone.
  auto again = lra::test::run_command(kBin + "lra-speed --from-jsonl " + jsonl);
  ASSERT_EQ(again.status, 0) << again.output;
  const std::string tables = r.output.substr(r.output.find("## LRA speed"));
  EXPECT_EQ(again.output.substr(again.output.find("## LRA speed")), tables);
}

TEST(LraSpeed, ACellOverTimeIsMarkedAndTheRunGoesOn) {
  auto r = lra::test::run_command(kBin + "lra-speed --models transformer --lengths 16 --small --steps 1 --warmup 0 "
                                         "--threads 1 --timeout 0.001");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| transformer | timeout | timeout |"), std::string::npos) << r.output;
}

TEST(LraSpeed, BadArgumentsAreNamed) {
  auto r = lra::test::run_command(kBin + "lra-speed --models transformer,no_such_model --lengths 16");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("no_such_model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("registered:"), std::string::npos) << r.output;
  r = lra::test::run_command(kBin + "lra-speed --lengths 16,x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--lengths takes positive integers, got 'x'"), std::string::npos) << r.output;
  r = lra::test::run_command(kBin + "lra-speed --device cpu --precision bf16 --lengths 16");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--precision bf16 is a GPU mode"), std::string::npos) << r.output;
}

}  // namespace
