r"""The gradient flow in SVD coordinates (docs/theory.md §5), finite depth and :math:`N = \infty`.

Write :math:`X = Q S R^T`, :math:`\dot Q = Q\Omega`, :math:`\dot R = R\Theta` and
:math:`\tilde G = Q^T\nabla E R`. Then :math:`Q^T\dot X R = \dot S + \Omega S - S\Theta` must equal
:math:`-[a_N(s_i^2, s_j^2)\tilde G_{ij}]`. The diagonal gives :math:`\dot s_i`; each pair (i, j) gives
a 2×2 linear system for :math:`(\Omega_{ij}, \Theta_{ij})` that SymPy solves. Normalized flows
divide by N; N → ∞ replaces :math:`a_N/N` by :math:`L`.
"""

from __future__ import annotations

import random

import mpmath
import sympy
from sympy import exp, log, powsimp, simplify, solve, symbols

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    depth_labels,
    depths_tex,
    mp_eval,
    mp_multiplier,
    mp_operator_matrix,
    rel_err,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import N, g, g_ij, g_ji, s_i, s_j, x, y
from riemdln.symbolic.functions import dln_multiplier, generic_branch, logmean


def rotation_system():
    r"""Step 1 (SymPy): solve the (i, j), (j, i) entries of :math:`\Omega S - S\Theta = -[a_N \tilde G]` for
    :math:`(\Omega_{ij}, \Theta_{ij})`; returns ``(Omega, Theta, a_N/(s_i^2 - s_j^2))``."""
    a = dln_multiplier(s_i**2, s_j**2, N)
    om, th = symbols("Omega_ij Theta_ij", real=True)
    # entries (i, j) and (j, i) of Omega S - S Theta with Omega_ji = -Omega_ij, Theta_ji = -Theta_ij
    eqs = [om * s_j - s_i * th + a * g_ij, -om * s_i + s_j * th + a * g_ji]
    sol = solve(eqs, [om, th], dict=True)[0]
    Omega = simplify(sol[om])
    Theta = simplify(sol[th])
    coeff = a / (s_i**2 - s_j**2)
    if (
        simplify(Omega - coeff * (s_j * g_ij + s_i * g_ji)) != 0
        or simplify(Theta - coeff * (s_i * g_ij + s_j * g_ji)) != 0
    ):
        raise DerivationError(f"Omega, Theta = {Omega}, {Theta}")
    return Omega, Theta, coeff


def rotation_quotient(coeff):
    r"""Step 2 (SymPy): :math:`a_N(s_i^2, s_j^2)/(s_i^2 - s_j^2) = 1/(s_i^{2/N} - s_j^{2/N})`."""
    display = 1 / (s_i ** (2 / N) - s_j ** (2 / N))
    if simplify(generic_branch(coeff.rewrite("Pow")) - display) != 0:
        raise DerivationError("a_N/(s_i^2 - s_j^2) is not 1/(s_i^(2/N) - s_j^(2/N))")
    return display


def singular_value_velocity():
    r"""Step 3 (SymPy): the diagonal, :math:`\dot s_i = -a_N(s_i^2, s_i^2)\,\tilde G_{ii}`."""
    s = symbols("s", positive=True)
    return -dln_multiplier(s**2, s**2, N) * g


def rotation_infinite():
    r"""Step 4 (SymPy): :math:`L(s_i^2, s_j^2)/(s_i^2 - s_j^2) = 1/(\log s_i^2 - \log s_j^2)`; returns the former."""
    coeff_inf = logmean(s_i**2, s_j**2) / (s_i**2 - s_j**2)
    if simplify(generic_branch(coeff_inf.rewrite("log")) - 1 / (log(s_i**2) - log(s_j**2))) != 0:
        raise DerivationError("L/(s_i^2 - s_j^2) is not 1/(log s_i^2 - log s_j^2)")
    return coeff_inf


