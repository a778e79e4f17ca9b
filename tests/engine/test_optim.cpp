// Optimizers: AdamW and SGD against hand-written double-precision updates, the flat-buffer rebinding,
// gradient re-attachment, clipping, state round trips, and CUDA parity with the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/memory.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "tests/support/compare.h"

namespace lra {
namespace {

using nn::ParamKind;

// A small model with every parameter kind, a child module (dotted names) and an "ssm" group.
class Block : public nn::Module {
 public:
  Tensor w, b, scale;
  Block(Generator& gen, DType dt) {
    w = register_parameter("w", Tensor::empty({3, 5}, dt));
    b = register_parameter("b", Tensor::empty({3}, dt), ParamKind::Bias);
    scale = register_parameter("scale", Tensor::empty({5}, dt), ParamKind::Norm);
    nn::init::normal(w, gen);
    nn::init::normal(b, gen);
    nn::init::normal(scale, gen, 1.0, 0.1);
  }
};

class Net : public nn::Module {
 public:
  Tensor emb, a, head;
  std::shared_ptr<Block> block;
  explicit Net(uint64_t seed = 1, DType dt = DType::F32) {
    Generator gen(seed);
    emb = register_parameter("emb", Tensor::empty({7, 2}, dt), ParamKind::Embedding);
    a = register_parameter("A", Tensor::empty({4}, dt), ParamKind::Weight, "ssm");
    block = register_module("block", std::make_shared<Block>(gen, dt));
    head = register_parameter("head", Tensor::empty({2, 3}, dt));
    nn::init::normal(emb, gen);
    nn::init::normal(a, gen);
    nn::init::normal(head, gen);
  }
};

// A deterministic gradient for parameter `name` at step `step`, rounded to float so float and double
// optimizers and the reference all see the same values.
std::vector<double> grad_values(const std::string& name, int64_t n, int step) {
  std::vector<double> g(static_cast<size_t>(n));
  double salt = double(name.size()) + double(name[0]);
  for (int64_t j = 0; j < n; ++j) g[size_t(j)] = double(float(std::sin(0.7 * double(j) + 1.3 * step + salt) * 0.5));
  return g;
}

Tensor host_tensor(const std::vector<double>& v, const Shape& shape, DType dt) {
  if (dt == DType::F64) return Tensor::from_vector(v, shape);
  return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), shape);
}

// Writes this step's gradients into the parameters' grads (through the optimizer's views).
void set_grads(optim::Optimizer& opt, int step) {
  opt.zero_grad();
  for (const auto& p : opt.parameters()) {
    Tensor g = host_tensor(grad_values(p.name, p.tensor.numel(), step), p.tensor.shape(), p.tensor.dtype());
    p.tensor.grad().copy_from(g);
  }
}

// The independent reference: per-parameter double vectors and hand-picked hyper-parameters.
struct RefParam {
  std::vector<double> p, m, v;
  double lr_scale, wd;
};

std::map<std::string, RefParam> reference_of(const nn::Module& m, const std::map<std::string, std::pair<double, double>>& hyper) {
  std::map<std::string, RefParam> out;
  for (const auto& p : m.named_parameters()) {
    RefParam r;
    r.p = p.tensor.to_vector<double>();
    r.m.assign(r.p.size(), 0.0);
    r.v.assign(r.p.size(), 0.0);
    r.lr_scale = hyper.at(p.name).first;
    r.wd = hyper.at(p.name).second;
    out[p.name] = r;
  }
  return out;
}

void reference_adamw(std::map<std::string, RefParam>& ref, double lr, int t, double b1, double b2, double eps, int step) {
  for (auto& [name, r] : ref) {
    auto g = grad_values(name, int64_t(r.p.size()), step);
    double a = lr * r.lr_scale;
    for (size_t j = 0; j < r.p.size(); ++j) {
      r.p[j] -= a * r.wd * r.p[j];
      r.m[j] = b1 * r.m[j] + (1 - b1) * g[j];
      r.v[j] = b2 * r.v[j] + (1 - b2) * g[j] * g[j];
      double mhat = r.m[j] / (1 - std::pow(b1, t)), vhat = r.v[j] / (1 - std::pow(b2, t));
      r.p[j] -= a * mhat / (std::sqrt(vhat) + eps);
    }
  }
}

