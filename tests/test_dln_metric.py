"""riemdln.DLNMetric: conventions checked once, every method bit for bit the free function of its meaning."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import riemdln
from riemdln import DLNMetric, RiemdlnValueError

X0 = np.array([[1.1, 0.3], [-0.2, 0.9]])
X1 = np.array([[1.3, -0.4], [0.5, 0.8]])
U = np.array([[0.3, -0.7], [0.2, 0.5]])
V = np.array([[-0.1, 0.4], [0.9, 0.2]])
S = np.array([2.0, 0.7])


def _same(a, b):
    """Bit for bit: arrays of one shape and dtype with equal entries; result dataclasses field by field."""
    if dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if a is None or b is None or isinstance(a, str | dict | tuple) or isinstance(b, str | dict | tuple):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


CASES = [(3.0, False), (7.5, True), (math.inf, True), (1.0, False)]


@pytest.mark.parametrize(("depth", "normalized"), CASES)
def test_every_method_is_its_free_function_bit_for_bit(depth, normalized):
    g = DLNMetric(depth, normalized)
    kw = {"depth": depth, "normalized": normalized}
    pairs = [
        (g.multiplier(4.0, 1.0), riemdln.multiplier(4.0, 1.0, **kw)),
        (g.apply_A(X0, U), riemdln.apply_A(X0, U, **kw)),
        (g.apply_A_inverse(X0, U), riemdln.apply_A_inverse(X0, U, **kw)),
        (g.inner(X0, U, V), riemdln.metric(X0, U, V, **kw)),
        (g.norm(X0, U), np.sqrt(riemdln.metric(X0, U, U, **kw))),
        (g.riemannian_gradient(X0, U), riemdln.riemannian_gradient(X0, U, **kw)),
        (g.christoffel(X0, U, V), riemdln.christoffel(X0, U, V, **kw)),
        (g.hamiltonian_gradient(X0, U), riemdln.hamiltonian_gradient(X0, U, **kw)),
        (g.exp(X0, U, t=0.5), riemdln.exp_map(X0, U, t=0.5, **kw)),
        (g.log(X0, X1), riemdln.log_map(X0, X1, **kw)),
        (g.geodesic(X0, U, t_eval=[0.0, 0.3]), riemdln.geodesic(X0, U, t_eval=[0.0, 0.3], **kw)),
        (g.geodesic_between(X0, X1), riemdln.geodesic_between(X0, X1, **kw)),
        (g.dist(X0, X1), riemdln.distance(X0, X1, **kw)),
        (g.scalar_curvature(X0), riemdln.scalar_curvature(X0, **kw)),
        (g.sectional_curvature(X0, U, V), riemdln.sectional_curvature(X0, U, V, **kw)),
        (g.ricci_curvature(X0, U), riemdln.ricci_curvature(X0, U, **kw)),
        (g.volume_density(S), riemdln.volume_density(S, **kw)),
        (g.log_volume_density(S, coords="lebesgue"), riemdln.log_volume_density(S, coords="lebesgue", **kw)),
        (g.entropy(S), riemdln.entropy(S, **kw)),
    ]
    for k, (a, b) in enumerate(pairs):
        assert _same(a, b), k
    assert type(g.dist(X0, X1)) is float


def test_the_issue_example_bit_for_bit():
    A, B = np.array([[1.4, 0.2], [0.1, 0.6]]), np.array([[0.9, -0.3], [0.4, 1.2]])
    assert DLNMetric(3).dist(A, B) == riemdln.distance(A, B, 3)


def test_rectangular_methods_bit_for_bit():
    """2x3 matrices (finite N): the methods that take matrices, against the free functions."""
    g, kw = DLNMetric(3), {"depth": 3.0}
    Y0 = np.array([[1.2, 0.1, -0.3], [0.2, 0.8, 0.4]])
    Y1 = np.array([[0.9, -0.2, 0.1], [0.3, 1.1, -0.2]])
    W = np.array([[0.2, -0.1, 0.3], [0.4, 0.1, -0.2]])
    Z = np.array([[-0.3, 0.2, 0.1], [0.1, -0.4, 0.2]])
    pairs = [
        (g.apply_A(Y0, W), riemdln.apply_A(Y0, W, **kw)),
        (g.apply_A_inverse(Y0, W), riemdln.apply_A_inverse(Y0, W, **kw)),
        (g.inner(Y0, W, Z), riemdln.metric(Y0, W, Z, **kw)),
        (g.christoffel(Y0, W, Z), riemdln.christoffel(Y0, W, Z, **kw)),
        (g.exp(Y0, W), riemdln.exp_map(Y0, W, **kw)),
        (g.geodesic_between(Y0, Y1), riemdln.geodesic_between(Y0, Y1, **kw)),
        (g.dist(Y0, Y1), riemdln.distance(Y0, Y1, **kw)),
        (g.sectional_curvature(Y0, W, Z), riemdln.sectional_curvature(Y0, W, Z, **kw)),
        (g.ricci_curvature(Y0, W), riemdln.ricci_curvature(Y0, W, **kw)),
        (g.scalar_curvature(Y0), riemdln.scalar_curvature(Y0, **kw)),
    ]
    for k, (a, b) in enumerate(pairs):
        assert _same(a, b), k


def test_every_public_method_is_tested():
    """A method added to DLNMetric must be added to the bit-for-bit comparisons of this module."""
    source = Path(__file__).read_text(encoding="utf-8")
    methods = [n for n, v in vars(DLNMetric).items() if callable(v) and not n.startswith("_")]
    assert len(methods) >= 20
    assert [n for n in methods if f"g.{n}(" not in source and f").{n}(" not in source] == []


def test_discrete_distance_method():
    g = DLNMetric(2)
    a = g.discrete_distance(X0, X1, segments=(4, 8))
    b = riemdln.discrete_distance(X0, X1, 2, segments=(4, 8))
    assert _same(a, b)


def test_conventions_checked_once_at_construction():
    with pytest.raises(RiemdlnValueError, match="normalized=True"):
        DLNMetric(math.inf)
    for bad in (0.5, math.nan, "3", True, None):
        with pytest.raises(RiemdlnValueError, match="depth"):
            DLNMetric(bad)
    with pytest.raises(RiemdlnValueError, match="normalized"):
        DLNMetric(2, normalized=1)
    g = DLNMetric(np.int64(3))
    assert g.depth == 3.0 and type(g.depth) is float
    with pytest.raises(AttributeError):
        g.depth = 4.0  # type: ignore[misc]


def test_frozen_hashable_repr():
    assert DLNMetric(3) == DLNMetric(3.0) and hash(DLNMetric(3)) == hash(DLNMetric(3.0))
    assert DLNMetric(3) != DLNMetric(3, normalized=True)
    assert len({DLNMetric(2), DLNMetric(2.0), DLNMetric(math.inf, True)}) == 2
    assert repr(DLNMetric(3)) == "DLNMetric(depth=3, normalized=False)"
    assert repr(DLNMetric(math.inf, True)) == "DLNMetric(depth=math.inf, normalized=True)"
    assert repr(DLNMetric(7.5)) == "DLNMetric(depth=7.5, normalized=False)"
    assert eval(repr(DLNMetric(2.25, True)), {"DLNMetric": DLNMetric, "math": math}) == DLNMetric(2.25, True)


def test_flow_and_langevin_delegate():
    E = riemdln.QuadraticEnergy(np.eye(2))
    Xa = 0.5 * np.eye(2) + 0.1 * U
    a = DLNMetric(2, True).flow(E, Xa, 2.0, progress=False)
    b = riemdln.end_to_end_flow(E, Xa, 2, 2.0, True, progress=False)
    assert np.array_equal(a.X, b.X)
    la = DLNMetric(3).langevin(E, Xa, 50.0, 0.02, 1e-3, seed=1, n_chains=2)
    lb = riemdln.langevin(E, Xa, 3, 50.0, 0.02, 1e-3, seed=1, n_chains=2)
    assert np.array_equal(la.X, lb.X)
    with pytest.raises(RiemdlnValueError, match="fixed by the DLNMetric"):
        DLNMetric(2).flow(E, Xa, 1.0, normalized=True)


def test_loading_the_metric_loads_no_simulator():
    code = (
        "import sys, numpy as np, riemdln; g = riemdln.DLNMetric(2); g.dist(np.eye(2), 2 * np.eye(2));"
        "g.scalar_curvature(np.eye(3) + 0.1); "
        "print(any(m.startswith(('riemdln.flows', 'riemdln.thermo.langevin_dynamics')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert callable(riemdln.metric)  # the module is riemdln.geometry.dln_metric: riemdln.metric stays the function
