// ListOps (LRA task 1): nested MIN/MAX/MED/SM expressions over digits, 10-way classification of the value.
//
// Data. The release holds listops-1000/basic_{train,val,test}.tsv (96,000 / 2,000 / 2,000 examples):
// a header `Source<TAB>Target`, then one expression per line written with the round parentheses of
// LRA's binarised tree, e.g. `( ( ( [MED 6 ) 8 ) ] )` for [MED 6 8] (value 7). As LRA's input pipeline
// does, the loader deletes the parentheses and splits on whitespace, leaving the model-visible prefix
// form `[MED 6 8 ]`. generate() reimplements LRA's data/listops.py with our Philox streams, so any
// seed gives a fresh set with the same distribution, and write_split() writes it in the released format.
//
// Vocabulary (fixed, unlike LRA's set-order mapping; LRA has 17 ids with an unused OOV id, we have 16
// and reject unknown tokens as malformed input):
//   0 pad | 1..10 digits 0..9 | 11 [MIN | 12 [MAX | 13 [MED | 14 [SM | 15 ]
// and, with the data setting eos (S4's pipeline: state-spaces/s4 src/dataloaders/lra.py ListOps,
// append_eos True), 16 <eos> after the last token of every sequence (vocab 17, max_len 2001).
//
// Augmentation (from the locality-bias paper): permuting each operator's operands keeps every label,
// since all four operators are symmetric in their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rng.h"
#include "tasks/common/dataset.h"

namespace lra::tasks::listops {

constexpr int kVocabSize = 16;
constexpr int kMaxLen = 2000;
constexpr int kNumClasses = 10;

constexpr int32_t kPad = 0;
constexpr int32_t kDigit0 = 1;  // digit d has id kDigit0 + d
constexpr int32_t kMin = 11, kMax = 12, kMed = 13, kSum = 14, kClose = 15;
constexpr int32_t kEos = 16;  // only with append_eos(): one past the 16 ids above

TaskInfo info();  // {"listops", 16, 2000, 10, pair = false}

// The id of one source word ("7", "[MIN", "]"), or -1 when it is not in the vocabulary.
int32_t token_id(std::string_view word);
// The word of an id ("[MED"); an error for pad or an id outside the vocabulary.
std::string token_word(int32_t id);
inline bool is_digit(int32_t id) { return id >= kDigit0 && id < kDigit0 + 10; }
inline bool is_operator(int32_t id) { return id >= kMin && id <= kSum; }

// The value (0..9) of an expression in prefix form (ids as above, no padding). An error names the
// position when the expression is malformed (unbalanced ']', an operator without arguments, trailing
// tokens, unknown ids). MED is int(numpy.median): the mean of the two middle values, truncated, for an
// even count. SM is the sum mod 10.
int evaluate(const std::vector<int32_t>& tokens);

// Source text in the released format, with LRA's parentheses: `( ( ( [MED 6 ) 8 ) ] )`.
std::string to_source(const std::vector<int32_t>& tokens);
// Deletes '(' and ')' and splits on whitespace, as LRA's input pipeline does; an error names the
// unknown word. (Parentheses are deleted, not treated as separators: "5)6" is the one word "56".)
std::vector<int32_t> tokenize(std::string_view source);

// --- loading the release ---------------------------------------------------------------------------
struct LoadOptions {
  bool check_labels = true;  // reject a line whose Target differs from evaluate(Source)
  int max_len = kMaxLen;     // a longer sequence is an error, not a silent truncation
};
// One TSV file. Every problem is an lra::Error naming the file and the line ("basic_val.tsv:17: ...").
std::vector<Example> load_file(const std::string& path, const LoadOptions& options = {});
// `dir` is the listops-1000 directory; gives splits "train", "val" and "test".
Dataset load(const std::string& dir, const LoadOptions& options = {});

// S4's end-of-sequence token (src/dataloaders/lra.py ListOps: `vocab([...tokens] + ["<eos>"])` with
// append_eos True, tokens cut to l_max − 1 first so the limit counts it, padding after it): every example
// of every split gets kEos appended when read (the splits are wrapped, not copied), vocab_size becomes 17
// and max_len grows by one, so no expression is cut.
void append_eos(Dataset& data);

// --- generating a new set (LRA data/listops.py) ----------------------------------------------------
// A tree: with depth < max_depth a node is a leaf (uniform digit) with probability 0.75, else an
// operator (uniform over the four) with 2..max_args (uniform) children at depth + 1; at max_depth it is
// a leaf. The root is at depth 1. Trees are kept when min_length < tokens < max_length (tokens = ops,
// digits and ']') and deduplicated; the first num_train unique ones are train, then val, then test.
// Attempt k draws from its own Philox stream (seed, counters from k << 16), and attempts are merged in
// order, so the output depends on the seed alone, not on `threads`.
struct GenerateOptions {
  int64_t num_train = 96000, num_val = 2000, num_test = 2000;
  int max_depth = 10;
  int max_args = 10;
  int min_length = 500;
  int max_length = 2000;
  uint64_t seed = 0;
  int threads = 0;  // 0: std::thread::hardware_concurrency()
};
struct Generated {
  std::vector<Example> train, val, test;
  int64_t attempts = 0;  // trees drawn, kept or not
};
Generated generate(const GenerateOptions& options);

// Writes `examples` as a released-format TSV (header, CRLF line ends as Python's csv.writer writes
// them), to a temporary file renamed into place, so a reader never sees a half-written file.
void write_file(const std::string& path, const std::vector<Example>& examples);
// generate() then write_file() for <dir>/basic_{train,val,test}.tsv; creates dir.
Generated generate_files(const std::string& dir, const GenerateOptions& options);

// --- augmentation ----------------------------------------------------------------------------------
// Shuffles the operands of every operator, recursively (the label does not change).
void permute_operands(std::vector<int32_t>& tokens, Generator& gen);
// permute_operands as a BatchLoader augmentation; pass it in LoaderOptions::augment to switch it on. A
// trailing kEos (append_eos) stays last.
Augment operand_permutation();

}  // namespace lra::tasks::listops
