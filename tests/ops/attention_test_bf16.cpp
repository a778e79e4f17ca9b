// The bfloat16 tensor-core attention path (ops/attention/attention_bf16.*, mma_layout.h).
//
// On every machine (no GPU needed):
//   * the fragment layouts of mma_layout.h against the PTX ISA's tables for mma.m16n8k16, written
//     out again here independently (namespace ptx);
//   * a simulated warp: 32 lanes with their registers, ldmatrix.x4 (.trans) and mma.m16n8k16
//     simulated from the PTX ISA's description, running the kernels' operand paths with the lane
//     addresses of mma_layout.h over swizzled tiles — S = Q·Kᵀ, O = P·V with P re-packed from the
//     accumulators, and in the backward Sᵀ = K·Qᵀ, dV = Pᵀ·dO, dK = dSᵀ·Q and dQ = dS·K through the
//     shared dSᵀ tile — each checked exactly against a plain matmul (small integers are exact in bf16
//     and in float sums);
//   * the swizzle: a bijection, and each ldmatrix phase hits 8 distinct 16-byte bank groups;
//   * the structure helpers of attention_bf16.h against attention_pair_allowed;
//   * the errors (CPU tensors, float32 inputs, dropout, bias);
//   * the tolerance itself: the kernels' arithmetic emulated on the CPU (tiles, base-2 online softmax,
//     the same bf16 roundings) meets it, and its naive-bf16 baseline is a bf16-sized error.
// With a GPU: forward and backward against the float64 CPU reference (ops::attention on the same
// bf16-rounded values) over odd L (1, 17, 100, 257), D in {32, 64, 128} and the structural variants,
// with the tolerance derived as STYLE.md says: the worst error may be at most twice the worst error
// of a straightforward bf16 computation (every intermediate tensor stored in bf16, each op computed
// in float32, naive_bf16 below) against the same float64 reference, plus small floors for exact-zero
// baselines (expect_within_bf16_tolerance). And L = 16384 runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <stdexcept>

#include "ops/attention/attention.h"
#include "ops/attention/attention_bf16.h"
#include "ops/attention/mma_layout.h"
#include "tests/support/compare.h"
#include "tests/support/op_cases.h"

namespace lra {
namespace {

using ops::AttentionOptions;
namespace mma = ops::mma;

float round_bf16(float x) { return bf16::from_float(x).to_float(); }

// ---- the PTX ISA's fragment tables, written as the ISA states them --------------------------------

namespace ptx {
// mma.m16n8k16 with .bf16 A: a0..a7; row groupID for a0, a1, a4, a5 and groupID + 8 for a2, a3, a6, a7;
// col threadID_in_group·2 + (i & 1), plus 8 for a4..a7.
mma::Coord a(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  const int row = (i == 0 || i == 1 || i == 4 || i == 5) ? groupID : groupID + 8;
  const int col = threadID_in_group * 2 + (i & 1) + (i >= 4 ? 8 : 0);
  return {row, col};
}
// B: b0..b3; row (k) threadID_in_group·2 + (i & 1), plus 8 for b2, b3; col (n) groupID.
mma::Coord b(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  return {threadID_in_group * 2 + (i & 1) + (i >= 2 ? 8 : 0), groupID};
}
// C / D (f32): c0..c3; row groupID for c0, c1 and groupID + 8 for c2, c3; col threadID_in_group·2 + (i & 1).
mma::Coord c(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  return {i < 2 ? groupID : groupID + 8, threadID_in_group * 2 + (i & 1)};
}
}  // namespace ptx

TEST(AttentionBf16Layout, FragmentFunctionsMatchThePtxTables) {
  for (int lane = 0; lane < 32; ++lane) {
    for (int e = 0; e < 8; ++e) {
      EXPECT_EQ(mma::a_element(lane, e).row, ptx::a(lane, e).row) << "A lane " << lane << " element " << e;
      EXPECT_EQ(mma::a_element(lane, e).col, ptx::a(lane, e).col) << "A lane " << lane << " element " << e;
    }
    for (int e = 0; e < 4; ++e) {
      EXPECT_EQ(mma::b_element(lane, e).row, ptx::b(lane, e).row) << "B lane " << lane << " element " << e;
      EXPECT_EQ(mma::b_element(lane, e).col, ptx::b(lane, e).col) << "B lane " << lane << " element " << e;
      EXPECT_EQ(mma::c_element(lane, e).row, ptx::c(lane, e).row) << "C lane " << lane << " element " << e;
      EXPECT_EQ(mma::c_element(lane, e).col, ptx::c(lane, e).col) << "C lane " << lane << " element " << e;
    }
  }
  // Each table covers its matrix exactly once (a typo in either copy would show as a hole or a repeat).
  std::set<std::pair<int, int>> A, B, C;
  for (int lane = 0; lane < 32; ++lane) {
    for (int e = 0; e < 8; ++e) A.insert({ptx::a(lane, e).row, ptx::a(lane, e).col});
    for (int e = 0; e < 4; ++e) B.insert({ptx::b(lane, e).row, ptx::b(lane, e).col});
    for (int e = 0; e < 4; ++e) C.insert({ptx::c(lane, e).row, ptx::c(lane, e).col});
  }
  EXPECT_EQ(A.size(), 256u);
  EXPECT_EQ(B.size(), 128u);
  EXPECT_EQ(C.size(), 128u);
}

// ---- a simulated warp ------------------------------------------------------------------------------

using Reg = std::array<float, 2>;                     // a 32-bit register: two bf16, [0] the low half
using Regs4 = std::array<std::array<Reg, 4>, 32>;      // 4 registers per lane: one A, or two B operands
using Regs2 = std::array<std::array<Reg, 2>, 32>;      // one B operand
using Acc = std::array<std::array<float, 4>, 32>;      // one 16×8 float accumulator

Acc zero_acc() {
  Acc a{};
  for (auto& l : a) l.fill(0.0f);
  return a;
}

// A row-major matrix of small integers (exact in bf16, and their float sums are exact).
struct Matrix {
  int rows, cols;
  std::vector<float> x;
  Matrix(int r, int c) : rows(r), cols(c), x(size_t(r * c), 0.0f) {}
  float& at(int r, int c) { return x[size_t(r * cols + c)]; }
  float at(int r, int c) const { return x[size_t(r * cols + c)]; }
};
Matrix random_matrix(int rows, int cols, Generator& gen) {
  Matrix m(rows, cols);
  for (float& v : m.x) v = float(int(gen.below(7)) - 3);
  return m;
}

// Shared memory holding one swizzled tile, as the kernels' cp.async copies leave it. Unwritten
// elements are NaN, so a read of a wrong place shows.
struct Tile {
  int rows, width;
  std::vector<float> mem;
  Tile(int r, int w) : rows(r), width(w), mem(size_t(r * w), NAN) {
    if (w % 32 != 0) throw std::invalid_argument("simulated tile width must be a multiple of 32 (the swizzle's)");
  }
  explicit Tile(const Matrix& m) : Tile(m.rows, m.cols) {
    for (int r = 0; r < m.rows; ++r)
      for (int c = 0; c < m.cols; ++c) mem[size_t(mma::tile_offset(r, c, width))] = m.at(r, c);
  }
};

// ldmatrix.sync.aligned.m8n8.x4(.trans).b16 as the PTX ISA describes it: thread 8r + i supplies the
// address of row i of matrix r (8 consecutive b16, 16-byte aligned); without .trans lane l receives
// in register r elements (l/4, 2(l%4)) and (l/4, 2(l%4) + 1) of matrix r, with .trans elements
// (2(l%4), l/4) and (2(l%4) + 1, l/4).
template <class Where>
Regs4 ldmatrix_x4(const Tile& t, Where where, bool trans) {
  std::array<int, 32> addr{};
  for (int lane = 0; lane < 32; ++lane) {
    const mma::Coord rc = where(lane);
    EXPECT_TRUE(rc.row >= 0 && rc.row < t.rows && rc.col >= 0 && rc.col + 8 <= t.width && rc.col % 8 == 0)
        << "lane " << lane << " addresses (" << rc.row << ", " << rc.col << ") outside the " << t.rows << "×"
        << t.width << " tile or off a 16-byte chunk";
    addr[lane] = mma::tile_offset(std::clamp(rc.row, 0, t.rows - 1), std::clamp(rc.col, 0, t.width - 8), t.width);
  }
  Regs4 out{};
  for (int lane = 0; lane < 32; ++lane)
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h) {
        const int g = lane / 4, c = 2 * (lane % 4) + h;
        out[lane][r][h] = trans ? t.mem[size_t(addr[8 * r + c] + g)] : t.mem[size_t(addr[8 * r + g] + c)];
      }
  return out;
}

// Registers {first, first + 1} of an x4 load: one B operand.
Regs2 b_operand(const Regs4& f, int first) {
  Regs2 b{};
  for (int lane = 0; lane < 32; ++lane) b[lane] = {f[lane][first], f[lane][first + 1]};
  return b;
}

// mma.m16n8k16: the operands gathered from the lanes with the PTX tables, d = a·b + d in double.
void mma_sim(Acc& d, const Regs4& a, const Regs2& b) {
  double A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) A[ptx::a(lane, i).row][ptx::a(lane, i).col] = a[lane][i / 2][i % 2];
    for (int i = 0; i < 4; ++i) B[ptx::b(lane, i).row][ptx::b(lane, i).col] = b[lane][i / 2][i % 2];
    for (int i = 0; i < 4; ++i) C[ptx::c(lane, i).row][ptx::c(lane, i).col] = d[lane][i];
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const mma::Coord rc = ptx::c(lane, i);
      double acc = C[rc.row][rc.col];
      for (int kk = 0; kk < 16; ++kk) acc += A[rc.row][kk] * B[kk][rc.col];
      d[lane][i] = float(acc);
    }
}

