#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "tests/support/compare.h"

namespace lra {
namespace {

TEST(Tensor, CreationAndViewsShareStorage) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.describe(), "float32[2, 3] on cpu");
  Tensor v = t.view({3, 2});
  v.data<float>()[0] = 10;
  EXPECT_EQ(t.data<float>()[0], 10);
  Tensor row = t.narrow0(1, 1);
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{4, 5, 6}));
  EXPECT_THROW(t.view({4, 2}), Error);
  EXPECT_THROW(t.data<int32_t>(), Error);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(Tensor::empty({3}).raw_data()) % 64, 0u) << "CPU storage is 64-byte aligned";
}

TEST(Tensor, FillAndCopyAcrossDtypes) {
  EXPECT_EQ(Tensor::full({3}, 2.5, DType::F64).to_vector<double>(), (std::vector<double>{2.5, 2.5, 2.5}));
  EXPECT_EQ(Tensor::full({2}, 7, DType::I32).to_vector<int32_t>(), (std::vector<int32_t>{7, 7}));
  EXPECT_EQ(Tensor::full({2}, 1.5, DType::BF16).to_vector<float>(), (std::vector<float>{1.5f, 1.5f}));
  EXPECT_EQ(bf16::from_float(1.00390625f).to_float(), 1.0f) << "ties round to even";
  EXPECT_THROW(Tensor::empty({2}, DType::F64, Device::CUDA), Error);
}

TEST(Tensor, MovesBetweenDevices) {
  LRA_REQUIRE_CUDA();
  Tensor t = Tensor::from_vector(std::vector<float>{1, -2, 3}, {3});
  Tensor g = t.to(Device::CUDA);
  EXPECT_TRUE(g.is_cuda());
  g.add_(g.clone());
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{2, -4, 6}));
  Tensor z = Tensor::full({1000}, 3, DType::I32, Device::CUDA);
  EXPECT_EQ(z.to_vector<int32_t>()[999], 3);
}

TEST(Rng, PhiloxMatchesPublishedVector) {
  // Random123 known-answer test for Philox4x32-10 with counter = key = 0.
  Philox4 r = philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(Rng, StreamsAreReproducibleAndDisjoint) {
  Generator a(42), b(42);
  Tensor x = Tensor::empty({1001}), y = Tensor::empty({1001});
  uniform_(x, a);
  uniform_(y, b);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  Tensor z = Tensor::empty({1001});
  uniform_(z, a);  // the next range of counters: different values
  EXPECT_NE(x.to_vector<float>(), z.to_vector<float>());
  std::vector<float> v = x.to_vector<float>();
  double mean = 0;
  for (float f : v) {
    ASSERT_GE(f, 0.f);
    ASSERT_LT(f, 1.f);
    mean += f / v.size();
  }
  EXPECT_NEAR(mean, 0.5, 0.03);
  Tensor n = Tensor::empty({20000});
  normal_(n, a, 1.0, 2.0);
  double m = 0, sq = 0;
  for (float f : n.to_vector<float>()) { m += f; sq += double(f) * f; }
  m /= 20000;
  EXPECT_NEAR(m, 1.0, 0.05);
  EXPECT_NEAR(std::sqrt(sq / 20000 - m * m), 2.0, 0.05);
}

TEST(Rng, PermutationIsAPermutationAndSeeded) {
  Generator a(7), b(7);
  std::vector<int64_t> p = a.permutation(1000), q = b.permutation(1000);
  EXPECT_EQ(p, q);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[size_t(i)], i);
}

// A batch window is validated; without one (or with one covering the whole batch) the batch-led
// reservations are exactly plain reserve()s, and with one they reserve the global batch and point at the
// slice's rows.
TEST(Rng, BatchWindowValidationAndReservations) {
  using test::error_of;
  Generator g(3, 100);
  EXPECT_FALSE(g.window().active());
  for (BatchWindow bad : {BatchWindow{5, -1, 2}, BatchWindow{5, 0, 0}, BatchWindow{5, 3, 3}, BatchWindow{0, 0, 1}}) {
    const std::string m = error_of([&] { g.set_window(bad); });
    EXPECT_NE(m.find("Generator::set_window: rows ["), std::string::npos) << m;
    EXPECT_NE(m.find("global batch of " + std::to_string(bad.global_rows) + " rows"), std::string::npos) << m;
  }
  EXPECT_FALSE(g.window().active()) << "a refused window is not kept";

  // No window: reserve_uniform_rows(n) = reserve(uniform_counters(n)) with first 0; reserve_rows = reserve.
  Generator plain(3, 100);
  RowDraw d = g.reserve_uniform_rows(35, "t");
  EXPECT_EQ(d.base, plain.reserve(uniform_counters(35)));
  EXPECT_EQ(d.first, 0);
  EXPECT_EQ(g.reserve_rows(5, 14, "t"), plain.reserve(70));
  EXPECT_EQ(g.offset(), plain.offset());

  // A window over the whole batch changes nothing.
  g.set_window({5, 0, 5});
  d = g.reserve_uniform_rows(35, "t");
  EXPECT_EQ(d.base, plain.reserve(uniform_counters(35)));
  EXPECT_EQ(d.first, 0);
  EXPECT_EQ(g.reserve_rows(5, 14, "t"), plain.reserve(70));

  // Rows [3, 5) of 5: the global reservation, this slice's first value / counter.
  g.set_window({5, 3, 2});
  EXPECT_TRUE(g.window().active());
  EXPECT_EQ(g.window().first_row, 3);
  d = g.reserve_uniform_rows(14, "t");  // R = 7
  EXPECT_EQ(d.base, plain.reserve(uniform_counters(35)));
  EXPECT_EQ(d.first, 21);
  EXPECT_EQ(g.reserve_rows(2, 14, "t"), plain.reserve(70) + 3 * 14);
  EXPECT_EQ(g.offset(), plain.offset());
  std::string m = error_of([&] { g.reserve_uniform_rows(15, "mixer x"); });
  EXPECT_NE(m.find("mixer x: under a batch window of 2 local rows the tensor must be batch-led"), std::string::npos)
      << m;
  m = error_of([&] { g.reserve_rows(3, 4, "denoise"); });
  EXPECT_NE(m.find("denoise: got 3 rows under a batch window of 2 local rows"), std::string::npos) << m;

  // BatchWindow{} clears it; a copy of the generator carries the window.
  Generator copy = g;
  EXPECT_EQ(copy.window().first_row, 3);
  g.set_window({});
  EXPECT_FALSE(g.window().active());
  EXPECT_EQ(g.reserve_uniform_rows(15, "t").first, 0);
}

TEST(Rng, CudaStreamEqualsCpuStream) {
  LRA_REQUIRE_CUDA();
  Generator a(9, 123), b(9, 123);
  Tensor h = Tensor::empty({4099}), d = Tensor::empty({4099}, DType::F32, Device::CUDA);
  uniform_(h, a, -2, 3);
  uniform_(d, b, -2, 3);
  EXPECT_EQ(h.to_vector<float>(), d.to_vector<float>()) << "uniforms must be bit-identical across devices";
  Tensor hn = Tensor::empty({4099}), dn = Tensor::empty({4099}, DType::F32, Device::CUDA);
  normal_(hn, a);
  normal_(dn, b);
  EXPECT_TRUE(test::all_close(dn, hn, 1e-6, 1e-6, "normals across devices"));
}

}  // namespace
}  // namespace lra
