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
# # Infinite depth: the logarithmic mean, its $O(1/N)$ correction and the volume of $\hat g^\infty$
#
# **Result** (docs/theory.md §3, §6).
#
# $$\lim_{N\to\infty}\frac{a_N(x, y)}{N} = L(x, y) = \frac{x - y}{\log x - \log y} = \int_0^1 x^{1-t} y^t\,dt,
#   \qquad \frac{a_N(x, y)}{N} = L(x, y) - \frac{L(x, y)\log(xy)}{2N} + O(N^{-2}),$$
#
# and the volume density of $\hat g^\infty = \lim N g^N$ is
# $\prod_i s_i^{-1}\prod_{i<j}|\log s_i^2 - \log s_j^2|$ with respect to $ds\,dQ\,dR$.
#
# **Convention:** normalized ($\hat g^N = N g^N$, operator $A_N/N$); the raw metric has no limit.
#
# **Who proves what.** Steps 1–6 are SymPy `limit`, `integrate` and `series` calls on the generic branch of the
# multiplier at real $N$ (never on the `Piecewise` of `Sum.doit`, whose limit SymPy 1.14 gets wrong —
# docs/theory.md §4); step 6 for $d = 2, 3$. The density for any $d$ is a generalization by hand; it and every
# limit are certified numerically (mpmath at 60 digits, $N = 10^3 \dots 10^8$, Richardson extrapolation).

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex

from riemdln.symbolic.derivations.infinite_depth import (
    certify_correction,
    certify_logmean_limit,
    certify_volume_infinite,
    diagonal_and_zero_limits,
    first_order_correction,
    integral_form,
    limit_of_multiplier,
    volume_density_infinite,
    volume_density_infinite_general,
    volume_factor_limits,
)
from riemdln.symbolic.derivations.multiplier import diagonal_sum, geometric_sum, multiplier_at_zero
from riemdln.symbolic.derivations.symbols import N, N_int


def show(expr):
    display(Math(latex(expr)))


def show_check(check):
    display(Math(rf"\text{{worst relative error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, check


# %% [markdown]
# ## Step 0 — the multiplier at real depth
# From the multiplier page: the generic branch of the defining sum, the diagonal and the value at zero,
# with the integer depth replaced by a real $N$ (the closed forms define $a_N$ for every real $N \ge 1$).

# %% tags=["sympy"]
quotient = geometric_sum()[2].subs(N_int, N)
diagonal = diagonal_sum().subs(N_int, N)
at_zero = multiplier_at_zero(geometric_sum()[2]).subs(N_int, N)
show(quotient)

# %% [markdown]
# ## Step 1 — the limit is the logarithmic mean

# %% tags=["sympy", "result-multiplier_infinite"]
show(limit_of_multiplier(quotient))

# %% [markdown]
# ## Step 2 — the integral form of $A_\infty$
# $L(x, y) = \int_0^1 x^{1-t}y^t\,dt$ is what makes $A_\infty(X) Z = \int_0^1 (XX^T)^{1-t} Z (X^TX)^t\,dt$.

# %% tags=["sympy"]
show(integral_form())

# %% [markdown]
# ## Step 3 — the diagonal and a zero singular value
# $L(x, x) = x$ and $L(x, 0) = 0$: at infinite depth, leaving the rank-$r$ stratum costs infinitely much.

# %% tags=["sympy"]
show(diagonal_and_zero_limits(diagonal, at_zero))

# %% [markdown]
# ## Step 4 — the first-order correction
# The series of $a_N/N$ in $h = 1/N$: constant term $L$, coefficient of $h$ below. Normalized flows therefore
# converge to the $A_\infty$ flow at rate $O(1/N)$.

# %% tags=["sympy", "result-multiplier_correction"]
c0, c1, correction = first_order_correction(quotient)
show(correction)

# %% [markdown]
# ## Step 5 — the factors of the volume density
# $N^{d^2/2}\,\mathrm{vol}_{g^N} = \prod_i s_i^{-(N-1)/N}\prod_{i<j} N|s_i^{2/N} - s_j^{2/N}|$ (the volume page);
# each factor has a limit.

# %% tags=["sympy"]
show(volume_factor_limits())

# %% [markdown]
# ## Step 6 — the density for $d = 2$
# Written with $L$ (no cancelling quotient, which is what the numeric twin evaluates), as a product of
# logarithms, and in $\rho = \log s$.

# %% tags=["sympy", "result-volume_density_infinite_d2"]
stable2, product2, rho2 = volume_density_infinite(2)
show(stable2)

# %% tags=["result-volume_density_infinite_rho_d2"]
show(rho2)

# %% [markdown]
# ## Any $d$ — a generalization, certified numerically
# The $d = 2, 3$ products have the same per-value and per-pair factors, so for any $d$ we write the product
# below by hand. SymPy does not prove it; the certificate compares it with the extrapolated limit of the
# finite-$N$ density at $d = 3, 4$.

# %% tags=["generalized", "result-volume_density_infinite"]
general, general_rho = volume_density_infinite_general()
show(general)

# %% [markdown]
# ## Certificates

# %% tags=["certified"]
show_check(certify_logmean_limit())
show_check(certify_correction())

# %% [markdown]
# The same steps for $d = 3$ (SymPy), then the certificates of every density.

# %% tags=["sympy", "result-volume_density_infinite_d3"]
stable3, product3, rho3 = volume_density_infinite(3)
show(stable3)

# %% tags=["certified"]
exprs = {
    "volume_density_infinite_d2": stable2,
    "volume_density_infinite_product_d2": product2,
    "volume_density_infinite_rho_d2": rho2,
    "volume_density_infinite_d3": stable3,
    "volume_density_infinite_product_d3": product3,
    "volume_density_infinite_rho_d3": rho3,
    "volume_density_infinite_general": general,
    "volume_density_infinite_rho_general": general_rho,
}
checks = certify_volume_infinite(exprs)
for check in checks.values():
    show_check(check)
