// scripts/setup.sh holds the one list of Debian packages that the build, the main job and the tests use
// (its `packages=(...)` array), and README.md quotes that array verbatim so that a reader sees what the
// commands install. These tests fail when the quote and the list drift apart, naming the packages that
// only one side has, and when a message or comment of the sources asks for a package the list lacks.
// (scripts/check_fresh_machine.sh proves the list itself complete on a bare Debian 12.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace {

namespace fs = std::filesystem;

// The repository root. CMake compiles this file by its absolute path, tests/tools/test_setup_list.cpp.
// The source tree, from CMake (not __FILE__: a compiler cache may hand the compiler a relative path).
fs::path source_dir() { return fs::path(LRA_SOURCE_DIR); }

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
    ADD_FAILURE() << "cannot find " << setup_path << " and " << readme_path << " (the source tree is LRA_SOURCE_DIR = "
                  << LRA_SOURCE_DIR << ")";
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

// Where the sources tell a user to install a Debian package: each `apt-get install NAME...` in a
// message or comment (flags skipped; the names end at the first word that is not one), and each
// `lra_missing("...", NAME)` of third_party/dependencies.cmake. Yields "file:line name".
std::vector<std::pair<std::string, std::string>> packages_asked_for(const fs::path& file, const std::string& shown) {
  static const std::regex name("[a-z0-9][a-z0-9+.-]+");
  static const std::regex missing(R"(lra_missing\("[^"]*"\s+([a-z0-9][a-z0-9+.-]+)\))");
  std::vector<std::pair<std::string, std::string>> asked;
  std::istringstream in(read_text(file));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = shown + ":" + std::to_string(n);
    const std::string hint = "apt-get install ";
    for (size_t at = line.find(hint); at != std::string::npos; at = line.find(hint, at + 1)) {
      std::istringstream words(line.substr(at + hint.size()));
      for (std::string w; words >> w;) {
        if (w[0] == '-') continue;  // -y, -qq, --no-install-recommends
        const size_t end = w.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-");
        const std::string word = w.substr(0, end);
        if (std::regex_match(word, name)) asked.emplace_back(where, word);
        if (end != std::string::npos || !std::regex_match(word, name)) break;  // punctuation ends the list
      }
    }
    std::smatch m;
    if (line.find("lra_missing(") != std::string::npos && std::regex_search(line, m, missing))
      asked.emplace_back(where, m[1].str());
  }
  return asked;
}

// A package that a message asks for but the list lacks is one that a fresh machine does not get: both
// fortunes (30 tests failed) and libtomlplusplus-dev (the configure failed) were asked for by the
// sources' messages while missing from the list.
TEST(SetupList, ListsEveryPackageTheSourcesAskFor) {
  Lists lists;
  if (!read_lists(&lists)) return;
  const std::vector<std::string> names = package_names(lists.setup);
  const std::set<std::string> listed(names.begin(), names.end());
  // The folders of the build, the main job and the tests (scripts/ and docs/ also name host tools and
  // optional packages, such as debootstrap for the fresh-machine check).
  const fs::path root = source_dir();
  std::vector<fs::path> files = {root / "CMakeLists.txt"};
  for (const char* dir : {"engine", "ops", "models", "tasks", "tools", "tests", "third_party"}) {
    if (!fs::exists(root / dir)) continue;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".cpp" || ext == ".h" || ext == ".cu" || ext == ".cuh" || ext == ".py" ||
                                  ext == ".cmake" || ext == ".sh" || e.path().filename() == "CMakeLists.txt"))
        files.push_back(e.path());
    }
  }
  int asked = 0;
  for (const fs::path& f : files) {
    if (f.filename() == "test_setup_list.cpp") continue;  // this file's own examples
    for (const auto& [where, package] : packages_asked_for(f, fs::relative(f, root).string())) {
      ++asked;
      EXPECT_TRUE(listed.count(package)) << where << " asks for the Debian package " << package
                                         << ", which scripts/setup.sh's packages=(...) does not install";
    }
  }
  EXPECT_GT(asked, 5) << "no install hints found: did the sources move?";
}

// The parsers themselves, on the forms a list or a hint may take.
TEST(SetupList, ParsesInstallHints) {
  const fs::path file = lra::test::scratch_dir() / "test_setup_list_hints.txt";
  std::ofstream(file) << "x (apt-get install a-b c+d)\n"
                      << "sudo apt-get install -y -qq --no-install-recommends ee \"${missing[@]}\"\n"
                      << "apt-get install ff; scripts/setup.sh gg\n"
                      << "  lra_missing(\"toml++ (TOML)\" libtomlplusplus-dev)\n"
                      << "apt-get install ${package}\n";
  std::vector<std::string> got;
  for (const auto& [where, package] : packages_asked_for(file, "f")) got.push_back(where + " " + package);
  fs::remove(file);
  EXPECT_EQ(got, (std::vector<std::string>{"f:1 a-b", "f:1 c+d", "f:2 ee", "f:3 ff", "f:4 libtomlplusplus-dev"}));
}

TEST(SetupList, ParsesOneLineAndCommentedArrays) {
  const std::string text = "x=1\npackages=(a b # c d\n  e)  # f )\npackages=(g)\n";
  const std::vector<std::string> arrays = package_arrays(text);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(package_names(arrays[0]), (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ(package_names(arrays[1]), (std::vector<std::string>{"g"}));
}

}  // namespace
