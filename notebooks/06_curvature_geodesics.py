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
# # 6. Curvature and geodesics
#
# The metric $g^N$ at $d = 2$ is a doubly warped product over the flat half-plane $N(d\mu_1^2 + d\mu_2^2)$,
# $\mu = s^{1/N}$ (docs/theory.md §11). Its scalar curvature — computed by SymPy at $N = 1, 2, 3, 4$ and for
# symbolic $N$ in $\mu$, generalized by hand to real $N$, and certified against the curvature of the $4\times4$
# metric matrix $A_N(X)^{-1}$ by finite differences (non-integer $N$ included) — is
#
# $$R(g^N) = \frac{\cosh(\eta/N)}{N(s_1s_2)^{1/N}}\Bigl[\frac{1}{\sinh^2(\eta/N)} - \frac{N^2}{\sinh^2\eta}\Bigr],
# \qquad R(\hat g^\infty) = \frac{1}{\eta^2} - \frac{1}{\sinh^2\eta}, \qquad \eta = \log(s_1/s_2).$$
#
# Geodesics are integrated in the Hamiltonian form (the cometric is $A_N$; docs/theory.md §12).

# %% tags=["parameters"]
DEPTHS = [2.0, 3.0, 8.0]  # finite depths compared with N = inf (normalized convention)

# %%
import math  # noqa: E402

import numpy as np  # noqa: E402

import riemdln  # noqa: E402

print(riemdln.catalog()["scalar_curvature_d2"].latex[:200])

# %% [markdown]
# ## Scalar curvature over the chamber, normalized convention $R(N g^N)$

# %%
ratios = np.geomspace(1e-3, 1.0, 50)
X = np.zeros((ratios.size, 2, 2))
X[:, 0, 0], X[:, 1, 1] = 1.0, ratios
for N in DEPTHS:
    R = riemdln.scalar_curvature(X, N, normalized=True)
    print(
        f"N = {N:g}: min {R.min():.4f}, at s1 = s2 {R[-1]:.4f} "
        f"(theory (N^2 - 1)/(3N^2) = {(N * N - 1) / (3 * N * N):.4f})"
    )
Rinf = riemdln.scalar_curvature(X, math.inf, normalized=True)
print(f"N = inf: max {Rinf.max():.6f} (theory 1/3)")

# %% [markdown]
# ## Geodesics: Chen's closed form and a generic pair

# %%
X0, X1 = np.diag([2.0, 0.5]), np.diag([1.0, 1.5])
res = riemdln.geodesic_between(X0, X1, 3)  # shared singular vectors: Chen's closed form
shot = riemdln.geodesic_between(X0, X1, 3, closed_form=False)  # the same pair by shooting
print(
    res.method,
    res.length,
    "| shooting",
    shot.length,
    "| sqrt(N) |mu1 - mu0|",
    math.sqrt(3) * np.linalg.norm(np.array([1.0, 1.5]) ** (1 / 3) - np.array([2.0, 0.5]) ** (1 / 3)),
)
Y1 = np.array([[1.1, 0.4], [-0.3, 0.8]])
res = riemdln.geodesic_between(X0, Y1, 3)
print(res.message, "| length", res.length, "| straight segment", res.upper_bound)
V = riemdln.log_map(X0, Y1, 3)
print("exp(log) error:", np.abs(riemdln.exp_map(X0, V, 3) - Y1).max())

# %% [markdown]
# ## Gradient flow against the geodesic between its endpoints (the `geodesics` study's helper)
#
# menon-2x2 from a small start (1e-2 times a random unit direction with det > 0), normalized flow until the
# loss is below 1e-10; the ratio flow length / distance is 1 iff the flow path is a geodesic (it is at N = 1).

# %%
from riemdln.studies._flow_geodesic import compare  # noqa: E402

for depth in ("1", "2", "inf"):
    r = compare(seed=0, depth=depth, scale=1e-2, target_loss=1e-10)
    print(f"N = {depth}: {r['geodesic_status']}, length / distance {r['ratio']:.6f}, largest gap {r['max_gap']:.3g}")
