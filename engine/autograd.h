// Autograd: a tape of nodes recorded by ops, walked backwards by backward().
//
// Every op that produces a tensor from inputs that require grad records one Node on its output: the
// inputs, and a hand-written function that maps the output's gradient to the inputs' gradients. Each
// node gets a sequence number when it is recorded; since a node is always recorded after the nodes of
// its inputs, visiting the reachable nodes in decreasing sequence order is a reverse topological order.
//
// Gradient conventions:
//  * Leaf gradients (parameters) ACCUMULATE: backward() adds into leaf.grad(). Zero them between steps
//    (Optimizer::zero_grad does).
//  * Activation gradients are written fresh: they live only while backward() runs, and each node's
//    saved tensors are released as soon as the node has run.
//  * A tensor used twice receives the sum of both contributions.
//  * The graph is consumed by backward(): calling it twice through the same nodes is an error.
// Backward functions run with recording off, so they never build a graph of their own.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "engine/tensor.h"

namespace lra::autograd {

// Given the gradient of the node's output, returns one gradient per input, in input order; an
// undefined Tensor means "no gradient for this input".
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  uint64_t seq = 0;
  const char* name = "";
  std::vector<Tensor> inputs;  // undefined where the input does not require grad
  BackwardFn backward;
};

// Whether ops currently record the tape (thread-local; on by default).
bool enabled();

// Turns recording off for its lifetime: evaluation, optimizer updates, backward functions.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// True when recording is on and any of the tensors requires grad (is a parameter or has history).
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records `fn` as the way back from `out` to `inputs` (a no-op when needs_grad(inputs) is false).
void record(const Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

// Profilers: `observer` (nullptr: none) is called with the node's name each time this thread records a
// node, right after the op has computed its output. bench_train --profile marks the clock there, so
// the forward's time splits by op: each interval ends at the record of the op that spent it (work that
// records nothing, such as views and no-grad ops, counts towards the next op recorded). Returns the
// observer it replaces. One thread-local pointer test per record when unset.
using RecordObserver = std::function<void(const char* name)>;
RecordObserver* set_record_observer(RecordObserver* observer);

// Data-parallel gradient buckets (engine/dist/reducer.h): `hook` (nullptr: none) is called by this
// thread's backward() once per leaf (parameter) as soon as the leaf's gradient is final, i.e. right
// after the last contribution from the reachable graph has been added into leaf.grad(). A leaf is
// reported when it is an input of a node the backward reaches, even when every contribution turned out
// undefined (its grad is then final as it stands); leaves the backward does not reach are never
// reported (the caller treats them as ready at the end). Order: the order in which backward() runs the
// nodes (decreasing sequence number), and within one node its inputs' order. When the root itself is a
// leaf it is reported after its gradient is added. Returns the hook it replaces. When unset, backward()
// pays one pointer test. On the GPU "final" means "every kernel producing it is queued on the compute
// stream": a consumer on another stream must order itself after that stream (NcclComm does).
using LeafReadyHook = std::function<void(const Tensor& leaf)>;
LeafReadyHook* set_leaf_ready_hook(LeafReadyHook* hook);

void backward(const Tensor& root, const Tensor& grad_root);

}  // namespace lra::autograd
