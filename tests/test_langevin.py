"""Riemannian Langevin dynamics, Gibbs sampling and the quadrature oracle (docs/theory.md §13).

Independent truths: finite differences of the full d^2 x d^2 operator (built from riemdln.apply_A on a basis),
second differences of f o phi along curves of the balanced manifold in factor space (the submersion identity),
deterministic quadrature (samplers), and an RK4 integration of the deterministic flow (beta -> inf).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.linalg import expm

import riemdln
from riemdln.thermo.langevin_dynamics import (
    _psi,
    entropy_drift,
    factor_ito_correction,
    ito_correction,
)


def _operator_matrix(X, depth, normalized=False):
    """The d^2 x d^2 matrix of A_N(X), column (a, b) = vec A_N(X) E_ab."""
    d = X.shape[0]
    A = np.empty((d * d, d * d))
    for k in range(d * d):
        E = np.zeros(d * d)
        E[k] = 1.0
        A[:, k] = riemdln.apply_A(X, E.reshape(d, d), depth, normalized=normalized).ravel()
    return A


def _divergence_formula(X, depth, normalized=False, h=1e-5):
    """div A + A grad log det A^{-1/2}, central differences in the entries of X."""
    d = X.shape[0]
    A0 = _operator_matrix(X, depth, normalized)
    c = np.zeros(d * d)
    for b in range(d * d):
        e = np.zeros(d * d)
        e[b] = h
        Ap = _operator_matrix(X + e.reshape(d, d), depth, normalized)
        Am = _operator_matrix(X - e.reshape(d, d), depth, normalized)
        dlog = -(np.linalg.slogdet(Ap)[1] - np.linalg.slogdet(Am)[1]) / (4 * h)
        c += (Ap[:, b] - Am[:, b]) / (2 * h) + A0[:, b] * dlog
    return c.reshape(d, d)


def _random_matrix(rng, d, lo=0.5, hi=2.0):
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return Q @ np.diag(np.sort(rng.uniform(lo, hi, d))[::-1]) @ R.T


def _spectral(X, values):
    U, s, Vt = np.linalg.svd(X)
    return U @ np.diag(values(s)) @ Vt


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("depth", [1, 2, 3, 4.5, math.inf])
def test_ito_correction_is_the_divergence_formula(d, depth):
    rng = np.random.default_rng(d * 10 + (7 if math.isinf(depth) else int(2 * depth)))
    X = _random_matrix(rng, d)
    normalized = math.isinf(depth)
    ref = _divergence_formula(X, depth, normalized)
    got = _spectral(X, lambda s: ito_correction(s, depth, normalized=normalized))
    assert np.max(np.abs(got - ref)) < 1e-6 * (1 + np.max(np.abs(ref)))


def test_ito_correction_special_cases_and_catalog(formulas):
    s = np.array([3.0, 0.7, 0.2])
    assert np.all(ito_correction(s, 1) == 0)
    assert np.allclose(ito_correction(s, 2), 1.0)
    f = formulas["ito_correction"]
    assert np.allclose(f.numpy(s, 3.0), ito_correction(s, 3))
    assert np.allclose(ito_correction(s, 7, normalized=True), ito_correction(s, 7) / 7)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("depth", [2, 3, 4.5])
def test_entropy_drift_is_A_times_the_gradient_of_the_entropy(d, depth):
    rng = np.random.default_rng(int(10 * depth) + d)
    X = _random_matrix(rng, d)
    h = 1e-6

    def S(Z):
        return float(riemdln.entropy(np.linalg.svd(Z, compute_uv=False), depth))

    grad = np.zeros(d * d)
    for b in range(d * d):
        e = np.zeros(d * d)
        e[b] = h
        grad[b] = (S(X + e.reshape(d, d)) - S(X - e.reshape(d, d))) / (2 * h)
    ref = (_operator_matrix(X, depth) @ grad).reshape(d, d)
    got = _spectral(X, lambda s: entropy_drift(s, depth))
    assert np.max(np.abs(got - ref)) < 1e-7 * (1 + np.max(np.abs(ref)))


def test_entropy_drift_coincident_singular_values_are_smooth():
    base = entropy_drift([1.3, 1.3, 0.4], 3)
    near = entropy_drift([1.3 * (1 + 1e-9), 1.3, 0.4], 3)
    assert np.all(np.isfinite(base)) and np.allclose(base, near, rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# balanced-factor coordinates
def _h_inverse_matrix(Y, depth):
    """(Psi^* g^N)^{-1} = DPsi^{-1} A_N DPsi^{-T} as a d^2 x d^2 matrix, DPsi by fourth-order central differences
    (error ~h^4 + eps/h ~ 1e-13: the divergence test differences this matrix once more)."""
    d = Y.shape[0]
    X = _psi(Y, depth)
    J = np.empty((d * d, d * d))
    h = 5e-4
    for b in range(d * d):
        e = np.zeros(d * d)
        e[b] = h
        E = e.reshape(d, d)
        J[:, b] = (
            (8 * (_psi(Y + E, depth) - _psi(Y - E, depth)) - (_psi(Y + 2 * E, depth) - _psi(Y - 2 * E, depth)))
            / (12 * h)
        ).ravel()
    Ji = np.linalg.inv(J)
    return Ji @ _operator_matrix(X, depth) @ Ji.T, J


@pytest.mark.parametrize("depth", [2, 3, 4.5])
def test_factor_coordinates_volume_and_ito_drift(depth):
    rng = np.random.default_rng(int(depth * 2))
    d = 3
    Y = _random_matrix(rng, d, 0.6, 1.4)
    Hinv, J = _h_inverse_matrix(Y, depth)
    # vol_{g^N} = N^{d/2} dY: det of the pulled-back metric is N^d
    assert np.isclose(-np.linalg.slogdet(Hinv)[1], d * math.log(depth), atol=1e-6)
    # Ito drift of Y = div_Y (h^{-1}) (constant det), by central differences
    h = 1e-4
    div = np.zeros(d * d)
    for b in range(d * d):
        e = np.zeros(d * d)
        e[b] = h
        div += (
            _h_inverse_matrix(Y + e.reshape(d, d), depth)[0][:, b]
            - _h_inverse_matrix(Y - e.reshape(d, d), depth)[0][:, b]
        ) / (2 * h)
    got = _spectral(Y, lambda mu: factor_ito_correction(mu, depth))
    assert np.max(np.abs(got.ravel() - div)) < 1e-6 * (1 + np.max(np.abs(div)))


def test_factor_ito_correction_at_det_zero_and_catalog(formulas):
    for N in (2, 3, 4.5):
        assert np.allclose(factor_ito_correction([1.7, 0.0], N)[0], (2 - 2 * N) / (N * 1.7))
        f = formulas["ito_correction_factor"]
        assert np.isclose(f.numpy(1.3, 0.4, float(N)), factor_ito_correction([1.3, 0.4], N)[0])


# ---------------------------------------------------------------------------------------------
# the submersion identity: Delta_B (f o phi) = Delta_g f + <A_N grad S_N, grad f>
def _balanced_chart(z, d, depth):
    """Balanced factors W_1..W_N over X with gauge exp(xi_p): W_1 = O_1 P, W_p = O_p P O_{p-1}^T,
    W_N = U_polar P O_{N-1}^T, P = (X^T X)^{1/(2N)} (smooth in X: no SVD sign choices)."""
    X = z[: d * d].reshape(d, d)
    iu = np.triu_indices(d, 1)
    Os = []
    for p in range(depth - 1):
        K = np.zeros((d, d))
        K[iu] = z[d * d + p * len(iu[0]) : d * d + (p + 1) * len(iu[0])]
        Os.append(expm(K - K.T))
    lam, V = np.linalg.eigh(X.T @ X)
    P = V @ np.diag(lam ** (1 / (2 * depth))) @ V.T
    Upol = X @ V @ np.diag(lam**-0.5) @ V.T
    W = []
    for p in range(depth):
        left = Upol if p == depth - 1 else Os[p]
        right = np.eye(d) if p == 0 else Os[p - 1]
        W.append(left @ P @ right.T)
    return np.concatenate([w.ravel() for w in W])


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("depth", [2, 3])
def test_submersion_identity(d, depth):
    rng = np.random.default_rng(100 + 10 * d + depth)
    X = _random_matrix(rng, d, 0.6, 1.6)
    K, M = rng.standard_normal((d, d)) * 0.3, rng.standard_normal((d, d))

    def f(Z):
        return math.exp(np.sum(K * Z)) + 0.5 * np.sum((Z - M) ** 2)

    def grad_f(Z):
        return math.exp(np.sum(K * Z)) * K + Z - M

    def hess_f(Z):
        return math.exp(np.sum(K * Z)) * np.outer(K.ravel(), K.ravel()) + np.eye(d * d)

    n_gauge = (depth - 1) * d * (d - 1) // 2
    z0 = np.concatenate([X.ravel(), rng.standard_normal(n_gauge) * 0.5])

    def F(w):  # f o phi on the ambient factor space
        Ws = [w[p * d * d : (p + 1) * d * d].reshape(d, d) for p in range(depth)]
        prod = np.eye(d)
        for Wp in Ws:
            prod = Wp @ prod
        return f(prod), Ws

    w0 = _balanced_chart(z0, d, depth)
    _, Ws = F(w0)
    # ambient gradient of f o phi: (W_N..W_{p+1})^T grad f (W_{p-1}..W_1)^T
    G = grad_f(X)
    amb = []
    for p in range(depth):
        left, right = np.eye(d), np.eye(d)
        for q in range(p + 1, depth):
            left = Ws[q] @ left
        for q in range(p):
            right = Ws[q] @ right
        amb.append((left.T @ G @ right.T).ravel())
    amb = np.concatenate(amb)
    h = 1e-6
    J = np.stack(
        [
            (_balanced_chart(z0 + h * e, d, depth) - _balanced_chart(z0 - h * e, d, depth)) / (2 * h)
            for e in np.eye(z0.size)
        ],
        axis=1,
    )
    Ub, sb, Vbt = np.linalg.svd(J, full_matrices=False)
    lap = 0.0
    hc = 1e-4
    for i in range(z0.size):
        w = Vbt[i] / sb[i]  # chart direction with velocity the i-th orthonormal tangent vector Ub[:, i]
        cp, cm = _balanced_chart(z0 + hc * w, d, depth), _balanced_chart(z0 - hc * w, d, depth)
        second = (F(cp)[0] - 2 * F(w0)[0] + F(cm)[0]) / hc**2
        accel = (cp - 2 * w0 + cm) / hc**2
        tangential = Ub @ (Ub.T @ accel)
        lap += second - tangential @ amb  # Hess_B(e_i, e_i) = (F o c)'' - <(c'')^T, grad F>
    A = _operator_matrix(X, depth)
    s = np.linalg.svd(X, compute_uv=False)
    c = _spectral(X, lambda v: ito_correction(v, depth))
    e = _spectral(X, lambda v: entropy_drift(v, depth))
    rhs = np.sum(A * hess_f(X)) + np.sum((c + e) * G)
    assert s.min() > 0.5
    assert abs(lap - rhs) < 2e-4 * (1 + abs(rhs))


# ---------------------------------------------------------------------------------------------
# samplers against quadrature
_E = riemdln.QuadraticEnergy(np.array([[1.0, 0.3], [0.0, 0.5]]))


def _observables(X):
    return np.stack(
        [X[:, 0, 0], X[:, 1, 1], X[:, 0, 1], (np.linalg.det(X) < 0).astype(float), _E.loss(X)],
        axis=-1,
    )


@pytest.mark.parametrize("depth,free_energy", [(2, False), (3, False), (2, True), (3, True)])
def test_gibbs_sample_matches_quadrature(depth, free_energy):
    beta = 4.0
    q = riemdln.gibbs_expectation(_E, _observables, depth, beta, free_energy=free_energy, n_radial=28, n_angular=20)
    r = riemdln.gibbs_sample(_E, depth, beta, n_samples=12000, free_energy=free_energy, seed=3)
    vals = _observables(r.samples)
    se = vals.std(axis=0) / math.sqrt(r.effective_sample_size)
    assert np.all(q.error < 0.1 * se)
    assert 0.3 < r.acceptance_rate < 0.9
    assert np.all(np.abs(vals.mean(axis=0) - q.value) < 4 * se), (vals.mean(axis=0), q.value, se)


def test_quadrature_oracle_gaussian_case():
    # N = 1: the Gibbs law is Gaussian N(M, 1/beta) entrywise
    M = np.array([[0.4, -0.2], [0.1, 0.3]])
    E = riemdln.QuadraticEnergy(M)
    q = riemdln.gibbs_expectation(E, lambda X: np.stack([X[:, 0, 1], X[:, 0, 0] ** 2], -1), 1, 3.0)
    assert np.allclose(q.value, [-0.2, 0.4**2 + 1 / 3.0], atol=1e-8)


def _equilibrium_starts(E, depth, beta, n_chains, free_energy=False, seed=0):
    """One exact Gibbs draw per chain (independent MALA chains in Y, one draw each after burn-in): the dynamics
    start in equilibrium, and per-chain time averages are independent (their spread is the Monte Carlo error)."""
    return riemdln.gibbs_sample(E, depth, beta, n_chains, free_energy=free_energy, n_chains=n_chains, seed=seed).samples


def _time_averages(r, f):
    """Mean over chains of each chain's time average of f (saved states after the start), and its standard error."""
    per_chain = f(r.X[1:]).mean(axis=0)
    return per_chain.mean(axis=0), per_chain.std(axis=0) / math.sqrt(per_chain.shape[0])


