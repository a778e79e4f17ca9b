// Text: byte encoding, the aclImdb loader (fixture in tests/data/text/aclImdb: order, labels, exact
// bytes, truncation, val = test, errors) and the fortunes stand-in (tests/data/text/fortunes: parsing,
// category filtering, deterministic 80/10/10 split, balance, errors). See tests/data/text/README.md.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "tasks/text/text.h"

namespace tx = lra::tasks::text;
using lra::tasks::Example;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(LRA_TEST_DATA) + "/text";
const std::string kImdb = kData + "/aclImdb";
const std::string kFortunes = kData + "/fortunes";

using lra::test::error_of;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path temp_dir(const std::string& name) {
  fs::path d = lra::test::scratch_dir() / ("lra_test_text_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

// A minimal valid aclImdb under `root` (one review per class and split).
void make_imdb(const fs::path& root) {
  for (const char* split : {"train", "test"})
    for (const char* label : {"neg", "pos"}) write(root / split / label / "0_1.txt", std::string("review ") + label);
}

}  // namespace

TEST(TextEncode, ByteToIdIsBPlusOne) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(static_cast<unsigned char>(b));
  std::vector<int32_t> ids = tx::encode_bytes(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[size_t(b)], b + 1) << "byte " << b;
  EXPECT_EQ(tx::decode_bytes(ids), all);
  // UTF-8 is encoded byte by byte: "é" is C3 A9.
  EXPECT_EQ(tx::encode_bytes("\xc3\xa9"), (std::vector<int32_t>{0xc3 + 1, 0xa9 + 1}));
  EXPECT_EQ(tx::encode_bytes("abcdef", 3), (std::vector<int32_t>{'a' + 1, 'b' + 1, 'c' + 1}));
  EXPECT_EQ(tx::encode_bytes("ab", 10).size(), 2u);
  EXPECT_EQ(tx::decode_bytes({'h' + 1, 'i' + 1, 0, 0}), "hi");  // pads skipped
  EXPECT_NE(error_of([] { tx::decode_bytes({'a' + 1, 257}); }).find("id 257 at position 1"), std::string::npos);
}

TEST(TextImdb, LoadsSplitsInOrderWithExactBytes) {
  lra::tasks::Dataset d = tx::load(kImdb);
  EXPECT_EQ(d.info.name, "text");
  EXPECT_EQ(d.info.vocab_size, 257);
  EXPECT_EQ(d.info.max_len, 4000);
  EXPECT_EQ(d.info.num_classes, 2);
  EXPECT_FALSE(d.info.pair);
  // Non-review files (urls_pos.txt, unsup/, notes.md) are ignored: 2 neg + 2 pos.
  auto train = d.split("train");
  ASSERT_EQ(train->size(), 4);
  // neg first, then pos; within a class byte-order by name ("10_2" < "2_1").
  const char* files[] = {"train/neg/10_2.txt", "train/neg/2_1.txt", "train/pos/0_9.txt", "train/pos/5_10.txt"};
  const int32_t labels[] = {0, 0, 1, 1};
  for (int64_t i = 0; i < 4; ++i) {
    Example e = train->get(i);
    const std::string bytes = file_bytes(kImdb + "/" + files[i]);
    EXPECT_EQ(e.label, labels[i]) << files[i];
    EXPECT_EQ(e.tokens, tx::encode_bytes(bytes)) << files[i];
    EXPECT_EQ(tx::decode_bytes(e.tokens), bytes) << files[i];
    EXPECT_TRUE(e.tokens2.empty());
  }
  // Spot-check exact ids: 2_1.txt has an em dash E2 80 94 after "Terrible ".
  Example e = train->get(1);
  ASSERT_GT(e.tokens.size(), 12u);
  EXPECT_EQ(e.tokens[0], 'T' + 1);
  EXPECT_EQ(std::vector<int32_t>(e.tokens.begin() + 9, e.tokens.begin() + 12),
            (std::vector<int32_t>{0xe2 + 1, 0x80 + 1, 0x94 + 1}));
  // HTML is kept raw.
  EXPECT_NE(tx::decode_bytes(train->get(0).tokens).find("<br /><br />"), std::string::npos);
  // The trailing newline of test/pos/0_8.txt is a byte like any other (id 11).
  EXPECT_EQ(d.split("test")->get(1).tokens.back(), '\n' + 1);

  // val is the test split itself, as in LRA.
  EXPECT_EQ(d.split("val").get(), d.split("test").get());
  ASSERT_EQ(d.split("test")->size(), 2);
  EXPECT_EQ(d.split("test")->get(0).label, 0);
  EXPECT_EQ(d.split("test")->get(1).label, 1);
}

