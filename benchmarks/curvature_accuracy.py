"""Accuracy of the numeric curvature against an mpmath reference, as a function of s_max/s_min.

Run: ``PYTHONPATH=$PWD python benchmarks/curvature_accuracy.py [--quick]``. For each shape (2x2, 3x3, 2x3), depth
(2, 3, 5, 7.5), convention (raw, normalized) and condition number s_max/s_min (1e2 ... 1e8), one point with
Haar-random singular vectors (3x3: a near-coincident pair, s = (1.2, 1.2 (1 + 1e-7), 1.2 / kappa); det < 0 for
every other point) and one random plane: the largest relative error of sectional K, Ricci Ric(U, U)/g(U, U) and
scalar R against tests/geometry_reference.mp_curvature (the curvature of G = A_N(X)^{-1} in the entries of X by
fourth-order finite differences at 70 digits, step 1e-11 s_min; nothing of riemdln's frame code), relative to
max(|K|, |R|/(n(n-1))). Prints the error of the earlier raw-coordinate stencil beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import riemdln
from riemdln.geometry import curvature

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from geometry_reference import matrix_with_singular_values, mp_curvature  # noqa: E402


def _point(shape, kappa, rng, flip):
    m, n = shape
    s = [1.2, 1.2 * (1 + 1e-7), 1.2 / kappa] if min(shape) == 3 else [1.1, 1.1 / kappa]
    X = matrix_with_singular_values(rng, m, n, s)
    if flip and m == n:
        X[0] *= -1
    return X


def _old(X, U, V, depth, normalized):
    fr = curvature._frame_at(X, depth, normalized)
    Uf, Vf = fr.to_frame(U), fr.to_frame(V)
    K = float(
        fr.metric(curvature._riemann(fr, Uf[None], Vf[None], Vf[None])[0], Uf) / curvature._independent(Uf, Vf, fr.M)
    )
    Us = np.broadcast_to(Uf, fr.E.shape)
    ric = float(np.sum(fr.metric(curvature._riemann(fr, fr.E, Us, Us), fr.E)))
    return K, ric, curvature._scalar_from_frame(fr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2x2 only")
    parser.add_argument("--rectangular", action="store_true", help="2x3 only")
    args = parser.parse_args()
    shapes = [(2, 2)] if args.quick else [(2, 3)] if args.rectangular else [(2, 2), (3, 3), (2, 3)]
    print("shape  N    conv  " + "  ".join(f"{k:>17.0e}" for k in (1e2, 1e4, 1e6, 1e8)) + "   (new / old)")
    worst = 0.0
    for shape in shapes:
        for depth in (2.0, 3.0, 5.0, 7.5):
            for normalized in (False, True):
                row = []
                for j, kappa in enumerate((1e2, 1e4, 1e6, 1e8)):
                    rng = np.random.default_rng(hash((shape, depth, normalized, j)) % 2**32)
                    X = _point(shape, kappa, rng, flip=j % 2 == 1)
                    U, V = rng.normal(size=shape), rng.normal(size=shape)
                    R, (K, ric) = mp_curvature(X, depth, normalized, [(U, V), (U,)], dps=70, step=1e-11)
                    n = X.size
                    scale = max(abs(K), abs(R) / (n * (n - 1)))
                    guu = float(riemdln.metric(X, U, U, depth, normalized))
                    got = (
                        riemdln.sectional_curvature(X, U, V, depth, normalized),
                        riemdln.ricci_curvature(X, U, depth, normalized),
                        float(riemdln.scalar_curvature(X, depth, normalized)),
                    )
                    old = _old(X, U, V, depth, normalized)

                    ref = (K, ric / guu, R)
                    scales = (scale, max(abs(ric) / guu, abs(R) / n), abs(R))
                    e_new, e_old = (
                        max(abs(v / w - r) / c for v, w, r, c in zip(vals, (1, guu, 1), ref, scales, strict=True))
                        for vals in (got, old)
                    )
                    worst = max(worst, e_new)
                    row.append(f"{e_new:8.1e} / {e_old:7.1e}")
                name = f"{shape[0]}x{shape[1]}"
                print(f"{name:5}  {depth:<4g} {'norm' if normalized else 'raw ':4}  " + "  ".join(row), flush=True)
    print(f"largest error of the new code: {worst:.1e}")


if __name__ == "__main__":
    main()
