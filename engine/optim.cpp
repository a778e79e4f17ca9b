// Optimizers: flat-buffer bookkeeping, the CPU reference updates (plain loops, templated on the
// scalar type) and the dispatch to the CUDA kernels in engine/optim.cu.
#include "engine/optim.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace lra::optim {

// --- CPU reference --------------------------------------------------------------------------------

namespace cpu {

template <class T>
void adamw_step(T* p, const T* g, T* m, T* v, const Segments& segs, const AdamWParams& a) {
  const T b1 = T(a.beta1), b2 = T(a.beta2), eps = T(a.eps);
  const T sqrt_bc2 = T(std::sqrt(a.bias_correction2));
  for (int s = 0; s < segs.count; ++s) {
    const Segment& seg = segs.seg[s];
    const T lr = T(a.lr * seg.lr_scale);
    const T decay = T(1) - lr * T(seg.weight_decay);
    const T step_size = lr / T(a.bias_correction1);
    for (int64_t i = seg.begin; i < seg.end; ++i) {
      T gi = g[i];
      T mi = b1 * m[i] + (T(1) - b1) * gi;
      T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      T pi = p[i] * decay;  // decoupled weight decay, applied before the Adam step
      p[i] = pi - step_size * mi / (std::sqrt(vi) / sqrt_bc2 + eps);
    }
  }
}

template <class T>
void sgd_step(T* p, const T* g, T* buf, const Segments& segs, const SGDParams& a) {
  const T mom = T(a.momentum);
  for (int s = 0; s < segs.count; ++s) {
    const Segment& seg = segs.seg[s];
    const T lr = T(a.lr * seg.lr_scale), wd = T(seg.weight_decay);
    for (int64_t i = seg.begin; i < seg.end; ++i) {
      T d = g[i] + wd * p[i];
      if (buf) {
        T b = mom * buf[i] + d;
        buf[i] = b;
        d = a.nesterov ? d + mom * b : b;
      }
      p[i] -= lr * d;
    }
  }
}

template <class T>
double sum_squares(const T* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(g[i]) * double(g[i]);
  return s;
}

template <class T>
void scale(T* g, int64_t n, double factor) {
  const T f = T(factor);
  for (int64_t i = 0; i < n; ++i) g[i] *= f;
}

template void adamw_step(float*, const float*, float*, float*, const Segments&, const AdamWParams&);
template void adamw_step(double*, const double*, double*, double*, const Segments&, const AdamWParams&);
template void sgd_step(float*, const float*, float*, const Segments&, const SGDParams&);
template void sgd_step(double*, const double*, double*, const Segments&, const SGDParams&);
template double sum_squares(const float*, int64_t);
template double sum_squares(const double*, int64_t);
template void scale(float*, int64_t, double);
template void scale(double*, int64_t, double);

}  // namespace cpu

// --- flat buffers -----------------------------------------------------------------------------------

namespace {

bool same_place(const TensorImpl* a, const TensorImpl* b, size_t offset) {
  return a->storage == b->storage && a->offset == offset;
}

}  // namespace

