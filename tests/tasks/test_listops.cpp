// ListOps: evaluator, serialisation, release loader (valid and malformed fixtures), the LRA-faithful
// generator (determinism, lengths, labels, dedup, label skew) and operand-permutation augmentation.
//
// The fixtures in tests/data/listops/listops-1000 were written independently of the engine's writer
// (see tests/data/listops/README.md), so loading them checks our tokeniser, evaluator and to_source
// against the released format.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

#include "tasks/listops/listops.h"
#include "tasks/registry.h"

namespace lo = lra::tasks::listops;
using lra::tasks::Example;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(LRA_TEST_DATA) + "/listops";

std::vector<int32_t> ids(const std::string& text) { return lo::tokenize(text); }

// The message of the lra::Error that fn throws ("" when it throws nothing).
using lra::test::error_of;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// A fresh empty directory under the system temp dir.
fs::path temp_dir(const std::string& name) {
  fs::path d = lra::test::scratch_dir() / ("lra_test_listops_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Deepest operator nesting (root operator = 1).
int operator_depth(const std::vector<int32_t>& t) {
  int depth = 0, deepest = 0;
  for (int32_t x : t) {
    if (lo::is_operator(x)) deepest = std::max(deepest, ++depth);
    if (x == lo::kClose) --depth;
  }
  return deepest;
}

lo::GenerateOptions small_options(uint64_t seed, int64_t train = 60, int64_t val = 10, int64_t test = 10) {
  lo::GenerateOptions o;
  o.num_train = train;
  o.num_val = val;
  o.num_test = test;
  o.seed = seed;
  o.threads = 1;
  return o;
}

}  // namespace

TEST(ListOpsVocab, FixedMapping) {
  EXPECT_EQ(lo::token_id("0"), 1);
  EXPECT_EQ(lo::token_id("9"), 10);
  EXPECT_EQ(lo::token_id("[MIN"), 11);
  EXPECT_EQ(lo::token_id("[MAX"), 12);
  EXPECT_EQ(lo::token_id("[MED"), 13);
  EXPECT_EQ(lo::token_id("[SM"), 14);
  EXPECT_EQ(lo::token_id("]"), 15);
  EXPECT_EQ(lo::token_id("X"), -1);
  EXPECT_EQ(lo::token_id("[FIRST"), -1);
  EXPECT_EQ(lo::token_id("10"), -1);
  for (int32_t id = 1; id < lo::kVocabSize; ++id) EXPECT_EQ(lo::token_id(lo::token_word(id)), id);
  EXPECT_NE(error_of([] { lo::token_word(0); }), "(no error)");
  EXPECT_EQ(lo::token_word(16), "<eos>");  // only present with the data setting eos (ListOpsEos)
  EXPECT_NE(error_of([] { lo::token_word(17); }), "(no error)");
  lra::tasks::TaskInfo info = lo::info();
  EXPECT_EQ(info.name, "listops");
  EXPECT_EQ(info.vocab_size, 16);
  EXPECT_EQ(info.max_len, 2000);
  EXPECT_EQ(info.num_classes, 10);
  EXPECT_FALSE(info.pair);
}

TEST(ListOpsTokenize, DeletesParenthesesLikeLra) {
  EXPECT_EQ(ids("( ( ( [MED 6 ) 8 ) ] )"), ids("[MED 6 8 ]"));
  EXPECT_EQ(ids("[MED 6 8 ]"), (std::vector<int32_t>{lo::kMed, 7, 9, lo::kClose}));
  EXPECT_EQ(ids("  [SM\t1   2 ]  "), (std::vector<int32_t>{lo::kSum, 2, 3, lo::kClose}));
  // Deleted, not a separator (LRA's regex removes the characters).
  EXPECT_NE(error_of([] { lo::tokenize("[SM 5)6 ]"); }).find("'56'"), std::string::npos);
  EXPECT_NE(error_of([] { lo::tokenize("[SM 1 X ]"); }).find("unknown token 'X'"), std::string::npos);
}

TEST(ListOpsEvaluate, HandCases) {
  EXPECT_EQ(lo::evaluate(ids("[MIN [MAX 1 2 3 ] 4 5 ]")), 3);
  EXPECT_EQ(lo::evaluate(ids("[MAX [MIN 7 8 ] 4 5 ]")), 7);
  EXPECT_EQ(lo::evaluate(ids("[MED 3 1 2 ]")), 2);          // odd count: the middle value
  EXPECT_EQ(lo::evaluate(ids("[MED 9 0 9 9 0 ]")), 9);
  EXPECT_EQ(lo::evaluate(ids("[MED 6 8 ]")), 7);            // even count: mean of the middle two
  EXPECT_EQ(lo::evaluate(ids("[MED 6 7 ]")), 6);            // 6.5 truncated
  EXPECT_EQ(lo::evaluate(ids("[MED 9 1 2 3 ]")), 2);        // (2 + 3) / 2 = 2.5 -> 2
  EXPECT_EQ(lo::evaluate(ids("[MED 0 9 ]")), 4);            // 4.5 -> 4
  EXPECT_EQ(lo::evaluate(ids("[SM 9 8 7 ]")), 4);           // 24 mod 10
  EXPECT_EQ(lo::evaluate(ids("[SM 5 5 ]")), 0);
  EXPECT_EQ(lo::evaluate(ids("[SM [MAX 9 9 ] [MIN 3 4 ] [MED 1 2 3 ] ]")), 4);  // 9 + 3 + 2 = 14
  EXPECT_EQ(lo::evaluate(ids("5")), 5);
}

TEST(ListOpsEvaluate, MalformedExpressionsNameThePosition) {
  EXPECT_NE(error_of([] { lo::evaluate(ids("[MIN 1 2")); }).find("never closed"), std::string::npos);
  EXPECT_NE(error_of([] { lo::evaluate(ids("1 ]")); }).find("position 1"), std::string::npos);
  EXPECT_NE(error_of([] { lo::evaluate(ids("[MIN ] ")); }).find("no arguments"), std::string::npos);
  EXPECT_NE(error_of([] { lo::evaluate(ids("[MIN 1 ] 2")); }).find("after the expression ended, at position 3"),
            std::string::npos);
  EXPECT_NE(error_of([] { lo::evaluate({}); }).find("empty expression"), std::string::npos);
  EXPECT_NE(error_of([] { lo::evaluate({lo::kMin, 0, lo::kClose}); }).find("id 0"), std::string::npos);
}

TEST(ListOpsSource, WritesLrasParentheses) {
  EXPECT_EQ(lo::to_source(ids("[MED 6 8 ]")), "( ( ( [MED 6 ) 8 ) ] )");
  EXPECT_EQ(lo::to_source(ids("[MIN [MAX 1 2 3 ] 4 5 ]")),
            "( ( ( ( [MIN ( ( ( ( [MAX 1 ) 2 ) 3 ) ] ) ) 4 ) 5 ) ] )");
  EXPECT_EQ(lo::to_source(ids("7")), "7");
}

TEST(ListOpsLoad, ReleaseFixtureMatchesTheReference) {
  lra::tasks::Dataset d = lo::load(kData + "/listops-1000");
  EXPECT_EQ(d.info.name, "listops");
  ASSERT_EQ(d.splits.size(), 3u);
  const std::map<std::string, int64_t> sizes = {{"train", 16}, {"val", 4}, {"test", 4}};
  for (const auto& [name, n] : sizes) {
    auto split = std::dynamic_pointer_cast<const lra::tasks::MemorySplit>(d.split(name));
    ASSERT_NE(split, nullptr);
    ASSERT_EQ(split->size(), n) << name;
    // Line i + 1 of the file is example i: our to_source reproduces the reference's text exactly,
    // and our evaluator its label.
    std::vector<std::string> lines = read_lines(kData + "/listops-1000/basic_" + name + ".tsv");
    ASSERT_EQ(int64_t(lines.size()), n + 1);
    EXPECT_EQ(lines[0], "Source\tTarget\r");
    for (int64_t i = 0; i < n; ++i) {
      const Example& e = split->examples()[size_t(i)];
      EXPECT_EQ(lo::to_source(e.tokens) + "\t" + std::to_string(e.label) + "\r", lines[size_t(i + 1)]);
      EXPECT_EQ(lo::evaluate(e.tokens), e.label);
      EXPECT_TRUE(e.tokens2.empty());
    }
  }
  // The hand cases at the top of the test split.
  const auto& test = std::dynamic_pointer_cast<const lra::tasks::MemorySplit>(d.split("test"))->examples();
  EXPECT_EQ(test[0].tokens, ids("[MED 6 8 ]"));
  EXPECT_EQ(test[0].label, 7);
  EXPECT_EQ(test[1].label, 3);
  EXPECT_EQ(test[2].label, 6);
  EXPECT_EQ(test[3].label, 4);
  EXPECT_NE(error_of([&] { d.split("validation"); }).find("train"), std::string::npos);
}

struct Malformed {
  const char* file;
  int line;
  const char* says;
};

TEST(ListOpsLoad, MalformedFilesNameFileAndLine) {
  const Malformed cases[] = {
      {"no_header.tsv", 1, "expected the header 'Source<TAB>Target'"},
      {"empty.tsv", 1, "empty file"},
      {"wrong_columns.tsv", 3, "expected 2 tab-separated columns (Source, Target), found 3"},
      {"blank_line.tsv", 3, "found 1 (an empty line)"},
      {"unknown_token.tsv", 4, "unknown token '[FIRST'"},
      {"label_range.tsv", 2, "Target '12' is not an integer in 0..9"},
      {"label_text.tsv", 3, "Target 'seven' is not an integer in 0..9"},
      {"wrong_label.tsv", 2, "Target is 6 but the expression evaluates to 7"},
      {"unbalanced.tsv", 3, "malformed expression"},
      {"empty_source.tsv", 2, "empty Source"},
      {"too_long.tsv", 3, "2001 tokens, more than max_len 2000"},
  };
  for (const Malformed& c : cases) {
    const std::string path = kData + "/malformed/" + c.file;
    const std::string msg = error_of([&] { lo::load_file(path); });
    EXPECT_NE(msg.find(path + ":" + std::to_string(c.line) + ": "), std::string::npos) << c.file << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.file << ": " << msg;
  }
  // Options: a mismatching label passes when the check is off, and a smaller max_len bites earlier.
  lo::LoadOptions lenient;
  lenient.check_labels = false;
  EXPECT_EQ(lo::load_file(kData + "/malformed/wrong_label.tsv", lenient).at(0).label, 6);
  lo::LoadOptions short_len;
  short_len.max_len = 3;
  EXPECT_NE(error_of([&] { lo::load_file(kData + "/listops-1000/basic_test.tsv", short_len); })
                .find("basic_test.tsv:2: the expression has 4 tokens, more than max_len 3"),
            std::string::npos);
}

TEST(ListOpsLoad, MissingDirectoryOrFile) {
  std::string msg = error_of([] { lo::load(kData + "/no-such-dir"); });
  EXPECT_NE(msg.find("no-such-dir"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;

  fs::path dir = temp_dir("missing");
  for (const char* f : {"basic_train.tsv", "basic_val.tsv"})
    fs::copy_file(kData + "/listops-1000/" + f, dir / f);
  msg = error_of([&] { lo::load(dir.string()); });
  EXPECT_NE(msg.find((dir / "basic_test.tsv").string() + ": no such file"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(ListOpsGenerate, SameSeedSameTreesWhateverTheThreads) {
  lo::Generated a = lo::generate(small_options(7));
  lo::GenerateOptions two = small_options(7);
  two.threads = 2;
  lo::Generated b = lo::generate(two);
  lo::Generated c = lo::generate(small_options(8));
  ASSERT_EQ(a.train.size(), 60u);
  ASSERT_EQ(a.val.size(), 10u);
  ASSERT_EQ(a.test.size(), 10u);
  int differ = 0;
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_EQ(a.train[i].tokens, b.train[i].tokens);
    EXPECT_EQ(a.train[i].label, b.train[i].label);
    differ += a.train[i].tokens != c.train[i].tokens;
  }
  for (size_t i = 0; i < a.test.size(); ++i) EXPECT_EQ(a.test[i].tokens, b.test[i].tokens);
  EXPECT_EQ(differ, 60);
}

TEST(ListOpsGenerate, LengthsDepthLabelsAndUniqueness) {
  lo::Generated g = lo::generate(small_options(1, 150, 25, 25));
  std::set<std::vector<int32_t>> unique;
  std::set<int> roots;
  for (const auto* split : {&g.train, &g.val, &g.test})
    for (const Example& e : *split) {
      EXPECT_GT(e.tokens.size(), 500u);
      EXPECT_LT(e.tokens.size(), 2000u);
      EXPECT_LE(operator_depth(e.tokens), 9);  // operators at depths 1..9, leaves forced at 10
      EXPECT_EQ(lo::evaluate(e.tokens), e.label);
      roots.insert(e.tokens[0]);
      // Every operator has 2..10 arguments.
      std::vector<int> args;
      for (int32_t t : e.tokens) {
        if (!args.empty() && t != lo::kClose) ++args.back();
        if (lo::is_operator(t)) args.push_back(0);
        if (t == lo::kClose) {
          EXPECT_GE(args.back(), 2);
          EXPECT_LE(args.back(), 10);
          args.pop_back();
        }
      }
      unique.insert(e.tokens);
    }
  EXPECT_EQ(unique.size(), 200u);
  EXPECT_EQ(roots.size(), 4u);  // all four operators appear at the root
  // About 1 attempt in 12 is kept (most roots are single digits).
  EXPECT_GT(g.attempts, 200 * 5);
}

TEST(ListOpsGenerate, DeduplicatesAndGivesUpOnImpossibleRequests) {
  // Only single digits fit in 0 < length < 2: exactly the ten digits, each once.
  lo::GenerateOptions o = small_options(3, 6, 2, 2);
  o.min_length = 0;
  o.max_length = 2;
  lo::Generated g = lo::generate(o);
  std::set<int32_t> digits;
  for (const auto* split : {&g.train, &g.val, &g.test})
    for (const Example& e : *split) {
      ASSERT_EQ(e.tokens.size(), 1u);
      digits.insert(e.tokens[0]);
      EXPECT_EQ(e.label, e.tokens[0] - lo::kDigit0);
    }
  EXPECT_EQ(digits.size(), 10u);
  o.num_test = 3;  // eleven distinct single digits do not exist
  EXPECT_NE(error_of([&] { lo::generate(o); }).find("only 10 unique trees"), std::string::npos);
  o.max_length = 1;
  EXPECT_NE(error_of([&] { lo::generate(o); }).find("min_length"), std::string::npos);
}

// The skew the locality-bias paper reports (Appendix B), which is what makes ~36% reachable from the
// root operator alone. On 100k trees our generator gives P(label | root): MIN 0.57 at 0; MAX 0.57 at
// 9; MED 0.21 at 4 and 5; SM 0.10 +- 0.005 everywhere; overall 17% at 0 and at 9.
TEST(ListOpsGenerate, LabelSkewOfTheLocalityBiasPaper) {
  lo::Generated g = lo::generate(small_options(2024, 3000, 0, 0));
  std::map<int32_t, std::vector<double>> p;  // root operator -> label distribution
  std::map<int32_t, int> n;
  std::vector<double> all(10, 0.0);
  for (const Example& e : g.train) {
    p[e.tokens[0]].resize(10, 0.0);
    p[e.tokens[0]][size_t(e.label)] += 1;
    n[e.tokens[0]] += 1;
    all[size_t(e.label)] += 1.0 / 3000;
  }
  for (auto& [op, dist] : p) {
    EXPECT_GT(n[op], 600);  // each root operator ~ 1/4
    for (double& x : dist) x /= n[op];
  }
  auto argmax = [](const std::vector<double>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); };
  EXPECT_EQ(argmax(p[lo::kMin]), 0);
  EXPECT_GT(p[lo::kMin][0], 0.45);
  EXPECT_LT(p[lo::kMin][9], 0.02);
  EXPECT_EQ(argmax(p[lo::kMax]), 9);
  EXPECT_GT(p[lo::kMax][9], 0.45);
  EXPECT_LT(p[lo::kMax][0], 0.02);
  const int med_mode = argmax(p[lo::kMed]);
  EXPECT_TRUE(med_mode == 4 || med_mode == 5) << med_mode;
  EXPECT_GT(p[lo::kMed][3] + p[lo::kMed][4] + p[lo::kMed][5] + p[lo::kMed][6], 0.6);
  EXPECT_LT(p[lo::kMed][0] + p[lo::kMed][9], 0.05);
  for (double x : p[lo::kSum]) {
    EXPECT_GT(x, 0.05);
    EXPECT_LT(x, 0.16);
  }
  // Always 0 (or always 9) scores ~17%; 0/4/9 by root operator (SM: any) ~36%.
  EXPECT_NEAR(all[0], 0.17, 0.04);
  EXPECT_NEAR(all[9], 0.17, 0.04);
  const double by_root = (p[lo::kMin][0] * n[lo::kMin] + p[lo::kMax][9] * n[lo::kMax] +
                          p[lo::kMed][4] * n[lo::kMed] + p[lo::kSum][0] * n[lo::kSum]) / 3000;
  EXPECT_NEAR(by_root, 0.36, 0.05);
}

TEST(ListOpsGenerate, RoundTripThroughReleasedFormat) {
  fs::path dir = temp_dir("roundtrip");
  lo::Generated g = lo::generate_files((dir / "listops-1000").string(), small_options(11, 20, 5, 5));
  for (const char* f : {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"}) {
    EXPECT_TRUE(fs::exists(dir / "listops-1000" / f));
    EXPECT_FALSE(fs::exists(dir / "listops-1000" / (std::string(f) + ".tmp")));
  }
  std::vector<std::string> lines = read_lines((dir / "listops-1000" / "basic_val.tsv").string());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "Source\tTarget\r");
  EXPECT_EQ(lines[1].substr(0, 2), "( ");

  lra::tasks::Dataset d = lo::load((dir / "listops-1000").string());
  const std::map<std::string, const std::vector<Example>*> want = {
      {"train", &g.train}, {"val", &g.val}, {"test", &g.test}};
  for (const auto& [name, examples] : want) {
    auto split = d.split(name);
    ASSERT_EQ(split->size(), int64_t(examples->size())) << name;
    for (int64_t i = 0; i < split->size(); ++i) {
      Example e = split->get(i);
      EXPECT_EQ(e.tokens, (*examples)[size_t(i)].tokens);
      EXPECT_EQ(e.label, (*examples)[size_t(i)].label);
    }
  }
  // Writing again with the same seed gives byte-identical files.
  lo::generate_files((dir / "again").string(), small_options(11, 20, 5, 5));
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  EXPECT_EQ(bytes(dir / "listops-1000" / "basic_train.tsv"), bytes(dir / "again" / "basic_train.tsv"));
  fs::remove_all(dir);
}

TEST(ListOpsAugment, PermutesOperandsAndKeepsLabels) {
  lo::Generated g = lo::generate(small_options(5, 40, 0, 0));
  int changed = 0;
  for (size_t i = 0; i < g.train.size(); ++i) {
    Example e = g.train[i];
    lra::Generator gen(99, i * 100000);
    lo::permute_operands(e.tokens, gen);
    EXPECT_EQ(lo::evaluate(e.tokens), e.label);
    EXPECT_EQ(e.tokens.size(), g.train[i].tokens.size());
    std::vector<int32_t> a = e.tokens, b = g.train[i].tokens;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b);  // the same tokens, reordered
    changed += e.tokens != g.train[i].tokens;
    // Deterministic in the generator.
    Example again = g.train[i];
    lra::Generator gen2(99, i * 100000);
    lo::permute_operands(again.tokens, gen2);
    EXPECT_EQ(again.tokens, e.tokens);
  }
  EXPECT_EQ(changed, 40);

  // Both orders of a two-operand node, and nested nodes permuted independently.
  std::set<std::vector<int32_t>> seen;
  lra::Generator gen(1);
  for (int k = 0; k < 200; ++k) {
    std::vector<int32_t> t = ids("[SM [MIN 1 2 ] 3 ]");
    lo::permute_operands(t, gen);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 4u);

  // As a loader augmentation.
  Example e = g.train[0];
  lra::Generator gen3(4);
  lo::operand_permutation()(e, gen3);
  EXPECT_NE(e.tokens, g.train[0].tokens);
  EXPECT_EQ(lo::evaluate(e.tokens), e.label);
}

// S4's ListOps pipeline (state-spaces/s4 src/dataloaders/lra.py ListOps, append_eos True) ends every
// sequence in <eos>: with the data setting eos the release and the generated set get id 16 after the last
// token, vocabulary 17 and one more position; without it nothing changes.
TEST(ListOpsEos, TheSettingAppendsS4sEndToken) {
  const lra::tasks::TaskDescriptor& task = lra::tasks::find_task("listops");
  lra::tasks::DataOptions d;
  EXPECT_FALSE(d.eos);
  const lra::tasks::Dataset plain = task.release.load(kData + "/listops-1000", d);
  const auto* setting = lra::settings::find(lra::tasks::data_settings(), "eos");
  ASSERT_NE(setting, nullptr);
  setting->set(d, "true");
  const lra::tasks::Dataset eos = task.release.load(kData + "/listops-1000", d);
  EXPECT_EQ(plain.info.vocab_size, 16);
  EXPECT_EQ(eos.info.vocab_size, 17);
  EXPECT_EQ(eos.info.max_len, plain.info.max_len + 1);
  EXPECT_EQ(lo::kEos, 16);
  EXPECT_EQ(lo::token_word(lo::kEos), "<eos>");
  for (const char* split : {"train", "val", "test"}) {
    ASSERT_EQ(eos.split(split)->size(), plain.split(split)->size()) << split;
    for (int64_t i = 0; i < plain.split(split)->size(); ++i) {
      Example a = plain.split(split)->get(i), b = eos.split(split)->get(i);
      EXPECT_NE(a.tokens.back(), lo::kEos);
      ASSERT_EQ(b.tokens.size(), a.tokens.size() + 1) << split << " " << i;
      EXPECT_TRUE(std::equal(a.tokens.begin(), a.tokens.end(), b.tokens.begin())) << split << " " << i;
      EXPECT_EQ(b.tokens.back(), lo::kEos);
      EXPECT_EQ(b.label, a.label);
    }
  }

  // --generate too, and the operand permutation keeps <eos> last and the label.
  d.gen_train = 6;
  d.gen_val = 2;
  d.gen_min_length = 8;
  d.gen_max_length = 40;
  d.gen_depth = 4;
  d.gen_args = 3;
  const lra::tasks::Dataset gen = task.generate(d, "", 9);
  EXPECT_EQ(gen.info.vocab_size, 17);
  EXPECT_EQ(gen.info.max_len, 41);
  Example e = gen.split("train")->get(0);
  EXPECT_EQ(e.tokens.back(), lo::kEos);
  lra::Generator g(3);
  for (int k = 0; k < 5; ++k) {
    task.augment(gen.info)(e, g);
    EXPECT_EQ(e.tokens.back(), lo::kEos);
    EXPECT_EQ(std::count(e.tokens.begin(), e.tokens.end(), lo::kEos), 1);
    EXPECT_EQ(lo::evaluate(std::vector<int32_t>(e.tokens.begin(), e.tokens.end() - 1)), e.label);
  }
}
