// Cases for embedding lookup: one-row tables, odd widths, ids of rank 1 and 2, and repeated ids so the
// backward's scatter-add accumulates several rows into one.
#include <tuple>

#include "ops/embedding/embedding.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> embedding_cases(Generator& gen) {
  std::vector<OpCase> cases;
  const std::vector<Shape> id_shapes = {{5}, {2, 33}};
  for (int64_t V : {1, 20, 257})
    for (int64_t D : {1, 8, 65})
      for (const Shape& s : id_shapes) {
        OpCase c;
        c.name = "embedding V " + std::to_string(V) + " D " + std::to_string(D) + " ids " + s.to_string();
        // Ids drawn from at most 4 distinct rows, so most rows are hit several times (V = 257 with ids
        // [2, 33] repeats too), and rows never hit must get an exact zero gradient.
        int32_t hi = int32_t(V < 4 ? V : 4);
        Tensor ids = random_ints(s, gen, 0, hi);
        if (V > 4) ids.data<int32_t>()[0] = int32_t(V - 1);  // the last row is reachable
        c.inputs = {ids, random_input({V, D}, gen)};
        c.fn = [](const std::vector<Tensor>& in) { return ops::embedding(in[0], in[1]); };
        cases.push_back(c);
      }
  {
    // A realistic LRA text sequence: [B, L] = [1, 1024] byte ids into a 257-row table of width 64
    // (forward and the CUDA atomics path at scale). Float32 atomics add in a random order: repeated ids
    // (~4 hits per row) differ from the in-order CPU sum by a few ulps.
    OpCase c;
    c.name = "embedding text [1, 1024] V 257 D 64";
    c.inputs = {random_ints({1, 1024}, gen, 0, 257), random_input({257, 64}, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::embedding(in[0], in[1]); };
    cases.push_back(c);
  }
  // Empty extents: no ids (rank 1 and a 0 inside rank 2): y is empty and the table's gradient is all
  // zeros; D = 0: rows of nothing. A table with no rows is an error (embedding_test_errors.cpp).
  for (auto [ids_shape, V, D] : std::vector<std::tuple<Shape, int64_t, int64_t>>{
           {{0}, 5, 3}, {{2, 0}, 7, 4}, {{4}, 5, 0}}) {
    OpCase c;
    c.name = "embedding V " + std::to_string(V) + " D " + std::to_string(D) + " ids " + ids_shape.to_string();
    c.inputs = {random_ints(ids_shape, gen, 0, int32_t(V)), random_input({V, D}, gen)};
    c.fn = [](const std::vector<Tensor>& in) { return ops::embedding(in[0], in[1]); };
    Shape out = ids_shape;
    out.push_back(D);
    c.out_shape = out;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(embedding, embedding_cases);
}  // namespace lra::test
