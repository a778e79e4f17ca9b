#include "engine/autograd.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

namespace lra::autograd {

namespace {
thread_local bool g_enabled = true;
thread_local RecordObserver* g_observer = nullptr;
thread_local LeafReadyHook* g_leaf_hook = nullptr;
std::atomic<uint64_t> g_seq{0};
}  // namespace

bool enabled() { return g_enabled; }
NoGrad::NoGrad() : previous_(g_enabled) { g_enabled = false; }
NoGrad::~NoGrad() { g_enabled = previous_; }

static bool wants(const Tensor& t) { return t.defined() && (t.requires_grad() || t.grad_fn()); }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!g_enabled) return false;
  for (const Tensor& t : inputs)
    if (wants(t)) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_enabled) return false;
  for (const Tensor& t : inputs)
    if (wants(t)) return true;
  return false;
}

void record(const Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->seq = ++g_seq;
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) node->inputs.push_back(wants(t) ? t : Tensor());
  node->backward = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  if (g_observer) (*g_observer)(name);
}

RecordObserver* set_record_observer(RecordObserver* observer) {
  RecordObserver* previous = g_observer;
  g_observer = observer;
  return previous;
}

LeafReadyHook* set_leaf_ready_hook(LeafReadyHook* hook) {
  LeafReadyHook* previous = g_leaf_hook;
  g_leaf_hook = hook;
  return previous;
}

namespace {

// A gradient being summed for one node's output; `owned` says whether we may add into it in place
// (a backward function may return a tensor that is also someone else's gradient).
struct Pending {
  Tensor grad;
  bool owned = false;
};

void accumulate(Pending& p, const Tensor& g) {
  if (!p.grad.defined()) {
    p.grad = g;
    return;
  }
  if (!p.owned) {
    p.grad = p.grad.clone();
    p.owned = true;
  }
  p.grad.add_(g);
}

void accumulate_leaf(const Tensor& leaf, const Tensor& g) {
  Tensor current = leaf.grad();
  if (current.defined()) {
    current.add_(g);
  } else {
    const_cast<Tensor&>(leaf).set_grad(g.clone());
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_root) {
  LRA_CHECK(root.shape() == grad_root.shape(), "backward: gradient ", grad_root.describe(), " does not match ",
            root.describe());
  NoGrad no_grad;
  LeafReadyHook* const hook = g_leaf_hook;
  if (!root.grad_fn()) {
    LRA_CHECK(root.requires_grad(), "backward() on a tensor that does not require grad and has no history");
    accumulate_leaf(root, grad_root);
    if (hook) (*hook)(root);
    return;
  }
  // Collect the reachable nodes.
  // Shared pointers, not raw ones: releasing a node's inputs below may drop the last other owner of
  // a node that runs later.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::shared_ptr<Node>> stack{root.grad_fn()};
  seen.insert(stack.back().get());
  while (!stack.empty()) {
    std::shared_ptr<Node> n = stack.back();
    stack.pop_back();
    order.push_back(n);
    LRA_CHECK(n->backward, "backward() through the graph of '", n->name,
              "' a second time: the graph is consumed by the first backward()");
    for (const Tensor& in : n->inputs)
      if (in.defined() && in.grad_fn() && seen.insert(in.grad_fn().get()).second) stack.push_back(in.grad_fn());
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a->seq > b->seq; });

  // With a leaf-ready hook: the number of edges from reachable nodes into each leaf (a leaf used twice
  // by one node counts twice). Each edge is crossed once below, whether or not a gradient flows along
  // it; the leaf is final when its count reaches zero.
  std::unordered_map<TensorImpl*, int> leaf_edges;
  if (hook)
    for (const std::shared_ptr<Node>& n : order)
      for (const Tensor& in : n->inputs)
        if (in.defined() && !in.grad_fn() && in.requires_grad()) ++leaf_edges[in.impl()];
  auto cross_leaf_edges = [&](const Node& n) {
    for (const Tensor& in : n.inputs)
      if (in.defined() && !in.grad_fn() && in.requires_grad() && --leaf_edges[in.impl()] == 0) (*hook)(in);
  };

  std::unordered_map<Node*, Pending> pending;
  pending[order.front().get()] = {grad_root, false};
  for (const std::shared_ptr<Node>& n : order) {
    auto it = pending.find(n.get());
    if (it == pending.end()) {  // nothing flowed into this node
      if (hook) cross_leaf_edges(*n);
      continue;
    }
    Tensor g = it->second.grad;
    pending.erase(it);
    std::vector<Tensor> grads = n->backward(g);
    LRA_CHECK(grads.size() == n->inputs.size(), "internal: backward of '", n->name, "' returned ", grads.size(),
              " gradients for ", n->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Tensor& in = n->inputs[i];
      if (!in.defined() || !grads[i].defined()) continue;
      LRA_CHECK(grads[i].shape() == in.shape() && grads[i].dtype() == in.dtype(), "internal: backward of '",
                n->name, "' gave ", grads[i].describe(), " for input ", i, " which is ", in.describe());
      if (in.grad_fn())
        accumulate(pending[in.grad_fn().get()], grads[i]);
      else if (in.requires_grad())
        accumulate_leaf(in, grads[i]);
    }
    if (hook) cross_leaf_edges(*n);
    // Release what the node saved; the graph is consumed.
    n->backward = nullptr;
    n->inputs.clear();
  }
}

}  // namespace lra::autograd
