// safetensors files and checkpoints: round trips, the exact byte layout of the format, atomic writes,
// refusal of damaged files with messages naming the problem, and save -> load -> step == step.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/support/process.h"
#include "engine/io.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "tests/support/compare.h"

namespace lra {
namespace {

namespace fs = std::filesystem;

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = lra::test::scratch_dir() /
           ("lra_test_io_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from a header JSON (padded with spaces to a multiple of 8) and raw data.
std::string file_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

template <class F>
void expect_error(F fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  Tensor ha = a.to(Device::CPU), hb = b.to(Device::CPU);
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(ha.raw_data(), hb.raw_data(), ha.nbytes()) == 0;
}

TEST_F(IoTest, RoundTripsEveryDtypeAndMetadata) {
  std::vector<bf16> halves;
  for (float f : {1.5f, -2.25f, 3e-3f, 65504.f, -0.f, 7.f}) halves.push_back(bf16::from_float(f));
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"blocks.0.w", Tensor::from_vector(std::vector<float>{1, -2, 3.5f, 1e-30f, 7, 8}, {2, 3})},
      {"d", Tensor::from_vector(std::vector<double>{1e-300, -2, M_PI, 4}, {4})},
      {"h", Tensor::from_vector(halves, {3, 2})},
      {"ids", Tensor::from_vector(std::vector<int32_t>{-1, 0, 2147483647, 5, 6}, {5})},
      {"scalar", Tensor::scalar(42.5)},
      {"empty", Tensor::zeros({0, 3})},
      {"five", Tensor::full({1, 2, 1, 3, 1}, 0.25)},
  };
  std::map<std::string, std::string> meta = {{"config", "{\"lr\": 0.001}"}, {"note", "ünïcode, \"quotes\"\n"}};
  io::save_safetensors(path("a.safetensors"), tensors, meta);
  io::SafeTensors back = io::load_safetensors(path("a.safetensors"));
  EXPECT_EQ(back.metadata, meta);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(back.tensors.at(name), t)) << name << ": " << back.tensors.at(name).describe();
    EXPECT_EQ(back.tensors.at(name).device(), Device::CPU);
  }
  // No metadata at all is fine too.
  io::save_safetensors(path("b.safetensors"), {{"x", Tensor::ones({2})}});
  EXPECT_TRUE(io::load_safetensors(path("b.safetensors")).metadata.empty());
}

TEST_F(IoTest, BytesFollowTheFormatSpec) {
  io::save_safetensors(path("x.safetensors"), {{"w", Tensor::from_vector(std::vector<float>{1.0f, -2.0f}, {2})}},
                       {{"k", "v"}});
  std::string bytes = read_bytes(path("x.safetensors"));
  std::string header = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  ASSERT_EQ(bytes.size(), 8 + header.size() + 8);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n, header.size()) << "little-endian u64 header length";
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  EXPECT_EQ(bytes.substr(8, n), header);
  float data[2];
  std::memcpy(data, bytes.data() + 8 + n, 8);
  EXPECT_EQ(data[0], 1.0f);
  EXPECT_EQ(data[1], -2.0f);
}

TEST_F(IoTest, ReadsAFileWrittenByOtherTools) {
  // As Python's safetensors writes it: keys sorted, __metadata__ first, space padding, any key order.
  std::string data(12, '\0');
  int32_t ids[2] = {7, -9};
  float f = 0.5f;
  std::memcpy(data.data(), ids, 8);
  std::memcpy(data.data() + 8, &f, 4);
  write_bytes(path("py.safetensors"),
              file_bytes(R"({"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,8],"dtype":"I32","shape":[2]},)"
                         R"("b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}})",
                         data));
  io::SafeTensors st = io::load_safetensors(path("py.safetensors"));
  EXPECT_EQ(st.metadata.at("format"), "pt");
  EXPECT_EQ(st.tensors.at("a").to_vector<int32_t>(), (std::vector<int32_t>{7, -9}));
  EXPECT_EQ(st.tensors.at("b").shape(), Shape{});
  EXPECT_EQ(st.tensors.at("b").item(), 0.5);
}

