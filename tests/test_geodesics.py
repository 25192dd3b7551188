"""Geodesics and distance against independent truths: finite differences of H and of the metric matrix,
Chen's closed form (straight lines in mu = s^(1/N)), symmetry, triangle inequality, exp(log) = id,
scaling and orthogonal invariances, log|det| affine along g^inf geodesics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import riemdln
from riemdln.geometry import apply_A, apply_A_inverse


def _rot(a):
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def _orth(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


CASES = [(2.0, False), (3.0, False), (7.5, False), (math.inf, True)]


@pytest.mark.parametrize("depth,normalized", CASES)
@pytest.mark.parametrize("d", [2, 3])
def test_hamiltonian_gradient_matches_finite_differences(depth, normalized, d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(d, d))
    if d == 3:  # a coincident pair of singular values (removable singularity)
        X = _orth(3, 1) @ np.diag([1.3, 1.3, 0.4]) @ _orth(3, 2).T
    P = rng.normal(size=(d, d))
    g = riemdln.hamiltonian_gradient(X, P, depth, normalized)

    def H(Y):
        return 0.5 * np.sum(P * apply_A(Y, P, depth, normalized))

    fd = np.zeros_like(X)
    h = 1e-5
    for a in range(d):
        for b in range(d):
            E = np.zeros_like(X)
            E[a, b] = h
            fd[a, b] = (-H(X + 2 * E) + 8 * H(X + E) - 8 * H(X - E) + H(X - 2 * E)) / (12 * h)
    np.testing.assert_allclose(g, fd, atol=1e-8 * np.abs(fd).max())


@pytest.mark.parametrize("depth,normalized", [(2.0, False), (3.0, False), (math.inf, True)])
def test_christoffel_matches_metric_matrix_finite_differences(depth, normalized):
    X = _rot(0.3) @ np.diag([1.6, -0.7]) @ _rot(1.2).T
    rng = np.random.default_rng(5)
    U, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    basis = [np.eye(4)[k].reshape(2, 2) for k in range(4)]

    def G(Y):  # the 4x4 metric matrix in matrix entries, from apply_A_inverse
        return np.array([[np.sum(e * apply_A_inverse(Y, f, depth, normalized)) for f in basis] for e in basis])

    h = 1e-5
    dG = [(G(X + h * e) - G(X - h * e)) / (2 * h) for e in basis]
    u, v = U.ravel(), V.ravel()
    first = np.array([[u @ dG[i][:, l] for i in range(4)] for l in range(4)])  # noqa: E741
    rhs = np.array(
        [
            0.5
            * (
                v @ (np.array([dG[i][l, :] for i in range(4)]).T @ u)
                + u @ (np.array([dG[i][l, :] for i in range(4)]).T @ v)
            )
            - 0.5 * u @ dG[l] @ v
            for l in range(4)
        ]
    )  # noqa: E741
    del first
    ref = np.linalg.solve(G(X), rhs).reshape(2, 2)
    got = riemdln.christoffel(X, U, V, depth, normalized)
    np.testing.assert_allclose(got, ref, atol=1e-7 * np.abs(ref).max())


def test_christoffel_is_minus_the_geodesic_acceleration():
    X = _rot(0.5) @ np.diag([1.2, 0.5]) @ _rot(-0.3).T
    U = np.array([[0.3, -0.2], [0.1, 0.4]])
    h = 1e-3
    fwd = riemdln.geodesic(X, U, 3, (0.0, h)).X[-1]
    bwd = riemdln.geodesic(X, -U, 3, (0.0, h)).X[-1]
    acc = (fwd - 2 * X + bwd) / h**2
    np.testing.assert_allclose(riemdln.christoffel(X, U, U, 3), -acc, atol=1e-5)


@pytest.mark.parametrize("closed_form", [False, True])
@pytest.mark.parametrize("depth,normalized", [(2.0, False), (3.0, False), (3.0, True), (math.inf, True)])
@pytest.mark.parametrize("d", [2, 3])
def test_aligned_endpoints_reproduce_chen(depth, normalized, d, closed_form):
    # closed_form=False: shooting against the closed form; True: geodesic_between's own closed form, whose
    # velocity is then integrated by exp_map (the Hamiltonian equations) back to X1
    Q, R = _orth(d, 10 + d), _orth(d, 20 + d)
    s0 = np.linspace(2.0, 0.5, d)
    s1 = np.linspace(0.9, 1.4, d)
    X0, X1 = Q @ np.diag(s0) @ R.T, Q @ np.diag(s1) @ R.T
    res = riemdln.geodesic_between(X0, X1, depth, normalized, closed_form=closed_form)
    assert res.success, res.message
    assert (res.method == "closed form") == closed_form, res.method
    if closed_form:
        end = riemdln.exp_map(X0, res.velocity, depth, normalized)
        assert np.linalg.norm(end - X1) / np.linalg.norm(X1) <= 1e-10
        if math.isfinite(depth) and not normalized:  # the catalog's twin, lambdified from SymPy's expression
            twin = riemdln.catalog()["geodesic_length_aligned"].numpy
            assert res.length == pytest.approx(float(twin(s1, s0, depth)), rel=1e-12)
    if math.isinf(depth):
        truth = np.linalg.norm(np.log(s1) - np.log(s0))
        path = [Q @ np.diag(np.exp((1 - t) * np.log(s0) + t * np.log(s1))) @ R.T for t in res.path.t]
    else:
        m0, m1 = s0 ** (1 / depth), s1 ** (1 / depth)
        truth = math.sqrt(depth) * np.linalg.norm(m1 - m0) * (math.sqrt(depth) if normalized else 1.0)
        path = [Q @ np.diag(((1 - t) * m0 + t * m1) ** depth) @ R.T for t in res.path.t]
    assert res.length == pytest.approx(truth, rel=1e-10)
    np.testing.assert_allclose(res.path.X, np.array(path), atol=1e-9)
    assert res.upper_bound >= res.length * (1 - 1e-12)


def _pair(seed, d=2):
    """Two well-conditioned matrices with det > 0 (s_min >= 0.3)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < 2:
        X = np.eye(d) + 0.4 * rng.normal(size=(d, d))
        if np.linalg.det(X) > 0 and np.linalg.svd(X, compute_uv=False)[-1] >= 0.3:
            out.append(X)
    return out[0], out[1]