// The accumulator pair (columns 0..7, 8..15 of a k-step) re-packed as an A operand, as the kernels do.
Regs4 a_from_accumulators(const Acc& first, const Acc& second) {
  Regs4 a{};
  for (int lane = 0; lane < 32; ++lane)
    for (int r = 0; r < 4; ++r) {
      const Acc& c = mma::a_from_c_tile(r) == 0 ? first : second;
      a[lane][r] = {round_bf16(c[lane][mma::a_from_c_element(r, 0)]), round_bf16(c[lane][mma::a_from_c_element(r, 1)])};
    }
  return a;
}

// Random accumulator contents (small integers), and the 16×8 matrix an accumulator holds (PTX C table).
Acc random_acc(Generator& gen) {
  Acc a{};
  for (auto& l : a)
    for (float& v : l) v = float(int(gen.below(5)) - 2);
  return a;
}
float acc_at(const Acc& a, int row, int col) {
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i)
      if (ptx::c(lane, i).row == row && ptx::c(lane, i).col == col) return a[lane][i];
  return NAN;
}

// Expects accumulator `got` to hold rows [r0, r0 + 16) × columns [c0, c0 + 8) of want.
void expect_acc(const Acc& got, const Matrix& want, int r0, int c0, const std::string& what) {
  int bad = 0;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      const float g = acc_at(got, r, c), w = want.at(r0 + r, c0 + c);
      if (!(g == w) && bad++ < 3)
        ADD_FAILURE() << what << ": element (" << r0 + r << ", " << c0 + c << ") is " << g << ", want " << w;
    }
}

Matrix matmul(const Matrix& a, const Matrix& b, bool transpose_b) {
  const int K = a.cols, N = transpose_b ? b.rows : b.cols;
  Matrix c(a.rows, N);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int kk = 0; kk < K; ++kk) acc += double(a.at(i, kk)) * (transpose_b ? b.at(j, kk) : b.at(kk, j));
      c.at(i, j) = float(acc);
    }
  return c;
}

// The forward's operand paths (attention_bf16_forward_kernel): warp `warp` of a block with MT m-tiles
// per warp; Q [64·MT][D], K and V [64][D].
void simulate_forward(int D, int MT, int warp, Generator& gen) {
  const int BM = 64 * MT, BN = 64, KS = D / 16, NT = BN / 8, DT = D / 8;
  const std::string where = "forward D " + std::to_string(D) + " MT " + std::to_string(MT) + " warp " + std::to_string(warp);
  Matrix Q = random_matrix(BM, D, gen), K = random_matrix(BN, D, gen), V = random_matrix(BN, D, gen);
  const Tile sQ(Q), sK(K), sV(V);
  std::vector<std::vector<Regs4>> qf(static_cast<size_t>(MT), std::vector<Regs4>(static_cast<size_t>(KS)));
  for (int mt = 0; mt < MT; ++mt)
    for (int ks = 0; ks < KS; ++ks)
      qf[mt][ks] = ldmatrix_x4(sQ, [&](int lane) { return mma::ldsm_a_mk(lane, (warp * MT + mt) * 16, ks * 16); }, false);
  // S = Q·Kᵀ
  std::vector<std::vector<Acc>> s(static_cast<size_t>(MT), std::vector<Acc>(static_cast<size_t>(NT), zero_acc()));
  for (int ks = 0; ks < KS; ++ks)
    for (int np = 0; np < NT / 2; ++np) {
      const Regs4 kb = ldmatrix_x4(sK, [&](int lane) { return mma::ldsm_b_nk(lane, np * 16, ks * 16); }, false);
      for (int mt = 0; mt < MT; ++mt) {
        mma_sim(s[mt][2 * np], qf[mt][ks], b_operand(kb, 0));
        mma_sim(s[mt][2 * np + 1], qf[mt][ks], b_operand(kb, 2));
      }
    }
  const Matrix S = matmul(Q, K, true);
  for (int mt = 0; mt < MT; ++mt)
    for (int nt = 0; nt < NT; ++nt) expect_acc(s[mt][nt], S, (warp * MT + mt) * 16, nt * 8, where + " S = Q·Kᵀ");
  // O = P·V with P taken from accumulators (random stand-ins for the softmax weights).
  for (int mt = 0; mt < MT; ++mt) {
    Matrix P(16, BN);
    for (int nt = 0; nt < NT; ++nt) {
      s[mt][nt] = random_acc(gen);
      for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 8; ++c) P.at(r, nt * 8 + c) = acc_at(s[mt][nt], r, c);
    }
    std::vector<Acc> o(static_cast<size_t>(DT), zero_acc());
    for (int kk = 0; kk < BN / 16; ++kk) {
      const Regs4 pa = a_from_accumulators(s[mt][2 * kk], s[mt][2 * kk + 1]);
      for (int dp = 0; dp < DT / 2; ++dp) {
        const Regs4 vb = ldmatrix_x4(sV, [&](int lane) { return mma::ldsm_b_kn_trans(lane, kk * 16, dp * 16); }, true);
        mma_sim(o[2 * dp], pa, b_operand(vb, 0));
        mma_sim(o[2 * dp + 1], pa, b_operand(vb, 2));
      }
    }
    const Matrix O = matmul(P, V, false);
    for (int dt = 0; dt < DT; ++dt) expect_acc(o[dt], O, 0, dt * 8, where + " O = P·V");
  }
}

