"""The Hessian protocol as documented: ``hessian_vector(X, V)`` takes one direction V, the simulators
vectorize over directions themselves; checked against central differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest

import riemdln
from riemdln import Energy

M = np.array([[1.5, 0.2], [-0.1, 0.8]])
X0 = np.array([[0.6, 0.1], [0.05, 0.4]])


def _loss(X):
    return 0.25 * float(np.sum(X**4)) + 0.5 * float(np.sum((X - M) ** 2))


def _grad(X):
    return X**3 + X - M


def _hv_one(X, V):
    assert np.shape(V) == np.shape(X) == (2, 2), "hessian_vector must be called with one direction"
    return 3 * X**2 * V + V


WITH_HV = Energy(_loss, _grad, shape=(2, 2), hessian_vector=_hv_one)
WITHOUT_HV = Energy(_loss, _grad, shape=(2, 2))


def _differenced_jacobian_of_rhs(depth, X, h=1e-6):
    """Central differences of F(X) = -A_N(X) grad E(X) (riemdln.apply_A), independent of the flows' code."""
    D = X.size
    J = np.empty((D, D))
    for k in range(D):
        E = np.zeros(D)
        E[k] = h
        E = E.reshape(X.shape)
        Fp = -riemdln.apply_A(X + E, _grad(X + E), depth)
        Fm = -riemdln.apply_A(X - E, _grad(X - E), depth)
        J[:, k] = ((Fp - Fm) / (2 * h)).ravel()
    return J


@pytest.mark.parametrize("depth", [1, 2, 3.5])
def test_end_to_end_jacobian_with_user_hessian_vector(depth):
    J = riemdln.end_to_end_jacobian(WITH_HV, X0, depth)
    assert np.allclose(J, _differenced_jacobian_of_rhs(depth, X0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["auto", "LSODA", "BDF", "Radau", "RK45", "CVODE"])
@pytest.mark.parametrize("formulation", ["matrix", "svd", "auto"])
def test_every_method_with_a_user_hessian_vector(method, formulation):
    kw = dict(method=method, formulation=formulation, t_eval=[2.0], rtol=1e-10, atol=1e-12)
    a = riemdln.end_to_end_flow(WITH_HV, X0, 3, 2.0, **kw)
    b = riemdln.end_to_end_flow(WITHOUT_HV, X0, 3, 2.0, **kw)  # the gradient differenced instead
    assert a.success and b.success, (a.message, b.message)
    assert np.allclose(a.X[-1], b.X[-1], atol=1e-7)


@pytest.mark.parametrize("method", ["auto", "BDF", "Radau", "CVODE"])
def test_svd_flow_and_factor_flow_with_a_user_hessian_vector(method):
    a = riemdln.svd_flow(WITH_HV, X0, 2, 2.0, method=method, t_eval=[2.0], rtol=1e-10, atol=1e-12)
    b = riemdln.factor_flow(WITH_HV, riemdln.balanced_factors(X0, 2), 2.0, method=method, t_eval=[2.0], rtol=1e-10)
    assert a.success and b.success
    assert np.allclose(a.X[-1], b.X[-1], atol=1e-6)


def test_energy_hessian_vector_on_stacks_is_called_per_direction():
    V = np.random.default_rng(0).standard_normal((5, 2, 2))
    out = WITH_HV.hessian_vector(np.broadcast_to(X0, V.shape), V)
    assert np.allclose(out, 3 * X0**2 * V + V)
