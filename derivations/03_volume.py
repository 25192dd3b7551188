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
# # Volume forms of $g^N$: $d = 2$, $d = 3$, any $d$, and the rank-$r$ stratum
#
# **Result** (docs/theory.md §6). The Riemannian volume of $g^N$ is $\det(A_N)^{-1/2}\,dX$; in SVD coordinates
#
# $$\mathrm{vol}_{g^N} = N^{-d/2}\prod_i s_i^{-(N-1)/N}\prod_{i<j}\left|s_i^{2/N} - s_j^{2/N}\right|\,ds\,dQ\,dR
#   = N^{d/2}\prod_{i<j}|\mu_i^2 - \mu_j^2|\,d\mu\,dQ\,dR, \qquad \mu_i = s_i^{1/N},$$
#
# and on the rank-$r$ stratum of $m\times n$ matrices
# $N^{-r/2}\prod_{i<j\le r}|s_i^{2/N} - s_j^{2/N}|\prod_{i\le r} s_i^{(m+n-2r-N+1)/N}\,ds\,dU\,dV$.
#
# **Convention:** raw ($g^N$); the normalized metric $N g^N$ multiplies the density by $N^{d^2/2}$.
#
# **Who proves what.** For $d = 2$ and $d = 3$ SymPy computes the SVD Jacobian, $\det A_N$ from the operator
# matrix of the multiplier page, their quotient, and proves it equal to the product formula and to its forms in
# $\mu$ and $\rho = \log s$. The product for any $d$ and the rank-$r$ stratum are generalizations by hand (the
# $d = 2, 3$ results factor over singular values and pairs; the stratum adds one length factor per extra
# direction, which SymPy computes); they are certified numerically against $|J|\det(A_N)^{-1/2}$ with $A_N$
# assembled from fractional matrix powers (mpmath; at non-integer $N$ the Fréchet derivative of $t^N$ at the $N$-th
# roots) and against Gram determinants of the stratum's tangents.

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import Abs, latex

from riemdln.symbolic.derivations.jacobian import svd_jacobian
from riemdln.symbolic.derivations.multiplier import spectral_form
from riemdln.symbolic.derivations.symbols import S_VALUES
from riemdln.symbolic.derivations.volume import (
    certify_volume,
    general_agrees_with,
    rank_r_extra_length,
    rank_r_stratum,
    volume_density_general_forms,
    volume_density_svd,
    volume_in_mu,
    volume_in_rho,
)


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 0 — Lebesgue measure in SVD coordinates
# $dX = d\,\mathrm{diag}(s) + \Omega S - S\Theta$ with $\Omega, \Theta$ skew: the determinant of
# $(ds, \omega, \theta) \mapsto dX$ is $\pm\prod_{i<j}(s_i^2 - s_j^2)$.

# %% tags=["sympy"]
s2 = S_VALUES[:2]
jacobian2 = Abs(svd_jacobian(s2))
show(jacobian2)

# %% [markdown]
# ## Step 1 — $|J|\det(A_N)^{-1/2}$ is the product formula ($d = 2$)
# $\det A_N = \prod_{i,j} a_N(s_i^2, s_j^2)$ from the spectral form; SymPy proves the quotient equal to the
# product (comparing squares with $a_N$ rewritten as its quotient).

# %% tags=["sympy", "result-volume_density_d2"]
density2, product2, lebesgue2 = volume_density_svd(s2, spectral_form(s2), jacobian2)
show(product2)

# %% tags=["result-volume_density_lebesgue_d2"]
show(lebesgue2)

# %% [markdown]
# ## Steps 2 and 3 — in $\mu = s^{1/N}$ and in $\rho = \log s$
# In $\mu$ (the singular values of one balanced factor) the density is a Vandermonde-type product: the
# density of $g^N$ grows without bound towards lower rank for $N \ge 2$ only through $\prod s_i^{-(N-1)/N}$.

# %% tags=["sympy", "result-volume_density_mu_d2"]
mu2 = volume_in_mu(s2, product2)
show(mu2)

# %% tags=["sympy", "result-volume_density_rho_d2"]
rho2 = volume_in_rho(s2, product2)
show(rho2)

# %% [markdown]
# ## $d = 3$
# The same computation with a $9\times 9$ operator matrix.

# %% tags=["sympy", "result-volume_density_d3"]
s3 = S_VALUES[:3]
density3, product3, lebesgue3 = volume_density_svd(s3, spectral_form(s3), Abs(svd_jacobian(s3)))
show(product3)

# %% tags=["sympy"]
mu3, rho3 = volume_in_mu(s3, product3), volume_in_rho(s3, product3)
show(mu3)

# %% [markdown]
# ## Any $d$ — a generalization, certified numerically
# Both products factor into one term per singular value and one per pair; we write that product for any $d$
# by hand. SymPy checks (step 5) that it reduces to the $d = 2, 3$ results; the certificate checks $d = 4$.

# %% tags=["generalized", "result-volume_density"]
general, general_mu, general_rho = volume_density_general_forms()
show(general)

# %% tags=["sympy"]
show(general_agrees_with(2, general, density2))
show(general_agrees_with(3, general, density3))

# %% [markdown]
# ## The rank-$r$ stratum
# Besides the rank-$r$ SVD coordinates, each singular value has $(m - r) + (n - r)$ directions $s_i E_{r+a,i}$
# leaving the stratum's SVD frame; their $g^N$-length is computed by SymPy (step 4). Multiplying the factors
# is the generalization, certified by Gram determinants of the stratum's tangents for several $(m, n, r)$.

# %% tags=["sympy"]
extra_length = rank_r_extra_length()
show(extra_length)

# %% tags=["generalized", "result-volume_density_rank_r"]
stratum = rank_r_stratum()
show(stratum)

# %% [markdown]
# ## Certificates

# %% tags=["certified"]
exprs = {
    "volume_density_d2": density2,
    "volume_density_product_d2": product2,
    "volume_density_lebesgue_d2": lebesgue2,
    "volume_density_mu_d2": mu2,
    "volume_density_rho_d2": rho2,
    "volume_density_d3": density3,
    "volume_density_product_d3": product3,
    "volume_density_lebesgue_d3": lebesgue3,
    "volume_density_mu_d3": mu3,
    "volume_density_rho_d3": rho3,
    "volume_density_general": general,
    "volume_density_mu_general": general_mu,
    "volume_density_rho_general": general_rho,
    "volume_density_rank_r": stratum,
    "rank_r_extra_length": extra_length,
}
for name, check in certify_volume(exprs).items():
    display(Math(rf"\text{{{name}}}: \text{{worst relative error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, (name, check)
