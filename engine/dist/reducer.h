// GradReducer: the sum over ranks of every gradient of one step (data-parallel training).
//
// The trainer weights each rank's loss by its share of the global batch (rows / global rows), so the
// SUM over ranks of the local gradients is the gradient of the global batch's mean loss: the gradient
// one process would compute. After finish() every rank holds it in the optimizer's flat gradient
// buffer, so gradient clipping sees the reduced gradient and AdamW takes the same step everywhere.
//
// Two paths, chosen by Comm::overlaps():
//  * Whole buffer (MpiComm, and any communicator that does not overlap): finish() is one blocking
//    all-reduce of the flat buffer. CPU ranks have no idle engine to overlap with (the backward keeps
//    every core busy, and MPI's progress would compete for them), and one large message reaches the
//    network's bandwidth where many small ones pay MPI's per-message latency each.
//  * Buckets (NcclComm): the buffer is cut into buckets of about `bucket_bytes` made of whole parameter
//    slots, and a bucket is started (Comm::all_reduce_sum_start, on NCCL's own stream) as soon as the
//    backward has made every gradient in it final (autograd::set_leaf_ready_hook), overlapping the rest
//    of the backward. finish() starts the buckets still waiting (parameters the backward did not reach
//    count as ready then) and waits (Comm::all_reduce_wait).
//
// Bucket order. Buckets are cut from the END of the flat buffer: bucket 0 holds the last slots. Slots
// follow registration order (within a hyper-parameter segment, optim.h), and the backward produces
// the last-registered parameters' gradients first (the head before the embedding), so bucket index
// order approximates readiness order (PyTorch's DDP reverses model.parameters() for the same reason).
// Buckets are STARTED strictly in index order, on every rank: a ready bucket waits for its
// predecessors. NCCL matches collectives by their order, so every rank must issue the same sequence;
// readiness order may differ between ranks (a parameter unused on one rank's slice), index order may not.
//
// Size: ~25 MiB by default (PyTorch's default). An NCCL all-reduce costs a latency of tens of µs plus
// bytes / bandwidth; at 25 MiB the bandwidth term (~0.1 ms on NVLink, ~1 ms on InfiniBand) dwarfs the
// latency, yet a model of a few hundred MiB of gradients still has several buckets to overlap. A
// parameter larger than bucket_bytes gets a bucket of its own (slots are never split). The padding
// between slots belongs to the bucket of the slot before it: buckets tile the whole buffer, and every
// element is reduced exactly once.
//
// World 1: the whole-buffer path does nothing; the bucket path runs (NcclComm at world 1 reduces
// against itself, which is how a single GPU tests it; an in-place one-rank NCCL sum is close to free).
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "engine/autograd.h"
#include "engine/dist.h"
#include "engine/optim.h"

namespace lra::dist {

class GradReducer {
 public:
  GradReducer(optim::Optimizer& opt, Comm& comm, int64_t bucket_bytes = 25ll << 20);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // begin() and finish() bracket exactly one backward() (accumulating several backwards into one
  // reduction is a matter of calling begin() before the last one only).
  // Call before the backward (arms the per-gradient readiness hook where buckets overlap; attaches
  // every parameter's grad to its slot so the backward accumulates straight into the flat buffer).
  void begin();
  // Call after the backward: returns when the flat gradient buffer holds the sum over ranks (on the GPU:
  // when the compute stream is ordered after the last bucket). Without begin() every bucket starts here.
  void finish();

  // Buckets: [begin, end) element ranges of the flat gradient buffer, in start order. One bucket (the
  // whole buffer) on the whole-buffer path.
  struct Bucket {
    int64_t begin = 0, end = 0;
    std::vector<size_t> params;  // indices into opt.parameters()
  };
  int64_t bucket_count() const { return int64_t(buckets_.size()); }
  const Bucket& bucket(int64_t k) const { return buckets_[size_t(k)]; }
  bool overlapped() const { return overlapped_; }

 private:
  void ready(size_t param);  // the parameter's gradient is final
  void start_ready_buckets();

  optim::Optimizer& opt_;
  Comm& comm_;
  int64_t bucket_bytes_;
  bool overlapped_;
  std::vector<Bucket> buckets_;
  std::vector<int64_t> bucket_of_;                       // per parameter
  std::unordered_map<const TensorImpl*, size_t> index_;  // parameter TensorImpl -> index
  // Per step.
  std::vector<char> param_ready_;
  std::vector<int64_t> waiting_;  // per bucket: parameters not yet ready
  int64_t next_start_ = 0;        // the next bucket to start (all before it are started)
  bool armed_ = false;
  autograd::LeafReadyHook hook_;
  autograd::LeafReadyHook* previous_hook_ = nullptr;
};

}  // namespace lra::dist
