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
# # 2. Upstairs and downstairs
#
# A depth-$N$ linear network is trained by gradient flow on its factors $W_1, \ldots, W_N$ ("upstairs",
# $\dot W_p = -\partial L/\partial W_p$). Its end-to-end matrix $X = W_N\cdots W_1$ then moves by
# $\dot X = -A_N(X)\nabla E(X)$ ("downstairs", docs/theory.md §2) — **provided the factors start balanced**,
# $W_{p+1}^TW_{p+1} = W_pW_p^T$; the flow keeps them balanced. Downstairs is the Riemannian gradient flow of
# $E$ in the metric $g^N$.
#
# This notebook integrates both, from the same balanced start, with `riemdln.factor_flow` and
# `riemdln.end_to_end_flow`, and compares them; then it breaks balancedness and watches the agreement go;
# finally it checks that plain gradient descent on the factors (`riemdln.factor_descent`) approaches the
# flow as the learning rate shrinks.

# %% tags=["parameters"]
SHAPE = (5, 5)  # the matrix to complete
RANK = 1  # rank of the ground truth
N_OBSERVED = 15  # number of observed entries
SCALE = 0.1  # size of the random initial end-to-end matrix
DEPTHS = (1, 2, 3, 4)  # network depths compared
T_FINAL = 5.0  # raw time horizon
N_TIMES = 26  # saved times
LEARNING_RATES = (0.02, 0.01, 0.005)  # gradient descent at depth DEPTHS[-1]
SEED = 0

# %%
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

import riemdln  # noqa: E402

problem = riemdln.CompletionProblem.random(*SHAPE, rank=RANK, n_observed=N_OBSERVED, seed=SEED)
rng = np.random.default_rng(SEED)
X0 = SCALE * rng.standard_normal(SHAPE)
t_eval = np.linspace(0.0, T_FINAL, N_TIMES)
display(Markdown(f"`{problem!r}`; $\\|X_0\\|_F$ = {np.linalg.norm(X0):.3g}"))


def imbalance(factors):
    """max_p ||W_{p+1}^T W_{p+1} - W_p W_p^T||_F along a trajectory (factors[p] has shape (n_t, ...))."""
    if len(factors) < 2:
        return np.zeros(len(factors[0]))
    gaps = [
        np.linalg.norm(np.swapaxes(up, -1, -2) @ up - low @ np.swapaxes(low, -1, -2), axis=(-2, -1))
        for low, up in zip(factors[:-1], factors[1:], strict=True)
    ]
    return np.max(gaps, axis=0)


def relative_gap(a, b):
    """||X_a(t) - X_b(t)||_F / ||X_b(t)||_F at each saved time."""
    return np.linalg.norm(a.X - b.X, axis=(-2, -1)) / np.linalg.norm(b.X, axis=(-2, -1))


# %% [markdown]
# ## Same balanced start: the two flows agree
#
# `balanced_factors` builds a balanced tuple over $X_0$ (with a random orthogonal gauge
# $W_p \to O_pW_pO_{p-1}^T$, which does not change $X$). Both flows use the raw convention (time $t$).

# %%
upstairs, downstairs = {}, {}
rows = ["| N | status up / down | max relative gap | max imbalance | final loss |", "|---|---|---|---|---|"]
for depth in DEPTHS:
    factors = riemdln.balanced_factors(X0, depth, rng=SEED)
    up = riemdln.factor_flow(problem, factors, t_final=T_FINAL, t_eval=t_eval)
    down = riemdln.end_to_end_flow(problem, X0, depth=depth, t_final=T_FINAL, t_eval=t_eval)
    upstairs[depth], downstairs[depth] = up, down
    gap = relative_gap(up, down).max()
    rows.append(
        f"| {depth} | {up.status.name} / {down.status.name} | {gap:.1e} | {imbalance(up.factors).max():.1e} "
        f"| {down['loss'][-1]:.2e} |"
    )
    assert up.success and down.success, (up.message, down.message)
    assert gap < 1e-5, (depth, gap)
