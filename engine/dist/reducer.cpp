// GradReducer (see reducer.h). This file: the whole-buffer path every communicator supports.
#include "engine/dist/reducer.h"

namespace lra::dist {

GradReducer::GradReducer(optim::Optimizer& opt, Comm& comm, int64_t bucket_bytes)
    : opt_(opt), comm_(comm), bucket_bytes_(bucket_bytes) {
  LRA_CHECK(bucket_bytes > 0, "gradient all-reduce: bucket size must be positive, got ", bucket_bytes);
  bucket_begin_ = {0};
}

GradReducer::~GradReducer() = default;

void GradReducer::begin() {}

void GradReducer::finish() {
  if (comm_.world() == 1) return;
  opt_.attach_grads();  // a grad replaced outside the flat buffer is copied into its slot first
  Tensor grads = opt_.flat_grads();
  comm_.all_reduce_sum(grads);
}

}  // namespace lra::dist
