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
# # 8. Checking a PyTorch deep linear network against the theory
#
# A three-layer linear network of `torch.nn.Linear(bias=False)` layers is trained on a random $30\times 30$
# completion problem, its weights are recorded with `riemdln.TrainingRecorder`, and `riemdln.check_training`
# says whether the run is gradient descent on $E(W_3W_2W_1)$ — and, when it is not, what it is instead.
#
# The checks need nothing but the recorded weights at first: for exact gradients of *any* loss of the product,
# $W_{j+1}^T G_{j+1} = G_j W_j^T$, so the first-order balance residual
# $W_{j+1}^T\Delta_{j+1} - \Delta_j W_j^T$ of the steps $\Delta_j$ vanishes to rounding. With the loss and the
# learning rate given, each layer's step is compared with $-\eta G_j$ and the end-to-end velocity with
# $-A_N(X)\nabla E(X)$ (raw convention, depth $N = 3$). A `Linear` layer computes `x @ W.T`, so `net(I)` is
# $X^T$ with $X = W_3W_2W_1$: the layers in `Sequential` order are the factors with $W_1$ first, the checker's
# default `order="W1_first"`. Torch trains in float32 here, and the tolerances are float32's.

# %% tags=["parameters"]
SIZE = 30  # the completion problem is SIZE x SIZE
RANK = 2
OBSERVED = 360  # observed entries
DEPTH = 3
STEPS = 200  # training steps of each run (every step is recorded)
LR_FRACTION = 0.3  # learning rate as a fraction of 2 / (N s_max^(2(N-1)/N)), the stability estimate
INIT = 0.5  # the initial end-to-end matrix has s_max = INIT * s_max(ground truth)
SEED = 0

# %%
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import riemdln  # noqa: E402

torch.manual_seed(SEED)
torch.set_num_threads(1)  # 30 x 30 matrices: threads cost more than they gain (50x on a loaded 2-core machine)
problem = riemdln.CompletionProblem.random(SIZE, SIZE, rank=RANK, n_observed=OBSERVED, seed=SEED)
s_max = np.linalg.norm(problem.ground_truth, 2)
lr = LR_FRACTION * 2.0 / (DEPTH * s_max ** (2 * (DEPTH - 1) / DEPTH))
rng = np.random.default_rng(SEED)
X0 = rng.standard_normal((SIZE, SIZE))
X0 *= INIT * s_max / np.linalg.norm(X0, 2)
W0 = riemdln.balanced_factors(X0, DEPTH, rng=SEED)  # a balanced start: W_{j+1}^T W_{j+1} = W_j W_j^T
mask = torch.tensor(np.array(problem.mask))
target = torch.tensor(np.array(problem.target), dtype=torch.float32)
print(f"learning rate {lr:.4g}; {problem}")


def network():
    layers = [torch.nn.Linear(SIZE, SIZE, bias=False) for _ in range(DEPTH)]
    with torch.no_grad():
        for layer, w in zip(layers, W0, strict=True):
            layer.weight.copy_(torch.tensor(w, dtype=torch.float32))
    return torch.nn.Sequential(*layers)


def train(make_optimizer, reduction="sum"):
    """Train a fresh network; record every step; return the recorder."""
    net = network()
    opt = make_optimizer(net.parameters())
    eye = torch.eye(SIZE)
    rec = riemdln.TrainingRecorder(every=1, max_records=STEPS + 1)
    for step in range(STEPS + 1):
        rec.record(step, [layer.weight for layer in net])
        if step == STEPS:
            break
        opt.zero_grad()
        sq = (net(eye).T - target)[mask] ** 2
        loss = 0.5 * (sq.sum() if reduction == "sum" else sq.mean())
        loss.backward()
        opt.step()
    return rec


# %% [markdown]
# ## Plain SGD: consistent with the theory
#
# `reference_flow=True` also integrates riemdln's exact end-to-end flow $\dot X = -A_3(X)\nabla E(X)$ from the
# same start and compares at $t = k\eta$: gradient descent tracks it with an $O(\eta)$ deviation.

# %%
sgd = train(lambda params: torch.optim.SGD(params, lr=lr))
check = riemdln.check_training(sgd, lr=lr, energy=problem, reference_flow=True)
print(check.summary())
check.plot()
plt.show()

# %% [markdown]
# ## Adam
#
# Adam's steps are not along the gradient: the balance residual is first order at every pair of layers, and no
# rival update rule (scaled learning rate, weight decay, heavy-ball momentum, sequential updates) explains the
# steps.

# %%
adam = train(lambda params: torch.optim.Adam(params, lr=1e-3))
check = riemdln.check_training(adam, lr=1e-3, energy=problem)
print(check.diagnosis)
print(f"balance residual {check.checks['balance'].value:.2g} (tolerance {check.checks['balance'].tolerance:.2g})")

# %% [markdown]
# ## SGD with weight decay
#
# `weight_decay=λ` makes each step $-\eta(G_j + \lambda W_j)$: gradient descent on
# $E(X) + \tfrac\lambda2\sum_j\|W_j\|^2$, which is not a function of the product. The checker fits one λ for
# every layer and step.

# %%
decay = train(lambda params: torch.optim.SGD(params, lr=lr, weight_decay=1e-2))
check = riemdln.check_training(decay, lr=lr, energy=problem)
print(check.diagnosis)
print(f"fitted λ = {check.fits['weight_decay']:.6g} (torch's weight_decay = 1e-2)")

# %% [markdown]
# ## A mean instead of a sum
#
# `loss.mean()` divides the gradient by the number of observed entries: still gradient descent on a loss of the
# product (the balance residual passes), but at an effective learning rate $\eta/|\Omega|$.

# %%
mean = train(lambda params: torch.optim.SGD(params, lr=lr), reduction="mean")
check = riemdln.check_training(mean, lr=lr, energy=problem)
print(check.diagnosis)
print(f"1 / |Omega| = {1 / problem.n_observed:.4g}")
