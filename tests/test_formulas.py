"""The formula catalog: names, arguments, LaTeX, JSON, numeric twins against independent evaluations."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import mpmath
import numpy as np
import pytest

from riemdln import geometry
from riemdln.symbolic.formulas import latex_document, write_json, write_latex, write_out

REQUIRED = [
    "multiplier",
    "multiplier_diagonal",
    "multiplier_infinite",
    "volume_density_d2",
    "volume_density_d3",
    "volume_density_infinite_d2",
    "volume_density_infinite_d3",
    "volume_density_rank_r",
    "entropy",
    "singular_value_velocity",
]


def test_required_names_present(formulas):
    assert set(REQUIRED) <= set(formulas)
    for f in formulas.values():
        assert f.latex and f.args and f.title and f.convention in {"raw", "normalized", "-"}
        assert f.check is not None and f.check.passed, f.name  # every formula carries a certificate


def test_declarations_are_the_catalog_and_each_certificate_is_its_own(formulas, derive_cache):
    """Each derivation module declares its formulas (``CATALOG``); the catalog is exactly those, in order."""
    from riemdln.symbolic.derivations import derive
    from riemdln.symbolic.derivations._engine import DERIVATION_MODULES
    from riemdln.symbolic.formulas import entries

    declared = entries()
    assert [e.name for e in declared] == list(formulas)
    results = derive(cache=derive_cache[0])
    modules = [e.derivation for e in declared]
    assert modules == sorted(modules, key=[m.rsplit(".", 1)[1] for m in DERIVATION_MODULES].index)
    for e in declared:
        assert e.key in results[e.derivation].exprs, e.name
        assert all(k in results[e.derivation].exprs for k in e.display), e.name
        assert e.check in results[e.derivation].checks, e.name
    checks = [e.check for e in declared]
    assert len(set(checks)) == len(checks)  # no certificate line printed under two formulas


def test_public_catalog_function(formulas, derive_cache, monkeypatch):
    import riemdln

    cat = riemdln.catalog(cache=derive_cache[0], refresh=True)
    assert set(cat) == set(formulas)
    assert cat["multiplier"].expr == formulas["multiplier"].expr


def _mp_multiplier(x, y, n):
    x, y, n = mpmath.mpf(x), mpmath.mpf(y), mpmath.mpf(n)
    if n == 1:
        return mpmath.mpf(1)
    if x == y:
        return n * x ** ((n - 1) / n)
    return (x - y) / (x ** (1 / n) - y ** (1 / n))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1e3, 1e6])
def test_multiplier_twin_vs_mpmath(formulas, n):
    f = formulas["multiplier"].numpy
    xs = np.array([1.0, 1.0, 1.0 + 1e-15, 2.0, 1e6, 1e-150, 1e150, 3.7])
    ys = np.array([1.0, 1.0 - 1e-8, 1.0, 1.0, 1.0, 1e-150 * (1 + 1e-8), 1e-50, 3.7 * 1e-200**0])
    got = f(xs, ys, float(n))
    with mpmath.workdps(50):
        for g, a, b in zip(got, xs, ys, strict=True):
            ref = _mp_multiplier(a, b, n)
            assert abs(mpmath.mpf(float(g)) - ref) / ref <= 1e-12


def test_multiplier_infinite_and_normalized_twins(formulas):
    L = formulas["multiplier_infinite"].numpy
    a = formulas["multiplier_normalized"].numpy
    with mpmath.workdps(50):
        for x, y in [(4.0, 1.0), (2.0, 2.0), (1.0, 1.0 + 1e-12), (1e-100, 1e100)]:
            ref = mpmath.mpf(x) if x == y else (mpmath.mpf(x) - y) / (mpmath.log(x) - mpmath.log(y))
            assert abs(mpmath.mpf(float(L(x, y))) - ref) / ref <= 1e-12
            assert abs(mpmath.mpf(float(a(x, y, math.inf))) - ref) / ref <= 1e-12
    # O(1/N) correction: N (a_N/N - L) -> c1
    c1 = formulas["multiplier_correction"].numpy(4.0, 0.5)
    with mpmath.workdps(60):
        n = mpmath.mpf(10) ** 7
        meas = n * (_mp_multiplier(4, 0.5, n) / n - (mpmath.mpf(4) - 0.5) / (mpmath.log(4) - mpmath.log(0.5)))
    assert float(c1) == pytest.approx(float(meas), rel=1e-6)


def _bruteforce_volume(s, n):
    """|J| det(A_N)^(-1/2) with A_N assembled from fractional matrix powers of a rotated X (numpy)."""
    rng = np.random.default_rng(0)
    d = len(s)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = Q @ np.diag(s) @ R.T

    def power(P, p):
        w, V = np.linalg.eigh(P)
        return (V * np.clip(w, 0, None) ** p) @ V.T

    A = np.zeros((d * d, d * d))
    for a in range(d * d):
        E = np.zeros(d * d)
        E[a] = 1
        E = E.reshape(d, d)
        img = sum(power(X @ X.T, (n - k) / n) @ E @ power(X.T @ X, (k - 1) / n) for k in range(1, n + 1))
        A[:, a] = img.ravel()
    jac = np.prod([abs(s[i] ** 2 - s[j] ** 2) for i in range(d) for j in range(i + 1, d)])
    return jac / np.sqrt(np.linalg.det(A))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_volume_twins_vs_operator_determinant(formulas, n):
    for s in ([2.0, 1.0], [0.7, 1.9]):
        ref = _bruteforce_volume(s, n)
        assert formulas["volume_density_d2"].numpy(*s, float(n)) == pytest.approx(ref, rel=1e-9)
        assert formulas["volume_density"].numpy(np.array(s), float(n)) == pytest.approx(ref, rel=1e-9)
    s = [3.0, 1.2, 0.4]
    ref = _bruteforce_volume(s, n)
    assert formulas["volume_density_d3"].numpy(*s, float(n)) == pytest.approx(ref, rel=1e-9)
    assert formulas["volume_density"].numpy(np.array(s), float(n)) == pytest.approx(ref, rel=1e-9)


def test_volume_twin_is_stable_at_coincident_singular_values(formulas):
    f = formulas["volume_density_d2"].numpy
    assert f(1.0, 1.0, 3.0) == 0.0
    # |s1^(2/N) - s2^(2/N)| with s1/s2 = 1 + 1e-12, N = 1e6: mpmath reference of the product formula
    s1, s2, n = 1.0 + 1e-12, 1.0, 1e6
    with mpmath.workdps(60):
        ref = (mpmath.mpf(s1) * s2) ** (-(n - 1) / n) * abs(mpmath.mpf(s1) ** (2 / n) - mpmath.mpf(s2) ** (2 / n)) / n
    assert abs(mpmath.mpf(float(f(s1, s2, n))) - ref) / ref < 1e-9


def test_infinite_volume_is_the_limit_of_normalized(formulas):
    s = np.array([2.0, 0.5, 1.3])
    inf = formulas["volume_density_infinite_d3"].numpy(*s)
    explicit = np.prod(1 / s) * np.prod(
        [abs(np.log(s[i] ** 2) - np.log(s[j] ** 2)) for i in range(3) for j in range(i + 1, 3)]
    )
    assert inf == pytest.approx(explicit, rel=1e-13)
    assert formulas["volume_density_infinite"].numpy(s) == pytest.approx(explicit, rel=1e-13)
    errs = []
    for n in (1e2, 1e3, 1e4):
        normalized = n ** (9 / 2) * formulas["volume_density_d3"].numpy(*s, n)
        errs.append(abs(normalized - inf) / inf)
    assert errs[1] < errs[0] / 5 and errs[2] < errs[1] / 5  # O(1/N)


def test_rank_r_twin_is_euclidean_at_depth_one(formulas):
    f = formulas["volume_density_rank_r"].numpy
    s = np.array([2.0, 0.7])
    for m, n in ((2, 2), (3, 2), (4, 5)):
        eucl = abs(s[0] ** 2 - s[1] ** 2) * np.prod(s ** (m + n - 4))
        assert f(s, m, n, 1.0) == pytest.approx(eucl, rel=1e-13)


def test_entropy_twin_matches_geometry_and_constant(formulas):
    sigma = np.array([[2.0, 1.0, 0.3], [1.0, 1.0, 1.0]])
    for n in (2.0, 3.0, 7.0):
        np.testing.assert_allclose(formulas["entropy"].numpy(sigma, n), geometry.entropy(sigma, n), rtol=1e-13)
    c2 = formulas["orthogonal_group_volume"].numpy(2)
    assert c2 == pytest.approx(4 * math.pi * math.sqrt(2), rel=1e-15)
    # vol SO(3) with E_ij - E_ji orthonormal is 8 pi^2; Frobenius rescales by sqrt(2)^3; two components
    assert formulas["orthogonal_group_volume"].numpy(3) == pytest.approx(2 * 8 * math.pi**2 * 2**1.5, rel=1e-14)


def test_singular_value_velocity_vs_finite_difference(formulas):
    """ds/dt from d/dt svd(X - t A_N(X) G) by central differences."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 3))
    G = rng.standard_normal((3, 3))
    for n in (1.0, 2.0, 3.0):
        V = -geometry.apply_A(X, G, n)
        h = 1e-6
        fd = (np.linalg.svd(X + h * V, compute_uv=False) - np.linalg.svd(X - h * V, compute_uv=False)) / (2 * h)
        Q, s, Rt = np.linalg.svd(X)
        g = np.diag(Q.T @ G @ Rt.T)
        np.testing.assert_allclose(formulas["singular_value_velocity"].numpy(s, g, n), fd, rtol=1e-7)


