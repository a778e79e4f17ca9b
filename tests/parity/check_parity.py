#!/usr/bin/python3
"""Engine ↔ PyTorch parity for one case of cases.txt (or settings given on the command line).

Runs parity_dump (a few AdamW steps of a tiny LraModel, then one forward + backward at the final
parameters), rebuilds the same model in PyTorch (torch_models.py) from the dumped parameters promoted
to float64, and compares the logits, the loss, the gradient of every parameter, the BatchNorm running
statistics after that forward and the eval-mode logits. Every case runs twice: the engine in float32
(what users train with; the tolerance allows the rounding a float32 computation makes on that case)
and the engine in float64 (dtype=f64; then the two sides differ only by double rounding, so the
tolerance is 1e-9 of the tensor's scale and any difference of definitions shows).

  check_parity.py --dump build/tests/parity/parity_dump --case s4d
  check_parity.py --dump ... --settings model=gmlp bidirectional=0
  check_parity.py --dump ... --coverage        # every registered mixer has a case named after it
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# Tolerances: |engine − reference| ≤ atol + rtol·|reference| per element, with atol proportional to
# the tensor's scale s = max|reference| (at least 1e-3): a gradient entry made small by cancellation
# carries the rounding error of the large terms it was summed from, not of its own size.
#
# float32 (the path users train with): derived, not guessed. The same PyTorch model run in float32 from
# the same float32 parameters shows what a straightforward float32 computation loses on this case;
# E32 = max over the case's tensors of max|torch32 − torch64| / s. The engine may lose F32_FACTOR times
# that: atol = max(F32_FACTOR·E32, F32_MIN_ATOL)·s. The engine's worst error is 0.5 to 3.7 times
# torch32's on these cases (README.md). Well-conditioned cases (engine at most 2.3e-6·s) get the floor,
# which leaves room for a BLAS or thread count on which torch32 happens to be more exact than here;
# BatchNorm post-norm cases, where parameters feeding a BatchNorm have gradients that nearly cancel,
# get the larger budget float32 itself needs there (torch32 loses up to 6e-5·s).
F32_FACTOR = 10.0
F32_MIN_ATOL = 2e-5
F32_RTOL = 1e-6       # the float32 rounding of each value itself (ε = 6e-8), with room
# float64 (dtype=f64): the engine's CPU references run in double, so the only differences left are
# double rounding (~1e-16 times the conditioning, at most 3e-13·s seen): any difference of
# definitions, however small, is far above this.
F64_ATOL = 1e-9
F64_RTOL = 1e-9
SCALE_FLOOR = 1e-3


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


try:
    import numpy as np
    import torch
    from torch.nn.utils import stateless
except ImportError as e:
    fail(f"cannot import PyTorch/numpy in {sys.executable} ({e}). The parity tests need Debian's PyTorch: "
         "install python3-torch (apt-get install python3-torch; scripts/setup.sh installs the build's other Debian "
         "packages, not this one yet) and use /usr/bin/python3, or configure with "
         "-DLRA_PYTHON=<an interpreter that has torch>. "
         "These tests fail rather than skip, so a missing oracle is never mistaken for parity.")

sys.path.insert(0, HERE)
import torch_models  # noqa: E402


def read_cases(path):
    cases = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, *settings = line.split()
                if name in cases:
                    fail(f"{path}: case {name} appears twice")
                cases[name] = settings
    return cases


def read_safetensors(path):
    """A minimal safetensors reader (json + numpy): returns (tensors, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + begin: 8 + n + end], dtype=dtypes[info["dtype"]])
        tensors[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return tensors, meta


def scale_of(ref):
    return max(ref.detach().abs().max().item(), SCALE_FLOOR) if ref.numel() else SCALE_FLOOR


def compare(label, name, engine, ref, atol_rel, rtol):
    """Returns (worst ratio |a−b| / bound, description); prints the details on failure."""
    b = ref.detach().to(torch.float64)
    a = engine.to(torch.float64).reshape(b.shape)
    if a.numel() == 0:
        return 0.0, name + " (empty)"
    scale = scale_of(b)
    bound = atol_rel * scale + rtol * b.abs()
    err = (a - b).abs()
    ratio = (err / bound).reshape(-1)
    worst = int(torch.argmax(ratio))
    coords = [int(c) for c in np.unravel_index(worst, tuple(b.shape))] if b.dim() else []
    r = ratio[worst].item() if torch.isfinite(a).all() else float("inf")
    desc = (f"{name}{coords}: engine {a.reshape(-1)[worst].item():.9g}, reference {b.reshape(-1)[worst].item():.9g}, "
            f"|a-b| {err.reshape(-1)[worst].item():.3g} (bound {bound.reshape(-1)[worst].item():.3g}; "
            f"max |a-b| {err.max().item():.3g}, scale {scale:.3g})")
    if not r <= 1.0:
        bad = (err > bound).nonzero().tolist()
        print(f"FAIL {label}: {desc}; {len(bad)} of {b.numel()} elements outside |a-b| <= {atol_rel:.3g}*scale + "
              f"{rtol:g}*|ref|, first: {bad[:5]}", file=sys.stderr)
    return r, desc


def dump(binary, label, settings, folder):
    path = os.path.join(folder, f"{label}.safetensors")
    run = subprocess.run([binary, path, *settings], capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"{label}: parity_dump {' '.join(settings)} exited {run.returncode}: {run.stderr.strip()}")
    return read_safetensors(path)


def reference(tensors, meta, dtype):
    """The PyTorch model of the file's config in `dtype`, at the file's parameters: the training-mode
    logits and loss, every parameter gradient, the BatchNorm statistics after that forward, and the
    eval-mode logits, under the engine's names."""
    cfg = torch_models.Config(meta)
    model = torch_models.LraModel(cfg).to(dtype)
    params = {n[len("grad/"):]: tensors[n[len("grad/"):]] for n in tensors if n.startswith("grad/")}
    buffers = {n[len("after/"):]: tensors[n[len("after/"):]] for n in tensors if n.startswith("after/")}
    leaves, subs = torch_models.load_engine_parameters(model, params, buffers, dtype)

    def inputs(suffix):
        key = "input/ids" + suffix
        x = tensors[key].long() if key in tensors else tensors["input/pixels" + suffix].to(dtype)
        m = tensors.get("input/mask" + suffix)
        return x, (m.long() if m is not None else None)

    x1, m1 = inputs("")
    args = (x1, m1, *inputs("2")) if cfg.dual else (x1, m1)
    model.train()
    logits = stateless.functional_call(model, subs, args)
    loss = torch.nn.functional.cross_entropy(logits, tensors["input/labels"].long())
    loss.backward()
    out = {"out/logits": logits.detach(), "out/loss": loss.detach()}
    for name, leaf in leaves.items():
        out["grad/" + name] = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
    for name in buffers:
        out["after/" + name] = subs[name]  # updated in place by the training-mode BatchNorm
    model.eval()
    with torch.no_grad():
        out["out/eval_logits"] = stateless.functional_call(model, subs, args)
    return out


def check_s4d_legs_init(label, tensors, meta):
    """With steps=0 the dumped parameters are the initialisation: an S4D-LegS model's A and B must be S4's
    (torch_models.s4d_legs_init: hippo.py's construction with torch.linalg.eigh in float64, independent of
    the engine's LAPACK zheev). The engine stores S4's A_real and A_imag values and B conjugated; the mixer
    rounds them to float32 in either dtype, so the bound is float32's relative rounding."""
    a_re, a_im, B = torch_models.s4d_legs_init(int(meta["mixer.ssm_n"]))
    names = [n for n in tensors if n.endswith("mixer.A_imag") and not n.startswith("grad/")]
    if not names:
        fail(f"{label}: no S4D A_imag in the dump")
    worst = 0.0
    for n in names:
        prefix = n[: -len("A_imag")]
        ai, ar, b = (tensors[prefix + k].double() for k in ("A_imag", "log_A_real", "B"))
        worst = max(worst, ((ai - a_im) / a_im).abs().max().item(), (ar - a_re).abs().max().item(),
                    (b[..., 0] - B.real).abs().max().item(), (b[..., 1] + B.imag).abs().max().item())
    good = worst <= 1e-6
    print(f"{'ok' if good else 'FAIL'} {label}: S4D-LegS initial A, B against torch eigh, worst {worst:.2g} (bound 1e-6)")
    return good


def check(binary, case, settings, keep=None):
    """Runs the case in float32 and in float64; True when both agree with the reference."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or tmp
        for dtype in ("f32", "f64"):
            label = f"{case} [{dtype}]"
            tensors, meta = dump(binary, f"{case}.{dtype}", [*settings, f"dtype={dtype}"], folder)
            ref = reference(tensors, meta, torch.float64)
            if meta.get("model") == "s4d" and meta.get("mixer.init") == "legs" and meta.get("dump.steps") == "0":
                ok &= check_s4d_legs_init(label, tensors, meta)
            zero = [n[len("grad/"):] for n, g in ref.items() if n.startswith("grad/") and not g.abs().max() > 0]
            if zero:
                # A parameter whose reference gradient is exactly zero is not being checked by this case.
                fail(f"{label}: the reference gradient of {', '.join(zero)} is identically zero: the case does not "
                     "exercise it (change the case so every parameter matters)")
            if dtype == "f32":
                ref32 = reference(tensors, meta, torch.float32)
                e32 = max(((ref32[n].double() - r).abs().max().item() / scale_of(r) for n, r in ref.items()
                           if r.numel()), default=0.0)
                atol, rtol = max(F32_FACTOR * e32, F32_MIN_ATOL), F32_RTOL
                note = f"torch float32 loses {e32:.2g}·scale, atol {atol:.2g}·scale"
            else:
                atol, rtol = F64_ATOL, F64_RTOL
                note = f"atol {atol:.2g}·scale"
            missing = sorted(set(ref) - set(tensors))
            if missing:
                fail(f"{label}: the dump lacks {', '.join(missing)}")
            results = [compare(label, n, tensors[n], r, atol, rtol) for n, r in ref.items()]
            worst = max(results, key=lambda x: x[0])
            good = all(x[0] <= 1.0 for x in results)
            ok &= good
            print(f"{'ok' if good else 'FAIL'} {label}: {len(results)} tensors, {note}; worst |a-b|/bound "
                  f"{worst[0]:.3g} at {worst[1]}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, help="the parity_dump binary")
    ap.add_argument("--cases", default=os.path.join(HERE, "cases.txt"))
    ap.add_argument("--case", action="append", default=[], help="a case of the table (repeatable; 'all' = every case)")
    ap.add_argument("--settings", nargs="+", help="key=value settings instead of a named case")
    ap.add_argument("--coverage", action="store_true", help="fail when a registered mixer has no case of its name")
    ap.add_argument("--keep", help="write the dumps into this folder instead of a temporary one")
    a = ap.parse_args()
    cases = read_cases(a.cases)
    torch.set_num_threads(1)

    if a.coverage:
        run = subprocess.run([a.dump, "--list-mixers"], capture_output=True, text=True, check=True)
        mixers = run.stdout.split()
        missing = [m for m in mixers if m not in cases]
        missing += [m for m in mixers if m not in torch_models.MIXERS and m not in missing]
        if missing:
            fail(f"registered mixers without a parity case named after them in {a.cases} or a torch model in "
                 f"torch_models.MIXERS: {', '.join(missing)} (a new mixer is not done until its case passes)")
        print(f"ok coverage: {len(mixers)} registered mixers, each with a parity case: {', '.join(mixers)}")
        return 0

    todo = [(n, cases[n]) for n in cases] if "all" in a.case else []
    for n in a.case:
        if n != "all":
            if n not in cases:
                fail(f"no case {n} in {a.cases} (cases: {', '.join(cases)})")
            todo.append((n, cases[n]))
    if a.settings:
        todo.append(("settings", a.settings))
    if not todo:
        ap.error("give --case, --settings or --coverage")
    ok = True
    for name, settings in todo:
        ok &= check(a.dump, name, settings, a.keep)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