display(Markdown("\n".join(rows)))

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for depth in DEPTHS:
    up, down = upstairs[depth], downstairs[depth]
    (line,) = axes[0].semilogy(down.t, down["loss"], label=f"N = {depth} downstairs")
    axes[0].semilogy(up.t, up["loss"], "o", ms=3, color=line.get_color(), label=f"N = {depth} upstairs")
    axes[1].semilogy(up.t[1:], relative_gap(up, down)[1:], color=line.get_color(), label=f"N = {depth}")
    axes[2].plot(down.t, down["effective_rank"], color=line.get_color(), label=f"N = {depth}")
axes[0].set(xlabel="t", ylabel="loss E(X)", title="loss: lines downstairs, dots upstairs")
axes[1].set(xlabel="t", ylabel="relative gap", title=r"$\|X_{up} - X_{down}\|_F / \|X_{down}\|_F$")
axes[2].set(xlabel="t", ylabel="effective rank", title="effective rank of X(t)")
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# The gap is at the level of the integration tolerances: from a balanced start, upstairs *is* downstairs
# (at $N = 1$ the two are literally the same equation, so the gap is exactly zero and drops off the log
# plot). Depth changes the path, not just its speed: with these parameters the end-to-end matrix of a
# deeper network settles at a lower effective rank.
#
# ## An unbalanced start
#
# Take factors with the same product $X_0$ but not balanced: rescale two neighbouring factors,
# $W_1 \to cW_1$, $W_2 \to W_2/c$. Upstairs the product is unchanged at $t = 0$, but the dynamics are not
# those of $A_N$ any more, and the imbalance $W_2^TW_2 - W_1W_1^T$ (which gradient flow conserves) stays.

# %%
depth = max(d for d in DEPTHS if d >= 2)
rows = ["| c | initial imbalance | final imbalance | max relative gap to downstairs |", "|---|---|---|---|"]
fig, ax = plt.subplots(figsize=(5, 3.4))
for c in (1.0, 1.5, 3.0):
    factors = riemdln.balanced_factors(X0, depth, rng=SEED)
    factors[0], factors[1] = c * factors[0], factors[1] / c
    up = riemdln.factor_flow(problem, factors, t_final=T_FINAL, t_eval=t_eval)
    gap = relative_gap(up, downstairs[depth])
    drift = imbalance(up.factors)
    rows.append(f"| {c:g} | {drift[0]:.2e} | {drift[-1]:.2e} | {gap.max():.2e} |")
    ax.semilogy(up.t[1:], gap[1:] + 1e-16, label=f"c = {c:g}")
ax.set(xlabel="t", ylabel="relative gap", title=f"unbalanced factors vs the A_N flow, N = {depth}")
ax.legend()
fig.tight_layout()
plt.show()
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Gradient descent on the factors
#
# What deep-learning code actually runs is descent with a learning rate $\eta$; step $k$ is time $k\eta$
# and the error against the flow is $O(\eta)$.

# %%
depth = DEPTHS[-1]
factors = riemdln.balanced_factors(X0, depth, rng=SEED)
reference = riemdln.factor_flow(problem, factors, t_final=T_FINAL, t_eval=[T_FINAL])
rows = ["| learning rate | steps | relative error at T |", "|---|---|---|"]
errors = []
for lr in LEARNING_RATES:
    steps = round(T_FINAL / lr)
    gd = riemdln.factor_descent(problem, factors, lr=lr, steps=steps)
    err = np.linalg.norm(gd.X[-1] - reference.X[-1]) / np.linalg.norm(reference.X[-1])
    errors.append(err)
    rows.append(f"| {lr:g} | {steps} | {err:.2e} |")
slope = np.polyfit(np.log(LEARNING_RATES), np.log(errors), 1)[0]
rows.append(f"\nlog-log slope of the error against the learning rate: **{slope:.2f}** (first order: 1)")
display(Markdown("\n".join(rows)))