Optimizer::Optimizer(const std::vector<nn::NamedParameter>& params,
                     const std::vector<std::pair<double, double>>& hyper) {
  LRA_CHECK(!params.empty(), "optimizer: no parameters to optimize");
  LRA_CHECK(hyper.size() == params.size(), "internal: optimizer got ", hyper.size(), " hyper-parameter pairs for ",
            params.size(), " parameters");
  const Device device = params[0].tensor.device();
  const DType dtype = params[0].tensor.dtype();
  LRA_CHECK(dtype == DType::F32 || dtype == DType::F64, "optimizer: parameter '", params[0].name, "' is ",
            params[0].tensor.describe(), "; parameters must be float32 (or float64 on the CPU)");
  std::map<const TensorImpl*, std::string> seen;
  for (const auto& p : params) {
    LRA_CHECK(p.tensor.defined(), "optimizer: parameter '", p.name, "' is undefined");
    LRA_CHECK(p.tensor.device() == device && p.tensor.dtype() == dtype, "optimizer: parameter '", p.name, "' is ",
              p.tensor.describe(), " but '", params[0].name, "' is ", params[0].tensor.describe(),
              "; all parameters must share one device and dtype (move the module first)");
    auto [it, fresh] = seen.emplace(p.tensor.impl(), p.name);
    LRA_CHECK(fresh, "optimizer: parameters '", it->second, "' and '", p.name,
              "' are the same tensor; tied parameters are not supported");
  }

  // Distinct (lr scale, weight decay) pairs in order of first appearance: one segment each.
  std::vector<std::pair<double, double>> keys;
  std::vector<int> key_of(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = std::find(keys.begin(), keys.end(), hyper[i]);
    key_of[i] = int(it - keys.begin());
    if (it == keys.end()) keys.push_back(hyper[i]);
  }
  LRA_CHECK(int(keys.size()) <= kMaxSegments, "optimizer: ", keys.size(),
            " distinct (lr scale, weight decay) combinations; at most ", kMaxSegments, " are supported");

  // Slot order: by segment, registration order within a segment. Slots start on 64-byte boundaries.
  const int64_t align = int64_t(64 / dtype_size(dtype));
  int64_t offset = 0;
  segments_.count = int(keys.size());
  for (int k = 0; k < int(keys.size()); ++k) {
    Segment& seg = segments_.seg[k];
    seg.begin = offset;
    seg.lr_scale = keys[size_t(k)].first;
    seg.weight_decay = keys[size_t(k)].second;
    for (size_t i = 0; i < params.size(); ++i) {
      if (key_of[i] != k) continue;
      params_.push_back(params[i]);
      slots_.push_back(offset);
      offset += (params[i].tensor.numel() + align - 1) / align * align;
    }
    seg.end = offset;
  }

  // Copy every parameter (and any gradient it already has) into its slot, then rebind it there.
  flat_params_ = Tensor::zeros({offset}, dtype, device);
  flat_grads_ = Tensor::zeros({offset}, dtype, device);
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& t = params_[i].tensor;
    Tensor slot = slot_view(flat_params_, i);
    slot.copy_from(t);
    TensorImpl* impl = t.impl();
    impl->storage = slot.impl()->storage;
    impl->offset = slot.impl()->offset;
  }
  attach_grads();
}

Tensor Optimizer::slot_view(const Tensor& flat, size_t i) const {
  const Tensor& p = params_[i].tensor;
  return flat.narrow0(slots_[i], p.numel()).view(p.shape());
}

bool Optimizer::grad_attached(size_t i) const {
  const TensorImpl* g = params_[i].tensor.impl()->grad.get();
  return g != nullptr && same_place(g, flat_grads_.impl(), flat_grads_.impl()->offset + size_t(slots_[i]) *
                                                                                            dtype_size(dtype())) &&
         g->shape == params_[i].tensor.shape() && g->dtype == dtype();
}

void Optimizer::attach_grads() {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (grad_attached(i)) continue;
    Tensor& p = params_[i].tensor;
    Tensor slot = slot_view(flat_grads_, i);
    Tensor g = p.grad();
    if (g.defined()) {
      LRA_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), "optimizer: the gradient of '", params_[i].name,
                "' is ", g.describe(), " but the parameter is ", p.describe());
      slot.copy_from(g);
    } else {
      slot.zero_();
    }
    p.set_grad(slot);
  }
}

void Optimizer::zero_grad() {
  for (size_t i = 0; i < params_.size(); ++i)
    if (!grad_attached(i)) params_[i].tensor.set_grad(slot_view(flat_grads_, i));
  flat_grads_.zero_();
}

void Optimizer::step(double lr) {
  LRA_CHECK(std::isfinite(lr) && lr >= 0, "optimizer: learning rate ", lr, " must be finite and >= 0");
  const size_t es = dtype_size(dtype());
  for (size_t i = 0; i < params_.size(); ++i) {
    LRA_CHECK(same_place(params_[i].tensor.impl(), flat_params_.impl(),
                         flat_params_.impl()->offset + size_t(slots_[i]) * es),
              "optimizer: parameter '", params_[i].name,
              "' no longer lives in the optimizer's flat buffer (was the module moved with to() after the "
              "optimizer was built? build the optimizer after moving the module)");
  }
  attach_grads();
  ++steps_;
  update(lr);
}

Tensor Optimizer::add_buffer(const std::string& suffix) {
  Tensor t = Tensor::zeros(flat_params_.shape(), dtype(), device());
  buffers_.emplace_back(suffix, t);
  return t;
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  s.step = steps_;
  for (const auto& [suffix, flat] : buffers_)
    for (size_t i = 0; i < params_.size(); ++i) s.tensors.emplace_back(params_[i].name + "." + suffix, slot_view(flat, i));
  return s;
}

