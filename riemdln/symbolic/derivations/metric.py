r"""The metric :math:`g^N`, its inverse and the Riemannian gradient, in the SVD frame.

:math:`g^N_X(Z_1, Z_2) = \operatorname{tr}(Z_1^T A_N(X)^{-1} Z_2)`; with the spectral form of
:math:`A_N` (``multiplier`` derivation) this is :math:`\sum_{ij}\tilde Z_{1,ij}\tilde Z_{2,ij}/a_N(s_i^2,
s_j^2)`, and the gradient :math:`\operatorname{grad}E = A_N\nabla E` satisfies
:math:`g(\operatorname{grad}E, Z) = dE(Z)`, checked symbolically for d = 2 and 3. The metric in the
SVD coordinates :math:`(s, \omega, \theta)` is :math:`J^T A_N^{-1} J` (J the SVD Jacobian), whose
determinant is the square of the volume density.
"""

from __future__ import annotations

import random

import mpmath
from sympy import IndexedBase, Matrix, Sum, simplify, symbols

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    depth_labels,
    depths_tex,
    mp_eval,
    mp_operator_matrix,
    random_orthogonal,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.jacobian import svd_differential
from riemdln.symbolic.derivations.symbols import S_VALUES, N, i, j, r, s
from riemdln.symbolic.functions import dln_multiplier


def riemannian_gradient_check(dim, A):
    r"""Step 1 (SymPy, d = dim): with :math:`\operatorname{grad} E = A_N \nabla E`,
    :math:`g^N(\operatorname{grad} E, Z) = dE(Z)` for every Z; returns the gradient vector."""
    A_inv = A.inv()
    G = Matrix(symbols(f"G1:{dim * dim + 1}", real=True))
    Z = Matrix(symbols(f"Z1:{dim * dim + 1}", real=True))
    grad = A * G
    if simplify((grad.T * A_inv * Z)[0] - (G.T * Z)[0]) != 0:
        raise DerivationError(f"g(grad E, Z) != dE(Z) for d = {dim}")
    return grad


def svd_chart_metric(dim, A):
    r"""Step 2 (SymPy, d = dim): the metric in SVD coordinates :math:`(ds, \omega, \theta)`,
    :math:`J^T A_N^{-1} J` with J the differential of the SVD chart."""
    dX, ds, om, th = svd_differential(S_VALUES[:dim])
    coords = ds + om + th
    J = Matrix([[dX[a, b].diff(c) for c in coords] for a in range(dim) for b in range(dim)])
    return (J.T * A.inv() * J).applyfunc(simplify)


def chart_volume_check(dim, G_svd, vol):
    r"""Step 3 (SymPy): :math:`\det g^N_{(s,\omega,\theta)} = \mathrm{vol}^2` (the volume page's density)."""
    ratio = simplify(G_svd.det() / vol**2)
    if ratio != 1:
        raise DerivationError(f"det of the SVD-coordinate metric is not vol^2 for d = {dim}")
    return ratio


def spectral_metric_forms():
    """Generalization to any d (by hand, the spectral form of A_N): ``(g^N(Z1, Z2), its inverse)`` in Q^T Z R."""
    Z1, Z2 = IndexedBase("Z1"), IndexedBase("Z2")
    return (
        Sum(Z1[i, j] * Z2[i, j] / dln_multiplier(s[i] ** 2, s[j] ** 2, N), (i, 1, r), (j, 1, r)),
        Sum(Z1[i, j] * Z2[i, j] * dln_multiplier(s[i] ** 2, s[j] ** 2, N), (i, 1, r), (j, 1, r)),
    )


@derivation("metric", requires=("multiplier", "volume"), title="The metric $g^N$, its inverse, the Riemannian gradient")
def derive_metric(deps) -> Result:
    exprs = {}
    for dim in (2, 3):
        A = deps["multiplier"][f"spectral_d{dim}"]
        exprs[f"riemannian_gradient_d{dim}"] = riemannian_gradient_check(dim, A)
        G_svd = svd_chart_metric(dim, A)
        exprs[f"metric_svd_d{dim}"] = G_svd
        chart_volume_check(dim, G_svd, deps["volume"][f"volume_density_d{dim}"])
    exprs["metric_spectral"], exprs["inverse_metric_spectral"] = spectral_metric_forms()
    return Result(exprs, {"metric_svd_d2": certify_svd_metric(exprs["metric_svd_d2"])})