def test_symmetry_exp_log_and_energy_conservation():
    X0, X1 = _pair(1)
    a = riemdln.geodesic_between(X0, X1, 3)
    b = riemdln.geodesic_between(X1, X0, 3)
    assert a.success and b.success
    assert a.length == pytest.approx(b.length, rel=1e-9)
    V = riemdln.log_map(X0, X1, 3)
    np.testing.assert_allclose(riemdln.exp_map(X0, V, 3), X1, atol=1e-10)
    assert a.path.energy_drift < 1e-9


def test_triangle_inequality():
    X0, X1 = _pair(2)
    X2 = _pair(3)[0]
    d01, d12, d02 = (riemdln.distance(p, q, 2) for p, q in ((X0, X1), (X1, X2), (X0, X2)))
    assert d02 <= d01 + d12 + 1e-10


def test_invariances():
    X0, X1 = _pair(4)
    base = riemdln.distance(X0, X1, 3)
    assert riemdln.distance(2.0 * X0, 2.0 * X1, 3) == pytest.approx(2.0 ** (1 / 3) * base, rel=1e-9)
    Q, R = _rot(0.7), _rot(-1.9)
    assert riemdln.distance(Q @ X0 @ R, Q @ X1 @ R, 3) == pytest.approx(base, rel=1e-9)
    inf = riemdln.distance(X0, X1, math.inf, normalized=True)
    assert riemdln.distance(5.0 * X0, 5.0 * X1, math.inf, normalized=True) == pytest.approx(inf, rel=1e-9)


def test_log_det_affine_along_infinite_depth_geodesics():
    X0, X1 = _pair(5, d=3)
    res = riemdln.geodesic_between(X0, X1, math.inf, normalized=True)
    assert res.success
    logdet = np.log(np.abs(np.linalg.det(res.path.X)))
    t = res.path.t
    np.testing.assert_allclose(logdet, logdet[0] + t * (logdet[-1] - logdet[0]), atol=1e-10)


