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
# # 3. The infinite-depth limit
#
# The multiplier $a_N$ grows like $N$, so depth has a limit only in the **normalized** convention
# $\hat g^N = N g^N$: operator $A_N/N$, flow $dX/d\tau = -(A_N/N)\nabla E$ with $\tau = Nt$ (docs/theory.md §3).
# There
#
# $$\frac{a_N(x, y)}{N} \to L(x, y) = \frac{x - y}{\log x - \log y}, \qquad
# A_\infty(X)Z = \int_0^1 (XX^T)^{1-t}Z(X^TX)^t\,dt,$$
#
# at first order: $a_N/N = L\,(1 - \log(xy)/(2N)) + O(N^{-2})$. This notebook measures that rate for the
# multiplier, for the operator, and for whole trajectories of the flow.

# %% tags=["parameters"]
DIM = 3  # size of the random matrix at which the operators are compared
DEPTHS = (2, 4, 8, 16, 32, 64, 128)  # depths for the operator comparison
FLOW_DEPTHS = (2, 4, 8, 16, 32)  # depths for the flow comparison
SHAPE = (4, 4)  # completion problem for the flows
RANK = 1
N_OBSERVED = 10
SCALE = 0.3  # size of the initial matrix
T_FINAL = 5.0  # normalized time tau
RTOL, ATOL = 1e-10, 1e-12  # tight: the depth error must dominate the integration error
SEED = 0

# %%
import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

import riemdln  # noqa: E402

catalog = riemdln.catalog()
rng = np.random.default_rng(SEED)


def fitted_slope(depths, values):
    """Least-squares slope of log(values) against log(depths)."""
    return float(np.polyfit(np.log(depths), np.log(values), 1)[0])


# %% [markdown]
# ## The multiplier
#
# $a_N(x, 1)/N$ against $x$: the curves close in on the logarithmic mean.

# %%
xs = np.logspace(-3, 3, 200)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
L_curve = riemdln.multiplier(xs, 1.0, depth=math.inf, normalized=True)
for depth in DEPTHS[::2]:
    curve = riemdln.multiplier(xs, 1.0, depth=depth, normalized=True)
    axes[0].loglog(xs, curve, label=f"N = {depth}")
    axes[1].loglog(xs, np.abs(curve - L_curve) * depth, label=f"N = {depth}")
axes[0].loglog(xs, L_curve, "k--", label="L (N = ∞)")
correction = np.abs(catalog["multiplier_correction"].numpy(xs, 1.0))
axes[1].loglog(xs, correction, "k--", label=r"derived $|\frac{1}{2}L \log(xy)|$")
axes[0].set(xlabel="x", ylabel="a_N(x, 1)/N", title="normalized multiplier")
axes[1].set(xlabel="x", ylabel="N |a_N/N - L|", title="the 1/N error, rescaled by N")
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The operator $A_N/N \to A_\infty$
#
# At a random $X$ the operator $A_N(X)/N$ on $d\times d$ matrices is assembled as a $d^2\times d^2$ matrix by
# applying `riemdln.apply_A` to each basis matrix $E_{ij}$; its distance to $A_\infty(X)$ is the
# operator norm (Frobenius inner product). The spectral form predicts the leading term: the difference is
# diagonal in the SVD frame with entries $c_1(s_i^2, s_j^2)/N$, $c_1 = -\tfrac12 L\log(xy)$, so
# $N\,\|A_N/N - A_\infty\| \to \max_{ij}|c_1(s_i^2, s_j^2)|$.

# %%
X = rng.standard_normal((DIM, DIM))
basis = np.eye(DIM * DIM).reshape(DIM * DIM, DIM, DIM)


def operator_matrix(depth):
    """The d^2 x d^2 matrix of the normalized operator A_N(X)/N (columns: images of the E_ij)."""
    images = [riemdln.apply_A(X, E, depth=depth, normalized=True) for E in basis]
    return np.stack([image.ravel() for image in images], axis=1)


