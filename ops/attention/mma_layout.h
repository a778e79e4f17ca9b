// Who holds what in a warp-level tensor-core multiply: the fragment layouts of
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 and of ldmatrix.sync.aligned.m8n8.x4(.trans).b16
// (PTX ISA, "Matrix fragments for mma.m16n8k16" and "ldmatrix"), and the swizzled shared-memory tile
// layout of the bfloat16 attention kernels (attention_bf16.cu, attention_bf16_backward.cu).
//
// Everything here is a constexpr function of the lane (0..31) so that the kernels and a CPU test
// (tests/ops/attention_test_bf16.cpp, which simulates 32 lanes and checks a simulated warp multiply
// against a plain matmul) use one and the same index arithmetic. Nothing here touches memory.
//
// Notation: lane = 4·g + t, g = lane / 4 (the PTX "groupID"), t = lane % 4 ("threadID_in_group").
// A 32-bit register holds two bf16; the element with the lower index is in the low 16 bits.
//
//   A (16×16, M×K, row major): 4 registers = 8 elements e = 0..7, register e / 2.
//        e = 0,1: (g,     2t + e%2)      e = 2,3: (g + 8, 2t + e%2)
//        e = 4,5: (g,     2t + 8 + e%2)  e = 6,7: (g + 8, 2t + 8 + e%2)
//   B (16×8, K×N, "col"): 2 registers = 4 elements: (2t + e%2 + 8·(e/2), g)
//   C, D (16×8, f32): 4 floats: (g + 8·(e/2), 2t + e%2)
//
// The C layout of two neighbouring 16×8 accumulator tiles (columns 0..7 and 8..15) is, element for
// element, the A layout of one 16×16 operand: A register r is C tile r / 2, elements 2(r%2), 2(r%2)+1.
// That is how P = softmax(S) goes from the S accumulators straight into the P·V multiply without
// touching shared memory (a_from_c_*).
//
// ldmatrix .x4: lane l supplies the address of row l % 8 of 8×8 matrix l / 8 (8 contiguous bf16 = 16
// bytes); register r of every lane receives matrix r: without .trans lane l gets row l/4, columns
// 2(l%4) and 2(l%4)+1 (exactly an A/B/C-style "g, 2t" pair); with .trans it gets column l/4, rows
// 2(l%4) and 2(l%4)+1, i.e. the transposed matrix. The ldsm_* functions below say where each lane
// points so that the four received registers are the operand the mma wants.
#pragma once

#if defined(__CUDACC__)
#define LRA_MMA_FN __host__ __device__ __forceinline__ constexpr
#else
#define LRA_MMA_FN inline constexpr
#endif