@pytest.mark.slow
@pytest.mark.parametrize("depth,free_energy", [(2, False), (2, True), (3, False), (3, True)])
def test_langevin_time_averages_match_quadrature(depth, free_energy):
    """Time averages of the dynamics (coordinates="auto") against quadrature, with the O(dt) step-size bias
    measured, not guessed: runs at h and 2h give b = m(2h) - m(h), the bias at h to first order, and the
    Richardson value 2 m(h) - m(2h) (O(h) bias removed) must match quadrature within 4 standard errors
    sqrt(4 se_h^2 + se_2h^2); the raw m(h) within 4 se_h plus the measured |b|."""
    beta, h, n_chains = 4.0, 0.01, 2000
    q = riemdln.gibbs_expectation(_E, _observables, depth, beta, free_energy=free_energy, rtol=1e-5)
    assert q.status == riemdln.flows.result.Status.FINISHED
    X0 = _equilibrium_starts(_E, depth, beta, n_chains, free_energy, seed=7)
    means, ses = [], []
    kw = dict(n_chains=n_chains, seed=5, free_energy=free_energy)
    for dt in (h, 2 * h):
        r = riemdln.langevin(_E, X0, depth, beta, 5.0, dt, save_every=round(0.04 / dt), **kw)
        assert r.status == riemdln.flows.result.Status.FINISHED
        m, se = _time_averages(r, lambda X: _observables(X.reshape(-1, 2, 2)).reshape(*X.shape[:2], -1))
        means.append(m)
        ses.append(se)
    bias = means[1] - means[0]
    richardson, se_r = 2 * means[0] - means[1], np.sqrt(4 * ses[0] ** 2 + ses[1] ** 2)
    assert np.all(np.abs(richardson - q.value) < 4 * se_r), (richardson, q.value, se_r)
    assert np.all(np.abs(means[0] - q.value) < 4 * ses[0] + np.abs(bias)), (means[0], q.value, ses[0], bias)