TEST(TextImdb, TruncatesToMaxLen) {
  const std::string long_review = file_bytes(kImdb + "/train/pos/5_10.txt");
  ASSERT_GT(long_review.size(), 1000u);
  tx::LoadOptions o;
  o.max_len = 1000;
  lra::tasks::Dataset d = tx::load(kImdb, o);
  EXPECT_EQ(d.info.max_len, 1000);
  Example e = d.split("train")->get(3);
  ASSERT_EQ(e.tokens.size(), 1000u);
  EXPECT_EQ(e.tokens, tx::encode_bytes(long_review.substr(0, 1000)));
  // Shorter reviews are untouched.
  EXPECT_EQ(d.split("train")->get(0).tokens.size(), file_bytes(kImdb + "/train/neg/10_2.txt").size());
  // And batches pad to max_len.
  lra::tasks::Batch b = lra::tasks::collate(d.info, {d.split("train")->get(0), e});
  EXPECT_EQ(b.ids.shape(), lra::Shape({2, 1000}));
  EXPECT_EQ(b.lengths.to_vector<int32_t>()[1], 1000);
  EXPECT_EQ(b.ids.to_vector<int32_t>()[999], 0);
}

TEST(TextImdb, ErrorsNameTheDirectoryOrFile) {
  std::string msg = error_of([] { tx::load(kData + "/no-such-imdb"); });
  EXPECT_NE(msg.find("no-such-imdb' not found"), std::string::npos) << msg;

  fs::path root = temp_dir("errors");
  make_imdb(root);
  EXPECT_EQ(tx::load(root.string()).split("train")->size(), 2);

  fs::remove_all(root / "test" / "pos");
  msg = error_of([&] { tx::load(root.string()); });
  EXPECT_NE(msg.find("directory " + (root / "test" / "pos").string() + " not found"), std::string::npos) << msg;

  make_imdb(root);
  fs::remove(root / "train" / "neg" / "0_1.txt");
  write(root / "train" / "neg" / "README", "no reviews here");
  msg = error_of([&] { tx::load(root.string()); });
  EXPECT_NE(msg.find((root / "train" / "neg").string() + " holds no *.txt review"), std::string::npos) << msg;

  make_imdb(root);
  write(root / "train" / "pos" / "1_1.txt", "");
  msg = error_of([&] { tx::load(root.string()); });
  EXPECT_NE(msg.find((root / "train" / "pos" / "1_1.txt").string() + ": empty review"), std::string::npos) << msg;

  fs::remove(root / "train" / "pos" / "1_1.txt");
  fs::create_directories(root / "train" / "pos" / "2_1.txt");  // a *.txt that cannot be read as a file
  msg = error_of([&] { tx::load(root.string()); });
  EXPECT_NE(msg.find((root / "train" / "pos" / "2_1.txt").string() + ": not a readable regular file"),
            std::string::npos)
      << msg;

  msg = error_of([&] { tx::load_split_documents((root / "test").string(), 0); });
  EXPECT_NE(msg.find("max_len must be positive"), std::string::npos) << msg;
  fs::remove_all(root);
}

TEST(TextFortunes, ReadsEntriesAndCategories) {
  std::vector<std::string> alpha = tx::read_fortunes(kFortunes + "/alpha");
  ASSERT_EQ(alpha.size(), 20u);
  EXPECT_EQ(alpha[0], "Alpha fortune number 0.\n\t-- the alpha file");
  EXPECT_EQ(alpha[19], "Alpha fortune number 19.\n\t-- the alpha file");
  std::vector<std::string> beta = tx::read_fortunes(kFortunes + "/beta");  // no trailing '%'
  ASSERT_EQ(beta.size(), 24u);
  EXPECT_EQ(beta[23], "beta entry 23: bytes and bits");
  std::vector<std::string> gamma = tx::read_fortunes(kFortunes + "/gamma");  // empty entries dropped
  ASSERT_EQ(gamma.size(), 22u);
  for (size_t i = 0; i < gamma.size(); ++i) EXPECT_EQ(gamma[i], "Gamma " + std::to_string(i));

  EXPECT_EQ(tx::fortune_categories(kFortunes), (std::vector<std::string>{"alpha", "beta", "gamma", "tiny"}));
  EXPECT_NE(error_of([] { tx::read_fortunes(kFortunes + "/delta"); }).find("/delta: not a readable regular file"),
            std::string::npos);
}

