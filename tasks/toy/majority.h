// The "majority token" toy task: the demo's generated data, and the learnable problem the training tests
// use. A sequence holds tokens 1..vocab-1 with a random length in [max_len/2, max_len], padded with id 0
// (as in LRA). Its label is whichever of the tokens 1..classes occurs most often (ties go to the lowest);
// the other tokens are distractors. Embedding + mean pooling + a linear head can solve it, so loss must
// fall; chance accuracy is 1/classes.
#pragma once

#include <cstdint>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::tasks {

struct TokenBatch {
  Tensor ids;     // [B, L] int32, 0 = padding
  Tensor mask;    // [B, L] int32, 1 where ids != 0
  Tensor labels;  // [B] int32
};

class MajorityTask {
 public:
  MajorityTask(int vocab = 9, int classes = 4, int max_len = 64);
  // A fresh batch drawn from gen (host tensors; move them with .to()).
  TokenBatch batch(int64_t batch_size, Generator& gen) const;
  int vocab() const { return vocab_; }
  int classes() const { return classes_; }
  int max_len() const { return max_len_; }

 private:
  int vocab_, classes_, max_len_;
};

}  // namespace lra::tasks