def _det_observables(X):
    det = X[..., 0, 0] * X[..., 1, 1] - X[..., 0, 1] * X[..., 1, 0]
    return np.stack([np.abs(det), (det < 0).astype(float)], axis=-1)


def test_auto_coordinates_avoid_the_det_zero_bias_of_x_coordinates():
    """docs/theory.md §13 pitfall: at N = 3, beta = 4 (chains cross det X = 0 freely: P(det < 0) = 0.42),
    Euler-Maruyama in X is off quadrature in E[|det X|] by many standard errors, and that bias shrinks far slower
    than dt (an O(dt) bias would fall by 4x from dt = 0.04 to 0.01); coordinates="auto" (Y near det = 0) at the
    same dt, from the same starts and noise, is within 4 standard errors in E[|det X|] and P(det < 0)."""
    depth, beta, n_chains = 3, 4.0, 2000
    q = riemdln.gibbs_expectation(_E, _det_observables, depth, beta, rtol=1e-5)
    assert q.status == riemdln.flows.result.Status.FINISHED
    X0 = _equilibrium_starts(_E, depth, beta, n_chains, seed=1)
    err, z = {}, {}
    for dt in (0.04, 0.01):
        for coords in ("X", "auto"):
            kw = dict(n_chains=n_chains, seed=2, coordinates=coords, save_every=round(0.04 / dt))
            r = riemdln.langevin(_E, X0, depth, beta, 2.0, dt, **kw)
            m, se = _time_averages(r, _det_observables)
            err[dt, coords], z[dt, coords] = m - q.value, (m - q.value) / se
    assert np.all(np.abs(z[0.01, "auto"]) < 4), z
    assert z[0.01, "X"][0] > 4, z  # E[|det X|]: the X scheme's det = 0 bias, resolved
    assert err[0.01, "X"][0] > 0.4 * err[0.04, "X"][0] > 0, err  # shrinks far slower than dt


