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
# # 7. Langevin dynamics, Gibbs measures and the free energy
#
# Stochastic gradient descent of the DLN, read thermodynamically (docs/theory.md §13): the Riemannian Langevin
# equation of $(M_d, g^N)$ at inverse temperature $\beta$,
# $dX = [-A_N\nabla E + \beta^{-1}c_N + \lambda\beta^{-1}A_N\nabla S_N]dt + \sqrt{2/\beta}A_N^{1/2}dB$,
# whose stationary law is $e^{-\beta E + \lambda S_N}\mathrm{vol}_{g^N}$ ($\lambda = 1$: the free energy
# $F = E - \beta^{-1}S_N$). The Itô correction $c_N = (N-1)\,Q\,\mathrm{diag}(s^{(N-2)/N})R^T$ is derived by
# SymPy at $d = 2$; for any $d$ it follows from the general formula (written by hand), whose pair terms SymPy
# proves vanish, and it is certified against finite differences of the divergence formula at $d = 2, 3$.
# Here: quadrature, the exact sampler and the dynamics agree; dropping $c_N$ does not.

# %% tags=["parameters"]
DEPTH = 3
BETA = 4.0
N_SAMPLES = 3000  # exact (MALA) draws; raise to 20000 for a full run
N_CHAINS = 40  # Langevin chains; raise to 200
T_FINAL = 4.0  # Langevin time; raise to 30
DT = 0.01
SEED = 0

# %%
import numpy as np  # noqa: E402

import riemdln  # noqa: E402

M = np.array([[1.0, 0.3], [0.0, 0.5]])
E = riemdln.QuadraticEnergy(M)
cat = riemdln.catalog()
print(cat["ito_correction"].latex)
print(cat["ito_correction"].check.method)


def observables(X):
    D = X - M
    return np.stack([X[..., 1, 1], (np.linalg.det(X) < 0).astype(float), 0.5 * np.sum(D * D, axis=(-2, -1))], -1)


# %% [markdown]
# The oracle (deterministic quadrature in $(\mu_1, \mu_2, \theta, \varphi)$, both signs of det), the exact sampler
# (MALA in balanced factors) and Langevin dynamics started at exact draws, with and without the free-energy term.

# %%
rows = []
for free in (False, True):
    q = riemdln.gibbs_expectation(E, observables, DEPTH, BETA, free_energy=free, tol=1e-4)
    g = riemdln.gibbs_sample(E, DEPTH, BETA, N_SAMPLES, free_energy=free, seed=SEED)
    X0 = g.samples[np.linspace(0, N_SAMPLES - 1, N_CHAINS).astype(int)]
    r = riemdln.langevin(E, X0, DEPTH, BETA, T_FINAL, DT, free_energy=free, n_chains=N_CHAINS, seed=SEED)
    lang = observables(r.X[1:]).mean(axis=(0, 1))
    rows.append((free, q.value, observables(g.samples).mean(axis=0), lang))
    print(
        f"free_energy={free}: quadrature {np.round(q.value, 3)}, MALA {np.round(rows[-1][2], 3)}, "
        f"Langevin {np.round(lang, 3)}  (E[X22], P(det<0), E[E])"
    )

# %% [markdown]
# The free energy along a run: entropy $S_N$, energy and $F = E - \beta^{-1}S_N$ are diagnostics of every run.

# %%
plt = riemdln.studies.pyplot()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(r.t, r["loss"].mean(axis=1), label="E")
ax.plot(r.t, r["free_energy"].mean(axis=1), label="F = E − S/β")
ax.set_xlabel("t")
ax.legend()
plt.show()

# %% [markdown]
# ## Does entropy push towards rank one? (study `free_energy`)
#
# On menon-2x2 ($E = \tfrac12[(X_{11} - 1)^2 + (X_{22} - 1)^2]$) the Gibbs law is not a probability law: $E$ is
# flat along the zero-loss plane, where $\mathrm{vol}_{g^N}$ decays too slowly (`gibbs_expectation` says so at
# N = 2). The study `free_energy` therefore adds a weak ridge $\tfrac\alpha2\|X\|_F^2$ and compares $\lambda = 1$
# (entropy) with $\lambda = 0$ by quadrature, the independent truth; `riemdln reproduce --studies free_energy`
# runs all of it (depths, temperatures, the sampler, the β → ∞ limit).

# %%
from riemdln.studies import free_energy as fe_study  # noqa: E402

ridge = fe_study.RidgeEnergy(0.05)
for free in (False, True):
    q = riemdln.gibbs_expectation(ridge, fe_study.ratio, DEPTH, BETA, free_energy=free, tol=3e-3)
    print(f"λ = {int(free)}: mean σ_min/σ_max = {float(q.value):.4f} (refinement error {float(q.error):.1e})")
