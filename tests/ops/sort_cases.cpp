// Cases for the stable argsort: keys from a small range (many ties, so stability is checked on the
// GPU against std::stable_sort), permutations (argsort = the inverse permutation), negative keys, rows
// of 1, primes, 1024 ± 1 (a CUB tile edge), the LSH row of LRA text (n_hashes 2 × 1010 positions) and
// empty extents. The op has no gradient: the float64 run checks shape and guards; the CUDA run compares
// the indices exactly.
#include "ops/sort/sort.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

Tensor permutation_rows(int64_t rows, int64_t n, Generator& gen) {
  Tensor t = Tensor::empty({rows, n}, DType::I32);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> p = gen.permutation(n);
    for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[r * n + i] = int32_t(p[size_t(i)]);
  }
  return t;
}

std::vector<OpCase> sort_cases(Generator& gen) {
  std::vector<OpCase> cases;
  auto add = [&](const std::string& name, Tensor keys) {
    OpCase c;
    c.name = "argsort " + name + " " + keys.shape().to_string();
    c.out_shape = keys.shape();
    c.inputs = {keys};
    c.fn = [](const std::vector<Tensor>& in) { return ops::argsort(in[0]); };
    c.gradcheck = false;
    c.rtol = c.atol = 0;  // indices: exact
    cases.push_back(c);
  };
  for (const Shape& s : std::vector<Shape>{{1}, {7}, {3, 1}, {2, 31}, {5, 1023}, {2, 1024}, {3, 1025}, {2, 3, 97}})
    add("ties", random_ints(s, gen, 0, 5));
  add("negative", random_ints({4, 257}, gen, -1000, 1000));
  add("wide", random_ints({2, 509}, gen, -2147483647, 2147483647));
  add("permutation", permutation_rows(3, 61, gen));
  add("permutation", permutation_rows(1, 4096, gen));
  add("lsh text buckets", random_ints({8, 2020}, gen, 0, 20));
  add("empty", Tensor::empty({0}, DType::I32));
  add("empty", Tensor::empty({3, 0}, DType::I32));
  add("empty", Tensor::empty({0, 5}, DType::I32));
  return cases;
}

}  // namespace
LRA_OP_CASES(sort, sort_cases);
}  // namespace lra::test