A_inf = operator_matrix(math.inf)
distances = np.array([np.linalg.norm(operator_matrix(depth) - A_inf, ord=2) for depth in DEPTHS])
sq = np.linalg.svd(X, compute_uv=False) ** 2
predicted = np.abs(catalog["multiplier_correction"].numpy(sq[:, None], sq[None, :])).max()
slope = fitted_slope(DEPTHS, distances)
rows = ["| N | ‖A_N/N − A_∞‖ | N ‖A_N/N − A_∞‖ |", "|---|---|---|"]
rows += [f"| {n} | {dist:.3e} | {n * dist:.5f} |" for n, dist in zip(DEPTHS, distances, strict=True)]
rows.append(f"| derived | | {predicted:.5f} |")
display(Markdown("\n".join(rows) + f"\n\nfitted log-log slope: **{slope:.3f}** (first order: −1)"))
assert abs(slope + 1) < 0.1
assert abs(DEPTHS[-1] * distances[-1] - predicted) < 0.05 * predicted

# %% [markdown]
# ## Normalized flows converge to the $A_\infty$ flow
#
# The same problem, the same start, integrated with `riemdln.end_to_end_flow(..., normalized=True)` at
# growing $N$ and at `depth=math.inf`. The distance between the matrices at the final time falls like $1/N$.

# %%
problem = riemdln.CompletionProblem.random(*SHAPE, rank=RANK, n_observed=N_OBSERVED, seed=SEED)
X0 = SCALE * rng.standard_normal(SHAPE)
t_eval = np.linspace(0.0, T_FINAL, 51)
opts = dict(t_final=T_FINAL, normalized=True, t_eval=t_eval, rtol=RTOL, atol=ATOL)
limit_run = riemdln.end_to_end_flow(problem, X0, depth=math.inf, **opts)
runs = {depth: riemdln.end_to_end_flow(problem, X0, depth=depth, **opts) for depth in FLOW_DEPTHS}
assert limit_run.success and all(run.success for run in runs.values())
gaps = {depth: np.linalg.norm(run.X - limit_run.X, axis=(-2, -1)) for depth, run in runs.items()}
final = np.array([gaps[depth][-1] for depth in FLOW_DEPTHS])
flow_slope = fitted_slope(FLOW_DEPTHS, final)

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for depth, run in runs.items():
    (line,) = axes[0].semilogy(run.t, run["loss"], label=f"N = {depth}")
    axes[1].semilogy(run.t[1:], gaps[depth][1:], color=line.get_color(), label=f"N = {depth}")
axes[0].semilogy(limit_run.t, limit_run["loss"], "k--", label="N = ∞")
axes[0].set(xlabel="τ = N t", ylabel="loss", title="normalized flows")
axes[1].set(xlabel="τ", ylabel=r"$\|X_N(\tau) - X_\infty(\tau)\|_F$", title="distance to the N = ∞ flow")
axes[2].loglog(FLOW_DEPTHS, final, "o-", label=f"measured (slope {flow_slope:.2f})")
axes[2].loglog(FLOW_DEPTHS, final[0] * FLOW_DEPTHS[0] / np.array(FLOW_DEPTHS), "k:", label="1/N")
axes[2].set(xlabel="N", ylabel="distance at τ = T", title="rate")
axes[2].set_xticks(FLOW_DEPTHS, labels=[str(n) for n in FLOW_DEPTHS], minor=False)
axes[2].xaxis.set_minor_formatter(plt.NullFormatter())
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
display(Markdown(f"fitted log-log slope of the final distance: **{flow_slope:.3f}** (first order: −1)"))
assert abs(flow_slope + 1) < 0.2

# %% [markdown]
# In the raw convention there is no limit: time would have to be rescaled by $N$ — which is exactly what
# the normalized convention does (a learning rate scaled by $1/N$).
