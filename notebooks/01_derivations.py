# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. The derivations, step by step
#
# Every formula riemdln uses is *derived* by SymPy from a definition, then *certified* by an
# independent numerical computation (mpmath). This notebook retraces the chain
#
# 1. the defining sum of $A_N$ → the closed form of the multiplier $a_N(x, y)$ → its diagonal;
# 2. the spectral form: $A_N(\mathrm{diag}(s))$ is diagonal in the basis $E_{ij}$;
# 3. the Lebesgue measure in SVD coordinates (the Jacobian) and the volume form
#    $\mathrm{vol}_{g^N} = \det(A_N)^{-1/2}\,dX$;
# 4. the infinite-depth limit $a_N/N \to L$ (the logarithmic mean) and its certificate.
#
# Nothing here re-derives anything by hand: every expression shown is produced by the functions of
# `riemdln.symbolic.derivations` and `riemdln.catalog()` (see docs/theory.md §2, §3, §6).

# %% tags=["parameters"]
DEPTH = 3  # a concrete depth for the numerical spot checks
X_VALUE, Y_VALUE = 4.0, 1.0  # squared singular values (x, y) for the spot checks
S_VALUES = (2.0, 1.0)  # singular values for the volume spot check
CORRECTION_DEPTHS = (10, 100, 1000, 10000)  # depths at which N (a_N/N - L) is measured

# %%
import math  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from IPython.display import Markdown, Math, display  # noqa: E402

import riemdln  # noqa: E402
from riemdln.symbolic import derivations  # noqa: E402
from riemdln.symbolic.derivations import jacobian, multiplier, volume  # noqa: E402
from riemdln.symbolic.derivations import symbols as sy  # noqa: E402
from riemdln.symbolic.functions import generic_branch  # noqa: E402


def show(lhs, expr):
    """Display ``lhs = expr`` (expr: a SymPy expression or a LaTeX string)."""
    body = expr if isinstance(expr, str) else sp.latex(expr)
    display(Math(f"{lhs} = {body}"))


def certificate(name):
    """One line saying how a catalog formula was checked, and how well."""
    check = catalog[name].check
    verdict = "passed" if check.passed else "**FAILED**"
    return f"`{name}`: {check.method}; worst error {check.max_error:.1e} (tolerance {check.tolerance:.0e}), {verdict}"


results = derivations.derive()  # runs the derivations once, then reads them from the on-disk cache
catalog = riemdln.catalog()
order = [n for n in derivations.graph() if n in results]
display(Markdown("Derivations (a DAG, run in dependency order): " + ", ".join(f"`{n}`" for n in order)))
display(Markdown("\n".join(f"- `{a}` → `{b}`" for a, b in derivations.graph().edges)))

# %% [markdown]
# ## Step 1 — the multiplier from the defining sum
#
# For $X = \mathrm{diag}(s)$ the fractional powers in
# $A_N(X)Z = \sum_{k=1}^N (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}$ are diagonal, so $A_N(X)E_{ij}$ is a
# multiple of $E_{ij}$, namely the sum below at $x = s_i^2$, $y = s_j^2$. SymPy sums it (a geometric
# series) and returns a `Piecewise`; its generic branch ($x \neq y$) is the closed form.

# %%
x, y, N = sy.x, sy.y, sy.N_int
defining = multiplier.defining_sum(x, y)
show("a_N(x, y)", defining)
summed = defining.doit()
show(r"\texttt{Sum.doit()}", summed)
generic = generic_branch(summed)
quotient = (x - y) / (x ** (1 / N) - y ** (1 / N))
show(r"\text{generic branch}", generic)
display(Markdown(f"generic branch − $(x-y)/(x^{{1/N}}-y^{{1/N}})$ simplifies to `{sp.simplify(generic - quotient)}`"))
show("a_N(x, y)", results["multiplier"]["quotient"])

# %% [markdown]
# On the diagonal every summand is $x^{(N-1)/N}$, and the closed form is its limit $y \to x$; at a
# zero singular value only the $k = 1$ term survives.

# %%
diagonal = sp.simplify(multiplier.defining_sum(x, x).doit())
show("a_N(x, x)", diagonal)
show("a_N(x, x)", results["multiplier"]["diagonal"])
show("a_N(x, 0)", results["multiplier"]["at_zero"])
for name in ("multiplier", "multiplier_diagonal", "multiplier_zero"):
    show(r"\textsf{catalog}", catalog[name].latex)
display(Markdown(certificate("multiplier")))

# %% [markdown]
# A spot check at the parameters: the defining sum evaluated term by term (SymPy), the closed form, and
# the stable numeric evaluation `riemdln.multiplier` (sinhc form, docs/theory.md §4).

