// GradReducer (see reducer.h): bucket cutting, readiness counting, in-order starts. Device-agnostic: the
// communicator decides what "start" and "wait" mean (NcclComm: its own stream and events), so the
// bookkeeping is tested on the CPU with a fake communicator (tests/dist_unit).
#include "engine/dist/reducer.h"

namespace lra::dist {

GradReducer::GradReducer(optim::Optimizer& opt, Comm& comm, int64_t bucket_bytes)
    : opt_(opt), comm_(comm), bucket_bytes_(bucket_bytes), overlapped_(comm.overlaps()) {
  LRA_CHECK(bucket_bytes > 0, "gradient all-reduce: bucket size must be positive, got ", bucket_bytes);
  const int64_t total = opt_.flat_grads().numel();
  const auto& params = opt_.parameters();
  if (!overlapped_ || params.empty()) {
    buckets_.push_back({0, total, {}});
    for (size_t i = 0; i < params.size(); ++i) buckets_[0].params.push_back(i);
    return;
  }
  // Parameter i owns [slot_begin(i), slot_begin(i+1)) (its slot and the padding after it); the last
  // owns up to the end, the first from 0. Walk from the last parameter to the first, closing a bucket
  // when the next parameter would take it past bucket_bytes (never leaving a bucket empty).
  const int64_t elem = int64_t(dtype_size(opt_.dtype()));
  bucket_of_.assign(params.size(), -1);
  Bucket cur;
  cur.end = total;
  for (size_t k = params.size(); k-- > 0;) {
    const int64_t begin = k == 0 ? 0 : opt_.slot_begin(k);
    const int64_t end = k + 1 == params.size() ? total : opt_.slot_begin(k + 1);
    if (!cur.params.empty() && (cur.end - begin) * elem > bucket_bytes_) {
      buckets_.push_back(cur);
      cur = Bucket{};
      cur.end = end;
    }
    cur.begin = begin;
    cur.params.push_back(k);
  }
  buckets_.push_back(cur);
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t p : buckets_[b].params) bucket_of_[p] = int64_t(b);
  for (size_t i = 0; i < params.size(); ++i) index_[params[i].tensor.impl()] = i;
  hook_ = [this](const Tensor& leaf) {
    auto it = index_.find(leaf.impl());
    if (it != index_.end()) ready(it->second);  // leaves that are not parameters (inputs) are not ours
  };
}

GradReducer::~GradReducer() {
  if (armed_) autograd::set_leaf_ready_hook(previous_hook_);
}

void GradReducer::begin() {
  opt_.attach_grads();  // the backward then adds into the slots in place
  if (!overlapped_) return;
  LRA_CHECK(!armed_, "gradient all-reduce: begin() twice without finish()");
  param_ready_.assign(opt_.parameters().size(), 0);
  waiting_.clear();
  for (const Bucket& b : buckets_) waiting_.push_back(int64_t(b.params.size()));
  next_start_ = 0;
  armed_ = true;
  previous_hook_ = autograd::set_leaf_ready_hook(&hook_);
}

void GradReducer::ready(size_t param) {
  LRA_CHECK(!param_ready_[param], "gradient all-reduce: the gradient of '", opt_.parameters()[param].name,
            "' was reported final twice: exactly one backward() may run between begin() and finish() (its "
            "bucket may already be summed over ranks)");
  param_ready_[param] = 1;
  --waiting_[size_t(bucket_of_[param])];
  start_ready_buckets();
}

void GradReducer::start_ready_buckets() {
  while (next_start_ < bucket_count() && waiting_[size_t(next_start_)] == 0) {
    const Bucket& b = buckets_[size_t(next_start_++)];
    Tensor view = opt_.flat_grads().narrow0(b.begin, b.end - b.begin);
    comm_.all_reduce_sum_start(view);
  }
}

void GradReducer::finish() {
  if (!overlapped_) {
    if (comm_.world() == 1) return;
    opt_.attach_grads();  // a grad replaced outside the flat buffer is copied into its slot first
    Tensor grads = opt_.flat_grads();
    comm_.all_reduce_sum(grads);
    return;
  }
  if (armed_) {
    autograd::set_leaf_ready_hook(previous_hook_);
    armed_ = false;
  } else {  // no begin(): nothing was started during the backward
    opt_.attach_grads();
    param_ready_.assign(opt_.parameters().size(), 0);
    waiting_.clear();
    for (const Bucket& b : buckets_) waiting_.push_back(int64_t(b.params.size()));
    next_start_ = 0;
  }
  // Parameters the backward never reached (no gradient this step) are final as they are: zeros.
  for (size_t i = 0; i < param_ready_.size(); ++i)
    if (!param_ready_[i]) ready(i);
  start_ready_buckets();  // buckets without parameters (none today), for completeness
  LRA_CHECK(next_start_ == bucket_count(), "internal: gradient all-reduce started ", next_start_, " of ",
            bucket_count(), " buckets");
  comm_.all_reduce_wait();
}

}  // namespace lra::dist
