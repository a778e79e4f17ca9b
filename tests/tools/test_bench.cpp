// The CPU model benchmark (tools/bench/cpu_models.py): bench_train's generic row trains any registered
// mixer, and its PyTorch side builds the same architecture — the parameter counts of the two sides must
// agree, or the table compares different models. Checked on one attention and one convolution mixer (a
// PyTorch process per model costs seconds; the oracle's per-mixer layout is the parity tests' business).
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

TEST(BenchTrain, GenericRowNeedsAModelAndFixedRowsRefuseOne) {
  auto r = lra::test::run_command(kBin + "bench_train --device cpu --config lra_text --steps 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("needs --model"), std::string::npos) << r.output;
  r = lra::test::run_command(kBin + "bench_train --device cpu --config s4d_listops --model s4d --steps 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--model is for the generic configuration"), std::string::npos) << r.output;
}

TEST(CpuModels, BothSidesBuildTheSameModel) {
  const std::string jsonl = testing::TempDir() + "cpu_models_test.jsonl";
  auto r = lra::test::run_command(std::string(LRA_PYTHON) + " " + LRA_SOURCE_DIR + "/tools/bench/cpu_models.py --bench " +
                                  kBin + "bench_train --models transformer,s4d --lengths 16 --rounds 1 --steps 1 --warmup 0 "
                                         "--threads 1 --jsonl " + jsonl);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream f(jsonl);
  std::map<std::string, std::map<std::string, long>> params;  // model -> side -> parameter count
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_FALSE(j.contains("error")) << line;
    params[j["model"]][j["side"]] = j["params"].get<long>();
  }
  EXPECT_EQ(params.size(), 2u);
  for (const auto& [model, sides] : params) {
    ASSERT_EQ(sides.size(), 2u) << model;
    EXPECT_EQ(sides.at("engine"), sides.at("torch")) << model << ": the two sides build different models";
  }
  EXPECT_NE(r.output.find("| transformer | 16 |"), std::string::npos) << r.output;
}

}  // namespace
