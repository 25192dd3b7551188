"""The exact Jacobian of the end-to-end flow and its building blocks, against independent truths.

- the Langevin function coth z - 1/z: mpmath at 40 digits, and its series coefficients against SymPy's series;
- the log-derivative of the multiplier and its divided differences: mpmath (mp.diff and exact quotients);
- end_to_end_jacobian: central differences of the right-hand side (square, rectangular, coincident singular
  values, every depth convention);
- the flow hands it to the implicit solvers (no finite-difference Jacobians).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from riemdln import CompletionProblem
from riemdln._validation import RiemdlnValueError
from riemdln.flows import end_to_end_flow, end_to_end_jacobian
from riemdln.flows.end_to_end import _aligned_svd, _matrix_rhs, _SVDSystem
from riemdln.geometry._metric import log_multiplier_log_derivative, unchecked_multiplier_slope
from riemdln.symbolic import kernels

DEPTHS = [(1.0, False), (2.0, False), (3.0, False), (2.5, True), (7.0, True), (1e6, True), (math.inf, True)]


def mp_multiplier(x, y, depth, normalized):
    """a_N(x, y) (raw or /N) or L(x, y) at 50 digits, from the defining quotients."""
    x, y = mp.mpf(x), mp.mpf(y)
    if math.isinf(depth):
        if x == y:
            return x
        if x == 0 or y == 0:
            return mp.mpf(0)
        return (x - y) / (mp.log(x) - mp.log(y))
    N = mp.mpf(depth)
    value = N * x ** ((N - 1) / N) if x == y else (x - y) / (x ** (1 / N) - y ** (1 / N))
    return value / N if normalized else value


def test_langevin_against_mpmath():
    zs = np.concatenate([np.linspace(-3, 3, 301), np.geomspace(1e-12, 60, 200), -np.geomspace(1e-9, 5, 50)])
    zs = np.concatenate([zs, [0.5, np.nextafter(0.5, 1), np.nextafter(0.5, 0)]])
    got = kernels.langevin_function(zs)
    with mp.workdps(40):
        worst = max(
            abs(float((mp.mpf(float(v)) - (mp.coth(mp.mpf(z)) - 1 / mp.mpf(z))) / (mp.coth(mp.mpf(z)) - 1 / mp.mpf(z))))
            for z, v in zip(zs, got, strict=True)
            if z != 0
        )
    assert worst < 5e-15
    assert kernels.langevin_function(0.0) == 0.0
    assert kernels.langevin_function(np.inf) == 1.0 and kernels.langevin_function(-np.inf) == -1.0


def test_langevin_series_coefficients_match_sympy():
    sympy = pytest.importorskip("sympy")
    z = sympy.Symbol("z")
    series = sympy.series(sympy.coth(z) - 1 / z, z, 0, 2 * len(kernels._LANGEVIN_SERIES) + 1).removeO()
    expected = [float(series.coeff(z, 2 * n - 1)) for n in range(1, len(kernels._LANGEVIN_SERIES) + 1)]
    np.testing.assert_allclose(kernels._LANGEVIN_SERIES, expected, rtol=1e-15)


@pytest.mark.parametrize("depth, normalized", DEPTHS)
def test_log_derivative_of_multiplier(depth, normalized, rng):
    """psi'(delta) = d log a(e^u, y)/du at delta = u - log y, against mpmath.diff at 50 digits."""
    for _ in range(25):
        u, v = rng.uniform(-30, 30, size=2)
        got = float(log_multiplier_log_derivative(np.float64(u - v), depth))
        with mp.workdps(50):
            ref = mp.diff(lambda uu, v=v: mp.log(mp_multiplier(mp.exp(uu), mp.exp(v), depth, normalized)), mp.mpf(u))
        assert abs(got - float(ref)) < 1e-13 * max(1.0, abs(float(ref)))


@pytest.mark.parametrize("depth, normalized", DEPTHS)
def test_multiplier_slope_against_mpmath(depth, normalized, rng):
    """Divided differences in the first argument, across the 1e-4 switch, at coincidence and at zero."""
    gaps = [0.0, 1e-13, 1e-9, 3e-5, 9.9e-5, 1.01e-4, 1e-3, 0.3, 5.0, 40.0]
    worst = 0.0
    with mp.workdps(50):
        for trial in range(160):
            x1 = float(np.exp(rng.uniform(-20, 20)))
            y = 0.0 if trial % 7 == 0 else float(np.exp(rng.uniform(-20, 20)))
            x2 = 0.0 if trial % 11 == 0 else float(x1 * math.exp(gaps[trial % len(gaps)]))
            got = float(unchecked_multiplier_slope(x1, x2, y, depth, normalized))
            if x1 == x2:
                ref = mp.diff(lambda t, y=y: mp_multiplier(t, y, depth, normalized), mp.mpf(x1))
            else:
                ref = (mp_multiplier(x2, y, depth, normalized) - mp_multiplier(x1, y, depth, normalized)) / (
                    mp.mpf(x2) - mp.mpf(x1)
                )
            scale = mp_multiplier(x1, y, depth, normalized) / x1
            if x2 > 0:
                scale += mp_multiplier(x2, y, depth, normalized) / x2
            if scale == 0:
                assert got == 0.0
                continue
            worst = max(worst, abs(float((got - ref) / scale)))
    assert worst < 2e-11
    assert unchecked_multiplier_slope(0.0, 0.0, 1.0, depth, normalized) == 0.0