void reference_sgd(std::map<std::string, RefParam>& ref, double lr, double mom, bool nesterov, int step) {
  for (auto& [name, r] : ref) {
    auto g = grad_values(name, int64_t(r.p.size()), step);
    for (size_t j = 0; j < r.p.size(); ++j) {
      double d = g[j] + r.wd * r.p[j];
      r.m[j] = mom * r.m[j] + d;
      d = nesterov ? d + mom * r.m[j] : r.m[j];
      r.p[j] -= lr * r.lr_scale * d;
    }
  }
}

void expect_matches(const nn::Module& m, const std::map<std::string, RefParam>& ref, double rtol, double atol) {
  for (const auto& p : m.named_parameters())
    EXPECT_TRUE(test::all_close(p.tensor, Tensor::from_vector(ref.at(p.name).p, p.tensor.shape()), rtol, atol, p.name));
}

// wd 0.1 everywhere except biases and norms (excluded) and the ssm group (lr x0.5, no decay).
const std::map<std::string, std::pair<double, double>> kHyper = {
    {"emb", {1.0, 0.1}}, {"A", {0.5, 0.0}}, {"block.w", {1.0, 0.1}}, {"block.b", {1.0, 0.0}},
    {"block.scale", {1.0, 0.0}}, {"head", {1.0, 0.1}}};

optim::AdamWConfig adamw_config() {
  optim::AdamWConfig c;
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.weight_decay = 0.1;
  c.decay_norms_and_biases = false;
  c.groups = {{"ssm", 0.5, 0.0}};
  return c;
}

TEST(AdamW, MatchesDoublePrecisionReference) {
  for (DType dt : {DType::F64, DType::F32}) {
    SCOPED_TRACE(dtype_name(dt));
    Net net(3, dt);
    auto ref = reference_of(net, kHyper);
    optim::AdamW opt(net.named_parameters(), adamw_config());
    EXPECT_EQ(opt.segments().count, 3) << "(1, 0.1), (0.5, 0), (1, 0)";
    const double lrs[] = {0.1, 0.05, 0.02, 0.07};
    for (int s = 0; s < 4; ++s) {
      set_grads(opt, s);
      opt.step(lrs[s]);
      reference_adamw(ref, lrs[s], s + 1, 0.8, 0.95, 1e-6, s);
    }
    EXPECT_EQ(opt.steps(), 4);
    // float32: a few ulps per step on O(1) values.
    if (dt == DType::F64) expect_matches(net, ref, 1e-12, 1e-13);
    else expect_matches(net, ref, 2e-6, 2e-7);
  }
}

TEST(SGD, MatchesDoublePrecisionReference) {
  for (bool nesterov : {false, true}) {
    SCOPED_TRACE(nesterov ? "nesterov" : "heavy ball");
    Net net(4);
    auto ref = reference_of(net, kHyper);
    optim::SGDConfig c;
    c.momentum = 0.9;
    c.nesterov = nesterov;
    c.weight_decay = 0.1;
    c.decay_norms_and_biases = false;
    c.groups = {{"ssm", 0.5, 0.0}};
    optim::SGD opt(net.named_parameters(), c);
    for (int s = 0; s < 3; ++s) {
      set_grads(opt, s);
      opt.step(0.05);
      reference_sgd(ref, 0.05, 0.9, nesterov, s);
    }
    expect_matches(net, ref, 2e-6, 2e-7);
  }
  // Without momentum there is no buffer and no state.
  Net net(5);
  auto ref = reference_of(net, {{"emb", {1, 0}}, {"A", {1, 0}}, {"block.w", {1, 0}}, {"block.b", {1, 0}},
                                {"block.scale", {1, 0}}, {"head", {1, 0}}});
  optim::SGD opt(net.named_parameters(), optim::SGDConfig{});
  set_grads(opt, 0);
  opt.step(0.3);
  reference_sgd(ref, 0.3, 0.0, false, 0);
  expect_matches(net, ref, 1e-6, 1e-7);
  EXPECT_TRUE(opt.state().tensors.empty());
}

