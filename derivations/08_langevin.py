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
# # Riemannian Langevin dynamics: the Itô correction and the Gibbs law
#
# **Result** (docs/theory.md §13, after Menon and Yu). The Langevin equation of $(M_d, g^N)$ in matrix coordinates,
#
# $$dX = \big[-A_N\nabla E + \beta^{-1}c_N(X) + \lambda\beta^{-1}A_N\nabla S_N\big]\,dt
#        + \sqrt{2/\beta}\,A_N(X)^{1/2}\,dB,$$
#
# needs the Itô correction $c_N = \Delta_{g^N}(\mathrm{id})$. With $X = Q\,\mathrm{diag}(s)\,R^T$ it is
#
# $$c_N = Q\,\mathrm{diag}(\kappa(s_k))\,R^T, \qquad \kappa(s) = (N - 1)\,s^{(N-2)/N}
#   \quad (\hat g^\infty:\ \kappa(s) = s),$$
#
# for every $d$: the pair terms of the general formula vanish identically ($N = 1$: $c_1 = 0$; $N = 2$:
# $c_2 = QR^T$, the polar factor). The entropic drift is $A_N\nabla S_N = Q\,\mathrm{diag}(\cdot)\,R^T$ with
# component $i$ a sum over $j \ne i$ of the pair term below, and at $d = 2$ the stationary law
# $e^{-\beta E}e^{\lambda S_N}\,d\mathrm{vol}_{g^N}$ has the log-density $-\beta E + \lambda S_N - \tfrac12\log\det
# A_N$ with respect to $dX$ and $-\beta E + \lambda S_N + \log N$ with respect to the balanced-factor
# coordinates $Y$, $X = Y(Y^TY)^{(N-1)/2}$ (there $\mathrm{vol}_{g^N} = N\,dY$: up to the energy and the entropy
# the law is flat in $Y$, which is what lets plain Euclidean MALA in $Y$ sample it).
#
# **Convention:** raw depth: $g^N$, the operator $A_N$ and the multiplier $a_N$, time $t$ (catalog `raw`); the
# normalized metric $N g^N$ has $A_N/N$ as cometric, so its Itô correction is $\kappa/N$, whose limit is the
# $\hat g^\infty$ value (catalog `normalized`). $\lambda = 1$ is the free-energy case $F = E - \beta^{-1}S_N$,
# $\lambda = 0$ the Brownian motion of $g^N$; $S_N$ is the fibre entropy of the entropy page.
#
# **Who proves what.** SymPy computes the Laplace–Beltrami operator of $g^N$ in the $d = 2$ SVD chart applied to
# the entries of $X$ (Step 1) and of $Y$ (Step 4), proves the identity that makes the pair terms vanish for every
# real $N$ (Step 2), takes the infinite-depth limit (Step 3), differentiates the entropy for the drift (Step 5),
# assembles the $d = 2$ log-density (Step 6) and proves its form in $Y$ (Step 7). The structure for any $d$ (one
# term per singular value, one per pair: the metric coefficients in the left-invariant frame depend on $s$ only)
# is a generalization by hand. The certificates are independent of the chart: $c_N$ against the divergence formula
# $\operatorname{div}A_N + A_N\nabla\log\det A_N^{-1/2}$ by central differences of the full $d^2\times d^2$ matrix of
# $A_N$ (from its defining sum of fractional matrix powers; spectral at non-integer $N$ and $N = \infty$) at $d = 2, 3$;
# the drift against $A_N$ times the finite-difference gradient of $S_N$ at $d = 2, 3$; the densities against
# energy, entropy and $\log\det$ of the full matrix, plus in $Y$ the log-Jacobian of $Y \mapsto X$ by central
# differences; the $Y$ drift against the divergence of the inverse pulled-back metric (all in mpmath).

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex, simplify

from riemdln.symbolic.derivations import derive
from riemdln.symbolic.derivations.langevin import (
    certify_langevin,
    entropy_drift_pair,
    ito_correction_chart,
    ito_correction_factor,
    ito_correction_general,
    ito_correction_infinite,
    log_gibbs_density_x,
    log_gibbs_density_y,
    pair_term_identity,
)


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 1 — the Laplacian of $X$ in the SVD chart ($d = 2$)
# $X = Q(\alpha)\,\mathrm{diag}(s_1, s_2)\,R(\beta)^T$; the metric is $ds_k^2/a_{kk}$ plus, for the rotations,
# $(\tilde Z_{12}^2 + \tilde Z_{21}^2)/a_{12}$. SymPy applies
# $\Delta f = |G|^{-1/2}\partial_a(|G|^{1/2}G^{ab}\partial_b f)$ to the four entries of $X$ at
# $\alpha = \beta = 0$: the result is diagonal, $\mathrm{diag}(\kappa(s_1), \kappa(s_2))$, checked in
# $\mu = s^{1/N}$ where it is rational.

