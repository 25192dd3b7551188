r"""Curvature of the DLN metric (docs/theory.md §11).

The scalar curvature at :math:`d = 2` is evaluated through the derived twin of the catalog formula
``scalar_curvature_d2`` (and ``scalar_curvature_infinite_d2``), which is stable through coincident
singular values (the kernel ``csch2gap``). Conventions: raw :math:`g^N`; normalized
:math:`\hat g^N = N g^N`, whose scalar curvature is :math:`R(g^N)/N`; ``depth=math.inf`` is the
normalized limit :math:`\hat g^\infty` only.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln import _twins
from riemdln._validation import RiemdlnValueError, check_bool, check_depth, check_full_rank, check_matrix

__all__ = ["scalar_curvature", "sectional_curvature", "ricci_curvature"]


def scalar_curvature(X: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Scalar curvature of :math:`g^N` (or :math:`\hat g^N = N g^N`) at a full-rank 2×2 matrix.

    With :math:`X = Q\operatorname{diag}(s_1, s_2)R^T`, :math:`\eta = \log(s_1/s_2)` and
    :math:`c(z) = 1/z^2 - 1/\sinh^2 z`:

    .. math::
        R(g^N) = \frac{\cosh(\eta/N)}{N (s_1 s_2)^{1/N}}\,\bigl[N^2 c(\eta) - c(\eta/N)\bigr],
        \qquad R(\hat g^N) = R(g^N)/N, \qquad R(\hat g^\infty) = c(\eta).

    Derived by SymPy (derivation ``curvature``) and certified against the curvature of the 4×4
    metric matrix :math:`A_N(X)^{-1}` in the entries of X (finite differences, mpmath). Smooth through
    :math:`s_1 = s_2` (value :math:`(N^2-1)/(3N)\,s^{-2/N}`; :math:`1/3` for :math:`\hat g^\infty`).
    Relative accuracy about 1e-15 for :math:`\eta/N \lesssim 5`; beyond, the difference in brackets
    loses about :math:`2\eta/N \log_{10} e` digits.

    Parameters
    ----------
    X : array_like, shape (..., 2, 2)
        Full-rank 2×2 matrices (either sign of det X).
    depth : float
        N >= 1 (real), or ``math.inf`` with ``normalized=True``.
    normalized : bool
        Curvature of :math:`N g^N` instead of :math:`g^N`.

    Returns
    -------
    ndarray, shape (...)

    Raises
    ------
    RiemdlnValueError
        Rank-deficient X (the metric is not defined there), bad depth or shape.

    For square d >= 3 (no closed form), the sum :math:`\sum_{i \ne j} K(E_i, E_j)` of sectional
    curvatures over the g-orthonormal frame :math:`E_{ab} = \sqrt{a_{ab}}\,Q e_a e_b^T R^T` (see
    :func:`sectional_curvature`; about 1e-9 relative accuracy).

    Examples
    --------
    >>> import numpy as np
    >>> print(round(float(scalar_curvature(np.diag([2.0, 1.0]), depth=2)), 12))   # 1/(s1 + s2)
    0.333333333333
    """
    normalized = check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized)
    X = check_matrix(X, "X")
    if X.shape[-2:] != (2, 2):
        if X.shape[-1] == X.shape[-2] and X.ndim == 2:
            return _numeric_scalar_curvature(X, depth, normalized)
        raise RiemdlnValueError(
            f"`X` must be a square matrix (a stack only for 2x2; rectangular X is not supported); got shape {X.shape}."
        )
    s = np.linalg.svd(X, compute_uv=False)
    check_full_rank(s, (2, 2), "X", "the metric (and its curvature) is defined only at full rank")
    s1, s2 = s[..., 0], s[..., 1]
    if math.isinf(depth):
        out = _twins.scalar_curvature_infinite_d2(np.log(s1), np.log(s2))
    else:
        out = _twins.scalar_curvature_d2(s1, s2, depth)
        if normalized:
            out = out / depth
    return np.asarray(out, dtype=float)[()]


# ---------------------------------------------------------------------------------------------
# numeric curvature for any square d: Riemann tensor from the exact Christoffel form and one central
# difference (4th order) of it along X
def _setup(X, depth, normalized):
    from riemdln import geodesics

    return geodesics, geodesics._frame(X, depth, normalized)


