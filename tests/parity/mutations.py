#!/usr/bin/python3
"""Checks the parity check: each mutation below changes one convention of the PyTorch oracle (or a
tolerance) in a temporary copy of this folder, and the cases that depend on it must then FAIL.
A mutation that passes means the parity test cannot see that convention. Not a CTest test (about a
minute); run it after changing the oracle, the cases or the tolerances:

  /usr/bin/python3 tests/parity/mutations.py --dump build-cpu/tests/parity/parity_dump
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (what changes, file, old text, new text, cases that must fail)
MUTATIONS = [
    ("reformer: logits divided by sqrt(d) instead of LRA's multiply", "torch_models.py",
     'self.scale = math.sqrt(self.d) if', 'self.scale = 1 / math.sqrt(self.d) if', ["reformer"]),
    ("reformer: heads merged with a transpose instead of LRA's plain reshape", "torch_models.py",
     "if self.transpose_merge else out.reshape(B, Lp, D)", "if True else out.reshape(B, Lp, D)", ["reformer"]),
    ("reformer: no look-back to the previous chunk", "torch_models.py",
     "torch.cat([t, torch.roll(t, 1, dims=2)], dim=3)", "torch.cat([t, t], dim=3)", ["reformer"]),
    ("reformer: rounds averaged instead of weighted by their logsumexp", "torch_models.py",
     "torch.exp(logits - torch.logsumexp(logits, dim=2, keepdim=True))", "(1.0 / logits.shape[2])",
     ["reformer_hashes3"]),
    ("reformer: no self mask", "torch_models.py", "        if self.self_mask:", "        if False:",
     ["reformer_paper"]),
    ("reformer: padding mask without the added rows", "torch_models.py",
     "m = F.pad(m, (0, Lp - L))  # the added rows", "m = F.pad(m, (0, Lp - L), value=1)  # the added rows",
     ["reformer_paper"]),
    ("linear transformer features elu + 1 -> relu + 1", "torch_models.py",
     "fq, fk = (F.elu(self.heads(t)) + 1", "fq, fk = (F.relu(self.heads(t)) + 1", ["linear_transformer"]),
    ("linear transformer eps 1e-6 -> 1e-3", "torch_models.py",
     "(den + self.eps)", "(den + 1e3 * self.eps)", ["linear_transformer"]),
    ("performer relu kernel_epsilon 0.001 -> 0.01", "torch_models.py",
     "return F.relu(dash) + self.relu_eps", "return F.relu(dash) + 10 * self.relu_eps", ["performer"]),
    ("performer keys stabilised per position like queries", "torch_models.py",
     "else dash.amax((-2, -1), keepdim=True)", "else dash.amax(-1, keepdim=True)", ["performer_softmax"]),
    ("performer softmax without the d^-1/4 data normaliser", "torch_models.py",
     "c = d ** -0.25", "c = 1.0", ["performer_softmax", "performer_softmax_blocks"]),
    ("padded keys masked although mask_keys is off", "torch_models.py",
     "if self.mask_keys and mask is not None:", "if mask is not None:", ["linear_transformer", "performer"]),
    ("GELU tanh approximation instead of erf", "torch_models.py",
     "return F.gelu(x)  #", "return F.gelu(x, approximate='tanh')  #", ["transformer", "s4d", "gmlp"]),
    ("backbone LayerNorm eps 1e-5 instead of 1e-6", "torch_models.py",
     "LAYER_NORM_EPS = 1e-6", "LAYER_NORM_EPS = 1e-5", ["transformer"]),
    ("gMLP LayerNorm eps 1e-6 instead of 1e-5", "torch_models.py",
     "GMLP_NORM_EPS = 1e-5", "GMLP_NORM_EPS = 1e-6", ["gmlp"]),
    ("BatchNorm momentum a tenth of bn_momentum", "torch_models.py",
     "self.momentum = momentum", "self.momentum = momentum / 10",
     ["s4d_postnorm_batchnorm", "s5_batchnorm_flax_momentum"]),
    ("LaS without smoothing", "torch_models.py",
     "and self.P > 1:", "and self.P > 99:", ["las", "las_chunk"]),
    ("LaS alphas spaced over 10x instead of 100x", "torch_models.py",
     "a[c] = B * 100.0 ** (-t)", "a[c] = B * 10.0 ** (-t)", ["las"]),
    ("LaS decay off", "torch_models.py",
     "s = s * torch.exp(-self.alpha", "s = s * 0 + s * torch.exp(-0 * self.alpha", ["las_heads2"]),
    ("anti-causal kernels from lag 0", "torch_models.py",
     "return F.conv1d(u, w, padding=L - 1, groups=C)",
     "return F.conv1d(u, torch.cat([w[..., 1:], w[..., :1] * 0], -1), padding=L - 1, groups=C)",
     ["gmlp_unscaled", "residual_conv_full"]),
    ("S4D bidirectional kernel from lag 0", "torch_models.py",
     "k = self.kernel(L)\n        if self.bidirectional:\n            k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))",
     "k = self.kernel(L)\n        if self.bidirectional:\n            k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L - 1, 1))",
     ["s4d_bidirectional_inv"]),
    ("S4D Re instead of 2·Re", "torch_models.py",
     'return 2 * torch.einsum("chn,hnl->chl", C, powers).real',
     'return torch.einsum("chn,hnl->chl", C, powers).real', ["s4d"]),
    ("S4D bilinear: B̄ without dt", "torch_models.py",
     "C = C * (1.0 - dtA / 2).reciprocal() * dt", "C = C * (1.0 - dtA / 2).reciprocal()",
     ["s4d_bilinear_nssm4_dt", "s4d_real_bilinear_softplus"]),
    ("S4D: copies in (t v) order instead of h mod n_ssm", "torch_models.py",
     "copy = torch.arange(self.H) % self.S\n        A, B = A[copy], B[copy]",
     "copy = torch.arange(self.H) // (self.H // self.S)\n        A, B = A[copy], B[copy]",
     ["s4d_bilinear_nssm4_dt"]),
    ("S4D: exp instead of softplus", "torch_models.py",
     "F.softplus(self.inv_dt) if self.softplus else torch.exp(self.inv_dt)  # [H, 1]",
     "torch.exp(self.inv_dt) if self.softplus else torch.exp(self.inv_dt)  # [H, 1]",
     ["s4d_legs_softplus_nssm1", "s4d_real_bilinear_softplus"]),
    ("S4D: B not conjugated", "torch_models.py", '"B": ("B", _conj_pairs)', '"B": ("B", None)',
     ["s4d_legs_softplus_nssm1"]),
    ("S4D-LegS: B clipped on both parts", "torch_models.py",
     "Bt = torch.complex(Bt.real, Bt.imag.clamp(-2.0, 2.0))",
     "Bt = torch.complex(Bt.real.clamp(-2.0, 2.0), Bt.imag.clamp(-2.0, 2.0)) * (1 + 1e-3)",
     ["s4d_legs_init_n64"]),
    ("sgconv: scale i stretched 2^i (the notes' first reading) instead of 2^(max(0, i-1) + init_scale)",
     "torch_models.py", "scale_factor=2 ** (max(0, i - 1) + self.init_scale)",
     "scale_factor=2 ** (i + self.init_scale)", ["sgconv_cos_init_scale"]),
    ("sgconv: align_corners=True interpolation", "torch_models.py",
     'mode="linear")\n                 * m ** (self.S - i - 1)',
     'mode="linear", align_corners=True)\n                 * m ** (self.S - i - 1)', ["sgconv"]),
    ("sgconv: nearest scale weighted least (m^i)", "torch_models.py",
     "* m ** (self.S - i - 1) for i", "* m ** i for i", ["sgconv"]),
    ("sgconv: learnable decay on l instead of l + 1", "torch_models.py",
     "torch.arange(k.shape[-1], dtype=k.dtype) + 1)", "torch.arange(k.shape[-1], dtype=k.dtype) + 1e-9)",
     ["sgconv_learnable_fixed"]),
    ("S5 reverse scan without the current input (S4's lag convention)", "torch_models.py",
     "return x.flip(1) if reverse else x", "return x.flip(1) - Bu if reverse else x",
     ["s5_bidirectional_lecun_half_glu2", "s5_complex_normal_gelu", "s5_no_conj_sym"]),
    ("S5 Re instead of 2·Re with conj_sym", "torch_models.py",
     "y = (2 * y if self.conj_sym else y) + self.D * x", "y = y + self.D * x", ["s5"]),
    ("S5 ZOH without the (Λ̄ − 1)/Λ factor (Euler B̄ = ΔB̃)", "torch_models.py",
     "B_bar = ((Lambda_bar - 1) / Lambda)[:, None] * B_tilde", "B_bar = step[:, None] * B_tilde", ["s5"]),
    ("S5 half_glu2 gated like half_glu1", "torch_models.py",
     "return y * torch.sigmoid(self.out2(g))", "return g * torch.sigmoid(self.out2(g))",
     ["s5_bidirectional_lecun_half_glu2"]),
    ("LRU: erf GELU instead of flax's tanh default", "torch_models.py",
     'y = F.gelu(y, approximate="tanh") if self.gelu_tanh else gelu(y)', "y = gelu(y)", ["lru"]),
    ("LRU: Re(conj(C) h) instead of Re(C h)", "torch_models.py",
     'torch.complex(self.C_re, self.C_im), linear_recurrence(lam, bu)).real',
     'torch.complex(self.C_re, -self.C_im), linear_recurrence(lam, bu)).real', ["lru", "lru_bare"]),
    ("LRU: reverse scan without the current input (lag 0 in one direction only)", "torch_models.py",
     "rev = linear_recurrence(lam, bu.flip(1)).flip(1)",
     "rev = linear_recurrence(lam, bu.flip(1)).flip(1) - bu", ["lru_bidirectional_masked"]),
    ("LRU: padding not zeroed with mask_padding", "torch_models.py",
     "u = masked(x, mask) if self.mask_padding else x", "u = x", ["lru_bidirectional_masked"]),
    ("local: contiguous groups for strided_fixed", "torch_models.py",
     "ok &= (i % n) == (j % n)", "ok &= (i // self.chunk) == (j // self.chunk)", ["local_strided_fixed"]),
    ("local strided: no extra block when the block divides L", "torch_models.py",
     "extra = C - L % C  #", "extra = (C - L % C) % C or C * 0  #", ["local_strided_divisible"]),
    ("local strided: padding mask on keys only (no uniform rows)", "torch_models.py",
     "allowed = (pm[:, :, :, None] & pm[:, :, None, :])", "allowed = ((pm[:, :, :, None] | True) & pm[:, :, None, :])",
     ["local_strided"]),
    ("local strided: padded tail masked", "torch_models.py",
     "pm = torch.cat([pm, torch.ones(B, extra, dtype=torch.bool)], dim=1)",
     "pm = torch.cat([pm, torch.zeros(B, extra, dtype=torch.bool)], dim=1)", ["local_strided_divisible"]),
    ("rotary half disables the odd planes", "torch_models.py",
     "theta[0::2] = 0", "theta[1::2] = 0", ["rotary_half"]),
    ("rotary full applied per head", "torch_models.py",
     'if self.rotary in ("full", "half"):', 'if self.rotary in ("half",):', ["rotary_full"]),
    ("rotary base ignored", "torch_models.py",
     'self.base = cfg.get("rotary_base", 10000.0)', "self.base = 10000.0", ["rotary_head"]),
    ("q and k swapped in the qkv split", "torch_models.py",
     "q, k, v = self.qkv(x).split(Q, dim=-1)", "k, q, v = self.qkv(x).split(Q, dim=-1)", ["transformer"]),
    ("key mask ignored", "torch_models.py",
     "ok = ok & (mask[:, None, None, :] != 0)", "ok = ok", ["transformer"]),
    ("masked_mean pools padding too", "torch_models.py",
     'if p == "masked_mean":', 'if p == "never":', ["transformer"]),
    ("nli features [u, v, u-v, u*v]", "torch_models.py",
     "torch.cat([u, v, u * v, u - v], dim=1)", "torch.cat([u, v, u - v, u * v], dim=1)", ["dual_nli_head1"]),
    ("linformer masks padding (LRA does not)", "torch_models.py",
     "if self.mask_padding and mask is not None:", "if mask is not None:", ["linformer"]),
    ("linformer uses the last L rows of E", "torch_models.py",
     "E = self.proj[:L]", "E = self.proj[-L:]", ["linformer"]),
    ("synthesizer random logits transposed", "torch_models.py",
     "s = s + self.random[None, :, :L, :L]", "s = s + self.random[None, :, :L, :L].transpose(-1, -2)",
     ["synthesizer"]),
    ("synthesizer masks padding without the dot product", "torch_models.py",
     "if self.dot and mask is not None:", "if mask is not None:", ["synthesizer_factorized"]),
    ("synthesizer dense rows transposed instead of LRA's reshape", "torch_models.py",
     "w = w.reshape(B, H, L, -1) if self.reshape else", "w = w.transpose(1, 2) if self.reshape else",
     ["synthesizer_dense"]),
    ("gMLP kernel row j // (h/groups) instead of j mod groups", "torch_models.py",
     'self.register_buffer("row", torch.arange(h) % g, persistent=False)',
     'self.register_buffer("row", torch.arange(h) // (h // g), persistent=False)', ["gmlp_unscaled"]),
    ("gMLP FFT path: kernel spectra repeated j // (h/C) instead of j mod C", "torch_models.py",
     ".repeat(self.h // C, 1)", ".repeat_interleave(self.h // C, 0)", ["gmlp"]),
    ("gMLP shared bias: bias[j // (h/groups)] instead of bias[j mod groups]", "torch_models.py",
     "self.conv_bias.repeat(self.h // self.g)", "self.conv_bias.repeat_interleave(self.h // self.g)", ["gmlp"]),
    ("gMLP FFT path unscaled (irfft without ortho)", "torch_models.py",
     'full = torch.fft.irfft(spectrum * kernel_spectrum, dim=-1, n=n, norm="ortho")',
     'full = torch.fft.irfft(spectrum * kernel_spectrum, dim=-1, n=n, norm="forward")',
     ["gmlp", "gmlp_causal"]),
    ("gMLP FFT path: anti-causal taps one lag off", "torch_models.py",
     "torch.cat([self.kernel_anti.flip(-1), self.kernel_causal, zero], dim=1)",
     "torch.cat([zero, self.kernel_anti.flip(-1), self.kernel_causal], dim=1)", ["gmlp"]),
    ("gMLP FFT length 2L + K (not a power of two)", "torch_models.py",
     "n = 2 ** (L + K - 1).bit_length()", "n = L + K", ["gmlp", "gmlp_causal"]),
    ("dense conv taps mirrored", "torch_models.py",
     "return w.reshape(g, K, Dg, Hg).permute(0, 3, 2, 1).reshape(g * Hg, Dg, K)",
     "return w.reshape(g, K, Dg, Hg).permute(0, 3, 2, 1).reshape(g * Hg, Dg, K).flip(-1)",
     ["residual_conv", "residual_conv_dense_groups"]),
    ("sinusoid halves instead of interleaved", "torch_models.py",
     "table = torch.where(torch.arange(D) % 2 == 0, torch.sin(angle), torch.cos(angle))",
     "table = torch.cat([torch.sin(angle[:, 0::2]), torch.cos(angle[:, 0::2])], 1)", ["transformer"]),
    ("pixel encoder bias negated", "torch_models.py",
     'x = self.embed[inp] if cfg.input == "tokens" else self.encoder(inp)',
     'x = self.embed[inp] if cfg.input == "tokens" else -self.encoder(-inp)', ["pixels"]),
    ("sinkhorn lra: key-only mask (LRA's query x key mask dropped)", "torch_models.py",
     "local = (pm[:, :, :, None] * pm[:, :, None, :]) > 0", "local = (pm[:, :, :, None] * 0 + pm[:, :, None, :]) > 0",
     ["sinkhorn", "sinkhorn_lra"]),
    ("sinkhorn lra: contiguous groups instead of LRA's strided ones", "torch_models.py",
     "bq, bk, bv = (t.reshape(B, C, n, H, d) for t in (q, k, v))",
     "bq, bk, bv = (t.reshape(B, n, C, H, d).transpose(1, 2) for t in (q, k, v))", ["sinkhorn", "sinkhorn_lra"]),
    ("sinkhorn paper: columns not balanced", "torch_models.py",
     "R = R - torch.logsumexp(R, dim=-2, keepdim=True)", "R = R - 0 * torch.logsumexp(R, dim=-2, keepdim=True)",
     ["sinkhorn_paper"]),
    ("LRA's query mask ignored (keys only)", "torch_models.py",
     "if self.query_mask and mask is not None:", "if False and mask is not None:",
     ["pixel_mask_tokens", "pixel_mask_cls", "pixel_mask_scalars"]),
    ("masked queries output 0 instead of uniform attention", "torch_models.py",
     "p = torch.softmax(s.masked_fill(~ok, -1e10), dim=-1)", "p = torch.softmax(s.masked_fill(~ok, -1e10), dim=-1) * ok",
     ["pixel_mask_tokens", "pixel_mask_rotary_causal"]),
    ("pixel 0 not masked", "torch_models.py",
     "full = full * (raw > 0).to(full.dtype)", "full = full", ["pixel_mask_tokens", "pixel_mask_scalars"]),
    ("cls row left out of masked_mean", "torch_models.py",
     "m = full.to(x.dtype)[:, :, None]",
     "m = torch.cat([full[:, :1] * (not self.cfg.cls_token), full[:, 1:]], 1).to(x.dtype)[:, :, None]",
     ["cls_masked_mean", "cls_mean_gmlp"]),
    ("sparse: Fixed2 without the first key of each block", "torch_models.py",
     "fixed2 = lower & ((r == 0) | (r >= block - c))", "fixed2 = lower & (r >= block - c)",
     ["sparse_transformer", "sparse_transformer_cls", "sparse_transformer_dual", "sparse_transformer_qkv_dim"]),
    ("sparse: global first position without shifting the pattern", "torch_models.py",
     "mask = F.pad(mask, (1, 0, 1, 0), value=True)",
     "mask = F.pad(mask, (0, 1, 0, 1), value=False) | (torch.arange(L) == 0)[:, None] | (torch.arange(L) == 0)",
     ["sparse_transformer_cls", "sparse_transformer_dual"]),
    ("longformer: the extra key of an odd window on the right", "torch_models.py",
     "left = window - right\n", "left = window - right\n    left, right = right, left\n", ["longformer_odd_window"]),
    ("bigbird: the padded tail masked", "torch_models.py",
     "value=1.0 if self.lra_pad else 0.0)", "value=0.0)",
     ["bigbird", "bigbird_no_mask"]),
    ("bigbird: random graph seeded with layer + 1", "torch_models.py",
     "graph = bigbird_random_blocks(nb, C, self.r, min(nb * C, self.span), H, self.layer)",
     "graph = bigbird_random_blocks(nb, C, self.r, min(nb * C, self.span), H, self.layer + 1)",
     ["bigbird", "bigbird_no_mask"]),
    ("bigbird: a single candidate counted once", "torch_models.py",
     "rows.append([int(row[0])] * r if len(row) == 1 else", "rows.append([int(row[0])] if len(row) == 1 else",
     ["bigbird_short_rows"]),
    ("bigbird: padded queries not zeroed", "torch_models.py",
     "y = torch.softmax(s, dim=-1) @ v * m[:, None, :, None]", "y = torch.softmax(s, dim=-1) @ v",
     ["bigbird"]),
    ("float64 tolerance 1e6 times tighter", "check_parity.py",
     "F64_ATOL = 1e-9\nF64_RTOL = 1e-9", "F64_ATOL = 1e-15\nF64_RTOL = 1e-15", ["s4d_pixels_batchnorm"]),
    ("float32 tolerance 100 times tighter", "check_parity.py",
     "F32_FACTOR = 10.0\nF32_MIN_ATOL = 2e-5", "F32_FACTOR = 0.1\nF32_MIN_ATOL = 1e-8", ["transformer"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, help="the parity_dump binary")
    a = ap.parse_args()
    dump = os.path.abspath(a.dump)
    survivors = []
    for what, name, old, new, cases in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            for f in ("torch_models.py", "check_parity.py", "cases.txt"):
                shutil.copy(os.path.join(HERE, f), tmp)
            path = os.path.join(tmp, name)
            text = open(path).read()
            if text.count(old) != 1:
                print(f"BROKEN mutation '{what}': the text to change occurs {text.count(old)} times in {name}")
                survivors.append(what)
                continue
            open(path, "w").write(text.replace(old, new))
            for case in cases:
                run = subprocess.run([sys.executable, os.path.join(tmp, "check_parity.py"), "--dump", dump,
                                      "--case", case], capture_output=True, text=True)
                caught = run.returncode != 0 and "FAIL" in run.stdout + run.stderr
                first = next((l for l in (run.stderr + run.stdout).splitlines() if l.startswith("FAIL")), "")
                print(f"{'caught' if caught else 'MISSED'}: {what} -> {case}: {first[:160]}")
                if not caught:
                    survivors.append(f"{what} ({case})")
    if survivors:
        print(f"{len(survivors)} mutations were not caught: {'; '.join(survivors)}")
        return 1
    print(f"all {len(MUTATIONS)} mutations caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
