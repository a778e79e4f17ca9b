// Glue for cross_entropy and count_correct: checks, flattening to [N, C], device dispatch, autograd.
#include "ops/loss/loss.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

// Checks logits [..., C] against labels [...] and returns N, the number of rows.
int64_t check_logits_labels(const Tensor& logits, const Tensor& labels, const char* op) {
  check_float(logits, op, "logits");
  LRA_CHECK(labels.defined() && labels.dtype() == DType::I32, op, ": labels must be int32, got ",
            labels.defined() ? labels.describe() : std::string("an undefined tensor"));
  LRA_CHECK(labels.device() == logits.device(), op, ": labels are on ", device_name(labels.device()),
            " but logits are on ", device_name(logits.device()));
  LRA_CHECK(logits.ndim() >= 2, op, ": logits must be [N, C] or [..., C] (rank >= 2), got ", logits.describe());
  LRA_CHECK(logits.dim(-1) >= 1, op, ": logits ", logits.shape(), " have no classes (last dim is 0)");
  bool leading_match = labels.ndim() == logits.ndim() - 1;
  for (int d = 0; leading_match && d < labels.ndim(); ++d) leading_match = labels.dim(d) == logits.dim(d);
  LRA_CHECK(leading_match, op, ": labels have shape ", labels.shape(), " but logits ", logits.shape(),
            " need labels shaped like their leading dims (all but the last, the classes)");
  return labels.numel();
}

// CPU only: every label is in [0, C) or ignore_index, or an error names the first row that is not.
void check_label_range(const Tensor& labels, int64_t C, int ignore_index) {
  const int32_t* p = labels.data<int32_t>();
  for (int64_t i = 0; i < labels.numel(); ++i)
    LRA_CHECK(p[i] == ignore_index || (p[i] >= 0 && p[i] < C), "cross_entropy: label ", p[i], " at row ", i,
              " (of ", labels.numel(), " flattened rows) is outside [0, ", C, ") and is not ignore_index ",
              ignore_index);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int ignore_index) {
  int64_t N = check_logits_labels(logits, labels, "cross_entropy");
  int64_t C = logits.dim(-1);
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty(Shape{}, logits.dtype(), logits.device());
  Tensor count = Tensor::empty(Shape{}, logits.dtype(), logits.device());
  switch (logits.device()) {
    case Device::CPU:
      check_label_range(labels, C, ignore_index);
      dispatch_float(logits, "cross_entropy", [&](auto t) {
        using T = decltype(t);
        cpu::cross_entropy_forward<T>(logits.data<T>(), labels.data<int32_t>(), lse.data<T>(), loss.data<T>(),
                                      count.data<T>(), N, C, ignore_index);
      });
      break;
    case Device::CUDA: {
      Tensor row_loss = Tensor::empty({N}, DType::F32, Device::CUDA);  // scratch for the two-stage mean
      LRA_ON_CUDA(cuda::cross_entropy_forward(logits.data<float>(), labels.data<int32_t>(), lse.data<float>(),
                                              row_loss.data<float>(), loss.data<float>(), count.data<float>(), N, C,
                                              ignore_index));
      break;
    }
  }
  autograd::record(loss, "cross_entropy", {logits},
                   [xs = logits.detach(), ls = labels.detach(), lse, count, N, C, ignore_index](const Tensor& gy) {
                     Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
                     switch (xs.device()) {
                       case Device::CPU:
                         dispatch_float(xs, "cross_entropy", [&](auto t) {
                           using T = decltype(t);
                           cpu::cross_entropy_backward<T>(xs.data<T>(), ls.data<int32_t>(), lse.data<T>(),
                                                          gy.data<T>(), count.data<T>(), gx.data<T>(), N, C,
                                                          ignore_index);
                         });
                         break;
                       case Device::CUDA:
                         LRA_ON_CUDA(cuda::cross_entropy_backward(xs.data<float>(), ls.data<int32_t>(),
                                                                  lse.data<float>(), gy.data<float>(),
                                                                  count.data<float>(), gx.data<float>(), N, C,
                                                                  ignore_index));
                         break;
                     }
                     return std::vector<Tensor>{gx};  // labels are int32: never differentiated
                   });
  return loss;
}

int64_t count_correct(const Tensor& logits, const Tensor& labels, int ignore_index) {
  int64_t N = check_logits_labels(logits, labels, "count_correct");
  int64_t C = logits.dim(-1);
  switch (logits.device()) {
    case Device::CPU: {
      int32_t correct = 0;
      dispatch_float(logits, "count_correct", [&](auto t) {
        using T = decltype(t);
        cpu::count_correct<T>(logits.data<T>(), labels.data<int32_t>(), &correct, N, C, ignore_index);
      });
      return correct;
    }
    case Device::CUDA: {
      Tensor correct = Tensor::zeros(Shape{}, DType::I32, Device::CUDA);
      LRA_ON_CUDA(cuda::count_correct(logits.data<float>(), labels.data<int32_t>(), correct.data<int32_t>(), N, C,
                                      ignore_index));
      return int64_t(correct.item());  // the one host sync of this op
    }
  }
  return 0;
}

}  // namespace lra::ops
