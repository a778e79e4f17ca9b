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
import math

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
        self.blocks = nn.ModuleList([Block(cfg, lambda: make(cfg, rows)) for _ in range(cfg.depth)])
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


MIXERS = {
    "transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "rotary_transformer": lambda cfg, n: Attention(cfg, n, "full"),
    "las": lambda cfg, n: Attention(cfg, n, "las"),
    "las_chunk": lambda cfg, n: Attention(cfg, n, "las_chunk"),
    "local": lambda cfg, n: Attention(cfg, n, "local"),
    "s4d": lambda cfg, n: S4D(cfg, n),
    "gmlp": lambda cfg, n: GMLP(cfg, n),
    "residual_conv": lambda cfg, n: ResidualConv(cfg, n),
    "sparse_transformer": lambda cfg, n: LraMaskedAttention(cfg, n, "sparse_transformer"),
    "longformer": lambda cfg, n: LraMaskedAttention(cfg, n, "longformer"),
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