void Optimizer::load_state(const OptimizerState& s) {
  OptimizerState mine = state();
  std::map<std::string, Tensor> given;
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  for (const auto& [name, t] : s.tensors)
    if (!given.emplace(name, t).second) problem(str("duplicate ", name));
  for (const auto& [name, t] : mine.tensors) {
    auto it = given.find(name);
    if (it == given.end()) {
      problem("missing " + name);
      continue;
    }
    const Tensor& g = it->second;
    if (g.shape() != t.shape())
      problem(str("shape of ", name, " is ", g.shape().to_string(), " in the state but ", t.shape().to_string(),
                  " in the optimizer"));
    else if (g.dtype() != t.dtype())
      problem(str("dtype of ", name, " is ", dtype_name(g.dtype()), " in the state but ", dtype_name(t.dtype()),
                  " in the optimizer"));
    given.erase(it);
  }
  for (const auto& kv : given) problem("unexpected " + kv.first);
  if (s.step < 0) problem(str("step count ", s.step, " is negative"));
  LRA_CHECK(problems.empty(), type(), " optimizer state does not match: ", problems);
  std::map<std::string, Tensor> src(s.tensors.begin(), s.tensors.end());
  for (auto& [name, t] : mine.tensors) t.copy_from(src.at(name));
  steps_ = s.step;
}

std::vector<std::pair<double, double>> hyper_parameters(const std::vector<nn::NamedParameter>& params,
                                                        double weight_decay, bool decay_norms_and_biases,
                                                        const std::vector<GroupOverride>& overrides) {
  LRA_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, "optimizer: weight_decay ", weight_decay,
            " must be >= 0");
  for (size_t a = 0; a < overrides.size(); ++a) {
    const GroupOverride& o = overrides[a];
    LRA_CHECK(std::isfinite(o.lr_scale) && o.lr_scale >= 0, "optimizer: group '", o.group, "' has lr_scale ",
              o.lr_scale, "; it must be >= 0");
    LRA_CHECK(!o.weight_decay || (std::isfinite(*o.weight_decay) && *o.weight_decay >= 0), "optimizer: group '",
              o.group, "' has weight_decay ", o.weight_decay.value_or(0), "; it must be >= 0");
    for (size_t b = 0; b < a; ++b)
      LRA_CHECK(overrides[b].group != o.group, "optimizer: group '", o.group, "' is overridden twice");
  }
  std::vector<std::pair<double, double>> out;
  for (const auto& p : params) {
    const GroupOverride* o = nullptr;
    for (const auto& g : overrides)
      if (g.group == p.group) o = &g;
    double wd = weight_decay;
    if (!decay_norms_and_biases && (p.kind == nn::ParamKind::Bias || p.kind == nn::ParamKind::Norm)) wd = 0;
    if (o && o->weight_decay) wd = *o->weight_decay;
    out.emplace_back(o ? o->lr_scale : 1.0, wd);
  }
  return out;
}

// --- AdamW ------------------------------------------------------------------------------------------

namespace {
const AdamWConfig& checked(const AdamWConfig& c) {
  LRA_CHECK(c.beta1 >= 0 && c.beta1 < 1, "adamw: beta1 ", c.beta1, " must be in [0, 1)");
  LRA_CHECK(c.beta2 >= 0 && c.beta2 < 1, "adamw: beta2 ", c.beta2, " must be in [0, 1)");
  LRA_CHECK(c.eps > 0, "adamw: eps ", c.eps, " must be > 0");
  return c;
}
const SGDConfig& checked(const SGDConfig& c) {
  LRA_CHECK(c.momentum >= 0 && c.momentum < 1, "sgd: momentum ", c.momentum, " must be in [0, 1)");
  LRA_CHECK(!c.nesterov || c.momentum > 0, "sgd: nesterov needs momentum > 0");
  return c;
}
}  // namespace

AdamW::AdamW(const std::vector<nn::NamedParameter>& params, const AdamWConfig& config)
    : Optimizer(params, hyper_parameters(params, checked(config).weight_decay, config.decay_norms_and_biases,
                                         config.groups)),
      config_(config) {
  exp_avg_ = add_buffer("exp_avg");
  exp_avg_sq_ = add_buffer("exp_avg_sq");
}

