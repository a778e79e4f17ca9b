"""PyTorch side of the kernel comparison (issue 3), run on the GPU machine in the same call as
`bench_kernels --json`. Times forward+backward of the reference implementations at the issue's sizes
and prints one JSON line per measurement; tools/bench/compare_kernels.py joins the two outputs into the
ratio table of docs/kernels.md. The engine never imports this: PyTorch is only the yardstick.

  python3 tools/bench/torch_kernels.py                 # all sizes, float32 and bfloat16 attention
  python3 tools/bench/torch_kernels.py --only fftconv
"""
import argparse
import json

import torch
import torch.nn.functional as F


def median_ms(fn, warmup=5, iters=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


def fftconv_ref(u, k, D):
    L = u.shape[-1]
    n = 2 * L
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]
    return y + u * D.unsqueeze(-1)


def bench_fftconv():
    for B, H, L in [(32, 256, 1024), (8, 256, 4096), (2, 256, 16384)]:
        # Three rotating input sets, as the engine's benchmark does.
        sets = []
        for _ in range(3):
            u = torch.randn(B, H, L, device="cuda", requires_grad=True)
            k = torch.randn(H, L, device="cuda", requires_grad=True)
            D = torch.randn(H, device="cuda", requires_grad=True)
            g = torch.randn(B, H, L, device="cuda")
            sets.append((u, k, D, g))
        i = [0]

        def step():
            u, k, D, g = sets[i[0] % 3]
            i[0] += 1
            fftconv_ref(u, k, D).backward(g)

        print(json.dumps({"impl": "pytorch", "kernel": "fftconv", "B": B, "H": H, "L": L, "precision": "fp32",
                          "fwd_bwd_ms": round(median_ms(step), 4)}), flush=True)


def bench_attention():
    for B, H, L, d in [(32, 4, 1024, 64), (8, 4, 4096, 64)]:
        for dtype, name in [(torch.float32, "fp32"), (torch.bfloat16, "bf16")]:
            sets = []
            for _ in range(3):
                q, k, v = (torch.randn(B, H, L, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
                g = torch.randn(B, H, L, d, device="cuda", dtype=dtype)
                sets.append((q, k, v, g))
            i = [0]

            def step():
                q, k, v, g = sets[i[0] % 3]
                i[0] += 1
                F.scaled_dot_product_attention(q, k, v).backward(g)

            print(json.dumps({"impl": "pytorch", "kernel": "attention", "B": B, "H": H, "L": L, "d": d,
                              "precision": name, "fwd_bwd_ms": round(median_ms(step), 4)}), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["fftconv", "attention"])
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.only in (None, "fftconv"):
        bench_fftconv()
    if args.only in (None, "attention"):
        bench_attention()