def test_rotation_twins_vs_finite_difference(formulas):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 3))
    G = rng.standard_normal((3, 3))
    n = 3.0
    V = -geometry.apply_A(X, G, n)
    Q, s, Rt = np.linalg.svd(X)
    h = 1e-6

    def frames(Y):
        Qy, _, Rty = np.linalg.svd(Y)
        sign = np.sign(np.sum(Qy * Q, axis=0))  # align singular vector signs
        return Qy * sign, (Rty.T) * sign

    (Qp, Rp), (Qm, Rm) = frames(X + h * V), frames(X - h * V)
    Omega = Q.T @ (Qp - Qm) / (2 * h)
    Theta = Rt @ (Rp - Rm) / (2 * h)
    Gt = Q.T @ G @ Rt.T
    for i, j in ((0, 1), (0, 2), (1, 2)):
        om = formulas["left_rotation"].numpy(s[i], s[j], Gt[i, j], Gt[j, i], n)
        th = formulas["right_rotation"].numpy(s[i], s[j], Gt[i, j], Gt[j, i], n)
        assert om == pytest.approx(Omega[i, j], rel=1e-6, abs=1e-8)
        assert th == pytest.approx(Theta[i, j], rel=1e-6, abs=1e-8)


def test_every_index_structured_twin_against_its_expression_at_a_concrete_size(formulas):
    # the SymPy expression with r (or its size symbol) set, written out term by term and evaluated at 30 digits
    # (independent of the per-value/per-pair twins; the twin expanded at a given size is compiled to numpy and
    # geodesic_length_aligned's is also checked against the closed form by hand below)
    import sympy

    rng = np.random.default_rng(5)
    for name, f in formulas.items():
        bases = [a for a in f.args if isinstance(a, sympy.IndexedBase)]
        if not bases:
            continue
        size = f._extra.get("size", None) or sympy.Symbol("r", positive=True, integer=True)
        dim = 3
        values, subs = [], {}
        for a in f.args:
            if isinstance(a, sympy.IndexedBase):
                v = np.sort(rng.uniform(0.3, 2.5, dim))[::-1]
                subs.update({a[k + 1]: sympy.Float(v[k], 30) for k in range(dim)})
            elif str(a) == "N":
                v = 2.5
                subs[a] = sympy.Float(v, 30)
            elif a.is_integer:
                v = dim + 1 if str(a) == "n" else dim
                subs[a] = v
            else:
                v = 0.7
                subs[a] = sympy.Float(v, 30)
            values.append(v)
        size_symbols = [x for x in f.expr.free_symbols if x.name == str(size)]
        expanded = write_out(f.expr.subs({x: dim for x in size_symbols})).subs(subs)
        truth = complex(expanded.evalf(30))
        assert abs(truth.imag) <= 1e-25 * max(1.0, abs(truth.real)), name
        assert float(f.numpy(*values)) == pytest.approx(truth.real, rel=1e-12), name
        if name == "geodesic_length_aligned":
            s1, s0, N = values
            hand = math.sqrt(N) * float(np.linalg.norm(s1 ** (1 / N) - s0 ** (1 / N)))
            assert float(f.numpy(*values)) == pytest.approx(hand, rel=1e-13)


