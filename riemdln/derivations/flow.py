r"""The gradient flow in SVD coordinates (THEORY.md §5), finite depth and :math:`N = \infty`.

Write :math:`X = Q S R^T`, :math:`\dot Q = Q\Omega`, :math:`\dot R = R\Theta` and
:math:`\tilde G = Q^T\nabla E R`. Then :math:`Q^T\dot X R = \dot S + \Omega S - S\Theta` must equal
:math:`-[a_N(s_i^2, s_j^2)\tilde G_{ij}]`. The diagonal gives :math:`\dot s_i`; each pair (i, j) gives
a 2×2 linear system for :math:`(\Omega_{ij}, \Theta_{ij})` that SymPy solves. Normalized flows
divide by N; N → ∞ replaces :math:`a_N/N` by :math:`L`.
"""

from __future__ import annotations

from sympy import log, simplify, solve, symbols

from riemdln.derivations._engine import DerivationError, Result, derivation
from riemdln.derivations.symbols import N, g, g_ij, g_ji, s_i, s_j, x, y
from riemdln.functions import dln_multiplier, generic_branch, logmean


@derivation("flow", requires=("multiplier", "infinite_depth"), title="The flow in SVD coordinates")
def derive_flow(deps) -> Result:
    a = dln_multiplier(s_i**2, s_j**2, N)
    om, th = symbols("Omega_ij Theta_ij", real=True)
    # entries (i, j) and (j, i) of Omega S - S Theta with Omega_ji = -Omega_ij, Theta_ji = -Theta_ij
    eqs = [om * s_j - s_i * th + a * g_ij, -om * s_i + s_j * th + a * g_ji]
    sol = solve(eqs, [om, th], dict=True)[0]
    Omega = simplify(sol[om])
    Theta = simplify(sol[th])
    coeff = a / (s_i**2 - s_j**2)
    if simplify(Omega - coeff * (s_j * g_ij + s_i * g_ji)) != 0 or simplify(Theta - coeff * (s_i * g_ij + s_j * g_ji)) != 0:
        raise DerivationError(f"Omega, Theta = {Omega}, {Theta}")
    display = 1 / (s_i ** (2 / N) - s_j ** (2 / N))
    if simplify(generic_branch(coeff.rewrite("Pow")) - display) != 0:
        raise DerivationError("a_N/(s_i^2 - s_j^2) is not 1/(s_i^(2/N) - s_j^(2/N))")
    s = symbols("s", positive=True)
    velocity = -dln_multiplier(s**2, s**2, N) * g
    L = logmean(s_i**2, s_j**2)
    coeff_inf = L / (s_i**2 - s_j**2)
    if simplify(generic_branch(coeff_inf.rewrite("log")) - 1 / (log(s_i**2) - log(s_j**2))) != 0:
        raise DerivationError("L/(s_i^2 - s_j^2) is not 1/(log s_i^2 - log s_j^2)")
    exprs = {
        "singular_value_velocity": velocity,
        "singular_value_velocity_normalized": simplify(velocity / N),
        "singular_value_velocity_infinite": -s**2 * g,
        "log_singular_value_velocity_infinite": -s * g,
        "left_rotation": coeff * (s_j * g_ij + s_i * g_ji),
        "right_rotation": coeff * (s_i * g_ij + s_j * g_ji),
        "left_rotation_display": display * (s_j * g_ij + s_i * g_ji),
        "right_rotation_display": display * (s_i * g_ij + s_j * g_ji),
        "left_rotation_infinite": coeff_inf * (s_j * g_ij + s_i * g_ji),
        "right_rotation_infinite": coeff_inf * (s_i * g_ij + s_j * g_ji),
    }
    # the infinite-depth diagonal: lim (a_N(s^2, s^2)/N) = s^2, from the derived limit L(x, x) = x
    if simplify(deps["infinite_depth"]["multiplier_infinite"].subs({x: s**2, y: s**2}) - s**2) != 0:
        raise DerivationError("L(s^2, s^2) != s^2")
    return Result(exprs)
