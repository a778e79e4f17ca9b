// CUDA launch grids, checked without a GPU.
//
// A grid dimension of 0 is an invalid configuration that only the driver reports, so on a machine
// without a GPU nothing ever catches it: issue 12 found a column sum over 0 rows that launched a grid of
// 0 chunks, and an S4D kernel launched with H = 0 or N = 0 blocks. engine/cuda.h gives every launch its
// grid from blocks_for (at least one block) or grid_dims (which throws, naming the kernel, on a 0).
// This test reads every .cu / .cuh file under engine/ and ops/ and checks each `kernel<<<grid, ...>>>`:
// the grid must be `1`, a call of blocks_for or grid_dims, or a name that every declaration in that file
// initialises from one of them. The few launches that do otherwise are listed below with the reason they
// cannot see an empty extent; a new one fails here until it uses the helpers or is listed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#if LRA_WITH_CUDA
#include "engine/cuda.h"
#include "tests/support/compare.h"
#endif

namespace lra {
namespace {

namespace fs = std::filesystem;

// The source tree, from CMake (not __FILE__: a compiler cache may hand the compiler a relative path).
fs::path source_dir() { return fs::path(LRA_SOURCE_DIR); }

struct Allowed {
  const char* file;  // relative to the source root
  const char* grid;  // the grid expression as written
  const char* why;
};

// Launches whose grid is built by hand, and why it is never 0. Entries that no longer match anything
// (the launch was changed to use the helpers) are harmless.
const Allowed kAllowed[] = {
    {"engine/optim.cu", "count", "count = grad_norm_partials(n), which is blocks_for(n, ..) >= 1"},
    {"ops/reduce/reduce.cu", "unsigned(outer)", "max_forward returns first when outer * inner == 0 or n == 0"},
    {"ops/reduce/reduce.cu", "unsigned(B)", "masked_mean_forward returns first when B == 0"},
    {"ops/attention/attention.cu", "grid_for(p)",
     "attention_forward/backward return first when B·H·L == 0; grid_for checks the limits"},
    {"ops/attention/attention.cu", "unsigned((rows + kDeltaWarps - 1) / kDeltaWarps)",
     "rows = B·H·L > 0 after the early return"},
    {"ops/attention/attention_bf16.cu", "dim3(unsigned(tiles), unsigned(kp.B * kp.H))",
     "attention_bf16_forward returns first when B·H·L == 0, so tiles >= 1 and B·H >= 1"},
    {"ops/attention/attention_bf16_backward.cu", "dim3(unsigned(tiles), unsigned(kp.B * kp.H))",
     "attention_bf16_backward returns first when B·H·L == 0"},
    {"ops/attention/attention_bf16_backward.cu", "unsigned((rows + kDeltaWarps - 1) / kDeltaWarps)",
     "rows = B·H·L > 0 after the early return"},
};

struct Launch {
  std::string file;  // relative to the source root
  int line;
  std::string grid;  // the first launch argument, whitespace-trimmed
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n\\"), e = s.find_last_not_of(" \t\r\n\\");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Every `<<<grid, ...>>>` of a file: the grid is the text up to the first comma outside parentheses.
std::vector<Launch> launches_in(const std::string& text, const std::string& file) {
  std::vector<Launch> out;
  for (size_t at = text.find("<<<"); at != std::string::npos; at = text.find("<<<", at + 3)) {
    size_t i = at + 3;
    int depth = 0;
    for (; i < text.size(); ++i) {
      char ch = text[i];
      if (ch == '(') ++depth;
      if (ch == ')') --depth;
      if (ch == ',' && depth == 0) break;
    }
    out.push_back({file, 1 + int(std::count(text.begin(), text.begin() + long(at), '\n')),
                   trim(text.substr(at + 3, i - at - 3))});
  }
  return out;
}

bool from_helpers(const std::string& s) {
  return s.find("blocks_for(") != std::string::npos || s.find("grid_dims(") != std::string::npos;
}

// A grid named by a variable (or a small helper function): every declaration of that name in the file
// must take its value from blocks_for or grid_dims (the declaration's text up to its first ';', so a
// helper's body and an initialiser on the next line count).
bool declared_from_helpers(const std::string& text, const std::string& name) {
  const std::regex decl("\\b(dim3|unsigned|int|int64_t|auto)\\s+" + name + "\\s*[=(]");
  int found = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), decl); it != std::sregex_iterator(); ++it) {
    ++found;
    const size_t begin = size_t(it->position()), end = text.find(';', begin);
    if (!from_helpers(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin))) return false;
  }
  return found > 0;
}

