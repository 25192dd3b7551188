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
# # Entropy of the balanced fibre and its large-depth limit
#
# **Result** (docs/theory.md §7, after Menon and Yu). The balanced tuples over a full-rank $X$ form an
# $O_d^{N-1}$ orbit whose volume (metric induced by the Frobenius metric on the factors) is
# $c_d^{N-1}\prod_{i<j} a_N(\sigma_i^2, \sigma_j^2)^{1/2}$; its logarithm is the entropy
#
# $$S_N(X) = (N-1)\log c_d + \tfrac12\sum_{i<j}\log a_N(\sigma_i^2, \sigma_j^2), \qquad
#   S_N - (N-1)\log c_d - \tfrac{d(d-1)}{4}\log N \to \tfrac12\sum_{i<j}\log L(\sigma_i^2, \sigma_j^2).$$
#
# **Convention:** raw multiplier $a_N$ (the entropy does not depend on the metric's normalization; the
# renormalized limit is stated for the normalized $a_N/N$). $c_d$ is the volume of $O(d)$ in the Frobenius
# metric with the $\mathfrak{so}(d)$ basis $(E_{ij} - E_{ji})/\sqrt2$.
#
# **Who proves what.** SymPy computes $c_2$ two ways, the $d = 2$ Gram determinant of the gauge orbit for
# $N = 2, \dots, 5$, $\log c_d$ as a sum (checked for $d = 2, \dots, 8$ at 30 digits) and the limit. The formula
# for any $d$ is a generalization by hand (the orbit splits into pairs $i < j$), certified numerically by Gram
# determinants of the gauge directions at random balanced tuples for $d = 2, 3$ and by independent values of
# $c_2$ and $c_3$.

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex, log, symbols

from riemdln.symbolic.derivations.entropy import (
    certify_entropy,
    entropy_any_d,
    fibre_gram_d2,
    length_of_O2,
    log_orthogonal_group_volume_sum,
    orthogonal_group_volume_expr,
    renormalized_limit,
)
from riemdln.symbolic.derivations.symbols import N, d, x, y
from riemdln.symbolic.functions import dln_multiplier, logmean


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 1 — the length of $O(2)$
# $O(2)$ is two circles $\theta \mapsto R(\theta)$ (and their reflections) of Frobenius speed $\sqrt2$.

# %% tags=["sympy"]
c2 = length_of_O2()
show(c2)

# %% [markdown]
# ## Step 2 — the orbit's Gram determinant for $d = 2$
# The gauge directions $\xi_p$ act on $W_p$ from the left and on $W_{p+1}$ from the right; at
# $W_p = \mathrm{diag}(\mu)$ their Gram determinant is $\sum_k \mu_1^{2(N-k)}\mu_2^{2(k-1)} = a_N(s_1^2, s_2^2)$.

# %% tags=["sympy"]
show(fibre_gram_d2()[3])

# %% tags=["result-entropy_d2"]
s_a, s_b = symbols("sigma1 sigma2", positive=True)
show((N - 1) * log(c2) + log(dln_multiplier(s_a**2, s_b**2, N)) / 2)

# %% [markdown]
# ## Step 3 — $\log c_d$ as a sum
# $c_d = 2\cdot 2^{d(d-1)/4}\prod_{k=1}^{d-1}|S^k|$; the numeric twin evaluates its logarithm as a sum.

# %% tags=["sympy", "result-log_orthogonal_group_volume"]
log_cd, log_cd_sum = log_orthogonal_group_volume_sum()
show(log_cd_sum)

# %% [markdown]
# ## Any $d$ — a generalization, certified numerically

# %% tags=["generalized", "result-entropy"]
entropy = entropy_any_d(log_cd)
show(entropy)

# %% [markdown]
# ## Step 4 — the large-depth limit
# $a_N/N \to L$ (the infinite-depth page) gives the renormalized limit.

# %% tags=["sympy", "result-entropy_renormalized_limit"]
renorm = renormalized_limit(logmean(x, y))
show(renorm)

# %% [markdown]
# ## Certificates

# %% tags=["certified"]
exprs = {
    "orthogonal_group_volume": orthogonal_group_volume_expr(d),
    "log_orthogonal_group_volume": log_cd_sum,
    "entropy": entropy,
    "entropy_d2": (N - 1) * log(c2) + log(dln_multiplier(s_a**2, s_b**2, N)) / 2,
    "entropy_renormalized_limit": renorm,
    "entropy_renormalized_limit_d2": log(logmean(s_a**2, s_b**2)) / 2,
    "entropy_asymptotic": (N - 1) * log_cd + d * (d - 1) / 4 * log(N) + renorm,
}
for name, check in certify_entropy(exprs).items():
    display(Math(rf"\text{{{name}}}: \text{{worst relative error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, (name, check)
