// The shared runner for the op case table: every case registered in the binary goes through a
// float64 gradient check on the CPU and a float32 CUDA-vs-CPU parity check (forward and backward).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

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
  if (!c.gradcheck) GTEST_SKIP() << "op has no gradient";
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    inputs.push_back(c.inputs[i].clone());
    if (differentiable(c, i)) inputs.back().requires_grad_();
  }
  Tensor out = c.fn(inputs);
  ASSERT_EQ(out.dtype(), DType::F64) << "float64 inputs should give a float64 output";
  Generator gen(kCaseSeed + 1);
  Tensor w = random_input(out.shape(), gen);
  std::vector<double> wv = w.to_vector<double>();
  out.backward(w);

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
  std::vector<Tensor> cpu_in, gpu_in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    cpu_in.push_back(as_dtype(c.inputs[i], DType::F32));
    gpu_in.push_back(cpu_in.back().to(Device::CUDA));
    if (differentiable(c, i) && c.gradcheck) {
      cpu_in.back().requires_grad_();
      gpu_in.back().requires_grad_();
    }
  }
  Tensor cpu_out = c.fn(cpu_in), gpu_out = c.fn(gpu_in);
  ASSERT_EQ(gpu_out.device(), Device::CUDA);
  EXPECT_TRUE(all_close(gpu_out, cpu_out, c.rtol, c.atol, c.name + " forward"));
  if (!c.gradcheck) return;
  Generator gen(kCaseSeed + 2);
  Tensor w = as_dtype(random_input(cpu_out.shape(), gen), DType::F32);
  cpu_out.backward(w);
  gpu_out.backward(w.to(Device::CUDA));
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!differentiable(c, i)) continue;
    EXPECT_TRUE(all_close(gpu_in[i].grad(), cpu_in[i].grad(), c.rtol, c.atol,
                          c.name + " gradient of input " + std::to_string(i)));
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