// The backward's operand paths (attention_bf16_backward_kernel): 64 keys per block (16 per warp),
// BR queries per step.
void simulate_backward(int D, int BR, Generator& gen) {
  const int BN = 64, KS = D / 16, NT = BR / 8, DT = D / 8, RW = BR / 16, CW = 4 / RW, QT = DT / CW;
  const std::string where = "backward D " + std::to_string(D) + " BR " + std::to_string(BR);
  Matrix K = random_matrix(BN, D, gen), V = random_matrix(BN, D, gen), Q = random_matrix(BR, D, gen),
         dO = random_matrix(BR, D, gen);
  const Tile sK(K), sV(V), sQ(Q), sdO(dO);
  const Matrix St = matmul(K, Q, true), dPt = matmul(V, dO, true);
  Tile sdS(BN, BR);
  Matrix dSt(BN, BR);  // what the 4 warps store, [key][query]
  for (int warp = 0; warp < 4; ++warp) {
    const std::string w = where + " warp " + std::to_string(warp);
    std::vector<Acc> s(static_cast<size_t>(NT), zero_acc()), dp(static_cast<size_t>(NT), zero_acc());
    for (int ks = 0; ks < KS; ++ks) {
      const Regs4 ka = ldmatrix_x4(sK, [&](int lane) { return mma::ldsm_a_mk(lane, warp * 16, ks * 16); }, false);
      const Regs4 va = ldmatrix_x4(sV, [&](int lane) { return mma::ldsm_a_mk(lane, warp * 16, ks * 16); }, false);
      for (int np = 0; np < NT / 2; ++np) {
        const Regs4 qb = ldmatrix_x4(sQ, [&](int lane) { return mma::ldsm_b_nk(lane, np * 16, ks * 16); }, false);
        const Regs4 ob = ldmatrix_x4(sdO, [&](int lane) { return mma::ldsm_b_nk(lane, np * 16, ks * 16); }, false);
        mma_sim(s[2 * np], ka, b_operand(qb, 0));
        mma_sim(s[2 * np + 1], ka, b_operand(qb, 2));
        mma_sim(dp[2 * np], va, b_operand(ob, 0));
        mma_sim(dp[2 * np + 1], va, b_operand(ob, 2));
      }
    }
    for (int nt = 0; nt < NT; ++nt) {
      expect_acc(s[nt], St, warp * 16, nt * 8, w + " Sᵀ = K·Qᵀ");
      expect_acc(dp[nt], dPt, warp * 16, nt * 8, w + " dPᵀ = V·dOᵀ");
    }
    // dV = Pᵀ·dO and dK = dSᵀ·Q from accumulators (random stand-ins for Pᵀ and dSᵀ).
    Matrix Pt(16, BR), Gt(16, BR);
    for (int nt = 0; nt < NT; ++nt) {
      s[nt] = random_acc(gen);
      dp[nt] = random_acc(gen);
      for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 8; ++c) {
          Pt.at(r, nt * 8 + c) = acc_at(s[nt], r, c);
          Gt.at(r, nt * 8 + c) = dSt.at(warp * 16 + r, nt * 8 + c) = acc_at(dp[nt], r, c);
        }
    }
    std::vector<Acc> dv(static_cast<size_t>(DT), zero_acc()), dk(static_cast<size_t>(DT), zero_acc());
    for (int kk = 0; kk < BR / 16; ++kk) {
      const Regs4 pa = a_from_accumulators(s[2 * kk], s[2 * kk + 1]);
      const Regs4 da = a_from_accumulators(dp[2 * kk], dp[2 * kk + 1]);
      for (int np = 0; np < DT / 2; ++np) {
        const Regs4 ob = ldmatrix_x4(sdO, [&](int lane) { return mma::ldsm_b_kn_trans(lane, kk * 16, np * 16); }, true);
        const Regs4 qb = ldmatrix_x4(sQ, [&](int lane) { return mma::ldsm_b_kn_trans(lane, kk * 16, np * 16); }, true);
        mma_sim(dv[2 * np], pa, b_operand(ob, 0));
        mma_sim(dv[2 * np + 1], pa, b_operand(ob, 2));
        mma_sim(dk[2 * np], da, b_operand(qb, 0));
        mma_sim(dk[2 * np + 1], da, b_operand(qb, 2));
      }
    }
    const Matrix dV = matmul(Pt, dO, false), dK = matmul(Gt, Q, false);
    for (int dt = 0; dt < DT; ++dt) {
      expect_acc(dv[dt], dV, 0, dt * 8, w + " dV = Pᵀ·dO");
      expect_acc(dk[dt], dK, 0, dt * 8, w + " dK = dSᵀ·Q");
    }
    // The kernel's 32-bit stores of dSᵀ pairs into the swizzled [key][query] tile.
    for (int lane = 0; lane < 32; ++lane)
      for (int nt = 0; nt < NT; ++nt)
        for (int hr = 0; hr < 2; ++hr) {
          const mma::Coord rc = mma::c_element(lane, 2 * hr);
          const int off = mma::tile_offset(warp * 16 + rc.row, nt * 8 + rc.col, BR);
          sdS.mem[size_t(off)] = dp[nt][lane][2 * hr];
          sdS.mem[size_t(off + 1)] = dp[nt][lane][2 * hr + 1];
        }
  }
  // dQ = dS·K: warp (rb, cg) takes rows [16 rb, +16) and columns [8·QT·cg, +8·QT).
  Matrix dS(BR, BN);
  for (int i = 0; i < BR; ++i)
    for (int j = 0; j < BN; ++j) dS.at(i, j) = dSt.at(j, i);
  const Matrix dQ = matmul(dS, K, false);
  for (int warp = 0; warp < 4; ++warp) {
    const int rb = warp % RW, cg = warp / RW;
    std::vector<Acc> dq(static_cast<size_t>(QT), zero_acc());
    for (int kk = 0; kk < BN / 16; ++kk) {
      const Regs4 sa = ldmatrix_x4(sdS, [&](int lane) { return mma::ldsm_a_km_trans(lane, rb * 16, kk * 16); }, true);
      for (int np = 0; np < QT / 2; ++np) {
        const Regs4 kb =
            ldmatrix_x4(sK, [&](int lane) { return mma::ldsm_b_kn_trans(lane, kk * 16, cg * QT * 8 + np * 16); }, true);
        mma_sim(dq[2 * np], sa, b_operand(kb, 0));
        mma_sim(dq[2 * np + 1], sa, b_operand(kb, 2));
      }
    }
    for (int nt = 0; nt < QT; ++nt)
      expect_acc(dq[nt], dQ, rb * 16, cg * QT * 8 + nt * 8, where + " warp " + std::to_string(warp) + " dQ = dS·K");
  }
}