@pytest.mark.slow
def test_langevin_step_size_bias_shrinks_away_from_det_zero():
    E = riemdln.QuadraticEnergy(np.diag([1.5, 1.0]))
    beta, depth = 10.0, 3
    q = riemdln.gibbs_expectation(E, lambda X: E.loss(X), depth, beta, rtol=1e-5)
    assert q.status == riemdln.flows.result.Status.FINISHED
    bias, se = [], []
    # start in equilibrium (thinned exact draws): no burn-in; X coordinates (the regime away from det = 0)
    X0 = riemdln.gibbs_sample(E, depth, beta, 20000, seed=2).samples[::20]
    for dt in (0.08, 0.02):
        r = riemdln.langevin(E, X0, depth, beta, 10.0, dt, n_chains=1000, seed=1, coordinates="X")
        per_chain = r["loss"][1:].mean(axis=0)
        bias.append(per_chain.mean() - float(q.value))
        se.append(per_chain.std() / math.sqrt(per_chain.size))
    assert bias[0] > 4 * se[0]  # visible at the large step
    assert abs(bias[1]) < 0.5 * bias[0] and abs(bias[1]) < 4 * se[1] + 0.25 * bias[0]


def _rk4_flow(X0, depth, M, t_final, n):
    def rhs(X):
        return -riemdln.riemannian_gradient(X, X - M, depth)

    X, h = X0.copy(), t_final / n
    path = [X.copy()]
    for _ in range(n):
        k1 = rhs(X)
        k2 = rhs(X + 0.5 * h * k1)
        k3 = rhs(X + 0.5 * h * k2)
        k4 = rhs(X + h * k3)
        X = X + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        path.append(X.copy())
    return np.array(path)


