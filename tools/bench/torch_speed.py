"""One PyTorch training-step measurement, the PyTorch side of lra-speed (tools/bench/lra_speed.cpp): the
parity oracle's model (tests/parity/torch_models.py, the independent PyTorch implementation every engine
mixer is checked against) built from the settings bench_train's generic row `lra_text` prints, trained as
bench_train trains (AdamW lr 1e-4, weight decay 0.05 on every parameter, one random batch reused,
cross-entropy), timed the same way (warm-up steps, then the median of separately timed steps) and printing
one JSON line in bench_train's format (impl "pytorch").

  .venv-torch/bin/python tools/bench/torch_speed.py --model local --mixer '{"heads": "4", "block": "50"}' \\
      --length 1024 --steps 5                        # eager, CPU
  ... --compile                                      # torch.compile(model): forward and backward graphs
  ... --compile --dynamic                            # one graph for every length (lra-speed --small)
  ... --device cuda --precision bf16                 # GPU, bf16 autocast

The peer is the newest PyTorch (tools/bench/setup_torch.sh installs it into .venv-torch); Debian's 1.13
under /usr/bin/python3 runs it too (no torch.compile there: such a cell reports an error).
--compile wraps the model in torch.compile (inductor, default mode); the optimizer step stays eager, as
users run it. Its compilation happens in the warm-up steps and is reported as compile_s, not timed.

Peak memory: on the CPU as bench_train measures it, the anonymous resident memory's peak over the timed
steps above its level right after the model and batch exist, before the optimizer: VmHWM (reset through
/proc/self/clear_refs after the warm-up) minus the file-backed and shared pages resident at the end
(the libraries' code, ~100 MB more for PyTorch after its first full-size step), minus RssAnon at the
baseline; so one process per measurement (lra-speed runs each in its own). One eager forward and backward
on 16 tokens runs before that baseline, so one-time buffers PyTorch's libraries make on first use count
as the process's, not as the step's. On the GPU,
torch.cuda.max_memory_allocated after a reset at the end of the warm-up, as bench_train reads its caching
allocator's peak. Parameters are drawn N(0, 0.02) (the oracle leaves some uninitialised; values do not
change the work). A failure (out of memory, an op torch lacks) prints a JSON line with "error".
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "parity"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_models  # noqa: E402

LR, WEIGHT_DECAY = 1e-4, 0.05


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--mixer", default="{}", help="the resolved mixer settings, JSON (bench_train's 'mixer')")
    ap.add_argument("--settings", default="{}",
                    help="every model setting as bench_train prints it, JSON (its 'model_settings'); these win over "
                         "the defaults below, so the two sides build the same model")
    ap.add_argument("--vocab", type=int, default=257)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave PyTorch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"],
                    help="fp32; tf32 (GPU matmuls); bf16 (torch.autocast, float32 master weights)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    ap.add_argument("--dynamic", action="store_true",
                    help="with --compile: dynamic=True, one compiled graph for every length (inductor's on-disk "
                         "cache then serves the other lengths' processes instead of compiling each afresh)")
    a = ap.parse_args()
    try:
        measure(a)
    except Exception as e:  # out of memory, a missing op: the table shows the cell, the run goes on
        fail(a, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])


def fail(a, message):
    print(json.dumps({"impl": "pytorch", "mode": "compile" if a.compile else "eager", "model": a.model,
                      "length": a.length, "precision": a.precision, "torch": torch.__version__, "error": message}),
          flush=True)
    sys.exit(1)


def measure(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.model not in torch_models.MIXERS:
        fail(a, f"no PyTorch model for mixer '{a.model}' in tests/parity/torch_models.py")

    meta = {"model": a.model, "input": "tokens", "position": "none", "norm": "layer", "activation": "relu",
            "pooling": "mean", "interaction": "concat", "vocab_size": a.vocab, "num_classes": a.classes,
            "max_len": a.length, "width": a.width, "depth": a.depth, "ffn": a.ffn, "mlp_dim": 0, "head_layers": 0,
            "cls_token": "false", "prenorm": "true", "final_norm": "true", "dual": "false",
            "mask_zero_pixels": "false"}
    meta.update({k: str(v) for k, v in json.loads(a.settings).items()})
    for k, v in json.loads(a.mixer).items():
        meta["mixer." + k] = str(v)
    cfg = torch_models.Config(meta)
    model = torch_models.LraModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    model.train()
    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randint(1, a.vocab, (a.batch, a.length), generator=g)
    y = torch.randint(0, a.classes, (a.batch,), generator=g)
    gpu = a.device == "cuda"
    if gpu:
        model, x, y = model.cuda(), x.cuda(), y.cuda()
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    params = sum(p.numel() for p in model.parameters())
    forward = model
    if a.compile:
        if not hasattr(torch, "compile"):
            raise RuntimeError(f"torch {torch.__version__} has no torch.compile")
        forward = torch.compile(model, dynamic=True) if a.dynamic else torch.compile(model)
    autocast = (lambda: torch.autocast(a.device, dtype=torch.bfloat16)) if a.precision == "bf16" else None

    # Touch the libraries' code and one-time buffers first (oneDNN/MKL pages, thread pools): one eager
    # forward and backward on a few tokens, gradients dropped. Their pages are the library's, not the
    # step's, and would otherwise count in the first cell of every process.
    F.cross_entropy(model(x[:, :min(a.length, 16)], None), y).backward()
    model.zero_grad(set_to_none=True)
    base = status_kib("RssAnon:")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step():
        opt.zero_grad(set_to_none=False)
        if autocast:
            with autocast():
                loss = F.cross_entropy(forward(x, None), y)
        else:
            loss = F.cross_entropy(forward(x, None), y)
        loss.backward()
        opt.step()
        if gpu:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    for _ in range(max(a.warmup, 1 if a.compile else 0)):  # a compiled model compiles in its first step
        step()
    compile_s = time.perf_counter() - t0
    # The peak counts over the timed steps only (so not torch.compile's compiler at work), above the
    # resident set before the optimizer existed: optimizer state, gradients and each step's activations.
    reset_ok = reset_peak()
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    # The anonymous part of the peak: VmHWM counts the pages of PyTorch's shared libraries too (they grow
    # by ~100 MB as the first full-size step pages in kernels), which are code, not the step's memory.
    peak = (status_kib("VmHWM:") - status_kib("RssFile:") - status_kib("RssShmem:") - base) / 1024.0
    med = statistics.median(times)
    out = {"impl": "pytorch", "mode": "compile" if a.compile else "eager", "config": "lra_text", "model": a.model,
           "precision": a.precision, "batch": a.batch, "length": a.length, "ms_per_step": round(med, 3),
           "seq_per_s": round(a.batch / med * 1e3, 1),
           "peak_gpu_MB": round(torch.cuda.max_memory_allocated() / 2**20, 1) if gpu else None,
           "peak_host_MB": round(peak, 1), "params": params, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "steps": a.steps, "min_ms": round(min(times), 3),
           "max_ms": round(max(times), 3)}
    if a.compile:
        out["compile_s"] = round(compile_s, 1)
        out["compile_shapes"] = "dynamic" if a.dynamic else "static"
    if not reset_ok:
        out["peak_host_note"] = "clear_refs refused: peak since process start"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
