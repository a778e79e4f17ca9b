// scripts/make_probe_figures.sh, the script behind docs/probes.md's pictures, run at its tiny size: every
// picture it promises is drawn (a PNG file, not an error page), so the documentation cannot silently lose
// its figures when a probe, a mixer or the plotting breaks. --experiments adds the locality and positional
// experiments' tables and plots (at the tiny size: two variants, two steps each).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace {

namespace fs = std::filesystem;

bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.good() && std::string(magic + 1, 3) == "PNG";
}

TEST(ProbeFigures, TheScriptDrawsEveryPictureAtATinySize) {
  const fs::path out = lra::test::scratch_dir() / "probe-figures";
  fs::remove_all(out);
  const std::string cmd = "env BUILD='" + std::string(LRA_BINARY_DIR) + "' OMP_NUM_THREADS=1 bash '" +
                          std::string(LRA_SOURCE_DIR) + "/scripts/make_probe_figures.sh' --tiny --experiments --out '" +
                          out.string() + "'";
  const lra::test::CommandResult r = lra::test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<std::string> pictures = {
      "pattern-transformer", "pattern-local",    "pattern-longformer", "pattern-bigbird",
      "pattern-sparse_transformer", "pattern-reformer", "pattern-sinkhorn", "pattern-linformer",
      "pattern-performer",   "pattern-las",      "pattern-s4d",        "pattern-residual_conv",
      "kernels-s4d-listops", "receptive-field-s4d-listops", "locality-listops", "positional-listops"};
  for (const std::string& p : pictures) {
    EXPECT_TRUE(is_png(out / (p + ".png"))) << p << ".png is missing or not a PNG\n" << r.output;
    EXPECT_TRUE(fs::exists(out / (p + ".json"))) << p << ".json";
  }
  // The script refuses what it does not know, naming it.
  const lra::test::CommandResult bad =
      lra::test::run_command("bash '" + std::string(LRA_SOURCE_DIR) + "/scripts/make_probe_figures.sh' --huge");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("unknown argument '--huge'"), std::string::npos) << bad.output;
}

}  // namespace
