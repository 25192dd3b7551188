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
# # The metric $g^N$ in the SVD chart, and the Riemannian gradient
#
# **Result** (docs/theory.md §2, §6). $g^N_X(Z_1, Z_2) = \operatorname{tr}(Z_1^T A_N(X)^{-1} Z_2)$ makes
# $\dot X = -A_N(X)\nabla E(X)$ the Riemannian gradient flow of $E$. In the SVD chart
# $X = Q e^{\Omega}\,\mathrm{diag}(s)\,e^{-\Theta}R^T$ with coordinates $(ds, \omega, \theta)$ the metric is
# $J^T A_N^{-1} J$ ($J$ the chart's differential); for $d = 2$ it is block diagonal and its determinant is the
# square of the volume density of the volume page.
#
# **Convention:** raw ($g^N$); the normalized metric is $N g^N$.
#
# **Who proves what.** For $d = 2$ and $d = 3$ SymPy proves the gradient identity, computes the chart metric and
# its determinant. The spectral form for any $d$,
# $g^N(Z_1, Z_2) = \sum_{ij}\tilde Z_{1,ij}\tilde Z_{2,ij}/a_N(s_i^2, s_j^2)$, follows from the spectral form
# of $A_N$ by hand (this page shows $d = 2$; the engine also runs $d = 3$). The certificate computes the Gram
# matrix of the chart's tangents numerically (central differences in mpmath) with $A_N$ assembled from
# fractional matrix powers (at non-integer $N$: the Fréchet derivative of $t^N$ at the $N$-th roots).

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import Abs, latex

from riemdln.symbolic.derivations.jacobian import svd_jacobian
from riemdln.symbolic.derivations.metric import (
    certify_svd_metric,
    chart_volume_check,
    riemannian_gradient_check,
    spectral_metric_forms,
    svd_chart_metric,
)
from riemdln.symbolic.derivations.multiplier import spectral_form
from riemdln.symbolic.derivations.symbols import S_VALUES
from riemdln.symbolic.derivations.volume import volume_density_svd


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 1 — the Riemannian gradient
# $A_N(\mathrm{diag}(s))$ is the diagonal matrix of multipliers (the multiplier page); with
# $\operatorname{grad}E = A_N\nabla E$, $g^N(\operatorname{grad} E, Z) = \langle\nabla E, Z\rangle = dE(Z)$.

# %% tags=["sympy"]
s2 = S_VALUES[:2]
A2 = spectral_form(s2)
show(riemannian_gradient_check(2, A2).T)

# %% [markdown]
# ## Step 2 — the metric in the SVD chart ($d = 2$)

# %% tags=["sympy", "result-metric_svd_d2"]
G_svd = svd_chart_metric(2, A2)
show(G_svd)

# %% [markdown]
# ## Step 3 — its determinant is the squared volume density
# The volume page's density $|J|\det(A_N)^{-1/2}$ with respect to $ds\,dQ\,dR$; the ratio is exactly 1.

# %% tags=["sympy"]
density2, _, _ = volume_density_svd(s2, A2, Abs(svd_jacobian(s2)))
show(chart_volume_check(2, G_svd, density2))

# %% [markdown]
# ## Any $d$ — the spectral form, by hand

# %% tags=["generalized"]
metric_spectral, inverse_metric_spectral = spectral_metric_forms()
show(metric_spectral)

# %% [markdown]
# ## Certificate

# %% tags=["certified"]
check = certify_svd_metric(G_svd)
display(Math(rf"\text{{worst relative error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
assert check.passed, check
