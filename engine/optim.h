// Optimizers (AdamW, SGD) over one flat parameter buffer, and global gradient-norm clipping.
//
// Flat buffers. At construction the optimizer allocates one flat parameter buffer and one flat
// gradient buffer on the parameters' device, copies every parameter into its slot and rebinds the
// parameter's TensorImpl (storage, offset) to that slot, so every handle to the parameter (the
// module's, the caller's) now reads and writes the flat buffer. Each parameter's grad becomes a view
// of its slot in the flat gradient buffer; autograd accumulates into an existing leaf grad in place
// (engine/autograd.h), so backward() writes straight into it. An update is then ONE fused kernel over
// the whole buffer, zero_grad() is one memset, and the global gradient norm is one reduction.
//
// Slots start on 64-byte boundaries (the padding between them holds zeros, which every update leaves
// at zero) so a parameter's data is as aligned as a freshly allocated tensor's. Parameters are
// ordered by hyper-parameters: each distinct (lr scale, weight decay) pair is one contiguous segment
// [begin, end) of the buffer, at most kMaxSegments of them, handed to the kernel by value.
//
// Rules for users:
//  * Build the optimizer after Module::to(): moving the module afterwards unbinds the parameters
//    (step() then throws, naming the parameter).
//  * A grad that someone replaced (Module::zero_grad() resets them; set_grad() replaces one) is
//    copied into its slot by the next step(), clip_grad_norm() or zero_grad(), and the view is
//    re-attached; an undefined grad counts as zero.
//  * All parameters share one device and one dtype: float32 on either device, or float64 on the CPU
//    (the double-precision reference used by tests).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn.h"
#include "engine/tensor.h"

namespace lra::optim {

// Hyper-parameters of one named parameter group (nn::NamedParameter::group), e.g. S4D's "ssm" group
// {"ssm", lr_scale = 1e-3 / base_lr, weight_decay = 0}. Groups with no override use the defaults.
struct GroupOverride {
  std::string group;
  double lr_scale = 1.0;                // multiplies the (scheduled) learning rate
  std::optional<double> weight_decay;   // unset: the optimizer's rule (weight_decay, kinds)
};

// One contiguous range of the flat buffer with its own hyper-parameters (plain data for kernels).
constexpr int kMaxSegments = 8;
struct Segment {
  int64_t begin = 0, end = 0;
  double lr_scale = 1.0;
  double weight_decay = 0.0;
};
struct Segments {
  int count = 0;
  Segment seg[kMaxSegments];
};

// The named state an optimizer saves: tensors that are views of its buffers (no copies) and the
// number of steps taken.
struct OptimizerState {
  int64_t step = 0;
  std::vector<std::pair<std::string, Tensor>> tensors;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "adamw", "sgd": saved with the state so a checkpoint is not loaded into the wrong optimizer.
  virtual const char* type() const = 0;

  // Re-attaches the grad views, then zeroes the whole flat gradient buffer (one memset).
  void zero_grad();
  // One update with learning rate `lr` (the schedule's value; segments scale it).
  void step(double lr);
  // Makes every parameter's grad the view of its slot again, copying in a grad that was replaced
  // (zeroing the slot when it was reset). step() and clip_grad_norm() call it; cheap when nothing
  // changed (a pointer comparison per parameter).
  void attach_grads();

  int64_t steps() const { return steps_; }
  Device device() const { return flat_params_.device(); }
  DType dtype() const { return flat_params_.dtype(); }
  const std::vector<nn::NamedParameter>& parameters() const { return params_; }  // in slot order
  const Segments& segments() const { return segments_; }
  // The flat buffers, 1-D over all slots (padding included).
  const Tensor& flat_params() const { return flat_params_; }
  const Tensor& flat_grads() const { return flat_grads_; }
  // Where parameter i (in parameters() order) starts in the flat buffers, in elements.
  int64_t slot_begin(size_t i) const { return slots_[i]; }

  // Checkpoint state: views named "<param>.<buffer>" plus the step count.
  OptimizerState state() const;
  // Copies `s` into this optimizer after checking that the names, shapes and dtypes are exactly the
  // ones state() has; nothing is copied when anything differs, and the error lists every problem.
  void load_state(const OptimizerState& s);

 protected:
  // Rebinds `params` into flat buffers. `hyper` gives each parameter's (lr scale, weight decay).
  Optimizer(const std::vector<nn::NamedParameter>& params,
            const std::vector<std::pair<double, double>>& hyper);
  // The update itself, on flat buffers whose grads are attached; steps() already counts this step.
  virtual void update(double lr) = 0;
  // A zero-initialised buffer the size of the flat buffer, with per-parameter views named
  // "<param>.<suffix>" in state().
  Tensor add_buffer(const std::string& suffix);