TEST(Optimizer, FlatBufferRebindingKeepsHandles) {
  Net net(6);
  auto before = net.named_parameters();
  std::map<std::string, std::vector<float>> values;
  for (auto& p : before) values[p.name] = p.tensor.to_vector<float>();
  Tensor head = net.head;  // a handle taken before the optimizer exists
  optim::AdamW opt(net.named_parameters(), adamw_config());

  const char* base = static_cast<const char*>(opt.flat_params().raw_data());
  const size_t flat_bytes = opt.flat_params().nbytes();
  for (size_t i = 0; i < opt.parameters().size(); ++i) {
    const auto& p = opt.parameters()[i];
    EXPECT_EQ(values[p.name], p.tensor.to_vector<float>()) << p.name << " keeps its values";
    const char* d = static_cast<const char*>(p.tensor.raw_data());
    EXPECT_TRUE(d >= base && d + p.tensor.nbytes() <= base + flat_bytes) << p.name << " lives in the flat buffer";
    EXPECT_EQ(d, base + opt.slot_begin(i) * 4) << p.name;
    EXPECT_EQ(opt.slot_begin(i) % 16, 0) << p.name << " starts on a 64-byte boundary";
    EXPECT_EQ(p.tensor.grad().raw_data(),
              static_cast<char*>(opt.flat_grads().raw_data()) + opt.slot_begin(i) * 4) << p.name;
  }
  // Parameters are grouped into contiguous segments by hyper-parameters.
  const auto& segs = opt.segments();
  EXPECT_EQ(segs.seg[0].begin, 0);
  for (int k = 1; k < segs.count; ++k) EXPECT_EQ(segs.seg[k].begin, segs.seg[k - 1].end);
  EXPECT_EQ(segs.seg[segs.count - 1].end, opt.flat_params().numel());
  EXPECT_EQ(segs.seg[1].lr_scale, 0.5);

  // Every handle sees the same storage: the module's member, the old handle, a fresh named_parameters().
  EXPECT_EQ(head.raw_data(), net.head.raw_data());
  for (auto& p : net.named_parameters()) {
    if (p.name == "head") {
      EXPECT_EQ(p.tensor.raw_data(), head.raw_data());
    }
  }
  set_grads(opt, 0);
  opt.step(0.1);
  EXPECT_NE(head.to_vector<float>(), values["head"]) << "the update reaches handles taken before";
  EXPECT_EQ(head.to_vector<float>(), net.head.to_vector<float>());
}

