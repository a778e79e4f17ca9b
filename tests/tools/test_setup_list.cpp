// scripts/setup.sh holds the one list of Debian packages that the build, the main job and the tests use
// (its `packages=(...)` array), and README.md quotes that array verbatim so that a reader sees what the
// commands install. These tests fail when the quote and the list drift apart, naming the packages that
// only one side has. (scripts/check_fresh_machine.sh proves the list itself complete on a bare Debian 12.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The repository root. CMake compiles this file by its absolute path, tests/tools/test_setup_list.cpp.
fs::path source_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string without_comment(const std::string& line) { return line.substr(0, line.find('#')); }

// Every `packages=(` array in `text`: the lines from the one starting with `packages=(` (leading blanks
// aside) to the first whose code, its comment aside, closes it with `)`.
std::vector<std::string> package_arrays(const std::string& text) {
  std::vector<std::string> arrays;
  std::istringstream in(text);
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(" \t");
    if (!inside && start != std::string::npos && line.compare(start, 10, "packages=(") == 0) {
      inside = true;
      block.clear();
    }
    if (!inside) continue;
    block += line + "\n";
    const std::string code = without_comment(line);
    if (code.find(')') != std::string::npos) {
      arrays.push_back(block);
      inside = false;
    }
  }
  return arrays;
}

// The package names of one array: its words outside comments, less `packages=(` and `)`.
std::vector<std::string> package_names(const std::string& array) {
  std::vector<std::string> names;
  std::istringstream lines(array);
  std::string line;
  while (std::getline(lines, line)) {
    std::string code = without_comment(line);
    std::replace(code.begin(), code.end(), ')', ' ');
    if (const size_t p = code.find("packages=("); p != std::string::npos) code.erase(p, 10);
    std::istringstream words(code);
    for (std::string w; words >> w;) names.push_back(w);
  }
  return names;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s.empty() ? "(none)" : s;
}

std::vector<std::string> only_in(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::set<std::string> in_b(b.begin(), b.end());
  std::vector<std::string> out;
  for (const std::string& x : a)
    if (!in_b.count(x)) out.push_back(x);
  return out;
}

struct Lists {
  std::string setup, readme;  // the arrays' text
};

// The one array of each file; a test fails (and this returns false) unless each holds exactly one.
bool read_lists(Lists* lists) {
  const fs::path setup_path = source_dir() / "scripts" / "setup.sh";
  const fs::path readme_path = source_dir() / "README.md";
  if (!fs::exists(setup_path) || !fs::exists(readme_path)) {
    ADD_FAILURE() << "cannot find " << setup_path << " and " << readme_path << " (the source tree is taken from "
                  << "__FILE__ = " << __FILE__ << ")";
    return false;
  }
  const std::vector<std::string> setup = package_arrays(read_text(setup_path));
  const std::vector<std::string> readme = package_arrays(read_text(readme_path));
  if (setup.size() != 1) ADD_FAILURE() << "scripts/setup.sh has " << setup.size() << " packages=(...) arrays, not 1";
  if (readme.size() != 1)
    ADD_FAILURE() << "README.md quotes " << readme.size() << " packages=(...) arrays, not 1: its install paragraph "
                  << "quotes scripts/setup.sh's list verbatim";
  if (setup.size() != 1 || readme.size() != 1) return false;
  *lists = {setup[0], readme[0]};
  return true;
}

TEST(SetupList, ReadmeQuotesSetupShVerbatim) {
  Lists lists;
  if (!read_lists(&lists)) return;
  const std::vector<std::string> setup = package_names(lists.setup), readme = package_names(lists.readme);
  EXPECT_EQ(setup, readme) << "the packages differ: only in scripts/setup.sh: " << joined(only_in(setup, readme))
                           << "; only in README.md: " << joined(only_in(readme, setup))
                           << ". Copy scripts/setup.sh's packages=(...) array into README.md.";
  EXPECT_EQ(lists.setup, lists.readme) << "README.md's quote of scripts/setup.sh's packages=(...) array is not "
                                       << "verbatim (a comment or a line break differs); copy it again.\n"
                                       << "scripts/setup.sh:\n"
                                       << lists.setup << "README.md:\n"
                                       << lists.readme;
}

TEST(SetupList, NamesAreDebianPackagesEachOnce) {
  Lists lists;
  if (!read_lists(&lists)) return;
  const std::vector<std::string> names = package_names(lists.setup);
  EXPECT_GE(names.size(), 10u) << lists.setup;
  // Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters, starting alphanumeric.
  const std::regex debian_name("[a-z0-9][a-z0-9+.-]+");
  std::set<std::string> seen;
  for (const std::string& n : names) {
    EXPECT_TRUE(std::regex_match(n, debian_name)) << "'" << n << "' in scripts/setup.sh is no Debian package name";
    EXPECT_TRUE(seen.insert(n).second) << n << " is listed twice in scripts/setup.sh";
  }
  // The packages whose absence once failed 30 tests on a fresh machine only.
  for (const char* needed : {"fortunes", "fortunes-min", "dataset-fashion-mnist"})
    EXPECT_TRUE(seen.count(needed)) << needed << " is read by the tests but missing from scripts/setup.sh";
}

// The parser itself, on the forms a list may take.
TEST(SetupList, ParsesOneLineAndCommentedArrays) {
  const std::string text = "x=1\npackages=(a b # c d\n  e)  # f )\npackages=(g)\n";
  const std::vector<std::string> arrays = package_arrays(text);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(package_names(arrays[0]), (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ(package_names(arrays[1]), (std::vector<std::string>{"g"}));
}

}  // namespace
