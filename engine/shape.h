// Shapes: up to five dims, row-major. Dimension letters used across the project: B batch, L length,
// H heads or channels, D width, N state size.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/base.h"

namespace lra {

class Shape {
 public:
  static constexpr int kMaxDims = 5;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int ndim() const { return n_; }
  int64_t operator[](int i) const { return d_[size_t(i)]; }
  int64_t& operator[](int i) { return d_[size_t(i)]; }
  // Size of dim i, where i may count from the end (-1 is the last dim).
  int64_t at(int i) const { return d_[size_t(wrap(i))]; }
  int wrap(int i) const {
    int j = i < 0 ? i + n_ : i;
    LRA_CHECK(j >= 0 && j < n_, "dim ", i, " is out of range for shape ", to_string());
    return j;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[size_t(i)];
    return n;
  }
  // Product of dims [begin, end).
  int64_t prod(int begin, int end) const {
    int64_t n = 1;
    for (int i = begin; i < end; ++i) n *= d_[size_t(i)];
    return n;
  }
  int64_t last() const { return n_ ? d_[size_t(n_ - 1)] : 1; }

  void push_back(int64_t v) {
    LRA_CHECK(n_ < kMaxDims, "a tensor has at most ", kMaxDims, " dims; ", to_string(), " cannot grow");
    d_[size_t(n_++)] = v;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(d_.begin(), d_.begin() + n_); }

  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[size_t(i)] != o.d_[size_t(i)]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string to_string() const {
    std::string s = "[";
    for (int i = 0; i < n_; ++i) s += (i ? ", " : "") + std::to_string(d_[size_t(i)]);
    return s + "]";
  }

 private:
  template <class It>
  void assign(It b, It e) {
    for (; b != e; ++b) {
      LRA_CHECK(n_ < kMaxDims, "a tensor has at most ", kMaxDims, " dims");
      LRA_CHECK(*b >= 0, "negative dimension ", *b, " in a shape");
      d_[size_t(n_++)] = *b;
    }
  }
  std::array<int64_t, kMaxDims> d_{};
  int n_ = 0;
};

inline std::ostream& operator<<(std::ostream& o, const Shape& s) { return o << s.to_string(); }

}  // namespace lra