TEST(Optimizer, ZeroGradAndGradReattachment) {
  Net net(7);
  optim::SGDConfig c;  // plain SGD: p -= lr * g, easy to predict
  optim::SGD opt(net.named_parameters(), c);
  Tensor grad_view = net.head.grad();
  ASSERT_TRUE(grad_view.defined());

  // Autograd accumulates into the existing leaf grad, i.e. straight into the flat buffer.
  net.head.backward(Tensor::full({2, 3}, 0.5));
  net.head.backward(Tensor::full({2, 3}, 0.25));
  EXPECT_EQ(net.head.grad().raw_data(), grad_view.raw_data());
  EXPECT_EQ(grad_view.to_vector<float>(), std::vector<float>(6, 0.75f));

  // zero_grad is one memset of the whole buffer.
  opt.zero_grad();
  for (float x : opt.flat_grads().to_vector<float>()) ASSERT_EQ(x, 0.0f);

  // Module::zero_grad drops the views; zero_grad re-attaches them, and so does step.
  net.zero_grad();
  EXPECT_FALSE(net.head.grad().defined());
  opt.zero_grad();
  EXPECT_EQ(net.head.grad().raw_data(), grad_view.raw_data());

  // A replaced grad is copied into its slot; an undefined one counts as zero.
  std::vector<float> head0 = net.head.to_vector<float>(), a0 = net.a.to_vector<float>();
  opt.zero_grad();
  net.head.set_grad(Tensor::full({2, 3}, 2.0));
  net.a.set_grad(Tensor());
  net.emb.grad().fill_(1.0);
  std::vector<float> emb0 = net.emb.to_vector<float>();
  opt.step(0.5);
  EXPECT_EQ(net.head.grad().raw_data(), grad_view.raw_data()) << "the view is re-attached";
  std::vector<float> head1 = net.head.to_vector<float>();
  for (size_t j = 0; j < head0.size(); ++j) EXPECT_FLOAT_EQ(head1[j], head0[j] - 1.0f);
  EXPECT_EQ(net.a.to_vector<float>(), a0) << "an undefined grad is a zero grad";
  EXPECT_FLOAT_EQ(net.emb.to_vector<float>()[0], emb0[0] - 0.5f);
  // A replaced grad of the wrong shape is an error naming the parameter.
  net.head.set_grad(Tensor::zeros({3, 2}));
  try {
    opt.step(0.1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the gradient of 'head' is float32[3, 2]"), std::string::npos) << e.what();
  }
}

TEST(Optimizer, ClipGradNorm) {
  Net net(8);
  optim::AdamW opt(net.named_parameters(), optim::AdamWConfig{});
  set_grads(opt, 2);
  double sum = 0;
  std::vector<float> before = opt.flat_grads().to_vector<float>();
  for (float g : before) sum += double(g) * g;
  const double norm = std::sqrt(sum);
  ASSERT_GT(norm, 1.0);

  // Above the norm: nothing changes.
  Tensor n = optim::clip_grad_norm(opt, norm * 2);
  EXPECT_EQ(n.shape(), Shape{});
  EXPECT_NEAR(n.item(), norm, 1e-6 * norm);
  EXPECT_EQ(opt.flat_grads().to_vector<float>(), before);

  // Below: scaled to max_norm (up to the 1e-6 guard).
  n = optim::clip_grad_norm(opt, 1.0);
  EXPECT_NEAR(n.item(), norm, 1e-6 * norm);
  double after = 0;
  for (float g : opt.flat_grads().to_vector<float>()) after += double(g) * g;
  EXPECT_NEAR(std::sqrt(after), 1.0, 1e-5);
  std::vector<float> now = opt.flat_grads().to_vector<float>();
  for (size_t j = 0; j < now.size(); ++j) EXPECT_NEAR(now[j], before[j] / norm, 1e-6);

  // A replaced grad is part of the norm.
  opt.zero_grad();
  net.head.set_grad(Tensor::full({2, 3}, 2.0));
  EXPECT_NEAR(optim::clip_grad_norm(opt, 100.0).item(), std::sqrt(6 * 4.0), 1e-6);
  EXPECT_THROW(optim::clip_grad_norm(opt, 0.0), Error);
}

TEST(Optimizer, StateRoundTripAndMismatches) {
  Net net(9);
  optim::AdamW opt(net.named_parameters(), adamw_config());
  for (int s = 0; s < 2; ++s) {
    set_grads(opt, s);
    opt.step(0.01);
  }
  optim::OptimizerState st = opt.state();
  EXPECT_EQ(st.step, 2);
  ASSERT_EQ(st.tensors.size(), 12u);
  std::map<std::string, Tensor> named(st.tensors.begin(), st.tensors.end());
  ASSERT_TRUE(named.count("block.w.exp_avg") && named.count("block.w.exp_avg_sq"));
  EXPECT_EQ(named["block.w.exp_avg"].shape(), Shape({3, 5}));
  EXPECT_NE(named["block.w.exp_avg_sq"].to_vector<float>()[0], 0.0f);

  // Load host copies into a fresh optimizer on an identical model: the next step is identical.
  Net net2(9);
  optim::AdamW opt2(net2.named_parameters(), adamw_config());
  for (const auto& p : net.named_parameters())
    for (auto& q : net2.named_parameters())
      if (q.name == p.name) q.tensor.copy_from(p.tensor);
  optim::OptimizerState copy{st.step, {}};
  for (auto& [name, t] : st.tensors) copy.tensors.emplace_back(name, t.clone());
  opt2.load_state(copy);
  EXPECT_EQ(opt2.steps(), 2);
  set_grads(opt, 2);
  set_grads(opt2, 2);
  opt.step(0.01);
  opt2.step(0.01);
  EXPECT_EQ(opt.flat_params().to_vector<float>(), opt2.flat_params().to_vector<float>());

  // Every problem is listed, and nothing is copied.
  optim::OptimizerState bad = copy;
  bad.tensors.erase(bad.tensors.begin());
  bad.tensors[0].second = Tensor::zeros({9});
  bad.tensors.emplace_back("nope.exp_avg", Tensor::zeros({1}));
  std::vector<float> m_before = opt2.state().tensors[1].second.to_vector<float>();
  try {
    opt2.load_state(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("adamw optimizer state does not match"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing " + copy.tensors[0].first), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape of " + copy.tensors[1].first + " is [9] in the state"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected nope.exp_avg"), std::string::npos) << msg;
  }
  EXPECT_EQ(opt2.state().tensors[1].second.to_vector<float>(), m_before);
}

TEST(Optimizer, UserErrors) {
  {
    Net net(10);
    auto params = net.named_parameters();
    params.push_back(params[0]);
    params.back().name = "alias";
    try {
      optim::SGD opt(params, optim::SGDConfig{});
      FAIL() << "tied parameters accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'emb' and 'alias' are the same tensor"), std::string::npos) << e.what();
    }
  }
  {
    // Nine distinct learning-rate scales need nine segments; eight is the limit.
    optim::AdamWConfig c;
    std::vector<nn::NamedParameter> many;
    for (int k = 0; k < 9; ++k) {
      c.groups.push_back({"g" + std::to_string(k), 1.0 + k, std::nullopt});
      Tensor t = Tensor::zeros({2});
      t.requires_grad_();
      many.push_back({"p" + std::to_string(k), t, ParamKind::Weight, "g" + std::to_string(k)});
    }
    EXPECT_THROW({ optim::AdamW opt(many, c); }, Error);
  }
  {
    Net net(12);
    auto params = net.named_parameters();
    params[1].tensor = Tensor::zeros({2}, DType::F64);
    EXPECT_THROW({ optim::SGD opt(params, optim::SGDConfig{}); }, Error) << "mixed dtypes";
    optim::AdamWConfig c;
    c.beta2 = 1.0;
    EXPECT_THROW({ optim::AdamW opt(net.named_parameters(), c); }, Error);
    c = optim::AdamWConfig{};
    c.groups = {{"ssm", 1.0, -1.0}};
    EXPECT_THROW({ optim::AdamW opt(net.named_parameters(), c); }, Error);
    EXPECT_THROW({ optim::SGD opt({}, optim::SGDConfig{}); }, Error);
  }
  {
    // Rebinding the parameters behind the optimizer's back is caught, naming the parameter.
    Net net(13);
    optim::SGD opt(net.named_parameters(), optim::SGDConfig{});
    net.head.impl()->storage = std::make_shared<Storage>(24, Device::CPU);
    net.head.impl()->offset = 0;
    try {
      opt.step(0.1);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("parameter 'head' no longer lives"), std::string::npos) << e.what();
    }
  }
}

