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
# # The gradient flow in SVD coordinates
#
# **Result** (docs/theory.md §5). With $X = Q\,\mathrm{diag}(s)\,R^T$, $\dot Q = Q\Omega$, $\dot R = R\Theta$
# ($\Omega, \Theta$ skew) and $\tilde G = Q^T \nabla E(X) R$, the flow $\dot X = -A_N(X)\nabla E(X)$ reads
#
# $$\dot s_i = -N s_i^{2 - 2/N}\tilde G_{ii}, \qquad
#   \Omega_{ij} = \frac{s_j\tilde G_{ij} + s_i\tilde G_{ji}}{s_i^{2/N} - s_j^{2/N}}, \qquad
#   \Theta_{ij} = \frac{s_i\tilde G_{ij} + s_j\tilde G_{ji}}{s_i^{2/N} - s_j^{2/N}} \quad (i \ne j).$$
#
# **Convention:** raw depth $N$, time $t$; the normalized flow divides the right-hand sides by $N$ (time
# $\tau = Nt$) and has the limit $N \to \infty$ below. In the formulas $g = \tilde G_{ii}$, $g_{ij} = \tilde G_{ij}$.
#
# **Who proves what.** Every step is computed by SymPy (a $2\times 2$ linear solve per pair, the multiplier's
# special values and rewrites). The certificate is independent: finite differences, in mpmath, of the SVD of
# $X + hV$ with $V = -A_N(X)G$ and $A_N$ built from fractional matrix powers (tanh-sinh quadrature of
# $A_\infty$ at infinite depth). The forms the simulators integrate (steps 6 and 7) are checked against the
# same differences: the velocity of $\log s$ against $\dot s/s$, the split rotations with $F, H$ from the
# multiplier's defining sum (integer $N$), the divided difference of $t^N$ by quadrature (non-integer $N$) or
# $(x - y)/(\log x - \log y)$ at $N = \infty$. At non-integer $N$, $A_N$ is the Fréchet derivative of $t^N$ at
# the $N$-th roots of $XX^T$ and $X^TX$ (never the multiplier under test).

# %% tags=["setup"]
from IPython.display import Math, display
from sympy import latex, simplify, symbols

from riemdln.symbolic.derivations.flow import (
    certify_flow,
    log_velocity,
    rotation_infinite,
    rotation_quotient,
    rotation_split,
    rotation_system,
    singular_value_velocity,
    velocity_infinite,
)
from riemdln.symbolic.derivations.symbols import N, g, g_ij, g_ji, s_i, s_j, x, y
from riemdln.symbolic.functions import logmean


def show(expr):
    display(Math(latex(expr)))


# %% [markdown]
# ## Step 1 — the rotations solve a $2\times 2$ system per pair
# $Q^T\dot X R = \dot S + \Omega S - S\Theta$ must equal $-[a_N(s_i^2, s_j^2)\tilde G_{ij}]$. Off the diagonal the
# entries $(i, j)$ and $(j, i)$ are two linear equations in $\Omega_{ij}, \Theta_{ij}$.

# %% tags=["sympy", "result-left_rotation"]
Omega, Theta, coeff = rotation_system()
show(Omega)

# %% tags=["result-right_rotation"]
show(Theta)

# %% [markdown]
# ## Step 2 — the cancelling quotient disappears
# $a_N(s_i^2, s_j^2)/(s_i^2 - s_j^2) = 1/(s_i^{2/N} - s_j^{2/N})$: the printed form above. The numeric code keeps
# the form with $a_N$, evaluated by the stable kernel.

# %% tags=["sympy", "result-left_rotation"]
quotient = rotation_quotient(coeff)
show(quotient * (s_j * g_ij + s_i * g_ji))

# %% [markdown]
# ## Step 3 — the singular values
# The diagonal of the equation: $\dot s_i = -a_N(s_i^2, s_i^2)\tilde G_{ii}$, and $a_N(x, x) = N x^{(N-1)/N}$.