# %%
by_sum = float(multiplier.defining_sum(sp.Float(X_VALUE), sp.Float(Y_VALUE), DEPTH).doit())
by_quotient = float(quotient.subs({x: X_VALUE, y: Y_VALUE, N: DEPTH}))
numeric = float(riemdln.multiplier(X_VALUE, Y_VALUE, depth=DEPTH))
display(
    Markdown(
        f"$a_{{{DEPTH}}}({X_VALUE:g}, {Y_VALUE:g})$: sum {by_sum:.15g}, quotient {by_quotient:.15g}, "
        f"`riemdln.multiplier` {numeric:.15g}"
    )
)
assert math.isclose(by_sum, numeric, rel_tol=1e-12) and math.isclose(by_quotient, numeric, rel_tol=1e-12)

# %% [markdown]
# ## Step 2 — the spectral form of $A_N$
#
# `spectral_operator` applies the defining sum to each basis matrix $E_{ij}$ of $2\times 2$ matrices and
# returns the $4\times 4$ matrix of $A_N(\mathrm{diag}(s_1, s_2))$. It is diagonal, and the derivation
# proves its entries are $a_N(s_i^2, s_j^2)$ (the form cached below). With $X = Q\,\mathrm{diag}(s)R^T$
# the same holds in the rotated basis $QE_{ij}R^T$: $A_N$ is entrywise multiplication in the SVD frame.

# %%
s1, s2 = sy.S_VALUES[:2]
operator = multiplier.spectral_operator((s1, s2))
show(r"A_N(\mathrm{diag}(s_1, s_2))", operator)
show(r"A_N(\mathrm{diag}(s_1, s_2))", results["multiplier"]["spectral_d2"])

# %% [markdown]
# Numerically: `riemdln.apply_A` at a random rotated $X$ multiplies each entry of $Q^T Z R$ by
# $a_N(s_i^2, s_j^2)$.

# %%
rng = np.random.default_rng(0)
Q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
R, _ = np.linalg.qr(rng.standard_normal((2, 2)))
X = Q @ np.diag(S_VALUES) @ R.T
sq = np.square(S_VALUES)
for i in range(2):
    for j in range(2):
        E = np.zeros((2, 2))
        E[i, j] = 1.0
        image = Q.T @ riemdln.apply_A(X, Q @ E @ R.T, depth=DEPTH) @ R
        expected = float(riemdln.multiplier(sq[i], sq[j], depth=DEPTH))
        assert np.allclose(image, expected * E, atol=1e-12), (i, j, image)
display(Markdown(f"`apply_A` at depth {DEPTH} is diagonal in the rotated basis with the entries $a_N(s_i^2, s_j^2)$ ✓"))

# %% [markdown]
# ## Step 3 — the volume form
#
# **The Jacobian.** Near $Q\,\mathrm{diag}(s)R^T$ write $X = Qe^{\Omega}\mathrm{diag}(s)e^{-\Theta}R^T$ with
# $\Omega, \Theta$ skew. At $\Omega = \Theta = 0$ the differential is
# $dX = Q(\mathrm{diag}(ds) + \Omega S - S\Theta)R^T$, and its determinant is the Lebesgue density in the
# coordinates $(s, \Omega, \Theta)$.

# %%
dX, ds, omega, theta = jacobian.svd_differential((s1, s2))
show(r"Q^T dX\, R", dX)
show(r"\det \frac{\partial\, dX}{\partial(ds, \omega, \theta)}\ (d = 2)", jacobian.svd_jacobian((s1, s2)))
show(r"\det \frac{\partial\, dX}{\partial(ds, \omega, \theta)}\ (d = 3)", jacobian.svd_jacobian(sy.S_VALUES))
show(r"\frac{dX}{ds\,dQ\,dR}", results["jacobian"]["jacobian_general"])

# %% [markdown]
# **The density.** The Riemannian volume of $g^N_X(Z_1, Z_2) = \mathrm{tr}(Z_1^TA_N(X)^{-1}Z_2)$ is
# $\det(A_N)^{-1/2}\,dX$. Taking $\det A_N$ from the spectral form and the Jacobian from above:

# %%
det_A = results["multiplier"]["spectral_d2"].det()
show(r"\det A_N", det_A)
density = results["jacobian"]["jacobian_d2"] / sp.sqrt(det_A)
show(r"\frac{|J|}{\sqrt{\det A_N}}", density)
show(r"\frac{d\,\mathrm{vol}_{g^N}}{ds\,dQ\,dR}", results["volume"]["volume_density_d2"])
show(r"\frac{d\,\mathrm{vol}_{g^N}}{ds\,dQ\,dR}", volume.product_formula((s1, s2)))
show(r"\frac{d\,\mathrm{vol}_{g^N}}{d\mu\,dQ\,dR}", results["volume"]["volume_density_mu_d2"])
show(r"\textsf{catalog}", catalog["volume_density"].latex)
display(Markdown(certificate("volume_density_d2")))
display(Markdown(certificate("volume_density")))