const Allowed* allowed(const Launch& l) {
  for (const Allowed& a : kAllowed)
    if (l.file == a.file && l.grid == a.grid) return &a;
  return nullptr;
}

TEST(CudaLaunches, EveryGridComesFromBlocksForOrGridDims) {
  const fs::path root = source_dir();
  std::vector<Launch> all;
  for (const char* dir : {"engine", "ops"})
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".cu" && ext != ".cuh") continue;
      const std::string text = read(entry.path()), file = fs::relative(entry.path(), root).generic_string();
      for (const Launch& l : launches_in(text, file)) {
        all.push_back(l);
        static const std::regex name_or_call("^[A-Za-z_][A-Za-z0-9_]*");
        std::smatch m;
        bool ok = l.grid == "1" || from_helpers(l.grid) || allowed(l) ||
                  (std::regex_search(l.grid, m, name_or_call) && declared_from_helpers(text, m.str()));
        EXPECT_TRUE(ok) << l.file << ":" << l.line << ": the grid `" << l.grid
                        << "` does not come from lra::cuda::blocks_for or lra::cuda::grid_dims (engine/cuda.h); "
                        << "a hand-made grid can be 0 for an empty extent. Use the helpers, or list the launch in "
                        << "kAllowed with the reason it cannot be 0.";
      }
    }
  // The scan itself works: the tree has dozens of launches (89 when this was written).
  EXPECT_GT(all.size(), 50u) << "found only " << all.size() << " launches under " << root;
}

TEST(CudaLaunches, ScannerReadsGridsAndDeclarations) {
  std::vector<Launch> l = launches_in("k<<<grid_dims(\"k\", (n + 1) / 2, m), 256, 0, s>>>(x);\n"
                                      "k<T><<<blocks, 32 * kRows, 0, stream()>>>(a, b);",
                                      "f.cu");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].grid, "grid_dims(\"k\", (n + 1) / 2, m)");
  EXPECT_EQ(l[1].grid, "blocks");
  EXPECT_EQ(l[1].line, 2);
  EXPECT_TRUE(declared_from_helpers("  const dim3 blocks = lra::cuda::grid_dims(\"k\", n);\n", "blocks"));
  EXPECT_TRUE(declared_from_helpers("  const dim3 blocks =\n      lra::cuda::grid_dims(\"k\", n);\n", "blocks"));
  EXPECT_TRUE(declared_from_helpers("dim3 blocks(int64_t n) { return grid_dims(\"k\", n); }\n", "blocks"));
  EXPECT_FALSE(declared_from_helpers("  unsigned blocks = unsigned(rows);\n", "blocks"));
  EXPECT_FALSE(declared_from_helpers("  dim3 grid(unsigned(cols), unsigned(chunks));\n", "grid"));
  EXPECT_FALSE(declared_from_helpers("  run(blocks, threads);\n", "blocks"));  // no declaration at all
  // A second declaration of the name (another scope) that is hand-made spoils it.
  EXPECT_FALSE(declared_from_helpers("dim3 grid = grid_dims(\"k\", n);\nunsigned grid = unsigned(m);\n", "grid"));
}

#if LRA_WITH_CUDA
TEST(CudaLaunches, GridDimsRefusesAZeroOrOversizedDimension) {
  EXPECT_EQ(cuda::grid_dims("k", 3, 2).y, 2u);
  std::string m = test::error_of([] { cuda::grid_dims("column_sum_kernel", 1, 0); });
  EXPECT_NE(m.find("CUDA launch of column_sum_kernel with grid [1, 0, 1]"), std::string::npos) << m;
  EXPECT_NE(test::error_of([] { cuda::grid_dims("k", 0); }), "(no error)");
  EXPECT_NE(test::error_of([] { cuda::grid_dims("k", 1, 65536); }), "(no error)");
  EXPECT_EQ(cuda::blocks_for(0, 256), 1u) << "a grid-stride launch over nothing still has one block";
}
#endif

}  // namespace
}  // namespace lra