def velocity_infinite(multiplier_infinite):
    r"""Step 5 (SymPy): at infinite depth the diagonal is :math:`L(s^2, s^2) = s^2`: :math:`\dot s = -s^2 g`."""
    s = symbols("s", positive=True)
    if simplify(multiplier_infinite.subs({x: s**2, y: s**2}) - s**2) != 0:
        raise DerivationError("L(s^2, s^2) != s^2")
    return -(s**2) * g


def rotation_split(Omega, Theta, coeff):
    r"""Step 6 (SymPy): the rotations split over :math:`s_i \mp s_j` (partial fractions of
    :math:`1/(s_i^2 - s_j^2)`), in the two pair coefficients
    :math:`F_{ij} = a_N(s_i^2, s_j^2)/(s_i - s_j)` and :math:`H_{ij} = a_N(s_i^2, s_j^2)/(s_i + s_j)`:

    .. math:: \Omega_{ij} = \tfrac12\big(F_{ij}(g_{ij} + g_{ji}) - H_{ij}(g_{ij} - g_{ji})\big), \quad
              \Theta_{ij} = \tfrac12\big(F_{ij}(g_{ij} + g_{ji}) + H_{ij}(g_{ij} - g_{ji})\big).

    The simulators evaluate these, with F and H from stable log-space kernels (no cancelling difference
    of squares is ever formed); the split is the same at N = ∞ with L in place of a_N. Returns
    ``(Omega_split, Theta_split)`` in the symbols ``F_ij, H_ij``.
    """
    F, H = symbols("F_ij H_ij", real=True)
    om = (F * (g_ij + g_ji) - H * (g_ij - g_ji)) / 2
    th = (F * (g_ij + g_ji) + H * (g_ij - g_ji)) / 2
    a = coeff * (s_i**2 - s_j**2)
    back = {F: a / (s_i - s_j), H: a / (s_i + s_j)}
    if simplify(om.subs(back) - Omega) != 0 or simplify(th.subs(back) - Theta) != 0:
        raise DerivationError("the split rotations do not recombine to Omega, Theta")
    return om, th


def log_velocity(velocity, velocity_inf):
    r"""Step 7 (SymPy): what the simulators integrate, :math:`\rho_i = \log s_i`:
    :math:`\dot\rho = \dot s/s` with :math:`s = e^\rho` — raw :math:`-N g\,e^{\rho (N-2)/N}`, normalized
    :math:`-g\,e^{\rho (N-2)/N}`, :math:`N = \infty`: :math:`-g\,e^{\rho}` (finite for every ρ; the
    quotient of the velocity by s would be 0/0 once s underflows). Returns the three."""
    s, rho = symbols("s", positive=True), symbols("rho", real=True)

    def in_rho(v):
        return powsimp(simplify(generic_branch(v.rewrite("Pow")) / s).subs(s, exp(rho)), force=True)

    return in_rho(velocity), in_rho(velocity / N), in_rho(velocity_inf)


@derivation("flow", requires=("multiplier", "infinite_depth"), title="The flow in SVD coordinates")
def derive_flow(deps) -> Result:
    Omega, Theta, coeff = rotation_system()
    display = rotation_quotient(coeff)
    om_split, th_split = rotation_split(Omega, Theta, coeff)
    velocity = singular_value_velocity()
    coeff_inf = rotation_infinite()
    s = symbols("s", positive=True)
    exprs = {
        "singular_value_velocity": velocity,
        "singular_value_velocity_normalized": simplify(velocity / N),
        "singular_value_velocity_infinite": -(s**2) * g,
        "left_rotation": coeff * (s_j * g_ij + s_i * g_ji),
        "right_rotation": coeff * (s_i * g_ij + s_j * g_ji),
        "left_rotation_display": display * (s_j * g_ij + s_i * g_ji),
        "right_rotation_display": display * (s_i * g_ij + s_j * g_ji),
        "left_rotation_infinite": coeff_inf * (s_j * g_ij + s_i * g_ji),
        "right_rotation_infinite": coeff_inf * (s_i * g_ij + s_j * g_ji),
        "left_rotation_split": om_split,
        "right_rotation_split": th_split,
    }
    (
        exprs["log_singular_value_velocity"],
        exprs["log_singular_value_velocity_normalized"],
        exprs["log_singular_value_velocity_infinite"],
    ) = log_velocity(velocity, exprs["singular_value_velocity_infinite"])
    # the infinite-depth diagonal: lim (a_N(s^2, s^2)/N) = s^2, from the derived limit L(x, x) = x
    velocity_infinite(deps["infinite_depth"]["multiplier_infinite"])
    return Result(exprs, certify_flow(exprs))


