// Retrieval: the AAN TSV loader (fixtures in tests/data/retrieval: quotes kept verbatim, float labels,
// CRLF, truncation to 4000 and the 10,000-byte prefix, malformed lines named by file and line) and the
// fortunes stand-in (tests/data/text/fortunes: balance, same/different category, split isolation,
// determinism). See tests/data/retrieval/README.md.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <unistd.h>

#include "tasks/retrieval/retrieval.h"

namespace rt = lra::tasks::retrieval;
namespace tx = lra::tasks::text;
using lra::tasks::Example;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(LRA_TEST_DATA) + "/retrieval";
const std::string kTsv = kData + "/tsv_data";
const std::string kFortunes = std::string(LRA_TEST_DATA) + "/text/fortunes";

using lra::test::error_of;

fs::path temp_dir(const std::string& name) {
  fs::path d = lra::test::scratch_dir() / ("lra_test_retrieval_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string text_of(const std::vector<int32_t>& ids) { return tx::decode_bytes(ids); }

}  // namespace

TEST(RetrievalAan, LoadsPairsVerbatim) {
  lra::tasks::Dataset d = rt::load(kTsv);
  EXPECT_EQ(d.info.name, "retrieval");
  EXPECT_EQ(d.info.vocab_size, 257);
  EXPECT_EQ(d.info.max_len, 4000);
  EXPECT_EQ(d.info.num_classes, 2);
  EXPECT_TRUE(d.info.pair);
  auto train = d.split("train");
  ASSERT_EQ(train->size(), 4);
  EXPECT_EQ(d.split("val")->size(), 2);  // the eval file
  EXPECT_EQ(d.split("test")->size(), 1);

  // Quotes are ordinary bytes (no quote processing), even an unbalanced one opening a field.
  Example e = train->get(0);
  EXPECT_EQ(e.label, 1);
  EXPECT_EQ(text_of(e.tokens), "We cite \"Smith et al.\" and 'Jones' here.");
  EXPECT_EQ(text_of(e.tokens2), "\"Quoted from the start");
  EXPECT_EQ(e.tokens[8], '"' + 1);

  // "0.0" and "1.0" are labels 0 and 1; a document of 4500 bytes is cut to 4000.
  e = train->get(1);
  EXPECT_EQ(e.label, 0);
  EXPECT_EQ(text_of(e.tokens), "plain abstract");
  ASSERT_EQ(e.tokens2.size(), 4000u);
  EXPECT_EQ(text_of(e.tokens2).substr(0, 13), "Section 000: ");

  e = train->get(2);  // CRLF: the '\r' is dropped
  EXPECT_EQ(e.label, 1);
  EXPECT_EQ(text_of(e.tokens2), "ends here");

  e = train->get(3);  // an empty first document is allowed
  EXPECT_EQ(e.label, 0);
  EXPECT_TRUE(e.tokens.empty());
  EXPECT_EQ(text_of(e.tokens2), "the first document is empty");

  // UTF-8 bytes one by one.
  e = d.split("val")->get(1);
  EXPECT_EQ(e.tokens, tx::encode_bytes("Na\xc3\xafve caf\xc3\xa9"));

  // Collation gives two [B, 4000] documents.
  lra::tasks::Batch b = lra::tasks::collate(d.info, {train->get(0), train->get(1)});
  EXPECT_EQ(b.ids.shape(), lra::Shape({2, 4000}));
  EXPECT_EQ(b.ids2.shape(), lra::Shape({2, 4000}));
  EXPECT_EQ(b.lengths2.to_vector<int32_t>(), (std::vector<int32_t>{22, 4000}));
  EXPECT_EQ(b.labels.to_vector<int32_t>(), (std::vector<int32_t>{1, 0}));
}

TEST(RetrievalAan, FirstTenThousandBytesThenMaxLen) {
  fs::path dir = temp_dir("long");
  std::string doc;
  for (int i = 0; doc.size() < 12000; ++i) doc += char('a' + i % 26);
  const fs::path file = dir / "pairs.tsv";
  std::ofstream(file, std::ios::binary) << "1\tx\ty\t" << doc << "\tshort\n";
  // max_len above 10,000: only the first 10,000 bytes are ever encoded.
  std::vector<tx::ByteDocument> docs = rt::load_file(file.string(), 12000);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, doc.substr(0, 10000));
  EXPECT_EQ(docs[0].text2, "short");
  // At a small max_len, the first max_len bytes.
  docs = rt::load_file(file.string(), 7);
  EXPECT_EQ(docs[0].text, "abcdefg");
  fs::remove_all(dir);
}

struct Malformed {
  const char* file;
  int line;
  const char* says;
};

TEST(RetrievalAan, MalformedFilesNameFileAndLine) {
  const Malformed cases[] = {
      {"four_columns.tsv", 2, "expected 5 tab-separated columns (label, id1, id2, text1, text2), found 4"},
      {"six_columns.tsv", 3, "found 6"},
      {"empty_line.tsv", 2, "found 1 (an empty line)"},
      {"label_two.tsv", 1, "label '2' is not 0 or 1"},
      {"label_half.tsv", 2, "label '0.5' is not 0 or 1"},
      {"label_text.tsv", 1, "label 'yes' is not 0 or 1"},
  };
  for (const Malformed& c : cases) {
    const std::string path = kData + "/malformed/" + c.file;
    const std::string msg = error_of([&] { rt::load_file(path); });
    EXPECT_NE(msg.find(path + ":" + std::to_string(c.line) + ": "), std::string::npos) << c.file << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.file << ": " << msg;
  }
  std::string msg = error_of([&] { rt::load_file(kData + "/malformed/empty.tsv"); });
  EXPECT_NE(msg.find("empty.tsv: no pairs"), std::string::npos) << msg;
}