TEST(AttentionBf16Layout, SimulatedWarpForwardMatchesMatmul) {
  Generator gen(31);
  for (int D : {32, 64, 128})
    for (int MT : {1, 2})
      for (int warp : {0, 3}) simulate_forward(D, MT, warp, gen);
}

TEST(AttentionBf16Layout, SimulatedWarpBackwardMatchesMatmul) {
  Generator gen(32);
  for (int D : {32, 64, 128})
    for (int BR : {32, 64}) simulate_backward(D, BR, gen);
}

// The simulation must be able to fail: a B operand read without .trans where the kernel uses .trans
// (V as if it were stored [d][key]) gives a wrong O.
TEST(AttentionBf16Layout, SimulationCatchesAWrongLoad) {
  Generator gen(33);
  Matrix P(16, 16), V = random_matrix(16, 32, gen);
  Acc lo = random_acc(gen), hi = random_acc(gen);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      P.at(r, c) = acc_at(lo, r, c);
      P.at(r, 8 + c) = acc_at(hi, r, c);
    }
  const Tile sV(V);
  const Regs4 wrong = ldmatrix_x4(sV, [](int lane) { return mma::ldsm_b_kn_trans(lane, 0, 0); }, false);
  Acc o = zero_acc();
  mma_sim(o, a_from_accumulators(lo, hi), b_operand(wrong, 0));
  const Matrix O = matmul(P, V, false);
  int differ = 0;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) differ += acc_at(o, r, c) != O.at(r, c);
  EXPECT_GT(differ, 0);
}

// Every tile element has one place, and the 8 rows of one ldmatrix phase fall in 8 distinct 16-byte
// bank groups (address / 16 mod 8) for every operand path the kernels use (tile bases are multiples
// of 128 bytes).
TEST(AttentionBf16Layout, SwizzleIsABijectionAndConflictFree) {
  for (int width : {32, 64, 128}) {
    const int rows = 64;
    std::set<int> seen;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < width; ++c) {
        const int off = mma::tile_offset(r, c, width);
        EXPECT_TRUE(off >= 0 && off < rows * width) << "width " << width << " (" << r << ", " << c << ")";
        seen.insert(off);
      }
    EXPECT_EQ(int(seen.size()), rows * width) << "width " << width;

    using Fn = mma::Coord (*)(int, int, int);
    const std::pair<const char*, Fn> paths[] = {{"ldsm_a_mk", mma::ldsm_a_mk},
                                                {"ldsm_a_km_trans", mma::ldsm_a_km_trans},
                                                {"ldsm_b_nk", mma::ldsm_b_nk},
                                                {"ldsm_b_kn_trans", mma::ldsm_b_kn_trans}};
    for (const auto& [name, fn] : paths)
      for (int x0 = 0; x0 + 16 <= rows && x0 + 16 <= width; x0 += 16)
        for (int y0 = 0; y0 + 16 <= rows && y0 + 16 <= width; y0 += 16)
          for (int m = 0; m < 4; ++m) {
            std::set<int> groups;
            for (int i = 0; i < 8; ++i) {
              const mma::Coord rc = fn(8 * m + i, x0, y0);
              groups.insert((2 * mma::tile_offset(rc.row, rc.col, width) / 16) % 8);
            }
            EXPECT_EQ(groups.size(), 8u) << name << " width " << width << " at (" << x0 << ", " << y0 << ") matrix " << m;
          }
  }
}

// ---- structure helpers -------------------------------------------------------------------------------

TEST(AttentionBf16Structure, HelpersAgreeWithPairAllowed) {
  const int64_t L = 37;
  for (bool causal : {false, true})
    for (int64_t chunk : {0, 1, 4, 7, 16})
      for (int64_t window : {0, 1, 2}) {
        if (window > 0 && chunk == 0) continue;
        const std::string what = std::string(causal ? "causal" : "full") + " chunk " + std::to_string(chunk) +
                                 " window " + std::to_string(window);
        for (int64_t i = 0; i < L; ++i) {
          int64_t kb, ke, qb, qe;
          ops::attention_allowed_keys(causal, chunk, window, i, &kb, &ke);
          ops::attention_allowed_queries(causal, chunk, window, i, &qb, &qe);
          for (int64_t j = 0; j < L; ++j) {
            ASSERT_EQ(j >= kb && j < ke, ops::attention_pair_allowed(causal, chunk, window, i, j))
                << what << " keys of query " << i << ", key " << j;
            ASSERT_EQ(j >= qb && j < qe, ops::attention_pair_allowed(causal, chunk, window, j, i))
                << what << " queries of key " << i << ", query " << j;
          }
        }
        // A tile reported whole has every pair allowed; the diagonal tiles of a causal mask are not whole.
        for (int64_t i0 = 0; i0 < L; i0 += 3)
          for (int64_t i1 = i0 + 1; i1 <= L; i1 += 5)
            for (int64_t j0 = 0; j0 < L; j0 += 2)
              for (int64_t j1 = j0 + 1; j1 <= L; j1 += 7) {
                if (!ops::attention_tile_all_allowed(causal, chunk, window, i0, i1, j0, j1)) continue;
                for (int64_t i = i0; i < i1; ++i)
                  for (int64_t j = j0; j < j1; ++j)
                    ASSERT_TRUE(ops::attention_pair_allowed(causal, chunk, window, i, j))
                        << what << ": tile [" << i0 << ", " << i1 << ") × [" << j0 << ", " << j1 << ") has ("
                        << i << ", " << j
                        << ") excluded";
              }
      }
  EXPECT_FALSE(ops::attention_tile_all_allowed(true, 0, 0, 0, 64, 0, 64));
  EXPECT_TRUE(ops::attention_tile_all_allowed(true, 0, 0, 64, 128, 0, 64));
  EXPECT_TRUE(ops::attention_tile_all_allowed(false, 64, 0, 0, 64, 0, 64));
  EXPECT_FALSE(ops::attention_tile_all_allowed(false, 64, 0, 0, 64, 32, 96));
}