def test_json_round_trips_srepr(formulas, tmp_path):
    from riemdln.symbolic import functions

    path = write_json(tmp_path / "formulas.json", formulas)
    doc = json.loads(path.read_text())
    names = [f["name"] for f in doc["formulas"]]
    assert set(REQUIRED) <= set(names)
    ns = {}
    exec("from sympy import *", ns)
    ns.update(functions.NAMESPACE)
    for entry in doc["formulas"]:
        expr = eval(entry["srepr"], ns)
        assert expr == formulas[entry["name"]].expr
        assert entry["args"] == [str(a) for a in formulas[entry["name"]].args]
        assert set(entry) >= {"name", "latex", "srepr", "args", "check"}


def test_latex_document_numbers_and_labels_every_formula(formulas):
    tex = latex_document(formulas)
    assert tex.startswith(r"\documentclass")
    for name in formulas:
        assert rf"\label{{eq:{name}}}" in tex
    assert tex.count(r"\begin{equation}") + tex.count(r"\begin{align}") == len(formulas)  # wide matrices: align


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles_with_pdflatex(formulas, tmp_path):
    tex = write_latex(tmp_path / "formulas.tex", formulas)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "formulas.pdf").stat().st_size > 10_000
    # every label resolved into a number
    log = (tmp_path / "formulas.log").read_text(errors="replace")
    assert "multiply defined" not in log
    assert "Overfull \\hbox" not in log, [ln for ln in log.splitlines() if "Overfull" in ln]