TEST(RetrievalAan, MissingDirectoryOrFile) {
  std::string msg = error_of([] { rt::load(kData + "/no-such-dir"); });
  EXPECT_NE(msg.find("no-such-dir' not found"), std::string::npos) << msg;

  fs::path dir = temp_dir("missing");
  for (const char* f : {"new_aan_pairs.train.tsv", "new_aan_pairs.test.tsv"}) fs::copy_file(kTsv + "/" + f, dir / f);
  msg = error_of([&] { rt::load(dir.string()); });
  EXPECT_NE(msg.find((dir / "new_aan_pairs.eval.tsv").string() + ": no such file"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(RetrievalFortunes, BalancedPairsBySameCategoryNotAan) {
  rt::FortuneOptions o;
  o.dir = kFortunes;
  o.categories = {"alpha", "beta", "gamma"};
  o.num_train = 400;
  o.num_val = 50;
  o.num_test = 51;
  o.seed = 9;
  lra::tasks::Dataset d = rt::load_fortunes(o);
  EXPECT_EQ(d.info.name, "retrieval-fortunes");  // never "retrieval": this is not AAN
  EXPECT_TRUE(d.info.pair);
  EXPECT_EQ(d.info.num_classes, 2);
  EXPECT_EQ(d.info.vocab_size, 257);

  // Which category an entry comes from, and which split it was cut into.
  std::map<std::string, std::string> category;
  for (const std::string& c : o.categories)
    for (const std::string& entry : tx::read_fortunes(kFortunes + "/" + c)) category[entry] = c;
  std::map<std::string, std::set<std::string>> used;  // split -> entries
  for (const auto& [name, n] : std::map<std::string, int64_t>{{"train", 400}, {"val", 50}, {"test", 51}}) {
    auto split = d.split(name);
    ASSERT_EQ(split->size(), n) << name;
    int64_t positives = 0, first_half_positives = 0;
    for (int64_t i = 0; i < n; ++i) {
      Example e = split->get(i);
      const std::string a = text_of(e.tokens), b = text_of(e.tokens2);
      ASSERT_TRUE(category.count(a) && category.count(b)) << a << " | " << b;
      EXPECT_EQ(e.label, category[a] == category[b] ? 1 : 0) << a << " | " << b;
      if (e.label == 1) EXPECT_NE(a, b);  // two distinct entries
      positives += e.label;
      if (i < n / 2) first_half_positives += e.label;
      used[name].insert(a);
      used[name].insert(b);
    }
    EXPECT_EQ(positives, (n + 1) / 2) << name;  // balanced
    if (name == "train") {
      EXPECT_GT(first_half_positives, 70);  // shuffled, not alternating blocks
      EXPECT_LT(first_half_positives, 130);
    }
  }
  // No entry is shared between splits.
  for (const std::string& x : used["test"]) {
    EXPECT_FALSE(used["train"].count(x)) << x;
    EXPECT_FALSE(used["val"].count(x)) << x;
  }
  for (const std::string& x : used["val"]) EXPECT_FALSE(used["train"].count(x)) << x;
  // Train draws on (nearly) all its 16 + 19 + 17 = 52 entries.
  EXPECT_GT(used["train"].size(), 45u);

  // Deterministic in the seed.
  lra::tasks::Dataset again = rt::load_fortunes(o);
  o.seed = 10;
  lra::tasks::Dataset other = rt::load_fortunes(o);
  int differ = 0;
  for (int64_t i = 0; i < 400; ++i) {
    EXPECT_EQ(again.split("train")->get(i).tokens, d.split("train")->get(i).tokens);
    EXPECT_EQ(again.split("train")->get(i).tokens2, d.split("train")->get(i).tokens2);
    differ += other.split("train")->get(i).tokens != d.split("train")->get(i).tokens;
  }
  EXPECT_GT(differ, 100);
}

TEST(RetrievalFortunes, Errors) {
  rt::FortuneOptions o;
  o.dir = kFortunes;
  o.categories = {"alpha", "beta"};
  o.num_val = 0;
  EXPECT_NE(error_of([&] { rt::load_fortunes(o); }).find("every split needs at least one pair"), std::string::npos);
  o.num_val = 10;
  o.categories = {"alpha", "tiny"};
  EXPECT_NE(error_of([&] { rt::load_fortunes(o); }).find("category 'tiny' has 3 entries"), std::string::npos);
  o.categories = {"alpha", "nope"};
  EXPECT_NE(error_of([&] { rt::load_fortunes(o); }).find("no category 'nope'"), std::string::npos);
  // A category of 10..19 entries leaves a split with a single entry: no positive pair possible.
  fs::path dir = temp_dir("small");
  {
    std::ofstream a(dir / "aa"), b(dir / "bb");
    for (int i = 0; i < 12; ++i) a << "a" << i << "\n%\n";
    for (int i = 0; i < 30; ++i) b << "b" << i << "\n%\n";
  }
  o.dir = dir.string();
  o.categories = {"aa", "bb"};
  const std::string msg = error_of([&] { rt::load_fortunes(o); });
  EXPECT_NE(msg.find("category 'aa' has 1 entries in the val split"), std::string::npos) << msg;
  fs::remove_all(dir);
}