// ---- errors ----------------------------------------------------------------------------------------

Tensor bf16_tensor(const Shape& s, Generator& gen, double lo = -1, double hi = 1) {
  std::vector<double> x = test::random_input(s, gen, lo, hi).to_vector<double>();
  std::vector<bf16> b;
  b.reserve(x.size());
  for (double v : x) b.push_back(bf16::from_float(float(v)));
  return Tensor::from_vector(b, s);
}

TEST(AttentionBf16, ErrorsNameWhatIsUnsupported) {
  Generator gen(34);
  const Shape s{1, 2, 8, 64};
  Tensor q = bf16_tensor(s, gen);
  std::string m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), AttentionOptions()); });
  EXPECT_NE(m.find("CUDA"), std::string::npos) << m;
  EXPECT_NE(m.find("cpu"), std::string::npos) << m;
  Tensor f = Tensor::zeros(s);
  m = test::error_of([&] { ops::attention_bf16(f, f, f, Tensor(), AttentionOptions()); });
  EXPECT_NE(m.find("q must be bfloat16"), std::string::npos) << m;
  AttentionOptions drop;
  drop.dropout = 0.1;
  m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), drop); });
  EXPECT_NE(m.find("dropout"), std::string::npos) << m;
  m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), AttentionOptions(), Tensor::zeros({2, 8, 8})); });
  EXPECT_NE(m.find("bias"), std::string::npos) << m;
  AttentionOptions band;
  band.band = true;
  band.band_right = 3;
  m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), band); });
  EXPECT_NE(m.find("token band and the fixed (Sparse Transformer) pattern are not supported"), std::string::npos) << m;
  AttentionOptions fixed;
  fixed.fixed_block = 5;
  fixed.fixed_global_first = true;
  m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), fixed); });
  EXPECT_NE(m.find("fixed_block = 5"), std::string::npos) << m;
  Tensor k = bf16_tensor({1, 2, 9, 64}, gen);
  m = test::error_of([&] { ops::attention_bf16(q, k, q, Tensor(), AttentionOptions()); });
  EXPECT_NE(m.find("same shape"), std::string::npos) << m;
}

// ---- GPU: against the float64 reference, tolerance from a straightforward bf16 computation -------------

struct Result {
  std::vector<double> out, dq, dk, dv;
};

// The straightforward bf16 computation the tolerance is derived from: every intermediate tensor (S,
// P, O, dP, dS, dS·f, and the gradients) rounded to bf16, each op evaluated in float32 from bf16
// values. Same semantics as attention.h (no bias, no dropout).
Result naive_bf16(const Shape& s, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                  const std::vector<float>& w, const Tensor& mask, const AttentionOptions& o) {
  const int64_t B = s[0], H = s[1], L = s[2], D = s[3];
  const float scale = float(o.scale != 0 ? o.scale : 1.0 / std::sqrt(double(D)));
  const int32_t* km = mask.defined() ? mask.data<int32_t>() : nullptr;
  Result r;
  for (auto* t : {&r.out, &r.dq, &r.dk, &r.dv}) t->assign(size_t(B * H * L * D), 0.0);
  const size_t LL = static_cast<size_t>(L * L);
  std::vector<float> S(LL), F(LL), P(LL), G(LL);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t off = (b * H + h) * L * D;
      auto in = [&](int64_t i, int64_t j) {
        return ops::attention_pair_allowed(o.causal, o.chunk, o.window, i, j) && (!km || km[b * L + j] != 0);
      };
      for (int64_t i = 0; i < L; ++i) {
        for (int64_t j = 0; j < L; ++j) {
          float f = scale;
          if (!o.alpha.empty()) f *= std::exp(-o.alpha[size_t(h)] * float(std::abs(i - j)));
          float qk = 0;
          for (int64_t c = 0; c < D; ++c) qk += q[size_t(off + i * D + c)] * k[size_t(off + j * D + c)];
          F[size_t(i * L + j)] = f;
          S[size_t(i * L + j)] = round_bf16(qk * f);
        }
        float m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < L; ++j)
          if (in(i, j)) m = std::max(m, S[size_t(i * L + j)]);
        for (int64_t j = 0; j < L; ++j) sum += in(i, j) ? std::exp(S[size_t(i * L + j)] - m) : 0.0f;
        for (int64_t j = 0; j < L; ++j)
          P[size_t(i * L + j)] = in(i, j) && sum > 0 ? round_bf16(std::exp(S[size_t(i * L + j)] - m) / sum) : 0.0f;
        // dP = dout·vᵀ, dS = P ⊙ (dP − Σ_j P dP), G = dS ⊙ f
        float dot = 0;
        std::vector<float> dP(static_cast<size_t>(L));
        for (int64_t j = 0; j < L; ++j) {
          float acc = 0;
          for (int64_t c = 0; c < D; ++c) acc += w[size_t(off + i * D + c)] * v[size_t(off + j * D + c)];
          dP[size_t(j)] = round_bf16(acc);
          dot += P[size_t(i * L + j)] * dP[size_t(j)];
        }
        for (int64_t j = 0; j < L; ++j) {
          const float ds = round_bf16(P[size_t(i * L + j)] * (dP[size_t(j)] - dot));
          G[size_t(i * L + j)] = round_bf16(ds * F[size_t(i * L + j)]);
        }
      }
      for (int64_t i = 0; i < L; ++i)
        for (int64_t c = 0; c < D; ++c) {
          float o_ = 0, dq = 0, dk = 0, dv = 0;
          for (int64_t j = 0; j < L; ++j) {
            o_ += P[size_t(i * L + j)] * v[size_t(off + j * D + c)];
            dq += G[size_t(i * L + j)] * k[size_t(off + j * D + c)];
            dk += G[size_t(j * L + i)] * q[size_t(off + j * D + c)];
            dv += P[size_t(j * L + i)] * w[size_t(off + j * D + c)];
          }
          const size_t at = size_t(off + i * D + c);
          r.out[at] = round_bf16(o_);
          r.dq[at] = round_bf16(dq);
          r.dk[at] = round_bf16(dk);
          r.dv[at] = round_bf16(dv);
        }
    }
  return r;
}

std::vector<float> bf16_values(const Shape& s, Generator& gen, double lo, double hi) {
  std::vector<double> x = test::random_input(s, gen, lo, hi).to_vector<double>();
  std::vector<float> out;
  out.reserve(x.size());
  for (double v : x) out.push_back(round_bf16(float(v)));
  return out;
}
Tensor as_bf16(const std::vector<float>& x, const Shape& s) {
  std::vector<bf16> b;
  b.reserve(x.size());
  for (float v : x) b.push_back(bf16::from_float(v));
  return Tensor::from_vector(b, s);
}
Tensor as_f64(const std::vector<float>& x, const Shape& s) {
  return Tensor::from_vector(std::vector<double>(x.begin(), x.end()), s);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::isnan(a[i] - b[i]) ? INFINITY : std::fabs(a[i] - b[i]));
  return m;
}
double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double x : a) m = std::max(m, std::fabs(x));
  return m;
}

