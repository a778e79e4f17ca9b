// Embedding checks the case table cannot see: out-of-range ids name the position and the value, bad
// arguments name the op, and rows never looked up get an exactly zero gradient.
#include <gtest/gtest.h>

#include "tests/support/compare.h"

#include "ops/embedding/embedding.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using test::error_of;

TEST(Embedding, OutOfRangeIdNamesPositionAndValue) {
  Tensor table = Tensor::zeros({10, 4});
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 3, 4, 12}, {2, 3});
  std::string m = error_of([&] { ops::embedding(ids, table); });
  EXPECT_NE(m.find("embedding: id 12 at position 5 is outside the table's 10 rows"), std::string::npos) << m;
  ids = Tensor::from_vector(std::vector<int32_t>{-1}, {1});
  m = error_of([&] { ops::embedding(ids, table); });
  EXPECT_NE(m.find("embedding: id -1 at position 0"), std::string::npos) << m;
}

TEST(Embedding, TableWithoutRowsIsAnError) {
  // No id can be in range of a [0, D] table, so it is refused up front, with or without ids (on CUDA,
  // which cannot check ids, the same check stands in for the range check).
  for (const Shape& ids : {Shape{3}, Shape{0}}) {
    std::string m = error_of([&] { ops::embedding(Tensor::zeros(ids, DType::I32), Tensor::zeros({0, 4})); });
    EXPECT_NE(m.find("embedding: table [0, 4] has no rows"), std::string::npos) << m;
  }
}

TEST(Embedding, BadArgumentsNameTheOp) {
  Tensor table = Tensor::zeros({10, 4});
  std::string m = error_of([&] { ops::embedding(Tensor::zeros({3}), table); });
  EXPECT_NE(m.find("embedding: ids must be int32"), std::string::npos) << m;
  m = error_of([&] { ops::embedding(Tensor::zeros({3}, DType::I32), Tensor::zeros({10})); });
  EXPECT_NE(m.find("embedding: table must be [V, D]"), std::string::npos) << m;
}

TEST(Embedding, GradientAccumulatesRepeatsAndLeavesOtherRowsZero) {
  Tensor table = Tensor::zeros({5, 2}, DType::F64);
  table.requires_grad_();
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{3, 1, 3, 3}, {4});
  Tensor y = ops::embedding(ids, table);
  ASSERT_EQ(y.shape(), Shape({4, 2}));
  y.backward(Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}));
  std::vector<double> g = table.grad().to_vector<double>();
  const std::vector<double> want = {0, 0, 3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8, 0, 0};
  EXPECT_EQ(g, want);
}

}  // namespace
}  // namespace lra
