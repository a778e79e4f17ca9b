// Fuzzes the ListOps release loader (tasks/listops: load_file -> tokenize, evaluate) on whole TSV
// files. Labels are not checked against the expression (check_labels = false), so lines after a
// wrong Target are still parsed. Properties of every accepted example: ids in the vocabulary, length
// within max_len, label 0..9, and to_source -> tokenize gives back the same ids.
#include "fuzz/fuzz_common.h"
#include "tasks/listops/listops.h"

namespace lo = lra::tasks::listops;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = lra_fuzz::scratch_dir() / "basic_train.tsv";
  lra_fuzz::write_bytes(path, data, size);
  lra_fuzz::guarded([&] {
    lo::LoadOptions options;
    options.check_labels = false;
    const std::vector<lra::tasks::Example> examples = lo::load_file(path.string(), options);
    for (const lra::tasks::Example& e : examples) {
      LRA_FUZZ_ASSERT(!e.tokens.empty() && int64_t(e.tokens.size()) <= options.max_len, "length");
      LRA_FUZZ_ASSERT(e.label >= 0 && e.label < lo::kNumClasses, "label range");
      for (int32_t t : e.tokens) LRA_FUZZ_ASSERT(t > lo::kPad && t < lo::kVocabSize, "token id");
      const int value = lo::evaluate(e.tokens);
      LRA_FUZZ_ASSERT(value >= 0 && value < lo::kNumClasses, "value range");
      LRA_FUZZ_ASSERT(lo::tokenize(lo::to_source(e.tokens)) == e.tokens, "to_source/tokenize round trip");
    }
  });
  return 0;
}
