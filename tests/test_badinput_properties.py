"""Property-based bad input over the public API outside the simulators (hypothesis).

Random wrong shapes, dtypes, non-finite values and out-of-range parameters: every one must raise a
RiemdlnValueError whose message names the argument in backquotes; none may return a value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riemdln
from riemdln import RiemdlnValueError
from riemdln.problems import CompletionProblem

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
bad_depth = st.one_of(
    st.floats(max_value=0.999999, allow_nan=False, allow_infinity=False),
    st.just(math.nan),
    st.integers(max_value=0),
    st.text(max_size=3),
    st.booleans(),
    st.complex_numbers(allow_nan=False, allow_infinity=False, min_magnitude=1),
    st.none(),
)
bad_bool = st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats(allow_nan=False))


def _refused(name, fn, *args, **kwargs):
    with pytest.raises(RiemdlnValueError) as info:
        fn(*args, **kwargs)
    assert f"`{name}" in str(info.value), str(info.value)


@st.composite
def spoiled(draw, shape):
    """A float array of ``shape`` with one entry made non-finite, negative, or the dtype made complex."""
    arr = draw(st.lists(st.floats(0.1, 10.0), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    arr = np.array(arr, dtype=float).reshape(shape)
    how = draw(st.sampled_from(["nonfinite", "complex", "string"]))
    if how == "nonfinite":
        arr.flat[draw(st.integers(0, arr.size - 1))] = draw(non_finite)
        return arr
    if how == "complex":
        return arr + 1j * draw(st.floats(0.1, 1.0))
    return arr.astype(str)


@SETTINGS
@given(
    which=st.sampled_from(["x", "y"]),
    bad=st.one_of(non_finite, st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False)),
    fname=st.sampled_from(["multiplier", "log_multiplier"]),
)
def test_multiplier_bad_values(which, bad, fname):
    args = {"x": 1.0, "y": 2.0, which: bad}
    _refused(which, getattr(riemdln, fname), args["x"], args["y"], 2)


@SETTINGS
@given(depth=bad_depth, fname=st.sampled_from(["multiplier", "log_multiplier"]))
def test_multiplier_bad_depth(depth, fname):
    _refused("depth", getattr(riemdln, fname), 1.0, 2.0, depth)


@SETTINGS
@given(a=st.integers(1, 5), b=st.integers(1, 5))
def test_multiplier_broadcast_mismatch_names_the_argument(a, b):
    if a == b or 1 in (a, b):
        return
    _refused("y", riemdln.multiplier, np.ones(a), np.ones(b), 2)


@SETTINGS
@given(normalized=bad_bool)
def test_bad_normalized_flag(normalized):
    _refused("normalized", riemdln.multiplier, 1.0, 2.0, 2, normalized=normalized)


@SETTINGS
@given(
    fname=st.sampled_from(["apply_A", "apply_A_inverse", "riemannian_gradient"]),
    m=st.integers(1, 3),
    n=st.integers(1, 3),
    dm=st.integers(-1, 1),
    dn=st.integers(1, 2),
)
def test_operator_shape_mismatch(fname, m, n, dm, dn):
    X = np.eye(m, n) + 0.5
    X[np.diag_indices(min(m, n))] += 1.0
    Z = np.ones((max(1, m + dm), n + dn))
    name = "euclidean_gradient" if fname == "riemannian_gradient" else "Z"
    _refused(name, getattr(riemdln, fname), X, Z, 2)


@SETTINGS
@given(
    fname=st.sampled_from(["apply_A", "apply_A_inverse", "riemannian_gradient"]),
    a=st.integers(2, 4),
    b=st.integers(2, 4),
)
def test_operator_stack_mismatch(fname, a, b):
    if a == b:
        return
    X = np.stack([np.diag([2.0, 1.0])] * a)
    Z = np.ones((b, 2, 2))
    name = "euclidean_gradient" if fname == "riemannian_gradient" else "Z"
    _refused(name, getattr(riemdln, fname), X, Z, 2)


@SETTINGS
@given(data=st.data(), fname=st.sampled_from(["apply_A", "metric"]))
def test_operator_spoiled_X(data, fname):
    X = data.draw(spoiled((2, 2)))
    args = (X, np.eye(2)) if fname == "apply_A" else (X, np.eye(2), np.eye(2))
    _refused("X", getattr(riemdln, fname), *args, 2)


@SETTINGS
@given(data=st.data(), fname=st.sampled_from(["volume_density", "log_volume_density", "entropy"]))
def test_spectral_functions_spoiled_s(data, fname):
    s = data.draw(st.one_of(spoiled((3,)), st.just([]), st.just(np.zeros((2, 0))), st.just([1.0, -2.0])))
    _refused("s", getattr(riemdln, fname), s, 2)


@SETTINGS
@given(d=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.text(max_size=2), st.booleans()))
def test_orthogonal_group_volume_bad_d(d):
    _refused("d", riemdln.orthogonal_group_volume, d)


MASK = np.eye(2, dtype=bool)


@SETTINGS
@given(data=st.data())
def test_completion_problem_spoiled_values(data):
    values = data.draw(spoiled((2, 2)))
    if values.dtype.kind == "f" and np.all(np.isfinite(values[MASK])):
        return  # the spoiled entry is off the observed set: ignored by design
    _refused("values", CompletionProblem, (2, 2), MASK, values)


@SETTINGS
@given(data=st.data(), meth=st.sampled_from(["loss", "residual", "gradient", "test_error"]))
def test_completion_problem_spoiled_X(data, meth):
    P = CompletionProblem((2, 2), MASK, np.eye(2), ground_truth=np.eye(2))
    shape = data.draw(st.sampled_from([(2, 2), (3, 2), (2,), (1, 2, 3)]))
    X = data.draw(spoiled(shape)) if shape == (2, 2) else np.ones(shape)
    _refused("X", getattr(P, meth), X)


@SETTINGS
@given(
    obs=st.one_of(
        st.integers(),
        st.floats(),
        st.none(),
        st.text(max_size=3),
        st.lists(st.tuples(st.integers(-3, 5), st.integers(-3, 5)), min_size=1, max_size=3),
    )
)
def test_completion_problem_bad_observations(obs):
    _refused("observations", CompletionProblem, (2, 2), obs)


@SETTINGS
@given(
    seed=st.one_of(
        st.integers(max_value=-1),
        st.floats(),
        st.text(max_size=2),
        st.booleans(),
        st.lists(st.integers(0, 3), max_size=2),
    )
)
def test_completion_problem_random_bad_seed(seed):
    _refused("seed", CompletionProblem.random, 4, 4, 2, 8, seed=seed)


@pytest.fixture(scope="module")
def cat(formulas):
    return formulas


@SETTINGS
@given(data=st.data())
def test_catalog_twins_check_their_arguments(cat, data):
    name = data.draw(st.sampled_from(sorted(n for n, f in cat.items() if f.args)))
    f = cat[name]
    good = {
        "spectrum": [1.0, 2.0],
        "depth": 2.0,
        "count": 2,
        "nonnegative": 1.5,
        "real": 0.3,
    }
    from riemdln.symbolic.formulas import _arg_kind

    kinds = [_arg_kind(a) for a in f.args]
    k = data.draw(st.integers(0, len(kinds) - 1))
    bad_by_kind = {
        "spectrum": st.sampled_from([[1.0, -1.0], [], [math.nan, 1.0], [1j, 1.0]]),
        "depth": st.sampled_from([0.5, 0.0, -2.0, math.nan, "2"]),
        "count": st.sampled_from([0, -1, 2.5, "2", True]),
        "nonnegative": st.sampled_from([-1.0, math.nan, math.inf, 1j]),
        "real": st.sampled_from([math.nan, math.inf, 1j, "x"]),
    }
    args = [good[kind] for kind in kinds]
    args[k] = data.draw(bad_by_kind[kinds[k]])
    _refused(str(f.args[k]), f.numpy, *args)
