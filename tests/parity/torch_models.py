"""PyTorch re-implementations of the lra-engine backbone and of every registered mixer, the oracle of
the parity tests (check_parity.py). Written from the papers and the conventions the engine's headers
document, in plain PyTorch (explicit L×L attention with masks, torch.fft for S4D, F.conv1d for the
other long convolutions, complex tensors for the S4D kernel and for rotary), not transcribed from the
C++: where the engine takes a shortcut (avg-pooled values instead of a smoothed attention matrix, a
fused FFT convolution, im2col for the dense convolution) this file computes the definition.

Every module here uses PyTorch's own parameter layout; ENGINE_NAMES on a module maps an engine
parameter name to the torch one with a differentiable layout change, and load_engine_parameters()
refuses a file whose parameters do not match the model one to one.

Conventions taken from the engine's headers (each is a choice the parity test pins down):
  * GELU is the exact erf form (ops/elementwise: gelu() defaults to erf; PyTorch's nn.GELU default).
  * LayerNorm eps 1e-6 in the backbone (flax default, the LRA code); 1e-5 for gMLP's inner LN
    (ops::layer_norm's default, PyTorch's). BatchNorm eps 1e-5, momentum bn_momentum (0.1), statistics over all
    B×L positions (padding included).
  * Rotary: channel pairs (2i, 2i+1), theta_i = base^(−2i/D); "half" zeroes every even-indexed theta.
  * LaS: s_ij · exp(−α_h|i−j|) before the mask, α_0 = 0, α_c = B·100^(−(H−1−c)/(H−2)) (H = 2: α_1 = B);
    smoothing = average pooling of each attention row along the keys (window P, zero padding, divisor P).
  * Anti-causal kernels start at lag −1 (S4's convention: lag 0 belongs to the causal kernel).
  * S4D: S4's SSMKernelDiag (ssm.py): ZOH C̃ = B·C·(exp(ΔA) − 1)/A or bilinear, K = 2·Re Σ_n C̃ exp(x·l),
    y = K * u + D·u, then GELU and a 1×1 convolution to 2H with GLU (state-spaces/s4). The engine stores
    the conjugate modes (Im A = +A_imag), so its B and C are S4's conjugated.
  * S4: the DPLR kernel by naive Cauchy sums, Woodbury and irfft at the attuned length (ssm.py
    SSMKernelDPLR), the same block as S4D.
  * S5: Λ̄ and B̄ from (Λ, log_step, B̃) each forward (ZOH or bilinear), x_t = Λ̄x_{t−1} + B̄u_t, the reverse
    scan including the current input, y = 2·Re(C̃x) + D·u (Re without conj_sym), no masking inside the
    layer, then S5's GELU/GLU activation (lindermanlab/S5 s5/ssm.py, s5/layers.py); the scan in the doubling
    form of jax.lax.associative_scan.
"""
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LAYER_NORM_EPS = 1e-6
BATCH_NORM_EPS = 1e-5
GMLP_NORM_EPS = 1e-5
SCALE_NORM_EPS = 1e-5


class Config:
    """The model settings parity_dump wrote into the file's metadata: every model setting as the trainer
    prints it, the task-side fields, and the mixer's settings ("mixer.<key>", its declared defaults filled
    in)."""

    INTS = ("vocab_size", "num_classes", "max_len", "width", "depth", "ffn", "mlp_dim", "head_layers")
    BOOLS = ("cls_token", "prenorm", "final_norm", "dual", "mask_zero_pixels")

    def __init__(self, metadata):
        for k in self.INTS:
            setattr(self, k, int(metadata[k]))
        for k in self.BOOLS:
            setattr(self, k, metadata[k] == "true")
        for k in ("model", "input", "position", "norm", "activation", "pooling", "interaction"):
            setattr(self, k, metadata[k])
        self.bn_momentum = float(metadata.get("bn_momentum", "0.1"))
        self.mixer = {k[len("mixer."):]: v for k, v in metadata.items() if k.startswith("mixer.")}
        self.layer = 0  # the block's index (at_layer); LRA's BigBird seeds its random graph with it

    def at_layer(self, layer):
        c = copy.copy(self)
        c.layer = layer
        return c

    def get(self, key, default):
        return type(default)(float(self.mixer[key])) if key in self.mixer else default

    def get_flag(self, key, default=False):
        return self.mixer[key] in ("true", "1", "on", "yes") if key in self.mixer else default

    def get_string(self, key, default):
        return self.mixer.get(key, default)


def gelu(x):
    return F.gelu(x)  # exact: 0.5·x·(1 + erf(x/√2))


def masked(x, mask):
    """x [B, L, C] with padded rows zeroed (mask [B, L] of 0/1, or None)."""
    return x if mask is None else x * mask[:, :, None].to(x.dtype)


def two_sided_conv(u, causal, anti):
    """Depthwise convolution of u [B, C, L] over every lag: y[t] = Σ_j causal[c, j]·u[t − j] + Σ_j anti[c, j]·u[t + 1 + j].
    causal [C, ≥L], anti [C, ≥L−1] or None. F.conv1d correlates (y[t] = Σ_k w[k]·u[t + k − (L−1)]), so the
    weight holds lag L−1−k at position k: the causal taps reversed, then the anti-causal ones."""
    C, L = u.shape[1], u.shape[2]
    rev = causal[:, :L].flip(-1)
    tail = anti[:, : L - 1] if anti is not None else rev.new_zeros(C, L - 1)
    w = torch.cat([rev, tail], dim=1)[:, None, :]
    return F.conv1d(u, w, padding=L - 1, groups=C)


# --- backbone --------------------------------------------------------------------------------------


class Norm(nn.Module):
    """LayerNorm over the last dim, or BatchNorm over all positions (B×L) with running statistics, or MEGA's
    ScaleNorm (fairseq/modules/scale_norm.py: g·x/sqrt(mean(x²) + eps), one scalar g, eps 1e-5 from
    SequenceNorm)."""

    def __init__(self, kind, width, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.batch = kind == "batch"
        self.scale = kind == "scale"
        if self.scale:
            self.weight = nn.Parameter(torch.ones(1))
            return
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        if self.batch:
            self.register_buffer("running_mean", torch.zeros(width))
            self.register_buffer("running_var", torch.ones(width))

    def forward(self, x):
        if self.scale:
            return self.weight * x * torch.rsqrt(torch.mean(torch.square(x), dim=-1, keepdim=True) + SCALE_NORM_EPS)
        if not self.batch:
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, LAYER_NORM_EPS)
        y = F.batch_norm(x.reshape(-1, x.shape[-1]), self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, self.momentum, BATCH_NORM_EPS)
        return y.reshape(x.shape)


class FeedForward(nn.Module):
    def __init__(self, width, hidden, activation):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.act = {"relu": F.relu, "silu": F.silu}.get(activation, gelu)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg, make_mixer):
        super().__init__()
        self.prenorm = cfg.prenorm
        self.norm1 = Norm(cfg.norm, cfg.width, cfg.bn_momentum)
        self.mixer = make_mixer()
        if cfg.ffn > 0:
            self.norm2 = Norm(cfg.norm, cfg.width, cfg.bn_momentum)
            self.ffn = FeedForward(cfg.width, cfg.ffn, cfg.activation)
        else:
            self.ffn = None

    def forward(self, x, mask):
        if getattr(self.mixer, "owns_residual", False):  # MEGA: out = residual + u⊙(h − residual)
            if self.prenorm:
                x = self.mixer(self.norm1(x), mask, residual=x)
                if self.ffn is not None:
                    x = x + self.ffn(self.norm2(x))
            else:
                x = self.norm1(self.mixer(x, mask, residual=x))
                if self.ffn is not None:
                    x = self.norm2(x + self.ffn(x))
            return x
        if self.prenorm:
            x = x + self.mixer(self.norm1(x), mask)
            if self.ffn is not None:
                x = x + self.ffn(self.norm2(x))
        else:
            x = self.norm1(x + self.mixer(x, mask))
            if self.ffn is not None:
                x = self.norm2(x + self.ffn(x))
        return x


def sinusoidal_table(rows, D):
    """Even channels sin(p·10000^(−2i/D)), odd channels the matching cos (Vaswani et al., interleaved).
    Rounded to float32: the engine's model holds this fixed table in float32, as it holds its parameters."""
    p = torch.arange(rows, dtype=torch.float64)[:, None]
    i = torch.arange(D) // 2
    angle = p * torch.pow(10000.0, -(2 * i).to(torch.float64) / D)[None, :]
    table = torch.where(torch.arange(D) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32).to(torch.float64)


class LraModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D = cfg.width
        if cfg.input == "tokens":
            self.embed = nn.Parameter(torch.empty(cfg.vocab_size, D))
        else:
            self.encoder = nn.Linear(1, D)
        rows = cfg.max_len + (1 if cfg.cls_token else 0)
        if cfg.cls_token:
            self.cls = nn.Parameter(torch.zeros(1, 1, D))
        if cfg.position == "learned":
            self.pos = nn.Parameter(torch.empty(rows, D))
        elif cfg.position == "sinusoidal":
            self.register_buffer("sinusoid", sinusoidal_table(rows, D), persistent=False)
        make = MIXERS[cfg.model]
        self.blocks = nn.ModuleList([Block(cfg, lambda i=i: make(cfg.at_layer(i), rows)) for i in range(cfg.depth)])
        self.final_norm = Norm(cfg.norm, D, cfg.bn_momentum) if cfg.prenorm and cfg.final_norm else None
        mlp = cfg.mlp_dim if cfg.mlp_dim > 0 else D
        features = (4 if cfg.interaction == "nli" else 2) * D if cfg.dual else D
        head = {}
        if cfg.head_layers == 0:
            head["out"] = nn.Linear(features, cfg.num_classes)
        elif cfg.dual:
            half = max(mlp // 2, 1)
            head["hidden"] = nn.Linear(features, mlp)
            head["hidden2"] = nn.Linear(mlp, half)
            head["out"] = nn.Linear(half, cfg.num_classes)
        else:
            head["hidden"] = nn.Linear(features, mlp)
            head["out"] = nn.Linear(mlp, cfg.num_classes)
        self.head = nn.ModuleDict(head)

    def encode(self, inp, mask):
        """inp: ids [B, L] (int64) or pixels [B, L, 1]; mask [B, L] 0/1 or None. Returns (x, full mask)."""
        cfg = self.cfg
        x = self.embed[inp] if cfg.input == "tokens" else self.encoder(inp)
        B, L = x.shape[0], x.shape[1]
        full = mask if mask is not None else torch.ones(B, L, dtype=torch.int64)
        if cfg.mask_zero_pixels:
            # LRA (transformer.py): src_padding_mask = (inputs > 0), the raw token / pixel values (here the
            # pixels are ids / 255, so pixel 0 is 0.0).
            raw = inp if cfg.input == "tokens" else inp[:, :, 0]
            full = full * (raw > 0).to(full.dtype)
        if cfg.cls_token:
            x = torch.cat([self.cls.expand(B, 1, cfg.width), x], dim=1)
            full = torch.cat([full[:, :1], full], dim=1)  # the cls row copies token 0's mask
        if cfg.position == "learned":
            x = x + self.pos[: x.shape[1]]
        elif cfg.position == "sinusoidal":
            x = x + self.sinusoid[: x.shape[1]].to(x.dtype)
        # Without a caller mask and a cls row there is no padding: the mixers get no mask at all.
        mixer_mask = full if (mask is not None or cfg.cls_token or cfg.mask_zero_pixels) else None
        for block in self.blocks:
            x = block(x, mixer_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x, full

    def pool(self, x, full):
        p = self.cfg.pooling
        if p == "cls":
            return x[:, 0]
        if p == "masked_mean":
            m = full.to(x.dtype)[:, :, None]
            count = m.sum(1)
            return (x * m).sum(1) / count.clamp(min=1)  # an all-padding row pools to 0
        if p == "sum":
            return x.sum(1)
        return x.mean(1)  # "mean": every position, padding included (the LRA code)

    def classify(self, features):
        h = features
        for name in ("hidden", "hidden2"):
            if name in self.head:
                h = F.relu(self.head[name](h))
        return self.head["out"](h)

    def forward(self, inp, mask, inp2=None, mask2=None):
        u = self.pool(*self.encode(inp, mask))
        if not self.cfg.dual:
            return self.classify(u)
        v = self.pool(*self.encode(inp2, mask2))
        if self.cfg.interaction == "nli":
            return self.classify(torch.cat([u, v, u * v, u - v], dim=1))
        return self.classify(torch.cat([u, v], dim=1))


# --- attention mixers ------------------------------------------------------------------------------


def rope(x, base, disable_half):
    """Rotary embedding of x [..., L, D]: pair (2i, 2i+1) as a complex number times exp(i·p·theta_i)."""
    L, D = x.shape[-2], x.shape[-1]
    theta = torch.pow(torch.tensor(float(base), dtype=torch.float64), -torch.arange(0, D, 2, dtype=torch.float64) / D)
    if disable_half:
        theta[0::2] = 0
    angle = (torch.arange(L, dtype=torch.float64)[:, None] * theta[None, :]).to(x.dtype)
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], D // 2, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).reshape(x.shape)


def las_alphas(H, B):
    a = [0.0] * H
    for c in range(1, H):
        t = (H - 1 - c) / (H - 2) if H > 2 else 0.0
        a[c] = B * 100.0 ** (-t)
    return torch.tensor(a, dtype=torch.float32).to(torch.float64)  # fixed constants, float32 in the engine


class Attention(nn.Module):
    """Multi-head softmax attention with an explicit [L, L] score matrix: full, causal, block-local
    (contiguous or strided_fixed groups), LaS (decay + smoothing) and LaS inside chunks; LRA's strided
    local attention as its code computes it (lra_local)."""

    def __init__(self, cfg, max_len, kind):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        self.kind = kind
        self.rotary = cfg.get_string("rotary", "none")  # rotary_transformer's default "head" comes with the file
        self.base = cfg.get("rotary_base", 10000.0)
        self.causal = cfg.get_flag("causal") or kind in ("las", "las_chunk")
        if kind in ("las", "las_chunk"):
            self.alpha = las_alphas(self.H, cfg.get("las_B", 0.1))
            self.P = cfg.get("las_P", 5)
        self.chunk = {"las_chunk": cfg.get("chunk", 64), "local": cfg.get("block", 50)}.get(kind, 0)
        grouping = cfg.get_string("grouping", "contiguous") if kind == "local" else "contiguous"
        self.lra_strided = grouping == "strided"     # LRA's local_attention.py as written (lra_local below)
        self.strided = grouping == "strided_fixed"   # its grouping with the mask regrouped, no extra block
        # LRA's padding mask on queries and keys (flax nn.attention: make_padding_mask(q, k), bias −1e10).
        self.query_mask = cfg.mask_zero_pixels
        bias = cfg.get_flag("attention_bias")
        self.qkv = nn.Linear(D, 3 * self.Q, bias=bias)
        self.out = nn.Linear(self.Q, D, bias=bias)

    def allowed(self, L):
        """[L, L] bool: may query i attend to key j, by structure (the key mask comes on top)."""
        i = torch.arange(L)[:, None]
        j = torch.arange(L)[None, :]
        ok = torch.ones(L, L, dtype=torch.bool)
        if self.causal:
            ok &= j <= i
        if self.chunk > 0:
            if self.strided:
                # strided_fixed: L padded to n·C (n = ceil(L/C)) and viewed [C, n]; group g is column g.
                n = -(-L // self.chunk)
                ok &= (i % n) == (j % n)
            else:
                ok &= (i // self.chunk) == (j // self.chunk)
        return ok

    def project(self, x):
        """q, k, v [B, H, L, d] of x [B, L, D], rotary applied."""
        B, L, _ = x.shape
        H, Q = self.H, self.Q
        d = Q // H
        q, k, v = self.qkv(x).split(Q, dim=-1)
        if self.rotary in ("full", "half"):
            q, k = rope(q, self.base, self.rotary == "half"), rope(k, self.base, self.rotary == "half")
        q, k, v = (t.reshape(B, L, H, d).transpose(1, 2) for t in (q, k, v))
        if self.rotary == "head":
            q, k = rope(q, self.base, False), rope(k, self.base, False)
        return q, k, v

    def lra_local(self, x, mask):
        """grouping = strided: LRA's LocalAttention.apply (google-research/long-range-arena,
        lra_benchmarks/models/local/local_attention.py) step by step, line numbers of that file."""
        B, L, _ = x.shape
        C, H, Q = self.chunk, self.H, self.Q
        d = Q // H
        extra = C - L % C  # :228, a whole extra block when C divides L
        Lp, n = L + extra, (L + extra) // C
        x = torch.cat([x, x.new_zeros(B, extra, x.shape[2])], dim=1)  # :232, zero rows, before the projections
        # :237 pads the boolean mask (inputs > 0, local.py:150) with -1e9, which a boolean array stores as
        # True: the padded tail counts as real tokens.
        pm = mask.bool() if mask is not None else torch.ones(B, L, dtype=torch.bool)
        pm = torch.cat([pm, torch.ones(B, extra, dtype=torch.bool)], dim=1)
        q, k, v = (t.transpose(1, 2).reshape(B, C, n, H, d) for t in self.project(x))  # :318-323
        # :342-355: the mask cut contiguously into (B·n, C) rows, then query × key per row (flax
        # make_padding_mask multiplies the two); row g masks group g's slots.
        pm = pm.reshape(B, n, C)
        allowed = (pm[:, :, :, None] & pm[:, :, None, :])[:, :, None]  # [B, n, 1, C, C]
        # local_dot_product_attention with axis (1,): batch dims (B, n, H), attention over the C slots.
        s = torch.einsum("bcnhd,bknhd->bnhck", q, k) / math.sqrt(d)
        # :379-381 bias −1e10 where the mask is 0. In float32 −1e10 + s rounds to −1e10 for any |s| < 512,
        # so the masked logits are replaced (a row masked everywhere becomes uniform), as masked_fill does.
        s = s.masked_fill(~allowed, -1e10)
        if self.causal:  # LRA's causal local path does not run; ours is causal inside each group
            s = s.masked_fill(torch.ones(C, C, dtype=torch.bool).triu(1), float("-inf"))
        p = torch.softmax(s, dim=-1)
        y = torch.einsum("bnhck,bknhd->bcnhd", p, v).reshape(B, Lp, Q)  # :399
        return self.out(y)[:, :L]  # :402-413

    def forward(self, x, mask):
        if self.lra_strided:
            return self.lra_local(x, mask)
        B, L, _ = x.shape
        H, Q = self.H, self.Q
        d = Q // H
        q, k, v = self.project(x)
        s = q @ k.transpose(-1, -2) / math.sqrt(d)  # [B, H, L, L]
        if self.kind in ("las", "las_chunk"):
            dist = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs().to(s.dtype)
            s = s * torch.exp(-self.alpha.to(s.dtype)[None, :, None, None] * dist)
        ok = self.allowed(L)[None, None]
        if mask is not None:
            ok = ok & (mask[:, None, None, :] != 0)
        if self.query_mask and mask is not None:
            # flax: every mask component is and-ed into one [B, 1, L, L] mask, then the bias is 0 where it
            # holds and −1e10 elsewhere, added to the logits. In float32 (LRA's dtype) s − 1e10 rounds to
            # exactly −1e10 for |s| < 512, so a masked query's row is constant: uniform weights over all L
            # keys, masked ones included; its output is not zeroed. A fill states that float32 result
            # (an add in float64 would keep s and give the unmasked softmax instead).
            ok = ok & (mask[:, None, :, None] != 0)
            p = torch.softmax(s.masked_fill(~ok, -1e10), dim=-1)
            out = (p @ v).transpose(1, 2).reshape(B, L, Q)
            return self.out(out)
        ok = ok.expand(B, H, L, L)
        any_key = ok.any(-1, keepdim=True)
        s = s.masked_fill(~ok, float("-inf")).masked_fill(~any_key, 0.0)
        p = torch.softmax(s, dim=-1) * ok  # a query with no key gets all-zero weights
        if self.kind in ("las", "las_chunk") and self.P > 1:
            # LaS smoothing of each row of the attention matrix along the keys.
            p = F.avg_pool1d(p.reshape(-1, 1, L), self.P, stride=1, padding=(self.P - 1) // 2,
                             count_include_pad=True).reshape(B, H, L, L)
        out = (p @ v).transpose(1, 2).reshape(B, L, Q)
        return self.out(out)


class Linformer(nn.Module):
    """LRA's Linformer (lra_benchmarks/models/linformer/linformer_attention.py): q, k, v from bias-free
    dense layers; ONE learned length projection E [max_len, k] per layer, shared by keys and values and
    by every head, its first L rows used; softmax(q K'^T / sqrt(d)) V' with K' = E^T K, V' = E^T V. No mask
    (LRA ignores the padding mask here); mask_padding (the engine's option) zeroes padded k and v rows."""

    def __init__(self, cfg, max_len):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        self.mask_padding = cfg.get_flag("mask_padding")
        self.query = nn.Linear(D, self.Q, bias=False)
        self.key = nn.Linear(D, self.Q, bias=False)
        self.value = nn.Linear(D, self.Q, bias=False)
        self.out = nn.Linear(self.Q, D, bias=False)
        self.proj = nn.Parameter(torch.empty(max_len, cfg.get("k", 16)))

    def forward(self, x, mask):
        B, L, _ = x.shape
        H, d = self.H, self.Q // self.H
        q, k, v = (f(x).reshape(B, L, H, d) for f in (self.query, self.key, self.value))
        if self.mask_padding and mask is not None:
            keep = mask[:, :, None, None].to(x.dtype)
            k, v = k * keep, v * keep
        E = self.proj[:L]
        k = torch.einsum("blhd,lr->brhd", k, E)
        v = torch.einsum("blhd,lr->brhd", v, E)
        s = torch.einsum("blhd,brhd->bhlr", q / math.sqrt(d), k)
        out = torch.einsum("bhlr,brhd->blhd", torch.softmax(s, dim=-1), v)
        return self.out(out.reshape(B, L, self.Q))


class Synthesizer(nn.Module):
    """LRA's Synthesizer (lra_benchmarks/models/synthesizer/synthesizer_attention.py), with the explicit
    [B, H, L, L] logits: the sum of q k^T / sqrt(d) (dot_product), R[:, :L, :L] (random), R1[:, :L] R2[:, :, :L]
    (factorized_random) and relu(x W1) W2 (dense: a Dense(d -> max_len) on each head's features, then
    LRA's reshape of [B, L, H, M] to [B, H, L, M], or a transpose), sliced to L keys. Padded keys are
    masked only with the dot product (LRA applies no mask otherwise)."""

    ENGINE_NAMES = {"dense_syn2": ("dense_syn2.weight", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        d = self.Q // self.H
        self.mode = cfg.get_string("mode", "random")
        self.dot = cfg.get_flag("dot_product", True)
        self.reshape = cfg.get_string("dense_layout", "reshape") == "reshape"
        k = cfg.get("k", 32)
        if self.dot:
            self.query = nn.Linear(D, self.Q, bias=False)
            self.key = nn.Linear(D, self.Q, bias=False)
        self.value = nn.Linear(D, self.Q, bias=False)
        if "factorized_random" in self.mode:
            self.random1 = nn.Parameter(torch.empty(self.H, max_len, k))
            self.random2 = nn.Parameter(torch.empty(self.H, k, max_len))
        elif "random" in self.mode:
            self.random = nn.Parameter(torch.empty(self.H, max_len, max_len))
        if "dense" in self.mode:
            self.dense_syn = nn.Linear(D, self.Q, bias=False)
            self.dense_syn2 = nn.Linear(d, max_len, bias=False)
        self.out = nn.Linear(self.Q, D, bias=False)

    def forward(self, x, mask):
        B, L, _ = x.shape
        H, d = self.H, self.Q // self.H
        s = x.new_zeros(B, H, L, L)
        if self.dot:
            q = self.query(x).reshape(B, L, H, d) / math.sqrt(d)
            s = s + torch.einsum("blhd,bmhd->bhlm", q, self.key(x).reshape(B, L, H, d))
        if "factorized_random" in self.mode:
            s = s + (self.random1[:, :L] @ self.random2[:, :, :L])[None]
        elif "random" in self.mode:
            s = s + self.random[None, :, :L, :L]
        if "dense" in self.mode:
            w = self.dense_syn2(F.relu(self.dense_syn(x)).reshape(B, L, H, d))  # [B, L, H, M]
            w = w.reshape(B, H, L, -1) if self.reshape else w.transpose(1, 2)
            s = s + w[..., :L]
        if self.dot and mask is not None:
            ok = (mask[:, None, None, :] != 0).expand(B, H, L, L)
            any_key = ok.any(-1, keepdim=True)
            s = s.masked_fill(~ok, float("-inf")).masked_fill(~any_key, 0.0)
            p = torch.softmax(s, dim=-1) * ok
        else:
            p = torch.softmax(s, dim=-1)
        out = torch.einsum("bhlm,bmhd->blhd", p, self.value(x).reshape(B, L, H, d))
        return self.out(out.reshape(B, L, self.Q))


# --- convolution mixers ----------------------------------------------------------------------------


def _conj_pairs(t):
    """The engine's (re, im) pairs → the complex conjugate's pairs (the engine stores S4's B and C conjugated)."""
    return t * torch.tensor([1.0, -1.0], dtype=t.dtype)


class S4D(nn.Module):
    """S4D as state-spaces/s4 writes it: SSMKernelDiag (src/models/sequence/kernels/ssm.py: register_params
    and _get_params for the parameterisation, forward for ZOH/bilinear and log_vandermonde_naive for the
    sum) inside FFTConv (bidirectional: channels = 2, k0 causal and k1 flipped) and S4Block (GELU, 1×1
    convolution to 2H, GLU); with dt_transform = exp, n_ssm = H and B = 1 this is models/s4/s4d.py.

    S4's layout: inv_dt [H, 1], dt = exp or softplus of it; A = −exp(A_real) − i·A_imag with A_real,
    A_imag [n_ssm, N/2]; B [n_ssm, N/2] complex; C [channels, H, N/2] complex; (A, B) of channel h is copy
    h mod n_ssm (einops repeat '(v t)'). The engine keeps A_imag's values with the opposite sign of Im A, so
    its modes, B and C are the complex conjugates of S4's (ENGINE_NAMES conjugates B and C back)."""

    def __init__(self, cfg, max_len):
        super().__init__()
        H, M = cfg.width, cfg.get("ssm_n", 64) // 2
        S = cfg.get("n_ssm", 0) or H
        self.H, self.S = H, S
        self.bidirectional = cfg.get_flag("bidirectional")
        self.softplus = cfg.get_string("dt_transform", "exp") == "softplus"
        self.bilinear = cfg.get_string("disc", "zoh") == "bilinear"
        self.ENGINE_NAMES = {
            ("inv_dt" if self.softplus else "log_dt"): ("inv_dt", lambda t: t[:, None]),
            "B": ("B", _conj_pairs), "C": ("C", lambda t: _conj_pairs(t)[None]),
            "out_weight": ("output_linear.weight", lambda w: w[:, :, None]),
            "out_bias": ("output_linear.bias", None)}
        if self.bidirectional:
            self.ENGINE_NAMES["C_anti"] = ("C_anti", lambda t: _conj_pairs(t)[None])
        self.ENGINE_NAMES["log_A_real"] = ("A_real", None)
        self.inv_dt = nn.Parameter(torch.empty(H, 1))
        self.A_real = nn.Parameter(torch.empty(S, M))
        self.A_imag = nn.Parameter(torch.empty(S, M))
        self.B = nn.Parameter(torch.empty(S, M, 2))
        self.C = nn.Parameter(torch.empty(1, H, M, 2))
        if self.bidirectional:
            self.C_anti = nn.Parameter(torch.empty(1, H, M, 2))
        self.D = nn.Parameter(torch.empty(H))
        self.output_linear = nn.Conv1d(H, 2 * H, kernel_size=1)

    def kernel(self, L):
        """K [channels, H, L] as SSMKernelDiag.forward computes it."""
        dt = F.softplus(self.inv_dt) if self.softplus else torch.exp(self.inv_dt)  # [H, 1]
        A = -torch.exp(self.A_real) - 1j * self.A_imag  # [S, M]
        B = torch.view_as_complex(self.B.contiguous())
        copy = torch.arange(self.H) % self.S
        A, B = A[copy], B[copy]  # [H, M]
        C = self.C if not self.bidirectional else torch.cat([self.C, self.C_anti], dim=0)
        C = B[None] * torch.view_as_complex(C.contiguous())  # [channels, H, M]
        dtA = dt * A
        if self.bilinear:
            C = C * (1.0 - dtA / 2).reciprocal() * dt
            x = ((1.0 + dtA / 2) / (1.0 - dtA / 2)).log()
        else:
            C = C * (torch.exp(dtA) - 1.0) / A
            x = dtA
        powers = torch.exp(x[..., None] * torch.arange(L, dtype=dt.dtype))  # log_vandermonde_naive
        return 2 * torch.einsum("chn,hnl->chl", C, powers).real

    def forward(self, x, mask):
        u = masked(x, mask).transpose(1, 2)  # [B, H, L]
        L = u.shape[-1]
        k = self.kernel(L)
        if self.bidirectional:
            k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
        else:
            k = k[0]
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = gelu(y + u * self.D[:, None])
        y = F.glu(self.output_linear(y), dim=1)
        return y.transpose(1, 2)


def s4d_legs_init(N):
    """S4D-LegS's (Λ, B) as state-spaces/s4 builds them (src/models/hippo/hippo.py transition('legs') and
    nplr with B_clip = 2, dplr.py init 'legs'), in float64 with torch.linalg.eigh, each eigenvector's phase
    fixed so its first component is real and positive (LAPACK's convention, which the clip depends on).
    Returns S4's stored A_real, A_imag and B (complex, S4's sign) for the N/2 kept modes."""
    n = torch.arange(N, dtype=torch.float64)
    r = torch.sqrt(2 * n + 1)
    A = -torch.where(n[:, None] > n[None, :], r[:, None] * r[None, :], torch.diag(n + 1))
    B = r.clone()
    P = torch.sqrt(n + 0.5)
    S = A + P[:, None] * P[None, :]
    w_re = torch.diagonal(S).mean()
    w_im, V = torch.linalg.eigh(S.to(torch.complex128) * -1j)
    idx = torch.argsort(w_im)[: N // 2]
    w_im, V = w_im[idx], V[:, idx]
    V = V * (V[0].conj() / V[0].abs())[None, :]  # first component real and positive
    Bt = V.conj().T @ B.to(torch.complex128)
    Bt = torch.complex(Bt.real, Bt.imag.clamp(-2.0, 2.0))
    return torch.log(-w_re).expand(N // 2), (-w_im).clamp(min=1e-4), Bt


def linear_recurrence(lam, b):
    """x_t = lam * x_{t-1} + b_t (x_{-1} = 0) along dim 1 of b [B, L, N] (complex), lam [N]: the parallel
    prefix scan of the operator (a_i, b_i) . (a_j, b_j) = (a_j a_i, a_j b_i + b_j) that minimal-LRU runs
    with jax.lax.associative_scan, in the Hillis-Steele form (log2 L doubling steps)."""
    L = b.shape[1]
    a = lam.expand(L, lam.shape[0])
    x = b
    step = 1
    while step < L:
        x = torch.cat([x[:, :step], x[:, step:] + a[step:] * x[:, :-step]], dim=1)
        a = torch.cat([a[:step], a[step:] * a[:-step]], dim=0)
        step *= 2
    return x


class LRU(nn.Module):
    """The Linear Recurrent Unit (Orvieto et al. 2023) and the block around it, as NicolasZucchet/minimal-LRU
    lru/model.py (LRU, SequenceLayer): lambda = exp(-exp(nu_log) + i exp(theta_log)), B_norm = (B_re + i B_im)
    * exp(gamma_log), h_t = lambda h_{t-1} + B_norm u_t, y = Re(C h) + D u, then GELU (tanh form, flax's
    default), out1(y) * sigmoid(out2(y)). bidirectional (the engine's extension): a reverse-time scan over the
    same lambda and B_norm u, read out by its own C and added. mask_padding zeroes padded inputs first."""

    ENGINE_NAMES = {"out_weight": ("out.weight", None), "out_bias": ("out.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        H, N = cfg.width, cfg.get("ssm_n", 128)
        self.bidirectional = cfg.get_flag("bidirectional")
        self.mask_padding = cfg.get_flag("mask_padding")
        self.glu = cfg.get_flag("glu", True)
        self.gelu_tanh = cfg.get_flag("gelu_tanh", True)
        for name in ("nu_log", "theta_log", "gamma_log"):
            setattr(self, name, nn.Parameter(torch.empty(N)))
        self.B_re, self.B_im = nn.Parameter(torch.empty(N, H)), nn.Parameter(torch.empty(N, H))
        self.C_re, self.C_im = nn.Parameter(torch.empty(H, N)), nn.Parameter(torch.empty(H, N))
        if self.bidirectional:
            self.C_re_rev, self.C_im_rev = nn.Parameter(torch.empty(H, N)), nn.Parameter(torch.empty(H, N))
        self.D = nn.Parameter(torch.empty(H))
        if self.glu:
            self.out = nn.Linear(H, 2 * H)  # out1 (rows :H) and out2 (rows H:) of SequenceLayer

    def forward(self, x, mask):
        u = masked(x, mask) if self.mask_padding else x
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        B_norm = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log)[:, None]
        bu = torch.einsum("nh,blh->bln", B_norm, u.to(B_norm.dtype))
        y = torch.einsum("hn,bln->blh", torch.complex(self.C_re, self.C_im), linear_recurrence(lam, bu)).real
        if self.bidirectional:
            rev = linear_recurrence(lam, bu.flip(1)).flip(1)
            y = y + torch.einsum("hn,bln->blh", torch.complex(self.C_re_rev, self.C_im_rev), rev).real
        y = y + self.D * u
        if not self.glu:
            return y
        y = F.gelu(y, approximate="tanh") if self.gelu_tanh else gelu(y)
        z = self.out(y)
        H = y.shape[-1]
        return z[..., :H] * torch.sigmoid(z[..., H:])


class S5(nn.Module):
    """S5 (Smith, Warrington, Linderman 2023) as lindermanlab/S5 defines it: s5/ssm.py (S5SSM.setup's
    discretisation, apply_ssm) and s5/layers.py (SequenceLayer's activations), with the recurrence in complex
    arithmetic by repeated doubling (the reference's associative_scan computes the same sums).
    The layer's last dropout and the residual are the backbone's; every parameter comes from the dump."""

    def __init__(self, cfg, max_len):
        super().__init__()
        H = cfg.width
        P = cfg.get("ssm_size", 256)
        self.conj_sym = cfg.get_flag("conj_sym", True)
        P2 = P // 2 if self.conj_sym else P
        self.bidirectional = cfg.get_flag("bidirectional")
        self.c_init = cfg.get_string("c_init", "trunc_standard_normal")
        self.discretization = cfg.get_string("discretization", "zoh")
        self.clip_eigs = cfg.get_flag("clip_eigs")
        self.activation = cfg.get_string("activation_fn", "half_glu1")
        self.Lambda_re = nn.Parameter(torch.empty(P2))
        self.Lambda_im = nn.Parameter(torch.empty(P2))
        self.B = nn.Parameter(torch.empty(P2, H, 2))
        if self.c_init == "complex_normal":
            self.C = nn.Parameter(torch.empty(H, (2 if self.bidirectional else 1) * P2, 2))
        elif self.bidirectional:
            self.C1 = nn.Parameter(torch.empty(H, P2, 2))
            self.C2 = nn.Parameter(torch.empty(H, P2, 2))
        else:
            self.C = nn.Parameter(torch.empty(H, P2, 2))
        self.D = nn.Parameter(torch.empty(H))
        self.log_step = nn.Parameter(torch.empty(P2))
        if self.activation == "full_glu":
            self.out1 = nn.Linear(H, H)
        if self.activation != "gelu":
            self.out2 = nn.Linear(H, H)

    ENGINE_NAMES = {"out1_weight": ("out1.weight", None), "out1_bias": ("out1.bias", None),
                    "out2_weight": ("out2.weight", None), "out2_bias": ("out2.bias", None)}

    @staticmethod
    def recurrence(Lambda_bar, Bu, reverse):
        """x_t = Λ̄ x_{t−1} + Bu_t (reverse: x_t = Λ̄ x_{t+1} + Bu_t, the current input included), by the
        doubling form of jax.lax.associative_scan (linear_recurrence, which the LRU oracle shares)."""
        x = linear_recurrence(Lambda_bar, Bu.flip(1) if reverse else Bu)
        return x.flip(1) if reverse else x

    def forward(self, x, mask):
        re = torch.clamp(self.Lambda_re, max=-1e-4) if self.clip_eigs else self.Lambda_re
        Lambda = torch.complex(re, self.Lambda_im)
        step = torch.exp(self.log_step)
        B_tilde = torch.view_as_complex(self.B.contiguous())
        if self.discretization == "zoh":
            Lambda_bar = torch.exp(Lambda * step)
            B_bar = ((Lambda_bar - 1) / Lambda)[:, None] * B_tilde
        else:
            BL = 1 / (1 - (step / 2) * Lambda)
            Lambda_bar = BL * (1 + (step / 2) * Lambda)
            B_bar = (BL * step)[:, None] * B_tilde
        Bu = torch.einsum("ph,blh->blp", B_bar, x.to(B_bar.dtype))
        xs = self.recurrence(Lambda_bar, Bu, False)
        if self.bidirectional:
            xs = torch.cat([xs, self.recurrence(Lambda_bar, Bu, True)], dim=-1)
        if hasattr(self, "C1"):
            C_tilde = torch.cat([torch.view_as_complex(self.C1.contiguous()),
                                 torch.view_as_complex(self.C2.contiguous())], dim=-1)
        else:
            C_tilde = torch.view_as_complex(self.C.contiguous())
        y = torch.einsum("hp,blp->blh", C_tilde, xs).real
        y = (2 * y if self.conj_sym else y) + self.D * x
        if self.activation == "gelu":
            return gelu(y)
        g = gelu(y)  # dropout 0 in every parity case
        if self.activation == "half_glu1":
            return g * torch.sigmoid(self.out2(g))
        if self.activation == "half_glu2":
            return y * torch.sigmoid(self.out2(g))
        return self.out1(g) * torch.sigmoid(self.out2(g))


class SGConv(nn.Module):
    """SGConv (Li et al. 2022) as the authors' GConv (ctlllll/SGConv branch preview,
    src/models/sequence/gconv.py), cat modes, transposed=False, postact glu, l_max = max_len: sub-kernel i is
    F.interpolate(..., scale_factor=2**(max(0, i-1) + init_scale), mode="linear") times
    multiplier**(S-1-i) (learnable modes: multiplier 1, then the concatenated kernel times
    exp(-decay·log(l+1))), concatenated, cut or zero-padded to L, divided by the stored kernel_norm (the
    engine's buffer: gconv.py measures it at the first forward, before any step; this oracle reads it),
    then S4's bidirectional FFT convolution at n = 2L, + D·u, GELU and Linear → GLU. The layer zeroes padded
    rows first, as the engine's convolution mixers do (gconv.py itself gets no mask)."""

    ENGINE_NAMES = {"D": ("D", lambda w: w[None, :]),
                    "out_weight": ("output_linear.weight", None), "out_bias": ("output_linear.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        H = cfg.width
        self.dk = cfg.get("kernel_dim", 64)
        self.init_scale = cfg.get("init_scale", 0)
        self.mode = cfg.get_string("mode", "cat_randn")
        self.bidirectional = cfg.get_flag("bidirectional")
        channels = 2 if self.bidirectional else 1
        S = cfg.get("n_scales", 0) or 1 + math.ceil(math.log2(max_len / self.dk)) - self.init_scale
        self.S = max(S, 1)  # gconv.py would build no scale at all when kernel_dim > l_max
        self.kernel_list = nn.ParameterList([nn.Parameter(torch.empty(channels, H, self.dk)) for _ in range(self.S)])
        self.ENGINE_NAMES = dict(SGConv.ENGINE_NAMES)
        self.ENGINE_NAMES.update({f"kernel_{i}": (f"kernel_list.{i}", None) for i in range(self.S)})
        self.D = nn.Parameter(torch.empty(1, H))
        lo, hi = cfg.get("decay_min", 1.0), cfg.get("decay_max", 4.0)
        # The buffers' values here only serve tools/bench (parity reads the engine's from the dump).
        if "learnable" in self.mode:
            self.register_buffer("decay", torch.rand(H) * (hi - lo) + lo)  # gconv.py: a Parameter frozen by "fixed"
        else:
            self.register_buffer("multiplier", torch.linspace(lo, hi, H))
        self.register_buffer("kernel_norm", torch.ones(channels, H))
        self.output_linear = nn.Linear(H, 2 * H)

    def forward(self, x, mask):
        u = masked(x, mask).transpose(1, 2)  # [B, H, L]
        L = u.shape[-1]
        learnable = "learnable" in self.mode
        m = 1.0 if learnable else self.multiplier.view(1, -1, 1)
        parts = [F.interpolate(w, scale_factor=2 ** (max(0, i - 1) + self.init_scale), mode="linear")
                 * m ** (self.S - i - 1) for i, w in enumerate(self.kernel_list)]
        k = torch.cat(parts, dim=-1)
        if learnable:
            pos = torch.log(torch.arange(k.shape[-1], dtype=k.dtype) + 1)
            k = k * torch.exp(-self.decay.view(1, -1, 1) * pos.view(1, 1, -1))
        k = k[..., :L] if k.shape[-1] >= L else F.pad(k, (0, L - k.shape[-1]))
        k = k / self.kernel_norm[:, :, None]
        if self.bidirectional:
            k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
        else:
            k = k[0]
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        # GELU on a contiguous [B, L, H]: torch 1.13's float32 GELU backward returns garbage for a gradient
        # with transposed strides, which the Linear on y.transpose(1, 2) would hand it.
        y = gelu((y + u * self.D.view(-1, 1)).transpose(1, 2).contiguous())
        return F.glu(self.output_linear(y), dim=-1)


class S4(nn.Module):
    """S4 with the DPLR kernel, as state-spaces/s4 src/models/sequence/kernels/ssm.py SSMKernelDPLR.forward
    (rank 1, no state), the Cauchy sums as src/models/functional/cauchy.py cauchy_naive (the [.., N, L]
    matrix: fine at test sizes), FFTConv (fftconv.py, bidirectional: both directions from one kernel call
    with two C rows) and S4Block (GELU, then a 1x1 convolution to 2H with GLU). The kernel is evaluated at
    the attuned length l_max = the mixer's max_len and truncated to L. The trained C is the dumped C̃ (the
    reference overwrites C with C̃ on its first forward); the nodes ω^k are computed in double, where the
    reference's expression at the Nyquist node is within ~1e-16 of the exact limit the engine takes."""

    ENGINE_NAMES = {"out_weight": ("output_linear.weight", lambda w: w[:, :, None]),
                    "out_bias": ("output_linear.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        H, M = cfg.width, cfg.get("ssm_n", 64) // 2
        S = cfg.get("n_ssm", 1) or H
        self.H, self.S, self.l_max = H, S, max_len
        self.bidirectional = cfg.get_flag("bidirectional")
        self.softplus = cfg.get_string("dt_transform", "softplus") == "softplus"
        channels = 2 if self.bidirectional else 1
        self.inv_dt = nn.Parameter(torch.empty(H))
        self.log_A_real = nn.Parameter(torch.empty(S, M))
        self.A_imag = nn.Parameter(torch.empty(S, M))
        self.P = nn.Parameter(torch.empty(S, M, 2))  # view_as_real, as the reference registers them
        self.B = nn.Parameter(torch.empty(S, M, 2))
        self.C = nn.Parameter(torch.empty(channels, H, M, 2))
        self.D = nn.Parameter(torch.empty(H))
        self.output_linear = nn.Conv1d(H, 2 * H, kernel_size=1)

    @staticmethod
    def cauchy_naive(v, z, w):
        """Σ_n v/(z − w) over the modes and their conjugates: v, w [..., N], z [L] → [..., L]."""
        v = torch.cat([v, v.conj()], dim=-1)
        w = torch.cat([w, w.conj()], dim=-1)
        return torch.sum(v.unsqueeze(-1) / (z - w.unsqueeze(-1)), dim=-2)

    def kernel(self, L):
        dt = F.softplus(self.inv_dt) if self.softplus else torch.exp(self.inv_dt)  # (H)
        copy = torch.arange(self.H) % self.S  # channel h uses SSM copy h mod n_ssm
        A = (-torch.exp(self.log_A_real) - 1j * self.A_imag)[copy]  # (H, M)
        B = torch.view_as_complex(self.B.contiguous())[copy]
        P = torch.view_as_complex(self.P.contiguous())[copy]
        Q = P.conj()
        C = torch.view_as_complex(self.C.contiguous())  # (channels, H, M)
        n = self.l_max
        k = torch.arange(n // 2 + 1, dtype=dt.dtype)
        omega = torch.polar(torch.ones_like(k), -2 * math.pi * k / n)
        z = 2 * (1 - omega) / (1 + omega)
        Bs = torch.stack([B, P])  # (2, H, M)
        Cs = torch.cat([C, Q[None]])  # (channels + 1, H, M)
        v = Bs[:, None] * Cs[None] * dt[:, None]  # (2, channels + 1, H, M)
        r = self.cauchy_naive(v, z, A * dt[:, None])  # (2, channels + 1, H, n/2 + 1)
        k_f = r[:-1, :-1] - r[:-1, -1:] * r[-1:, :-1] / (1 + r[-1:, -1:])
        k_f = k_f * 2 / (1 + omega)
        return torch.fft.irfft(k_f, n=n)[0, :, :, :L]  # (channels, H, L)

    def forward(self, x, mask):
        u = masked(x, mask).transpose(1, 2)  # [B, H, L]
        L = u.shape[-1]
        kk = self.kernel(L)
        k = kk[0]
        if self.bidirectional:
            k = F.pad(k, (0, L)) + F.pad(kk[1].flip(-1), (L, 0))
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = gelu(y + u * self.D[:, None])
        y = F.glu(self.output_linear(y), dim=1)
        return y.transpose(1, 2)


class GMLP(nn.Module):
    """gMLP with a free long spatial convolution, written from the predecessor's definition
    (pablomiralles22/long-transformers src/models/layers/gmlp.py, GMLP with mode="conv" and its
    SpatialConv; src/models/functional/fft_conv1d.py): z1 ⊙ LN(conv(z2) + bias).

    conv_scale=ortho runs the reference's FFT path as it is written: the engine's two kernels laid out as
    the reference's one [C, K] kernel (bidirectional: K = 2·max_len + 1, lag 0 at the centre tap K // 2,
    the tap of lag max_len zero as the engine has none; causal, the reference's "backward": K = max_len),
    rfft of signal and kernel and irfft, all with norm="ortho", at the length 2**(L + K − 1).bit_length(),
    the spectrum of kernel row c repeated over the channels (row j mod C), sliced at start = K // 2 (or 0).
    conv_scale=none is the true convolution (the reference's conv1d path for short kernels), F.conv1d.
    conv_bias=shared: C = groups biases, bias.repeat(h // C) as SpatialConv does; per_channel: h biases."""

    ENGINE_NAMES = {"in_weight": ("in_proj.weight", None), "in_bias": ("in_proj.bias", None),
                    "norm_weight": ("norm.weight", None), "norm_bias": ("norm.bias", None),
                    "out_weight": ("out_proj.weight", None), "out_bias": ("out_proj.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        D = cfg.width
        h = cfg.get("hidden", 0) or 2 * D
        g = cfg.get("groups", 2)
        self.h, self.g = h, g
        self.bidirectional = cfg.get_flag("bidirectional", True)
        self.ortho = cfg.get_string("conv_scale", "ortho") == "ortho"
        self.shared_bias = cfg.get_string("conv_bias", "shared") == "shared"
        self.in_proj = nn.Linear(D, 2 * h)
        self.kernel_causal = nn.Parameter(torch.empty(g, max_len))
        if self.bidirectional:
            self.kernel_anti = nn.Parameter(torch.empty(g, max_len))
        self.conv_bias = nn.Parameter(torch.empty(g if self.shared_bias else h))
        self.norm = nn.LayerNorm(h, eps=GMLP_NORM_EPS)
        self.out_proj = nn.Linear(h, D)
        self.register_buffer("row", torch.arange(h) % g, persistent=False)

    def reference_kernel(self):
        """The reference's SpatialConv.kernel [C, K] holding the engine's taps."""
        if not self.bidirectional:
            return self.kernel_causal
        zero = self.kernel_causal.new_zeros(self.g, 1)
        return torch.cat([self.kernel_anti.flip(-1), self.kernel_causal, zero], dim=1)

    def spatial_conv(self, u):
        """u [B, h, L] → [B, h, L]."""
        L = u.shape[-1]
        if self.ortho:
            kernel = self.reference_kernel()
            C, K = kernel.shape
            n = 2 ** (L + K - 1).bit_length()
            spectrum = torch.fft.rfft(u, dim=-1, n=n, norm="ortho")
            kernel_spectrum = torch.fft.rfft(kernel, dim=-1, n=n, norm="ortho").repeat(self.h // C, 1)
            full = torch.fft.irfft(spectrum * kernel_spectrum, dim=-1, n=n, norm="ortho")
            start = K // 2 if self.bidirectional else 0
            conv = full[:, :, start:start + L]
        else:
            kc = self.kernel_causal[self.row]
            ka = self.kernel_anti[self.row] if self.bidirectional else None
            conv = two_sided_conv(u, kc, ka)
        bias = self.conv_bias.repeat(self.h // self.g) if self.shared_bias else self.conv_bias
        return conv + bias[:, None]

    def forward(self, x, mask):
        z1, z2 = gelu(self.in_proj(x)).chunk(2, dim=-1)
        u = masked(z2, mask).transpose(1, 2)  # [B, h, L]
        c = self.spatial_conv(u).transpose(1, 2)
        return self.out_proj(z1 * self.norm(c))


def lra_sparse_mask(L, block, c, use_cls_token):
    """[L, L] bool, as lra_benchmarks/models/sparse_transformer/sparse_attention.py builds it: the union of
    Fixed1 (same block, k ≤ q) and Fixed2 (k mod block = 0 or k mod block ≥ block − c, k ≤ q); with
    use_cls_token the mask of L − 1 positions padded with an all-true first row and first column."""
    n = L - 1 if use_cls_token else L
    q = torch.arange(n)[:, None]
    k = torch.arange(n)[None, :]
    lower = k <= q
    fixed1 = lower & (torch.div(q, block, rounding_mode="floor") == torch.div(k, block, rounding_mode="floor"))
    r = torch.remainder(k, block)
    fixed2 = lower & ((r == 0) | (r >= block - c))
    mask = fixed1 | fixed2
    if use_cls_token:
        mask = F.pad(mask, (1, 0, 1, 0), value=True)
    return mask


def lra_sliding_window_mask(L, window):
    """[L, L] bool, as longformer_attention.py _build_sliding_window_mask builds it without global tokens:
    the sum of np.eye diagonals k = 0, −1, …, −(left − 1) and k = 1, …, right, right = window // 2,
    left = window − right."""
    right = window // 2
    left = window - right
    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None, :]
    diagonal = lambda k: j - i == k  # np.eye(L, k=k): ones at j = i + k
    m = torch.zeros(L, L, dtype=torch.bool)
    for k in range(left):
        m |= diagonal(-k)
    for k in range(1, right + 1):
        m |= diagonal(k)
    return m


class LraMaskedAttention(nn.Module):
    """The LRA attention modules of sparse_transformer and longformer: q, k, v from separate DenseGeneral
    layers with features (H, d) and no bias (kernels [D, H, d]), an output DenseGeneral over (H, d)
    (kernel [H, d, D], no bias), softmax(q·kᵀ/√d) under LRA's explicit L×L structural mask. Padding: keys
    only, as the engine (see README: LRA also masks padded queries, which changes only their rows)."""

    def __init__(self, cfg, max_len, kind):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 8)
        self.Q = cfg.get("qkv_dim", 0) or D
        d = self.Q // self.H
        self.kind = kind
        if kind == "sparse_transformer":
            self.block, self.c = cfg.get("block", 50), cfg.get("summary", 10)
            self.global_first = cfg.get_flag("global_first", True)
        else:
            self.window = cfg.get("window", 512)
            self.causal = cfg.get_flag("causal")
        self.query = nn.Parameter(torch.empty(D, self.H, d))
        self.key = nn.Parameter(torch.empty(D, self.H, d))
        self.value = nn.Parameter(torch.empty(D, self.H, d))
        self.out = nn.Parameter(torch.empty(self.H, d, D))
        H = self.H
        # engine Linear weight [Q, D] (row h·d + e) → DenseGeneral kernel [D, H, d]; out [D, Q] → [H, d, D]
        to_in = lambda w: w.t().reshape(w.shape[1], H, w.shape[0] // H)
        to_out = lambda w: w.t().reshape(H, w.shape[1] // H, w.shape[0])
        self.ENGINE_NAMES = {"query.weight": ("query", to_in), "key.weight": ("key", to_in),
                             "value.weight": ("value", to_in), "out.weight": ("out", to_out)}

    def allowed(self, L):
        if self.kind == "sparse_transformer":
            return lra_sparse_mask(L, self.block, self.c, self.global_first)
        ok = lra_sliding_window_mask(L, self.window)
        if self.causal:
            ok &= torch.ones(L, L, dtype=torch.bool).tril()
        return ok

    def forward(self, x, mask):
        B, L, _ = x.shape
        d = self.Q // self.H
        q, k, v = (torch.einsum("bld,dhe->bhle", x, w) for w in (self.query, self.key, self.value))
        s = q @ k.transpose(-1, -2) / math.sqrt(d)  # [B, H, L, L]
        ok = self.allowed(L)[None, None]
        if mask is not None:
            ok = ok & (mask != 0)[:, None, None, :]
        ok = ok.expand(B, self.H, L, L)
        any_key = ok.any(-1, keepdim=True)
        s = s.masked_fill(~ok, float("-inf")).masked_fill(~any_key, 0.0)
        p = torch.softmax(s, dim=-1) * ok  # a query with no key gets all-zero weights
        return torch.einsum("bhle,hef->blf", p @ v, self.out)


def _dense_conv_weight(g, K):
    """Engine conv_weight [g, K·Dg, Hg] (row k·Dg + i: tap k, input channel c·Dg + i; column j: output
    channel c·Hg + j) → PyTorch Conv1d weight [H, Dg, K]."""
    def convert(w):
        Dg, Hg = w.shape[1] // K, w.shape[2]
        return w.reshape(g, K, Dg, Hg).permute(0, 3, 2, 1).reshape(g * Hg, Dg, K)
    return convert


class ResidualConv(nn.Module):
    """The locality-bias probe: Conv1d(D→H, K, centred, groups g) → ReLU → Linear(H→D); kernel_size 0:
    a depthwise convolution over every lag, then Linear(D→H) → ReLU → Linear(H→D)."""

    def __init__(self, cfg, max_len):
        super().__init__()
        D = cfg.width
        H = cfg.get("hidden", 0) or D
        g = cfg.get("groups", 1)
        K = cfg.get("kernel_size", 0)
        self.full = K == 0
        if self.full:
            self.kernel_causal = nn.Parameter(torch.empty(D, max_len))
            if max_len > 1:
                self.kernel_anti = nn.Parameter(torch.empty(D, max_len - 1))
            self.proj = nn.Linear(D, H)
            self.ENGINE_NAMES = {"proj_weight": ("proj.weight", None), "proj_bias": ("proj.bias", None)}
        else:
            self.conv = nn.Conv1d(D, H, K, padding=K // 2, groups=g)
            self.ENGINE_NAMES = {"conv_weight": ("conv.weight", _dense_conv_weight(g, K)),
                                 "conv_bias": ("conv.bias", None)}
        self.out = nn.Linear(H, D)
        self.ENGINE_NAMES.update({"out_weight": ("out.weight", None), "out_bias": ("out.bias", None)})

    def forward(self, x, mask):
        u = masked(x, mask)
        if self.full:
            ka = getattr(self, "kernel_anti", None)
            y = self.proj(two_sided_conv(u.transpose(1, 2), self.kernel_causal, ka).transpose(1, 2))
        else:
            y = self.conv(u.transpose(1, 2)).transpose(1, 2)
        return self.out(F.relu(y))


# --- Sparse Sinkhorn attention ---------------------------------------------------------------------


class Sinkhorn(nn.Module):
    """Sparse Sinkhorn attention (Tay et al. 2020). Written from LRA's
    lra_benchmarks/models/sinkhorn_transformer/sinkhorn_attention.py in its own layout (blocks as
    [B, block, n_blocks, H, d], attention over axis 1) for variant "lra", and from the paper for "paper".
    Conventions the engine documents (models/mixers/sinkhorn.cpp): L padded to a multiple of the block
    with padding rows; a masked logit is replaced by -1e10 (what LRA's additive -1e10 gives in float32);
    LRA's sorting network multiplies the sorted keys by sum(softmax) = 1 and is left out."""

    def __init__(self, cfg, max_len):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        self.C = cfg.get("block", 50)
        self.paper = cfg.get_string("variant", "lra") == "paper"
        self.iters = cfg.get("sinkhorn_iters", 1)
        self.temperature = cfg.get("temperature", 1.0)
        self.query = nn.Linear(D, self.Q, bias=False)
        self.key = nn.Linear(D, self.Q, bias=False)
        self.value = nn.Linear(D, self.Q, bias=False)
        if self.paper:
            self.sort = nn.Linear(self.Q // self.H, cfg.get("max_num_blocks", 25), bias=False)
        self.out = nn.Linear(self.Q, D, bias=False)

    @staticmethod
    def attend(q, k, v, ok):
        """q [B, Cq, n, H, d], k and v [B, Ck, n, H, d] (attention over axis 1 for each of the n blocks),
        ok broadcastable to [B, n, H, Cq, Ck]."""
        s = torch.einsum("bsnhd,btnhd->bnhst", q / math.sqrt(q.shape[-1]), k)
        s = s.masked_fill(~ok, -1e10)
        return torch.einsum("bnhst,btnhd->bsnhd", torch.softmax(s, dim=-1), v)

    def forward(self, x, mask):
        B, L, _ = x.shape
        H, C = self.H, self.C
        d = self.Q // H
        n = -(-L // C)
        Lp = n * C
        m = mask if mask is not None else torch.ones(B, L, dtype=torch.int64)
        m = F.pad(m, (0, Lp - L))  # the padded tail is padding
        xp = F.pad(x, (0, 0, 0, Lp - L))
        q, k, v = (f(xp).reshape(B, Lp, H, d) for f in (self.query, self.key, self.value))
        if not self.paper:
            # LRA: jnp.reshape(query, (bs, block_size, num_blocks, H, d)), i.e. strided groups.
            bq, bk, bv = (t.reshape(B, C, n, H, d) for t in (q, k, v))
            # sorted_key = einsum('bskhd,bnhl->bsnhd', block_key, permutation): the sum over the blocks
            # times the permutation's row sums (1).
            sk = bk.sum(2, keepdim=True).expand_as(bk)
            sv = bv.sum(2, keepdim=True).expand_as(bv)
            # The padding mask reshaped contiguously to (bs * num_blocks, block) and made a query x key mask.
            pm = m.reshape(B, n, C)
            local = (pm[:, :, :, None] * pm[:, :, None, :]) > 0  # [B, n, C, C]
            # einsum('bksj,bnhl->bnsj', padding_mask, permutation) > 0: some block admits the pair.
            sorted_ok = local.any(1)  # [B, C, C]
            y = self.attend(bq, bk, bv, local[:, :, None]) + self.attend(bq, sk, sv, sorted_ok[:, None, None])
            y = y.reshape(B, Lp, self.Q)
        else:
            keep = m[:, :, None, None].to(x.dtype)
            k, v = k * keep, v * keep
            bq, bk, bv = (t.reshape(B, n, C, H, d) for t in (q, k, v))  # contiguous blocks
            R = self.sort(bk.sum(2))[..., :n].permute(0, 2, 1, 3) / self.temperature  # [B, H, target, source]
            for _ in range(self.iters):
                R = R - torch.logsumexp(R, dim=-1, keepdim=True)
                R = R - torch.logsumexp(R, dim=-2, keepdim=True)
            P = R.exp()
            sk = torch.einsum("bhij,bjchd->bichd", P, bk)
            sv = torch.einsum("bhij,bjchd->bichd", P, bv)
            keys = torch.cat([sk, bk], dim=2).permute(0, 2, 1, 3, 4)  # [B, 2C, n, H, d]
            values = torch.cat([sv, bv], dim=2).permute(0, 2, 1, 3, 4)
            rows = m.reshape(B, n, C) > 0
            slots = rows.any(1, keepdim=True).expand(B, n, C)  # a sorted slot mixes every block's slot
            ok = torch.cat([slots, rows], dim=2)[:, :, None, None, :]  # [B, n, 1, 1, 2C]
            y = self.attend(bq.permute(0, 2, 1, 3, 4), keys, values, ok)  # [B, C, n, H, d]
            y = y.permute(0, 2, 1, 3, 4).reshape(B, Lp, self.Q)
        return self.out(y[:, :L])


# --- LSH attention ---------------------------------------------------------------------------------


class Reformer(nn.Module):
    """LSH self-attention as google-research/long-range-arena computes it
    (lra_benchmarks/models/reformer/reformer_attention.py: ReformerAttention, hash_vectors,
    lsh_attention_single_head, look_one_back), written from that code in PyTorch: q and v projections
    (no bias, shared QK), L padded by chunk_len − L mod chunk_len zero rows, buckets argmax([qR, −qR]) per
    round plus round·n_buckets, ONE sort of the n_hashes·Lp keys Lp·bucket + position, the sorted
    sequence reshaped into n_hashes·n_buckets chunks, each attending to itself and the chunk before it
    (wrapping) with logits q·k·scale, logsumexp per row, unsort, rounds weighted by softmax of their
    logsumexp. The rotations are the engine's buffer (LRA draws them from a fixed PRNGKey(0)). Options:
    scale √d (LRA) or 1/√d, self mask −1e5 and key padding mask −1e9 (trax's values; LRA has neither),
    head merge by reshape (LRA: no transpose) or transpose, an optional output projection."""

    def __init__(self, cfg, max_len):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 8)
        self.d = D // self.H
        self.nh, self.nb, self.chunk_len = cfg.get("n_hashes", 1), cfg.get("n_buckets", 10), cfg.get("chunk_len", 10)
        self.scale = math.sqrt(self.d) if cfg.get_string("scale", "sqrt_d") == "sqrt_d" else 1 / math.sqrt(self.d)
        self.self_mask = cfg.get_flag("self_mask")
        self.mask_padding = cfg.get_flag("mask_padding")
        self.transpose_merge = cfg.get_string("head_merge", "reshape") == "transpose"
        self.query = nn.Linear(D, D, bias=False)
        self.value = nn.Linear(D, D, bias=False)
        self.out = nn.Linear(D, D, bias=False) if cfg.get_flag("out_proj") else None
        self.register_buffer("rotations", torch.zeros(self.d, self.nh, self.nb // 2))

    def forward(self, x, mask):
        B, L, D = x.shape
        H, d, nh, nb = self.H, self.d, self.nh, self.nb
        Lp = L + self.chunk_len - L % self.chunk_len
        xp = F.pad(x, (0, 0, 0, Lp - L))
        q = self.query(xp).reshape(B, Lp, H, d).transpose(1, 2)  # [B, H, Lp, d]
        v = self.value(xp).reshape(B, Lp, H, d).transpose(1, 2)
        with torch.no_grad():
            rot = torch.einsum("bhtf,fai->bhati", q, self.rotations.to(q.dtype))  # [B, H, nh, Lp, nb/2]
            buckets = torch.cat([rot, -rot], dim=-1).argmax(dim=-1)  # the first maximum, as jnp.argmax
            buckets = (buckets + nb * torch.arange(nh)[:, None]).reshape(B, H, nh * Lp)
            ticker = torch.arange(nh * Lp)
            sticker = torch.argsort(Lp * buckets + ticker % Lp, dim=-1)  # distinct keys: any sort agrees
            undo = torch.argsort(sticker, dim=-1)
            st = sticker % Lp  # the position of each sorted row
        nc, C = nh * nb, Lp // nb
        take = lambda t, idx: torch.gather(t, 2, idx[..., None].expand(-1, -1, -1, t.shape[-1]))
        bq = take(q, st).reshape(B, H, nc, C, d)
        bv = take(v, st).reshape(B, H, nc, C, d)
        back = lambda t: torch.cat([t, torch.roll(t, 1, dims=2)], dim=3)  # own chunk, then the previous one
        bk, bv = back(bq), back(bv)  # [B, H, nc, 2C, d]
        dots = torch.einsum("bhcie,bhcje->bhcij", bq, bk) * self.scale
        pos_q = st.reshape(B, H, nc, C)
        pos_k = back(pos_q[..., None])[..., 0]  # [B, H, nc, 2C]
        if self.self_mask:
            dots = dots.masked_fill(pos_q[..., :, None] == pos_k[..., None, :], -1e5)
        if self.mask_padding:
            m = mask if mask is not None else torch.ones(B, L, dtype=torch.int32)
            m = F.pad(m, (0, Lp - L))  # the added rows are padding too
            valid = torch.gather(m[:, None, :].expand(B, H, Lp), 2, pos_k.reshape(B, H, -1)).reshape(pos_k.shape)
            dots = dots.masked_fill((valid == 0)[..., None, :], -1e9)
        lse = torch.logsumexp(dots, dim=-1, keepdim=True)
        o = (torch.exp(dots - lse) @ bv).reshape(B, H, nh * Lp, d)
        o = take(o, undo).reshape(B, H, nh, Lp, d)
        logits = torch.gather(lse.reshape(B, H, nh * Lp), 2, undo).reshape(B, H, nh, Lp, 1)
        out = (o * torch.exp(logits - torch.logsumexp(logits, dim=2, keepdim=True))).sum(2)  # [B, H, Lp, d]
        out = out.transpose(1, 2).reshape(B, Lp, D) if self.transpose_merge else out.reshape(B, Lp, D)
        out = out[:, :L]
        return self.out(out) if self.out is not None else out


# --- kernel (linear) attention mixers ----------------------------------------------------------------
# Written from the LRA code: lra_benchmarks/models/linear_transformer/linear_attention.py and
# lra_benchmarks/models/performer/performer_attention.py. Separate bias-free q/k/v/out projections, no
# attention mask (LRA's functions receive none; mask_keys = 1 zeroes the padded keys' features), the
# causal forms with an explicit lower-triangular [L, L] matrix (the engine uses a running state).


class KernelAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        self.causal = cfg.get_flag("causal")
        self.mask_keys = cfg.get_flag("mask_keys")
        self.query = nn.Linear(D, self.Q, bias=False)
        self.key = nn.Linear(D, self.Q, bias=False)
        self.value = nn.Linear(D, self.Q, bias=False)
        self.out = nn.Linear(self.Q, D, bias=False)

    def heads(self, t):  # [B, L, Q] -> [B, H, L, d]
        B, L, _ = t.shape
        return t.reshape(B, L, self.H, self.Q // self.H).transpose(1, 2)

    def attend(self, fq, fk, v, mask):
        """numerator [B, H, L, d] and normaliser [B, H, L] of sum_j phi(q)·phi(k_j) v_j (j <= t if causal)."""
        if self.mask_keys and mask is not None:
            fk = fk * mask.to(fk.dtype)[:, None, :, None]
        if self.causal:
            L = fq.shape[2]
            a = torch.einsum("bhlm,bhsm->bhls", fq, fk) * torch.tril(torch.ones(L, L, dtype=fq.dtype))
            return a @ v, a.sum(-1)
        kv = torch.einsum("bhsm,bhsd->bhmd", fk, v)
        return torch.einsum("bhlm,bhmd->bhld", fq, kv), torch.einsum("bhlm,bhm->bhl", fq, fk.sum(2))

    def finish(self, y):
        B, H, L, d = y.shape
        return self.out(y.transpose(1, 2).reshape(B, L, H * d))


class LinearTransformer(KernelAttention):
    """LRA linear_attention: phi = elu + 1, y = phi(q) (phi(k)^T v) * 1 / (phi(q) . sum phi(k) + eps)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.eps = cfg.get("eps", 1e-6)

    def forward(self, x, mask):
        fq, fk = (F.elu(self.heads(t)) + 1 for t in (self.query(x), self.key(x)))
        num, den = self.attend(fq, fk, self.heads(self.value(x)), mask)
        return self.finish(num * (1.0 / (den + self.eps))[..., None])


class Performer(KernelAttention):
    """LRA FastAttentionviaLowRankDecomposition with the generalized (relu) or the softmax (FAVOR+) kernel.
    The random matrix is the engine's buffer "projection" (drawn by the engine; redraw is off in the cases)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.softmax = cfg.get_string("kernel", "relu") == "softmax"
        features = cfg.get_string("features", "auto")
        if features == "auto":
            features = "ortho" if self.softmax else "none"
        self.relu_eps = cfg.get("relu_eps", 0.001)
        self.stabilizer = cfg.get("softmax_eps", 1e-6) if self.softmax else 0.0
        if features != "none":
            m, d = cfg.get("nb_features", 256), self.Q // self.H
            self.register_buffer("projection", torch.zeros(m, d))
        else:
            self.projection = None

    def features(self, x, is_query):
        if not self.softmax:
            dash = x if self.projection is None else x @ self.projection.T
            return F.relu(dash) + self.relu_eps
        d, m = x.shape[-1], self.projection.shape[0]
        c = d ** -0.25
        dash = (c * x) @ self.projection.T
        diag = (x * x).sum(-1, keepdim=True) / 2.0 * c * c
        top = dash.amax(-1, keepdim=True) if is_query else dash.amax((-2, -1), keepdim=True)
        return m ** -0.5 * (torch.exp(dash - diag - top) + self.stabilizer)

    def forward(self, x, mask):
        fq = self.features(self.heads(self.query(x)), True)
        fk = self.features(self.heads(self.key(x)), False)
        num, den = self.attend(fq, fk, self.heads(self.value(x)), mask)
        s = self.stabilizer
        den = den + 2 * s * (den.abs() <= s).to(den.dtype)
        return self.finish(num * torch.reciprocal(den)[..., None])


# --- BigBird (LRA's ITC block-sparse attention) -----------------------------------------------------


def bigbird_random_blocks(nb, block, r, span, heads, seed):
    """LRA's random block graph (bigbird_attention.py, get_block_rand_mask, called once per head after
    np.random.seed(layer)): for query block i in 1..nb-2 a numpy permutation of its candidates, keep
    the first r. The candidates are a = [1, .., nb-2] sliced per row (Python slices, so clipped or
    counted from the end as Python does). numpy assigns perm[:r] into an r-wide row: one candidate is
    broadcast r times; with 0 or 2..r-1 candidates LRA raises, and the engine keeps what there is."""
    np.random.seed(seed)
    a = np.arange(1, nb - 1)
    last = span // block - 1 if span > 2 * block else nb - 1
    graph = []
    for _ in range(heads):
        rows = []
        for i in range(1, nb - 1):
            if i == 1:
                cand = a[2:last]
            elif i == 2:
                cand = a[3:last]
            elif i == nb - 3:
                cand = a[:last - 4]
            elif i == nb - 2:
                cand = a[:last - 3]
            elif i - 2 > last:
                cand = a[:last]
            elif i + 1 == last:
                cand = a[:i - 2]
            else:
                cand = np.concatenate((a[:i - 2], a[i + 1:last]))
            row = np.random.permutation(cand)[:r]
            rows.append([int(row[0])] * r if len(row) == 1 else [int(v) for v in row])
        graph.append(rows)
    return graph


class BigBird(nn.Module):
    """BigBird's ITC block-sparse attention as LRA runs it (lra_benchmarks/models/bigbird/
    bigbird_attention.py), computed densely: an explicit Lp x Lp count of how often each key block
    appears in each query block's key set, the softmax taken over count * exp(logit). L is padded by
    block - L % block zero rows that stay unmasked (LRA's -1e9 pad of a boolean mask is True); masked
    keys get logit - 10000; outputs at masked queries are zeroed (seq_m_pad); no attention dropout.
    padding = masked (not LRA): pad to the next multiple of the block only, the padded keys masked."""

    def __init__(self, cfg, max_len):
        super().__init__()
        D, self.H = cfg.width, cfg.get("heads", 4)
        self.Q = cfg.get("qkv_dim", 0) or D
        self.C = cfg.get("block", 64)
        self.r = cfg.get("random_blocks", 3)
        self.span = cfg.get("random_span", 1024)
        self.layer = cfg.layer
        self.lra_pad = cfg.get_string("padding", "lra") == "lra"
        self.query = nn.Linear(D, self.Q, bias=False)
        self.key = nn.Linear(D, self.Q, bias=False)
        self.value = nn.Linear(D, self.Q, bias=False)
        self.out = nn.Linear(self.Q, D, bias=False)

    def counts(self, nb):
        C, H = self.C, self.H
        graph = bigbird_random_blocks(nb, C, self.r, min(nb * C, self.span), H, self.layer)
        n = torch.zeros(H, nb, nb, dtype=torch.float64)  # [head, query block, key block]
        for h in range(H):
            n[h, 0, :] = 1
            n[h, nb - 1, :] = 1
            for i in range(1, nb - 1):
                for j in {0, i - 1, i, i + 1, nb - 1}:
                    n[h, i, j] = 1
                for j in graph[h][i - 1]:
                    n[h, i, j] += 1
        return n.repeat_interleave(C, 1).repeat_interleave(C, 2)  # [H, Lp, Lp]

    def forward(self, x, mask):
        B, L, _ = x.shape
        H, C = self.H, self.C
        d = self.Q // H
        Lp = L + C - L % C if self.lra_pad else -(-L // C) * C
        m = mask.to(x.dtype) if mask is not None else torch.ones(B, L, dtype=x.dtype)
        m = F.pad(m, (0, Lp - L), value=1.0 if self.lra_pad else 0.0)  # lra: the padded tail is not masked
        xp = F.pad(x, (0, 0, 0, Lp - L))
        q, k, v = (f(xp).reshape(B, Lp, H, d).transpose(1, 2) for f in (self.query, self.key, self.value))
        s = q @ k.transpose(-1, -2) / math.sqrt(d) + (1.0 - m[:, None, None, :]) * -10000.0
        n = self.counts(Lp // C).to(x.dtype)[None]
        s = s + torch.log(n)  # count * exp(s); log 0 = -inf leaves the key out
        y = torch.softmax(s, dim=-1) @ v * m[:, None, :, None]
        return self.out(y.transpose(1, 2).reshape(B, Lp, self.Q)[:, :L])


class MegaEMA(nn.Module):
    """MultiHeadEMA (facebookresearch/mega fairseq/modules/exponential_moving_average.py), forward without
    incremental state: the Vandermonde kernel, the bidirectional kernel laid out as the reference does
    (k1 left-padded by K−1 plus flipped k2 right-padded, x left-padded by K−1, n = 2(L + K − 1), slice
    [2K−2, 2K−2+L)), SiLU(conv + ω⊙x) with ω⊙x on the unmasked x."""

    def __init__(self, D, ndim, bidirectional, truncation):
        super().__init__()
        rows = 2 * D if bidirectional else D
        self.D, self.ndim, self.bidirectional, self.truncation = D, ndim, bidirectional, truncation
        self.scale = math.sqrt(1.0 / ndim)
        self.delta = nn.Parameter(torch.empty(rows, ndim, 1))
        self.alpha = nn.Parameter(torch.empty(rows, ndim, 1))
        self.beta = nn.Parameter(torch.empty(rows, ndim, 1))
        self.gamma = nn.Parameter(torch.empty(rows, ndim))
        self.omega = nn.Parameter(torch.empty(D))

    def kernel(self, length):
        p = torch.sigmoid(self.delta)
        q = 1.0 - p * torch.sigmoid(self.alpha)
        vander = torch.arange(length).to(p).view(1, 1, length) * torch.log(q)
        kernel = (p * self.beta) * torch.exp(vander)
        return torch.einsum("dnl,dn->dl", kernel, self.gamma * self.scale)

    def forward(self, x, mask):  # x [B, L, D]
        residual = x * self.omega
        u = masked(x, mask).transpose(1, 2)  # [B, D, L]
        L = u.shape[-1]
        K = min(self.truncation, L) if self.truncation > 0 else L
        k = self.kernel(K)
        fft_len, s = L, 0
        if self.bidirectional:
            k1, k2 = torch.split(k, [self.D, self.D], dim=0)
            k = F.pad(k1, (K - 1, 0)) + F.pad(k2.flip(-1), (0, K - 1))
            u = F.pad(u, (K - 1, 0))
            fft_len, s = fft_len + K - 1, 2 * K - 2
        out = torch.fft.irfft(torch.fft.rfft(u, n=2 * fft_len) * torch.fft.rfft(k, n=2 * fft_len), n=2 * fft_len)
        return F.silu(out[..., s:s + L].transpose(1, 2) + residual)


class Mega(nn.Module):
    """MovingAverageGatedAttention (facebookresearch/mega fairseq/modules/moving_average_gated_attention.py,
    relative_positional_bias.py) in [B, L, D] layout, one layer without incremental state: v, EMA, the
    mx projection split into u, (z, r), hx; q/k by per-dimension affine maps of z; softmax attention with
    −inf at padded keys (a chunk whose keys are all padding stays unmasked, as the reference does) or
    element-wise laplace/relu2 scaled by the number of real keys and zeroed at padded keys; the simple
    (Toeplitz, the reference's pad/tile construction) or rotary bias; chunking by reshaping (L padded to
    a multiple of the chunk with padded positions, as mega_lra_encoder.py pads its tokens); the gated
    residual residual + u⊙(h − residual). Rotary tables in float64 (the reference: float32)."""

    owns_residual = True
    ENGINE_NAMES = {"ema_delta": ("move.delta", lambda w: w[:, :, None]),
                    "ema_alpha": ("move.alpha", lambda w: w[:, :, None]),
                    "ema_beta": ("move.beta", lambda w: w[:, :, None]),
                    "ema_gamma": ("move.gamma", None), "omega": ("move.omega", None),
                    "v_weight": ("v_proj.weight", None), "v_bias": ("v_proj.bias", None),
                    "mx_weight": ("mx_proj.weight", None), "mx_bias": ("mx_proj.bias", None),
                    "h_weight": ("h_proj.weight", None), "h_bias": ("h_proj.bias", None),
                    "qk_gamma": ("gamma", None), "qk_beta": ("beta", None),
                    "rel_pos_bias": ("rel_pos_bias", None),
                    "rotary_alpha": ("rotary_alpha", None), "rotary_beta": ("rotary_beta", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        D = cfg.width
        self.D = D
        self.S = cfg.get("z_dim", 64)
        self.E = cfg.get("hidden_dim", 0) or 2 * D
        self.chunk = cfg.get("chunk", 0)
        self.attention = cfg.get_string("attention", "softmax")
        self.rotary = cfg.get_string("rel_pos_bias", "simple") == "rotary"
        self.move = MegaEMA(D, cfg.get("ndim", 16), cfg.get_flag("bidirectional", True), cfg.get("truncation", 0))
        self.v_proj = nn.Linear(D, self.E)
        self.mx_proj = nn.Linear(D, self.S + self.E + 2 * D)
        self.h_proj = nn.Linear(self.E, D)
        self.gamma = nn.Parameter(torch.empty(2, self.S))
        self.beta = nn.Parameter(torch.empty(2, self.S))
        self.max_positions = self.chunk if self.chunk > 0 else (cfg.get("max_positions", 0) or max_len)
        if self.rotary:
            self.rotary_alpha = nn.Parameter(torch.empty(1, self.S))
            self.rotary_beta = nn.Parameter(torch.empty(1, self.S))
        else:
            self.rel_pos_bias = nn.Parameter(torch.empty(2 * self.max_positions - 1))

    def bias(self, n):
        if not self.rotary:
            M = self.max_positions
            assert n <= M
            b = self.rel_pos_bias[M - n:M + n - 1]
            t = torch.tile(F.pad(b, (0, n)), (n,))[:-n].view(n, 3 * n - 2)
            r = (2 * n - 1) // 2
            return t[:, r:t.size(1) - r]
        half = self.S // 2
        theta = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000) / half))
        ang = torch.arange(n, dtype=torch.float64)[:, None] * theta[None, :]
        sin, cos = torch.sin(ang).to(self.gamma.dtype), torch.cos(ang).to(self.gamma.dtype)

        def rot(w):
            w1, w2 = torch.chunk(w.expand(n, self.S), 2, dim=-1)
            return torch.cat([w1 * cos - w2 * sin, w2 * cos + w1 * sin], dim=1)

        return torch.einsum("mk,nk->mn", rot(self.rotary_alpha), rot(self.rotary_beta))

    def forward(self, x, mask, residual=None):
        residual = x if residual is None else residual
        B, L, D = x.shape
        v = F.silu(self.v_proj(x))
        mx = self.move(x, mask)
        u, zr, hx = torch.split(self.mx_proj(mx), [D, self.S + self.E, D], dim=-1)
        u = torch.sigmoid(u)
        z, r = torch.split(F.silu(zr), [self.S, self.E], dim=-1)
        q, k = torch.unbind(z.unsqueeze(2) * self.gamma + self.beta, dim=2)
        pad = None if mask is None else (mask == 0)  # the reference's padding mask: True at padding
        if self.chunk > 0 and L > self.chunk and L % self.chunk:
            extra = self.chunk - L % self.chunk
            q, k, v = (F.pad(t, (0, 0, 0, extra)) for t in (q, k, v))
            pad = F.pad(pad if pad is not None else torch.zeros(B, L, dtype=torch.bool), (0, extra), value=True)
        Lp = q.shape[1]
        C = self.chunk if (self.chunk > 0 and Lp > self.chunk) else Lp
        nc = Lp // C
        q, k, v = q.reshape(B, nc, C, self.S), k.reshape(B, nc, C, self.S), v.reshape(B, nc, C, self.E)
        if pad is not None:
            pad = pad.reshape(B, nc, C)
        bias = self.bias(C)
        if self.attention == "softmax":
            qk = torch.matmul(q * self.S ** -0.5, k.transpose(2, 3)) + bias
            if pad is not None:
                keep_all = pad.all(dim=-1, keepdim=True)
                qk = qk.masked_fill(torch.logical_and(pad, ~keep_all).unsqueeze(2), float("-inf"))
            attn = F.softmax(qk, dim=-1)
        else:
            if pad is not None:
                inverse = 1.0 - pad.to(q.dtype)
                lengths = inverse.sum(dim=-1, keepdim=True).clamp(min=1.0).unsqueeze(-1)
            else:
                lengths = C
            qk = torch.matmul(q, k.transpose(2, 3)) / lengths + bias
            if self.attention == "relu2":
                attn = F.relu(qk) ** 2
            else:  # laplace: mu = sqrt(1/2), std = sqrt(1/(4 pi))
                mu, std = math.sqrt(0.5), math.sqrt(0.25 / math.pi)
                attn = 0.5 * (1.0 + torch.erf((qk - mu) / (std * math.sqrt(2.0))))
            if pad is not None:
                attn = attn * inverse.unsqueeze(2)
        h = torch.matmul(attn, v).reshape(B, Lp, self.E)[:, :L]
        h = F.silu(hx + self.h_proj(h * r))
        return residual + u * (h - residual)


MIXERS = {
    "transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "rotary_transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "las": lambda cfg, n: Attention(cfg, n, "las"),
    "las_chunk": lambda cfg, n: Attention(cfg, n, "las_chunk"),
    "local": lambda cfg, n: Attention(cfg, n, "local"),
    "s4d": lambda cfg, n: S4D(cfg, n),
    "lru": lambda cfg, n: LRU(cfg, n),
    "s4": lambda cfg, n: S4(cfg, n),
    "sgconv": lambda cfg, n: SGConv(cfg, n),
    "s5": lambda cfg, n: S5(cfg, n),
    "gmlp": lambda cfg, n: GMLP(cfg, n),
    "residual_conv": lambda cfg, n: ResidualConv(cfg, n),
    "sinkhorn": lambda cfg, n: Sinkhorn(cfg, n),
    "linformer": lambda cfg, n: Linformer(cfg, n),
    "synthesizer": lambda cfg, n: Synthesizer(cfg, n),
    "reformer": lambda cfg, n: Reformer(cfg, n),
    "linear_transformer": lambda cfg, n: LinearTransformer(cfg),
    "performer": lambda cfg, n: Performer(cfg),
    "sparse_transformer": lambda cfg, n: LraMaskedAttention(cfg, n, "sparse_transformer"),
    "longformer": lambda cfg, n: LraMaskedAttention(cfg, n, "longformer"),
    "bigbird": lambda cfg, n: BigBird(cfg, n),
    "mega": lambda cfg, n: Mega(cfg, n),
}


# --- loading the engine's tensors ------------------------------------------------------------------


def name_map(model):
    """torch parameter name → (engine name, engine→torch layout function or None)."""
    out = {}
    for prefix, module in model.named_modules():
        for eng, (tch, fn) in getattr(module, "ENGINE_NAMES", {}).items():
            p = prefix + "." if prefix else ""
            out[p + tch] = (p + eng, fn)
    return out


def load_engine_parameters(model, engine_params, engine_buffers, dtype=torch.float64):
    """Returns (leaves, substitutes): leaves maps every engine parameter name to a `dtype` leaf that
    requires grad (gradients land there, in the engine's layout); substitutes maps every torch parameter
    and buffer name to the tensor functional_call should use. Raises when any engine parameter is unused,
    any torch parameter is unset, or a shape differs."""
    mapping = name_map(model)
    leaves = {n: t.detach().to(dtype).clone().requires_grad_(True) for n, t in engine_params.items()}
    substitutes, used, problems = {}, set(), []
    for tname, p in model.named_parameters():
        ename, fn = mapping.get(tname, (tname, None))
        if ename not in leaves:
            problems.append(f"torch parameter {tname} (engine name {ename}) is not in the engine's file")
            continue
        value = fn(leaves[ename]) if fn else leaves[ename]
        if tuple(value.shape) != tuple(p.shape):
            problems.append(f"{ename}: engine shape {list(leaves[ename].shape)} gives {list(value.shape)}, "
                            f"torch {tname} is {list(p.shape)}")
        substitutes[tname] = value
        used.add(ename)
    for ename in sorted(set(leaves) - used):
        problems.append(f"engine parameter {ename} is used by no torch parameter")
    # Persistent buffers only (BatchNorm's running statistics): fixed tables are registered non-persistent.
    persistent = set(model.state_dict().keys()) - {n for n, _ in model.named_parameters()}
    for name in sorted(persistent):
        if name not in engine_buffers:
            problems.append(f"torch buffer {name} is not in the engine's file")
        else:
            substitutes[name] = engine_buffers[name].detach().to(dtype).clone()
    for name in sorted(set(engine_buffers) - persistent):
        problems.append(f"engine buffer {name} is used by no torch buffer")
    if problems:
        raise ValueError("the engine's tensors do not match the torch model:\n  " + "\n  ".join(problems))
    return leaves, substitutes
