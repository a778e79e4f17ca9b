// HiPPO-LegS and its normal-plus-low-rank (NPLR) diagonalisation: the initialisation shared by S4 (DPLR),
// S4D-LegS and S5. Computed once, at construction, on the CPU in double precision; nothing here is
// differentiated or runs on the GPU.
//
// HiPPO-LegS (Gu et al. 2020; state-spaces/s4 src/models/hippo/hippo.py `transition('legs')`), size N:
//   A[n, k] = −√(2n+1)·√(2k+1)  (n > k),   −(n+1)  (n = k),   0  (n < k);    B[n] = √(2n+1)
// Rank-1 NPLR (hippo.py `rank_correction`, `nplr`): P[n] = √(n + ½), and S = A + P·Pᵀ is normal:
//   S = −½·I + (a skew-symmetric matrix), so its eigenvalues are −½ + i·ω with ω real in ± pairs.
// The reference takes Re Λ = mean(diag S) = −½ and (ω, V) from the Hermitian eigenproblem of −i·S (whose
// diagonal −½ contributes nothing to a Hermitian solver, which reads only the real diagonal: here the
// skew part is passed explicitly), sorts by ω ascending and keeps the FIRST N/2 pairs (negative ω: one
// of each conjugate pair). Then B̃ = V*·B and P̃ = V*·P (V* the conjugate transpose of the kept columns),
// and S restricted to that half is V·diag(Λ)·V*.
// Eigenvector phase: LAPACK fixes none, and S4D-LegS clips Im B̃, so the phase changes the initial
// model. We fix it as the reference's LAPACK call happens to: each kept column scaled so its first
// component is real and positive (models-and-recipes.md §4.9: "fix the phase").
// The eigensolver is LAPACK's zheev (Debian liblapacke-dev), not a hand-written one.
// Cost: O(N³) once per layer at construction (N ≤ 512 in every recipe).
#pragma once

#include <complex>
#include <vector>

namespace lra::models::hippo {

using cdouble = std::complex<double>;

struct LegS {
  int N = 0;
  std::vector<double> A;  // [N, N] row-major
  std::vector<double> B;  // [N]
  std::vector<double> P;  // [N], the rank-1 correction: A + P·Pᵀ is normal
};
LegS legs(int N);

struct NPLR {
  int N = 0;                   // the full state size; N/2 modes are kept
  std::vector<cdouble> Lambda;  // [N/2]: −½ + i·ω, ω ascending (all ≤ 0)
  std::vector<cdouble> V;       // [N, N/2] row-major: V[n·(N/2) + m] = component n of eigenvector m
  std::vector<cdouble> B;       // [N/2] = V*·B (unclipped)
  std::vector<cdouble> P;       // [N/2] = V*·P
};
// N must be even and ≥ 2 (an odd N would lose a state silently in the reference, s4#160: refused here).
NPLR nplr_legs(int N);

}  // namespace lra::models::hippo
