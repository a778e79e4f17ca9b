// The float32 CPU path of the broadcasting binary ops (add, sub, mul, div) and of sum_middle (the backward
// of broadcasting) that training runs, beside the reference (binary_cpu.cpp, the specification in float
// and double). The training profiles put div (2.1-2.4 ms) and mul in the linear transformer's and the
// Performer's backward, mul at 7.4 ms in Sinkhorn's: the reference switches over the op per element and
// walks a 5-dim odometer per element, so nothing vectorises.
//
// Shapes: y = a op b with a, b broadcast to y (binary.h). The geometry is matched once per call against
// two-part views y [R, C] in which each operand is one of
//   full    a[r·C + c]     (a has y's shape)
//   row     a[c]           (a broadcast along the leading dims: a bias [D] against [B, L, D])
//   column  a[r]           (a broadcast along the trailing dims: [B, L, 1] against [B, L, D])
//   scalar  a[0]
// (the split point between the leading and trailing dims is the first of 0..5 that fits both operands;
// dims of size 1 in y play no part). Same shapes are the view R = 1, both full: one flat loop. The inner
// loop over c has unit or zero operand strides known at compile time, so it vectorises (-fopt-info-vec:
// every forward and backward inner loop, 64-byte vectors). Anything else (both operands stretched along
// interleaved dims: [3, 1, 5] op [3, 4, 1]) takes the reference's odometer with the op hoisted.
// The op is a template parameter (the switch is resolved once per call). Work is split over OpenMP threads
// in static ranges of rows, or of columns when R = 1, above kParallel elements; every output element is
// computed by the same formula whatever the split, so results do not depend on the thread count. The
// forward is the reference's single rounding per element (bitwise equal); the backward's per-element
// products may be contracted into FMAs by -march=native (div's -g·a/b² within a few ulp).
//
// sum_middle: y[o, i] = Σ_j x[o, j, i] over x [outer, n, inner]. inner > 1: the work items are (o, block
// of up to 512 i's), each summing its rows j = 0..n-1 in order into its own outputs: the reference's order,
// so bitwise equal to it. inner = 1 (row sums): each row is cut into fixed blocks of 4096 summed with 16
// vector lanes (an order fixed by the build, not by the threads), then the block sums of a row are added
// in order; within float32 rounding of the reference (a different summation order).
// Nothing is saved for backward here: the glue (binary.cpp) keeps a and b for mul and div.
//
// Version log (2 threads, this shared 2-core host; docs/kernels.md has the commands):
//   v1  templated op, two-part broadcast views, threads over rows/columns; sum_middle over owned blocks.
//       bench_elementwise_cpu, 1 thread (the loaded host made 2-thread timings meaningless), fwd + bwd,
//       reference → fast: div column [2,4,1024,16]/[..,1] 0.50 → 0.11 ms, mul row [2,1024,64]·[64]
//       0.40 → 0.15, mul same shape 0.27 → 0.18, add scalar 1.66 → 0.45, row sums [8192,16] 0.46 → 0.07;
//       bias-like sum_middle [1,2048,64] 0.017 → 0.037 ms (slower, 20 µs, left). In training (1 thread,
//       L 1024) the linear transformer's div backward 1.75 → 0.38 ms, the Performer's 2.9 → 0.3 ms.
#include <algorithm>
#include <vector>

#include "ops/elementwise/binary.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lra::ops::cpu {

