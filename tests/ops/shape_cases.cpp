// Cases for the shape ops. All of them copy elements exactly, so the CUDA defaults hold (the kernels do
// no arithmetic: GPU and CPU agree bit for bit).
#include <algorithm>

#include "ops/shape/shape_ops.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

template <class V>
std::string list_str(const V& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + ")";
}

OpCase one(std::string name, std::vector<Tensor> inputs, std::function<Tensor(const std::vector<Tensor>&)> fn) {
  OpCase c;
  c.name = std::move(name);
  c.inputs = std::move(inputs);
  c.fn = std::move(fn);
  return c;
}

std::vector<OpCase> shape_cases(Generator& gen) {
  std::vector<OpCase> cases;

  // --- reshape (a view; -1 inferred) ---
  for (auto [shape, dims] : std::vector<std::pair<Shape, std::vector<int64_t>>>{
           {{6, 7}, {42}}, {{2, 3, 5}, {-1, 5}}, {{1, 13}, {13, 1, -1}}, {{4, 9}, {3, -1, 2}}}) {
    cases.push_back(one("reshape " + shape.to_string() + " to " + list_str(dims), {random_input(shape, gen)},
                        [dims](const std::vector<Tensor>& in) { return ops::reshape(in[0], dims); }));
  }

  // --- transpose ---
  for (auto [shape, d0, d1] : std::vector<std::tuple<Shape, int, int>>{
           {{3, 17}, 0, 1}, {{2, 5, 7}, -1, -3}, {{1, 4, 1}, 0, 2}, {{3, 1, 5, 2}, 1, 3}, {{7}, 0, 0}}) {
    cases.push_back(one("transpose " + shape.to_string() + " " + std::to_string(d0) + "," + std::to_string(d1),
                        {random_input(shape, gen)}, [d0, d1](const std::vector<Tensor>& in) {
                          return ops::transpose(in[0], d0, d1);
                        }));
  }
  // Realistic LRA size: [B, L, D] -> [B, D, L] for a sequence of 1000 with width 64 (one copy, cheap).
  cases.push_back(one("transpose [4, 1000, 64] 1,2", {random_input({4, 1000, 64}, gen)},
                      [](const std::vector<Tensor>& in) { return ops::transpose(in[0], 1, 2); }));

  // --- permute: every permutation of a rank-3 tensor, and a rank-5 one ---
  std::vector<int> perm = {0, 1, 2};
  do {
    cases.push_back(one("permute [3, 5, 2] " + list_str(perm), {random_input({3, 5, 2}, gen)},
                        [perm](const std::vector<Tensor>& in) { return ops::permute(in[0], perm); }));
  } while (std::next_permutation(perm.begin(), perm.end()));
  cases.push_back(one("permute [2, 3, 1, 5, 4] (4,0,3,1,2)", {random_input({2, 3, 1, 5, 4}, gen)},
                      [](const std::vector<Tensor>& in) { return ops::permute(in[0], {4, 0, 3, 1, 2}); }));
  cases.push_back(one("permute [2, 3, 5] (-1,0,-2)", {random_input({2, 3, 5}, gen)},
                      [](const std::vector<Tensor>& in) { return ops::permute(in[0], {-1, 0, -2}); }));

  // --- concat of three tensors along the first, middle and last dims ---
  for (int dim : {0, 1, 2, -1}) {
    std::vector<Tensor> in;
    for (int64_t k : {3, 1, 4}) {
      std::vector<int64_t> s = {2, 5, 3};
      s[size_t(dim < 0 ? dim + 3 : dim)] = k;
      in.push_back(random_input(Shape(s), gen));
    }
    cases.push_back(one("concat 3 tensors dim " + std::to_string(dim), in,
                        [dim](const std::vector<Tensor>& xs) { return ops::concat(xs, dim); }));
  }
  cases.push_back(one("concat 1 tensor [3, 4]", {random_input({3, 4}, gen)},
                      [](const std::vector<Tensor>& xs) { return ops::concat(xs, 1); }));

  // --- split into uneven pieces: the pieces come back in another order with distinct weights, so a
  // gradient landing in the wrong piece (or the wrong place in it) changes the result ---
  for (auto [shape, sizes, dim] : std::vector<std::tuple<Shape, std::vector<int64_t>, int>>{
           {{11, 3}, {2, 5, 4}, 0}, {{2, 7, 3}, {1, 4, 2}, 1}, {{3, 2, 10}, {3, 0, 6, 1}, -1}}) {
    cases.push_back(one("split " + shape.to_string() + " into " + list_str(sizes) + " dim " + std::to_string(dim),
                        {random_input(shape, gen)}, [sizes, dim](const std::vector<Tensor>& in) {
                          std::vector<Tensor> p = ops::split(in[0], sizes, dim);
                          std::vector<Tensor> reordered(p.rbegin(), p.rend());
                          // The first piece also appears twice: autograd must sum both contributions.
                          reordered.push_back(p[0]);
                          return ops::concat(reordered, dim);
                        }));
  }

  // --- slice: interior, both edges, the whole dim, a single element ---
  for (auto [shape, dim, b, e] : std::vector<std::tuple<Shape, int, int64_t, int64_t>>{
           {{7, 5}, 0, 2, 5}, {{7, 5}, 0, 0, 3}, {{7, 5}, -1, 4, 5}, {{3, 11, 2}, 1, 0, 11}, {{3, 11, 2}, 1, 10, 11},
           {{1, 6}, 0, 0, 1}}) {
    cases.push_back(one("slice " + shape.to_string() + " dim " + std::to_string(dim) + " [" + std::to_string(b) +
                            ", " + std::to_string(e) + ")",
                        {random_input(shape, gen)},
                        [dim, b, e](const std::vector<Tensor>& in) { return ops::slice(in[0], dim, b, e); }));
  }

  // --- pad before, after and both with a nonzero value ---
  for (auto [shape, dim, before, after] : std::vector<std::tuple<Shape, int, int64_t, int64_t>>{
           {{5, 3}, 0, 2, 0}, {{5, 3}, 1, 0, 3}, {{2, 7, 3}, 1, 1, 4}, {{2, 7, 3}, -1, 5, 2}, {{1}, 0, 0, 0}}) {
    cases.push_back(one("pad " + shape.to_string() + " dim " + std::to_string(dim) + " " + std::to_string(before) +
                            "+" + std::to_string(after),
                        {random_input(shape, gen)}, [dim, before, after](const std::vector<Tensor>& in) {
                          return ops::pad(in[0], dim, before, after, -2.5);
                        }));
  }

  // --- a chain: pad -> transpose -> reshape -> slice, each backward feeding the next ---
  cases.push_back(one("chain pad/transpose/reshape/slice [3, 4, 5]", {random_input({3, 4, 5}, gen)},
                      [](const std::vector<Tensor>& in) {
                        Tensor y = ops::transpose(ops::pad(in[0], 1, 1, 2, 0.5), 0, 2);  // [5, 7, 3]
                        return ops::slice(ops::reshape(y, {-1, 3}), 0, 4, 30);
                      }));

  // --- int32 (token ids): forward only ---
  auto ints = [&](const Shape& s) { return random_ints(s, gen, -1000, 1000); };
  std::vector<OpCase> int_cases = {
      one("int32 transpose [5, 9]", {ints({5, 9})},
          [](const std::vector<Tensor>& in) { return ops::transpose(in[0], 0, 1); }),
      one("int32 permute [2, 3, 4, 5, 1]", {ints({2, 3, 4, 5, 1})},
          [](const std::vector<Tensor>& in) { return ops::permute(in[0], {3, 1, 4, 0, 2}); }),
      one("int32 reshape [4, 6]", {ints({4, 6})},
          [](const std::vector<Tensor>& in) { return ops::reshape(in[0], {2, -1, 3}); }),
      one("int32 concat dim 1", {ints({3, 2}), ints({3, 5})},
          [](const std::vector<Tensor>& in) { return ops::concat(in, 1); }),
      one("int32 split+concat [7, 3]", {ints({7, 3})},
          [](const std::vector<Tensor>& in) {
            std::vector<Tensor> p = ops::split(in[0], {4, 3}, 0);
            return ops::concat({p[1], p[0]}, 0);
          }),
      one("int32 slice [6, 8]", {ints({6, 8})},
          [](const std::vector<Tensor>& in) { return ops::slice(in[0], 1, 3, 8); }),
      one("int32 pad [4, 3]", {ints({4, 3})},
          [](const std::vector<Tensor>& in) { return ops::pad(in[0], 0, 1, 2, 7); }),
  };
  for (OpCase& c : int_cases) {
    c.gradcheck = false;  // integer tensors are never differentiated
    cases.push_back(std::move(c));
  }

  // --- empty extents: empty inputs through every op, and empty pieces of non-empty inputs (an empty
  // slice or split piece gives a zero gradient, which the finite differences confirm) ---
  auto expect = [](OpCase c, const Shape& out) {
    c.out_shape = out;
    return c;
  };
  cases.push_back(expect(one("reshape [0, 3] to (-1,3)", {random_input({0, 3}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::reshape(in[0], {-1, 3}); }),
                         {0, 3}));
  cases.push_back(expect(one("transpose [0, 4] 0,1", {random_input({0, 4}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::transpose(in[0], 0, 1); }),
                         {4, 0}));
  cases.push_back(expect(one("permute [2, 0, 3] (2,0,1)", {random_input({2, 0, 3}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::permute(in[0], {2, 0, 1}); }),
                         {3, 2, 0}));
  cases.push_back(expect(one("concat [2, 0] [2, 3] [2, 0] dim 1",
                             {random_input({2, 0}, gen), random_input({2, 3}, gen), random_input({2, 0}, gen)},
                             [](const std::vector<Tensor>& xs) { return ops::concat(xs, 1); }),
                         {2, 3}));
  cases.push_back(expect(one("concat [0, 3] [0, 3] dim 0", {random_input({0, 3}, gen), random_input({0, 3}, gen)},
                             [](const std::vector<Tensor>& xs) { return ops::concat(xs, 0); }),
                         {0, 3}));
  cases.push_back(expect(one("split [4, 0] into (1,3) dim 0", {random_input({4, 0}, gen)},
                             [](const std::vector<Tensor>& in) {
                               std::vector<Tensor> p = ops::split(in[0], {1, 3}, 0);
                               return ops::concat({p[1], p[0]}, 0);
                             }),
                         {4, 0}));
  cases.push_back(expect(one("split [5, 3] into (0,5) dim 0, empty piece", {random_input({5, 3}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::split(in[0], {0, 5}, 0)[0]; }),
                         {0, 3}));
  cases.push_back(expect(one("slice [5, 3] dim 0 [2, 2)", {random_input({5, 3}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::slice(in[0], 0, 2, 2); }),
                         {0, 3}));
  cases.push_back(expect(one("pad [0, 3] dim 0 2+1", {random_input({0, 3}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::pad(in[0], 0, 2, 1, -2.5); }),
                         {3, 3}));
  cases.push_back(expect(one("pad [3, 0] dim 0 1+1", {random_input({3, 0}, gen)},
                             [](const std::vector<Tensor>& in) { return ops::pad(in[0], 0, 1, 1, 4.0); }),
                         {5, 0}));
  {
    OpCase c = expect(one("int32 transpose [0, 5]", {ints({0, 5})},
                          [](const std::vector<Tensor>& in) { return ops::transpose(in[0], 0, 1); }),
                      {5, 0});
    c.gradcheck = false;
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(shape, shape_cases);
}  // namespace lra::test