def certify_svd_metric(G_svd) -> Check:
    """Certificate (numeric): the Gram matrix of the SVD chart's tangents in tr(Z^T A_N^{-1} Z), mpmath."""
    return _certify_svd_metric(G_svd)


def _certify_svd_metric(G_svd) -> Check:
    """Gram matrix of d/d(s1, s2, omega, theta) of Q e^Omega diag(s) e^(-Theta) R^T in tr(Z^T A_N^{-1} Z)."""
    rnd = random.Random(23)
    worst, count = 0.0, 0
    with mpmath.workdps(50):
        for depth in _DEPTHS:
            sv = sorted((mpmath.mpf(rnd.uniform(0.3, 3.0)) for _ in range(2)), reverse=True)
            Q, R = random_orthogonal(2, rnd), random_orthogonal(2, rnd)
            J2 = mpmath.matrix([[0, -1], [1, 0]])  # Omega = omega (E_21 - E_12), as in the jacobian derivation

            def X(s1v, s2v, om, th, Q=Q, R=R, J2=J2):
                return Q * mpmath.expm(om * J2) * mpmath.diag([s1v, s2v]) * mpmath.expm(-th * J2) * R.T

            point = [sv[0], sv[1], mpmath.mpf(0), mpmath.mpf(0)]
            tangents = []
            for c in range(4):

                def along(eps, c=c, point=point, X=X):
                    p = list(point)
                    p[c] += eps
                    return X(*p)

                h = mpmath.mpf("1e-15")
                tangents.append((along(h) - along(-h)) / (2 * h))
            A_inv = mpmath.inverse(mp_operator_matrix(X(*point), depth))
            vecs = [mpmath.matrix([T[a, b] for a in range(2) for b in range(2)]) for T in tangents]
            G = mpmath.matrix(4, 4)
            for u in range(4):
                for v in range(4):
                    G[u, v] = (vecs[u].T * A_inv * vecs[v])[0]
            formula = G_svd.subs({S_VALUES[0]: sv[0], S_VALUES[1]: sv[1], N: mpmath.mpf(depth)})
            scale = max(abs(G[u, v]) for u in range(4) for v in range(4))
            err = max(abs(mp_eval(formula[u, v], {}) - G[u, v]) for u in range(4) for v in range(4)) / scale
            worst = max(worst, float(err))
            count += 1
    labels = depth_labels(_DEPTHS)
    return Check(
        "Gram matrix of the SVD-coordinate tangents (central differences, h = 1e-15, mpmath 50 digits) "
        f"in tr(Z^T A_N^-1 Z), A_N by its definition at a random rotated X, N = {', '.join(labels)}",
        worst,
        1e-25,
        count,
        latex=(
            r"Gram matrix of the SVD-coordinate tangents (central differences, $h = 10^{-15}$, mpmath 50 digits) in "
            r"$\operatorname{tr}(Z^T A_N^{-1} Z)$, $A_N$ by its definition (fractional matrix powers; the "
            r"Fr\'echet derivative of $t^N$ at non-integer $N$) at a random rotated $X$, " + depths_tex(labels)
        ),
        depths=labels,
    )


_DEPTHS = (1, 2, 3, 5, 1.5, 2.5, 4.5, 7.5)


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="metric_svd_d2",
        derivation="metric",
        key="metric_svd_d2",
        args=(sy.s1, sy.s2, sy.N),
        convention="raw",
        symbol=r"g^N_{(s,\omega,\theta)}",
        title="The metric $g^N$ in SVD coordinates $(ds_1, ds_2, \\omega, \\theta)$, $d = 2$",
        check="metric_svd_d2",
    ),
)