// --- CUDA -----------------------------------------------------------------------------------------

// Runs `steps` updates of the optimizer made by `make` on the CPU and on the GPU and compares.
template <class Make>
void expect_cuda_matches_cpu(Make make, int steps, bool clip) {
  Net cpu_net(21), gpu_net(21);
  gpu_net.to(Device::CUDA);
  auto cpu_opt = make(cpu_net), gpu_opt = make(gpu_net);
  for (int s = 0; s < steps; ++s) {
    set_grads(*cpu_opt, s);
    set_grads(*gpu_opt, s);
    if (clip) {
      Tensor a = optim::clip_grad_norm(*cpu_opt, 0.5), b = optim::clip_grad_norm(*gpu_opt, 0.5);
      EXPECT_TRUE(b.is_cuda());
      EXPECT_NEAR(b.item(), a.item(), 1e-5 * a.item());
      EXPECT_TRUE(test::all_close(gpu_opt->flat_grads(), cpu_opt->flat_grads(), 1e-5, 1e-7, "clipped grads"));
    }
    cpu_opt->step(0.05);
    gpu_opt->step(0.05);
  }
  // float32 on both sides; the GPU may contract a*b+c into an FMA, a few ulps per step.
  EXPECT_TRUE(test::all_close(gpu_opt->flat_params(), cpu_opt->flat_params(), 1e-5, 1e-6, "parameters"));
  auto a = cpu_opt->state(), b = gpu_opt->state();
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i)
    EXPECT_TRUE(test::all_close(b.tensors[i].second, a.tensors[i].second, 1e-5, 1e-7, a.tensors[i].first));
}

