"""The CPU speed and memory table of the LRA models (docs/benchmarks.md): every mixer asked for, at the LRA
text shape scaled to this machine (bench_train's generic row lra_text: vocab 257, width 128, depth 2, 4
heads, FFN 256), at several lengths, trained by the engine (tools/bench_train) and by the same model in
PyTorch on the CPU (tests/parity/torch_models.py through tools/bench/torch_cpu_model.py), in one run.

Every measurement is its own process. The two sides alternate (engine first on even rounds, PyTorch first
on odd ones) inside each round, rounds repeat, and the table gives the median over rounds of each side's
median step time, so load from other jobs on a shared machine falls on both sides alike. Both sides get the
same thread count (OMP_NUM_THREADS and torch.set_num_threads). Peak host memory is the resident set's peak
above the resident set with the model built (bench_train's header says how), the median over rounds.

  /usr/bin/python3 tools/bench/cpu_models.py --bench build/tools/bench_train --lengths 1024,2048,4096 \\
      --rounds 3 --jsonl runs/cpu-models.jsonl > runs/cpu-models.md

A run that fails or passes --timeout is reported in its cell ("timeout", the first line of the error) and
the table goes on. Standard library only (PyTorch is imported by torch_cpu_model.py, in its own process).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LRA_ELEVEN = ["transformer", "local", "sparse_transformer", "longformer", "linformer", "reformer", "sinkhorn",
              "synthesizer", "bigbird", "linear_transformer", "performer"]


def registered(train_binary):
    out = subprocess.run([train_binary, "--list-models"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]


def run_json(cmd, env, timeout):
    """Runs cmd; returns its last JSON line as a dict, or {"error": ...}."""
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout ({timeout} s)"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        err = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
        return {"error": err[:200]}
    j = json.loads(lines[-1])
    j["wall_s"] = round(time.time() - t0, 1)
    return j


def cell(values, fmt):
    nums = [v for v in values if isinstance(v, (int, float))]
    if nums:
        return fmt.format(statistics.median(nums))
    errs = [v for v in values if isinstance(v, str)]
    return errs[0] if errs else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/tools/bench_train")
    ap.add_argument("--train", default=None, help="a task binary for --list-models (default: lra-listops beside --bench)")
    ap.add_argument("--python", default="/usr/bin/python3", help="the interpreter with torch (Debian's python3-torch)")
    ap.add_argument("--models", default="lra", help="comma list, 'lra' (the LRA paper's eleven that are registered) or 'all'")
    ap.add_argument("--lengths", default="1024,2048,4096")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per measurement")
    ap.add_argument("--mixer", action="append", default=[], help="MODEL:key=value, passed to that model (repeatable)")
    ap.add_argument("--jsonl", default=None, help="also write every measurement here")
    ap.add_argument("--from-jsonl", default=None,
                    help="print the table of an earlier run's --jsonl file (e.g. one cut short) and run nothing")
    a = ap.parse_args()
    if a.from_jsonl:
        results, models, lengths = {}, [], []
        with open(a.from_jsonl) as f:
            for line in f:
                j = json.loads(line)
                results.setdefault((j["model"], j["length"], j["side"]), []).append(j)
                if j["model"] not in models:
                    models.append(j["model"])
                if j["length"] not in lengths:
                    lengths.append(j["length"])
        print_table(results, models, lengths)
        return

    train = a.train or os.path.join(os.path.dirname(a.bench), "lra-listops")
    names = registered(train)
    if a.models == "all":
        models = names
    elif a.models == "lra":
        models = [m for m in LRA_ELEVEN if m in names]
    else:
        models = a.models.split(",")
        bad = [m for m in models if m not in names]
        if bad:
            sys.exit(f"cpu_models: not registered: {', '.join(bad)} (registered: {', '.join(names)})")
    lengths = [int(x) for x in a.lengths.split(",")]
    extra = {}
    for m in a.mixer:
        model, _, kv = m.partition(":")
        extra.setdefault(model, []).append(kv)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    results = {}  # (model, L, impl) -> list of dicts
    log = open(a.jsonl, "w") if a.jsonl else None
    for r in range(a.rounds):
        for L in lengths:
            for model in models:
                common = ["--length", str(L), "--steps", str(a.steps), "--warmup", str(a.warmup)]
                engine_cmd = [a.bench, "--device", "cpu", "--model", model, "--batch", str(a.batch)] + common
                for kv in extra.get(model, []):
                    engine_cmd += ["--mixer", kv]
                order = ["engine", "torch"] if r % 2 == 0 else ["torch", "engine"]
                for impl in order:
                    if impl == "engine":
                        j = run_json(engine_cmd, env, a.timeout)
                        if "mixer" in j:
                            results.setdefault((model, "mixer"), j["mixer"])
                            results.setdefault((model, "settings"), j.get("model_settings", {}))
                    else:
                        mixer = results.get((model, "mixer"))
                        if mixer is None:  # the engine has not run yet this round: ask it for the settings
                            probe = run_json(engine_cmd[:-6] + ["--length", "16", "--steps", "1", "--warmup", "0"],
                                             env, a.timeout)
                            mixer = probe.get("mixer", {})
                            results[(model, "mixer")] = mixer
                            results[(model, "settings")] = probe.get("model_settings", {})
                        cmd = [a.python, os.path.join(HERE, "torch_cpu_model.py"), "--model", model, "--mixer",
                               json.dumps(mixer), "--settings", json.dumps(results.get((model, "settings"), {})),
                               "--batch", str(a.batch), "--threads", str(a.threads)] + common
                        j = run_json(cmd, env, a.timeout)
                    j.update({"round": r, "side": impl, "model": model, "length": L})
                    results.setdefault((model, L, impl), []).append(j)
                    if log:
                        log.write(json.dumps(j) + "\n")
                        log.flush()
                    print(f"round {r} L {L} {model} {impl}: "
                          f"{j.get('ms_per_step', j.get('error'))} ms, {j.get('peak_host_MB', '-')} MB",
                          file=sys.stderr, flush=True)

    print_table(results, models, lengths)


def print_table(results, models, lengths):
    """The markdown table: per model and length, the median over rounds of each side."""
    def values(model, L, impl, key):
        return [j.get(key, j.get("error")) for j in results.get((model, L, impl), [])]

    print(f"| model | L | engine ms/step | PyTorch ms/step | speed (PyTorch / engine) | engine peak MB | "
          f"PyTorch peak MB | memory (engine / PyTorch) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model in models:
        for L in lengths:
            e_ms, t_ms = values(model, L, "engine", "ms_per_step"), values(model, L, "torch", "ms_per_step")
            e_mb, t_mb = values(model, L, "engine", "peak_host_MB"), values(model, L, "torch", "peak_host_MB")
            speed = mem = "-"
            en = [v for v in e_ms if isinstance(v, (int, float))]
            tn = [v for v in t_ms if isinstance(v, (int, float))]
            if en and tn:
                speed = "%.2f×" % (statistics.median(tn) / statistics.median(en))
            em = [v for v in e_mb if isinstance(v, (int, float))]
            tm = [v for v in t_mb if isinstance(v, (int, float))]
            if em and tm and statistics.median(tm) > 0:
                mem = "%.2f×" % (statistics.median(em) / statistics.median(tm))
            print(f"| {model} | {L} | {cell(e_ms, '{:.0f}')} | {cell(t_ms, '{:.0f}')} | {speed} | "
                  f"{cell(e_mb, '{:.0f}')} | {cell(t_mb, '{:.0f}')} | {mem} |")


if __name__ == "__main__":
    main()