# %% tags=["sympy", "result-singular_value_velocity"]
velocity = singular_value_velocity()
show(velocity)

# %% [markdown]
# ## Steps 4 and 5 — infinite depth (normalized)
# $a_N/N \to L$ (the infinite-depth page): the rotations' coefficient becomes $1/(\log s_i^2 - \log s_j^2)$, and
# on the diagonal $L(s^2, s^2) = s^2$, so $d\log s_i/d\tau = -s_i\tilde G_{ii}$: small singular values move on a
# log scale.

# %% tags=["sympy", "result-left_rotation_infinite"]
coeff_inf = rotation_infinite()
show(coeff_inf * (s_j * g_ij + s_i * g_ji))

# %% tags=["sympy", "result-singular_value_velocity_infinite"]
show(velocity_infinite(logmean(x, y)))

# %% [markdown]
# ## Step 6 — the form the simulators evaluate
# Partial fractions of $1/(s_i^2 - s_j^2)$ split each rotation over $s_i - s_j$ and $s_i + s_j$, in the pair
# coefficients $F_{ij} = a_N(s_i^2, s_j^2)/(s_i - s_j)$ and $H_{ij} = a_N(s_i^2, s_j^2)/(s_i + s_j)$. SymPy checks
# that the split recombines to Step 1's solution. The flow in SVD coordinates runs on the lambdified twins of these
# two expressions (catalog: `left_rotation_split`, `right_rotation_split`), with F and H from a log-space kernel
# that never forms a difference of squares; the same split holds at $N = \infty$ with $L$ in place of $a_N$.

# %% tags=["sympy", "result-left_rotation_split"]
Omega_split, Theta_split = rotation_split(Omega, Theta, coeff)
show(Omega_split)

# %% tags=["result-right_rotation_split"]
show(Theta_split)

# %% [markdown]
# ## Step 7 — in $\rho = \log s$
# The simulators integrate $\rho_i = \log s_i$: $\dot\rho = \dot s/s$ with $s = e^\rho$, finite for every
# $\rho$ (the quotient of the velocity by $s$ would be $0/0$ once $s$ underflows). Raw, normalized and $N = \infty$
# (catalog: `log_singular_value_velocity`, `..._normalized`, `..._infinite`); the simulators run these twins.

# %% tags=["sympy", "result-log_singular_value_velocity"]
rho_raw, rho_normalized, rho_infinite = log_velocity(velocity, -(symbols("s", positive=True) ** 2) * g)
show(rho_raw)

# %% tags=["result-log_singular_value_velocity_normalized"]
show(rho_normalized)

# %% tags=["result-log_singular_value_velocity_infinite"]
show(rho_infinite)

# %% [markdown]
# ## Certificate

# %% tags=["certified"]
s = symbols("s", positive=True)
exprs = {
    "singular_value_velocity": velocity,
    "singular_value_velocity_normalized": simplify(velocity / N),
    "singular_value_velocity_infinite": -(s**2) * g,
    "left_rotation": coeff * (s_j * g_ij + s_i * g_ji),
    "right_rotation": coeff * (s_i * g_ij + s_j * g_ji),
    "left_rotation_infinite": coeff_inf * (s_j * g_ij + s_i * g_ji),
    "right_rotation_infinite": coeff_inf * (s_i * g_ij + s_j * g_ji),
    # the forms the simulators integrate, checked against the same differences
    "log_singular_value_velocity": rho_raw,
    "log_singular_value_velocity_normalized": rho_normalized,
    "log_singular_value_velocity_infinite": rho_infinite,
    "left_rotation_split": Omega_split,
    "right_rotation_split": Theta_split,
}
for name, check in certify_flow(exprs).items():
    display(Math(rf"\text{{{name}}}: \text{{worst relative error }} {check.max_error:.1e} \le {check.tolerance:.0e}"))
    assert check.passed, (name, check)