# %% [markdown]
# Spot check: the SymPy density at the parameters, its numeric twin in the catalog, and
# `riemdln.volume_density`. docs/theory.md §10 lists the values at $s = (2, 1)$: $3$ at $N = 1$,
# $1/(2\sqrt 2)$ at $N = 2$.

# %%
rows = ["| N | SymPy | catalog twin | `riemdln.volume_density` |", "|---|---|---|---|"]
for depth in (1, 2, DEPTH):
    exact = float(results["volume"]["volume_density_d2"].subs({s1: S_VALUES[0], s2: S_VALUES[1], sy.N: depth}))
    twin = float(catalog["volume_density_d2"].numpy(*S_VALUES, depth))
    api = float(riemdln.volume_density(S_VALUES, depth=depth))
    assert math.isclose(exact, api, rel_tol=1e-12) and math.isclose(twin, api, rel_tol=1e-12)
    rows.append(f"| {depth} | {exact:.15g} | {twin:.15g} | {api:.15g} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Step 4 — infinite depth
#
# $a_N$ grows like $N$, so the limit exists in the normalized convention $\hat g^N = N g^N$
# (operator $A_N/N$). SymPy takes the limit of the **generic branch** of the summed multiplier (its
# `limit` of the `Piecewise` returned by `Sum.doit()` picks the wrong branch in SymPy 1.14 and answers
# $x$), and the answer is certified by mpmath at $N = 10^3 \ldots 10^8$ with Richardson extrapolation.

# %%
limit = sp.limit(results["multiplier"]["quotient"] / sy.N, sy.N, sp.oo)
show(r"\lim_{N\to\infty}\frac{a_N(x, y)}{N}", limit)
show(r"\textsf{catalog}", catalog["multiplier_infinite"].latex)
display(Markdown(certificate("multiplier_infinite")))
show(r"\textsf{catalog}", catalog["multiplier_correction"].latex)
display(Markdown(certificate("multiplier_correction")))

# %% [markdown]
# The first-order correction, measured: $N\,(a_N/N - L)$ at growing $N$ against the derived coefficient
# $-\tfrac12 L(x, y)\log(xy)$.

# %%
L = float(riemdln.multiplier(X_VALUE, Y_VALUE, depth=math.inf, normalized=True))
coefficient = float(catalog["multiplier_correction"].numpy(X_VALUE, Y_VALUE))
rows = ["| N | a_N/N | N (a_N/N − L) |", "|---|---|---|"]
for depth in CORRECTION_DEPTHS:
    normalized = float(riemdln.multiplier(X_VALUE, Y_VALUE, depth=depth, normalized=True))
    rows.append(f"| {depth} | {normalized:.12f} | {depth * (normalized - L):.6f} |")
rows.append(f"| ∞ | {L:.12f} (L) | {coefficient:.6f} (derived) |")
display(Markdown("\n".join(rows)))
last = CORRECTION_DEPTHS[-1]
measured = last * (float(riemdln.multiplier(X_VALUE, Y_VALUE, depth=last, normalized=True)) - L)
assert abs(measured - coefficient) < 10 / last

# %% [markdown]
# The volume density of $\hat g^\infty$ is the limit of the normalized densities
# $N^{d^2/2}\,\mathrm{vol}_{g^N}$: each $s_i^{-(N-1)/N} \to s_i^{-1}$ and each
# $N(s_i^{2/N} - s_j^{2/N}) \to \log s_i^2 - \log s_j^2$.

# %%
show(
    r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{ds\,dQ\,dR}", results["infinite_depth"]["volume_density_infinite_general"]
)
show(
    r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{d\rho\,dQ\,dR}",
    results["infinite_depth"]["volume_density_infinite_rho_general"],
)
display(Markdown(certificate("volume_density_infinite")))
rows = ["| N | normalized density at s |", "|---|---|"]
for depth in (*CORRECTION_DEPTHS, math.inf):
    rows.append(f"| {depth} | {float(riemdln.volume_density(S_VALUES, depth=depth, normalized=True)):.10f} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Every certificate
#
# Each catalog formula carries the independent check its derivation ran.

# %%
rows = ["| formula | convention | method | worst error | passed |", "|---|---|---|---|---|"]
for name, formula in catalog.items():
    c = formula.check
    if c is not None:
        method = c.method.replace("|", r"\|")  # a literal | would split the table cell
        rows.append(f"| `{name}` | {formula.convention} | {method} | {c.max_error:.1e} | {c.passed} |")
display(Markdown("\n".join(rows)))
assert all(f.check is None or f.check.passed for f in catalog.values())