def test_beta_to_infinity_mean_path_is_the_gradient_flow():
    M = np.array([[1.5, 0.4], [-0.2, 0.8]])
    E = riemdln.QuadraticEnergy(M)
    X0 = np.array([[0.6, 0.1], [0.0, 0.5]])
    ref = _rk4_flow(X0, 3, M, 2.0, 400)
    errs = []
    for beta in (1e2, 1e4):
        r = riemdln.langevin(E, X0, 3, beta, 2.0, 5e-3, n_chains=50, seed=0, save_every=80)
        mean = r.X.mean(axis=1)
        errs.append(np.max(np.abs(mean - ref[::80])))
    assert errs[1] < 0.02 and errs[1] < errs[0]


# ---------------------------------------------------------------------------------------------
# API behaviour
def test_seeded_runs_are_reproducible_bit_for_bit_and_chains_vectorized():
    kw = dict(depth=3, beta=5.0, t_final=0.5, dt=0.01, n_chains=7, seed=11)
    a = riemdln.langevin(_E, np.eye(2), **kw)
    b = riemdln.langevin(_E, np.eye(2), **kw)
    assert np.array_equal(a.X, b.X) and a.X.shape == (51, 7, 2, 2)
    assert set(a.diagnostics) >= {"loss", "singular_values", "det_sign", "entropy", "free_energy"}
    assert np.allclose(a["free_energy"], a["loss"] - a["entropy"] / 5.0)
    assert a["singular_values"].shape == (51, 7, 2)
    c = riemdln.langevin(_E, np.stack([np.eye(2)] * 7), **kw)
    assert np.array_equal(a.X, c.X)


def test_save_every_bounds_memory():
    r = riemdln.langevin(_E, np.eye(2), 2, 5.0, 1.0, 0.001, n_chains=3, seed=0, save_every=100)
    assert len(r.t) == 11 and np.isclose(r.t[-1], 1.0)


def test_larger_matrices_run_in_both_charts():
    E = riemdln.QuadraticEnergy(np.eye(4))
    for coords in ("X", "Y", "auto"):
        r = riemdln.langevin(E, np.eye(4), 3, 50.0, 0.2, 0.01, n_chains=4, seed=1, coordinates=coords)
        assert r.status == riemdln.flows.result.Status.FINISHED and np.all(np.isfinite(r.X))


