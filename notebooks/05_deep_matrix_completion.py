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
# # 5. Deep matrix completion
#
# The Arora–Cohen–Hu–Luo experiment (docs/theory.md §9): a random low-rank ground truth, uniformly observed
# entries, a small initialization, and gradient flow of networks of growing depth. Their finding: deeper
# factorizations reach lower effective rank and lower reconstruction error than shallow ones — and than
# nuclear-norm minimization when few entries are observed. Their setting is $100\times 100$, rank 5,
# 2000–5000 observations, scale $10^{-3}$; the quick defaults below are a miniature that runs in seconds
# (raise `SIZE`, `RANK`, `OBSERVED` and `SEEDS` for the real thing).
#
# All depths use the normalized convention ($dX/d\tau = -(A_N/N)\nabla E$), so that $N = \infty$ is included
# and the time scales are comparable. $N = 1$ is plain gradient flow on $X$: the unobserved entries never
# move from their initial values. The nuclear-norm baseline is `riemdln.problems.baselines.soft_impute`
# (soft-thresholded SVD
# iterations along a decreasing path of the regularization, approaching the minimum-nuclear-norm completion).

# %% tags=["parameters"]
SIZE = 8  # the ground truth is SIZE x SIZE
RANK = 1
OBSERVED = (20, 28, 36)  # numbers of observed entries
DEPTHS = (1, 2, 3, float("inf"))
SEEDS = (0,)  # problem (and initialization) seeds
INIT_SCALE = 1e-2  # initial X = INIT_SCALE * standard normal
T_FINAL = 1000.0  # normalized time horizon
LOSS_TOL = 1e-6  # stop when the loss is below this
RTOL, ATOL = 1e-6, 1e-9

# %%
import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

import riemdln  # noqa: E402
from riemdln.flows import effective_rank, loss_below  # noqa: E402
from riemdln.problems.baselines import soft_impute  # noqa: E402


def label(depth):
    return "N = ∞" if math.isinf(depth) else f"N = {depth:g}"


example = riemdln.CompletionProblem.random(
    SIZE, SIZE, rank=RANK, n_observed=OBSERVED[len(OBSERVED) // 2], seed=SEEDS[0]
)
display(Markdown(f"```\n{example.describe(rank=RANK)}\n```"))

# %% [markdown]
# ## Runs
#
# For each number of observations and seed: one problem (`CompletionProblem.random`), one small initial
# matrix, and `riemdln.end_to_end_flow` at every depth. Recorded at the end of each run: test error
# $\|X - W^*\|_F/\|W^*\|_F$ and effective rank (Roy–Vetterli), both from the run's diagnostics.

# %%
records = []  # (n_observed, seed, method, test error, effective rank, status)
trajectories = {}  # the runs at the middle number of observations, first seed, for the time plots
for n_observed in OBSERVED:
    for seed in SEEDS:
        problem = riemdln.CompletionProblem.random(SIZE, SIZE, rank=RANK, n_observed=n_observed, seed=seed)
        X0 = INIT_SCALE * np.random.default_rng(1000 + seed).standard_normal((SIZE, SIZE))
        for depth in DEPTHS:
            run = riemdln.end_to_end_flow(
                problem,
                X0,
                depth=depth,
                t_final=T_FINAL,
                normalized=True,
                events=loss_below(LOSS_TOL),
                rtol=RTOL,
                atol=ATOL,
            )
            assert run.success, run.message
            records.append(
                (n_observed, seed, label(depth), run["test_error"][-1], run["effective_rank"][-1], run.status.name)
            )
            if n_observed == OBSERVED[len(OBSERVED) // 2] and seed == SEEDS[0]:
                trajectories[depth] = run
        base = soft_impute(problem)  # the nuclear-norm baseline; its convergence is reported, not assumed
        s = np.linalg.svd(base.X, compute_uv=False)
        status = "converged" if base.success else base.message
        records.append((n_observed, seed, "nuclear norm", problem.test_error(base.X), float(effective_rank(s)), status))

methods = [label(d) for d in DEPTHS] + ["nuclear norm"]


def mean_of(method, n_observed, column):
    return float(np.mean([r[column] for r in records if r[2] == method and r[0] == n_observed]))


rows = ["| observed | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
for n_observed in OBSERVED:
    cells = [f"{mean_of(m, n_observed, 3):.3f} / {mean_of(m, n_observed, 4):.2f}" for m in methods]
    rows.append(f"| {n_observed} | " + " | ".join(cells) + " |")
display(Markdown("Test error / effective rank (mean over seeds):\n\n" + "\n".join(rows)))
display(Markdown("Run endings: " + ", ".join(sorted({f"{r[2]}: {r[5]}" for r in records}))))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for method in methods:
    style = "k--s" if method == "nuclear norm" else "o-"
    axes[0].semilogy(OBSERVED, [mean_of(method, k, 3) for k in OBSERVED], style, label=method)
    axes[1].plot(OBSERVED, [mean_of(method, k, 4) for k in OBSERVED], style, label=method)
axes[1].axhline(RANK, color="gray", lw=0.8, ls=":")
axes[0].set(xlabel="observed entries", ylabel="test error", title="reconstruction error")
axes[1].set(xlabel="observed entries", ylabel="effective rank", title=f"effective rank (ground truth rank {RANK})")
for ax in axes:
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Along the trajectories
#
# At the middle number of observations: loss, effective rank and test error against normalized time. The
# deeper the network, the longer the plateau near the small initialization and the more the end-to-end
# matrix is concentrated on few singular directions when it leaves it (incremental learning).

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for depth, run in trajectories.items():
    axes[0].loglog(run.t[1:], run["loss"][1:], label=label(depth))
    axes[1].semilogx(run.t[1:], run["effective_rank"][1:], label=label(depth))
    axes[2].loglog(run.t[1:], run["test_error"][1:], label=label(depth))
axes[0].set(xlabel="τ", ylabel="loss", title="loss")
axes[1].set(xlabel="τ", ylabel="effective rank", title="effective rank")
axes[2].set(xlabel="τ", ylabel="test error", title="test error")
for ax in axes:
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# With the quick defaults the picture is the one Arora et al. report, in miniature: depth lowers the
# effective rank at the end of the runs, and with enough observations the deep networks recover the ground
# truth far better than $N = 1$ (which only fills the observed entries). Runs that end `FINISHED` rather than
# `EVENT` reached `T_FINAL` before `LOSS_TOL`: at large depth the last, small singular directions relax
# slowly. With one seed and an $8\times 8$ matrix these are illustrations, not evidence; the
# `riemdln reproduce` study runs the larger sweep.