namespace {

// Below this many output elements a call stays on one thread (~10 us of work against a fork/join).
constexpr int64_t kParallel = 1 << 15;

// How an operand is read in the view y [R, C].
enum class Kind { Full, Row, Column, Scalar };

struct View {
  int64_t R = 1, C = 1;
  Kind a = Kind::Full, b = Kind::Full;
};

// Whether an operand with strides `st` (0 where stretched) is, over the dims [lo, hi) of y, all stretched
// (want_full false) or laid out contiguously with innermost stride `unit` (want_full true).
bool fits(const BroadcastGeometry& g, const int64_t* st, int lo, int hi, bool want_full, int64_t unit) {
  int64_t expect = unit;
  for (int d = hi - 1; d >= lo; --d) {
    if (g.out[d] == 1) continue;
    if (st[d] != (want_full ? expect : 0)) return false;
    expect *= g.out[d];
  }
  return true;
}

// The kind of an operand for the split at s, or false when it has none.
bool kind_at(const BroadcastGeometry& g, const int64_t* st, int s, int64_t C, Kind& kind) {
  constexpr int D = BroadcastGeometry::kDims;
  for (Kind k : {Kind::Full, Kind::Row, Kind::Column, Kind::Scalar}) {
    const bool lead_full = k == Kind::Full || k == Kind::Column;
    const bool trail_full = k == Kind::Full || k == Kind::Row;
    if (fits(g, st, s, D, trail_full, 1) && fits(g, st, 0, s, lead_full, trail_full ? C : 1)) {
      kind = k;
      return true;
    }
  }
  return false;
}

bool two_part_view(const BroadcastGeometry& g, View& v) {
  constexpr int D = BroadcastGeometry::kDims;
  for (int s = 0; s <= D; ++s) {
    int64_t R = 1, C = 1;
    for (int d = 0; d < s; ++d) R *= g.out[d];
    for (int d = s; d < D; ++d) C *= g.out[d];
    if (kind_at(g, g.a_stride, s, C, v.a) && kind_at(g, g.b_stride, s, C, v.b)) {
      v.R = R;
      v.C = C;
      return true;
    }
  }
  return false;
}

template <BinaryOp Op>
inline float apply(float a, float b) {
  if constexpr (Op == BinaryOp::Add) return a + b;
  else if constexpr (Op == BinaryOp::Sub) return a - b;
  else if constexpr (Op == BinaryOp::Mul) return a * b;
  else return a / b;
}

// ga = g·∂(a op b)/∂a, gb = g·∂(a op b)/∂b (binary_cpu.cpp's partials).
template <BinaryOp Op>
inline void partials(float a, float b, float g, float& ga, float& gb) {
  if constexpr (Op == BinaryOp::Add) { ga = g; gb = g; }
  else if constexpr (Op == BinaryOp::Sub) { ga = g; gb = -g; }
  else if constexpr (Op == BinaryOp::Mul) { ga = g * b; gb = g * a; }
  else { ga = g / b; gb = -g * a / (b * b); }
}

// Offset of row r's first element of an operand of kind k in the view.
inline int64_t row_offset(Kind k, int64_t r, int64_t C) {
  return k == Kind::Full ? r * C : k == Kind::Column ? r : 0;
}
inline bool unit_inner(Kind k) { return k == Kind::Full || k == Kind::Row; }

// Calls body(r, c0, c1) over the view in static pieces: rows over threads when R > 1, column ranges when
// R = 1. Each output element belongs to exactly one piece.
template <class F>
void for_pieces(int64_t R, int64_t C, F&& body) {
  const bool par = R * C >= kParallel;
  if (R > 1) {
#pragma omp parallel for schedule(static) if (par)
    for (int64_t r = 0; r < R; ++r) body(r, int64_t(0), C);
    return;
  }
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t k = 0; k < blocks; ++k) body(int64_t(0), k * kBlock, std::min(C, (k + 1) * kBlock));
}

// Inner loops: SA / SB say whether a / b advance with c (unit stride) or stay put (stride 0).
template <BinaryOp Op, bool SA, bool SB>
void forward_span(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) y[c] = apply<Op>(a[SA ? c : 0], b[SB ? c : 0]);
}

template <BinaryOp Op, bool SA, bool SB>
void backward_span(const float* __restrict a, const float* __restrict b, const float* __restrict gy,
                   float* __restrict ga, float* __restrict gb, int64_t n) {
  // Add and sub read neither operand; mul and div get both (binary.cpp keeps them).
  constexpr bool reads = Op == BinaryOp::Mul || Op == BinaryOp::Div;
  if (ga && gb) {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) partials<Op>(reads ? a[SA ? c : 0] : 0.0f, reads ? b[SB ? c : 0] : 0.0f, gy[c], ga[c], gb[c]);
  } else if (ga) {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) {
      float da, db;
      partials<Op>(reads ? a[SA ? c : 0] : 0.0f, reads ? b[SB ? c : 0] : 0.0f, gy[c], da, db);
      ga[c] = da;
    }
  } else if (gb) {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) {
      float da, db;
      partials<Op>(reads ? a[SA ? c : 0] : 0.0f, reads ? b[SB ? c : 0] : 0.0f, gy[c], da, db);
      gb[c] = db;
    }
  }
}

// Calls f.template operator()<SA, SB>() with the two strides as constants.
template <class F>
void with_strides(bool sa, bool sb, F&& f) {
  if (sa && sb) f.template operator()<true, true>();
  else if (sa) f.template operator()<true, false>();
  else if (sb) f.template operator()<false, true>();
  else f.template operator()<false, false>();
}

template <BinaryOp Op>
void forward_view(const float* a, const float* b, float* y, const View& v) {
  with_strides(unit_inner(v.a), unit_inner(v.b), [&]<bool SA, bool SB>() {
    for_pieces(v.R, v.C, [&](int64_t r, int64_t c0, int64_t c1) {
      const float* ar = a + row_offset(v.a, r, v.C) + (SA ? c0 : 0);
      const float* br = b + row_offset(v.b, r, v.C) + (SB ? c0 : 0);
      forward_span<Op, SA, SB>(ar, br, y + r * v.C + c0, c1 - c0);
    });
  });
}

