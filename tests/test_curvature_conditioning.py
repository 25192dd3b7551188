"""Curvature near the rank-deficient set, against a reference that shares no code with riemdln.

tests/geometry_reference.mp_curvature builds G = A_N(X)^{-1} in the entries of X from the eigenbases of X X^T
and X^T X (fractional matrix powers) in mpmath, differentiates it by fourth-order central differences at 70
digits (step 1e-11 s_min) and assembles the Riemann tensor from its coordinate formula. In those coordinates the
O(1/s_min^2) terms cancel down to the O(1) curvature: 70 digits leave ample room at s_max/s_min = 1e8 (the reference
is checked against 90 digits and step 1e-14). Errors are relative to max(|K|, |R|/(n(n-1))), n = mn; Ricci
Ric(U, U)/g(U, U) relative to max(|Ric(U, U)|/g(U, U), |R|/n). At s_max/s_min = 1e8 the reference's own Ricci
contraction differs from its sum of sectional curvatures over a g-orthonormal frame by up to 7e-9 (riemdln's
Ricci agrees with that sum to 1e-11), so Ricci is held to 1e-8 there.
"""

from __future__ import annotations

import numpy as np
import pytest
from geometry_reference import matrix_with_singular_values, mp_curvature

import riemdln


def _errors(X, depth, normalized, U, V, dps=70, step=1e-11):
    R, (K, ric) = mp_curvature(X, depth, normalized, [(U, V), (U,)], dps=dps, step=step)
    n = X.size
    scale = max(abs(K), abs(R) / (n * (n - 1)))
    guu = float(riemdln.metric(X, U, U, depth, normalized))
    got_K = riemdln.sectional_curvature(X, U, V, depth, normalized)
    got_ric = riemdln.ricci_curvature(X, U, depth, normalized) / guu
    got_R = float(riemdln.scalar_curvature(X, depth, normalized))
    return (
        abs(got_K - K) / scale,
        abs(got_ric - ric / guu) / max(abs(ric) / guu, abs(R) / n),
        abs(got_R - R) / abs(R),
    )


CASES_2X2 = [  # (depth, normalized, s, det sign)
    (2.0, False, (1.3, 1.3e-8), -1),
    (3.0, True, (1.0, 1e-6), 1),
    (7.5, False, (2.0, 2e-8), -1),
    (5.0, True, (1.2, 1.2 * (1 + 1e-7)), 1),  # near-coincident
]


@pytest.mark.parametrize(("depth", "normalized", "s", "sign"), CASES_2X2)
def test_d2_ill_conditioned_and_near_coincident(depth, normalized, s, sign):
    rng = np.random.default_rng(int(depth * 10) + normalized)
    X = matrix_with_singular_values(rng, 2, 2, s)
    if sign * np.linalg.det(X) < 0:
        X[0] *= -1
    U, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    eK, eric, eR = _errors(X, depth, normalized, U, V)
    assert eK <= 1e-9 and eR <= 1e-9 and eric <= 1e-8  # Ricci: see the module docstring


def test_d2_scalar_matches_the_closed_form_at_extreme_conditioning():
    # the d = 2 closed form (the catalog twin) is exact; the chart's numeric scalar is what d >= 3 uses
    from riemdln.geometry import curvature

    for depth in (2.0, 3.0, 7.5):
        for kappa in (1e2, 1e5, 1e8):
            X = np.diag([1.5, 1.5 / kappa])
            closed = float(riemdln.scalar_curvature(X, depth))
            numeric = float(curvature._numeric_scalar_curvature(X, depth, False))
            assert numeric == pytest.approx(closed, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "depth", "normalized", "s"),
    [
        ((3, 3), 3.0, True, (1.2, 1.2 * (1 + 1e-7), 1.2e-8)),
        ((3, 3), 5.0, False, (1.0, 0.4, 1e-6)),
        ((2, 3), 3.0, False, (1.1, 1.1e-4)),
        ((2, 3), 7.5, True, (1.0, 1e-4)),
    ],
)
def test_d3_and_rectangular_ill_conditioned(shape, depth, normalized, s):
    rng = np.random.default_rng(len(s) + int(depth))
    X = matrix_with_singular_values(rng, *shape, s)
    U, V = rng.normal(size=shape), rng.normal(size=shape)
    eK, eric, eR = _errors(X, depth, normalized, U, V)
    bound = 5e-9 if shape[0] == shape[1] else 1e-6  # rectangular: no continuation through the rank drop
    assert eK <= bound and eR <= bound and eric <= max(bound, 1e-8)


@pytest.mark.slow
def test_reference_is_stable_between_precision_settings():
    rng = np.random.default_rng(3)
    X = matrix_with_singular_values(rng, 2, 2, (1.0, 1e-8))
    U, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    a = mp_curvature(X, 3.0, False, [(U, V), (U,)], dps=70, step=1e-11)
    b = mp_curvature(X, 3.0, False, [(U, V), (U,)], dps=90, step=1e-14)
    assert abs(a[0] - b[0]) <= 1e-13 * abs(b[0])
    assert all(abs(x - y) <= 1e-13 * max(abs(y), abs(b[0])) for x, y in zip(a[1], b[1], strict=True))


def _sweep_bound(shape, depth, kappa):
    """The documented bound (riemdln.curvature): square 4e-10 up to s_max/s_min = 1e6 and 4e-9 at 1e8;
    rectangular max(2e-8, 5e-11 (s_max/s_min)^(2/N)) (the chart's small value s_min^(1/N) next to the null
    directions)."""
    if shape[0] == shape[1]:
        return 4e-10 if kappa <= 1e6 else 4e-9
    return max(2e-8, 5e-11 * kappa ** (2.0 / depth))


@pytest.mark.slow
@pytest.mark.parametrize("kappa", [1e2, 1e4, 1e6, 1e8])
@pytest.mark.parametrize(("shape", "depth", "normalized"), [((2, 2), 7.5, True), ((3, 3), 2.0, False),
                                                           ((3, 3), 5.0, True), ((2, 3), 2.0, False),
                                                           ((2, 3), 3.0, True), ((2, 3), 7.5, False)])  # fmt: skip
def test_conditioning_sweep(shape, depth, normalized, kappa):
    """s_max/s_min = 1e2 ... 1e8, det < 0 at every other point, 3x3 with a near-coincident pair (the points of
    benchmarks/curvature_accuracy.py): sectional, Ricci and scalar within the documented bound."""
    rng = np.random.default_rng(int(np.log10(kappa)) + 10 * int(depth) + 100 * shape[1])
    s = [1.2, 1.2 * (1 + 1e-7), 1.2 / kappa] if min(shape) == 3 else [1.1, 1.1 / kappa]
    X = matrix_with_singular_values(rng, *shape, s)
    if shape[0] == shape[1] and kappa in (1e4, 1e8):
        X[0] *= -1
    U, V = rng.normal(size=shape), rng.normal(size=shape)
    bound = _sweep_bound(shape, depth, kappa)
    eK, eric, eR = _errors(X, depth, normalized, U, V)
    assert eK <= bound and eR <= bound and eric <= max(bound, 1e-8)  # Ricci: see the module docstring