namespace lra::ops::mma {

struct Coord {
  int row, col;
};

LRA_MMA_FN int group_of(int lane) { return lane >> 2; }
LRA_MMA_FN int thread_in_group(int lane) { return lane & 3; }

// ---- mma.m16n8k16 fragments ------------------------------------------------------------------------

// Element e (0..7) of lane's A fragment.
LRA_MMA_FN Coord a_element(int lane, int e) {
  return {group_of(lane) + 8 * ((e >> 1) & 1), 2 * thread_in_group(lane) + (e & 1) + 8 * (e >> 2)};
}
// Element e (0..3) of lane's B fragment, as (k, n).
LRA_MMA_FN Coord b_element(int lane, int e) {
  return {2 * thread_in_group(lane) + (e & 1) + 8 * (e >> 1), group_of(lane)};
}
// Element e (0..3) of lane's C / D fragment.
LRA_MMA_FN Coord c_element(int lane, int e) { return {group_of(lane) + 8 * (e >> 1), 2 * thread_in_group(lane) + (e & 1)}; }

// C -> A: A register r (0..3) of a 16-wide k-step is built from accumulator tile a_from_c_tile(r)
// (0: the step's first 8 columns, 1: its last 8) and its elements a_from_c_element(r, 0 / 1).
LRA_MMA_FN int a_from_c_tile(int reg) { return reg >> 1; }
LRA_MMA_FN int a_from_c_element(int reg, int half) { return 2 * (reg & 1) + half; }

// ---- ldmatrix.x4 -------------------------------------------------------------------------------------

// The matrix (= destination register) whose row `lane` addresses, and which row of it.
LRA_MMA_FN int ldsm_matrix_of(int lane) { return lane >> 3; }
LRA_MMA_FN int ldsm_row_of(int lane) { return lane & 7; }
// The (row, col) of an 8×8 matrix that half h (0: low 16 bits) of lane's register receives.
LRA_MMA_FN Coord ldsm_element(int lane, int h, bool trans) {
  return trans ? Coord{2 * thread_in_group(lane) + h, group_of(lane)} : Coord{group_of(lane), 2 * thread_in_group(lane) + h};
}

// Each function returns the (row, first column) of the 8-element row that `lane` addresses in a
// row-major tile; the first column is always a multiple of 8. m = the lane's matrix.
//
// A (16×16 at rows m0, columns k0) from an [M][K] tile, no .trans: registers a0..a3 in order.
//   matrix 0: rows m0..+7, cols k0..+7;  1: rows m0+8..;  2: cols k0+8..;  3: both.
LRA_MMA_FN Coord ldsm_a_mk(int lane, int m0, int k0) {
  const int m = ldsm_matrix_of(lane);
  return {m0 + 8 * (m & 1) + ldsm_row_of(lane), k0 + 8 * (m >> 1)};
}
// A (16×16 at m0, k0) from a [K][M] tile (A transposed in memory), with .trans: registers a0..a3.
LRA_MMA_FN Coord ldsm_a_km_trans(int lane, int m0, int k0) {
  const int m = ldsm_matrix_of(lane);
  return {k0 + 8 * (m >> 1) + ldsm_row_of(lane), m0 + 8 * (m & 1)};
}
// Two B operands (k0..k0+15 × n0..n0+7 and × n0+8..n0+15) from an [N][K] tile (Bᵀ row major, e.g. K
// in S = Q·Kᵀ), no .trans: registers {0, 1} are B of n-tile n0, {2, 3} B of n-tile n0 + 8.
LRA_MMA_FN Coord ldsm_b_nk(int lane, int n0, int k0) {
  const int m = ldsm_matrix_of(lane);
  return {n0 + 8 * (m >> 1) + ldsm_row_of(lane), k0 + 8 * (m & 1)};
}
// The same two B operands from a [K][N] tile (B row major, e.g. V in O = P·V), with .trans.
LRA_MMA_FN Coord ldsm_b_kn_trans(int lane, int k0, int n0) {
  const int m = ldsm_matrix_of(lane);
  return {k0 + 8 * (m & 1) + ldsm_row_of(lane), n0 + 8 * (m >> 1)};
}

// ---- swizzled shared-memory tiles ----------------------------------------------------------------

// A tile of rows of `width` bf16 (width a multiple of 32) is stored in 16-byte chunks of 8 elements;
// logical chunk c of row r sits at physical chunk c XOR (a few bits of r). Without the XOR, the 8 rows
// one ldmatrix phase reads (same column, 8 consecutive rows) would all start at the same bank when a
// row is 128 bytes: an 8-way conflict. With it they cover 8 different 16-byte bank groups:
//   width >= 64 (8+ chunks per row): c ^ (r % 8);
//   width == 32 (4 chunks, 2 rows per 128 bytes): c ^ ((r / 2) % 4).
LRA_MMA_FN int swizzle_chunk(int row, int chunk, int width) {
  return width >= 64 ? chunk ^ (row & 7) : chunk ^ ((row >> 1) & 3);
}
// Element offset of (row, col) in such a tile.
LRA_MMA_FN int tile_offset(int row, int col, int width) {
  return row * width + 8 * swizzle_chunk(row, col >> 3, width) + (col & 7);
}

}  // namespace lra::ops::mma
