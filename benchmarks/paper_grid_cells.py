"""Measure single cells of deep_completion's paper grid (``riemdln reproduce --paper``), one seed.

Run:  python benchmarks/paper_grid_cells.py [--observed 2000 8000] [--depths 1 2 3 4 6 8 inf] [--seed 0]
            [--max-steps K]

      python benchmarks/paper_grid_cells.py --observed 2000 --depths inf --seed 2 --max-steps 20000
            # a drifting N = inf cell with its cap lowered: the cost per step, for the cap's wall time

Each cell is exactly the study's run (``riemdln.studies.deep_completion._flow`` with ``paper_parameters()``:
100x100 rank 5, init 1e-3, normalized flow in matrix form to loss 1e-8, t_final 1e9, 200 000 steps, or
``--max-steps``). Prints per cell the status, final loss, test error, t reached, wall time and the wall time
per allowed step (the cost per step of a run that ends at its cap), then the sum: the grid's cost per seed
and observation count, from which the README's estimate for the whole grid is made.
"""

from __future__ import annotations

import argparse
import time

from riemdln.studies import deep_completion


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--observed", type=int, nargs="+", default=[2000, 8000])
    ap.add_argument("--depths", nargs="+", default=["1", "2", "3", "4", "6", "8", "inf"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=None, help="step cap (default: the grid's 200 000)")
    args = ap.parse_args()
    p = deep_completion.paper_parameters()
    total = 0.0
    for k in args.observed:
        for N in args.depths:
            steps = p["max_steps_infinite"] if N == "inf" else p["max_steps"]
            steps = steps if args.max_steps is None else args.max_steps
            t0 = time.perf_counter()
            r = deep_completion._flow(
                p["size"],
                p["rank"],
                k,
                args.seed,
                N,
                p["init_scale"],
                p["loss_tol"],
                p["t_final"],
                steps,
                p.get("formulation", "auto"),
            )
            wall = time.perf_counter() - t0
            total += wall
            print(
                f"obs {k:5d}  N {N:>3}: {r['status']:<9} loss {r['final_loss']:.1e}  test error "
                f"{r['test_error']:.2e}  t {r['t_end']:.2e}  {wall:7.1f} s "
                f"({1e3 * wall / steps:.2f} ms per allowed step)",
                flush=True,
            )
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    main()