// err(kernel) <= 2·err(naive bf16) + 2^-12·max|ref| + 2^-20·problem_scale, all against the float64
// reference. The 2^-12 term is an eighth of a bf16 half-ulp, so an exact-zero baseline does not demand
// bit equality; the 2^-20 term (problem_scale: the largest reference value of the whole problem) is
// float32 summation noise, for a tensor whose reference is exactly 0 (dq and dk at L = 1: the kernel's
// dP and delta are the same dot product summed in two orders).
void expect_within_bf16_tolerance(const std::vector<double>& got, const std::vector<double>& naive,
                                  const std::vector<double>& ref, const std::string& what, double problem_scale) {
  const double err = max_abs_diff(got, ref), baseline = max_abs_diff(naive, ref);
  const double allowed = 2 * baseline + std::ldexp(max_abs(ref), -12) + std::ldexp(problem_scale, -20);
  EXPECT_LE(err, allowed) << what << ": worst error " << err << " vs the float64 reference; a straightforward bf16 "
                          << "computation's worst error is " << baseline << " (allowed " << allowed
                          << ": twice that + 2^-12·" << max_abs(ref) << " + 2^-20·" << problem_scale << ")";
}

struct Variant {
  const char* name;
  AttentionOptions o;
  bool mask;
};

AttentionOptions opts(bool causal, int64_t chunk = 0, int window = 0, std::vector<float> alpha = {}) {
  AttentionOptions o;
  o.causal = causal;
  o.chunk = chunk;
  o.window = window;
  o.alpha = std::move(alpha);
  return o;
}

// One case's inputs (bf16 values, held as floats), its float64 reference and its naive-bf16 baseline.
struct Problem {
  Shape s;
  std::vector<float> q, k, v, w;
  Tensor mask;
  Result ref, naive;
};

Problem make_problem(const Shape& s, const Variant& var, Generator& gen) {
  Problem p;
  p.s = s;
  // q and k in [-2, 2]: logits of order 1 after the 1/sqrt(D) scale, a softmax far from uniform.
  p.q = bf16_values(s, gen, -2, 2);
  p.k = bf16_values(s, gen, -2, 2);
  p.v = bf16_values(s, gen, -1, 1);
  p.w = bf16_values(s, gen, -1, 1);
  // About 1/3 padding; with B > 1 the last batch row is fully masked (no included key anywhere).
  if (var.mask) p.mask = test::padding_mask(s[0], s[2], gen, s[0] > 1 ? s[0] - 1 : -1);
  Tensor tq = as_f64(p.q, s), tk = as_f64(p.k, s), tv = as_f64(p.v, s);
  for (Tensor* t : {&tq, &tk, &tv}) t->requires_grad_();
  Tensor out = ops::attention(tq, tk, tv, p.mask, var.o);
  out.backward(as_f64(p.w, s));
  p.ref = {out.to_vector<double>(), tq.grad().to_vector<double>(), tk.grad().to_vector<double>(),
           tv.grad().to_vector<double>()};
  p.naive = naive_bf16(s, p.q, p.k, p.v, p.w, p.mask, var.o);
  return p;
}

void expect_all_within_bf16_tolerance(const Result& got, const Problem& p, const std::string& what) {
  const double scale = std::max({max_abs(p.ref.out), max_abs(p.ref.dq), max_abs(p.ref.dk), max_abs(p.ref.dv)});
  expect_within_bf16_tolerance(got.out, p.naive.out, p.ref.out, what + " out", scale);
  expect_within_bf16_tolerance(got.dq, p.naive.dq, p.ref.dq, what + " dq", scale);
  expect_within_bf16_tolerance(got.dk, p.naive.dk, p.ref.dk, what + " dk", scale);
  expect_within_bf16_tolerance(got.dv, p.naive.dv, p.ref.dv, what + " dv", scale);
}

void check_against_reference(const Shape& s, const Variant& var, Generator& gen) {
  const int64_t B = s[0], L = s[2], D = s[3];
  const Problem pr = make_problem(s, var, gen);
  const std::vector<float>&q = pr.q, &k = pr.k, &w = pr.w, &v = pr.v;
  const Tensor& mask = pr.mask;
  const std::string what = std::string(var.name) + " " + s.to_string();
  Result gpu;
  {
    Tensor tq = as_bf16(q, s).to(Device::CUDA), tk = as_bf16(k, s).to(Device::CUDA), tv = as_bf16(v, s).to(Device::CUDA);
    for (Tensor* t : {&tq, &tk, &tv}) t->requires_grad_();
    Tensor out = ops::attention_bf16(tq, tk, tv, mask.defined() ? mask.to(Device::CUDA) : Tensor(), var.o);
    ASSERT_EQ(out.dtype(), DType::BF16) << what;
    out.backward(as_bf16(w, s).to(Device::CUDA));
    for (Tensor* t : {&tq, &tk, &tv}) ASSERT_EQ(t->grad().dtype(), DType::BF16) << what;
    gpu = {out.to_vector<double>(), tq.grad().to_vector<double>(), tk.grad().to_vector<double>(),
           tv.grad().to_vector<double>()};
  }
  expect_all_within_bf16_tolerance(gpu, pr, what);
  if (var.mask && B > 1) {  // the last batch row is fully masked: exactly zero output and gradients there
    const size_t first = size_t((B - 1) * s[1] * L * D);
    for (const auto* t : {&gpu.out, &gpu.dq, &gpu.dk, &gpu.dv})
      for (size_t e = first; e < t->size(); ++e)
        if ((*t)[e] != 0.0) {
          ADD_FAILURE() << what << ": fully masked batch row has a nonzero value " << (*t)[e] << " at " << e;
          break;
        }
  }
}

const Variant kVariants[] = {
    {"full", opts(false), false},
    {"causal", opts(true), false},
    {"key mask", opts(false), true},
    {"chunk 16 window 1 causal key mask", opts(true, 16, 1), true},
    {"chunk 50", opts(false, 50), false},
    {"LaS causal", opts(true, 0, 0, {0.0f, 0.05f, 0.6f}), false},
    {"LaS-chunk 16 key mask", opts(false, 16, 0, {0.0f, 0.05f, 0.6f}), true},
};

