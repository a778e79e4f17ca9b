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
    (ops::layer_norm's default, PyTorch's). BatchNorm eps 1e-5, momentum 0.1, statistics over all
    B×L positions (padding included).
  * Rotary: channel pairs (2i, 2i+1), theta_i = base^(−2i/D); "half" zeroes every even-indexed theta.
  * LaS: s_ij · exp(−α_h|i−j|) before the mask, α_0 = 0, α_c = B·100^(−(H−1−c)/(H−2)) (H = 2: α_1 = B);
    smoothing = average pooling of each attention row along the keys (window P, zero padding, divisor P).
  * Anti-causal kernels start at lag −1 (S4's convention: lag 0 belongs to the causal kernel).
  * S4D: ZOH, C̃ = C·(exp(ΔA) − 1)/A, K = 2·Re Σ_n C̃ exp(ΔA·l), y = K * u + D·u, then GELU and a
    1×1 convolution to 2H with GLU (state-spaces/s4, models/s4/s4d.py).
"""
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LAYER_NORM_EPS = 1e-6
BATCH_NORM_EPS = 1e-5
BATCH_NORM_MOMENTUM = 0.1
GMLP_NORM_EPS = 1e-5


class Config:
    """The model settings parity_dump wrote into the file's metadata: every model setting as the trainer
    prints it, the task-side fields, and the mixer's settings ("mixer.<key>", its declared defaults filled
    in)."""

    INTS = ("vocab_size", "num_classes", "max_len", "width", "depth", "ffn", "mlp_dim", "head_layers")
    BOOLS = ("cls_token", "prenorm", "final_norm", "dual")

    def __init__(self, metadata):
        for k in self.INTS:
            setattr(self, k, int(metadata[k]))
        for k in self.BOOLS:
            setattr(self, k, metadata[k] == "true")
        for k in ("model", "input", "position", "norm", "activation", "pooling", "interaction"):
            setattr(self, k, metadata[k])
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
    """LayerNorm over the last dim, or BatchNorm over all positions (B×L) with running statistics."""

    def __init__(self, kind, width):
        super().__init__()
        self.batch = kind == "batch"
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        if self.batch:
            self.register_buffer("running_mean", torch.zeros(width))
            self.register_buffer("running_var", torch.ones(width))

    def forward(self, x):
        if not self.batch:
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, LAYER_NORM_EPS)
        y = F.batch_norm(x.reshape(-1, x.shape[-1]), self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, BATCH_NORM_MOMENTUM, BATCH_NORM_EPS)
        return y.reshape(x.shape)


class FeedForward(nn.Module):
    def __init__(self, width, hidden, activation):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.act = F.relu if activation == "relu" else gelu

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg, make_mixer):
        super().__init__()
        self.prenorm = cfg.prenorm
        self.norm1 = Norm(cfg.norm, cfg.width)
        self.mixer = make_mixer()
        if cfg.ffn > 0:
            self.norm2 = Norm(cfg.norm, cfg.width)
            self.ffn = FeedForward(cfg.width, cfg.ffn, cfg.activation)
        else:
            self.ffn = None

    def forward(self, x, mask):
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
        self.final_norm = Norm(cfg.norm, D) if cfg.prenorm and cfg.final_norm else None
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
        if cfg.cls_token:
            x = torch.cat([self.cls.expand(B, 1, cfg.width), x], dim=1)
            full = torch.cat([full[:, :1], full], dim=1)  # the cls row copies token 0's mask
        if cfg.position == "learned":
            x = x + self.pos[: x.shape[1]]
        elif cfg.position == "sinusoidal":
            x = x + self.sinusoid[: x.shape[1]].to(x.dtype)
        # Without a caller mask and a cls row there is no padding: the mixers get no mask at all.
        mixer_mask = full if (mask is not None or cfg.cls_token) else None
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
    (contiguous or strided groups), LaS (decay + smoothing) and LaS inside chunks."""

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
        self.strided = kind == "local" and cfg.get_string("grouping", "contiguous") == "strided"
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
                # LRA's strided grouping: L padded to n·C and viewed [C, n]; group g is column g.
                n = -(-L // self.chunk)
                ok &= (i % n) == (j % n)
            else:
                ok &= (i // self.chunk) == (j // self.chunk)
        return ok

    def forward(self, x, mask):
        B, L, _ = x.shape
        H, Q = self.H, self.Q
        d = Q // H
        q, k, v = self.qkv(x).split(Q, dim=-1)
        if self.rotary in ("full", "half"):
            q, k = rope(q, self.base, self.rotary == "half"), rope(k, self.base, self.rotary == "half")
        q, k, v = (t.reshape(B, L, H, d).transpose(1, 2) for t in (q, k, v))
        if self.rotary == "head":
            q, k = rope(q, self.base, False), rope(k, self.base, False)
        s = q @ k.transpose(-1, -2) / math.sqrt(d)  # [B, H, L, L]
        if self.kind in ("las", "las_chunk"):
            dist = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs().to(s.dtype)
            s = s * torch.exp(-self.alpha.to(s.dtype)[None, :, None, None] * dist)
        ok = self.allowed(L)[None, None]
        if mask is not None:
            ok = ok & (mask[:, None, None, :] != 0)
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


# --- convolution mixers ----------------------------------------------------------------------------


class S4D(nn.Module):
    """S4D (Gu et al. 2022), as state-spaces/s4 models/s4/s4d.py, bidirectional as S4's FFTConv."""

    ENGINE_NAMES = {"out_weight": ("output_linear.weight", lambda w: w[:, :, None]),
                    "out_bias": ("output_linear.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        H, M = cfg.width, cfg.get("ssm_n", 64) // 2
        self.bidirectional = cfg.get_flag("bidirectional")
        self.log_dt = nn.Parameter(torch.empty(H))
        self.log_A_real = nn.Parameter(torch.empty(H, M))
        self.A_imag = nn.Parameter(torch.empty(H, M))
        self.C = nn.Parameter(torch.empty(H, M, 2))  # view_as_real of the complex C
        if self.bidirectional:
            self.C_anti = nn.Parameter(torch.empty(H, M, 2))
        self.D = nn.Parameter(torch.empty(H))
        self.output_linear = nn.Conv1d(H, 2 * H, kernel_size=1)

    def kernel(self, C, L):
        dt = torch.exp(self.log_dt)
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dtA = A * dt[:, None]
        Ct = torch.view_as_complex(C.contiguous()) * (torch.exp(dtA) - 1.0) / A
        powers = torch.exp(dtA[:, :, None] * torch.arange(L, dtype=dt.dtype))
        return 2 * torch.einsum("hn,hnl->hl", Ct, powers).real

    def forward(self, x, mask):
        u = masked(x, mask).transpose(1, 2)  # [B, H, L]
        L = u.shape[-1]
        k = self.kernel(self.C, L)
        if self.bidirectional:
            k = F.pad(k, (0, L)) + F.pad(self.kernel(self.C_anti, L).flip(-1), (L, 0))
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = gelu(y + u * self.D[:, None])
        y = F.glu(self.output_linear(y), dim=1)
        return y.transpose(1, 2)


class GMLP(nn.Module):
    """gMLP with a free long spatial convolution: z1 ⊙ LN(conv(z2) + bias), kernel row j mod groups."""

    ENGINE_NAMES = {"in_weight": ("in_proj.weight", None), "in_bias": ("in_proj.bias", None),
                    "norm_weight": ("norm.weight", None), "norm_bias": ("norm.bias", None),
                    "out_weight": ("out_proj.weight", None), "out_bias": ("out_proj.bias", None)}

    def __init__(self, cfg, max_len):
        super().__init__()
        D = cfg.width
        h = cfg.get("hidden", 0) or 2 * D
        g = cfg.get("groups", 2)
        self.bidirectional = cfg.get_flag("bidirectional", True)
        self.in_proj = nn.Linear(D, 2 * h)
        self.kernel_causal = nn.Parameter(torch.empty(g, max_len))
        if self.bidirectional:
            self.kernel_anti = nn.Parameter(torch.empty(g, max_len))
        self.conv_bias = nn.Parameter(torch.empty(h))
        self.norm = nn.LayerNorm(h, eps=GMLP_NORM_EPS)
        self.out_proj = nn.Linear(h, D)
        self.register_buffer("row", torch.arange(h) % g, persistent=False)

    def forward(self, x, mask):
        z1, z2 = gelu(self.in_proj(x)).chunk(2, dim=-1)
        u = masked(z2, mask).transpose(1, 2)  # [B, h, L]
        kc = self.kernel_causal[self.row]
        ka = self.kernel_anti[self.row] if self.bidirectional else None
        c = two_sided_conv(u, kc, ka).transpose(1, 2) + self.conv_bias
        return self.out_proj(z1 * self.norm(c))


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


MIXERS = {
    "transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "rotary_transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "las": lambda cfg, n: Attention(cfg, n, "las"),
    "las_chunk": lambda cfg, n: Attention(cfg, n, "las_chunk"),
    "local": lambda cfg, n: Attention(cfg, n, "local"),
    "s4d": lambda cfg, n: S4D(cfg, n),
    "gmlp": lambda cfg, n: GMLP(cfg, n),
    "residual_conv": lambda cfg, n: ResidualConv(cfg, n),
    "sinkhorn": lambda cfg, n: Sinkhorn(cfg, n),
    "bigbird": lambda cfg, n: BigBird(cfg, n),
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
