r"""Lebesgue measure in SVD coordinates: :math:`dX = \prod_{i<j}|s_i^2 - s_j^2|\,ds\,dQ\,dR`.

Parametrize matrices near :math:`Q\,\mathrm{diag}(s) R^T` by :math:`Q e^{\Omega} \mathrm{diag}(s)
e^{-\Theta} R^T` with :math:`\Omega, \Theta` skew in the so(d) coordinates of the basis
:math:`E_{ij} - E_{ji}`. At :math:`\Omega = \Theta = 0` the differential is
:math:`dX = Q(\mathrm{diag}(ds) + \Omega S - S\Theta)R^T`; its Jacobian determinant is computed
symbolically from the full :math:`d^2 \times d^2` matrix for d = 2 and d = 3, and for d = 2 also
from the global angle parametrization. The general-d product follows from the 2×2 block that each
pair (i, j) contributes, which is computed symbolically here too.
"""

from __future__ import annotations

from sympy import Abs, Matrix, Product, cos, factor, simplify, sin, symbols, zeros

from riemdln.symbolic.derivations._engine import DerivationError, Result, derivation
from riemdln.symbolic.derivations.symbols import S_VALUES, i, j, r, s


def _skew(params, dim):
    M = zeros(dim, dim)
    idx = 0
    for a in range(dim):
        for b in range(a + 1, dim):
            M[a, b] = -params[idx]  # coordinate of E_ba - E_ab ... sign convention irrelevant for |det|
            M[b, a] = params[idx]
            idx += 1
    return M


def svd_differential(svals):
    """dX = diag(ds) + Omega S - S Theta at Omega = Theta = 0, with its coordinates (ds, omega, theta)."""
    dim = len(svals)
    npair = dim * (dim - 1) // 2
    ds = symbols(f"ds1:{dim + 1}")
    om = symbols(f"omega1:{npair + 1}")
    th = symbols(f"theta1:{npair + 1}")
    S = Matrix.diag(*svals)
    dX = Matrix.diag(*ds) + _skew(om, dim) * S - S * _skew(th, dim)
    return dX, list(ds), list(om), list(th)


def svd_jacobian(svals):
    """Step (SymPy): det of (ds, omega, theta) -> dX as a d^2 x d^2 matrix (rows: entries of dX)."""
    dim = len(svals)
    dX, ds, om, th = svd_differential(svals)
    coords = ds + om + th
    J = Matrix([[dX[a, b].diff(c) for c in coords] for a in range(dim) for b in range(dim)])
    return factor(J.det())


@derivation("jacobian", title="Lebesgue measure in SVD coordinates (the SVD Jacobian)")
def derive_jacobian(deps) -> Result:
    exprs = {}
    for dim in (2, 3):
        svals = S_VALUES[:dim]
        det = svd_jacobian(svals)
        expected = 1
        for a in range(dim):
            for b in range(a + 1, dim):
                expected *= svals[a] ** 2 - svals[b] ** 2
        if simplify(Abs(det) - Abs(expected)) != 0 and simplify(det**2 - expected**2) != 0:
            raise DerivationError(f"SVD Jacobian for d = {dim} is {det}")
        exprs[f"jacobian_d{dim}"] = Abs(factor(expected))

    # d = 2 globally: X(s1, s2, phi, psi) = R(phi) diag(s) R(psi)^T
    phi, psi = symbols("phi psi", real=True)
    s1, s2 = S_VALUES[:2]

    def rot(a):
        return Matrix([[cos(a), -sin(a)], [sin(a), cos(a)]])

    X = rot(phi) * Matrix.diag(s1, s2) * rot(psi).T
    J = Matrix([[X[a, b].diff(c) for c in (s1, s2, phi, psi)] for a in range(2) for b in range(2)])
    global_det = simplify(J.det())
    if simplify(global_det**2 - (s1**2 - s2**2) ** 2) != 0:
        raise DerivationError(f"global d = 2 Jacobian is {global_det}")

    # each pair (i, j) contributes the block (omega_ij, theta_ij) -> (dX_ij, dX_ji)
    si, sj = symbols("s_i s_j", positive=True)
    dX, _, om, th = svd_differential((si, sj))
    block = Matrix([[dX[a, b].diff(c) for c in (om[0], th[0])] for (a, b) in ((0, 1), (1, 0))])
    block_det = factor(block.det())
    if simplify(block_det**2 - (si**2 - sj**2) ** 2) != 0:
        raise DerivationError(f"pair block determinant is {block_det}")
    exprs["jacobian_general"] = Product(Product(Abs(s[i] ** 2 - s[j] ** 2), (j, i + 1, r)), (i, 1, r))
    exprs["pair_block_det"] = Abs(si**2 - sj**2)
    return Result(exprs)
