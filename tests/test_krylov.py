"""The matrix-free path's exact Jacobian-vector products and preconditioner against independent computations:
the dense Jacobian (end_to_end_jacobian), central differences of the right-hand side, and apply_A."""

import math

import numpy as np
import pytest

import riemdln
from riemdln.flows import _energy, _krylov
from riemdln.flows.end_to_end import _matrix_rhs, end_to_end_jacobian


def _state(m, n, seed=0, coincident=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    if coincident:  # a repeated singular value and a near-repeated pair: the close-pair slopes
        Q, _, Rt = np.linalg.svd(X, full_matrices=False)
        s = np.linspace(2.0, 0.5, min(m, n))
        s[1] = s[0]
        s[3] = s[2] * (1 + 1e-9)
        X = Q @ np.diag(s) @ Rt
    return X, rng.standard_normal((m, n))


ENERGIES = {
    "completion": lambda m, n: riemdln.CompletionProblem.random(m, n, 2, (m * n) // 2, seed=3),
    "quadratic": lambda m, n: riemdln.QuadraticEnergy(np.random.default_rng(4).standard_normal((m, n))),
}


@pytest.mark.parametrize("shape", [(6, 6), (5, 7), (7, 4)])
@pytest.mark.parametrize("depth,normalized", [(2.0, False), (3.0, True), (2.5, False), (math.inf, True)])
@pytest.mark.parametrize("coincident", [False, True])
@pytest.mark.parametrize("energy", sorted(ENERGIES))
def test_jvp_is_the_dense_jacobian_times_v(shape, depth, normalized, coincident, energy):
    p = ENERGIES[energy](*shape)
    X, V = _state(*shape, coincident=coincident)
    k = _krylov.MatrixKrylov(_energy.ops(p), depth, normalized, X)
    jv = k.jvp(0.0, X.ravel(), V.ravel())
    ref = end_to_end_jacobian(p, X, depth, normalized) @ V.ravel()
    np.testing.assert_allclose(jv, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("depth,normalized", [(3.0, False), (math.inf, True)])
def test_jvp_against_central_differences(depth, normalized):
    p = ENERGIES["completion"](8, 8)
    X, V = _state(8, 8, seed=5)
    k = _krylov.MatrixKrylov(_energy.ops(p), depth, normalized, X)
    f = _matrix_rhs(p, depth, normalized)
    h = 1e-5
    fd = (f(0, (X + h * V).ravel()) - f(0, (X - h * V).ravel())) / (2 * h)
    np.testing.assert_allclose(k.jvp(0.0, X.ravel(), V.ravel()), fd, atol=1e-8 * np.abs(fd).max())


@pytest.mark.parametrize("shape", [(6, 6), (4, 7)])
def test_preconditioner_inverts_identity_plus_gamma_p_A(shape):
    p = ENERGIES["completion"](*shape)
    X, R = _state(*shape, seed=7)
    k = _krylov.MatrixKrylov(_energy.ops(p), 3.0, True, X)
    gamma = 0.37
    k.precond.setup(0.0, X.ravel(), gamma)
    Z = k.precond.solve(R.ravel(), gamma).reshape(shape)
    back = Z + gamma * k.p * riemdln.apply_A(X, Z, 3, normalized=True)
    np.testing.assert_allclose(back, R, atol=1e-12 * np.abs(R).max())
    assert k.p == pytest.approx(np.mean(p.mask))


def test_hessian_scale_of_a_quadratic_energy_is_one():
    p = ENERGIES["quadratic"](3, 4)
    assert _krylov.hessian_scale(_energy.ops(p), np.ones((3, 4))) == pytest.approx(1.0)


def test_rhs_keeps_the_frame_and_matches_the_matrix_form():
    p = ENERGIES["completion"](5, 7)
    X, _ = _state(5, 7, seed=2)
    k = _krylov.MatrixKrylov(_energy.ops(p), 3.0, False, X)
    np.testing.assert_allclose(
        k.rhs(0.0, X.ravel()), _matrix_rhs(p, 3.0, False)(0.0, X.ravel()), rtol=1e-12, atol=1e-14
    )
    assert k.frame(X.ravel()) is k._last