def test_latex_document_is_paper_grade(formulas):
    """No tautologies, no scaling, no ASCII certificates, log-Gamma and pair products as a reader writes them."""
    import re

    tex = latex_document(formulas)
    assert r"\resizebox" not in tex and r"\scalebox" not in tex
    assert "loggamma" not in tex and r"\operatorname{L}" not in tex
    assert r"i + 1 \leq j" not in tex  # products over pairs print as 1 <= i < j <= r
    for line in tex.splitlines():
        m = re.match(r"(.+?) &= (.+?)( \\\\)?$", line)
        if m:  # a displayed form that only restates its left-hand side
            bare = [re.sub(r"\\left|\\right|[{}\s]", "", g) for g in m.groups()[:2]]
            assert bare[0] != bare[1], line
        if line.startswith(r"\noindent\emph{Certificate:}"):
            prose = re.sub(r"\$[^$]*\$", "", line)
            assert not re.search(r"\^|e-\d|oo\b|\\_", prose), line
            # no variable left upright in the prose: X, N, F, H, d x d, 4x4, a spelled-out Greek letter
            assert not re.search(r"\b[FHNQXY]\b|\b\w x \w\b|\b\dx\d\b|\b(mu|rho|sigma|inf)\b", prose), line
        if line.startswith(r"\section*{"):  # headings: variables in math, no dangling abbreviation, Ito as Itô
            prose = re.sub(r"\$[^$]*\$", "", line[len(r"\section*{") : -1])
            assert not re.search(r"(?<!['^])\b[b-zA-HJ-Z]\b|\bvol\b|\bIto\b", prose), line
    # a spelled-out Greek letter never enters math as a product of italic letters
    assert not re.search(r"\$(mu|rho|sigma)\$", tex)
    # a formula without a convention (a constant) prints no placeholder for it
    assert "(-;" not in tex and "(None;" not in tex
    # a certificate is printed once; the later formulas it certifies refer to it by number
    descriptions = [
        ln.split("; worst relative error")[0]
        for ln in tex.splitlines()
        if ln.startswith(r"\noindent\emph{Certificate:}") and r"as for \eqref" not in ln
    ]
    assert len(descriptions) == len(set(descriptions)), [d for d in descriptions if descriptions.count(d) > 1]
    assert r"\emph{Certificate:} as for \eqref{eq:singular_value_velocity}" in tex
    # the claim that SymPy derived everything is gone; the generalizations are named
    assert "Every formula was derived by SymPy" not in tex and "certified numerically" in tex


