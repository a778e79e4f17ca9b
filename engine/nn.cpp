#include "engine/nn.h"

#include <cmath>

namespace lra::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t, ParamKind kind, const std::string& group) {
  check_name(name);
  LRA_CHECK(t.defined() && is_floating(t.dtype()), "parameter '", name, "' must be a float tensor");
  t.requires_grad_(true);
  params_.push_back({name, t, kind, group});
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name);
  LRA_CHECK(t.defined(), "buffer '", name, "' must be a defined tensor");
  buffers_.push_back({name, t});
  return t;
}

void Module::check_name(const std::string& name) const {
  LRA_CHECK(!name.empty() && name.find('.') == std::string::npos, "module member name '", name,
            "' must be non-empty and contain no '.'");
  for (const auto& p : params_) LRA_CHECK(p.name != name, "parameter '", name, "' registered twice");
  for (const auto& b : buffers_) LRA_CHECK(b.name != name, "buffer '", name, "' registered twice");
  for (const auto& c : children_) LRA_CHECK(c.first != name, "module '", name, "' registered twice");
}

void Module::collect(const std::string& prefix, std::vector<NamedParameter>& out) const {
  for (const auto& p : params_) out.push_back({prefix + p.name, p.tensor, p.kind, p.group});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

void Module::collect(const std::string& prefix, std::vector<NamedBuffer>& out) const {
  for (const auto& b : buffers_) out.push_back({prefix + b.name, b.tensor});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<NamedBuffer> Module::named_buffers() const {
  std::vector<NamedBuffer> out;
  collect("", out);
  return out;
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& p : named_parameters()) out.push_back(p.tensor);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& p : named_parameters()) n += p.tensor.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

namespace {
// Re-points t's storage at a copy on `device`, so every handle sharing t's impl sees the move.
void move_in_place(Tensor& t, Device device) {
  if (t.device() == device) return;
  Tensor moved = t.to(device);
  TensorImpl* impl = t.impl();
  impl->storage = moved.impl()->storage;
  impl->offset = moved.impl()->offset;
  impl->device = device;
  impl->grad.reset();
}
}  // namespace

void Module::to(Device device) {
  for (auto& p : named_parameters()) move_in_place(p.tensor, device);
  for (auto& b : named_buffers()) move_in_place(b.tensor, device);
}

void Module::zero_grad() {
  for (auto& p : named_parameters()) p.tensor.impl()->grad.reset();
}

namespace init {

namespace {
// Draws on the host in the tensor's dtype, then copies to the tensor's device.
template <class F>
void host_fill(Tensor& t, F draw) {
  LRA_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "init: needs a float tensor, got ", t.describe());
  if (t.device() == Device::CPU) {
    draw(t);
    return;
  }
  Tensor h = Tensor::empty(t.shape(), t.dtype());
  draw(h);
  t.copy_from(h);
}
}  // namespace

void zeros(Tensor& t) { t.zero_(); }
void ones(Tensor& t) { t.fill_(1.0); }
void constant(Tensor& t, double value) { t.fill_(value); }

void normal(Tensor& t, Generator& gen, double mean, double std) {
  host_fill(t, [&](Tensor& h) { normal_(h, gen, mean, std); });
}

void uniform(Tensor& t, Generator& gen, double low, double high) {
  host_fill(t, [&](Tensor& h) { uniform_(h, gen, low, high); });
}

std::pair<double, double> fans(const Shape& s) {
  LRA_CHECK(s.ndim() >= 1, "init: fans of a scalar shape");
  if (s.ndim() == 1) return {double(s[0]), double(s[0])};
  double receptive = double(s.prod(2, s.ndim()));
  return {double(s[1]) * receptive, double(s[0]) * receptive};
}

void xavier_uniform(Tensor& t, Generator& gen, double gain) {
  auto [in, out] = fans(t.shape());
  double a = gain * std::sqrt(6.0 / (in + out));
  uniform(t, gen, -a, a);
}

void xavier_normal(Tensor& t, Generator& gen, double gain) {
  auto [in, out] = fans(t.shape());
  normal(t, gen, 0.0, gain * std::sqrt(2.0 / (in + out)));
}

void kaiming_normal(Tensor& t, Generator& gen, double gain) {
  normal(t, gen, 0.0, gain / std::sqrt(fans(t.shape()).first));
}

void kaiming_uniform(Tensor& t, Generator& gen, double gain) {
  double a = gain * std::sqrt(3.0 / fans(t.shape()).first);
  uniform(t, gen, -a, a);
}

}  // namespace init
}  // namespace lra::nn