def test_infinite_depth_says_not_normalizable():
    r = riemdln.langevin(_E, np.eye(2), math.inf, 5.0, 0.1, 0.01, normalized=True, seed=0)
    assert "not normalizable" in r.message
    with pytest.raises(riemdln.RiemdlnValueError, match="not normalizable"):
        riemdln.gibbs_sample(_E, math.inf, 4.0, 10)
    with pytest.raises(riemdln.RiemdlnValueError, match="not normalizable"):
        riemdln.gibbs_expectation(_E, lambda X: X[:, 0, 0], math.inf, 4.0)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(beta=0.0), "beta"),
        (dict(beta=-1.0), "beta"),
        (dict(dt=0.0), "dt"),
        (dict(t_final=-1.0), "t_final"),
        (dict(X0=np.array([[np.nan, 0], [0, 1.0]])), "X0"),
        (dict(X0=np.eye(3)), "X0"),
        (dict(X0=np.stack([np.eye(2)] * 3), n_chains=2), "X0"),
        (dict(n_chains=0), "n_chains"),
        (dict(coordinates="Z"), "coordinates"),
        (dict(depth=0.5), "depth"),
        (dict(seed=-3), "seed"),
        (dict(save_every=0), "save_every"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = dict(energy=_E, X0=np.eye(2), depth=2, beta=1.0, t_final=1.0, dt=0.1)
    args.update(kwargs)
    with pytest.raises(riemdln.RiemdlnValueError, match=f"`{name}"):
        riemdln.langevin(**args)


def test_bad_input_samplers():
    with pytest.raises(riemdln.RiemdlnValueError, match="`beta`"):
        riemdln.gibbs_sample(_E, 2, 0.0, 10)
    with pytest.raises(riemdln.RiemdlnValueError, match="`n_samples`"):
        riemdln.gibbs_sample(_E, 2, 1.0, 0)
    with pytest.raises(riemdln.RiemdlnValueError, match="`energy`"):
        riemdln.gibbs_expectation(riemdln.QuadraticEnergy(np.eye(3)), lambda X: X[:, 0, 0], 2, 1.0)
    with pytest.raises(riemdln.RiemdlnValueError, match="`energy`"):
        riemdln.langevin(object(), np.eye(2), 2, 1.0, 1.0, 0.1)


@pytest.mark.parametrize("kernel", ["numpy", "compiled"])
@pytest.mark.parametrize("coordinates", ["auto", "X", "Y"])
@pytest.mark.parametrize(
    "depth,normalized,free_energy", [(3, False, False), (2.5, True, True), (math.inf, True, False), (1, False, True)]
)
def test_fused_d2_step_is_the_general_step(monkeypatch, kernel, coordinates, depth, normalized, free_energy):
    """The fused d = 2 kernels (entries as contiguous arrays in numpy; one compiled loop over the chains)
    against the general stacked-matrix step, from a start with chains near det X = 0 (auto mixes the charts)
    and far from it."""
    if math.isinf(depth) and coordinates == "Y":
        pytest.skip("no Y chart at N = inf")
    if kernel == "compiled" and not riemdln.thermo._langevin_jit.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(riemdln.thermo.langevin_dynamics, "_JIT_D2", kernel == "compiled")
    rng = np.random.default_rng(3)
    X0 = np.concatenate([np.eye(2)[None] + 0.3 * rng.standard_normal((6, 2, 2)), 1e-4 * rng.standard_normal((6, 2, 2))])
    kw = dict(depth=depth, beta=50.0, t_final=0.03, dt=1e-4, n_chains=12, seed=4, normalized=normalized)
    kw.update(free_energy=free_energy, coordinates=coordinates)
    fused = riemdln.langevin(_E, X0, **kw)
    monkeypatch.setattr(riemdln.thermo.langevin_dynamics, "_FUSED_D2", False)
    general = riemdln.langevin(_E, X0, **kw)
    assert fused.status == general.status
    np.testing.assert_allclose(fused.X, general.X, rtol=1e-9, atol=1e-12)
    if coordinates == "auto" and not math.isinf(depth):
        y = fused["y_fraction"][1:]
        assert 0 < y.mean() < 1  # both charts were used


def test_compiled_svd2_is_an_svd():
    """The trigonometry-free closed-form SVD of the compiled kernel against numpy.linalg.svd: orthogonal
    frames, X = U diag(s) V^T to rounding, s sorted and >= 0; generic, coincident (s1 = s2: scaled rotations,
    the identity), det < 0, rank one, zero and extreme scales."""
    if not riemdln.thermo._langevin_jit.AVAILABLE:
        pytest.skip("numba is not installed")
    from riemdln.thermo._langevin_jit import _svd2

    rng = np.random.default_rng(0)
    cases = [*rng.standard_normal((200, 2, 2)), np.eye(2), -np.eye(2), np.diag([1.0, -1.0]), np.zeros((2, 2))]
    cases += [3.0 * expm(np.array([[0.0, -a], [a, 0.0]])) for a in (0.1, 2.0, math.pi)]
    cases += [
        np.outer([1.0, 2.0], [0.5, -1.0]),
        1e-200 * rng.standard_normal((2, 2)),
        1e200 * rng.standard_normal((2, 2)),
    ]
    cases += [np.eye(2) + 1e-13 * rng.standard_normal((2, 2))]
    for X in cases:
        U, s1, s2, V = _svd2(*X.ravel())
        U, V = np.reshape(U, (2, 2)), np.reshape(V, (2, 2))
        np.testing.assert_allclose(U @ U.T, np.eye(2), atol=4e-16)
        np.testing.assert_allclose(V @ V.T, np.eye(2), atol=4e-16)
        ref = np.linalg.svd(X, compute_uv=False)
        scale = max(ref[0], 1e-300)
        np.testing.assert_allclose([s1, s2], ref, rtol=1e-14, atol=4e-16 * scale)
        np.testing.assert_allclose(U @ np.diag([s1, s2]) @ V.T, X, atol=8e-16 * scale)


def test_compiled_scalar_kernels_against_mpmath():
    """The compiled multiplier (direct and log-space forms), tanh ratio and Langevin function against mpmath
    at 50 digits: coincident arguments, zeros, N = 1, N = inf, and where the direct form over/underflows."""
    if not riemdln.thermo._langevin_jit.AVAILABLE:
        pytest.skip("numba is not installed")
    import mpmath as mp

    from riemdln.thermo._langevin_jit import _langevin_fn, _multiplier, _tanh_ratio

    mp.mp.dps = 50

    def a_ref(x, y, N, normalized):
        x, y = mp.mpf(x), mp.mpf(y)
        if N == math.inf:
            return x if x == y else (0 if x * y == 0 else (x - y) / (mp.log(x) - mp.log(y)))
        N = mp.mpf(N)
        v = N * x ** ((N - 1) / N) if x == y else (x - y) / (x ** (1 / N) - y ** (1 / N))
        return v / N if normalized else v

    pairs = [(2.0, 2.0), (4.0, 1.0), (1.0, 1.0 + 1e-9), (3.0, 0.0), (0.0, 0.0), (1e300, 1e-300), (1e-310, 2e-310)]
    for x, y in pairs:
        for N, normalized in [(1.0, False), (2.0, False), (3.0, True), (4.5, False), (math.inf, True)]:
            if N == 1.0 and x == y == 0:
                continue  # a_1 = 1 everywhere: (x - y)/(x - y) has no value at 0/0 in the reference
            with np.errstate(divide="ignore"):
                got = _multiplier(x, y, float(np.log(x)), float(np.log(y)), N, normalized)
            want = float(a_ref(x, y, N, normalized)) if not (x == y == 0) else 0.0
            # through log x: the rounding of log x (|log x| ulp) is amplified at extreme scales
            rel = 2e-14 if max([abs(math.log(v)) for v in (x, y) if v > 0], default=0.0) < 50 else 2e-13
            assert got == pytest.approx(want, rel=rel, abs=1e-320), (x, y, N, normalized)
    for t in (0.0, 1e-8, 0.3, 0.49, 0.51, 2.0, 40.0, -3.0):
        for N in (2.0, 3.0, 4.5):
            want = N if t == 0 else mp.tanh(N * mp.mpf(t) / 2) / mp.tanh(mp.mpf(t) / 2)
            assert _tanh_ratio(t, N) == pytest.approx(float(want), rel=1e-14)
        want = 0.0 if t == 0 else mp.coth(mp.mpf(t)) - 1 / mp.mpf(t)
        assert _langevin_fn(t) == pytest.approx(float(want), rel=5e-15, abs=1e-300)  # cancellation <= 13x at 1/2


def _small_d2_run(queue=None):
    r = riemdln.langevin(_E, np.eye(2), 3, 4.0, t_final=0.01, dt=1e-3, n_chains=64, seed=5)
    if queue is not None:
        queue.put(float(r.X[-1].sum()))
    return float(r.X[-1].sum())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_compiled_step_survives_fork(monkeypatch):
    """After the compiled d = 2 step has run in this process, a forked child runs it too (under GNU OpenMP,
    numba's usual threading layer, a child that starts a parallel region aborts: "fork() called from a process
    already using GNU OpenMP"; riemdln's forked children run the compiled loops serially), with the same numbers.
    The parent runs threaded, as with NUMBA_NUM_THREADS = 2 (the default is one thread)."""
    import multiprocessing

    from riemdln import _langevin_jit

    monkeypatch.setattr(_langevin_jit, "_PARALLEL", [_langevin_jit.AVAILABLE])
    here = _small_d2_run()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_small_d2_run, args=(queue,))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in the compiled Langevin step")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == here


