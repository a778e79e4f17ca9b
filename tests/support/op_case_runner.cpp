// The shared runner for the op case table: every case registered in the binary goes through a
// float64 gradient check on the CPU and a float32 CUDA-vs-CPU parity check (forward and backward), both
// with every input inside a guard region (op_cases.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/autograd.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

#if defined(__GLIBC__)
// Every CPU allocation of an op test starts as bytes 0x7F (3.4e38 in float32, 1.4e306 in float64), not
// whatever the heap held, which is often zeros: an op that leaves part of an output unwritten (say a
// gradient that should be a sum over nothing, hence 0) then fails its checks instead of passing by luck.
// glibc's M_PERTURB fills allocations with the complement of the given byte (and freed memory with it).
const int kPoisonedHeap = mallopt(M_PERTURB, 0x80);
#endif

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const OpCase& c : all_cases()) names.push_back(c.name);
  return names;
}

const OpCase& find_case(const std::string& name) {
  for (const OpCase& c : all_cases())
    if (c.name == name) return c;
  throw Error("no case " + name);
}

bool differentiable(const OpCase& c, size_t i) {
  if (!is_floating(c.inputs[i].dtype())) return false;
  return c.differentiable.empty() || c.differentiable[i];
}

Tensor as_dtype(const Tensor& t, DType dtype) {
  if (!is_floating(t.dtype()) || t.dtype() == dtype) return t.clone();
  std::vector<double> v = t.to_vector<double>();
  if (dtype == DType::F32) return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), t.shape());
  return Tensor::from_vector(v, t.shape());
}

// Guard regions: an input copied into the middle of a buffer [kGuard | input | kGuard] whose margins hold
// 0xFF bytes (NaN in float32 and float64, -1 in int32). 32 elements a side keep the input 128-byte aligned
// within the buffer, so kernels that load 16-byte vectors see the alignment they would see unguarded.
constexpr int64_t kGuard = 32;

struct Guarded {
  Tensor buffer;                     // [kGuard + numel + kGuard] elements on the device under test
  Tensor input;                      // the view of the middle that the op receives, in the input's shape
  std::vector<unsigned char> bytes;  // what the whole buffer must still hold after the op
};

Guarded guarded(const Tensor& x, Device device) {
  const size_t margin = size_t(kGuard) * dtype_size(x.dtype());
  Tensor host = Tensor::empty({x.numel() + 2 * kGuard}, x.dtype());
  auto* p = static_cast<unsigned char*>(host.raw_data());
  std::memset(p, 0xFF, host.nbytes());
  std::memcpy(p + margin, x.to(Device::CPU).raw_data(), x.nbytes());
  Guarded g;
  g.bytes.assign(p, p + host.nbytes());
  g.buffer = host.to(device);
  g.input = g.buffer.narrow0(kGuard, x.numel()).view(x.shape());
  return g;
}

// Whether the op left the buffer as it found it: neither the margins nor the input itself changed.
::testing::AssertionResult untouched(const Guarded& g, const std::string& what) {
  Tensor host = g.buffer.to(Device::CPU);
  const auto* p = static_cast<const unsigned char*>(host.raw_data());
  const size_t begin = size_t(kGuard) * dtype_size(g.input.dtype()), end = begin + g.input.nbytes();
  for (size_t i = 0; i < g.bytes.size(); ++i)
    if (p[i] != g.bytes[i])
      return ::testing::AssertionFailure()
             << what << " " << g.input.describe() << ": byte " << (i < begin ? "-" : "+")
             << (i < begin ? begin - i : i - begin) << " from the input's start was overwritten ("
             << (i < begin ? "in the guard before the input" : i < end ? "inside the input" : "in the guard after it")
             << ")";
  return ::testing::AssertionSuccess();
}

// sum(out * w), in double on the host.
double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  std::vector<double> o = out.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * w[i];
  return s;
}

class OpCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OpCaseTest, GradcheckFloat64) {
  const OpCase& c = find_case(GetParam());
  std::vector<Guarded> guards;
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    guards.push_back(guarded(c.inputs[i], Device::CPU));
    inputs.push_back(guards.back().input);
    if (c.gradcheck && differentiable(c, i)) inputs.back().requires_grad_();
  }
  auto check_guards = [&] {
    for (size_t i = 0; i < guards.size(); ++i)
      EXPECT_TRUE(untouched(guards[i], c.name + ": input " + std::to_string(i)));
  };
  Tensor out = c.fn(inputs);
  if (c.out_shape) ASSERT_EQ(out.shape(), *c.out_shape) << c.name << ": the forward's shape";
  if (!c.gradcheck) {
    check_guards();
    GTEST_SKIP() << "op has no gradient (the forward's guard regions and shape were checked)";
  }
  ASSERT_EQ(out.dtype(), DType::F64) << "float64 inputs should give a float64 output";
  Generator gen(kCaseSeed + 1);
  Tensor w = random_input(out.shape(), gen);
  std::vector<double> wv = w.to_vector<double>();
  out.backward(w);
  check_guards();

  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable(c, i)) continue;
    Tensor analytic = inputs[i].grad();
    ASSERT_TRUE(analytic.defined()) << c.name << ": input " << i << " received no gradient";
    std::vector<double> ga = analytic.to_vector<double>();
    // Probe up to 40 elements: the first, the last and a seeded sample between.
    int64_t n = inputs[i].numel();
    std::vector<int64_t> probes;
    if (n <= 40) {
      for (int64_t k = 0; k < n; ++k) probes.push_back(k);
    } else {
      probes = {0, n - 1};
      for (int k = 0; k < 38; ++k) probes.push_back(int64_t(gen.below(uint32_t(n))));
    }
    const double eps = 1e-6;
    autograd::NoGrad no_grad;
    for (int64_t k : probes) {
      std::vector<Tensor> probe = c.inputs;
      probe[i] = c.inputs[i].clone();
      double* x = probe[i].data<double>();
      double x0 = x[k];
      x[k] = x0 + eps;
      double fp = weighted_sum(c.fn(probe), wv);
      x[k] = x0 - eps;
      double fm = weighted_sum(c.fn(probe), wv);
      double numeric = (fp - fm) / (2 * eps);
      EXPECT_NEAR(ga[size_t(k)], numeric, c.grad_atol + c.grad_rtol * std::fabs(numeric))
          << c.name << ": d out / d input" << i << "[" << k << "] (seed " << kCaseSeed << ")";
    }
  }
}

TEST_P(OpCaseTest, CudaMatchesCpuFloat32) {
  LRA_REQUIRE_CUDA();
  const OpCase& c = find_case(GetParam());
  std::vector<Guarded> cpu_guards, gpu_guards;
  std::vector<Tensor> cpu_in, gpu_in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor x = as_dtype(c.inputs[i], DType::F32);
    cpu_guards.push_back(guarded(x, Device::CPU));
    gpu_guards.push_back(guarded(x, Device::CUDA));
    cpu_in.push_back(cpu_guards.back().input);
    gpu_in.push_back(gpu_guards.back().input);
    if (differentiable(c, i) && c.gradcheck) {
      cpu_in.back().requires_grad_();
      gpu_in.back().requires_grad_();
    }
  }
  auto check_guards = [&] {
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      EXPECT_TRUE(untouched(cpu_guards[i], c.name + ": CPU float32 input " + std::to_string(i)));
      EXPECT_TRUE(untouched(gpu_guards[i], c.name + ": CUDA input " + std::to_string(i)));
    }
  };
  Tensor cpu_out = c.fn(cpu_in), gpu_out = c.fn(gpu_in);
  ASSERT_EQ(gpu_out.device(), Device::CUDA);
  if (c.out_shape) EXPECT_EQ(gpu_out.shape(), *c.out_shape) << c.name << ": the CUDA forward's shape";
  EXPECT_TRUE(all_close(gpu_out, cpu_out, c.rtol, c.atol, c.name + " forward"));
  if (!c.gradcheck) return check_guards();
  Generator gen(kCaseSeed + 2);
  Tensor w = as_dtype(random_input(cpu_out.shape(), gen), DType::F32);
  cpu_out.backward(w);
  gpu_out.backward(w.to(Device::CUDA));
  check_guards();
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!differentiable(c, i)) continue;
    const std::string what = c.name + " gradient of input " + std::to_string(i);
    ASSERT_TRUE(cpu_in[i].grad().defined() && gpu_in[i].grad().defined()) << what << " was not computed";
    EXPECT_TRUE(all_close(gpu_in[i].grad(), cpu_in[i].grad(), c.rtol, c.atol, what));
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = std::to_string(info.index) + "_" + info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpCaseTest, ::testing::ValuesIn(case_names()), test_name);

TEST(OpCaseTable, EveryFamilyInThisBinaryHasCases) {
  ASSERT_FALSE(families().empty());
  for (const Family& f : families()) {
    Generator gen(kCaseSeed);
    EXPECT_FALSE(f.maker(gen).empty()) << "op family " << f.name << " registered no cases";
  }
}

}  // namespace
}  // namespace lra::test
