// Modules and parameters.
//
// A Module owns named parameters and named child modules; names join with dots into the path a
// checkpoint uses ("blocks.3.attn.qkv.weight"), the same convention as PyTorch's state_dict so a
// safetensors checkpoint opens there directly. A parameter is an ordinary Tensor that requires grad,
// plus what the optimizer needs to know about it: its kind (biases and norm scales are commonly
// excluded from weight decay) and its group (e.g. "ssm" for S4D's A and dt, with their own learning
// rate). Parameters are created on the host from a seeded Generator, so a model starts identical on
// every device, and Module::to() moves them.
//
// A buffer is state that is not trained but belongs to the model (BatchNorm's running statistics):
// Module::to() moves it and checkpoints save and load it under its dotted name, as PyTorch's
// register_buffer does; the optimizer never sees it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::nn {

enum class ParamKind { Weight, Bias, Norm, Embedding };

struct NamedBuffer {
  std::string name;
  Tensor tensor;
};

struct NamedParameter {
  std::string name;
  Tensor tensor;
  ParamKind kind;
  std::string group;
};

class Module {
 public:
  virtual ~Module() = default;

  // Every parameter of this module and its children, depth first in registration order.
  std::vector<NamedParameter> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;
  // Every buffer of this module and its children, in the same order.
  std::vector<NamedBuffer> named_buffers() const;

  // Train/eval mode (dropout and similar read it), applied to the whole tree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // Moves every parameter and buffer to `device` in place: handles held elsewhere see the move.
  void to(Device device);
  // Drops every parameter's gradient.
  void zero_grad();

 protected:
  // Registers `t` (made a leaf that requires grad) under `name` and returns it.
  Tensor register_parameter(const std::string& name, Tensor t, ParamKind kind = ParamKind::Weight,
                            const std::string& group = "default");
  // Registers `t` (no gradient) as a buffer under `name` and returns it.
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    check_name(name);
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, std::vector<NamedParameter>& out) const;
  void collect(const std::string& prefix, std::vector<NamedBuffer>& out) const;
  void check_name(const std::string& name) const;
  std::vector<NamedParameter> params_;
  std::vector<NamedBuffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Initializers. Each fills a float tensor in place from `gen` (drawn on the host, then copied when
// the tensor lives on the GPU). Fans follow PyTorch: a [out, in, k...] weight has fan_in = in*k...,
// fan_out = out*k...
namespace init {
void zeros(Tensor& t);
void ones(Tensor& t);
void constant(Tensor& t, double value);
void normal(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
void uniform(Tensor& t, Generator& gen, double low, double high);
void xavier_uniform(Tensor& t, Generator& gen, double gain = 1.0);
void xavier_normal(Tensor& t, Generator& gen, double gain = 1.0);
// He initialisation for a ReLU-family activation: std = gain / sqrt(fan_in), gain = sqrt(2).
void kaiming_normal(Tensor& t, Generator& gen, double gain = 1.4142135623730951);
void kaiming_uniform(Tensor& t, Generator& gen, double gain = 1.4142135623730951);
// (fan_in, fan_out) of a weight shape.
std::pair<double, double> fans(const Shape& shape);
}  // namespace init

}  // namespace lra::nn