def certify_flow(exprs) -> dict:
    """Certificate (numeric): finite differences of the SVD of X + h V, V = -A_N(X) G, in mpmath."""
    return _certify(exprs)


def _mp_svd(X):
    """SVD with singular values in decreasing order (mpmath)."""
    U, S, V = mpmath.svd_r(X)
    order = sorted(range(len(S)), key=lambda a: -S[a])
    U = mpmath.matrix([[U[r_, c] for c in order] for r_ in range(U.rows)])
    Rm = mpmath.matrix([[V[c, r_] for c in order] for r_ in range(V.cols)])
    return U, [S[c] for c in order], Rm


def _mp_A_infinite(X, Z):
    """A_inf(X) Z = int_0^1 (XX^T)^(1-t) Z (X^TX)^t dt, entry by entry with mpmath.quad (tanh-sinh)."""
    lam, V = mpmath.eigsy(X * X.T)
    mu, W = mpmath.eigsy(X.T * X)
    core = V.T * Z * W
    m, n = X.rows, X.cols

    def entry(a, b):
        def f(tt):
            return mpmath.fsum(
                V[a, c] * lam[c] ** (1 - tt) * core[c, e] * mu[e] ** tt * W[b, e] for c in range(m) for e in range(n)
            )

        return mpmath.quad(f, [0, 1])

    return mpmath.matrix([[entry(a, b) for b in range(n)] for a in range(m)])


