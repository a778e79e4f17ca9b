// lra-data end to end: generate small ListOps and Pathfinder sets, inspect them back through the task
// loaders, measure one of them, and check that bad input (a missing folder, an unknown kind, command or
// flag) ends with one clear message and a non-zero exit status.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

using Result = ::lra::test::CommandResult;

Result lra_data(const std::string& args) {
  return ::lra::test::run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-data " + args);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A fresh folder under the temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(lra::test::scratch_dir() / name) { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(LraData, GeneratesListopsAndInspectsIt) {
  TempDir dir("lra_data_test_listops");
  Result gen = lra_data("generate listops --out " + dir.path.string() + " --train 40 --val 6 --test 8 --seed 3");
  ASSERT_EQ(gen.status, 0) << gen.output;
  for (const char* split : {"train", "val", "test"})
    EXPECT_TRUE(fs::exists(dir.path / "listops-1000" / (std::string("basic_") + split + ".tsv"))) << split;

  Result ins = lra_data("inspect listops " + (dir.path / "listops-1000").string() + " --examples 1");
  ASSERT_EQ(ins.status, 0) << ins.output;
  EXPECT_TRUE(contains(ins.output, "task listops | vocab 16 | max_len 2000 | classes 10")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split train: 40 examples, 0 skipped")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split val: 6 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split test: 8 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "labels: ")) << ins.output;
  // A decoded example starts with an operator, as every generated tree does.
  EXPECT_TRUE(contains(ins.output, "      [M") || contains(ins.output, "      [SM")) << ins.output;
}

TEST(LraData, GeneratesPathfinderAndInspectsIt) {
  TempDir dir("lra_data_test_pathfinder");
  Result gen = lra_data("generate pathfinder --size 32 --difficulty easy --count 20 --per-batch 8 --out " +
                     dir.path.string());
  ASSERT_EQ(gen.status, 0) << gen.output;
  EXPECT_TRUE(fs::exists(dir.path / "pathfinder32" / "curv_baseline" / "metadata" / "2.npy")) << gen.output;
  EXPECT_TRUE(fs::exists(dir.path / "pathfinder32" / "curv_baseline" / "imgs" / "0" / "sample_0.png")) << gen.output;

  Result ins = lra_data("inspect pathfinder " + dir.path.string() + " --size 32 --difficulty easy --examples 1");
  ASSERT_EQ(ins.status, 0) << ins.output;
  EXPECT_TRUE(contains(ins.output, "task pathfinder32 | vocab 256 | max_len 1024 | classes 2")) << ins.output;
  // 20 images cut 80/10/10; labels are balanced exactly in pairs, so train holds 8 of each.
  EXPECT_TRUE(contains(ins.output, "split train: 16 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split val: 2 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split test: 2 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "labels: 0: 8 (50%)  1: 8 (50%)")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "      |")) << "an ASCII thumbnail is drawn\n" << ins.output;

  // The same folder under the wrong difficulty is a clear error.
  Result wrong = lra_data("inspect pathfinder " + dir.path.string() + " --difficulty hard");
  EXPECT_NE(wrong.status, 0) << wrong.output;
  EXPECT_TRUE(contains(wrong.output, "lra-data: error:")) << wrong.output;
  EXPECT_TRUE(contains(wrong.output, "curv_contour_length_14")) << wrong.output;
}

// Several difficulties: generate writes each listed set, inspect trains on all and evaluates on the hardest.
TEST(LraData, GeneratesAndInspectsSeveralPathfinderDifficulties) {
  TempDir dir("lra_data_test_pathfinder_several");
  Result gen = lra_data("generate pathfinder --size 32 --difficulty hard,easy --count 10 --per-batch 8 --out " +
                        dir.path.string());
  ASSERT_EQ(gen.status, 0) << gen.output;
  EXPECT_TRUE(fs::exists(dir.path / "pathfinder32" / "curv_baseline" / "metadata" / "1.npy")) << gen.output;
  EXPECT_TRUE(fs::exists(dir.path / "pathfinder32" / "curv_contour_length_14" / "metadata" / "1.npy")) << gen.output;
  Result ins = lra_data("inspect pathfinder " + dir.path.string() + " --difficulty easy,hard --examples 0");
  ASSERT_EQ(ins.status, 0) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split train: 16 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split val: 1 examples")) << ins.output;
  EXPECT_TRUE(contains(ins.output, "split test: 1 examples")) << ins.output;
  Result bad = lra_data("generate pathfinder --difficulty easy,hrad --count 2 --out " + dir.path.string());
  EXPECT_NE(bad.status, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "unknown pathfinder difficulty 'hrad' in 'easy,hrad'")) << bad.output;
}

TEST(LraData, BenchReportsThroughput) {
  Result r = lra_data("bench listops --generate --count 64 --batch 8 --batches 5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "pipeline: 5 batches (40 sequences)")) << r.output;
  EXPECT_TRUE(contains(r.output, "sequences/s")) << r.output;
  EXPECT_TRUE(contains(r.output, "augment: operand permutation")) << r.output;
}

TEST(LraData, StandInsSayTheyAreNotTheLraData) {
  Result help = lra_data("--help");
  EXPECT_EQ(help.status, 0) << help.output;
  EXPECT_TRUE(contains(help.output, "NOT IMDB")) << help.output;
  EXPECT_TRUE(contains(help.output, "NOT AAN")) << help.output;
  EXPECT_TRUE(contains(help.output, "NOT CIFAR-10")) << help.output;
  // The stand-in's default categories are those of the Debian fortunes package.
  ASSERT_TRUE(fs::exists("/usr/share/games/fortunes/computers"))
      << "install the Debian packages fortunes fortunes-min (scripts/setup.sh installs every package the tests use)";
  Result r = lra_data("inspect text-fortunes --examples 0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "OFFLINE STAND-IN")) << r.output;
}

TEST(LraData, MissingDirectoryIsAClearError) {
  Result r = lra_data("inspect listops /nonexistent/lra_data_test");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "lra-data: error: inspect listops: directory '/nonexistent/lra_data_test' not found"))
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line:\n" << r.output;
}

TEST(LraData, MalformedFileIsAClearError) {
  TempDir dir("lra_data_test_bad");
  fs::create_directories(dir.path);
  for (const char* split : {"train", "val", "test"}) {
    std::ofstream f(dir.path / (std::string("basic_") + split + ".tsv"));
    f << "Source\tTarget\n( [MAX 2 ( 3 ) ] )\t9\n";  // the value is 3, not 9
  }
  Result r = lra_data("inspect listops " + dir.path.string());
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "lra-data: error:")) << r.output;
  EXPECT_TRUE(contains(r.output, "basic_train.tsv:2")) << "names the file and line\n" << r.output;
}

TEST(LraData, BadCommandsAndFlagsAreRefused) {
  Result unknown = lra_data("frobnicate");
  EXPECT_NE(unknown.status, 0);
  EXPECT_TRUE(contains(unknown.output, "unknown command 'frobnicate'")) << unknown.output;

  Result kind = lra_data("inspect imdb /tmp");
  EXPECT_NE(kind.status, 0);
  EXPECT_TRUE(contains(kind.output, "imdb not in")) << kind.output;

  Result flag = lra_data("generate listops --out /tmp/lra_data_test_never --bogus");
  EXPECT_NE(flag.status, 0);
  EXPECT_TRUE(contains(flag.output, "--bogus")) << flag.output;
  EXPECT_FALSE(fs::exists("/tmp/lra_data_test_never")) << "a refused command must write nothing";

  Result size = lra_data("generate pathfinder --out /tmp/lra_data_test_never --count 4 --size 48");
  EXPECT_NE(size.status, 0);
  EXPECT_TRUE(contains(size.output, "--size")) << size.output;

  Result gen = lra_data("bench text-fortunes --generate");
  EXPECT_NE(gen.status, 0);
  EXPECT_TRUE(contains(gen.output, "--generate works for listops and pathfinder")) << gen.output;
}

}  // namespace