def test_compiled_step_threads_only_when_asked(monkeypatch):
    """numba's threads run the d = 2 loop only when NUMBA_NUM_THREADS asks for more than one (its own default,
    a thread per core, was measured several times slower than one thread on a loaded machine), and the threaded
    loop gives the one-thread loop's numbers bit for bit."""
    from riemdln import _langevin_jit

    for value, asked in (("", False), ("1", False), ("2", True), ("x", False)):
        monkeypatch.setenv("NUMBA_NUM_THREADS", value)
        assert _langevin_jit._threads_asked() is (asked and _langevin_jit.AVAILABLE)
    monkeypatch.setattr(_langevin_jit, "_PARALLEL", [False])
    serial = riemdln.langevin(_E, np.eye(2), 3, 4.0, t_final=0.01, dt=1e-3, n_chains=64, seed=5)
    monkeypatch.setattr(_langevin_jit, "_PARALLEL", [_langevin_jit.AVAILABLE])
    threaded = riemdln.langevin(_E, np.eye(2), 3, 4.0, t_final=0.01, dt=1e-3, n_chains=64, seed=5)
    assert np.array_equal(serial.X, threaded.X)


def test_threaded_batch_svd_is_numpys_bit_for_bit():
    """The d >= 3 steps' batch SVD (chunks on a thread per core) returns numpy.linalg.svd's numbers exactly."""
    from riemdln.thermo.langevin_dynamics import _SVD_CHUNK, _batched_svd

    X = np.random.default_rng(2).standard_normal((2 * _SVD_CHUNK + 37, 5, 5))
    for got, want in zip(_batched_svd(X), np.linalg.svd(X), strict=True):
        assert np.array_equal(got, want)