TEST(TextFortunes, DeterministicBalancedSplitsNotImdb) {
  tx::FortuneOptions o;
  o.dir = kFortunes;
  o.categories = {"beta", "alpha"};
  o.seed = 3;
  lra::tasks::Dataset d = tx::load_fortunes(o);
  EXPECT_EQ(d.info.name, "text-fortunes");  // never "text": this is not IMDB
  EXPECT_EQ(d.info.vocab_size, 257);
  EXPECT_EQ(d.info.num_classes, 2);
  // Balanced: 20 of each (alpha has 20, beta 24), cut 16/2/2 per category.
  ASSERT_EQ(d.split("train")->size(), 32);
  ASSERT_EQ(d.split("val")->size(), 4);
  ASSERT_EQ(d.split("test")->size(), 4);

  const std::vector<std::string> alpha = tx::read_fortunes(kFortunes + "/alpha");
  const std::vector<std::string> beta = tx::read_fortunes(kFortunes + "/beta");
  std::set<std::string> seen;
  for (const char* name : {"train", "val", "test"}) {
    auto split = d.split(name);
    int per_label[2] = {0, 0};
    for (int64_t i = 0; i < split->size(); ++i) {
      Example e = split->get(i);
      const std::string text = tx::decode_bytes(e.tokens);
      ASSERT_TRUE(e.label == 0 || e.label == 1);
      ++per_label[e.label];
      const auto& source = e.label == 0 ? beta : alpha;  // label i is categories[i]
      EXPECT_NE(std::find(source.begin(), source.end(), text), source.end()) << name << " " << text;
      EXPECT_TRUE(seen.insert(text).second) << "in two splits: " << text;
    }
    EXPECT_EQ(per_label[0], per_label[1]) << name;
  }

  // Same seed, same split; another seed, another one.
  lra::tasks::Dataset again = tx::load_fortunes(o);
  o.seed = 4;
  lra::tasks::Dataset other = tx::load_fortunes(o);
  int differ = 0;
  for (int64_t i = 0; i < 32; ++i) {
    EXPECT_EQ(again.split("train")->get(i).tokens, d.split("train")->get(i).tokens);
    differ += other.split("train")->get(i).tokens != d.split("train")->get(i).tokens;
  }
  EXPECT_GT(differ, 10);

  // Unbalanced keeps every entry: beta 24 -> 19/2/3, alpha 20 -> 16/2/2.
  o.balance = false;
  lra::tasks::Dataset all = tx::load_fortunes(o);
  EXPECT_EQ(all.split("train")->size(), 35);
  EXPECT_EQ(all.split("val")->size(), 4);
  EXPECT_EQ(all.split("test")->size(), 5);

  // Three categories, three classes; max_len truncates.
  o.categories = {"alpha", "beta", "gamma"};
  o.max_len = 5;
  lra::tasks::Dataset three = tx::load_fortunes(o);
  EXPECT_EQ(three.info.num_classes, 3);
  EXPECT_EQ(three.info.max_len, 5);
  EXPECT_EQ(three.split("train")->get(0).tokens.size(), 5u);
}

TEST(TextFortunes, Errors) {
  tx::FortuneOptions o;
  o.dir = kFortunes;
  o.categories = {"alpha", "delta"};
  std::string msg = error_of([&] { tx::load_fortunes(o); });
  EXPECT_NE(msg.find("no category 'delta'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(it has: alpha, beta, gamma, tiny)"), std::string::npos) << msg;
  o.categories = {"alpha", "tiny"};
  msg = error_of([&] { tx::load_fortunes(o); });
  EXPECT_NE(msg.find("category 'tiny' has 3 entries"), std::string::npos) << msg;
  o.categories = {"alpha"};
  EXPECT_NE(error_of([&] { tx::load_fortunes(o); }).find("at least two categories"), std::string::npos);
  o.categories = {"alpha", "alpha"};
  EXPECT_NE(error_of([&] { tx::load_fortunes(o); }).find("'alpha' is named twice"), std::string::npos);
  o.dir = kData + "/no-fortunes";
  o.categories = {"alpha", "beta"};
  msg = error_of([&] { tx::load_fortunes(o); });
  EXPECT_NE(msg.find("no-fortunes' not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install fortunes"), std::string::npos) << msg;
}
