#include "tests/support/op_cases.h"

namespace lra::test {

std::vector<Family>& families() {
  static std::vector<Family> f;
  return f;
}

int register_family(const char* name, CaseMaker maker) {
  families().push_back({name, std::move(maker)});
  return int(families().size());
}

const std::vector<OpCase>& all_cases() {
  static std::vector<OpCase> cases = [] {
    std::vector<OpCase> out;
    for (const Family& f : families()) {
      Generator gen(kCaseSeed);
      for (OpCase& c : f.maker(gen)) {
        c.name = f.name + "/" + c.name;
        out.push_back(std::move(c));
      }
    }
    return out;
  }();
  return cases;
}

Tensor random_input(const Shape& shape, Generator& gen, double low, double high) {
  Tensor t = Tensor::empty(shape, DType::F64);
  uniform_(t, gen, low, high);
  return t;
}

Tensor random_ints(const Shape& shape, Generator& gen, int32_t low, int32_t high) {
  Tensor t = Tensor::empty(shape, DType::I32);
  int32_t* p = t.data<int32_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + int32_t(gen.below(uint32_t(high - low)));
  return t;
}

Tensor padding_mask(int64_t B, int64_t L, Generator& gen, int64_t fully_masked) {
  Tensor m = random_ints({B, L}, gen, 0, 3);
  int32_t* p = m.data<int32_t>();
  for (int64_t b = 0; b < B; ++b) {
    if (L > 0) p[b * L] = 1;
    if (b == fully_masked)
      for (int64_t j = 0; j < L; ++j) p[b * L + j] = 0;
  }
  return m;
}

}  // namespace lra::test
