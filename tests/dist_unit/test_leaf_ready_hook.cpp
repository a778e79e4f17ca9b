// autograd::set_leaf_ready_hook: the signal GradReducer starts gradient buckets on. Checked: each
// reachable leaf is reported exactly once, right after its LAST contribution (its grad is final then),
// interleaved with the nodes as backward() runs them; unreachable leaves never; nothing when unset.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/autograd.h"
#include "ops/elementwise/elementwise.h"

namespace lra {
namespace {

// A node named `name` over `inputs` whose backward logs "node:<name>" and passes coef[i]·g to input i
// (an undefined gradient where coef[i] == 0). Its output's values do not matter.
Tensor op(std::vector<std::string>& log, const char* name, const std::vector<Tensor>& inputs,
          std::vector<double> coef) {
  Tensor y = Tensor::full(inputs[0].shape(), 1.0);
  autograd::record(y, name, inputs, [&log, name, coef](const Tensor& g) {
    log.push_back(std::string("node:") + name);
    std::vector<Tensor> out;
    for (double c : coef) out.push_back(c == 0 ? Tensor() : ops::scale(g, c));
    return out;
  });
  return y;
}

Tensor leaf(double v) {
  Tensor t = Tensor::full({3}, v);
  t.requires_grad_();
  return t;
}

struct Seen {
  std::string name;
  std::vector<float> grad;  // the leaf's grad when it was reported (empty: undefined)
};

TEST(LeafReadyHook, ReportsEachLeafOnceAfterItsLastContributionInBackwardOrder) {
  std::vector<std::string> log;
  Tensor w = leaf(1), v = leaf(2), frozen = leaf(3), u = leaf(4);
  // w is used deep (×2 through "deep", then ×3 through "mid") and shallow (×1 in "top"): its gradient
  // is 1 after "top" and 7 only after "deep". v is used once, in "mid". frozen reaches "mid" but gets
  // no gradient. u feeds a graph the root does not depend on.
  Tensor deep = op(log, "deep", {w}, {2});
  Tensor mid = op(log, "mid", {deep, v, frozen}, {3, 1, 0});
  Tensor top = op(log, "top", {mid, w}, {1, 1});
  Tensor other = op(log, "other", {u}, {1});
  std::vector<Seen> seen;
  autograd::LeafReadyHook hook = [&](const Tensor& t) {
    std::string name = t.impl() == w.impl() ? "w" : t.impl() == v.impl() ? "v" : t.impl() == frozen.impl() ? "frozen" : "?";
    log.push_back("leaf:" + name);
    seen.push_back({name, t.grad().defined() ? t.grad().to_vector<float>() : std::vector<float>{}});
  };
  EXPECT_EQ(autograd::set_leaf_ready_hook(&hook), nullptr);
  top.backward(Tensor::ones({3}));
  EXPECT_EQ(autograd::set_leaf_ready_hook(nullptr), &hook);

  EXPECT_EQ(log, (std::vector<std::string>{"node:top", "node:mid", "leaf:v", "leaf:frozen", "node:deep", "leaf:w"}));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].grad, std::vector<float>(3, 1.0f));  // v
  EXPECT_TRUE(seen[1].grad.empty());                     // frozen: reached, no gradient
  EXPECT_EQ(seen[2].grad, std::vector<float>(3, 7.0f));  // w: 1 (top) + 3·2 (mid, deep), all of it
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3, 7.0f));
  EXPECT_FALSE(u.grad().defined());
  (void)other;
}

TEST(LeafReadyHook, ALeafUsedTwiceByOneNodeIsReportedOnceAfterBoth) {
  std::vector<std::string> log;
  Tensor w = leaf(1);
  Tensor y = op(log, "square", {w, w}, {2, 3});
  std::vector<std::vector<float>> grads;
  autograd::LeafReadyHook hook = [&](const Tensor& t) { grads.push_back(t.grad().to_vector<float>()); };
  autograd::set_leaf_ready_hook(&hook);
  y.backward(Tensor::ones({3}));
  autograd::set_leaf_ready_hook(nullptr);
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_EQ(grads[0], std::vector<float>(3, 5.0f));
}

TEST(LeafReadyHook, ARootThatIsALeafIsReported) {
  Tensor w = leaf(1);
  int calls = 0;
  autograd::LeafReadyHook hook = [&](const Tensor& t) {
    EXPECT_EQ(t.impl(), w.impl());
    EXPECT_EQ(t.grad().to_vector<float>(), std::vector<float>(3, 2.0f));
    ++calls;
  };
  autograd::set_leaf_ready_hook(&hook);
  w.backward(Tensor::full({3}, 2.0));
  autograd::set_leaf_ready_hook(nullptr);
  EXPECT_EQ(calls, 1);
}

TEST(LeafReadyHook, UnsetHookSeesNothingAndIsThreadLocal) {
  std::vector<std::string> log;
  int calls = 0;
  autograd::LeafReadyHook hook = [&](const Tensor&) { ++calls; };
  Tensor w = leaf(1);
  op(log, "a", {w}, {1}).backward(Tensor::ones({3}));  // no hook installed
  EXPECT_EQ(calls, 0);
  autograd::set_leaf_ready_hook(&hook);
  op(log, "b", {w}, {1}).backward(Tensor::ones({3}));
  Tensor on_other_thread = op(log, "t", {w}, {1});
  std::thread([&] { on_other_thread.backward(Tensor::ones({3})); }).join();  // that thread has no hook
  autograd::set_leaf_ready_hook(nullptr);
  op(log, "c", {w}, {1}).backward(Tensor::ones({3}));  // removed again
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(log, (std::vector<std::string>{"node:a", "node:b", "node:t", "node:c"}));
}

}  // namespace
}  // namespace lra