void AdamW::update(double lr) {
  const double t = double(steps());
  AdamWParams a{lr, config_.beta1, config_.beta2, config_.eps, 1.0 - std::pow(config_.beta1, t),
                1.0 - std::pow(config_.beta2, t)};
  Tensor p = flat_params(), g = flat_grads();
  switch (device()) {
    case Device::CPU:
      if (dtype() == DType::F64)
        cpu::adamw_step(p.data<double>(), g.data<double>(), exp_avg_.data<double>(), exp_avg_sq_.data<double>(),
                        segments(), a);
      else
        cpu::adamw_step(p.data<float>(), g.data<float>(), exp_avg_.data<float>(), exp_avg_sq_.data<float>(),
                        segments(), a);
      break;
    case Device::CUDA:
      cuda::adamw_step(p.data<float>(), g.data<float>(), exp_avg_.data<float>(), exp_avg_sq_.data<float>(),
                       segments(), a);
      break;
  }
}

// --- SGD --------------------------------------------------------------------------------------------

SGD::SGD(const std::vector<nn::NamedParameter>& params, const SGDConfig& config)
    : Optimizer(params, hyper_parameters(params, checked(config).weight_decay, config.decay_norms_and_biases,
                                         config.groups)),
      config_(config) {
  if (config.momentum > 0) momentum_ = add_buffer("momentum_buffer");
}

void SGD::update(double lr) {
  SGDParams a{lr, config_.momentum, config_.nesterov};
  Tensor p = flat_params(), g = flat_grads();
  const bool has_buf = momentum_.defined();
  switch (device()) {
    case Device::CPU:
      if (dtype() == DType::F64)
        cpu::sgd_step(p.data<double>(), g.data<double>(), has_buf ? momentum_.data<double>() : nullptr, segments(), a);
      else
        cpu::sgd_step(p.data<float>(), g.data<float>(), has_buf ? momentum_.data<float>() : nullptr, segments(), a);
      break;
    case Device::CUDA:
      cuda::sgd_step(p.data<float>(), g.data<float>(), has_buf ? momentum_.data<float>() : nullptr, segments(), a);
      break;
  }
}

// --- clipping ---------------------------------------------------------------------------------------

Tensor clip_grad_norm(Optimizer& opt, double max_norm) {
  LRA_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: max_norm ", max_norm, " must be > 0");
  opt.attach_grads();
  Tensor g = opt.flat_grads();
  const int64_t n = g.numel();
  switch (opt.device()) {
    case Device::CPU: {
      double norm = g.dtype() == DType::F64 ? std::sqrt(cpu::sum_squares(g.data<double>(), n))
                                            : std::sqrt(cpu::sum_squares(g.data<float>(), n));
      double coef = std::min(1.0, max_norm / (norm + 1e-6));
      if (coef < 1.0) {
        if (g.dtype() == DType::F64)
          cpu::scale(g.data<double>(), n, coef);
        else
          cpu::scale(g.data<float>(), n, coef);
      }
      return Tensor::scalar(norm, g.dtype());
    }
    case Device::CUDA: {
      Tensor partials = Tensor::empty({cuda::grad_norm_partials(n)}, DType::F32, Device::CUDA);
      Tensor norm = Tensor::empty({}, DType::F32, Device::CUDA);
      cuda::grad_norm(g.data<float>(), n, partials.data<float>(), norm.data<float>());
      cuda::clip_scale(g.data<float>(), n, norm.data<float>(), float(max_norm));
      return norm;
    }
  }
  return Tensor();
}

#if !LRA_WITH_CUDA
namespace cuda {
void adamw_step(float*, const float*, float*, float*, const Segments&, const AdamWParams&) {
  fail("adamw on CUDA tensors in a CPU-only build");
}
void sgd_step(float*, const float*, float*, const Segments&, const SGDParams&) {
  fail("sgd on CUDA tensors in a CPU-only build");
}
int grad_norm_partials(int64_t) { fail("clip_grad_norm on CUDA tensors in a CPU-only build"); }
void grad_norm(const float*, int64_t, float*, float*) { fail("clip_grad_norm on CUDA tensors in a CPU-only build"); }
void clip_scale(float*, int64_t, const float*, float) { fail("clip_grad_norm on CUDA tensors in a CPU-only build"); }
}  // namespace cuda
#endif

}  // namespace lra::optim