 private:
  Tensor slot_view(const Tensor& flat, size_t i) const;
  bool grad_attached(size_t i) const;

  std::vector<nn::NamedParameter> params_;
  std::vector<int64_t> slots_;
  Segments segments_;
  Tensor flat_params_, flat_grads_;
  std::vector<std::pair<std::string, Tensor>> buffers_;  // (suffix, flat buffer)
  int64_t steps_ = 0;
};

// Per-parameter hyper-parameters from a base weight decay, the kind rule and group overrides:
// an override's weight_decay wins; else Bias and Norm parameters get 0 when decay_norms_and_biases
// is false; everything else (Weight, Embedding) gets `weight_decay`.
std::vector<std::pair<double, double>> hyper_parameters(const std::vector<nn::NamedParameter>& params,
                                                        double weight_decay, bool decay_norms_and_biases,
                                                        const std::vector<GroupOverride>& overrides);

// AdamW (Loshchilov & Hutter), PyTorch's formulation: with t the step count,
//   p <- p * (1 - lr*wd)
//   m <- b1*m + (1-b1)*g,  v <- b2*v + (1-b2)*g^2
//   p <- p - (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
// where lr is the step's rate times the segment's lr scale and wd the segment's weight decay.
struct AdamWConfig {
  double lr = 1e-3;  // base rate, for schedules; step() takes the scheduled rate
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decay_norms_and_biases = true;  // false: ParamKind::Bias and ::Norm get no decay
  std::vector<GroupOverride> groups;
};

class AdamW : public Optimizer {
 public:
  AdamW(const std::vector<nn::NamedParameter>& params, const AdamWConfig& config);
  const char* type() const override { return "adamw"; }
  const AdamWConfig& config() const { return config_; }

 private:
  void update(double lr) override;
  AdamWConfig config_;
  Tensor exp_avg_, exp_avg_sq_;
};

// SGD with momentum, PyTorch's formulation (dampening 0, L2 weight decay coupled to the gradient):
//   g <- g + wd*p;  buf <- momentum*buf + g;  g <- nesterov ? g + momentum*buf : buf;  p <- p - lr*g
// With momentum 0 there is no buffer and p <- p - lr*(g + wd*p).
struct SGDConfig {
  double lr = 1e-2;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  bool decay_norms_and_biases = true;
  std::vector<GroupOverride> groups;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<nn::NamedParameter>& params, const SGDConfig& config);
  const char* type() const override { return "sgd"; }
  const SGDConfig& config() const { return config_; }

 private:
  void update(double lr) override;
  SGDConfig config_;
  Tensor momentum_;  // undefined when momentum == 0
};

// Scales all gradients so their global L2 norm is at most max_norm (PyTorch's clip_grad_norm_:
// g <- g * min(1, max_norm / (norm + 1e-6))) and returns the norm before clipping as a scalar tensor
// on the optimizer's device. Nothing waits for the GPU; call .item() on the result to read it.
Tensor clip_grad_norm(Optimizer& opt, double max_norm);

// --- raw kernels: flat buffers, sizes and plain parameter structs --------------------------------

struct AdamWParams {
  double lr, beta1, beta2, eps;
  double bias_correction1, bias_correction2;  // 1 - beta^t
};
struct SGDParams {
  double lr, momentum;
  bool nesterov;
};

namespace cpu {
template <class T>
void adamw_step(T* p, const T* g, T* m, T* v, const Segments& segs, const AdamWParams& a);
// `buf` may be null when momentum is 0.
template <class T>
void sgd_step(T* p, const T* g, T* buf, const Segments& segs, const SGDParams& a);
template <class T>
double sum_squares(const T* g, int64_t n);
template <class T>
void scale(T* g, int64_t n, double factor);
}  // namespace cpu

namespace cuda {
void adamw_step(float* p, const float* g, float* m, float* v, const Segments& segs, const AdamWParams& a);
void sgd_step(float* p, const float* g, float* buf, const Segments& segs, const SGDParams& a);
// Number of partial sums grad_norm() needs as scratch for n elements (fixed for a given n, which
// keeps the reduction order, hence the result, deterministic).
int grad_norm_partials(int64_t n);
// norm_out[0] = sqrt(sum g^2), via `partials` (grad_norm_partials(n) floats).
void grad_norm(const float* g, int64_t n, float* partials, float* norm_out);
// g *= min(1, max_norm / (norm[0] + 1e-6)), with norm read on the device.
void clip_scale(float* g, int64_t n, const float* norm, float max_norm);
}  // namespace cuda

}  // namespace lra::optim