// The kernels' arithmetic on the CPU (not their data movement): float logits from bf16 inputs in
// base 2, online softmax over the key tiles of 64 the forward kernel visits, P rounded to bf16 before
// P·V, out rounded to bf16 and lse kept; the backward with delta = dout·out(bf16), P = 2^(x − lse·log2 e),
// dS·decay rounded to bf16, P rounded to bf16 for dV, float accumulators and the scale applied at the
// end. It shows the tolerance above is met by FlashAttention-2 numerics, and the baseline is sane.
Result emulate_kernels(const Problem& pr, const AttentionOptions& o) {
  const int64_t B = pr.s[0], H = pr.s[1], L = pr.s[2], D = pr.s[3];
  const double scale = o.scale != 0 ? o.scale : 1.0 / std::sqrt(double(D));
  const float scale_log2 = float(scale * 1.4426950408889634), log2e = 1.4426950408889634f;
  const int64_t BM = D <= 64 ? 128 : 64;  // the forward's query rows per block (the tile grid of keys)
  const int32_t* km = pr.mask.defined() ? pr.mask.data<int32_t>() : nullptr;
  Result r;
  for (auto* t : {&r.out, &r.dq, &r.dk, &r.dv}) t->assign(size_t(B * H * L * D), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const size_t off = size_t((b * H + h) * L * D);
      const float a2 = o.alpha.empty() ? 0.0f : float(double(o.alpha[size_t(h)]) * 1.4426950408889634);
      auto logit = [&](int64_t i, int64_t j, float* decay) {  // base 2, −inf when excluded
        float qk = 0;
        for (int64_t c = 0; c < D; ++c) qk += pr.q[off + size_t(i * D + c)] * pr.k[off + size_t(j * D + c)];
        *decay = a2 != 0.0f ? std::exp2(-a2 * float(std::abs(i - j))) : 1.0f;
        const bool in = ops::attention_pair_allowed(o.causal, o.chunk, o.window, i, j) && (!km || km[b * L + j] != 0);
        return in ? qk * scale_log2 * *decay : -INFINITY;
      };
      std::vector<float> lse(static_cast<size_t>(L)), out(static_cast<size_t>(L * D));
      for (int64_t i = 0; i < L; ++i) {
        const int64_t i0 = i / BM * BM;
        int64_t jb, je;
        ops::attention_key_range(o.causal, o.chunk, o.window, L, i0, std::min(i0 + BM, L), &jb, &je);
        float m = -INFINITY, l = 0;
        std::vector<float> acc(static_cast<size_t>(D), 0.0f);
        for (int64_t j0 = jb; j0 < je; j0 += 64) {
          std::vector<float> x;
          float mx = -INFINITY, decay;
          for (int64_t j = j0; j < j0 + 64 && j < L; ++j) {
            x.push_back(logit(i, j, &decay));
            mx = std::max(mx, x.back());
          }
          const float m_new = std::max(m, mx), m_use = m_new == -INFINITY ? 0.0f : m_new;
          const float corr = std::exp2(m - m_use);
          m = m_new;
          l *= corr;
          for (float& a : acc) a *= corr;
          for (size_t jj = 0; jj < x.size(); ++jj) {
            const float pe = std::exp2(x[jj] - m_use);
            l += pe;
            for (int64_t c = 0; c < D; ++c) acc[size_t(c)] += round_bf16(pe) * pr.v[off + size_t((j0 + int64_t(jj)) * D + c)];
          }
        }
        const bool empty = m == -INFINITY;
        for (int64_t c = 0; c < D; ++c) out[size_t(i * D + c)] = round_bf16(empty ? 0.0f : acc[size_t(c)] / l);
        lse[size_t(i)] = empty ? INFINITY : (m + std::log2(l)) * 0.6931471805599453f;
      }
      const size_t LD = static_cast<size_t>(L * D);
      std::vector<float> dq(LD, 0.0f), dk(LD, 0.0f), dv(LD, 0.0f);
      for (int64_t i = 0; i < L; ++i) {
        float delta = 0;
        for (int64_t c = 0; c < D; ++c) delta += pr.w[off + size_t(i * D + c)] * out[size_t(i * D + c)];
        for (int64_t j = 0; j < L; ++j) {
          float decay;
          const float pe = std::exp2(logit(i, j, &decay) - lse[size_t(i)] * log2e);
          float dp = 0;
          for (int64_t c = 0; c < D; ++c) dp += pr.w[off + size_t(i * D + c)] * pr.v[off + size_t(j * D + c)];
          const float g = round_bf16(pe * (dp - delta) * decay), pb = round_bf16(pe);
          for (int64_t c = 0; c < D; ++c) {
            dq[size_t(i * D + c)] += g * pr.k[off + size_t(j * D + c)];
            dk[size_t(j * D + c)] += g * pr.q[off + size_t(i * D + c)];
            dv[size_t(j * D + c)] += pb * pr.w[off + size_t(i * D + c)];
          }
        }
      }
      for (size_t e = 0; e < size_t(L * D); ++e) {
        r.out[off + e] = out[e];
        r.dq[off + e] = round_bf16(dq[e] * float(scale));
        r.dk[off + e] = round_bf16(dk[e] * float(scale));
        r.dv[off + e] = round_bf16(dv[e]);
      }
    }
  return r;
}

// Runs on the CPU: the emulated kernel arithmetic meets the GPU test's tolerance, and the naive-bf16
// baseline that tolerance is derived from is a bf16-sized error, not a semantic mismatch (which would
// make the GPU test vacuous).
TEST(AttentionBf16Tolerance, KernelArithmeticMeetsTheDerivedTolerance) {
  Generator gen(39);
  for (int64_t L : {1, 17, 100})
    for (int64_t D : {32, 64})
      for (const Variant& var : kVariants) {
        const Shape s{2, 3, L, D};
        const Problem pr = make_problem(s, var, gen);
        const std::string what = std::string("emulated ") + var.name + " " + s.to_string();
        expect_all_within_bf16_tolerance(emulate_kernels(pr, var.o), pr, what);
        const std::pair<const char*, const std::vector<double>*> parts[] = {
            {"out", &pr.ref.out}, {"dq", &pr.ref.dq}, {"dk", &pr.ref.dk}, {"dv", &pr.ref.dv}};
        const std::vector<double>* naive[] = {&pr.naive.out, &pr.naive.dq, &pr.naive.dk, &pr.naive.dv};
        for (int n = 0; n < 4; ++n)  // a few bf16 ulps of the largest value at most
          EXPECT_LE(max_abs_diff(*naive[n], *parts[n].second), std::ldexp(max_abs(*parts[n].second), -5))
              << what << " naive-bf16 baseline of " << parts[n].first;
      }
}

TEST(AttentionBf16Cuda, MatchesFloat64ReferenceOverOddShapes) {
  LRA_REQUIRE_CUDA();
  Generator gen(35);
  for (int64_t L : {1, 17, 100, 257})
    for (int64_t D : {32, 64, 128})
      for (const Variant& v : kVariants) check_against_reference({2, 3, L, D}, v, gen);
}

TEST(AttentionBf16Cuda, RealisticLraShape) {
  LRA_REQUIRE_CUDA();
  Generator gen(36);
  check_against_reference({2, 2, 1024, 64}, {"full key mask", opts(false), true}, gen);
  check_against_reference({1, 2, 1024, 64}, {"causal", opts(true), false}, gen);
  check_against_reference({2, 4, 1024, 64}, {"LaS-chunk 128", opts(false, 128, 0, {0.0f, 0.01f, 0.1f, 1.0f}), true},
                          gen);
}