def _certify(exprs) -> dict:
    """Finite differences of the SVD of X + h V, V = -A_N(X) G (A_N from its definition), mpmath."""
    rnd = random.Random(17)
    s_ = symbols("s", positive=True)
    errs = {k: 0.0 for k in ("sv", "sv_n", "sv_inf", "left", "right", "left_inf", "right_inf")}
    errs |= {k: 0.0 for k in ("log", "log_n", "log_inf", "left_split", "right_split")}
    counts = {"finite": 0, "inf": 0}
    with mpmath.workdps(50):
        for depth in _FINITE_DEPTHS + ("inf",) * _INFINITE_POINTS:
            X = mpmath.matrix([[rnd.gauss(0, 1) for _ in range(3)] for _ in range(3)])
            G = mpmath.matrix([[rnd.gauss(0, 1) for _ in range(3)] for _ in range(3)])
            if depth == "inf":
                V = -_mp_A_infinite(X, G)
            else:
                A = mp_operator_matrix(X, depth)
                V = -mpmath.matrix(
                    [[sum(A[a * 3 + b, c] * G[c // 3, c % 3] for c in range(9)) for b in range(3)] for a in range(3)]
                )
            h = mpmath.mpf("1e-20")
            Q, sv, R = _mp_svd(X)
            Qp, svp, Rp = _mp_svd(X + h * V)
            Qm, svm, Rm = _mp_svd(X - h * V)
            for B, Bp, Bm in ((Q, Qp, Qm), (R, Rp, Rm)):  # align singular-vector signs
                for c in range(3):
                    for M in (Bp, Bm):
                        if sum(M[r_, c] * B[r_, c] for r_ in range(3)) < 0:
                            for r_ in range(3):
                                M[r_, c] = -M[r_, c]
            Gt = Q.T * G * R
            dsv = [(svp[a] - svm[a]) / (2 * h) for a in range(3)]
            Om = Q.T * (Qp - Qm) / (2 * h)
            Th = R.T * (Rp - Rm) / (2 * h)
            for a in range(3):
                vals = {s_: sv[a], g: Gt[a, a]}
                if depth == "inf":
                    got = mp_eval(exprs["singular_value_velocity_infinite"], vals)
                    errs["sv_inf"] = max(errs["sv_inf"], rel_err(got, dsv[a]))
                else:
                    got = mp_eval(exprs["singular_value_velocity"], vals | {N: mpmath.mpf(depth)})
                    errs["sv"] = max(errs["sv"], rel_err(got, dsv[a]))
                    got_n = mp_eval(exprs["singular_value_velocity_normalized"], vals | {N: mpmath.mpf(depth)})
                    errs["sv_n"] = max(errs["sv_n"], rel_err(got_n, dsv[a] / depth))
                for b in range(a + 1, 3):
                    vals = {s_i: sv[a], s_j: sv[b], g_ij: Gt[a, b], g_ji: Gt[b, a]}
                    suffix = "_infinite" if depth == "inf" else ""
                    key = "_inf" if depth == "inf" else ""
                    if depth != "inf":
                        vals[N] = mpmath.mpf(depth)
                    errs["left" + key] = max(
                        errs["left" + key], rel_err(mp_eval(exprs["left_rotation" + suffix], vals), Om[a, b])
                    )
                    errs["right" + key] = max(
                        errs["right" + key], rel_err(mp_eval(exprs["right_rotation" + suffix], vals), Th[a, b])
                    )
            _certify_integrated_forms(exprs, depth, sv, Gt, dsv=dsv, rotations=(Om, Th), errs=errs)
            counts["inf" if depth == "inf" else "finite"] += 1
    finite, infinite = depth_labels(_FINITE_DEPTHS), ("inf",)
    how = (
        "central differences (h = 1e-20, mpmath 50 digits) of the SVD of X + h V, V = -A_N(X) G at random 3 x 3 X, G, "
        "with A_N by its definition (fractional matrix powers; the Frechet derivative of t^N at non-integer N) or "
        "A_inf by tanh-sinh quadrature of its integral"
    )
    tex = (
        r"central differences ($h = 10^{-20}$, mpmath 50 digits) of the SVD of $X + hV$, $V = -A_N(X)\,G$ at random "
        r"$3 \times 3$ $X$, $G$, with $A_N$ by its definition (fractional matrix powers; the Fr\'echet derivative of "
        r"$t^N$ at non-integer $N$) or $A_\infty$ by tanh-sinh quadrature of its integral"
    )
    split_how = "; F, H from a_N(x, y) by the defining sum or the divided-difference quadrature, or from L (N = inf)"
    split_tex = (
        r"; $F$, $H$ from $a_N(x, y)$ by the defining sum or the divided difference of $t^N$ by quadrature, "
        r"or from $L$ ($N = \infty$)"
    )
    tol = 1e-25

    def check(key: str, depths: tuple, extra: str = "", extra_tex: str = "") -> Check:
        n = counts["inf" if depths == infinite else "finite"]
        return Check(
            f"{how}{extra}, N = {', '.join(depths)}",
            errs[key],
            tol,
            n,
            latex=f"{tex}{extra_tex}, {depths_tex(depths)}",
            depths=depths,
        )

    return {
        "singular_value_velocity": check("sv", finite),
        "singular_value_velocity_normalized": check("sv_n", finite),
        "singular_value_velocity_infinite": check("sv_inf", infinite),
        "left_rotation": check("left", finite),
        "right_rotation": check("right", finite),
        "left_rotation_infinite": check("left_inf", infinite),
        "right_rotation_infinite": check("right_inf", infinite),
        "log_singular_value_velocity": check("log", finite, "; divided by s_i", r"; divided by $s_i$"),
        "log_singular_value_velocity_normalized": check("log_n", finite, "; divided by N s_i", r"; divided by $N s_i$"),
        "log_singular_value_velocity_infinite": check("log_inf", infinite, "; divided by s_i", r"; divided by $s_i$"),
        "left_rotation_split": check("left_split", finite, split_how, split_tex),
        "right_rotation_split": check("right_split", finite, split_how, split_tex),
    }


# the certificate's depths: one random X, G per finite depth, _INFINITE_POINTS at N = inf
_FINITE_DEPTHS = (1, 2, 3, 5, 1.5, 2.5, 4.5, 7.5)
_INFINITE_POINTS = 8


def _certify_integrated_forms(exprs, depth, sv, Gt, *, dsv, rotations, errs) -> None:
    """The forms the simulators integrate (velocity of log s; split rotations) against the same differences
    (``dsv``: the singular values' velocities; ``rotations``: the frames' rotation rates Omega, Theta)."""
    Om, Th = rotations
    rho = symbols("rho", real=True)
    F, H = symbols("F_ij H_ij", real=True)
    for a in range(3):
        vals = {rho: mpmath.log(sv[a]), g: Gt[a, a]}
        if depth == "inf":
            got = mp_eval(exprs["log_singular_value_velocity_infinite"], vals)
            errs["log_inf"] = max(errs["log_inf"], rel_err(got, dsv[a] / sv[a]))
        else:
            got = mp_eval(exprs["log_singular_value_velocity"], vals | {N: mpmath.mpf(depth)})
            errs["log"] = max(errs["log"], rel_err(got, dsv[a] / sv[a]))
            got = mp_eval(exprs["log_singular_value_velocity_normalized"], vals | {N: mpmath.mpf(depth)})
            errs["log_n"] = max(errs["log_n"], rel_err(got, dsv[a] / (depth * sv[a])))
        for b in range(a + 1, 3):
            xa, xb = sv[a] ** 2, sv[b] ** 2
            if depth == "inf":
                mult = (xa - xb) / (mpmath.log(xa) - mpmath.log(xb))
            else:
                mult = mp_multiplier(xa, xb, depth)
            vals = {F: mult / (sv[a] - sv[b]), H: mult / (sv[a] + sv[b]), g_ij: Gt[a, b], g_ji: Gt[b, a]}
            errs["left_split"] = max(errs["left_split"], rel_err(mp_eval(exprs["left_rotation_split"], vals), Om[a, b]))
            errs["right_split"] = max(
                errs["right_split"], rel_err(mp_eval(exprs["right_rotation_split"], vals), Th[a, b])
            )


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="singular_value_velocity",
        derivation="flow",
        key="singular_value_velocity",
        args=(sy.s_scalar, sy.g, sy.N),
        convention="raw",
        symbol=r"\frac{ds_i}{dt}",
        title="Velocity of a singular value under the raw flow ($g = (Q^T \\nabla E\\, R)_{ii}$)",
        check="singular_value_velocity",
    ),
    Entry(
        name="singular_value_velocity_normalized",
        derivation="flow",
        key="singular_value_velocity_normalized",
        args=(sy.s_scalar, sy.g, sy.N),
        convention="normalized",
        symbol=r"\frac{ds_i}{d\tau}",
        title="Velocity of a singular value under the normalized flow",
        check="singular_value_velocity_normalized",
    ),
    Entry(
        name="singular_value_velocity_infinite",
        derivation="flow",
        key="singular_value_velocity_infinite",
        args=(sy.s_scalar, sy.g),
        convention="normalized",
        symbol=r"\frac{ds_i}{d\tau}\Big|_{N=\infty}",
        title="Velocity of a singular value at infinite depth",
        check="singular_value_velocity_infinite",
    ),
    Entry(
        name="left_rotation",
        derivation="flow",
        key="left_rotation",
        args=(sy.s_i, sy.s_j, sy.g_ij, sy.g_ji, sy.N),
        convention="raw",
        symbol=r"\Omega_{ij}",
        title="Left singular vectors: $\\dot Q = Q\\Omega$",
        display=("left_rotation_display",),
        check="left_rotation",
    ),
    Entry(
        name="right_rotation",
        derivation="flow",
        key="right_rotation",
        args=(sy.s_i, sy.s_j, sy.g_ij, sy.g_ji, sy.N),
        convention="raw",
        symbol=r"\Theta_{ij}",
        title="Right singular vectors: $\\dot R = R\\Theta$",
        display=("right_rotation_display",),
        check="right_rotation",
    ),
    Entry(
        name="left_rotation_infinite",
        derivation="flow",
        key="left_rotation_infinite",
        args=(sy.s_i, sy.s_j, sy.g_ij, sy.g_ji),
        convention="normalized",
        symbol=r"\Omega_{ij}\big|_{N=\infty}",
        title="Left singular vectors at infinite depth",
        check="left_rotation_infinite",
    ),
    Entry(
        name="right_rotation_infinite",
        derivation="flow",
        key="right_rotation_infinite",
        args=(sy.s_i, sy.s_j, sy.g_ij, sy.g_ji),
        convention="normalized",
        symbol=r"\Theta_{ij}\big|_{N=\infty}",
        title="Right singular vectors at infinite depth",
        check="right_rotation_infinite",
    ),
    Entry(
        name="log_singular_value_velocity",
        derivation="flow",
        key="log_singular_value_velocity",
        args=(sy.rho_scalar, sy.g, sy.N),
        convention="raw",
        symbol=r"\frac{d\rho_i}{dt}",
        title="Velocity of $\\rho_i = \\log s_i$, what the simulators integrate (SymPy: $\\dot s/s$ at $s = "
        "e^{\\rho}$)",
        check="log_singular_value_velocity",
        twins=(("log_singular_value_velocity", None),),
    ),
    Entry(
        name="log_singular_value_velocity_normalized",
        derivation="flow",
        key="log_singular_value_velocity_normalized",
        args=(sy.rho_scalar, sy.g, sy.N),
        convention="normalized",
        symbol=r"\frac{d\rho_i}{d\tau}",
        title="Velocity of $\\rho_i = \\log s_i$",
        check="log_singular_value_velocity_normalized",
        twins=(("log_singular_value_velocity_normalized", None),),
    ),
    Entry(
        name="log_singular_value_velocity_infinite",
        derivation="flow",
        key="log_singular_value_velocity_infinite",
        args=(sy.rho_scalar, sy.g),
        convention="normalized",
        symbol=r"\frac{d\rho_i}{d\tau}\Big|_{N=\infty}",
        title="Velocity of $\\rho_i = \\log s_i$ at infinite depth",
        check="log_singular_value_velocity_infinite",
        twins=(("log_singular_value_velocity_infinite", None),),
    ),
    Entry(
        name="left_rotation_split",
        derivation="flow",
        key="left_rotation_split",
        args=(sympy.Symbol("F_ij", real=True), sympy.Symbol("H_ij", real=True), sy.g_ij, sy.g_ji),
        convention="raw",
        symbol=r"\Omega_{ij}",
        title="Left rotation split over $s_i \\mp s_j$: $F_{ij} = a_N(s_i^2, s_j^2)/(s_i - s_j)$, "
        "$H_{ij} = a_N(s_i^2, s_j^2)/(s_i + s_j)$ (any convention: $a_N$, $a_N/N$ or $L$); what the simulators run",
        check="left_rotation_split",
        twins=(("left_rotation_split", None),),
    ),
    Entry(
        name="right_rotation_split",
        derivation="flow",
        key="right_rotation_split",
        args=(sympy.Symbol("F_ij", real=True), sympy.Symbol("H_ij", real=True), sy.g_ij, sy.g_ji),
        convention="raw",
        symbol=r"\Theta_{ij}",
        title="Right rotation split over $s_i \\mp s_j$ ($F$, $H$ as for the left one); what the simulators run",
        check="right_rotation_split",
        twins=(("right_rotation_split", None),),
    ),
)
