"""The SVD-coordinate right-hand side on the derived twins against the former hand-written formulas.

The flow in (rho, Q, R) evaluates the rotations through the lambdified split forms (catalog
``left_rotation_split``, ``right_rotation_split``) and d(rho)/dt through ``log_singular_value_velocity*``.
This prints, side by side in one run, the time per right-hand side of that code and of the hand-written
formulas it replaced (``0.5 (F Psym - H Pant)``, ``-c diag(Gt)``), their ratio, and the largest relative
difference of the two right-hand sides. Goal: ratio <= 1.1.

    python benchmarks/bench_chain.py
"""

from __future__ import annotations

import math
import time

import numpy as np

import riemdln
from riemdln.flows.end_to_end import _SVDSystem
from riemdln.geometry._metric import unchecked_log_multiplier


def hand_rhs(system: _SVDSystem, y: np.ndarray, log_a11: float) -> np.ndarray:
    """The right-hand side as written by hand before the twins (square case)."""
    z = system._state(y)
    Q, R, Gt, Psym, Pant, F, H = z["Q"], z["R"], z["Gt"], z["Psym"], z["Pant"], z["F"], z["H"]
    drho = -np.exp(log_a11 + z["rho"] * (2 * system.deg - 1)) * np.diag(Gt)
    Omega = 0.5 * (F * Psym - H * Pant)
    Theta = 0.5 * (F * Psym + H * Pant)
    return np.concatenate([drho, (Q @ Omega).ravel(), (R @ Theta).ravel()])


def timed(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best


def main() -> None:
    print(f"{'d':>4} {'depth':>6} {'twins (ms)':>11} {'hand (ms)':>10} {'ratio':>6} {'max rel diff':>13}")
    for d, depth in ((10, 3.0), (50, 3.0), (100, 3.0), (100, math.inf)):
        p = riemdln.CompletionProblem.random(d, d, 5 if d >= 50 else 2, d * d // 3, seed=0)
        system = _SVDSystem(riemdln.flows._energy.ops(p), depth, True)
        rng = np.random.default_rng(1)
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        R, _ = np.linalg.qr(rng.standard_normal((d, d)))
        y = system.join(np.log(np.geomspace(20.0, 1e-3, d)), Q, R)
        repeat = max(3, 20000 // (d * d))
        t_twin = timed(lambda s=system, y=y: s.rhs(0.0, y), repeat)
        la = float(unchecked_log_multiplier(np.ones(1), np.ones(1), depth, True)[0])  # cached, as the former code did
        t_hand = timed(lambda s=system, y=y, la=la: hand_rhs(s, y, la), repeat)
        a, b = system.rhs(0.0, y), hand_rhs(system, y, la)
        diff = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
        print(f"{d:>4} {depth:>6g} {1e3 * t_twin:>11.3f} {1e3 * t_hand:>10.3f} {t_twin / t_hand:>6.2f} {diff:>13.2e}")


if __name__ == "__main__":
    main()
