// GradReducer: the sum over ranks of every gradient of one step (data-parallel training).
//
// The trainer weights each rank's loss by its share of the global batch (rows / global rows), so the
// SUM over ranks of the local gradients is the gradient of the global batch's mean loss: the gradient
// one process would compute. After finish() every rank holds it in the optimizer's flat gradient
// buffer, so gradient clipping sees the reduced gradient and AdamW takes the same step everywhere.
//
// CPU ranks (MpiComm): one blocking all-reduce of the whole flat buffer after the backward (the CPU
// backward has no idle engine to overlap with). GPU ranks (NcclComm): the buffer is cut into buckets of
// about `bucket_bytes` (whole parameter slots); a bucket is all-reduced on the communicator's own stream
// as soon as the backward has produced every gradient in it, overlapping the rest of the backward.
// Buckets are launched in index order on every rank (NCCL needs the same collective order everywhere).
#pragma once

#include <cstdint>

#include "engine/dist.h"
#include "engine/optim.h"

namespace lra::dist {

class GradReducer {
 public:
  GradReducer(optim::Optimizer& opt, Comm& comm, int64_t bucket_bytes = 25ll << 20);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Call before the backward (arms the per-gradient readiness hook where buckets overlap).
  void begin();
  // Call after the backward: returns when the flat gradient buffer holds the sum over ranks (on the GPU:
  // when the compute stream is ordered after the last bucket).
  void finish();

  int64_t bucket_count() const { return int64_t(bucket_begin_.size()); }

 private:
  optim::Optimizer& opt_;
  Comm& comm_;
  int64_t bucket_bytes_;
  std::vector<int64_t> bucket_begin_;  // flat-buffer element where each bucket starts (one entry: whole)
};

}  // namespace lra::dist
