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
# # The multiplier $a_N$ and the spectral form of $A_N$
#
# **Result** (docs/theory.md §2). For $X = Q\,\mathrm{diag}(s)\,R^T$ the operator
# $A_N(X) Z = \sum_{k=1}^{N} (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}$ acts on $\tilde Z = Q^T Z R$ entrywise,
# $(Q^T A_N(X) Z R)_{ij} = a_N(s_i^2, s_j^2)\,\tilde Z_{ij}$, with
#
# $$a_N(x, y) = \sum_{k=1}^{N} x^{(N-k)/N} y^{(k-1)/N} = \frac{x - y}{x^{1/N} - y^{1/N}}, \qquad
#   a_N(x, x) = N x^{(N-1)/N}, \qquad a_N(x, 0) = x^{(N-1)/N}.$$
#
# **Convention:** raw ($g^N$, operator $A_N$); the normalized multiplier $a_N/N$ is on the infinite-depth page.
#
# **Who proves what.** Steps 1–5 are computed by SymPy for a symbolic integer depth $N$ (step 5 for
# $d = 2$ and $d = 3$); the extension to real $N$ and to every $d$ is by hand (the sum defines $a_N$ for
# real $N$ through the quotient; for any $d$ the diagonal-matrix argument is the same entry by entry) and the
# numeric twin is certified against mpmath.

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex

from riemdln.symbolic.derivations.multiplier import (
    certify_multiplier,
    check_special_function,
    defining_sum,
    diagonal_sum,
    geometric_sum,
    multiplier_at_zero,
    spectral_form,
)
from riemdln.symbolic.derivations.symbols import s1, s2, x, y

# %% [markdown]
# ## Step 1 — the geometric sum
# For diagonal $X$ the powers are diagonal, so $A_N(X)E_{ij}$ is a multiple of $E_{ij}$: the sum below at
# $x = s_i^2$, $y = s_j^2$. SymPy sums it; `Sum.doit` returns a `Piecewise` and we keep its generic branch
# $x \ne y$ (docs/theory.md §4 explains why never the other branches), which `simplify` proves equal to the
# quotient.

# %% tags=["sympy", "result-multiplier"]
summed, generic, quotient = geometric_sum()
display(Math(latex(defining_sum(x, y))))
display(Math(latex(quotient)))

# %% [markdown]
# ## Step 2 — the diagonal
# At $y = x$ every term equals $x^{(N-1)/N}$.

# %% tags=["sympy", "result-multiplier_diagonal"]
diagonal = diagonal_sum()
display(Math(latex(diagonal)))

# %% [markdown]
# ## Step 3 — a zero singular value
# The limit $y \to 0$ of the quotient (only the $k = 1$ term survives in the sum).

# %% tags=["sympy", "result-multiplier_zero"]
at_zero = multiplier_at_zero(quotient)
display(Math(latex(at_zero)))

# %% [markdown]
# ## Step 4 — the special function `dln_multiplier`
# The SymPy function the rest of the project uses, `riemdln.symbolic.functions.dln_multiplier`, must carry exactly
# these values: its `Sum` and `Pow` rewrites and its special values are compared with steps 1–3.

# %% tags=["sympy"]
a = check_special_function(quotient, diagonal, at_zero)
display(Math(latex(a)))

# %% [markdown]
# ## Step 5 — the spectral form
# The $d^2 \times d^2$ matrix of $A_N(\mathrm{diag}(s))$ in the basis $E_{ij}$, computed term by term from the
# defining sum, is diagonal with entries $a_N(s_i^2, s_j^2)$ (shown for $d = 2$; the engine also proves $d = 3$).

# %% tags=["sympy"]
display(Math(latex(spectral_form((s1, s2)))))

# %% [markdown]
# ## Certificate
# Generalization to real $N$ is not symbolic (the sum defines $a_N$ at integer $N$ only; at real $N$ the closed
# form is the definition): the stable numpy kernel (sinhc form, docs/theory.md §4) is compared with $a_N$ computed
# without the closed form by mpmath — the defining sum at integer depths, the divided difference of $t^N$ at
# $x^{1/N}, y^{1/N}$ by quadrature at non-integer depths — $x = y$ and $y = 0$ included.

# %% tags=["certified"]
checks = certify_multiplier()
check = checks["multiplier"]
display(Math(rf"\text{{worst relative error}} = {check.max_error:.1e}\ \text{{over {check.points} points}}"))
assert all(c.passed for c in checks.values()), checks
