// S4's construction-time truncation correction, exposed for the tests (models/mixers/s4.cpp uses it).
//
// The DPLR kernel is read off the response at the L-th roots of unity (ops/cauchy), which is the
// generating function of the taps folded modulo L: Σ_j C·Ā^{l + jL}·B̄ = C·(I − Ā^L)^{-1}·Ā^l·B̄. With
// C̃ = C·(I − Ā^L) in place of C the first L taps come out exactly. state-spaces/s4 does this once, in place
// and without gradient, on the first forward (ssm.py `_setup_C`, 683–709, at L = l_max), and from then on
// trains C̃: here it is done at construction, in double, with the same result.
//   Over the conjugate-extended state of size 2M (ssm.py `_setup_state`, which steps the identity through
//   the bilinear DPLR recurrence): A₂ = diag(Λ, conj Λ) − p·pᴴ with p = (P, conj P) (Q = conj P tied),
//   Ā = (I − dt/2·A₂)⁻¹(I + dt/2·A₂), and C̃₂ = C₂ − C₂·Ā^L for the row C₂ = (C, conj C); the first M
//   entries are kept. Ā^L by repeated squaring: O(log L·(2M)³) per channel.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

namespace lra::models::s4 {

using cdouble = std::complex<double>;

// C [Cc, H, M] (in: C, out: C̃); dt [H]; lambda, P [S, M] (channel h uses copy h mod S).
void setup_C(int64_t Cc, int64_t H, int64_t S, int64_t M, const std::vector<double>& dt,
             const std::vector<cdouble>& lambda, const std::vector<cdouble>& P, std::vector<cdouble>& C, int64_t L);

// The dense bilinear transition Ā [2M, 2M] (row-major) of channel h, for the tests' dense kernel.
std::vector<cdouble> bilinear_transition(int64_t M, double dt, const cdouble* lambda, const cdouble* P);

}  // namespace lra::models::s4
