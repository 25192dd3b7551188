"""Bad input: one table (callable, kwargs, match) -> RiemdlnValueError (a ValueError) naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

import riemdln
from riemdln import (
    apply_A,
    apply_A_inverse,
    entropy,
    log_multiplier,
    log_volume_density,
    metric,
    multiplier,
    orthogonal_group_volume,
    riemannian_gradient,
    volume_density,
)

EYE2 = np.eye(2)
ONES2 = np.ones((2, 2))
RANK1 = np.outer([1.0, 2.0], [3.0, -1.0])  # rank 1 up to rounding
RECT = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
NAN2 = np.array([[1.0, np.nan], [0.0, 1.0]])
INF2 = np.array([[1.0, np.inf], [0.0, 1.0]])

DEPTH_MSG = r"`depth` must be a real number >= 1 or math\.inf; got "
INF_RAW_MSG = r"`depth=math\.inf` requires `normalized=True`"
RANK_MSG = r"`X` has rank 1 < min\(m, n\) = 2"
X_REAL = r"`x` must be an array of real numbers"
NORM_MSG = r"`normalized` must be True or False"
COORDS_MSG = r"`coords` must be one of"

CASES = [
    # ---- multiplier / log_multiplier: values
    ("mult-negative-x", multiplier, dict(x=-1.0, y=1.0, depth=2), r"`x` must be >= 0"),
    ("mult-negative-y-array", multiplier, dict(x=1.0, y=[1.0, -0.5], depth=2), r"`y` must be >= 0"),
    ("mult-nan-x", multiplier, dict(x=np.nan, y=1.0, depth=2), r"`x` must have finite entries"),
    ("mult-inf-y", multiplier, dict(x=1.0, y=np.inf, depth=2), r"`y` must have finite entries"),
    ("mult-string-x", multiplier, dict(x="abc", y=1.0, depth=2), X_REAL),
    ("mult-numeric-string-x", multiplier, dict(x="4", y=1.0, depth=2), X_REAL),
    ("mult-complex-x", multiplier, dict(x=np.array([1 + 1j]), y=1.0, depth=2), X_REAL),
    ("logmult-negative-x", log_multiplier, dict(x=-2.0, y=1.0, depth=3), r"`x` must be >= 0"),
    # ---- depth
    ("depth-below-one", multiplier, dict(x=1.0, y=1.0, depth=0.5), DEPTH_MSG + r"0\.5\."),
    ("depth-zero", multiplier, dict(x=1.0, y=1.0, depth=0), DEPTH_MSG + r"0\."),
    ("depth-negative", apply_A, dict(X=EYE2, Z=EYE2, depth=-3), DEPTH_MSG + r"-3\."),
    ("depth-minus-inf", multiplier, dict(x=1.0, y=1.0, depth=-math.inf, normalized=True), DEPTH_MSG),
    ("depth-nan", multiplier, dict(x=1.0, y=1.0, depth=math.nan), DEPTH_MSG + r"nan\."),
    ("depth-string", multiplier, dict(x=1.0, y=1.0, depth="3"), DEPTH_MSG + r"'3'\."),
    ("depth-bool", multiplier, dict(x=1.0, y=1.0, depth=True), DEPTH_MSG + r"True\."),
    ("depth-none", metric, dict(X=EYE2, Z1=EYE2, Z2=EYE2, depth=None), DEPTH_MSG + r"None\."),
    ("depth-complex", multiplier, dict(x=1.0, y=1.0, depth=2 + 0j), DEPTH_MSG),
    ("depth-huge-int", multiplier, dict(x=1.0, y=1.0, depth=10**400), DEPTH_MSG + r".*use math\.inf"),
    ("depth-array", multiplier, dict(x=1.0, y=1.0, depth=np.array([2.0, 3.0])), DEPTH_MSG),
    ("depth-inf-raw-mult", multiplier, dict(x=1.0, y=2.0, depth=math.inf), INF_RAW_MSG),
    ("depth-inf-raw-logmult", log_multiplier, dict(x=1.0, y=2.0, depth=math.inf), INF_RAW_MSG),
    ("depth-inf-raw-apply", apply_A, dict(X=EYE2, Z=EYE2, depth=np.inf), INF_RAW_MSG),
    ("depth-inf-raw-metric", metric, dict(X=EYE2, Z1=EYE2, Z2=EYE2, depth=math.inf), INF_RAW_MSG),
    ("depth-inf-raw-volume", volume_density, dict(s=[1.0, 2.0], depth=math.inf), INF_RAW_MSG),
    ("depth-inf-raw-entropy", entropy, dict(s=[1.0, 2.0], depth=math.inf), INF_RAW_MSG),
    ("depth-bad-volume", log_volume_density, dict(s=[1.0, 2.0], depth=0.9), DEPTH_MSG),
    ("depth-bad-entropy", entropy, dict(s=[1.0, 2.0], depth="deep"), DEPTH_MSG),
    # ---- normalized / include_constant
    ("normalized-string", multiplier, dict(x=1.0, y=1.0, depth=2, normalized="yes"), NORM_MSG),
    ("normalized-int", apply_A, dict(X=EYE2, Z=EYE2, depth=2, normalized=1), NORM_MSG),
    ("normalized-none", volume_density, dict(s=[1.0], depth=2, normalized=None), NORM_MSG),
    (
        "include-constant-string",
        entropy,
        dict(s=[1.0, 2.0], depth=2, include_constant="no"),
        r"`include_constant` must be True or False",
    ),
    # ---- matrices: shapes and entries
    ("X-vector", apply_A, dict(X=[1.0, 2.0], Z=[1.0, 2.0], depth=2), r"`X` must have at least 2 dimension"),
    ("X-scalar", metric, dict(X=1.0, Z1=1.0, Z2=1.0, depth=2), r"`X` must have at least 2 dimension"),
    ("X-empty", apply_A, dict(X=np.zeros((0, 3)), Z=np.zeros((0, 3)), depth=2), r"`X` must be a non-empty"),
    ("X-ragged", apply_A, dict(X=[[1.0, 2.0], [3.0]], Z=EYE2, depth=2), r"`X` must be an array of real"),
    ("X-nan", apply_A, dict(X=NAN2, Z=EYE2, depth=2), r"`X` must have finite entries"),
    ("X-inf-metric", metric, dict(X=INF2, Z1=EYE2, Z2=EYE2, depth=2), r"`X` must have finite entries"),
    ("Z-nan", apply_A, dict(X=EYE2, Z=NAN2, depth=2), r"`Z` must have finite entries"),
    ("Z-shape", apply_A, dict(X=EYE2, Z=np.ones((2, 3)), depth=2), r"`Z` must have the shape of `X`"),
    ("Zinv-shape", apply_A_inverse, dict(X=EYE2, Z=np.ones((3, 2)), depth=2), r"`Z` must have the shape"),
    ("Z1-shape", metric, dict(X=EYE2, Z1=np.ones((3, 3)), Z2=EYE2, depth=2), r"`Z1` must have the shape"),
    ("Z2-inf", metric, dict(X=EYE2, Z1=EYE2, Z2=INF2, depth=2), r"`Z2` must have finite entries"),
    (
        "grad-shape",
        riemannian_gradient,
        dict(X=EYE2, euclidean_gradient=np.ones((2, 3)), depth=2),
        r"`euclidean_gradient` must have the shape of `X`",
    ),
    # ---- rank-deficient points
    ("metric-rank1", metric, dict(X=RANK1, Z1=EYE2, Z2=EYE2, depth=2), RANK_MSG),
    ("metric-zero", metric, dict(X=np.zeros((2, 2)), Z1=EYE2, Z2=EYE2, depth=2), r"`X` has rank 0"),
    ("metric-rank1-inf", metric, dict(X=RANK1, Z1=EYE2, Z2=EYE2, depth=math.inf, normalized=True), RANK_MSG),
    ("inverse-rank1", apply_A_inverse, dict(X=RANK1, Z=EYE2, depth=3), RANK_MSG),
    (
        "metric-rect-rank1",
        metric,
        dict(X=np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), Z1=np.ones((2, 3)), Z2=np.ones((2, 3)), depth=2),
        RANK_MSG,
    ),
    (
        "metric-stack-one-deficient",
        metric,
        dict(X=np.stack([EYE2, RANK1]), Z1=np.ones((2, 2, 2)), Z2=np.ones((2, 2, 2)), depth=2),
        RANK_MSG,
    ),
    ("volume-zero-s", volume_density, dict(s=[1.0, 0.0], depth=2), r"`s` must be > 0"),
    ("volume-negative-s", log_volume_density, dict(s=[1.0, -2.0], depth=2), r"`s` must be > 0"),
    # ---- infinite depth on rectangular matrices
    (
        "metric-inf-rect",
        metric,
        dict(X=RECT, Z1=np.ones((2, 3)), Z2=np.ones((2, 3)), depth=math.inf, normalized=True),
        r"`depth=math\.inf` needs a square `X`",
    ),
    (
        "inverse-inf-rect",
        apply_A_inverse,
        dict(X=RECT, Z=np.ones((2, 3)), depth=math.inf, normalized=True),
        r"`depth=math\.inf` needs a square `X`",
    ),
    (
        "volume-inf-rect-stratum",
        volume_density,
        dict(s=[1.0, 2.0], depth=math.inf, normalized=True, shape=(2, 3)),
        r"`depth=math\.inf` needs `shape=\(d, d\)`",
    ),
    # ---- singular values
    ("s-scalar", volume_density, dict(s=2.0, depth=2), r"`s` must have at least 1 dimension"),
    ("s-empty", volume_density, dict(s=[], depth=2), r"`s` must hold at least one singular value"),
    ("s-nan", volume_density, dict(s=[1.0, np.nan], depth=2), r"`s` must have finite entries"),
    ("s-inf", log_volume_density, dict(s=[np.inf, 1.0], depth=2), r"`s` must have finite entries"),
    ("s-string", volume_density, dict(s=["a", "b"], depth=2), r"`s` must be an array of real numbers"),
    ("entropy-negative-s", entropy, dict(s=[1.0, -1.0], depth=2), r"`s` must be >= 0"),
    ("entropy-nan-s", entropy, dict(s=[np.nan, 1.0], depth=2), r"`s` must have finite entries"),
    ("entropy-scalar-s", entropy, dict(s=1.0, depth=2), r"`s` must have at least 1 dimension"),
    # ---- coords and shape
    ("coords-unknown", volume_density, dict(s=[1.0, 2.0], depth=2, coords="polar"), COORDS_MSG),
    ("coords-none", log_volume_density, dict(s=[1.0, 2.0], depth=2, coords=None), COORDS_MSG),
    (
        "coords-lebesgue-with-shape",
        volume_density,
        dict(s=[1.0, 2.0], depth=2, coords="lebesgue", shape=(3, 3)),
        r"`coords` must be 'svd' when `shape` is given",
    ),
    ("shape-too-small", volume_density, dict(s=[1.0, 2.0], depth=2, shape=(1, 3)), r"`shape` must be a pair"),
    ("shape-one-int", volume_density, dict(s=[1.0], depth=2, shape=3), r"`shape` must be a pair"),
    ("shape-triple", volume_density, dict(s=[1.0], depth=2, shape=(2, 3, 4)), r"`shape` must be a pair"),
    ("shape-float", volume_density, dict(s=[1.0], depth=2, shape=(2.5, 3)), r"`shape` must be a pair"),
    ("shape-string", volume_density, dict(s=[1.0], depth=2, shape="ab"), r"`shape` must be a pair"),
    ("shape-negative", log_volume_density, dict(s=[1.0], depth=2, shape=(-1, 3)), r"`shape` must be a pair"),
    # ---- orthogonal group
    ("cd-zero", orthogonal_group_volume, dict(d=0), r"`d` must be an integer >= 1; got 0\."),
    ("cd-float", orthogonal_group_volume, dict(d=2.0), r"`d` must be an integer >= 1; got 2\.0\."),
    ("cd-bool", orthogonal_group_volume, dict(d=True), r"`d` must be an integer >= 1; got True\."),
    ("cd-string", orthogonal_group_volume, dict(d="3"), r"`d` must be an integer >= 1"),
]


@pytest.mark.parametrize("func,kwargs,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises(func, kwargs, match):
    """Every bad input raises RiemdlnValueError (a ValueError) with the argument named in the message."""
    with pytest.raises(ValueError, match=match) as info:
        func(**kwargs)
    assert isinstance(info.value, riemdln.RiemdlnValueError)
    assert "\n" not in str(info.value)  # one line: the CLI prints it as is


def test_error_class_is_public_and_a_valueerror():
    assert issubclass(riemdln.RiemdlnValueError, ValueError)


def test_good_input_at_the_edges_does_not_raise():
    """The edges the table excludes are accepted: depth exactly 1, numpy scalar depth, inf normalized,
    rank-deficient X in apply_A, zero singular values in entropy, rectangular full-rank metric."""
    assert multiplier(4.0, 1.0, 1) == 1.0
    assert multiplier(4.0, 1.0, np.float64(2.0)) == pytest.approx(3.0, rel=1e-14)
    assert multiplier(4.0, 1.0, np.int64(2)) == pytest.approx(3.0, rel=1e-14)
    L41 = 3 / math.log(4)
    assert multiplier(4.0, 1.0, math.inf, normalized=np.bool_(True)) == pytest.approx(L41, rel=1e-14)
    assert np.all(np.isfinite(apply_A(RANK1, EYE2, 3)))
    assert np.all(np.isfinite(apply_A(RANK1, EYE2, math.inf, normalized=True)))
    assert entropy([0.0, 1.0], 3, include_constant=False) == pytest.approx(0.0, abs=1e-15)  # a_3(1, 0) = 1
    assert metric(RECT, np.ones((2, 3)), np.ones((2, 3)), 2) > 0
    assert volume_density([1.0, 2.0], 2, shape=(np.int64(3), 4)) > 0


# ---------------------------------------------------------------------------------------------------------------
# every other public entry point: (id, call, the argument's name); each must raise a one-line RiemdlnValueError
# naming the argument, before any work (the resource guards: within a second)
HUGE = 10**400
BIG2 = [[HUGE, 0], [0, 1]]


def _problem():
    from riemdln.problems import CompletionProblem

    return CompletionProblem.named("menon-2x2")


def _quadratic():
    return riemdln.QuadraticEnergy(np.eye(2))


def _reproduce(**kw):
    return lambda: riemdln.reproduce("/tmp/riemdln-badinput-never-written", **kw)


_X0 = 0.5 * EYE2
_SIMULATORS = {
    "end_to_end_flow": lambda ms: riemdln.end_to_end_flow(_problem(), _X0, 2, t_final=1.0, max_steps=ms),
    "end_to_end_flow-svd": lambda ms: riemdln.end_to_end_flow(
        _problem(), _X0, 2, t_final=1.0, max_steps=ms, formulation="svd"
    ),
    "svd_flow": lambda ms: riemdln.svd_flow(_problem(), _X0, 2, t_final=1.0, max_steps=ms),
    "factor_flow": lambda ms: riemdln.factor_flow(
        _problem(), riemdln.balanced_factors(_X0, 2), t_final=1.0, max_steps=ms
    ),
}
STEP_CASES = [
    (f"{sim}-max_steps={bad!r}", lambda sim=sim, bad=bad: _SIMULATORS[sim](bad), "max_steps")
    for sim in _SIMULATORS
    for bad in (0, -5, "many", 2.5, True)
] + [
    (
        f"factor_descent-steps={bad!r}",
        lambda bad=bad: riemdln.factor_descent(_problem(), riemdln.balanced_factors(_X0, 2), 0.1, steps=bad),
        "steps",
    )
    for bad in (0, -5, "many", 2.5, True)
]

API_CASES = [
    # integers beyond the double range: OverflowError before
    ("multiplier-x-huge", lambda: multiplier(HUGE, 1, 2), "x"),
    ("entropy-s-huge", lambda: entropy([HUGE, 1], 2), "s"),
    ("metric-X-huge", lambda: metric(BIG2, EYE2, EYE2, 2), "X"),
    ("apply_A-Z-huge", lambda: apply_A(EYE2, BIG2, 2), "Z"),
    ("twin-multiplier-x-huge", lambda: riemdln.catalog()["multiplier"].numpy(HUGE, 1, 2), "x"),
    ("twin-orthogonal-d-huge", lambda: riemdln.catalog()["orthogonal_group_volume"].numpy(HUGE), "d"),
    ("twin-orthogonal-d-1e9", lambda: riemdln.catalog()["orthogonal_group_volume"].numpy(10**9), "d"),
    ("orthogonal-d-huge", lambda: orthogonal_group_volume(HUGE), "d"),
    ("orthogonal-d-1e9", lambda: orthogonal_group_volume(10**9), "d"),
    ("multiplier-x-beyond-int-str-digits", lambda: multiplier(10**5000, 1, 2), "x"),
    # effective_rank, Event
    ("effective_rank-empty", lambda: riemdln.effective_rank([]), "s"),
    ("effective_rank-negative", lambda: riemdln.effective_rank([-1, 1]), "s"),
    ("effective_rank-nan", lambda: riemdln.effective_rank([np.nan, 1]), "s"),
    ("effective_rank-str", lambda: riemdln.effective_rank("ab"), "s"),
    ("effective_rank-scalar", lambda: riemdln.effective_rank(2.0), "s"),
    ("Event-fn-int", lambda: riemdln.Event("e", 5), "fn"),
    ("Event-name-int", lambda: riemdln.Event(3, lambda t, X, p: 0.0), "name"),
    ("Event-terminal-str", lambda: riemdln.Event("e", lambda t, X, p: 0.0, terminal="yes"), "terminal"),
    ("Event-direction-nan", lambda: riemdln.Event("e", lambda t, X, p: 0.0, direction=np.nan), "direction"),
    ("Event-wall-negative", lambda: riemdln.Event("e", None, wall_seconds=-1.0), "wall_seconds"),
    # derive, catalog
    ("derive-names-int", lambda: riemdln.derive(names=5), "names"),
    ("derive-names-list-of-int", lambda: riemdln.derive(names=[5]), "names"),
    ("derive-progress-int", lambda: riemdln.derive("multiplier", progress=5), "progress"),
    ("derive-use_cache-str", lambda: riemdln.derive("multiplier", use_cache="no"), "use_cache"),
    ("derive-cache-int", lambda: riemdln.derive("multiplier", cache=5), "cache"),
    ("derive-report-int", lambda: riemdln.derive("multiplier", report=5), "report"),
    ("catalog-cache-int", lambda: riemdln.catalog(cache=5), "cache"),
    ("catalog-refresh-str", lambda: riemdln.catalog(refresh="yes"), "refresh"),
    # reproduce: checked before the formulas are derived or compiled
    ("reproduce-pdf-str", _reproduce(pdf="no"), "pdf"),
    ("reproduce-progress-str", _reproduce(progress="no"), "progress"),
    ("reproduce-quick-int", _reproduce(quick=1), "quick"),
    ("reproduce-force-str", _reproduce(force="yes"), "force"),
    ("reproduce-log-int", _reproduce(log=5), "log"),
    ("reproduce-out-int", lambda: riemdln.reproduce(5), "out"),
    ("reproduce-studies-int", _reproduce(studies=[3]), "studies"),
    ("reproduce-override-seeds-int", _reproduce(overrides={"operator_convergence": {"seeds": -1}}), "overrides"),
    ("reproduce-override-seeds-negative", _reproduce(overrides={"operator_convergence": {"seeds": [-1]}}), "overrides"),
    ("reproduce-override-d-str", _reproduce(overrides={"operator_convergence": {"d": "six"}}), "overrides"),
    ("reproduce-override-tau-zero", _reproduce(overrides={"depth_convergence": {"tau": 0}}), "overrides"),
    ("reproduce-override-nested", _reproduce(overrides={"volume_bias": {"beyond": {"seeds": "x"}}}), "overrides"),
    ("reproduce-override-bool", _reproduce(overrides={"deep_completion": {"nuclear_exact": "no"}}), "overrides"),
    # geodesics
    ("geodesic-rtol-zero", lambda: riemdln.geodesic(np.diag([2.0, 1.0]), EYE2, 2, rtol=0), "rtol"),
    ("geodesic-rtol-nan", lambda: riemdln.geodesic(np.diag([2.0, 1.0]), EYE2, 2, rtol=np.nan), "rtol"),
    ("geodesic-atol-negative", lambda: riemdln.geodesic(np.diag([2.0, 1.0]), EYE2, 2, atol=-1.0), "atol"),
    ("geodesic-max_nfev-zero", lambda: riemdln.geodesic(np.diag([2.0, 1.0]), EYE2, 2, max_nfev=0), "max_nfev"),
    ("geodesic-max_nfev-float", lambda: riemdln.geodesic(np.diag([2.0, 1.0]), EYE2, 2, max_nfev=2.5), "max_nfev"),
    ("exp_map-V-nan", lambda: riemdln.exp_map(np.diag([2.0, 1.0]), np.full((2, 2), np.nan), 2), "V"),
    ("exp_map-V-shape", lambda: riemdln.exp_map(np.diag([2.0, 1.0]), np.ones((3, 3)), 2), "V"),
    ("jacobian-X-shape", lambda: riemdln.end_to_end_jacobian(_problem(), np.eye(3), 2), "X"),
    # resource guards: refused up front, with the reason
    (
        "langevin-save_every-1-1e18-steps",
        lambda: riemdln.langevin(_quadratic(), EYE2, 2, 1.0, 1e9, 1e-9, save_every=1),
        "dt",
    ),
    (
        "langevin-save_every-1-too-many-saves",
        lambda: riemdln.langevin(_quadratic(), EYE2, 2, 1.0, 1e6, 1e-3, save_every=1, n_chains=1000),
        "save_every",
    ),
    (
        "langevin-n_chains-1e9",
        lambda: riemdln.langevin(_quadratic(), EYE2, 2, 1.0, 1.0, 0.1, n_chains=10**9),
        "n_chains",
    ),
    ("gibbs-n_samples-1e12", lambda: riemdln.gibbs_sample(_quadratic(), 2, 1.0, 10**12), "n_samples"),
    ("balanced_factors-depth-1e9", lambda: riemdln.balanced_factors(EYE2, 10**9), "depth"),
    ("balanced_factors-depth-huge", lambda: riemdln.balanced_factors(EYE2, HUGE), "depth"),
    ("end_to_end_flow-raw-depth-1e300", lambda: riemdln.end_to_end_flow(_problem(), _X0, 1e300, t_final=1.0), "depth"),
]
ALL_CASES = API_CASES + STEP_CASES


@pytest.mark.parametrize("case,call,arg", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_bad_argument_is_named_before_any_work(case, call, arg):
    import tracemalloc

    if case.startswith("twin-"):
        riemdln.catalog()  # built (or read from the cache) once per process, outside the measurement
    tracemalloc.start()
    try:
        with pytest.raises(riemdln.RiemdlnValueError) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert f"`{arg}" in message, message
    assert "\n" not in message, message  # one line: arrays are printed on one line
    # refused up front, before the allocation the argument asks for (a machine-independent measure, not a time)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


def test_messages_print_arrays_on_one_line():
    from riemdln._validation import short

    assert "\n" not in short(np.eye(5)) and len(short(np.eye(50))) <= 80
    assert short(10**5000) == "a huge integer"  # repr would raise (sys.get_int_max_str_digits)


def test_huge_integer_depth_message_is_short():
    """A 401-digit depth is described, not printed (one short line)."""
    with pytest.raises(riemdln.RiemdlnValueError, match="`depth`") as info:
        riemdln.balanced_factors(np.eye(2), depth=10**400)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200 and "401 digits" in message
