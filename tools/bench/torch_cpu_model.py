"""One PyTorch training-step measurement on the CPU for tools/bench/cpu_models.py: the parity oracle's
model (tests/parity/torch_models.py, the independent PyTorch implementation every engine mixer is checked
against) built from the settings bench_train's generic row `lra_text` uses, trained as bench_train trains
(AdamW lr 1e-4, weight decay 0.05 on every parameter, one random batch reused, cross-entropy), timed the
same way (warm-up steps, then the median of separately timed steps) and printing one JSON line in
bench_train's format (impl "pytorch-cpu").

  /usr/bin/python3 tools/bench/torch_cpu_model.py --model local --mixer '{"heads": "4", "block": "50"}' \\
      --length 1024 --steps 3

Peak host memory is measured as bench_train measures it: the resident set's peak (VmHWM, reset through
/proc/self/clear_refs) above the resident set right after the model and batch exist, before the optimizer.
Parameters are drawn N(0, 0.02) (the oracle leaves some uninitialised; values do not change the work).
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
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.model not in torch_models.MIXERS:
        sys.exit(f"torch_cpu_model: no PyTorch model for mixer '{a.model}' in tests/parity/torch_models.py")

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

    base = status_kib("VmRSS:")
    reset_ok = reset_peak()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x, None), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    peak = (status_kib("VmHWM:") - base) / 1024.0
    med = statistics.median(times)
    out = {"impl": "pytorch-cpu", "config": "lra_text", "model": a.model, "precision": "fp32", "batch": a.batch,
           "length": a.length, "ms_per_step": round(med, 3), "seq_per_s": round(a.batch / med * 1e3, 1),
           "peak_host_MB": round(peak, 1), "params": sum(p.numel() for p in model.parameters()),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "steps": a.steps,
           "min_ms": round(min(times), 3), "max_ms": round(max(times), 3)}
    if not reset_ok:
        out["peak_host_note"] = "clear_refs refused: peak since process start"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