template <BinaryOp Op>
void backward_view(const float* a, const float* b, const float* gy, float* ga, float* gb, const View& v) {
  // An operand that is not read (add, sub) may be nullptr: offsets are then taken from a dummy.
  static const float zero = 0.0f;
  const float* as = a ? a : &zero;
  const float* bs = b ? b : &zero;
  const bool sa = a && unit_inner(v.a), sb = b && unit_inner(v.b);
  with_strides(sa, sb, [&]<bool SA, bool SB>() {
    for_pieces(v.R, v.C, [&](int64_t r, int64_t c0, int64_t c1) {
      const float* ar = a ? as + row_offset(v.a, r, v.C) + (SA ? c0 : 0) : as;
      const float* br = b ? bs + row_offset(v.b, r, v.C) + (SB ? c0 : 0) : bs;
      const int64_t o = r * v.C + c0;
      backward_span<Op, SA, SB>(ar, br, gy + o, ga ? ga + o : nullptr, gb ? gb + o : nullptr, c1 - c0);
    });
  });
}

template <class F>
void with_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: return f.template operator()<BinaryOp::Add>();
    case BinaryOp::Sub: return f.template operator()<BinaryOp::Sub>();
    case BinaryOp::Mul: return f.template operator()<BinaryOp::Mul>();
    case BinaryOp::Div: return f.template operator()<BinaryOp::Div>();
  }
}

}  // namespace

void binary_forward_fast(BinaryOp op, const float* a, const float* b, float* y, const BroadcastGeometry& g) {
  if (g.n == 0) return;
  View v;
  if (g.same) v.C = g.n;
  const bool viewed = g.same || two_part_view(g, v);
  with_op(op, [&]<BinaryOp Op>() {
    if (viewed) {
      forward_view<Op>(a, b, y, v);
    } else {
      for_each_broadcast(g, [&](int64_t k, int64_t ia, int64_t ib) { y[k] = apply<Op>(a[ia], b[ib]); });
    }
  });
}

void binary_backward_fast(BinaryOp op, const float* a, const float* b, const float* gy, float* ga, float* gb,
                          const BroadcastGeometry& g) {
  if (g.n == 0 || (!ga && !gb)) return;
  View v;
  if (g.same) v.C = g.n;
  const bool viewed = g.same || two_part_view(g, v);
  with_op(op, [&]<BinaryOp Op>() {
    if (viewed) {
      backward_view<Op>(a, b, gy, ga, gb, v);
    } else {
      for_each_broadcast(g, [&](int64_t k, int64_t ia, int64_t ib) {
        float da = 0.0f, db = 0.0f;
        partials<Op>(a ? a[ia] : 0.0f, b ? b[ib] : 0.0f, gy[k], da, db);
        if (ga) ga[k] = da;
        if (gb) gb[k] = db;
      });
    }
  });
}

void sum_middle_fast(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return;
  const bool par = outer * n * inner >= kParallel;
  if (inner > 1) {
    // Work item (o, block of columns): the rows j in order into owned outputs (the reference's order).
    // Columns are independent, so the block width may follow the thread count without changing a bit:
    // 512, or narrower (a multiple of 16) when there are fewer items than threads (a bias [2048, 64] -> [64]).
    int64_t cols = 512;
#ifdef _OPENMP
    const int64_t threads = omp_get_max_threads();
    if (par && outer * ((inner + cols - 1) / cols) < threads)
      cols = std::max<int64_t>(16, ((inner + threads - 1) / threads + 15) / 16 * 16);
#endif
    const int64_t kCols = cols;
    const int64_t col_blocks = (inner + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t w = 0; w < outer * col_blocks; ++w) {
      const int64_t o = w / col_blocks, i0 = (w % col_blocks) * kCols, m = std::min(kCols, inner - i0);
      float* __restrict yo = y + o * inner + i0;
      for (int64_t i = 0; i < m; ++i) yo[i] = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        const float* __restrict xr = x + (o * n + j) * inner + i0;
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) yo[i] += xr[i];
      }
    }
    return;
  }
  // inner = 1: row sums, each row cut into fixed blocks; the partial sums of a row are added in order.
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = std::max<int64_t>(1, (n + kBlock - 1) / kBlock);
  std::vector<float> part(static_cast<size_t>(outer * blocks));
#pragma omp parallel for schedule(static) if (par)
  for (int64_t w = 0; w < outer * blocks; ++w) {
    const int64_t o = w / blocks, j0 = (w % blocks) * kBlock, m = std::max<int64_t>(0, std::min(kBlock, n - j0));
    const float* __restrict xr = x + o * n + j0;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < m; ++j) s += xr[j];
    part[size_t(w)] = s;
  }
  for (int64_t o = 0; o < outer; ++o) {
    float s = 0.0f;
    for (int64_t k = 0; k < blocks; ++k) s += part[size_t(o * blocks + k)];
    y[o] = s;
  }
}

}  // namespace lra::ops::cpu