TEST_F(IoTest, WritesAtomically) {
  const std::string p = path("ckpt.safetensors");
  io::save_safetensors(p, {{"x", Tensor::ones({3})}});
  io::save_safetensors(p, {{"x", Tensor::full({3}, 2.0)}});  // overwrite
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"}) << "no temporary file is left behind";
  EXPECT_EQ(io::load_safetensors(p).tensors.at("x").to_vector<float>(), std::vector<float>(3, 2.0f));

  // A failure after the data is written (the rename onto a directory) removes the temporary file.
  fs::create_directories(path("taken.safetensors"));
  expect_error([&] { io::save_safetensors(path("taken.safetensors"), {{"x", Tensor::ones({3})}}); },
               {"checkpoint " + path("taken.safetensors"), "cannot rename", "Is a directory"});
  EXPECT_EQ(listing(), (std::vector<std::string>{"ckpt.safetensors", "taken.safetensors"}));

  // A failure before anything is written names the path and the reason.
  expect_error([&] { io::save_safetensors(path("no/such/dir/c.safetensors"), {{"x", Tensor::ones({3})}}); },
               {"checkpoint " + path("no/such/dir/c.safetensors"), "cannot create", "No such file or directory"});
  expect_error([&] { io::save_safetensors(p, {{"x", Tensor::ones({3})}, {"x", Tensor::ones({1})}}); },
               {"tensor name 'x' appears twice"});
  EXPECT_EQ(io::load_safetensors(p).tensors.at("x").to_vector<float>(), std::vector<float>(3, 2.0f))
      << "a refused save leaves the previous file intact";
}