def test_threaded_general_step_is_the_inline_step_bit_for_bit(monkeypatch):
    """d >= 3 with many chains: the step runs in chunks of chains on a thread pool (the energy once, in the
    calling thread); every operation acts chain by chain, so the numbers are the inline step's exactly, in X, in
    Y and with both charts in one batch (chains near det X = 0 step in Y under "auto")."""
    from riemdln.thermo import langevin_dynamics as ld

    rng = np.random.default_rng(4)
    n = 2 * ld._SVD_CHUNK + 37
    near = np.diag([1.0, 0.8, 1e-4]) + 1e-3 * rng.standard_normal((n // 2, 3, 3))
    X0 = np.concatenate([np.eye(3) + 0.3 * rng.standard_normal((n - n // 2, 3, 3)), near])
    E = riemdln.QuadraticEnergy(np.diag([1.0, 0.5, 0.0]))
    for coordinates, free_energy in [("auto", False), ("auto", True), ("X", False), ("Y", True)]:
        kw = dict(n_chains=n, seed=6, coordinates=coordinates, free_energy=free_energy)
        monkeypatch.setattr(ld, "_svd_threads", lambda: 2)
        threaded = riemdln.langevin(E, X0, 3, 20.0, 0.01, 1e-3, **kw)
        monkeypatch.setattr(ld, "_svd_threads", lambda: 1)
        inline = riemdln.langevin(E, X0, 3, 20.0, 0.01, 1e-3, **kw)
        assert np.array_equal(threaded.X, inline.X)
        if coordinates == "auto":
            assert 0 < threaded["y_fraction"][1:].mean() < 1  # both charts in one batch


def test_langevin_runs_without_numba():
    """numba is the optional [fast] extra: with it hidden (import fails), riemdln imports, the d = 2 step runs
    in numpy, and it gives the compiled step's numbers to rounding."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np, riemdln, riemdln.thermo._langevin_jit\n"
        "assert not riemdln.thermo._langevin_jit.AVAILABLE\n"
        "E = riemdln.QuadraticEnergy(np.diag([2.0, 1.0]))\n"
        "r = riemdln.langevin(E, np.eye(2), 3, 4.0, 0.05, 1e-3, n_chains=64, seed=7)\n"
        "assert r.success\n"
        "np.save(sys.argv[1], r.X)\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/x.npy"
        subprocess.run([sys.executable, "-c", code, path], check=True, timeout=300)
        X_numpy = np.load(path)
    r = riemdln.langevin(
        riemdln.QuadraticEnergy(np.diag([2.0, 1.0])), np.eye(2), 3, 4.0, 0.05, 1e-3, n_chains=64, seed=7
    )
    np.testing.assert_allclose(r.X, X_numpy, rtol=1e-9, atol=1e-12)