def test_bad_input():
    with pytest.raises(riemdln.RiemdlnValueError, match="opposite signs of det"):
        riemdln.geodesic_between(np.eye(2), np.diag([1.0, -1.0]), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X1`"):
        riemdln.distance(np.eye(2), np.array([[1.0, 1.0], [1.0, 1.0]]), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`"):
        riemdln.exp_map(np.zeros((2, 2)), np.eye(2), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="normalized"):
        riemdln.exp_map(np.eye(2), np.eye(2), math.inf)


def test_discrete_energy_of_a_path_against_the_metric():
    """E_K of a given path, from riemdln.geometry.metric at the midpoints (no SVD-frame code)."""
    from riemdln.geometry.geodesics import _path_energy

    X0, X1 = _pair(6, d=3)
    K = 5
    rng = np.random.default_rng(6)
    pts = X0 + np.linspace(0.0, 1.0, K + 1)[:, None, None] * (X1 - X0)
    pts[1:-1] += 0.05 * rng.normal(size=(K - 1, 3, 3))
    for depth, normalized in [(3.0, False), (math.inf, True)]:
        ref = K * sum(
            float(riemdln.metric(0.5 * (a + b), b - a, b - a, depth, normalized))
            for a, b in zip(pts[:-1], pts[1:], strict=True)
        )
        E, grad = _path_energy(pts[1:-1].ravel(), X0, X1, K, depth, normalized)
        assert E == pytest.approx(ref, rel=1e-13)
        e = np.zeros_like(grad)
        e[7] = 1e-6
        fd = (
            _path_energy(pts[1:-1].ravel() + e, X0, X1, K, depth, normalized)[0]
            - _path_energy(pts[1:-1].ravel() - e, X0, X1, K, depth, normalized)[0]
        ) / 2e-6
        assert grad[7] == pytest.approx(fd, rel=1e-7)


@pytest.mark.parametrize("depth,normalized", [(2.0, False), (math.inf, True)])
def test_discrete_distance_reproduces_chen(depth, normalized):
    Q, R = _rot(0.3), _rot(-1.1)
    s0, s1 = np.array([2.0, 0.5]), np.array([0.9, 1.4])
    res = riemdln.discrete_distance(
        Q @ np.diag(s0) @ R.T, Q @ np.diag(s1) @ R.T, depth, normalized, segments=(8, 16, 32)
    )
    if normalized:
        truth = float(np.linalg.norm(np.log(s1) - np.log(s0)))
    else:
        truth = math.sqrt(depth) * float(np.linalg.norm(s1 ** (1 / depth) - s0 ** (1 / depth)))
    assert res.success, res.message
    assert res.extrapolated == pytest.approx(truth, rel=1e-8)
    # the raw lengths converge at rate K^-2 (midpoint rule; not a bound: the midpoint metric can under-estimate)
    errs = [L - truth for L in res.lengths]
    assert errs[0] / errs[1] == pytest.approx(4.0, rel=0.05) and errs[1] / errs[2] == pytest.approx(4.0, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("seed,d,depth", [(1, 2, 3.0), (2, 2, 2.0), (5, 3, 3.0)])
def test_shooting_distance_equals_extrapolated_discrete_energy(seed, d, depth):
    X0, X1 = _pair(seed, d)
    shoot = riemdln.distance(X0, X1, depth)
    res = riemdln.discrete_distance(X0, X1, depth)
    assert res.success, res.message
    assert res.extrapolated == pytest.approx(shoot, rel=1e-10)  # measured about 1e-12


def test_discrete_distance_bad_input():
    with pytest.raises(riemdln.RiemdlnValueError, match="`segments`"):
        riemdln.discrete_distance(np.eye(2), 2 * np.eye(2), 2, segments=(8, 12))
    with pytest.raises(riemdln.RiemdlnValueError, match="opposite signs of det"):
        riemdln.discrete_distance(np.eye(2), np.diag([1.0, -1.0]), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X1`"):
        riemdln.discrete_distance(np.eye(2), np.ones((2, 2)), 2)


def test_balanced_lift_bound_procrustes_brute_force_chen_and_below_the_distance():
    from scipy.optimize import minimize_scalar

    from riemdln.studies.geodesics import balanced_lift_bound

    X0, X1 = _pair(7)

    def factors(X, O):  # a balanced factorization W2 W1 = X, built from the eigendecompositions of X X^T, X^T X
        lam, Qe = np.linalg.eigh(X @ X.T)
        s = np.sqrt(lam)
        R = X.T @ Qe / s  # X^T Q = R Sigma
        return Qe * np.sqrt(s) @ O.T, (O * np.sqrt(s)) @ R.T

    def gap(O1):  # only the relative rotation matters: X0's factors at O = identity
        (a2, a1), (b2, b1) = factors(X0, np.eye(2)), factors(X1, O1)
        return math.sqrt(np.sum((b2 - a2) ** 2) + np.sum((b1 - a1) ** 2))

    flip = np.diag([1.0, -1.0])
    brute = min(
        minimize_scalar(
            lambda t, F=F: gap(_rot(t) @ F), bounds=(a, a + 0.5), method="bounded", options={"xatol": 1e-12}
        ).fun
        for F in (np.eye(2), flip)
        for a in np.arange(-math.pi, math.pi, 0.5)
    )
    bound = balanced_lift_bound(X0, X1)
    assert bound == pytest.approx(brute, rel=1e-9)
    assert bound <= riemdln.distance(X0, X1, 2) * (1 + 1e-12)
    Q, R = _orth(3, 30), _orth(3, 31)
    s0, s1 = np.array([2.0, 1.0, 0.4]), np.array([0.7, 1.5, 1.1])
    chen = math.sqrt(2) * np.linalg.norm(np.sqrt(s1) - np.sqrt(s0))
    assert balanced_lift_bound(Q @ np.diag(s0) @ R.T, Q @ np.diag(s1) @ R.T) == pytest.approx(chen, rel=1e-12)


# ---------------------------------------------------------------- gradient flow against the geodesic
def test_flow_vs_geodesic_at_depth_one_is_the_closed_form_straight_line():
    # N = 1: X(t) = X0 + (1 - e^-t)(M - P_Omega X0) is a straight segment and the metric is Euclidean, so the
    # length is (1 - e^-T) ||diag(X0) - 1|| and the distance is the same number
    from riemdln.studies import _flow_geodesic as fg
    from riemdln.studies import reached_target

    r = fg.compare(seed=0, depth="1", scale=1e-2, target_loss=1e-10)
    X0 = fg.start(0, 1e-2)
    exact = (1.0 - math.exp(-r["t_end"])) * float(np.linalg.norm(np.diag(X0) - 1.0))
    for f in ("status", "final_loss", "target_loss", "reached_target", "geodesic_status", "ratio", "max_gap"):
        assert f in r, f
    assert r["reached_target"] == reached_target(r["status"], r["final_loss"], r["target_loss"]) is True
    assert r["geodesic_status"] == "FINISHED"
    assert r["distance"] == pytest.approx(exact, rel=1e-8)
    assert r["flow_length"] == pytest.approx(exact, rel=1e-6)
    assert r["chord_length"] == pytest.approx(exact, rel=1e-8)
    assert abs(r["ratio"] - 1.0) < 1e-6 and r["max_gap"] < 1e-9


def test_flow_vs_geodesic_ratio_at_least_one_and_cauchy_schwarz():
    # a gradient flow: L = int |grad E|_g dt <= sqrt(T int |grad E|_g^2 dt) = sqrt(T (E0 - E1))
    from riemdln import CompletionProblem
    from riemdln.studies import _flow_geodesic as fg

    r = fg.compare(seed=1, depth="2", scale=1e-2, target_loss=1e-10)
    E0 = float(CompletionProblem.named("menon-2x2").loss(fg.start(1, 1e-2)))
    assert r["geodesic_status"] == "FINISHED" and r["residual"] <= 1e-9
    assert r["ratio"] >= 1.0 - 1e-9 and 0.0 <= r["max_gap"] <= r["ratio"]
    assert r["flow_length"] ** 2 <= r["t_end"] * (E0 - r["final_loss"]) * (1 + 1e-9)
    assert r["flow_length"] == pytest.approx(r["chord_length"], rel=1e-4)


def test_flow_length_two_routes_converge():
    # speed quadrature (time and gradient) against chords between positions (neither): O(h^2) convergence
    from riemdln import CompletionProblem, end_to_end_flow
    from riemdln.flows import loss_below
    from riemdln.studies import _flow_geodesic as fg

    p = CompletionProblem.named("menon-2x2")
    res = end_to_end_flow(p, fg.start(2, 1e-2), math.inf, 1e9, normalized=True, events=loss_below(1e-10),
                          progress=False, dense_output=True)  # fmt: skip
    gaps = []
    for panels in (2, 8):
        L, _t, X = fg.speed_length(p, res.sol, res.t, math.inf, panels)
        gaps.append(abs(fg.chord_length(X, math.inf) - L) / L)
    assert gaps[1] < gaps[0] / 8 and gaps[1] < 1e-3


def test_segment_lengths_scaling_at_infinite_depth():
    # on X = c I, g^inf(D, D) = ||D||^2 / c^2: the segment from I to e I has length sqrt(2) log e = sqrt(2)
    from riemdln.studies._flow_geodesic import segment_lengths

    L = segment_lengths(np.eye(2), math.e * np.eye(2), math.inf)
    assert float(L) == pytest.approx(math.sqrt(2), rel=1e-13)


def test_flow_table_skips_failed_geodesics_and_summary_is_open():
    from riemdln.studies import geodesics as g

    ok = {"depth": "2", "reached_target": True, "ratio": 1.1, "max_gap": 0.1, "flow_length": 2.0, "chord_length": 2.0}
    bad = {**ok, "ratio": None, "max_gap": None}
    res = {"flow_runs": [ok, bad], "flow_depths": ["2"], "flow_scale": 1e-2, "flow_target_loss": 1e-10}
    (row,) = g.flow_table(res)
    assert row["runs"] == 2 and row["counted"] == 1 and row["ratio"] == [1.1]
    assert g._flow_summary(res)[0]["holds"] == "open"
    assert "1/2" in "\n".join(g._flow_text(res))


# ---------------------------------------------------------------- geodesic_between(path=...): a given initial path
def _small_start_flow(depth):
    """menon-2x2, normalized flow from 1e-2 times a random unit start with det > 0 to loss 1e-10 (dense output)."""
    from riemdln import CompletionProblem, end_to_end_flow
    from riemdln.flows import loss_below

    rng = np.random.default_rng(1313)
    D = rng.standard_normal((2, 2))
    D = D if np.linalg.det(D) > 0 else D[::-1]
    X0 = 1e-2 * D / np.linalg.norm(D)
    problem = CompletionProblem.named("menon-2x2")
    res = end_to_end_flow(problem, X0, depth, 1e9, normalized=True, events=loss_below(1e-10), progress=False,
                          dense_output=True)  # fmt: skip
    assert res.sol is not None and float(res["loss"][-1]) <= 1e-10 * (1 + 1e-9)
    times = np.concatenate([(res.t[:-1, None] + np.diff(res.t)[:, None] * np.linspace(0, 1, 5)[None, :-1]).ravel(),
                            res.t[-1:]])  # fmt: skip
    path = np.array([res.sol(v).reshape(2, 2) for v in times])
    return X0, path, res.sol, times


def _fd_length(sol, times, depth):
    """int sqrt(g(X', X')) dt, X' by central differences of the dense output (one-sided at the ends), Simpson."""
    h = 1e-5 * np.diff(times).min()

    def X(v):
        return sol(v).reshape(2, 2)

    speeds = []
    for k, v in enumerate(times):
        if k == 0:
            V = (-3 * X(v) + 4 * X(v + h) - X(v + 2 * h)) / (2 * h)
        elif k == len(times) - 1:
            V = (3 * X(v) - 4 * X(v - h) + X(v - 2 * h)) / (2 * h)
        else:
            V = (X(v + h) - X(v - h)) / (2 * h)
        speeds.append(math.sqrt(float(riemdln.metric(X(v), V, V, depth, normalized=True))))
    speeds = np.array(speeds)
    t0, t1, t2 = times[0:-1:2], times[1::2], times[2::2]
    a, b = t1 - t0, t2 - t1  # Simpson on the (possibly unequal) pairs of intervals
    w0 = (a + b) * (2 * a - b) / (6 * a)
    w1 = (a + b) ** 3 / (6 * a * b)
    w2 = (a + b) * (2 * b - a) / (6 * b)
    return float(np.sum(w0 * speeds[0:-1:2] + w1 * speeds[1::2] + w2 * speeds[2::2]))


@pytest.mark.parametrize("depth", [2.0, 4.0])
def test_continuation_along_a_flow_path_from_a_small_start(depth):
    X0, path, sol, times = _small_start_flow(depth)
    X1 = path[-1]
    res = riemdln.geodesic_between(X0, X1, depth, normalized=True, path=path)
    assert res.success, res.message
    assert res.method == "boundary-value solver from the path"
    assert "boundary-value solver from the path converged" in res.message and res.residual <= 1e-11
    end = riemdln.exp_map(X0, res.velocity, depth, normalized=True)  # an independent integration of the geodesic
    assert np.linalg.norm(end - X1) / np.linalg.norm(X1) <= 1e-10
    flow_length = _fd_length(sol, times, depth)
    assert res.length <= flow_length


def test_continuation_at_depth_one_gives_the_euclidean_distance():
    X0, path, _sol, _times = _small_start_flow(2.0)  # a curved path, the metric flat
    res = riemdln.geodesic_between(X0, path[-1], 1, path=path)
    assert res.success, res.message
    assert res.length == pytest.approx(float(np.linalg.norm(path[-1] - X0)), rel=1e-10)


def test_continuation_reproduces_chen_along_a_crooked_path():
    # aligned endpoints: the geodesic is straight in mu = s^(1/N) whatever path guides the continuation
    Q, R = _rot(0.4), _rot(-0.9)
    s0, s1 = np.array([0.05, 0.02]), np.array([1.5, 0.7])
    t = np.linspace(0.0, 1.0, 129)
    wiggle = np.array([_rot(0.6 * math.sin(math.pi * v)) for v in t])
    path = np.array([Q @ w @ np.diag(s0 ** (1 - v) * s1**v) @ R.T for v, w in zip(t, wiggle, strict=True)])
    res = riemdln.geodesic_between(path[0], path[-1], 3, path=path)
    assert res.success, res.message
    assert res.length == pytest.approx(math.sqrt(3) * np.linalg.norm(s1 ** (1 / 3) - s0 ** (1 / 3)), rel=1e-9)


def test_bad_path_inputs():
    X0, X1 = np.diag([1.0, 2.0]), np.diag([2.0, 3.0])
    good = X0 + np.linspace(0.0, 1.0, 9)[:, None, None] * (X1 - X0)
    flipped = good.copy()
    flipped[4] = np.diag([1.0, -1.0])
    singular = good.copy()
    singular[4] = np.diag([1.0, 0.0])
    nan = good.copy()
    nan[3, 0, 0] = np.nan
    bad = [good[0], good[:1], good[:, :1, :], np.zeros((9, 3, 3)), good + 1e-3, good[::-1], flipped, singular, nan,
           "path"]  # fmt: skip
    for path in bad:
        with pytest.raises(riemdln.RiemdlnValueError, match="`path`"):
            riemdln.geodesic_between(X0, X1, 2, path=path)
    for kw in (dict(tol=0.0), dict(tol=math.nan), dict(max_nfev=0), dict(max_iterations=1.5)):
        with pytest.raises(riemdln.RiemdlnValueError, match=f"`{next(iter(kw))}`"):
            riemdln.geodesic_between(X0, X1, 2, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("depth,normalized", [(2.0, True), (math.inf, True)])
def test_singular_straight_segment(depth, normalized):
    # X1 has two negative eigenvalues: X0 + t (X1 - X0) = (1 - t) 0.01 I + t X1 is singular at two t in (0, 1)
    X0, X1 = 0.01 * np.eye(2), np.array([[-1.0, 0.5], [0.0, -0.4]])
    res = riemdln.geodesic_between(X0, X1, depth, normalized)
    assert res.success, res.message
    assert res.method.startswith("boundary-value solver from the") and math.isinf(res.upper_bound)
    assert "solver from the straight segment" not in res.message  # skipped: it leaves the full-rank set
    end = riemdln.exp_map(X0, res.velocity, depth, normalized)
    assert np.linalg.norm(end - X1) / np.linalg.norm(X1) <= 1e-10
    reference = riemdln.discrete_distance(X0, X1, depth, normalized)  # never integrates the geodesic equations
    if reference.success:
        assert res.length <= reference.extrapolated * (1 + 1e-6)


@pytest.mark.slow
def test_small_rotated_start_at_infinite_depth():
    X0, X1 = 0.01 * np.diag([1.0, 2.0]) @ _rot(0.3), _rot(2.6) @ np.diag([1.5, 0.6])
    res = riemdln.geodesic_between(X0, X1, math.inf, True)
    assert res.success, res.message
    assert res.length <= res.upper_bound
    end = riemdln.exp_map(X0, res.velocity, math.inf, True)
    assert np.linalg.norm(end - X1) / np.linalg.norm(X1) <= 1e-10


@pytest.mark.slow  # every fallback route end to end (~10-20 s)
def test_small_start_without_path_falls_back_and_agrees_with_the_flow_path():
    # default settings, from the power path, against the solve guided by the flow's own path: two initial
    # paths, the same geodesic
    X0, path, _sol, _times = _small_start_flow(2.0)
    free = riemdln.geodesic_between(X0, path[-1], 2.0, normalized=True)
    guided = riemdln.geodesic_between(X0, path[-1], 2.0, normalized=True, path=path)
    assert free.success and guided.success, (free.message, guided.message)
    assert free.method != guided.method  # two initial paths, one geodesic
    assert free.length == pytest.approx(guided.length, rel=1e-9)
    end = riemdln.exp_map(X0, free.velocity, 2.0, normalized=True)
    assert np.linalg.norm(end - path[-1]) / np.linalg.norm(path[-1]) <= 1e-10


def test_closed_form_only_for_shared_singular_vectors():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(3, 3))
    spd = A @ A.T + np.eye(3)
    res = riemdln.geodesic_between(np.eye(3), spd, 3)  # X0 = I has every frame: X1's own diagonalizes it
    assert res.method == "closed form" and res.residual <= 1e-12
    w = np.linalg.eigvalsh(spd)
    assert res.length == pytest.approx(math.sqrt(3) * np.linalg.norm(w ** (1 / 3) - 1.0), rel=1e-12)
    X0, X1 = _pair(3)
    assert riemdln.geodesic_between(X0, X1, 3).method.startswith("boundary-value solver from the")
    Q = _orth(2, 1)
    flipped = Q @ np.diag([-1.0, -2.0]) @ Q.T  # same frame but negative entries: the closed form does not apply
    from riemdln.geometry.geodesics import _shared_frame

    assert _shared_frame(Q @ np.diag([1.0, 2.0]) @ Q.T, flipped) is None
    with pytest.raises(riemdln.RiemdlnValueError, match="closed_form"):
        riemdln.geodesic_between(np.eye(2), 2 * np.eye(2), 2, closed_form="yes")


# ---------------------------------------------------------------------------------------------
# metric compatibility, an independent boundary-value solve, and random pairs and triples
def _transport_drift(X0, U0, V0, depth, normalized):
    """Parallel transport of V0 along the geodesic from (X0, U0): V' = -Gamma_X(X', V), integrated jointly with
    the Hamiltonian system (DOP853, rtol 1e-12); the relative spreads of g(V, V) and g(V, X') over t in [0, 1]
    (the latter against sqrt(g(V, V) g(X', X'))) and the distance travelled."""
    from scipy.integrate import solve_ivp

    shape, n = X0.shape, X0.size
    P0 = apply_A_inverse(X0, U0, depth, normalized)

    def split(y):
        return (y[k * n : (k + 1) * n].reshape(shape) for k in range(3))

    def rhs(_t, y):
        X, P, V = split(y)
        U = apply_A(X, P, depth, normalized)
        G = riemdln.hamiltonian_gradient(X, P, depth, normalized)
        return np.concatenate([U.ravel(), -G.ravel(), -riemdln.christoffel(X, U, V, depth, normalized).ravel()])

    t = np.linspace(0.0, 1.0, 6)
    sol = solve_ivp(rhs, (0.0, 1.0), np.concatenate([X0.ravel(), P0.ravel(), V0.ravel()]), method="DOP853",
                    t_eval=t, rtol=1e-12, atol=1e-13)  # fmt: skip
    assert sol.success, sol.message
    vv, vu = [], []
    for y in sol.y.T:
        X, P, V = split(y)
        U = apply_A(X, P, depth, normalized)
        vv.append(float(riemdln.metric(X, V, V, depth, normalized)))
        vu.append(float(riemdln.metric(X, V, U, depth, normalized)))
    scale = math.sqrt(vv[0] * float(riemdln.metric(X0, U0, U0, depth, normalized)))  # |g(V, U)| <= |V||U|
    return np.ptp(vv) / vv[0], np.ptp(vu) / scale, float(np.linalg.norm(sol.y[:n, -1] - X0.ravel()))


@pytest.mark.parametrize("d,depth,normalized", [(2, 3.0, False), (3, 2.0, False), (2, math.inf, True)])
def test_parallel_transport_preserves_the_metric(d, depth, normalized):
    """g(V, V) and g(V, X') constant along a geodesic for the parallel-transported V (metric compatibility of
    the connection whose Christoffel form is Gamma); measured 2e-14 to 7e-13, and 0.4 to 1.5 with -Gamma's
    sign flipped."""
    rng = np.random.default_rng(30 + d)
    X0 = np.eye(d) + 0.3 * rng.normal(size=(d, d))
    U0, V0 = 0.4 * rng.normal(size=(d, d)), rng.normal(size=(d, d))
    vv, vu, moved = _transport_drift(X0, U0, V0, depth, normalized)
    assert vv <= 1e-8 and vu <= 1e-8 and moved > 0.1


@pytest.mark.slow
def test_boundary_value_solver_agrees_with_shooting_and_discrete_energy():
    """scipy.integrate.solve_bvp (collocation) on X' = A_N P, P' = -grad_X H with X(0) = X0, X(1) = X1 (d = 2,
    N = 3, the orientation pair of docs/theory.md §12): the same length as shooting and as the Richardson-
    extrapolated discrete path energy, and the same path."""
    from scipy.integrate import solve_bvp

    X0 = _rot(0.2) @ np.diag([2.0, 0.5]) @ _rot(-0.4).T
    X1 = _rot(1.0) @ np.diag([1.5, 0.8]) @ _rot(0.3).T
    N = 3.0

    def fun(_t, y):
        out = np.empty_like(y)
        for k in range(y.shape[1]):
            X, P = y[:4, k].reshape(2, 2), y[4:, k].reshape(2, 2)
            out[:4, k] = apply_A(X, P, N).ravel()
            out[4:, k] = -riemdln.hamiltonian_gradient(X, P, N).ravel()
        return out

    def bc(ya, yb):
        return np.concatenate([ya[:4] - X0.ravel(), yb[:4] - X1.ravel()])

    t = np.linspace(0.0, 1.0, 21)
    P_line = apply_A_inverse(X0, X1 - X0, N).ravel()
    guess = np.vstack([(X0.ravel()[:, None] + t * (X1 - X0).ravel()[:, None]), np.repeat(P_line[:, None], t.size, 1)])
    sol = solve_bvp(fun, bc, t, guess, tol=1e-10, max_nodes=20_000)
    assert sol.success, sol.message
    P0 = sol.sol(0.0)[4:].reshape(2, 2)
    bvp_length = math.sqrt(float(np.sum(P0 * apply_A(X0, P0, N))))
    shoot = riemdln.geodesic_between(X0, X1, N)
    discrete = riemdln.discrete_distance(X0, X1, N)
    assert shoot.success and discrete.success
    assert bvp_length == pytest.approx(shoot.length, rel=1e-10)  # measured 2e-14
    assert discrete.extrapolated == pytest.approx(shoot.length, rel=1e-10)  # measured 2e-13
    assert shoot.length == pytest.approx(0.6111794099, abs=1e-9)  # docs/theory.md §12
    np.testing.assert_allclose(sol.sol(shoot.path.t)[:4].T.reshape(-1, 2, 2), shoot.path.X, atol=1e-9)


@pytest.mark.parametrize("seed", [40, 41, 42])
def test_random_triples_triangle_symmetry_and_exp_log(seed):
    """Seeded random triples (d = 2, N = 3): d(X0, X1) = d(X1, X0), exp_X0(log_X0 X1) = X1, and the triangle
    inequality d(X0, X2) <= d(X0, X1) + d(X1, X2)."""
    X0, X1 = _pair(seed)
    X2 = _pair(seed + 100)[0]
    a = riemdln.geodesic_between(X0, X1, 3)
    assert a.success, a.message
    np.testing.assert_allclose(riemdln.exp_map(X0, a.velocity, 3), X1, atol=1e-10)
    assert riemdln.distance(X1, X0, 3) == pytest.approx(a.length, rel=1e-9)
    d12, d02 = riemdln.distance(X1, X2, 3), riemdln.distance(X0, X2, 3)
    assert d02 <= a.length + d12 + 1e-10
    assert a.length <= d02 + d12 + 1e-10 and d12 <= a.length + d02 + 1e-10


def test_geodesic_solvers_run_on_one_blas_thread(monkeypatch):
    """The simulators' thread policy (riemdln._blas): one BLAS thread inside a solve, the caller's count after."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from riemdln import _blas, geodesics

    def threads():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    for var in (*_blas.BLAS_ENV, "RIEMDLN_BLAS_THREADS"):
        monkeypatch.delenv(var, raising=False)
    seen = []
    inner = geodesics._christoffel

    def recording(*args, **kwargs):
        seen.append(threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(geodesics, "_christoffel", recording)
    X0, X1 = np.array([[1.1, 0.3], [-0.2, 0.9]]), np.array([[1.3, -0.4], [0.5, 0.8]])
    with threadpool_limits(limits=3, user_api="blas"):
        res = riemdln.geodesic_between(X0, X1, 3)
        after = threads()
    assert res.success and seen and set(seen) == {1} and after == 3
