"""A table of bad inputs to riemdln's public API (and the simulators' step counts and resource guards); prints how
each is met.

Every row is (label, the argument that is wrong, a call). A row counts as

* ``named``: a RiemdlnValueError whose message names the argument (in backquotes, or the CLI option);
* ``unnamed``: a RiemdlnValueError that does not name it;
* ``other``: any other exception type;
* ``silent``: a value came back.

Rows of simulations whose user callable turns bad mid-run count as ``named`` when the run failed
(``success=False``) with the callable named in its message; rows of valid extreme inputs count as ``named``
when the value is right (``silent`` otherwise), or when they are refused naming the argument.

Run: ``PYTHONPATH=. python benchmarks/bad_inputs.py`` (``-v`` lists every row that is not ``named``).
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

import riemdln
from riemdln import RiemdlnValueError
from riemdln.problems import CompletionProblem

NAN, INF = float("nan"), float("inf")
I2 = np.eye(2)
ROWS: list[tuple[str, str, object]] = []


def row(label, arg, fn):
    ROWS.append((label, arg, fn))


def geometry_rows():
    g = riemdln
    for fname in ("multiplier", "log_multiplier"):
        f = getattr(g, fname)
        for bad, lab in [
            (NAN, "nan"),
            (-1.0, "negative"),
            (INF, "inf"),
            (1 + 1j, "complex"),
            ("a", "str"),
            ([[1.0], [NAN]], "nan-array"),
            (None, "none"),
        ]:
            row(f"{fname}(x={lab})", "x", lambda f=f, bad=bad: f(bad, 1.0, 2))
            row(f"{fname}(y={lab})", "y", lambda f=f, bad=bad: f(1.0, bad, 2))
        for bad, lab in [
            (0.5, "0.5"),
            (0, "0"),
            (-3, "-3"),
            (NAN, "nan"),
            ("2", "str"),
            (True, "bool"),
            (10**400, "huge-int"),
            (1 + 0j, "complex"),
            (math.inf, "inf-raw"),
        ]:
            row(f"{fname}(depth={lab})", "depth", lambda f=f, bad=bad: f(1.0, 2.0, bad))
        row(f"{fname}(normalized='yes')", "normalized", lambda f=f: f(1.0, 2.0, 2, normalized="yes"))
        row(f"{fname}(broadcast mismatch)", "y", lambda f=f: f(np.ones(3), np.ones(4), 2))
    for fname in ("apply_A", "apply_A_inverse"):
        f = getattr(g, fname)
        row(f"{fname}(X=vector)", "X", lambda f=f: f(np.ones(3), np.ones(3), 2))
        row(f"{fname}(X=nan)", "X", lambda f=f: f(np.array([[NAN, 0], [0, 1]]), I2, 2))
        row(f"{fname}(X=complex)", "X", lambda f=f: f(I2 + 1j, I2, 2))
        row(f"{fname}(X=empty)", "X", lambda f=f: f(np.zeros((0, 2)), np.zeros((0, 2)), 2))
        row(f"{fname}(Z shape)", "Z", lambda f=f: f(I2, np.ones((3, 2)), 2))
        row(f"{fname}(Z stack mismatch)", "Z", lambda f=f: f(np.stack([I2] * 3), np.stack([I2] * 4), 2))
        row(f"{fname}(Z=inf)", "Z", lambda f=f: f(I2, np.full((2, 2), INF), 2))
        row(f"{fname}(Z=str)", "Z", lambda f=f: f(I2, "zz", 2))
        row(f"{fname}(depth=0)", "depth", lambda f=f: f(I2, I2, 0))
        row(f"{fname}(depth=inf raw)", "depth", lambda f=f: f(I2, I2, math.inf))
    row("apply_A_inverse(X singular)", "X", lambda: g.apply_A_inverse(np.ones((2, 2)), I2, 2))
    row("metric(X singular)", "X", lambda: g.metric(np.ones((2, 2)), I2, I2, 2))
    row("metric(Z1 shape)", "Z1", lambda: g.metric(I2, np.ones((2, 3)), I2, 2))
    row("metric(Z2 nan)", "Z2", lambda: g.metric(I2, I2, np.full((2, 2), NAN), 2))
    row(
        "metric(Z2 stack mismatch)",
        "Z2",
        lambda: g.metric(np.stack([I2] * 2), np.stack([I2] * 2), np.stack([I2] * 3), 2),
    )
    row("metric(depth=nan)", "depth", lambda: g.metric(I2, I2, I2, NAN))
    row(
        "riemannian_gradient(euclidean_gradient shape)",
        "euclidean_gradient",
        lambda: g.riemannian_gradient(I2, np.ones((3, 3)), 2),
    )
    row("riemannian_gradient(X complex)", "X", lambda: g.riemannian_gradient(I2 * 1j, I2, 2))
    row("riemannian_gradient(normalized=None)", "normalized", lambda: g.riemannian_gradient(I2, I2, 2, normalized=None))
    for fname in ("volume_density", "log_volume_density"):
        f = getattr(g, fname)
        for bad, lab in [
            ([], "empty"),
            ([1.0, -1.0], "negative"),
            ([1.0, 0.0], "zero"),
            ([NAN, 1.0], "nan"),
            ([1 + 1j, 1.0], "complex"),
            (3.0, "scalar"),
            ("ab", "str"),
        ]:
            row(f"{fname}(s={lab})", "s", lambda f=f, bad=bad: f(bad, 2))
        row(f"{fname}(depth=0.9)", "depth", lambda f=f: f([1.0, 2.0], 0.9))
        row(f"{fname}(coords=bad)", "coords", lambda f=f: f([1.0, 2.0], 2, coords="polar"))
        row(f"{fname}(shape too small)", "shape", lambda f=f: f([1.0, 2.0], 2, shape=(1, 3)))
        row(f"{fname}(shape=str)", "shape", lambda f=f: f([1.0, 2.0], 2, shape="2x2"))
        row(f"{fname}(normalized=1)", "normalized", lambda f=f: f([1.0, 2.0], 2, normalized=1))
    J = np.eye(4)
    row("induced_log_volume_density(X vector)", "X", lambda: g.induced_log_volume_density(np.ones(3), J, 2))
    row("induced_log_volume_density(X nan)", "X", lambda: g.induced_log_volume_density(np.full((2, 2), NAN), J, 2))
    row("induced_log_volume_density(depth=-1)", "depth", lambda: g.induced_log_volume_density(I2, J, -1))
    for bad, lab in [
        ([], "empty"),
        ([[]], "empty-stack"),
        ([-1.0, 1.0], "negative"),
        ([NAN, 1.0], "nan"),
        ([1j, 1.0], "complex"),
        (2.0, "scalar"),
        ("s", "str"),
    ]:
        row(f"entropy(s={lab})", "s", lambda bad=bad: g.entropy(bad, 2))
    row("entropy(depth=0)", "depth", lambda: g.entropy([1.0, 2.0], 0))
    row("entropy(include_constant='no')", "include_constant", lambda: g.entropy([1.0, 2.0], 2, include_constant="no"))
    for bad, lab in [
        (0, "0"),
        (-1, "-1"),
        (2.5, "2.5"),
        ("3", "str"),
        (True, "bool"),
        (np.float64(3.0), "np-float"),
        (None, "none"),
    ]:
        row(f"orthogonal_group_volume(d={lab})", "d", lambda bad=bad: g.orthogonal_group_volume(bad))


def problem_rows():
    mask = np.eye(2, dtype=bool)
    P = CompletionProblem((2, 2), mask, I2, ground_truth=I2)
    row("CompletionProblem(values complex)", "values", lambda: CompletionProblem((2, 2), mask, I2 + 1j))
    row(
        "CompletionProblem(values str)",
        "values",
        lambda: CompletionProblem((2, 2), mask, np.array([["a", "b"], ["c", "d"]])),
    )
    row("CompletionProblem(values shape)", "values", lambda: CompletionProblem((2, 2), mask, np.ones(3)))
    row("CompletionProblem(values nan)", "values", lambda: CompletionProblem((2, 2), mask, np.full((2, 2), NAN)))
    row("CompletionProblem(observations=5)", "observations", lambda: CompletionProblem((2, 2), 5))
    row("CompletionProblem(observations=None)", "observations", lambda: CompletionProblem((2, 2), None))
    row("CompletionProblem(observations int array)", "observations", lambda: CompletionProblem((2, 2), np.eye(2), I2))
    row(
        "CompletionProblem(observations mask shape)",
        "observations",
        lambda: CompletionProblem((2, 2), np.ones((3, 3), bool), I2),
    )
    row("CompletionProblem(observations empty)", "observations", lambda: CompletionProblem((2, 2), {}))
    row("CompletionProblem(triple complex)", "observations", lambda: CompletionProblem((2, 2), [(0, 0, 1 + 1j)]))
    row(
        "CompletionProblem(triple np complex)",
        "observations",
        lambda: CompletionProblem((2, 2), [(0, 0, np.complex128(1 + 1j))]),
    )
    row("CompletionProblem(triple nan)", "observations", lambda: CompletionProblem((2, 2), [(0, 0, NAN)]))
    row("CompletionProblem(triple out of range)", "observations", lambda: CompletionProblem((2, 2), [(5, 0, 1.0)]))
    row("CompletionProblem(triple negative index)", "observations", lambda: CompletionProblem((2, 2), [(-1, 0, 1.0)]))
    row("CompletionProblem(triple float index)", "observations", lambda: CompletionProblem((2, 2), [(0.5, 0, 1.0)]))
    row("CompletionProblem(triple short)", "observations", lambda: CompletionProblem((2, 2), [(0, 1)]))
    row(
        "CompletionProblem(dict conflicting values arg)", "values", lambda: CompletionProblem((2, 2), {(0, 0): 1.0}, I2)
    )
    row("CompletionProblem(dict complex)", "observations", lambda: CompletionProblem((2, 2), {(0, 0): 1j}))
    for bad, lab in [
        ((0, 2), "zero"),
        ((2,), "short"),
        ("22", "str"),
        ((2.0, 2), "float"),
        (None, "none"),
        ((True, 2), "bool"),
    ]:
        row(f"CompletionProblem(shape={lab})", "shape", lambda bad=bad: CompletionProblem(bad, {(0, 0): 1.0}))
    row(
        "CompletionProblem(ground_truth shape)",
        "ground_truth",
        lambda: CompletionProblem((2, 2), mask, I2, ground_truth=np.ones(3)),
    )
    row(
        "CompletionProblem(ground_truth complex)",
        "ground_truth",
        lambda: CompletionProblem((2, 2), mask, I2, ground_truth=I2 * 1j),
    )
    for meth in ("loss", "residual", "gradient", "test_error"):
        for bad, lab in [
            (I2 + 1j, "complex"),
            (np.ones((3, 3)), "shape"),
            (np.full((2, 2), NAN), "nan"),
            ("x", "str"),
            (np.ones(4), "vector"),
        ]:
            row(f"CompletionProblem.{meth}(X={lab})", "X", lambda meth=meth, bad=bad: getattr(P, meth)(bad))
    R = dict(m=4, n=4, rank=2, n_observed=8)
    for key, bad in [
        ("m", 0),
        ("n", -1),
        ("rank", 5),
        ("rank", 0),
        ("n_observed", 100),
        ("n_observed", 2.5),
        ("m", "4"),
        ("m", 10**12),
    ]:
        row(
            f"CompletionProblem.random({key}={bad!r})",
            key,
            lambda key=key, bad=bad: CompletionProblem.random(**{**R, key: bad}),
        )
    for bad, lab in [(-1, "negative"), (1.5, "float"), ("s", "str"), ([1, 2], "list"), (True, "bool")]:
        row(f"CompletionProblem.random(seed={lab})", "seed", lambda bad=bad: CompletionProblem.random(**R, seed=bad))
    row("CompletionProblem.named(unknown)", "name", lambda: CompletionProblem.named("no-such-problem"))
    row("CompletionProblem.named(5)", "name", lambda: CompletionProblem.named(5))
    row("can_be_unique(rank=0)", "rank", lambda: P.can_be_unique(0))
    row("can_be_unique(rank='2')", "rank", lambda: P.can_be_unique("2"))
    row("describe(rank=-1)", "rank", lambda: P.describe(-1))


def twin_rows():
    cat = riemdln.catalog()
    cases = [
        ("multiplier", (NAN, 1.0, 2.0), "x"),
        ("multiplier", (-1.0, 1.0, 2.0), "x"),
        ("multiplier", (1.0, INF, 2.0), "y"),
        ("multiplier", (1.0, 2.0, 0.5), "N"),
        ("multiplier", (1.0, 2.0, NAN), "N"),
        ("multiplier", (1.0, 2.0, INF), "N"),
        ("multiplier", (1 + 1j, 1.0, 2.0), "x"),
        ("multiplier", (1.0, 2.0), "N"),
        ("multiplier", ("a", 1.0, 2.0), "x"),
        ("multiplier_normalized", (1.0, -2.0, 2.0), "y"),
        ("multiplier_normalized", (1.0, 2.0, 0.0), "N"),
        ("multiplier_infinite", (NAN, 1.0), "x"),
        ("multiplier_infinite", (1.0, -1.0), "y"),
        ("multiplier_diagonal", (-1.0, 2.0), "x"),
        ("multiplier_zero", (1.0, -2.0), "N"),
        ("volume_density_d2", (-1.0, 1.0, 2.0), "s1"),
        ("volume_density_d2", (1.0, NAN, 2.0), "s2"),
        ("volume_density_d2", (1.0, 2.0, 0.0), "N"),
        ("volume_density_d3", (1.0, 2.0, -3.0, 2.0), "s3"),
        ("volume_density", ([1.0, -2.0], 2.0), "s"),
        ("volume_density", ([], 2.0), "s"),
        ("volume_density", ([1.0, 2.0], 0.2), "N"),
        ("volume_density", ([NAN, 2.0], 2.0), "s"),
        ("volume_density_infinite", ([-1.0, 2.0],), "s"),
        ("volume_density_rank_r", ([1.0], 0, 2, 2.0), "m"),
        ("volume_density_rank_r", ([1.0], 2, 2.5, 2.0), "n"),
        ("orthogonal_group_volume", (0,), "d"),
        ("orthogonal_group_volume", (2.5,), "d"),
        ("log_orthogonal_group_volume", (-1,), "d"),
        ("entropy", ([1.0, -1.0], 2.0), "sigma"),
        ("entropy", ([1.0, 2.0], 0.0), "N"),
        ("entropy_d2", (NAN, 1.0, 2.0), "sigma1"),
        ("entropy_renormalized_limit", ([],), "sigma"),
        ("singular_value_velocity", (-1.0, 1.0, 2.0), "s"),
        ("singular_value_velocity", (1.0, NAN, 2.0), "g"),
        ("singular_value_velocity", (1.0, 1.0, 0.0), "N"),
        ("singular_value_velocity_infinite", (1.0, INF), "g"),
        ("left_rotation", (1.0, 2.0, 0.1, NAN, 2.0), "g_ji"),
        ("right_rotation", (-1.0, 2.0, 0.1, 0.1, 2.0), "s_i"),
        ("metric_svd_d2", (1.0, 2.0, -1.0), "N"),
    ]
    for name, args, arg in cases:
        if name in cat:
            row(f"catalog[{name!r}].numpy{args!r}", arg, lambda name=name, args=args: cat[name].numpy(*args))


def cli_rows():
    from riemdln.app.cli import main
    from riemdln.app.report import reproduce

    row("reproduce(studies=[])", "studies", lambda: reproduce("/tmp/riemdln-bad-x", studies=[]))
    row("reproduce(studies=['nope'])", "studies", lambda: reproduce("/tmp/riemdln-bad-x", studies=["nope"]))
    row("reproduce(jobs=0)", "jobs", lambda: reproduce("/tmp/riemdln-bad-x", jobs=0, studies=["razin_cohen"]))
    row("reproduce(jobs='2')", "jobs", lambda: reproduce("/tmp/riemdln-bad-x", jobs="2", studies=["razin_cohen"]))
    row(
        "reproduce(scheduler='not-an-address')",
        "scheduler",
        lambda: reproduce("/tmp/riemdln-bad-x", scheduler="not-an-address", studies=["razin_cohen"]),
    )
    row("reproduce(out=a file)", "--out", lambda: reproduce("/etc/hostname", studies=["razin_cohen"]))
    row("derive(names='nope')", "names", lambda: riemdln.derive("nope") if hasattr(riemdln, "derive") else None)

    def cli(*argv):
        def call():
            code = main(list(argv))
            if code == 2:
                raise RiemdlnValueError(f"exit 2 {' '.join(argv)}")
            return code

        return call

    row(
        "riemdln reproduce --studies ,",
        "--studies",
        cli("reproduce", "--studies", ",", "--out", "/tmp/riemdln-bad-y", "--no-pdf"),
    )


def hardening_rows():
    """Integers beyond the double range, effective_rank, Event, derive/catalog, reproduce's flags and overrides,
    geodesics, the simulators' step counts and the resource guards (issue 11)."""
    from riemdln.problems import CompletionProblem

    huge = 10**400
    big2 = [[huge, 0], [0, 1]]
    cat = riemdln.catalog()
    problem = CompletionProblem.named("menon-2x2")
    quadratic = riemdln.QuadraticEnergy(I2)
    X0 = 0.5 * I2
    D = np.diag([2.0, 1.0])
    row("multiplier(x=10**400)", "x", lambda: riemdln.multiplier(huge, 1, 2))
    row("entropy(s=[10**400, 1])", "s", lambda: riemdln.entropy([huge, 1], 2))
    row("metric(X=10**400 entry)", "X", lambda: riemdln.metric(big2, I2, I2, 2))
    row("apply_A(Z=10**400 entry)", "Z", lambda: riemdln.apply_A(I2, big2, 2))
    row("catalog['multiplier'].numpy(x=10**400)", "x", lambda: cat["multiplier"].numpy(huge, 1, 2))
    row("catalog['orthogonal_group_volume'].numpy(d=10**400)", "d", lambda: cat["orthogonal_group_volume"].numpy(huge))
    row("catalog['orthogonal_group_volume'].numpy(d=10**9)", "d", lambda: cat["orthogonal_group_volume"].numpy(10**9))
    row("orthogonal_group_volume(d=10**400)", "d", lambda: riemdln.orthogonal_group_volume(huge))
    row("orthogonal_group_volume(d=10**9)", "d", lambda: riemdln.orthogonal_group_volume(10**9))
    row("multiplier(x=10**5000)", "x", lambda: riemdln.multiplier(10**5000, 1, 2))
    for bad, lab in [([], "empty"), ([-1, 1], "negative"), ([NAN, 1], "nan"), ("ab", "str"), (2.0, "scalar")]:
        row(f"effective_rank(s={lab})", "s", lambda bad=bad: riemdln.effective_rank(bad))
    fn = lambda t, X, p: 0.0  # noqa: E731
    row("Event('e', 5)", "fn", lambda: riemdln.Event("e", 5))
    row("Event(3, fn)", "name", lambda: riemdln.Event(3, fn))
    row("Event(terminal='yes')", "terminal", lambda: riemdln.Event("e", fn, terminal="yes"))
    row("Event(direction=nan)", "direction", lambda: riemdln.Event("e", fn, direction=NAN))
    row("Event(wall_seconds=-1)", "wall_seconds", lambda: riemdln.Event("e", None, wall_seconds=-1.0))
    row("derive(names=5)", "names", lambda: riemdln.derive(names=5))
    row("derive(names=[5])", "names", lambda: riemdln.derive(names=[5]))
    row("derive(progress=5)", "progress", lambda: riemdln.derive("multiplier", progress=5))
    row("derive(use_cache='no')", "use_cache", lambda: riemdln.derive("multiplier", use_cache="no"))
    row("derive(cache=5)", "cache", lambda: riemdln.derive("multiplier", cache=5))
    row("derive(report=5)", "report", lambda: riemdln.derive("multiplier", report=5))
    row("catalog(cache=5)", "cache", lambda: riemdln.catalog(cache=5))
    row("catalog(refresh='yes')", "refresh", lambda: riemdln.catalog(refresh="yes"))
    from riemdln.app.report import reproduce

    out = "/tmp/riemdln-bad-x"
    for kw, arg in [
        (dict(pdf="no"), "pdf"),
        (dict(progress="no"), "progress"),
        (dict(quick=1), "quick"),
        (dict(force="yes"), "force"),
        (dict(log=5), "log"),
        (dict(studies=[3]), "studies"),
        (dict(overrides={"operator_convergence": {"seeds": -1}}), "overrides"),
        (dict(overrides={"operator_convergence": {"seeds": [-1]}}), "overrides"),
        (dict(overrides={"operator_convergence": {"d": "six"}}), "overrides"),
        (dict(overrides={"depth_convergence": {"tau": 0}}), "overrides"),
        (dict(overrides={"volume_bias": {"beyond": {"seeds": "x"}}}), "overrides"),
        (dict(overrides={"deep_completion": {"nuclear_exact": "no"}}), "overrides"),
    ]:
        row(f"reproduce({kw!r})", arg, lambda kw=kw: reproduce(out, **kw))
    row("reproduce(out=5)", "out", lambda: reproduce(5))
    row("geodesic(rtol=0)", "rtol", lambda: riemdln.geodesic(D, I2, 2, rtol=0))
    row("geodesic(rtol=nan)", "rtol", lambda: riemdln.geodesic(D, I2, 2, rtol=NAN))
    row("geodesic(atol=-1)", "atol", lambda: riemdln.geodesic(D, I2, 2, atol=-1.0))
    row("geodesic(max_nfev=0)", "max_nfev", lambda: riemdln.geodesic(D, I2, 2, max_nfev=0))
    row("geodesic(max_nfev=2.5)", "max_nfev", lambda: riemdln.geodesic(D, I2, 2, max_nfev=2.5))
    row("exp_map(V=nan)", "V", lambda: riemdln.exp_map(D, np.full((2, 2), NAN), 2))
    row("exp_map(V shape)", "V", lambda: riemdln.exp_map(D, np.ones((3, 3)), 2))
    row("end_to_end_jacobian(X 3x3 for 2x2)", "X", lambda: riemdln.end_to_end_jacobian(problem, np.eye(3), 2))
    simulators = {
        "end_to_end_flow": lambda ms: riemdln.end_to_end_flow(problem, X0, 2, t_final=1.0, max_steps=ms),
        "end_to_end_flow(svd)": lambda ms: riemdln.end_to_end_flow(
            problem, X0, 2, t_final=1.0, max_steps=ms, formulation="svd"
        ),
        "svd_flow": lambda ms: riemdln.svd_flow(problem, X0, 2, t_final=1.0, max_steps=ms),
        "factor_flow": lambda ms: riemdln.factor_flow(
            problem, riemdln.balanced_factors(X0, 2), t_final=1.0, max_steps=ms
        ),
    }
    for bad in (0, -5, "many", 2.5, True):
        for sim, call in simulators.items():
            row(f"{sim}(max_steps={bad!r})", "max_steps", lambda call=call, bad=bad: call(bad))
        row(
            f"factor_descent(steps={bad!r})",
            "steps",
            lambda bad=bad: riemdln.factor_descent(problem, riemdln.balanced_factors(X0, 2), 0.1, steps=bad),
        )
    L = riemdln.langevin
    row("langevin(t_final=1e9, dt=1e-9, save_every=1)", "dt", lambda: L(quadratic, I2, 2, 1.0, 1e9, 1e-9, save_every=1))
    row(
        "langevin(save_every=1, 1e9 steps x 1000 chains)",
        "save_every",
        lambda: L(quadratic, I2, 2, 1.0, 1e6, 1e-3, save_every=1, n_chains=1000),
    )
    row("langevin(n_chains=10**9)", "n_chains", lambda: L(quadratic, I2, 2, 1.0, 1.0, 0.1, n_chains=10**9))
    row("gibbs_sample(n_samples=10**12)", "n_samples", lambda: riemdln.gibbs_sample(quadratic, 2, 1.0, 10**12))
    row("balanced_factors(depth=10**9)", "depth", lambda: riemdln.balanced_factors(I2, 10**9))
    row("balanced_factors(depth=10**400)", "depth", lambda: riemdln.balanced_factors(I2, huge))
    row("end_to_end_flow(depth=1e300 raw)", "depth", lambda: riemdln.end_to_end_flow(problem, X0, 1e300, t_final=1.0))


