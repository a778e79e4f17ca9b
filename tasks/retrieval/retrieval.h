// Retrieval (LRA task 3): AAN citation matching. Two documents per example; label 1 when the papers are
// linked by a citation, else 0. The model encodes each document separately (shared weights, two towers).
//
// Data. The release's tsv_data/new_aan_pairs.{train,eval,test}.tsv (147,086 / 18,090 / 17,437 pairs):
// no header, tab-separated, five columns `label, id1, id2, text1, text2`. As LRA reads it (quote
// delimiters disabled), a '"' is an ordinary byte and is kept verbatim; a line is split on every tab. A
// trailing '\r' is dropped, as TensorFlow's line reader does. The label is parsed as a float and cast to
// int; anything but 0 or 1 (e.g. "0.5", "2", "yes") is refused. The ids are not used.
//
// Encoding (matching/input_pipeline.py, tokenizer 'char'): each document's first 10,000 bytes are
// byte-encoded (b -> b + 1, 0 = pad, vocab 257), then truncated to max_len = 4000 and padded. Splits:
// "train", "val" (the eval file) and "test". LRA drops the partial last batch of every split
// (LoaderOptions::drop_last).
//
// Stand-in corpus (NOT AAN). load_fortunes() pairs entries of the Debian fortune files (see
// tasks/text/text.h): two fortunes of the same category are a positive pair, two of different categories
// a negative one, half and half. Its TaskInfo name is "retrieval-fortunes"; it exercises the two-tower
// pipeline end to end offline and says nothing about LRA Retrieval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/common/dataset.h"
#include "tasks/text/text.h"

namespace lra::tasks::retrieval {

constexpr int kVocabSize = 257;
constexpr int kMaxLen = 4000;
constexpr int kNumClasses = 2;
constexpr int kDocumentBytes = 10000;  // LRA encodes only this prefix of each document

TaskInfo info(int max_len = kMaxLen);  // {"retrieval", 257, max_len, 2, pair = true}

struct LoadOptions {
  int max_len = kMaxLen;
};
// One TSV file, documents truncated to min(10,000, max_len) bytes. Every problem is an lra::Error naming
// the file and the line ("new_aan_pairs.eval.tsv:17: ..."): a missing file, a wrong column count, a bad
// label.
std::vector<text::ByteDocument> load_file(const std::string& path, int max_len = kMaxLen);
// `dir` is the tsv_data directory; gives splits "train", "val" and "test".
Dataset load(const std::string& dir, const LoadOptions& options = {});

// --- stand-in: pairs of Debian fortunes (NOT AAN) ----------------------------------------------------
struct FortuneOptions {
  std::string dir = text::kFortuneDir;
  std::vector<std::string> categories = {"computers", "definitions", "people",     "politics",
                                         "science",   "songs-poems", "work"};
  int64_t num_train = 8000, num_val = 1000, num_test = 1000;  // pairs per split
  int max_len = kMaxLen;
  uint64_t seed = 0;
};
// The fortunes are cut 80/10/10 per category as in text::split_fortunes (unbalanced), and each split's
// pairs are drawn from its own fortunes only, so no test document was seen in training. Pair i of a split
// is positive when i is even: a category uniformly, then two distinct entries of it; a negative pair
// takes two distinct categories uniformly and one entry of each. The pairs are then put in a seeded
// random order. Deterministic in the seed. Errors: fewer than two categories, a split size below 1, and
// those of text::split_fortunes.
Dataset load_fortunes(const FortuneOptions& options = {});

}  // namespace lra::tasks::retrieval