TEST_F(IoTest, RefusesDamagedFilesNamingTheProblem) {
  const std::string p = path("bad.safetensors");
  const std::string where = "checkpoint " + p + ": ";
  auto refused = [&](const std::string& bytes, std::initializer_list<std::string> parts) {
    write_bytes(p, bytes);
    expect_error([&] { io::load_safetensors(p); }, parts);
  };
  const std::string f32x2 = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

  expect_error([&] { io::load_safetensors(path("missing.safetensors")); }, {"cannot open", "No such file"});
  refused("abc", {where + "the file has 3 bytes, too short"});
  refused(file_bytes(f32x2, std::string(8, '\0')).substr(0, 8) + "{}", {where + "header length", "is larger than the file (10 bytes)"});
  refused(file_bytes(R"({"w": {"dtype": "F32",)", ""), {where + "the header is not valid JSON"});
  refused(file_bytes("[1, 2]", ""), {where + "the header is not a JSON object"});
  refused(file_bytes(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')), {"tensor 'w' has no dtype string"});
  refused(file_bytes(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\0')),
          {"tensor 'w' has dtype 'F16', which is not supported"});
  refused(file_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')),
          {"tensor 'w' has shape [-2] with an entry that is not a non-negative integer"});
  refused(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", std::string(8, '\0')),
          {"tensor 'w' needs data_offsets [begin, end]"});
  refused(file_bytes(R"({"blocks.0.w":{"dtype":"F32","shape":[10,11],"data_offsets":[0,400]}})", std::string(400, '\0')),
          {where + "tensor 'blocks.0.w' data_offsets [0, 400] do not match shape [10, 11] of F32 (440 bytes)"});
  refused(file_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", std::string(8, '\0')),
          {"do not match shape [4294967296, 4294967296] of F32 (over 2^62 bytes)"});
  refused(file_bytes(f32x2, std::string(4, '\0')), {where + "tensor 'w' data_offsets [0, 8] are outside the data, which has 4 bytes"});
  refused(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                     std::string(12, '\0')),
          {where + "tensors 'a' [0, 8] and 'b' [4, 12] overlap"});
  refused(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                     std::string(12, '\0')),
          {where + "data bytes [4, 8) belong to no tensor"});
  refused(file_bytes(f32x2, std::string(12, '\0')), {where + "4 bytes of trailing garbage after the last tensor"});
  refused(file_bytes(R"({"__metadata__":{"step":3},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
          {where + "metadata 'step' is not a string"});

  // A good file cut short or with bytes appended is refused.
  io::save_safetensors(p, {{"a", Tensor::ones({4})}, {"b", Tensor::ones({4})}});
  std::string good = read_bytes(p);
  refused(good.substr(0, good.size() - 3), {"tensor 'b' data_offsets [16, 32] are outside the data, which has 29 bytes"});
  refused(good.substr(0, 20), {"header length", "is larger than the file (20 bytes)"});
  refused(good + "junk", {"4 bytes of trailing garbage"});
}

// --- checkpoints ------------------------------------------------------------------------------------

class Linear : public nn::Module {
 public:
  Linear(int64_t out, int64_t in, Generator& gen) {
    Tensor w = register_parameter("w", Tensor::empty({out, in}));
    Tensor b = register_parameter("b", Tensor::zeros({out}), nn::ParamKind::Bias);
    nn::init::xavier_uniform(w, gen);
    nn::init::uniform(b, gen, -0.1, 0.1);
  }
};

class Blocks : public nn::Module {
 public:
  Blocks(int n, int64_t width, Generator& gen) {
    for (int i = 0; i < n; ++i) register_module(std::to_string(i), std::make_shared<Linear>(width, width, gen));
  }
};

class Model : public nn::Module {
 public:
  Model(uint64_t seed, int blocks = 2, int64_t width = 8, int64_t classes = 3) {
    Generator gen(seed);
    register_module("blocks", std::make_shared<Blocks>(blocks, width, gen));
    register_module("head", std::make_shared<Linear>(classes, width, gen));
  }
};

void fake_grads(optim::Optimizer& opt, int step) {
  opt.zero_grad();
  std::vector<float> g(static_cast<size_t>(opt.flat_grads().numel()));
  for (size_t j = 0; j < g.size(); ++j) g[j] = float(std::cos(0.37 * double(j) + step));
  for (size_t i = 0; i < opt.parameters().size(); ++i) {
    const Tensor& p = opt.parameters()[i].tensor;
    auto begin = g.begin() + opt.slot_begin(i);
    p.grad().copy_from(Tensor::from_vector(std::vector<float>(begin, begin + p.numel()), p.shape()));
  }
}

optim::AdamWConfig config() {
  optim::AdamWConfig c;
  c.weight_decay = 0.05;
  c.decay_norms_and_biases = false;
  return c;
}

TEST_F(IoTest, CheckpointRoundTripContinuesIdentically) {
  Model model(1);
  optim::AdamW opt(model.named_parameters(), config());
  for (int s = 0; s < 3; ++s) {
    fake_grads(opt, s);
    opt.step(1e-2);
  }
  Generator rng(77, 12345);
  const std::string p = path("run.safetensors");
  io::save_checkpoint(p, model, &opt, 3, rng, R"({"task": "listops"})", {{"plateau", "best=1,bad=0,cooldown=0,scale=1"}});

  // The file is plain safetensors: parameters under their own names, optimizer state under optim.
  io::SafeTensors raw = io::load_safetensors(p);
  EXPECT_TRUE(raw.tensors.count("blocks.1.w") && raw.tensors.count("head.b"));
  EXPECT_TRUE(raw.tensors.count("optim.blocks.1.w.exp_avg") && raw.tensors.count("optim.head.b.exp_avg_sq"));
  EXPECT_EQ(raw.tensors.size(), 6u * 3);
  EXPECT_EQ(raw.metadata.at("format"), "pt");
  EXPECT_EQ(raw.metadata.at("optim.type"), "adamw");

  Model fresh(2);  // different initial values
  optim::AdamW fresh_opt(fresh.named_parameters(), config());
  Generator fresh_rng(0);
  io::CheckpointInfo info = io::load_checkpoint(p, fresh, &fresh_opt, &fresh_rng);
  EXPECT_EQ(info.step, 3);
  EXPECT_EQ(info.config, R"({"task": "listops"})");
  EXPECT_EQ(info.metadata.at("plateau"), "best=1,bad=0,cooldown=0,scale=1");
  EXPECT_EQ(fresh_rng.seed(), 77u);
  EXPECT_EQ(fresh_rng.offset(), 12345u);
  EXPECT_EQ(fresh_opt.steps(), 3);
  EXPECT_TRUE(same_bytes(fresh_opt.flat_params(), opt.flat_params()));

  // One more identical step gives identical parameters (bias corrections use the restored count).
  fake_grads(opt, 3);
  fake_grads(fresh_opt, 3);
  opt.step(1e-2);
  fresh_opt.step(1e-2);
  auto a = model.named_parameters(), b = fresh.named_parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bytes(a[i].tensor, b[i].tensor)) << a[i].name;

  // Weights only: no optimizer, no generator.
  Model weights(3);
  EXPECT_EQ(io::load_checkpoint(p, weights, nullptr, nullptr).step, 3);
  for (const auto& q : weights.named_parameters()) EXPECT_TRUE(same_bytes(q.tensor, raw.tensors.at(q.name))) << q.name;
  expect_error([&] { io::save_checkpoint(p, model, &opt, 4, rng, "{}", {{"step", "9"}}); },
               {"extra metadata key 'step' collides"});
}

TEST_F(IoTest, CheckpointMismatchListsEveryProblem) {
  // Saved: blocks.0, head [10, 64]. Loading into: blocks.0, blocks.1, head [2, 64].
  Model saved(1, 1, 64, 10);
  Generator rng(1);
  const std::string p = path("x.safetensors");
  io::save_checkpoint(p, saved, nullptr, 0, rng, "{}");
  Model other(2, 2, 64, 2);
  std::vector<float> before = other.named_parameters()[0].tensor.to_vector<float>();
  expect_error([&] { io::load_checkpoint(p, other, nullptr, nullptr); },
               {"checkpoint " + p + " does not match the model: missing blocks.1.w; missing blocks.1.b; "
                                    "shape of head.w is [10, 64] in the file but [2, 64] in the model; "
                                    "shape of head.b is [10] in the file but [2] in the model"});
  EXPECT_EQ(other.named_parameters()[0].tensor.to_vector<float>(), before) << "nothing is loaded from a refused file";

  Model smaller(3, 0, 64, 10);
  expect_error([&] { io::load_checkpoint(p, smaller, nullptr, nullptr); }, {"does not match the model: unexpected blocks.0.b; unexpected blocks.0.w"});

  // Optimizer state that is missing, of another optimizer, or of another shape.
  Model same(4, 1, 64, 10);
  optim::AdamW adamw(same.named_parameters(), config());
  expect_error([&] { io::load_checkpoint(p, same, &adamw, nullptr); }, {"has no optimizer state"});
  io::save_checkpoint(p, same, &adamw, 0, rng, "{}");
  Model same2(5, 1, 64, 10);
  optim::SGDConfig sc;
  sc.momentum = 0.9;
  optim::SGD sgd(same2.named_parameters(), sc);
  expect_error([&] { io::load_checkpoint(p, same2, &sgd, nullptr); }, {"holds adamw state, but the optimizer is sgd"});
}

TEST_F(IoTest, CheckpointFromTheGpuLoadsOnTheCpu) {
  LRA_REQUIRE_CUDA();
  Model model(1);
  model.to(Device::CUDA);
  optim::AdamW opt(model.named_parameters(), config());
  fake_grads(opt, 0);
  opt.step(1e-2);
  Generator rng(5);
  io::save_checkpoint(path("gpu.safetensors"), model, &opt, 1, rng, "{}");
  Model host(2);
  optim::AdamW host_opt(host.named_parameters(), config());
  io::load_checkpoint(path("gpu.safetensors"), host, &host_opt, nullptr);
  EXPECT_TRUE(same_bytes(host_opt.flat_params(), opt.flat_params()));
  auto a = opt.state(), b = host_opt.state();
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_TRUE(same_bytes(a.tensors[i].second, b.tensors[i].second));
  // And back onto the GPU.
  Model again(3);
  again.to(Device::CUDA);
  io::load_checkpoint(path("gpu.safetensors"), again, nullptr, nullptr);
  EXPECT_TRUE(same_bytes(again.named_parameters()[0].tensor, model.named_parameters()[0].tensor));
}

}  // namespace
}  // namespace lra