# %% tags=["sympy", "result-ito_correction"]
kappa = ito_correction_chart()
show(kappa)

# %% [markdown]
# ## Any $d$ — the general formula, by hand
# One term per singular value, $\tfrac12\partial_{s_k}a_N(s_k^2, s_k^2)$, which is $\kappa(s_k)$, plus for each
# $j \ne k$ the pair term $P(s_k, s_j)$ with $D_{kj} = \partial_x a_N(x, x_j)|_{x = x_k}$:

# %% tags=["generalized"]
single, pair = ito_correction_general()
show(simplify(single))

# %%
show(pair)

# %% [markdown]
# ## Step 2 — the pair terms vanish
# $P = 0$ is the identity $a(x, x)\,\partial_x a(x, y) = a(x, y)\,(a(x, x) - a(x, y))/(x - y)$, which SymPy proves
# for every real $N$ with $a_N(x, y) = (x - y)/(x^{1/N} - y^{1/N})$. So $c_N = Q\,\mathrm{diag}(\kappa)R^T$ for
# every $d$; the certificate runs $d = 2$ and $d = 3$.

# %% tags=["sympy"]
show(pair_term_identity())

# %% [markdown]
# ## Step 3 — infinite depth
# The normalized metric's correction is $\kappa/N$; as $N \to \infty$:

# %% tags=["sympy", "result-ito_correction_infinite"]
kappa_infinite = ito_correction_infinite(kappa)
show(kappa_infinite)

# %% [markdown]
# ## Step 4 — the Itô drift of the balanced-factor coordinates
# The same chart Laplacian applied to $Y = Q\,\mathrm{diag}(s^{1/N})\,R^T$; diagonal in the SVD frame, component 1
# (at $d = 2$; one pair term, summed over $j \ne k$ for larger $d$):

# %% tags=["sympy", "result-ito_correction_factor"]
kappa_Y = ito_correction_factor()
show(kappa_Y)

# %% [markdown]
# ## Step 5 — the entropic drift
# $S_N = (N-1)\log c_d + \tfrac12\sum_{i<j}\log a_N(s_i^2, s_j^2)$ and $A_N$ acts on the diagonal of the SVD frame
# by $a_{ii}$, so component $i$ of $Q^TA_N\nabla S_N R$ is $\sum_{j \ne i} a_{ii}\,\partial_{s_i}\tfrac12\log
# a_N(s_i^2, s_j^2)$; the term of one pair:

# %% tags=["sympy", "result-entropy_drift"]
drift = entropy_drift_pair()
show(drift)

# %% [markdown]
# ## Step 6 — the Gibbs law in $X$ ($d = 2$)
# $d\mathrm{vol}_{g^N} = \det A_N^{-1/2}\,dX$ and $\det A_N = a_{11}a_{22}a_{12}^2$; the entropy is the $d = 2$
# result of the entropy page (here in $s_1, s_2$).

# %% tags=["sympy", "result-log_gibbs_density"]
entropy_d2 = derive("entropy")["entropy"]["entropy_d2"]
log_gibbs, S2 = log_gibbs_density_x(entropy_d2)
show(log_gibbs)

# %% [markdown]
# ## Step 7 — the Gibbs law in $Y$
# Lebesgue measure in SVD coordinates is $|s_1^2 - s_2^2|\,ds\,dQ\,dR$, so $dX/dY = |s_1^2 - s_2^2|\,N^2
# (\mu_1\mu_2)^{N-1}/|\mu_1^2 - \mu_2^2|$ at $s = \mu^N$; SymPy proves that adding its logarithm leaves:

# %% tags=["sympy", "result-log_gibbs_density_factor"]
log_gibbs_Y = log_gibbs_density_y(log_gibbs, S2)
show(log_gibbs_Y)

# %% [markdown]
# ## Certificate

# %% tags=["certified"]
exprs = {
    "ito_correction": kappa,
    "ito_correction_infinite": kappa_infinite,
    "ito_correction_factor": kappa_Y,
    "entropy_drift": drift,
    "log_gibbs_density": log_gibbs,
    "log_gibbs_density_factor": log_gibbs_Y,
}
for name, check in certify_langevin(exprs).items():
    display(Math(rf"\text{{{name}}}: \text{{worst error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, (name, check)