def test_certificates_carry_their_latex_and_depths(formulas):
    """Every certificate wrote its own LaTeX (balanced math, no ASCII exponent left in its prose)."""
    import re

    for f in formulas.values():
        c = f.check
        assert c.latex, f.name
        assert c.latex.count("$") % 2 == 0, (f.name, c.latex)
        prose = re.sub(r"\$[^$]*\$", "", c.latex)
        assert not re.search(r"\^|e-\d|\boo\b|\b(mu|rho|sigma|inf)\b", prose), (f.name, c.latex)


# formulas with a depth argument that hold at integer N only (the balanced fibre exists only there)
_INTEGER_DEPTH_ONLY = {"entropy", "entropy_d2"}
# constants of d alone, certified against the two independent evaluations there are (d = 2, 3)
_TWO_POINT_CONSTANTS = {"orthogonal_group_volume", "log_orthogonal_group_volume"}


def test_certificates_have_eight_points_and_non_integer_depths(formulas):
    for f in formulas.values():
        c = f.check
        if f.name in _TWO_POINT_CONSTANTS:
            assert c.points == 2 and not c.depths
            continue
        assert c.points >= 8, (f.name, c.points)
        if "N" in {str(a) for a in f.args} and f.name not in _INTEGER_DEPTH_ONLY:
            assert any(d != "inf" and float(d) != int(float(d)) for d in c.depths), (f.name, c.depths)


def test_provenance_in_json_and_latex(formulas, tmp_path):
    doc = json.loads(write_json(tmp_path / "formulas.json", formulas).read_text())
    kinds = {e["name"]: e["provenance"] for e in doc["formulas"]}
    assert {p["kind"] for p in kinds.values()} == {"derived", "certified"}
    for name, p in kinds.items():
        f = formulas[name]
        if p["kind"] == "derived":
            assert p["text"] == "derived by SymPy"
        else:
            assert p["generalized"] and f"{f.check.points} points" in p["text"], name
    tex = latex_document(formulas)
    assert tex.count(r"\emph{Provenance:}") == len(formulas)
    assert tex.count(r"\emph{Provenance:} derived by SymPy.") == sum(p["kind"] == "derived" for p in kinds.values())


def test_no_tautology_and_one_chart_per_equation(formulas):
    for f in formulas.values():
        for eq in f.latex.split(r",\qquad "):
            sides = [
                s.replace(" ", "").replace(r"\left", "").replace(r"\right", "").replace("{", "").replace("}", "")
                for s in eq.split(" = ")
            ]
            assert len(sides) == len(set(sides)), (f.name, eq)
    warped = formulas["metric_warped_d2"]
    assert [lhs for lhs, _ in warped.equations()] == [warped.symbol, warped.charts[0]]
    tex = latex_document(formulas)
    block = tex[tex.index(r"\label{eq:metric_warped_d2}") :].split(r"\end{equation}")[0]
    assert warped.charts[0] + " &=" in block  # the s-chart form has its own left-hand side


def test_bibliography_resolves_every_citation(formulas):
    import re

    tex = latex_document(formulas)
    cited = {k for group in re.findall(r"\\cite\{([^}]*)\}", tex) for k in group.split(",")}
    items = set(re.findall(r"\\bibitem\{([^}]*)\}", tex))
    assert cited and cited <= items and "Che25" in cited
    assert "arXiv:2510.07324" in tex


def test_factored_display_is_printed_and_equal(formulas):
    import sympy

    f = formulas["ito_correction_factor"]
    shown = f._extra["shown"]
    assert sympy.simplify(shown - f.expr) == 0  # (the derivation proves it; an independent re-check)
    mu1, mu2, N = f.args
    vals = {mu1: sympy.Rational(13, 10), mu2: sympy.Rational(7, 10), N: sympy.Rational(5, 2)}
    assert abs(float(shown.subs(vals)) - float(f.expr.subs(vals))) < 1e-12
    tex = latex_document(formulas)
    block = tex[tex.index(r"\label{eq:ito_correction_factor}") :].split(r"\end{equation}")[0]
    assert r"\frac{2 \mu_{1}" in block


def test_formula_source_contains_no_cancelling_quotient(formulas):
    for f in formulas.values():
        src = f.source
        if src is None:
            continue
        assert "**(1/N)" not in src, f.name
        assert "numpy.log(x) - numpy.log(y)" not in src, f.name