def _riemann(X, depth, normalized, U, V, W):
    r"""R(U, V)W = DGamma[U](V, W) - DGamma[V](U, W) + Gamma(U, Gamma(V, W)) - Gamma(V, Gamma(U, W))."""
    geo, frame = _setup(X, depth, normalized)

    def gam(Y, A, B, fr=None):
        return geo._christoffel(Y, depth, normalized, A, B, fr)

    def dgam(dirn, A, B):
        h = 1e-3 * np.linalg.norm(X) / max(np.linalg.norm(dirn), 1e-300)
        vals = [gam(X + c * h * dirn, A, B) for c in (-2, -1, 1, 2)]
        return (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)

    return dgam(U, V, W) - dgam(V, U, W) + gam(X, U, gam(X, V, W, frame), frame) - gam(X, V, gam(X, U, W, frame), frame)


def _metric(X, depth, normalized, A, B):
    from riemdln import geometry

    return float(geometry.metric(X, A, B, depth, normalized))


def _check_square(X, depth, normalized, others):
    """The geodesics module's checks (square, full-rank X; conventions; directions of X's shape)."""
    from riemdln.geodesics import _check

    return _check(X, others, depth, normalized)


def sectional_curvature(X: ArrayLike, U: ArrayLike, V: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Sectional curvature :math:`K(U, V) = g(R(U, V)V, U)/(g(U,U)g(V,V) - g(U,V)^2)` of :math:`g^N` at square X.

    :math:`R(U, V)W = D\Gamma[U](V, W) - D\Gamma[V](U, W) + \Gamma(U, \Gamma(V, W)) - \Gamma(V, \Gamma(U, W))`
    with the exact Christoffel form :func:`riemdln.christoffel` and one fourth-order central difference of
    it along X (about 1e-9 relative accuracy). Conventions as in :func:`scalar_curvature`.

    >>> import numpy as np
    >>> U, V = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    >>> print(abs(round(sectional_curvature(np.diag([2.0, 1.0]), U, V, depth=2), 8)))  # the flat base plane
    0.0
    """
    X, depth, normalized, (U, V) = _check_square(X, depth, normalized, [("U", U), ("V", V)])
    num = _metric(X, depth, normalized, _riemann(X, depth, normalized, U, V, V), U)
    den = (
        _metric(X, depth, normalized, U, U) * _metric(X, depth, normalized, V, V)
        - _metric(X, depth, normalized, U, V) ** 2
    )
    if den <= 0:
        raise RiemdlnValueError("`U` and `V` must be linearly independent.")
    return num / den


def _frame_basis(X, depth, normalized):
    from riemdln import geometry

    Q, s, Rt = np.linalg.svd(X)
    x = s * s
    M = geometry._multiplier(x[:, None], x[None, :], depth, normalized)
    d = X.shape[0]
    basis = []
    for a in range(d):
        for b in range(d):
            E = np.zeros_like(X)
            E[a, b] = math.sqrt(M[a, b])
            basis.append(Q @ E @ Rt)
    return basis


def ricci_curvature(X: ArrayLike, U: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Ricci curvature :math:`\mathrm{Ric}(U, U) = \sum_i g(R(E_i, U)U, E_i)` over a g-orthonormal frame.

    The frame is :math:`E_{ab} = \sqrt{a_N(s_a^2, s_b^2)}\,Q e_a e_b^T R^T` (orthonormal because the metric is
    diagonal in the SVD frame); R as in :func:`sectional_curvature`.

    >>> import numpy as np
    >>> print(abs(round(ricci_curvature(np.diag([2.0, 1.0]), np.eye(2), depth=1), 8)))   # N = 1: flat
    0.0
    """
    X, depth, normalized, (U,) = _check_square(X, depth, normalized, [("U", U)])
    return float(
        sum(
            _metric(X, depth, normalized, _riemann(X, depth, normalized, E, U, U), E)
            for E in _frame_basis(X, depth, normalized)
        )
    )


def _numeric_scalar_curvature(X, depth, normalized):
    X, depth, normalized, _ = _check_square(X, depth, normalized, [])
    basis = _frame_basis(X, depth, normalized)
    total = 0.0
    for p in range(len(basis)):
        for q in range(p + 1, len(basis)):
            E, F = basis[p], basis[q]
            total += 2.0 * _metric(X, depth, normalized, _riemann(X, depth, normalized, E, F, F), E)
    return np.float64(total)