TEST(AttentionBf16Cuda, UnsupportedHeadDimIsAClearError) {
  LRA_REQUIRE_CUDA();
  Generator gen(37);
  Tensor q = bf16_tensor({1, 1, 8, 48}, gen).to(Device::CUDA);
  std::string m = test::error_of([&] { ops::attention_bf16(q, q, q, Tensor(), AttentionOptions()); });
  EXPECT_NE(m.find("head dims 32, 64 and 128, got D = 48"), std::string::npos) << m;
}

// L = 16384 (B = 1, H = 2, D = 64): runs forward and backward; a few rows of out and dq against
// float64 (and the naive-bf16 baseline) computed row by row; for every column d the exact identities
// Σ_j dv_j = Σ_i dout_i (each row's weights sum to 1) and Σ_j dk_j = 0 (each row's dS sums to 0).
TEST(AttentionBf16Cuda, LongSequenceRuns) {
  LRA_REQUIRE_CUDA();
  Generator gen(38);
  const int64_t H = 2, L = 16384, D = 64;
  const Shape s{1, H, L, D};
  const std::vector<float> q = bf16_values(s, gen, -2, 2), k = bf16_values(s, gen, -2, 2), v = bf16_values(s, gen, -1, 1),
                           w = bf16_values(s, gen, -1, 1);
  Tensor tq = as_bf16(q, s).to(Device::CUDA), tk = as_bf16(k, s).to(Device::CUDA), tv = as_bf16(v, s).to(Device::CUDA);
  for (Tensor* t : {&tq, &tk, &tv}) t->requires_grad_();
  Tensor out = ops::attention_bf16(tq, tk, tv, Tensor(), AttentionOptions());
  out.backward(as_bf16(w, s).to(Device::CUDA));
  const std::vector<double> o = out.to_vector<double>(), dq = tq.grad().to_vector<double>(),
                            dk = tk.grad().to_vector<double>(), dv = tv.grad().to_vector<double>();
  for (const auto* t : {&o, &dq, &dk, &dv})
    for (double x : *t) ASSERT_TRUE(std::isfinite(x)) << "non-finite value at L = 16384";

  const double scale = 1.0 / std::sqrt(double(D));
  for (int64_t h = 0; h < H; ++h) {
    const size_t off = size_t(h * L * D);
    for (int64_t i : {int64_t(0), int64_t(1), L / 2 + 3, L - 1}) {
      // Row i in float64 (exact) and as the straightforward bf16 computation does it (naive).
      std::vector<double> sx(static_cast<size_t>(L)), px(static_cast<size_t>(L)), dpx(static_cast<size_t>(L));
      std::vector<float> sn(static_cast<size_t>(L)), pn(static_cast<size_t>(L)), dpn(static_cast<size_t>(L));
      double mx = -INFINITY, mn = -INFINITY;
      for (int64_t j = 0; j < L; ++j) {
        double acc = 0, dacc = 0;
        float facc = 0, fdacc = 0;
        for (int64_t c = 0; c < D; ++c) {
          acc += double(q[off + i * D + c]) * k[off + j * D + c];
          dacc += double(w[off + i * D + c]) * v[off + j * D + c];
          facc += q[off + i * D + c] * k[off + j * D + c];
          fdacc += w[off + i * D + c] * v[off + j * D + c];
        }
        sx[size_t(j)] = acc * scale;
        sn[size_t(j)] = round_bf16(facc * float(scale));
        dpx[size_t(j)] = dacc;
        dpn[size_t(j)] = round_bf16(fdacc);
        mx = std::max(mx, sx[size_t(j)]);
        mn = std::max(mn, double(sn[size_t(j)]));
      }
      double sumx = 0;
      float sumn = 0;
      for (int64_t j = 0; j < L; ++j) {
        sumx += std::exp(sx[size_t(j)] - mx);
        sumn += std::exp(sn[size_t(j)] - float(mn));
      }
      double deltax = 0;
      float deltan = 0;
      for (int64_t j = 0; j < L; ++j) {
        px[size_t(j)] = std::exp(sx[size_t(j)] - mx) / sumx;
        pn[size_t(j)] = round_bf16(std::exp(sn[size_t(j)] - float(mn)) / sumn);
        deltax += px[size_t(j)] * dpx[size_t(j)];
        deltan += pn[size_t(j)] * dpn[size_t(j)];
      }
      const size_t nD = static_cast<size_t>(D);
      std::vector<double> ox(nD), on(nD), og(nD), dqx(nD), dqn(nD), dqg(nD);
      for (int64_t c = 0; c < D; ++c) {
        double a = 0, g = 0;
        float an = 0, gn = 0;
        for (int64_t j = 0; j < L; ++j) {
          a += px[size_t(j)] * v[off + j * D + c];
          g += px[size_t(j)] * (dpx[size_t(j)] - deltax) * scale * k[off + j * D + c];
          an += pn[size_t(j)] * v[off + j * D + c];
          gn += round_bf16(round_bf16(pn[size_t(j)] * (dpn[size_t(j)] - deltan)) * float(scale)) * k[off + j * D + c];
        }
        ox[size_t(c)] = a;
        dqx[size_t(c)] = g;
        on[size_t(c)] = round_bf16(an);
        dqn[size_t(c)] = round_bf16(gn);
        og[size_t(c)] = o[off + i * D + c];
        dqg[size_t(c)] = dq[off + i * D + c];
      }
      const std::string where = "L = 16384, head " + std::to_string(h) + ", query " + std::to_string(i);
      const double row_scale = std::max(max_abs(ox), max_abs(dqx));
      expect_within_bf16_tolerance(og, on, ox, where + " out", row_scale);
      expect_within_bf16_tolerance(dqg, dqn, dqx, where + " dq", row_scale);
    }
    // Column identities. Each dv_j / dk_j carries independent bf16 roundings (relative 2^-9, from
    // the output and from P or dS), whose sum over L terms grows like a random walk, about
    // 2^-9·sqrt(Σ_j x_j²); allow 8 times that. A missed or doubled key tile of 64 moves the sum by
    // about sqrt(64 / L)·sqrt(Σ_j x_j²) = 2^-4·sqrt(Σ_j x_j²), 4 times the allowance.
    for (int64_t c = 0; c < D; ++c) {
      double sdv = 0, sdo = 0, qdv = 0, sdk = 0, qdk = 0;
      for (int64_t j = 0; j < L; ++j) {
        const double xv = dv[off + j * D + c], xk = dk[off + j * D + c];
        sdv += xv;
        qdv += xv * xv;
        sdo += w[off + j * D + c];
        sdk += xk;
        qdk += xk * xk;
      }
      EXPECT_NEAR(sdv, sdo, std::ldexp(std::sqrt(qdv), -6)) << "head " << h << " column " << c << ": Σ dv vs Σ dout";
      EXPECT_NEAR(sdk, 0.0, std::ldexp(std::sqrt(qdk), -6)) << "head " << h << " column " << c << ": Σ dk";
    }
  }
}

}  // namespace
}  // namespace lra
