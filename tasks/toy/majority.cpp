#include "tasks/toy/majority.h"

#include <vector>

namespace lra::tasks {

MajorityTask::MajorityTask(int vocab, int classes, int max_len) : vocab_(vocab), classes_(classes), max_len_(max_len) {
  LRA_CHECK(classes >= 2 && vocab > classes, "majority task: need 2 <= classes < vocab, got classes ", classes,
            " and vocab ", vocab);
  LRA_CHECK(max_len >= 2, "majority task: max_len must be at least 2, got ", max_len);
}

TokenBatch MajorityTask::batch(int64_t batch_size, Generator& gen) const {
  int64_t L = max_len_;
  std::vector<int32_t> ids(static_cast<size_t>(batch_size * L), 0), mask(ids.size(), 0), labels;
  for (int64_t b = 0; b < batch_size; ++b) {
    int64_t len = L / 2 + int64_t(gen.below(uint32_t(L - L / 2 + 1)));
    std::vector<int> counts(size_t(vocab_), 0);
    for (int64_t t = 0; t < len; ++t) {
      int32_t tok = 1 + int32_t(gen.below(uint32_t(vocab_ - 1)));
      ids[size_t(b * L + t)] = tok;
      mask[size_t(b * L + t)] = 1;
      ++counts[size_t(tok)];
    }
    int best = 1;
    for (int c = 2; c <= classes_; ++c)
      if (counts[size_t(c)] > counts[size_t(best)]) best = c;
    labels.push_back(best - 1);
  }
  return {Tensor::from_vector(ids, {batch_size, L}), Tensor::from_vector(mask, {batch_size, L}),
          Tensor::from_vector(labels, {batch_size})};
}

}  // namespace lra::tasks
