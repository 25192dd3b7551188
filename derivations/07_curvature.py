# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Curvature of $g^N$ and $\hat g^\infty$ at $d = 2$
#
# **Result** (docs/theory.md §11; Chen's geodesics §8 and §12). On $2\times 2$ matrices with singular values
# $s_1 > s_2 > 0$, $\eta = \log(s_1/s_2)$ and $c(z) = 1/z^2 - 1/\sinh^2 z$ (`csch2gap`, smooth through $z = 0$
# where it is $1/3$), the scalar curvature of $g^N$ is
#
# $$R(g^N) = \frac{\cosh(\eta/N)}{N (s_1 s_2)^{1/N}}\,\big[N^2 c(\eta) - c(\eta/N)\big], \qquad
#   R(\hat g^\infty) = c(\rho_1 - \rho_2), \qquad
#   R(N g^N) = R(\hat g^\infty) - \frac{(\rho_1 + \rho_2)\,R(\hat g^\infty)}{N} + O(N^{-2}),$$
#
# with $\rho = \log s$: $N = 1$ is flat, $N = 2$ gives $1/(s_1 + s_2)$, the value at $s_1 = s_2 = s$ is
# $(N^2 - 1)/(3N)\,s^{-2/N}$ and at the rank-one boundary $s_2 \to 0$ it stays finite, $2/(N s_1^{2/N})$. In
# $\mu = s^{1/N}$ the metric is a doubly warped product over a flat half-plane, so (Chen) between matrices with the
# same singular vectors the curve straight in $\mu$ is a geodesic of length
# $\sqrt N\,\lVert s^{1/N} - \sigma^{1/N}\rVert_2$.
#
# **Convention:** raw depth: $g^N$ with the multiplier $a_N$ (catalog convention `raw`); the normalized metric is
# $N g^N$, whose curvature is $R(g^N)/N$, and its limit $\hat g^\infty$ (multiplier $L$, catalog `normalized`) is
# written in $\rho = \log s$. The chart is $X = R(\theta)\,\mathrm{diag}(s_1, s_2)\,R(\phi)^T$ ($\det X > 0$), with
# $\alpha = \theta - \phi$ and $\gamma = \theta + \phi$.
#
# **Who proves what.** SymPy computes the chart metric (Step 1), the warped product in $\mu$ (Step 2), the
# Christoffel symbols (Step 3), the curvature of a generic diagonal metric (Step 4) and, for integer
# $N = 1, \dots, 4$, proves the curvature equal to the closed form by `cancel` in $\mu$, where everything is
# rational (Step 5); it substitutes symbolic $N$ (Step 6) and the metric of $\hat g^\infty$ (Step 8) into the
# generic curvature, takes the coincident limit (Step 7) and the series in $1/N$ (Step 9). The closed form for
# **real** $N$ is a generalization from those integers, and so is the rank-one limit for real $N$; $R(\hat g^\infty)$
# is the limit of that closed form; Chen's length follows by hand from the flat base. They are certified
# numerically: the closed form against Step 6 at $N = 1.5, 2.5, 7.5, 12$, $R(\hat g^\infty)$ against Step 8, and
# every curvature against an independent computation that never uses the chart, the scalar curvature of the
# $4\times 4$ metric matrix $A_N(X)^{-1}$ in the entries of $X$ (Christoffel symbols and Ricci tensor from central
# finite differences at 60 digits), at random $X$ of both signs of $\det X$, for $N = 1, 2, 3, 7.5$ and for
# $\hat g^\infty$ ($A_\infty$ from the logarithmic mean). The warped metric and its Christoffel symbols are
# certified against the pull-back of $A_N(X)^{-1}$ by the chart, Chen's length by quadrature of the metric speed.

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex, log

from riemdln.symbolic.derivations.curvature import (
    aligned_geodesic_length,
    certify_curvature,
    chart_metric,
    christoffel_symbols,
    closed_form,
    coincident_limit,
    generic_curvature,
    infinite_depth_curvature,
    infinite_depth_series,
    rank_one_limit,
    scalar_curvature_integer,
    scalar_curvature_symbolic,
    warped_product,
)
from riemdln.symbolic.derivations.symbols import s1, s2
from riemdln.symbolic.functions import csch2gap


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 1 — the metric in the chart
# SymPy differentiates the chart, rotates each tangent into the SVD frame,
# $\tilde Z = R(\theta)^T\,dX\,R(\phi)$, and applies $g^N(Z, Z) = \sum_{pq}\tilde Z_{pq}^2/a_N(s_p^2, s_q^2)$. In
# $(s_1, s_2, \alpha, \gamma)$ the metric is diagonal: $ds_1^2/a_{11} + ds_2^2/a_{22} + F_1\,d\alpha^2 +
# F_2\,d\gamma^2$ with $F_{1,2} = (s_1 \pm s_2)^2/(2a_{12})$. The angles are cyclic (the left and right rotations
# are isometries).

# %% tags=["sympy", "result-metric_warped_d2"]
chart = chart_metric()
show(chart)

# %% [markdown]
# ## Step 2 — a warped product over a flat half-plane
# $a_N(s^2, s^2) = N s^{2 - 2/N}$, so in $\mu_i = s_i^{1/N}$ the base part is $N(d\mu_1^2 + d\mu_2^2)$.

# %% tags=["sympy", "result-metric_warped_d2"]
warped = warped_product(chart)
show(warped)

