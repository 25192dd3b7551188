"""Benchmark of riemdln.check_training (not a timed test).

Run:  python benchmarks/bench_check_training.py [--steps 1000] [--size 100] [--depth 3]

1. Gradient descent on a random size x size rank-5 completion (40 % observed), depth-N balanced start, every step
   recorded with TrainingRecorder: the cost of checking the run without the reference flow, and with it, side by
   side with the cost of the flow alone (end_to_end_flow at the same times). Goals: <= 10 s without the flow on
   2 cores; with it, no more than the flow's own cost + 20 %. Wall and CPU seconds (CPU is what a loaded machine
   does not distort).
2. A defective run (momentum) of the same size: the cost of the rival models' passes.
3. Memory: peak RSS of a fresh process recording the same number of steps with max_records = 50 and 1001
   (the recorder's bound; one record of the network is N size^2 doubles).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import textwrap
import time

import numpy as np
from threadpoolctl import threadpool_limits

import riemdln


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def layer_gradients(p, W):
    """(W_N...W_{j+1})^T grad E (W_{j-1}...W_1)^T for every layer."""
    prefix = [np.eye(W[0].shape[1])]
    for w in W:
        prefix.append(w @ prefix[-1])
    back = np.where(p.mask, prefix[-1] - p.target, 0.0)
    grads = [None] * len(W)
    for j in range(len(W) - 1, -1, -1):
        grads[j] = back @ prefix[j].T
        back = W[j].T @ back
    return grads


def train(p, W0, lr, steps, momentum=0.0, max_records=None):
    rec = riemdln.TrainingRecorder(every=1, max_records=max_records or steps + 1)
    W = [w.copy() for w in W0]
    buf = [np.zeros_like(w) for w in W]
    for k in range(steps + 1):
        rec.record(k, W)
        if k == steps:
            break
        grads = layer_gradients(p, W)
        for j in range(len(W)):
            buf[j] = momentum * buf[j] + grads[j]
            W[j] = W[j] - lr * buf[j]
    return rec


def memory(steps: int, size: int, depth: int, max_records: int) -> float:
    # VmHWM (peak resident set) of the fresh process; getrusage's ru_maxrss would include the forked parent's
    code = textwrap.dedent(
        f"""
        import numpy as np, riemdln

        def hwm():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024

        rec = riemdln.TrainingRecorder(every=1, max_records={max_records})
        W = [np.random.default_rng(j).standard_normal(({size}, {size})) for j in range({depth})]
        base = hwm()
        for k in range({steps}):
            W = [w * (1 + 1e-6) for w in W]
            rec.record(k, W)
        print(hwm() - base, len(rec))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--depth", type=int, default=3)
    args = ap.parse_args()
    d, N, K = args.size, args.depth, args.steps
    p = riemdln.CompletionProblem.random(d, d, rank=5, n_observed=int(0.4 * d * d), seed=0)
    s = np.linalg.norm(p.ground_truth, 2)
    lr = 0.3 * 2.0 / (N * s ** (2 * (N - 1) / N))
    rng = np.random.default_rng(1)
    X0 = rng.standard_normal((d, d))
    X0 *= 0.5 * s / np.linalg.norm(X0, 2)
    W0 = riemdln.balanced_factors(X0, N, rng=0)
    rec, w_train, c_train = timed(lambda: train(p, W0, lr, K))
    print(f"{d}x{d}, depth {N}, {K} steps at lr = {lr:.3g}; training (numpy) {w_train:.2f} s wall, {c_train:.2f} s cpu")
    print(f"{'':<44} {'wall s':>8} {'cpu s':>8}")
    c, w1, c1 = timed(lambda: riemdln.check_training(rec, lr=lr, energy=p))
    print(f"{'check, no reference flow':<44} {w1:8.2f} {c1:8.2f}   {c.findings} consistent={c.consistent}")
    times = np.arange(K + 1) * lr
    X0e = np.linalg.multi_dot(W0[::-1]) if N > 2 else W0[-1] @ W0[0]
    riemdln.end_to_end_flow(p, X0e, depth=N, t_final=float(times[10]), t_eval=times[:11])  # warm-up (imports, JIT)

    def flow():
        return riemdln.end_to_end_flow(p, X0e, depth=N, t_final=float(times[-1]), t_eval=times)

    res, wf0, cf0 = timed(flow)
    print(f"{'the flow alone (end_to_end_flow, t = k lr)':<44} {wf0:8.2f} {cf0:8.2f}   {res.status.name}")
    with threadpool_limits(limits=1, user_api="blas"):  # as check_training runs it (its diagnostics included)
        res, wf, cf = timed(flow)
    print(f"{'  the same, BLAS on one thread throughout':<44} {wf:8.2f} {cf:8.2f}")
    c2, w2, c2t = timed(lambda: riemdln.check_training(rec, lr=lr, energy=p, reference_flow=True))
    rf = c2.checks["reference_flow"]
    print(f"{'check with the reference flow':<44} {w2:8.2f} {c2t:8.2f}   deviation {rf.value:.2g} ({rf.status})")
    print(f"{'  overhead over the one-thread flow':<44} {(w2 / wf - 1) * 100:7.0f}% {(c2t / cf - 1) * 100:7.0f}%")
    bad, _, _ = timed(lambda: train(p, W0, lr, K, momentum=0.9))
    c3, w3, c3t = timed(lambda: riemdln.check_training(bad, lr=lr, energy=p))
    print(f"{'check of a momentum run (rival models)':<44} {w3:8.2f} {c3t:8.2f}   {c3.findings}")
    record_mb = N * d * d * 8 / 2**20
    print(f"\nrecorder memory, {K} steps recorded (one record = {record_mb:.2f} MB):")
    for m in (50, K + 1):
        mb, kept = memory(K, d, N, m)
        alone = kept * record_mb
        print(f"  max_records = {m:<5} kept {kept:<5} peak RSS growth {mb:8.1f} MB (records alone {alone:.1f} MB)")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print("(the process holds two recorded runs and the flows' trajectories)")


if __name__ == "__main__":
    main()
