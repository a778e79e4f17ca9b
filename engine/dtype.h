// Element types. float32 is the working type on both backends; float64 exists on the CPU so that
// gradients can be checked against finite differences; bfloat16 is a storage type (cast to float32
// to compute); int32 holds token ids, labels and masks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "engine/base.h"

namespace lra {

enum class DType : uint8_t { F32, F64, BF16, I32 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::I32: return 4;
  }
  return 0;
}

// Names as the safetensors format spells them.
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
  }
  return "?";
}

inline bool dtype_from_name(const std::string& s, DType* out) {
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::I32})
    if (s == dtype_name(t)) { *out = t; return true; }
  return false;
}

inline bool is_floating(DType t) { return t != DType::I32; }

// bfloat16 on the host: the top 16 bits of a float32, rounded to nearest even. The CUDA side uses
// the same bit layout (__nv_bfloat16), so buffers move between backends unchanged.
struct bf16 {
  uint16_t bits = 0;
  static bf16 from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    bf16 b;
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) {
      b.bits = uint16_t((u >> 16) | 0x40);  // keep NaN a (quiet) NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      b.bits = uint16_t(u >> 16);
    }
    return b;
  }
  float to_float() const {
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }

}  // namespace lra