# %% [markdown]
# ## Step 3 — the Christoffel symbols
# Of the diagonal metric in $(\mu_1, \mu_2, \alpha, \gamma)$; the catalog holds them as a $4\times 16$ matrix
# (row $k$, column $4a + b$). Since the coefficients depend on $\mu$ only, the nonzero ones are
# $\Gamma^{\mu_i}_{\alpha\alpha}, \Gamma^{\mu_i}_{\gamma\gamma}$ and $\Gamma^{\alpha}_{\mu_i\alpha},
# \Gamma^{\gamma}_{\mu_i\gamma}$ (and their mirror images); the base block vanishes (flat base).

# %% tags=["sympy", "result-christoffel_d2"]
christoffel = christoffel_symbols(warped)
show(christoffel)

# %% [markdown]
# ## Step 4 — the curvature of a generic diagonal metric
# $c\,(du_1^2 + du_2^2) + f_1(u)\,d\alpha^2 + f_2(u)\,d\gamma^2$ with undetermined $f_1, f_2$: derived once, then
# Steps 5, 6 and 8 substitute into it.

# %% tags=["sympy"]
R_generic = generic_curvature()
show(R_generic)

# %% [markdown]
# ## The closed form — a generalization from integer $N$
# The sinh form (what the catalog and the numeric twin evaluate) and the quotient form in the multipliers
# $a_{pq} = a_N(s_p^2, s_q^2)$, $x_p = s_p^2$. They agree for every real $N$ (certified below to 40 digits).

# %% tags=["generalized", "result-scalar_curvature_d2"]
closed, quotient = closed_form()
show(closed)

# %% tags=["result-scalar_curvature_d2"]
show(quotient)

# %% [markdown]
# ## Step 5 — integer $N$: `cancel` in $\mu$ proves it
# For integer $N$ the warped coefficients are rational in $\mu$ and `cancel` proves the generic curvature equal to
# the quotient form for $N = 1, 2, 3, 4$ (no `simplify` on fractional powers of $s$, which does not finish:
# docs/theory.md §11). The step also checks $R = 1/(\mu_1^2 + \mu_2^2) = 1/(s_1 + s_2)$ at $N = 2$ and the
# rank-one limit $\mu_2 \to 0$. Shown: $N = 1$ (flat), $N = 2$, $N = 3$.

# %% tags=["sympy"]
R_mu = {depth: scalar_curvature_integer(R_generic, depth) for depth in (1, 2, 3, 4)}
for depth in (1, 2, 3):
    show(R_mu[depth])

# %% [markdown]
# ## Step 6 — symbolic $N$, for the certificate
# The warped coefficients with symbolic $N$ substituted into Step 4, derivatives done and not simplified: the
# certificate evaluates this expression at real $N$ against the closed form. (Its size is printed, not the
# expression.)

# %% tags=["sympy"]
R_symbolic_mu = scalar_curvature_symbolic(R_generic, warped)
display(Math(rf"\text{{{R_symbolic_mu.count_ops()} operations}}"))

# %% [markdown]
# ## Step 7 and the rank-one limit — the boundary of the chart
# At $s_1 = s_2$ the chart is singular but the curvature is not: `csch2gap(0) = 1/3`. At $s_2 \to 0$ the limit is
# finite; Step 5 proves it for integer $N$, for real $N$ it is a generalization certified by the quotient form at
# $s_2 = 10^{-120}$.

# %% tags=["sympy", "result-scalar_curvature_coincident_d2"]
coincident = coincident_limit(closed)
show(coincident)

# %% tags=["generalized", "result-scalar_curvature_rank_one_d2"]
rank_one = rank_one_limit()
show(rank_one)

# %% [markdown]
# ## Steps 8 and 9 — infinite depth
# $\hat g^\infty$ in $\rho = \log s$ is $d\rho_1^2 + d\rho_2^2 + F^\infty_1\,d\alpha^2 + F^\infty_2\,d\gamma^2$ with
# $L$ in place of $a_N/N$; substituted into Step 4 (Step 8, evaluated by the certificate). Independently, the
# series of $R(N g^N) = R(g^N)/N$ in $h = 1/N$ at $s = e^\rho$ (Step 9) has the limit $c(\rho_1 - \rho_2)$ and the
# $1/N$ coefficient below. $R(\hat g^\infty)$ depends on the condition number only and lies in $(0, 1/3]$.

# %% tags=["sympy", "result-scalar_curvature_infinite_d2"]
R_inf_generic = infinite_depth_curvature(R_generic)
R_inf, correction, normalized = infinite_depth_series(closed)
show(R_inf)

# %% tags=["result-scalar_curvature_correction_d2"]
show(correction)

# %% [markdown]
# ## Chen's geodesics — a generalization from the flat base
# Between matrices with the same singular vectors, singular values $\sigma$ and $s$, the curve straight in
# $\mu = s^{1/N}$ (each balanced factor moves on a straight line) is a geodesic; its length in the flat base
# $N\,d\mu^2$:

# %% tags=["generalized", "result-geodesic_length_aligned"]
length = aligned_geodesic_length()
show(length)

# %% [markdown]
# ## Certificate

# %% tags=["certified"]
exprs = {
    "metric_warped_d2": warped,
    "christoffel_d2": christoffel,
    "scalar_curvature_d2": closed,
    "scalar_curvature_quotient_d2": quotient,
    "scalar_curvature_rank_one_d2": rank_one,
    "scalar_curvature_coincident_d2": coincident,
    "scalar_curvature_infinite_d2": R_inf,
    "scalar_curvature_infinite_s_d2": csch2gap(log(s1) - log(s2)),
    "scalar_curvature_correction_d2": correction,
    "scalar_curvature_normalized_d2": normalized,
    "geodesic_length_aligned": length,
}
for name, check in certify_curvature(exprs, R_symbolic_mu, R_inf_generic).items():
    display(Math(rf"\text{{{name}}}: \text{{worst error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, (name, check)