class _Run:
    """A row whose call returns a simulation result that must have failed, its message naming ``arg``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self):
        return self.fn()


class _Extreme:
    """A valid but extreme input: ``fn()`` must return a value ``ok(value)`` accepts (or a named refusal)."""

    def __init__(self, fn, ok):
        self.fn, self.ok = fn, ok

    def __call__(self):
        return self.fn()


def _turning(which: str, kind: str, after: int):
    """A riemdln.Energy whose ``which`` callable turns ``kind`` after ``after`` good calls."""
    M = np.diag([2.0, 1.0])
    count = {"n": 0}

    def maybe(name, good, shape):
        if name != which:
            return good
        count["n"] += 1
        if count["n"] <= after:
            return good
        if kind == "raise":
            raise ZeroDivisionError("the user's bug")
        return {
            "nan": np.full(shape, NAN) if shape else NAN,
            "inf": np.full(shape, INF) if shape else INF,
            "str": "1.0",
            "shape": np.ones(3),
            "complex": np.ones(shape) * 1j if shape else 1j,
        }[kind]

    return riemdln.Energy(
        lambda X: maybe("loss", 0.5 * float(np.sum((X - M) ** 2)), ()),
        lambda X: maybe("gradient", X - M, (2, 2)),
        shape=(2, 2),
        hessian_vector=lambda X, V: maybe("hessian_vector", np.array(V, dtype=float), (2, 2)),
    )


_X0 = 0.5 * np.eye(2) + 0.05 * np.array([[0.0, 1.0], [0.0, 0.0]])
_SIMS = {
    "end_to_end_flow": lambda E, ev=None: riemdln.end_to_end_flow(E, _X0, 2, 4.0, events=ev),
    "end_to_end_flow(matrix, LSODA)": lambda E, ev=None: riemdln.end_to_end_flow(
        E, _X0, 3, 4.0, formulation="matrix", method="LSODA", events=ev
    ),
    "end_to_end_flow(matrix, BDF)": lambda E, ev=None: riemdln.end_to_end_flow(
        E, _X0, 3, 4.0, formulation="matrix", method="BDF", events=ev
    ),
    "end_to_end_flow(matrix, Radau)": lambda E, ev=None: riemdln.end_to_end_flow(
        E, _X0, 3, 4.0, formulation="matrix", method="Radau", events=ev
    ),
    "end_to_end_flow(RK45)": lambda E, ev=None: riemdln.end_to_end_flow(E, _X0, 2, 4.0, method="RK45", events=ev),
    "end_to_end_flow(matrix, CVODE)": lambda E, ev=None: riemdln.end_to_end_flow(
        E, _X0, 3, 4.0, formulation="matrix", method="CVODE", events=ev
    ),
    "svd_flow": lambda E, ev=None: riemdln.svd_flow(E, _X0, 2, 4.0, events=ev),
    "factor_flow": lambda E, ev=None: riemdln.factor_flow(E, riemdln.balanced_factors(_X0, 2), 4.0, events=ev),
    "factor_descent": lambda E, ev=None: riemdln.factor_descent(
        E, riemdln.balanced_factors(_X0, 2), 0.1, 100, events=ev
    ),
    "langevin": lambda E, ev=None: riemdln.langevin(E, _X0, 2, 50.0, 0.2, 0.01, seed=0),
}


def callable_rows():
    """User callables that turn bad mid-run (every simulator), bad at the first call, and the Hessian protocol."""
    for sim, call in _SIMS.items():
        for which in ("loss", "gradient"):
            for kind in ("nan", "inf", "str", "shape", "raise"):
                row(
                    f"{sim}: {which} turns {kind} mid-run",
                    which,
                    _Run(lambda c=call, w=which, k=kind: c(_turning(w, k, 6))),
                )
    for sim in ("end_to_end_flow(matrix, BDF)", "end_to_end_flow(matrix, Radau)", "end_to_end_flow(matrix, CVODE)"):
        for kind in ("nan", "str", "shape", "raise"):
            row(
                f"{sim}: hessian_vector turns {kind}",
                "hessian_vector",
                _Run(lambda c=_SIMS[sim], k=kind: c(_turning("hessian_vector", k, 1))),
            )
    for sim in ("end_to_end_flow", "langevin", "factor_descent"):
        for which in ("loss", "gradient", "hessian_vector"):
            for kind in ("nan", "str", "complex", "raise"):
                row(
                    f"{sim}: {which} bad at the first call ({kind})",
                    which,
                    lambda c=_SIMS[sim], w=which, k=kind: c(_turning(w, k, 0)),
                )
    row(
        "Energy(loss returns '1.0').loss",
        "loss",
        lambda: riemdln.Energy(lambda X: "1.0", lambda X: X, shape=(2, 2)).loss(I2),
    )
    row(
        "end_to_end_jacobian(hessian_vector bad)",
        "hessian_vector",
        lambda: riemdln.end_to_end_jacobian(_turning("hessian_vector", "nan", 0), _X0, 2),
    )


def event_rows():
    """Event functions that return NaN, a string, inf or raise: the run fails, naming the event."""

    def turning_event(kind, after):
        count = {"n": 0}

        def fn(t, X, problem):
            count["n"] += 1
            if count["n"] <= after:
                return 1.0
            if kind == "raise":
                raise KeyError("oops")
            return {"nan": NAN, "inf": INF, "str": "1.0", "none": None}[kind]

        return riemdln.Event("mine", fn)

    Q = riemdln.QuadraticEnergy(np.diag([2.0, 1.0]))
    for sim in (
        "end_to_end_flow",
        "end_to_end_flow(matrix, BDF)",
        "end_to_end_flow(RK45)",
        "svd_flow",
        "factor_flow",
        "factor_descent",
    ):
        for kind in ("nan", "inf", "str", "raise"):
            row(
                f"{sim}: Event turns {kind}",
                "fn` of Event `mine",
                _Run(lambda c=_SIMS[sim], k=kind: c(Q, turning_event(k, 3))),
            )
        row(
            f"{sim}: Event bad at the first call",
            "fn` of Event `mine",
            lambda c=_SIMS[sim]: c(Q, turning_event("nan", 0)),
        )


def override_rows():
    from riemdln.app.report import reproduce

    out = "/tmp/riemdln-bad-overrides"
    for ov, path in [
        ({"depth_convergence": {"small_init": {"depths": [-4]}}}, "overrides.depth_convergence.small_init.depths"),
        ({"depth_convergence": {"small_init": {"depths": "x"}}}, "overrides.depth_convergence.small_init.depths"),
        (
            {"depth_convergence": {"small_init": {"depths": [4, 10**7]}}},
            "overrides.depth_convergence.small_init.depths[1]",
        ),
        ({"depth_convergence": {"small_init": {"nope": 1}}}, "overrides.depth_convergence.small_init"),
        ({"depth_convergence": {"small_init": {"scale": -1.0}}}, "overrides.depth_convergence.small_init.scale"),
        ({"operator_convergence": {"d": 100000}}, "overrides.operator_convergence.d"),
        ({"operator_convergence": {"d": True}}, "overrides.operator_convergence.d"),
        ({"operator_convergence": {"log2_depths": [10**6]}}, "overrides.operator_convergence.log2_depths[0]"),
        ({"razin_cohen": {"depths": ["abc"]}}, "overrides.razin_cohen.depths"),
        ({"razin_cohen": {"t_final": NAN}}, "overrides.razin_cohen"),
        ({"razin_cohen": {"t_final": -1.0}}, "overrides.razin_cohen.t_final"),
        ({"razin_cohen": {"n_times": 10**9}}, "overrides.razin_cohen.n_times"),
        ({"deep_completion": {"size": 10**9}}, "overrides.deep_completion.size"),
        ({"deep_completion": {"observed": [10**9]}}, "overrides.deep_completion.observed[0]"),
        ({"volume_bias": {"beyond": {"seeds": "x"}}}, "overrides.volume_bias.beyond.seeds"),
        ({"volume_bias": {"samples": 10**12}}, "overrides.volume_bias.samples"),
        ({"langevin_check": {"n_chains": 10**9}}, "overrides.langevin_check.n_chains"),
        ({"menon_2x2": {"depths": [None]}}, "overrides.menon_2x2.depths"),
        # checked by the fields' declared types and ranges (values that passed a check by kind)
        ({"depth_convergence": {"small_init": {"depths": [0.5]}}}, "overrides.depth_convergence.small_init.depths[0]"),
        ({"razin_cohen": {"depths": ["nan"]}}, "overrides.razin_cohen.depths[0]"),
        ({"razin_cohen": {"depths": [10**400]}}, "overrides.razin_cohen.depths[0]"),
        ({"razin_cohen": {"t_final": 10**400}}, "overrides.razin_cohen.t_final"),
        ({"razin_cohen": {"n_times": 1}}, "overrides.razin_cohen.n_times"),
        ({"operator_convergence": {"d": 0}}, "overrides.operator_convergence.d"),
        ({"operator_convergence": {"d": 5.0}}, "overrides.operator_convergence.d"),
        ({"depth_convergence": {"shape": [5]}}, "overrides.depth_convergence.shape"),
        ({"upstairs_downstairs": {"cases": [[4, 0]]}}, "overrides.upstairs_downstairs.cases[0][1]"),
        ({"upstairs_downstairs": {"depths": [2.5]}}, "overrides.upstairs_downstairs.depths[0]"),
        ({"langevin_check": {"depths": ["inf"]}}, "overrides.langevin_check.depths[0]"),
        ({"deep_completion": {"formulation": "fast"}}, "overrides.deep_completion.formulation"),
        ({"volume_bias": {"beyond": {"instances": [{"size": 10**6}]}}}, "overrides.volume_bias.beyond.instances"),
        ({"free_energy": {"limit_X0": [[0.3, 0.2]]}}, "overrides.free_energy.limit_X0"),
        ({"achl19": {"seeds": [0]}}, "overrides.achl19.seeds"),
        ({"implicit_bias": {"depths": ["two"]}}, "overrides.implicit_bias.depths[0]"),
    ]:
        row(f"reproduce(overrides={ov!r})", path, lambda ov=ov: reproduce(out, overrides=ov))


def scheduler_rows():
    import socket
    import threading

    import riemdln.studies.sweep
    from riemdln.app.cli import main

    riemdln.studies.sweep.probe_dask.__defaults__ = (2.0,)  # the table's own handshake bound (the default is 10 s)

    def server(banner: bytes) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        held = []

        def serve():
            while True:
                conn, _ = sock.accept()
                held.append(conn)
                if banner:
                    conn.sendall(banner)

        threading.Thread(target=serve, daemon=True).start()
        return sock.getsockname()[1]

    def cli(address):
        def call():
            argv = [
                "reproduce",
                "--quick",
                "--studies",
                "razin_cohen",
                "--out",
                "/tmp/riemdln-bad-s",
                "--scheduler",
                address,
            ]
            if main(argv) == 2:
                raise RiemdlnValueError(f"exit 2 {address}")
            return "ran"

        return call

    silent, greets, framed = server(b""), server(b"SSH-2.0-OpenSSH_9.6\r\n"), server(b"\x10" + b"\x00" * 7 + b"x" * 16)
    for label, address in [
        ("silent service (HTTP)", f"tcp://127.0.0.1:{silent}"),
        ("greeting service (SSH)", f"tcp://127.0.0.1:{greets}"),
        ("framed non-Dask service", f"tcp://127.0.0.1:{framed}"),
        ("port 99999", "tcp://127.0.0.1:99999"),
        ("port 0", "tcp://127.0.0.1:0"),
        ("closed port", "tcp://127.0.0.1:1"),
        ("unknown host", "tcp://no-such-host.invalid:8786"),
    ]:
        row(f"reproduce --scheduler {label}", "--scheduler", cli(address))
        row(
            f"reproduce(scheduler={label})",
            "scheduler",
            lambda a=address: riemdln.reproduce(
                "/tmp/riemdln-bad-s2", quick=True, studies=["razin_cohen"], scheduler=a
            ),
        )


def extreme_rows():
    """Valid inputs at the extremes: the right value, or a refusal that names the argument and says why."""
    from riemdln.flows.end_to_end import _result_bytes

    Q = riemdln.QuadraticEnergy(np.diag([2.0, 1.0]))
    P = CompletionProblem.named("menon-2x2")
    rc = CompletionProblem.named("razin-cohen-2x2")
    X0 = 0.5 * I2
    row(
        "effective_rank([1e308, 1e308])",
        "-",
        _Extreme(lambda: riemdln.effective_rank([1e308, 1e308]), lambda v: v == 2.0),
    )
    row(
        "effective_rank([1e-320, 1e-320])",
        "-",
        _Extreme(lambda: riemdln.effective_rank([1e-320, 1e-320]), lambda v: v == 2.0),
    )
    row(
        "effective_rank(1e308 rows)",
        "-",
        _Extreme(lambda: riemdln.effective_rank([[1e308] * 3, [1.0, 0, 0]]), lambda v: np.allclose(v, [3.0, 1.0])),
    )
    for beta in (1e2, 1e3):
        row(
            f"gibbs_expectation(beta={beta:g}) finite",
            "-",
            _Extreme(
                lambda b=beta: riemdln.gibbs_expectation(Q, lambda X: X[:, 0, 0], 2, b, max_points=400_000),
                lambda r: bool(np.isfinite(r.value)) and abs(float(r.value) - 2.0) < 0.1,
            ),
        )
    for N in (1000, 1e6):
        row(
            f"langevin(N={N:g}, normalized, auto)",
            "-",
            _Extreme(
                lambda N=N: riemdln.langevin(Q, I2, N, 4.0, 0.2, 1e-3, normalized=True, n_chains=16, seed=0),
                lambda r: r.success and bool(np.all(np.isfinite(r.X))),
            ),
        )
        row(
            f"langevin(N={N:g}, coordinates='Y')",
            "coordinates",
            lambda N=N: riemdln.langevin(Q, I2, N, 4.0, 0.2, 1e-3, normalized=True, coordinates="Y"),
        )
    row("end_to_end_flow(X0=1e150 I)", "X0", lambda: riemdln.end_to_end_flow(P, 1e150 * I2, 2, 1.0))
    row("svd_flow(X0=1e150 I)", "X0", lambda: riemdln.svd_flow(P, 1e150 * I2, 2, 1.0))
    row(
        "end_to_end_flow(X0=1e60 I)",
        "-",
        _Extreme(lambda: riemdln.end_to_end_flow(P, 1e60 * I2, 2, 1.0), lambda r: r.success),
    )
    row(
        "end_to_end_flow(RK45, razin-cohen, t_final=1e7) stops early",
        "-",
        _Extreme(
            lambda: riemdln.end_to_end_flow(rc, 1e-3 * I2, 2, 1e7, method="RK45"),
            lambda r: not r.success and "stiff" in r.message and r.nfev < 50_000,
        ),
    )
    row(
        "end_to_end_flow(CVODE, gradient turns NaN) stops at once",
        "-",
        _Extreme(
            lambda: riemdln.end_to_end_flow(
                _turning("gradient", "nan", 30), _X0, 3, 50.0, method="CVODE", formulation="matrix"
            ),
            lambda r: not r.success and r.nfev < 1000,
        ),
    )
    row(
        "end_to_end_flow(max_saved_bytes=6000)",
        "-",
        _Extreme(
            lambda: riemdln.end_to_end_flow(rc, 1e-3 * I2, 2, 2e3, max_saved_bytes=6000),
            lambda r: _result_bytes(r) <= 6000,
        ),
    )
    row(
        "end_to_end_flow(max_saved_bytes=0)",
        "max_saved_bytes",
        lambda: riemdln.end_to_end_flow(P, X0, 2, 1.0, max_saved_bytes=0),
    )
    row(
        "factor_flow(max_saved_bytes=True)",
        "max_saved_bytes",
        lambda: riemdln.factor_flow(P, riemdln.balanced_factors(X0, 2), 1.0, max_saved_bytes=True),
    )
    numpy_ok = {
        "end_to_end_flow(t_final=np.float32(1))": lambda: riemdln.end_to_end_flow(P, X0, 2, np.float32(1.0)),
        "end_to_end_flow(depth=np.int64(2))": lambda: riemdln.end_to_end_flow(P, X0, np.int64(2), 1.0),
        "end_to_end_flow(max_steps=np.int64)": lambda: riemdln.end_to_end_flow(
            P, X0, 2, 1.0, max_steps=np.int64(10**5)
        ),
        "factor_descent(lr=np.float32, steps=np.int64)": lambda: riemdln.factor_descent(
            P, riemdln.balanced_factors(X0, 2), np.float32(0.1), np.int64(10)
        ),
        "langevin(numpy scalars)": lambda: riemdln.langevin(
            Q,
            X0,
            np.int64(2),
            np.float32(4.0),
            np.float64(0.01),
            np.float32(0.001),
            n_chains=np.int64(2),
            seed=np.int64(0),
        ),
        "gibbs_sample(numpy scalars)": lambda: riemdln.gibbs_sample(
            Q, np.int64(2), np.float32(4.0), np.int64(64), n_chains=np.int64(4), burn_in=np.int64(10), seed=np.uint8(1)
        ),
        "balanced_factors(depth=np.int64(3))": lambda: riemdln.balanced_factors(X0, np.int64(3)),
        "time_budget(np.int64(5))": lambda: riemdln.time_budget(np.int64(5)),
        "SensingProblem.random(numpy ints)": lambda: riemdln.SensingProblem.random(
            np.int64(3), np.int64(3), np.int64(1), np.int64(20), seed=np.int64(0)
        ),
    }
    for label, fn in numpy_ok.items():
        row(label, "-", _Extreme(fn, lambda v: v is not None and getattr(v, "success", True)))
    row(
        "reproduce(jobs=np.int64(1)) is accepted (the unknown study is what is refused)",
        "studies",
        lambda: riemdln.reproduce("/tmp/riemdln-bad-j", jobs=np.int64(1), studies=["nope"]),
    )
    for label, arg, fn in [
        ("end_to_end_flow(t_final=np.True_)", "t_final", lambda: riemdln.end_to_end_flow(P, X0, 2, np.True_)),
        ("end_to_end_flow(depth=np.True_)", "depth", lambda: riemdln.end_to_end_flow(P, X0, np.True_, 1.0)),
        ("langevin(beta=np.True_)", "beta", lambda: riemdln.langevin(Q, X0, 2, np.True_, 0.01, 0.001)),
        (
            "langevin(n_chains=np.True_)",
            "n_chains",
            lambda: riemdln.langevin(Q, X0, 2, 1.0, 0.01, 0.001, n_chains=np.True_),
        ),
        ("factor_descent(lr=True)", "lr", lambda: riemdln.factor_descent(P, riemdln.balanced_factors(X0, 2), True, 10)),
        ("reproduce(jobs=np.True_)", "jobs", lambda: riemdln.reproduce("/tmp/riemdln-bad-j", jobs=np.True_)),
        ("gibbs_sample(normalized='yes')", "normalized", lambda: riemdln.gibbs_sample(Q, 2, 4.0, 64, normalized="yes")),
        (
            "gibbs_expectation(normalized=1)",
            "normalized",
            lambda: riemdln.gibbs_expectation(Q, lambda X: X[:, 0, 0], 2, 4.0, normalized=1),
        ),
        ("SensingProblem(0 sensors)", "sensors", lambda: riemdln.SensingProblem(np.zeros((0, 2, 2)), np.zeros(0))),
        ("derive(cache=a regular file)", "cache", lambda: riemdln.derive("multiplier", cache="/etc/hostname")),
        ("gibbs_expectation(f returns a string)", "f", lambda: riemdln.gibbs_expectation(Q, lambda X: "x", 2, 4.0)),
        (
            "gibbs_expectation(f returns NaN)",
            "f",
            lambda: riemdln.gibbs_expectation(Q, lambda X: np.full(len(X), NAN), 2, 4.0),
        ),
        ("gibbs_expectation(f wrong length)", "f", lambda: riemdln.gibbs_expectation(Q, lambda X: np.ones(3), 2, 4.0)),
    ]:
        row(label, arg, fn)


def _classify(arg, fn, value) -> tuple[str, str]:
    """How a row that returned ``value`` is met: a failed run naming ``arg``, an extreme handled, else silent."""
    if isinstance(fn, _Run):
        ok = not value.success and f"`{arg}`" in value.message
        return ("named" if ok else "silent"), value.message
    if isinstance(fn, _Extreme):
        return ("named" if fn.ok(value) else "silent"), repr(value)[:150]
    return "silent", repr(value)


def run(verbose: bool) -> dict[str, int]:
    geometry_rows()
    problem_rows()
    twin_rows()
    cli_rows()
    hardening_rows()
    first_new = len(ROWS)
    callable_rows()
    event_rows()
    override_rows()
    scheduler_rows()
    extreme_rows()
    counts = {"named": 0, "unnamed": 0, "other": 0, "silent": 0}
    new = dict.fromkeys(counts, 0)
    for i, (label, arg, fn) in enumerate(ROWS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = fn()
            except RiemdlnValueError as exc:
                kind = (
                    "named"
                    if (f"`{arg}" in str(exc) or arg.startswith("-") and arg in str(exc) or "exit 2" in str(exc))
                    else "unnamed"
                )
                detail = str(exc)
            except Exception as exc:  # noqa: BLE001
                kind, detail = "other", f"{type(exc).__name__}: {exc}"
            else:
                kind, detail = _classify(arg, fn, value)
        counts[kind] += 1
        if i >= first_new:
            new[kind] += 1
        if verbose and kind != "named":
            print(f"{kind:8s} {label}: {' '.join(detail.split())[:150]}")
    print(
        f"of which {sum(new.values())} new rows (callables, events, Hessian protocol, overrides, scheduler, "
        "extremes): " + ", ".join(f"{k} {v}" for k, v in new.items())
    )
    return counts


if __name__ == "__main__":
    counts = run("-v" in sys.argv)
    total = sum(counts.values())
    print(f"{total} bad inputs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
