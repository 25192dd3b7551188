"""The compiled d = 2 Langevin step on 1 thread against numba's threads, with and without a concurrent load.

Each configuration runs in a fresh Python process (``--row``): ``langevin`` on ``--chains`` chains of a 2×2
QuadraticEnergy (N = 3, beta = 4) for ``--steps`` steps after a two-step warm-up, with ``numba``'s thread
count set to 1, to the number of cores, or left to the library's default (``threads=default``). The loaded
rounds start one busy-loop process per core (``--load``) for the duration of the timed runs. Configurations
alternate within a round and each round is repeated ``--repeat`` times, so that all see the same load.

    python benchmarks/bench_langevin_threads.py                  # 1e4 chains x 2000 steps, idle and loaded
    python benchmarks/bench_langevin_threads.py --chains 100000 --steps 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time


def busy() -> None:  # pragma: no cover - a load generator
    while True:
        pass


def row(spec: dict) -> None:
    import numpy as np

    import riemdln
    from riemdln import langevin_dynamics

    d, n = spec["d"], spec["chains"]
    if d > 2 and spec["threads"] != "default":  # the threaded batch SVD of d >= 3
        langevin_dynamics._svd_threads = lambda: int(spec["threads"])
    E = riemdln.QuadraticEnergy(np.array([[1.0, 0.3], [0.0, 0.5]]) if d == 2 else np.eye(d))
    beta = 4.0 if d == 2 else 50.0
    riemdln.langevin(E, np.eye(d), 3, beta, 2e-3, 1e-3, n_chains=n, seed=0)  # warm-up: cache load, threads
    t0 = time.perf_counter()
    riemdln.langevin(E, np.eye(d), 3, beta, spec["steps"] * 1e-3, 1e-3, n_chains=n, seed=0, save_every=spec["steps"])
    print(json.dumps({"wall": time.perf_counter() - t0}))


def timed(spec: dict, tree: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = tree
    if spec["threads"] != "default" and spec["d"] == 2:
        env["NUMBA_NUM_THREADS"] = spec["threads"]
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--row", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        cwd="/tmp",
        env=env,
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["wall"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--d", type=int, default=2, help="matrix size (d >= 3: the threaded batch SVD)")
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--load", type=int, default=os.cpu_count() or 1, help="busy-loop processes when loaded")
    ap.add_argument("--threads", default=f"1,{os.cpu_count() or 1},default")
    ap.add_argument("--old", help="another checkout: its default configuration runs beside the current one")
    ap.add_argument("--row", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row is not None:
        row(json.loads(args.row))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    configs = [(f"threads={c}", c, here) for c in args.threads.split(",")]
    if args.old:
        configs.append(("default (previous)", "default", os.path.abspath(args.old)))
    print(f"| load | {' | '.join(f'{name} (s)' for name, _, _ in configs)} | ratios to threads=1 |")
    print("|---|" + "---|" * (len(configs) + 1))
    for loaded in (False, True):
        for _ in range(args.repeat):
            workers = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load if loaded else 0)]
            for w in workers:
                w.start()
            try:
                spec = {"d": args.d, "chains": args.chains, "steps": args.steps}
                walls = [timed({**spec, "threads": c}, tree) for _, c, tree in configs]
            finally:
                for w in workers:
                    w.terminate()
                    w.join()
            ratios = ", ".join(f"{w / walls[0]:.2f}" for w in walls[1:])
            name = f"{args.load} busy loops" if loaded else "none added"
            print(f"| {name} | {' | '.join(f'{w:.2f}' for w in walls)} | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
