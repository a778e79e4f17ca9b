// Cases for layer_norm and rms_norm over the last dim, with and without weight / bias.
#include <tuple>

#include "ops/norm/norm.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> norm_cases(Generator& gen) {
  std::vector<OpCase> cases;
  // D = 1 (layer_norm gives y = b), prime, a warp's width x 2, 255 (tile - 1) with 1 and 3 rows, and a
  // realistic LRA shape [B, L, D] (kept cheap for the finite-difference probes: [2, 100, 256]).
  std::vector<Shape> shapes;
  for (int64_t D : {1, 7, 64, 255})
    for (int64_t rows : {1, 3}) shapes.push_back(rows == 1 ? Shape{D} : Shape{rows, D});
  shapes.push_back({2, 5, 33});
  shapes.push_back({2, 100, 256});
  struct Variant {
    const char* name;
    bool rms, weight, bias;
  };
  const Variant variants[] = {{"layer_norm", false, true, true},
                              {"layer_norm no weight", false, false, true},
                              {"layer_norm no bias", false, true, false},
                              {"layer_norm plain", false, false, false},
                              {"rms_norm", true, true, false},
                              {"rms_norm plain", true, false, false}};
  for (const Variant& v : variants)
    for (const Shape& s : shapes) {
      int64_t D = s.at(-1);
      OpCase c;
      c.name = std::string(v.name) + " " + s.to_string();
      c.inputs = {random_input(s, gen, -2, 2)};
      if (v.weight) c.inputs.push_back(random_input({D}, gen, 0.5, 1.5));
      if (v.bias) c.inputs.push_back(random_input({D}, gen, -1, 1));
      bool rms = v.rms, has_w = v.weight, has_b = v.bias;
      c.fn = [rms, has_w, has_b](const std::vector<Tensor>& in) {
        Tensor w = has_w ? in[1] : Tensor();
        Tensor b = has_b ? in[has_w ? 2 : 1] : Tensor();
        return rms ? ops::rms_norm(in[0], w) : ops::layer_norm(in[0], w, b);
      };
      // dw and db sum over all rows (200 in the largest case): the GPU adds float32 partials chunk by
      // chunk (the CPU reference sums in double), an error of ~sqrt(200) * 6e-8 * |sum ~ 10| ~ 1e-5
      // typical and a few times that at worst, so atol is 1e-4 where a value sums that many rows.
      if (s.numel() / D > 100) c.atol = 1e-4;
      cases.push_back(c);
    }
  // Empty extents: no rows (dw = db = 0, sums over no rows), a 0 in a leading dim, and D = 0 (nothing
  // to normalise: empty y, dx, dw, db).
  for (auto [name, rms, shape] : std::vector<std::tuple<const char*, bool, Shape>>{
           {"layer_norm", false, {0, 7}}, {"rms_norm", true, {2, 0, 5}}, {"layer_norm", false, {3, 0}},
           {"rms_norm", true, {0}}}) {
    const int64_t D = shape.last();
    OpCase c;
    c.name = std::string(name) + " " + shape.to_string();
    c.inputs = {random_input(shape, gen, -2, 2), random_input({D}, gen, 0.5, 1.5)};
    if (!rms) c.inputs.push_back(random_input({D}, gen, -1, 1));
    c.fn = [rms](const std::vector<Tensor>& in) {
      return rms ? ops::rms_norm(in[0], in[1]) : ops::layer_norm(in[0], in[1], in[2]);
    };
    c.out_shape = shape;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(norm, norm_cases);
}  // namespace lra::test
