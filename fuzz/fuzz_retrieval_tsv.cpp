// Fuzzes the Retrieval (AAN pairs) loader (tasks/retrieval: load_file) on whole TSV files, then encodes
// every accepted pair through text::ByteSplit::get. Properties: label 0 or 1, documents at most
// min(10,000, max_len) bytes, ids 1..256 then padding, both token rows max_len long.
#include "fuzz/fuzz_common.h"
#include "tasks/retrieval/retrieval.h"

namespace rt = lra::tasks::retrieval;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = lra_fuzz::scratch_dir() / "new_aan_pairs.train.tsv";
  lra_fuzz::write_bytes(path, data, size);
  // A short max_len as well as the default, so truncation is exercised by small inputs.
  for (int max_len : {rt::kMaxLen, 7}) {
    lra_fuzz::guarded([&] {
      std::vector<lra::tasks::text::ByteDocument> docs = rt::load_file(path.string(), max_len);
      LRA_FUZZ_ASSERT(!docs.empty(), "an accepted file has pairs");
      for (const auto& d : docs) {
        LRA_FUZZ_ASSERT(d.label == 0 || d.label == 1, "label");
        LRA_FUZZ_ASSERT(int64_t(d.text.size()) <= max_len && int64_t(d.text2.size()) <= max_len, "truncation");
      }
      const lra::tasks::text::ByteSplit split(std::move(docs), max_len);
      for (int64_t i = 0; i < split.size(); ++i) {
        const lra::tasks::Example e = split.get(i);
        for (const auto* row : {&e.tokens, &e.tokens2}) {
          LRA_FUZZ_ASSERT(int64_t(row->size()) <= max_len, "token row length");
          for (int32_t t : *row) LRA_FUZZ_ASSERT(t >= 0 && t <= 256, "byte id");
        }
      }
    });
  }
  return 0;
}
