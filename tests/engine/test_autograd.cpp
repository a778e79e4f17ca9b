// autograd::set_record_observer: the hook bench_train --profile uses to split the forward by op.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/autograd.h"

namespace lra {
namespace {

// A one-input op that records a node named `name` (its output's values do not matter here).
Tensor op(const Tensor& x, const char* name) {
  Tensor y = Tensor::full(x.shape(), 1.0);
  autograd::record(y, name, {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return y;
}

TEST(RecordObserver, SeesEveryRecordedNodeInOrderAndNothingElse) {
  Tensor x = Tensor::full({4}, 0.5);
  x.requires_grad_();
  Tensor c = Tensor::full({4}, 2.0);  // no gradient: an op on it alone records nothing
  std::vector<std::string> seen;
  autograd::RecordObserver obs = [&](const char* name) { seen.emplace_back(name); };
  autograd::RecordObserver* before = autograd::set_record_observer(&obs);
  EXPECT_EQ(before, nullptr);
  Tensor y = op(op(x, "first"), "second");
  op(c, "constant");
  {
    autograd::NoGrad off;
    op(x, "no_grad");
  }
  op(y, "third");
  EXPECT_EQ(autograd::set_record_observer(before), &obs);
  Tensor after = op(y, "unobserved");
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_NE(after.grad_fn(), nullptr);  // recording itself goes on without an observer
}

}  // namespace
}  // namespace lra