def mp_rhs(problem, X, depth, normalized):
    """-Q (a o (Q^T grad E R)) R^T with an mpmath SVD (full frames; s padded by zeros)."""
    m, n = problem.shape
    U, S, V = mp.svd_r(X, full_matrices=True)  # X = U diag(S) V
    s = [S[i] for i in range(min(m, n))]
    x = [v**2 for v in s] + [mp.mpf(0)] * (m - len(s))
    y = [v**2 for v in s] + [mp.mpf(0)] * (n - len(s))
    G = mp.matrix(m, n)
    for i in range(m):
        for j in range(n):
            if problem.mask[i, j]:
                G[i, j] = X[i, j] - problem.target[i, j]
    Gt = U.T * G * V.T
    for i in range(m):
        for j in range(n):
            Gt[i, j] *= mp_multiplier(x[i], y[j], depth, normalized)
    return -(U * Gt * V)


def mp_central_jacobian(problem, X, depth, normalized):
    """Central differences of mp_rhs at 40 digits (truncation ~h^2, rounding ~1e-40/h: both far below 1e-16)."""
    m, n = problem.shape
    with mp.workdps(40):
        h = mp.mpf("1e-15")
        X0 = mp.matrix(X.tolist())
        J = np.empty((m * n, m * n))
        for c in range(m * n):
            E = mp.matrix(m, n)
            E[c // n, c % n] = h
            diff = (mp_rhs(problem, X0 + E, depth, normalized) - mp_rhs(problem, X0 - E, depth, normalized)) / (2 * h)
            J[:, c] = [float(diff[r // n, r % n]) for r in range(m * n)]
    return J


def central_jacobian(f, y, h=1e-6):
    J = np.empty((y.size, y.size))
    for c in range(y.size):
        e = np.zeros(y.size)
        e[c] = h
        J[:, c] = (f(0.0, y + e) - f(0.0, y - e)) / (2 * h)
    return J


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (3, 5), (5, 3)])
@pytest.mark.parametrize("depth, normalized", [(1.0, False), (2.0, False), (3.0, False), (2.5, True), (math.inf, True)])
def test_jacobian_matches_central_differences(shape, depth, normalized, rng):
    m, n = shape
    p = CompletionProblem.random(m, n, rank=1, n_observed=(m * n) // 2 + 1, seed=1)
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    points = {
        "generic": rng.standard_normal(shape),
        "near-coincident": 0.7 * np.eye(m, n) + 1e-9 * rng.standard_normal(shape),
        "coincident": 0.7 * np.eye(m, n),
        "spread": U[:, :k] @ np.diag([3.0, 1e-2, 1e-4, 1e-4 * (1 + 1e-12)][:k]) @ V[:, :k].T,
    }
    for name, X in points.items():
        J = end_to_end_jacobian(p, X, depth, normalized)
        assert J.shape == (m * n, m * n)
        if name == "spread":
            # curvature on the scale of s = 1e-4 defeats float differences: compare at 40 digits
            assert np.linalg.norm(J - mp_central_jacobian(p, X, depth, normalized)) <= 1e-10 * np.linalg.norm(J)
        else:
            J_fd = central_jacobian(_matrix_rhs(p, depth, normalized), X.ravel())
            assert np.linalg.norm(J - J_fd) <= 1e-7 * np.linalg.norm(J_fd), name


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (3, 5), (5, 3)])
@pytest.mark.parametrize("depth, normalized", [(1.0, False), (2.0, False), (3.0, False), (2.5, True), (math.inf, True)])
def test_svd_coordinate_jacobian_matches_central_differences(shape, depth, normalized, rng):
    """The SVD-coordinate flow's Jacobian (rho, Q, R) against central differences of its right-hand side,
    at a generic point and at singular values spread over eight decades (log s makes them benign)."""
    m, n = shape
    p = CompletionProblem.random(m, n, rank=1, n_observed=(m * n) // 2 + 1, seed=1)
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    system = _SVDSystem(p, depth, normalized)
    for X in (rng.standard_normal(shape), U[:, :k] @ np.diag([30.0, 1e-2, 1e-5, 3e-7][:k]) @ V[:, :k].T):
        y = system.join(*_aligned_svd(X, system))
        J = system.jacobian(0.0, y)
        J_fd = central_jacobian(system.rhs, y)
        assert np.linalg.norm(J - J_fd) <= 1e-7 * np.linalg.norm(J_fd)
        # the batched directional derivative agrees with the assembled matrix
        W = rng.standard_normal((3, y.size))
        np.testing.assert_allclose(system.jvp(y, W), W @ J.T, rtol=0, atol=1e-12 * np.abs(J).max() * y.size)


def test_svd_flow_implicit_solvers_use_the_analytic_jacobian(monkeypatch):
    import riemdln.flows.end_to_end as e2e

    calls = []
    jacobian = e2e._SVDSystem.jacobian

    def counting(self, t, y, chunk=512):
        calls.append(t)
        return jacobian(self, t, y, chunk)

    monkeypatch.setattr(e2e._SVDSystem, "jacobian", counting)
    p = CompletionProblem.random(6, 5, rank=1, n_observed=18, seed=3)
    X0 = 0.1 * np.random.default_rng(4).standard_normal((6, 5))
    res = e2e.svd_flow(p, X0, math.inf, 300.0, True, method="BDF")
    ref = e2e.svd_flow(p, X0, math.inf, 300.0, True, method="DOP853", rtol=1e-11, atol=1e-13)
    assert res.success and res.njev >= 1 and len(calls) == res.njev
    np.testing.assert_allclose(res.X[-1], ref.X[-1], rtol=0, atol=1e-6)


def test_jacobian_depth_one_is_minus_the_mask():
    p = CompletionProblem.named("razin-cohen-2x2")
    J = end_to_end_jacobian(p, np.ones((2, 2)), depth=1)
    np.testing.assert_array_equal(J, -np.diag(p.mask.ravel().astype(float)))


def test_jacobian_bad_input():
    p = CompletionProblem.named("menon-2x2")
    with pytest.raises(RiemdlnValueError, match="`X`"):
        end_to_end_jacobian(p, np.eye(3), depth=2)
    with pytest.raises(RiemdlnValueError, match="normalized"):
        end_to_end_jacobian(p, np.eye(2), depth=math.inf)
    with pytest.raises(RiemdlnValueError, match="problem"):
        end_to_end_jacobian("menon-2x2", np.eye(2), depth=2)
    with pytest.raises(RiemdlnValueError, match="has rank 1 < min"):
        end_to_end_jacobian(p, np.diag([1.0, 0.0]), depth=3)
    assert np.all(np.isfinite(end_to_end_jacobian(p, np.diag([1.0, 0.0]), depth=1)))


@pytest.mark.parametrize("method", ["LSODA", "BDF", "Radau"])
def test_implicit_solvers_use_the_analytic_jacobian(method, monkeypatch):
    """Every Jacobian the implicit solver asks for is the analytic one, and the solution is unchanged."""
    import riemdln.flows.end_to_end as e2e

    calls = []
    make = e2e._matrix_jacobian

    def counting(*args):
        jac = make(*args)

        def wrapped(t, y):
            calls.append(t)
            return jac(t, y)

        return wrapped

    monkeypatch.setattr(e2e, "_matrix_jacobian", counting)
    p = CompletionProblem.random(6, 6, rank=1, n_observed=20, seed=3)
    X0 = 0.1 * np.random.default_rng(4).standard_normal((6, 6))
    res = end_to_end_flow(p, X0, 3, 200.0, True, formulation="matrix", method=method)
    ref = end_to_end_flow(p, X0, 3, 200.0, True, formulation="matrix", method="DOP853", rtol=1e-11, atol=1e-13)
    assert res.success and res.njev >= 1
    assert len(calls) == res.njev
    np.testing.assert_allclose(res.X[-1], ref.X[-1], rtol=0, atol=1e-6)


def test_auto_method_falls_back_to_bdf_when_lsoda_fails(monkeypatch):
    """``method="auto"`` continues with BDF from the last accepted step when LSODA fails; a method chosen by
    hand is not second-guessed. (LSODA does fail in SVD coordinates on razin-cohen-2x2 at N = inf near
    t = 1.9e6; here the failure is forced, so the test does not depend on scipy's internals.)"""
    from scipy import integrate

    from riemdln.flows import _driver

    class FailingLSODA(integrate.LSODA):
        def _step_impl(self):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls > 5:
                return False, "forced failure."
            return super()._step_impl()

    monkeypatch.setitem(_driver.METHODS, "LSODA", FailingLSODA)
    p = CompletionProblem.random(5, 5, rank=1, n_observed=15, seed=2)
    X0 = 0.3 * np.random.default_rng(5).standard_normal((5, 5))
    res = end_to_end_flow(p, X0, 3, 20.0, True, formulation="matrix")
    assert res.success, res.message
    assert "LSODA failed at t = " in res.message and "Continued with BDF" in res.message
    ref = end_to_end_flow(p, X0, 3, 20.0, True, formulation="matrix", method="DOP853", rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.X[-1], ref.X[-1], rtol=0, atol=1e-6)
    assert np.all(np.diff(res.t) > 0)
    by_hand = end_to_end_flow(p, X0, 3, 20.0, True, formulation="matrix", method="LSODA")
    assert by_hand.status.name == "FAILED" and "forced failure" in by_hand.message