TEST(OptimizerCuda, AdamWMatchesCpu) {
  LRA_REQUIRE_CUDA();
  expect_cuda_matches_cpu([](Net& n) { return std::make_unique<optim::AdamW>(n.named_parameters(), adamw_config()); },
                          4, false);
}

TEST(OptimizerCuda, SGDMatchesCpu) {
  LRA_REQUIRE_CUDA();
  optim::SGDConfig c;
  c.momentum = 0.9;
  c.nesterov = true;
  c.weight_decay = 0.01;
  c.groups = {{"ssm", 2.0, std::nullopt}};
  expect_cuda_matches_cpu([&](Net& n) { return std::make_unique<optim::SGD>(n.named_parameters(), c); }, 3, false);
}

TEST(OptimizerCuda, ClipGradNormMatchesCpu) {
  LRA_REQUIRE_CUDA();
  expect_cuda_matches_cpu([](Net& n) { return std::make_unique<optim::AdamW>(n.named_parameters(), adamw_config()); },
                          3, true);
  // A large buffer exercises many partial sums; the result is deterministic run to run.
  Tensor x = Tensor::zeros({1 << 20}, DType::F32, Device::CUDA);
  std::vector<nn::NamedParameter> big = {{"x", x, ParamKind::Weight, "default"}};
  optim::SGD opt(big, optim::SGDConfig{});
  std::vector<float> g(1 << 20);
  double sum = 0;
  for (size_t j = 0; j < g.size(); ++j) {
    g[j] = float(std::sin(0.001 * double(j)));
    sum += double(g[j]) * g[j];
  }
  x.grad().copy_from(Tensor::from_vector(g, {1 << 20}));
  float n1 = float(optim::clip_grad_norm(opt, 1e9).item());
  float n2 = float(optim::clip_grad_norm(opt, 1e9).item());
  EXPECT_EQ(n1, n2);
  EXPECT_NEAR(n1, std::sqrt(sum), 1e-5 * std::sqrt(sum));
}

TEST(OptimizerCuda, NoAllocationAfterTheFirstStep) {
  LRA_REQUIRE_CUDA();
  Net net(22);
  net.to(Device::CUDA);
  optim::AdamW opt(net.named_parameters(), adamw_config());
  auto one_step = [&] {
    opt.zero_grad();
    net.head.grad().fill_(0.1);
    net.a.backward(Tensor::full({4}, 0.2, DType::F32, Device::CUDA));  // autograd into the flat buffer
    optim::clip_grad_norm(opt, 1.0);
    opt.step(1e-3);
  };
  one_step();
  synchronize();
  const size_t mallocs = cuda_memory_stats().device_mallocs;
  for (int s = 0; s < 5; ++s) one_step();
  synchronize();
  EXPECT_EQ(cuda_memory_stats().device_mallocs, mallocs) << "optimizer steps must be served by the caching allocator";
}

}  // namespace
}  // namespace lra
