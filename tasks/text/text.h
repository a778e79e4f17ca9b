// Text (LRA task 2): byte-level IMDB sentiment, 2 classes (0 = negative, 1 = positive).
//
// Data. The standard aclImdb release: <dir>/{train,test}/{pos,neg}/<id>_<rating>.txt, one review per
// file (25,000 + 25,000). Other entries (train/unsup, *.feat, urls_*.txt) are ignored. LRA uses the test
// set as its validation set (text_classification/input_pipeline.py: get_imdb_dataset), so load() gives
// "train", "test" and "val", where "val" is the same split object as "test".
//
// Encoding (tfds ByteTextEncoder): the raw bytes of the file, HTML such as "<br />" and UTF-8 multi-byte
// sequences included, byte b -> id b + 1; id 0 is padding, so vocab_size = 257. A review is truncated to
// its first max_len bytes. LRA's repo config uses 1000, the paper 4000 ("best across 1K..4K"); we default
// to 4000 (reference/lra-benchmark.md 1.2).
//
// Order. Within a split: the neg files, then the pos files, each sorted by file name (byte order), so
// the same directory always gives the same indices; the BatchLoader does the shuffling.
//
// Stand-in corpus (NOT IMDB). load_fortunes() builds a classification task of the same shape from the
// Debian `fortunes` packages (/usr/share/games/fortunes/<category>, entries separated by lines holding a
// single '%'), labelled by category, byte-encoded the same way, so the text pipeline can train end to
// end on a machine without the IMDB download. Its TaskInfo name is "text-fortunes"; no result on it says
// anything about LRA Text.
//
// Memory. Splits keep documents as raw bytes and encode on get() (ByteSplit): a quarter of the int32
// size, which matters for Retrieval (tasks/retrieval), which reuses ByteSplit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/common/dataset.h"

namespace lra::tasks::text {

constexpr int kVocabSize = 257;  // 0 pad + 256 byte values
constexpr int kMaxLen = 4000;
constexpr int kNumClasses = 2;
constexpr int32_t kPad = 0;

TaskInfo info(int max_len = kMaxLen);  // {"text", 257, max_len, 2, pair = false}

// Byte b -> id b + 1 for the first max_len bytes of `bytes` (all of them when max_len < 0).
std::vector<int32_t> encode_bytes(std::string_view bytes, int64_t max_len = -1);
// The inverse (for inspection): pads are skipped; an id outside 1..256 is an error.
std::string decode_bytes(const std::vector<int32_t>& ids);

// Documents held as raw bytes, encoded on get(): tokens from `text`, tokens2 from `text2` (empty for
// single-document tasks). The constructor truncates every stored document to max_len bytes.
struct ByteDocument {
  std::string text, text2;
  int32_t label = 0;
};
class ByteSplit : public Split {
 public:
  ByteSplit(std::vector<ByteDocument> documents, int max_len);
  int64_t size() const override { return int64_t(documents_.size()); }
  Example get(int64_t index) const override;
  const std::vector<ByteDocument>& documents() const { return documents_; }

 private:
  std::vector<ByteDocument> documents_;
};

// --- IMDB (aclImdb) ----------------------------------------------------------------------------------
struct LoadOptions {
  int max_len = kMaxLen;  // LRA configurations use 1000, 2000, 3000 or 4000
};
// One split directory (<dir>/train or <dir>/test): its neg/*.txt (label 0) then pos/*.txt (label 1),
// each review cut to its first max_len bytes.
// Errors name the directory or file at fault: a missing neg/ or pos/, one with no *.txt file, an empty
// or unreadable review.
std::vector<ByteDocument> load_split_documents(const std::string& split_dir, int max_len = kMaxLen);
// `dir` is the aclImdb directory; gives splits "train", "test" and "val" (= "test", as in LRA).
Dataset load(const std::string& dir, const LoadOptions& options = {});

// --- stand-in: Debian fortunes by category (NOT IMDB) -------------------------------------------------
constexpr const char* kFortuneDir = "/usr/share/games/fortunes";  // apt-get install fortunes fortunes-min

// The entries of one fortune file: the text between lines that hold a single '%', lines joined with
// '\n' (no trailing newline). Entries that are empty or only whitespace are dropped. An error names the
// file when it is missing or unreadable.
std::vector<std::string> read_fortunes(const std::string& path);
// Category names in a fortune directory: regular files without a '.' in their name (the packages put
// an index <name>.dat and a link <name>.u8 beside each file).
std::vector<std::string> fortune_categories(const std::string& dir);

struct FortuneOptions {
  std::string dir = kFortuneDir;
  // Label i is categories[i]. The default pair is two of the largest categories (1050 and 1250 entries).
  std::vector<std::string> categories = {"computers", "people"};
  int max_len = kMaxLen;
  bool balance = true;  // keep the same number of entries (the smallest category's) from every category
  uint64_t seed = 0;
};
// Entries of one category in a deterministic per-(seed, category position) order, cut 80/10/10 into
// train/val/test (floor for train and val, the rest to test), so a fortune appears in one split only.
// Each split lists category 0's entries, then category 1's, ...
struct FortuneSplits {
  std::vector<std::vector<std::string>> train, val, test;  // [category][entry]
};
FortuneSplits split_fortunes(const std::string& dir, const std::vector<std::string>& categories, bool balance,
                             uint64_t seed);
// The "text-fortunes" task: {"text-fortunes", 257, max_len, categories.size(), pair = false}, splits
// "train", "val", "test". Errors: a missing directory, an unknown category (listing the known ones), a
// category named twice, fewer than two categories, a category with fewer than 10 entries.
Dataset load_fortunes(const FortuneOptions& options = {});

}  // namespace lra::tasks::text
