r"""Curvature of the DLN metric (docs/theory.md §11).

The scalar curvature at :math:`d = 2` is evaluated through the derived twin of the catalog formula
``scalar_curvature_d2`` (and ``scalar_curvature_infinite_d2``), which is stable through coincident
singular values (the kernel ``csch2gap`` is exact at 0 and the bracket has no cancellation there for N > 1,
so no branch is needed: within 2e-15 of mpmath at and near s₁ = s₂, and equal to the catalog's coincident twin
``scalar_curvature_coincident_d2`` at s₁ = s₂, tests/test_curvature.py). Square d >= 3 and rectangular m×n X
(finite N) are numeric (the Riemann tensor at diag(s) in the SVD frame, see :func:`sectional_curvature`).
Conventions: raw :math:`g^N`; normalized :math:`\hat g^N = N g^N`, whose scalar curvature is
:math:`R(g^N)/N`; ``depth=math.inf`` is the normalized limit :math:`\hat g^\infty` only, square X only
(:math:`A_\infty` is singular on rectangular matrices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln import _twins
from riemdln._validation import RiemdlnValueError, check_full_rank, check_matrix
from riemdln.geometry import conventions

__all__ = ["scalar_curvature", "sectional_curvature", "ricci_curvature"]


def scalar_curvature(X: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Scalar curvature of :math:`g^N` (or :math:`\hat g^N = N g^N`) at full-rank matrices.

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

    For square d >= 3 and for rectangular m×n X (no closed form), the sum :math:`\sum_{i \ne j} K(E_i, E_j)`
    of sectional curvatures over the g-orthonormal frame :math:`E_{ab} = \sqrt{a_{ab}}\,Q e_a e_b^T R^T`,
    :math:`a_{ab} = a_N(x_a, z_b)` with x, z the squared singular values padded by zeros to lengths m, n (see
    :func:`sectional_curvature`; one batched evaluation, about 4 ms per point at d = 3; within 1e-10
    relative of the mpmath finite-difference reference at the points tested, 2×3 and 3×2 included).
    ``depth=math.inf`` needs square X (:math:`A_\infty` is singular on rectangular matrices).

    Parameters
    ----------
    X : array_like, shape (..., 2, 2) or (m, n)
        Full-rank 2×2 matrices (either sign of det X), or one full-rank m×n matrix (numeric unless 2×2).
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

    Examples
    --------
    >>> import numpy as np
    >>> print(round(float(scalar_curvature(np.diag([2.0, 1.0]), depth=2)), 12))   # 1/(s1 + s2)
    0.333333333333
    """
    return _scalar_curvature(X, *conventions(depth, normalized))


def _scalar_curvature(X, depth, normalized):
    X = check_matrix(X, "X")
    if X.shape[-2:] != (2, 2) and X.ndim != 2:
        raise RiemdlnValueError(f"`X` must be one m x n matrix (a stack only for 2x2); got shape {X.shape}.")
    if depth == 1.0:  # A_1 = identity: the Euclidean metric, flat at every matrix
        return np.zeros(X.shape[:-2])[()]
    if X.shape[-2:] != (2, 2):
        if X.ndim == 2:
            return _numeric_scalar_curvature(X, depth, normalized)
        raise RiemdlnValueError(f"`X` must be one m x n matrix (a stack only for 2x2); got shape {X.shape}.")
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
# numeric curvature for any full-rank m x n X. X -> Q X R^T is an isometry for orthogonal Q, R, so everything is
# computed at D = diag(s) (m x n; directions rotated into the SVD frame once). There the orthonormal frame is
# E_ab = sqrt(M_ab) e_a e_b^T, g(W, E_ab) = W_ab / sqrt(M_ab), and the Riemann tensor is assembled from the
# exact Christoffel form (batched over pairs) and one 4th-order central difference of it along X:
#   R(U, V)W = DGamma[U](V, W) - DGamma[V](U, W) + Gamma(U, Gamma(V, W)) - Gamma(V, Gamma(U, W)).
_STENCIL = ((-2.0, 1.0), (-1.0, -8.0), (1.0, 8.0), (2.0, -1.0))  # (offset c, weight w): sum w f(x + c h) / 12 h
# h = 1e-3 s_min / ||direction||_F: the scale on which Gamma varies is the smallest singular value (a step
# relative to ||X|| lost 5 digits at s = (1.7, 0.36, 0.028)); measured error <= 1e-10 relative against mpmath
_STEP = 1e-3


@dataclass(frozen=True)
class _Frame:
    """X's full SVD frame: Q, Rt (X = Q D Rt, D = diag(s) m x n), the spectral arrays M, SL, SR at D, the
    basis E (m*n, m, n)."""

    Q: NDArray[np.float64]
    Rt: NDArray[np.float64]
    s: NDArray[np.float64]
    M: NDArray[np.float64]
    SL: NDArray[np.float64]
    SR: NDArray[np.float64]
    E: NDArray[np.float64]
    depth: float
    normalized: bool

    def to_frame(self, U):
        """Q^T U R: a direction at X as a direction at D."""
        return self.Q.T @ U @ self.Rt.T

    def coords(self, W):
        """g(W, E_ab) for W at D, flattened over (a, b): shape (..., d*d)."""
        return (W / np.sqrt(self.M)).reshape(*W.shape[:-2], -1)

    def metric(self, A, B):
        """g_D(A, B) = sum A * B / M over the last two axes."""
        return np.sum(A * B / self.M, axis=(-2, -1))

    def gamma(self, U, V):
        """Gamma_D(U, V) (broadcast over leading axes)."""
        from riemdln import geodesics

        return geodesics._gamma_in_frame(self.s, self.M, self.SL, self.SR, U, V)


def _frame_at(X, depth, normalized) -> _Frame:
    from riemdln import geodesics  # lazily: it loads scipy.integrate

    Q, s, Rt = np.linalg.svd(X)
    m, n = X.shape
    M, SL, SR = geodesics._spectral_sides(s, (m, n), depth, normalized)
    E = np.zeros((m * n, m, n))
    E[np.arange(m * n), np.repeat(np.arange(m), n), np.tile(np.arange(n), m)] = np.sqrt(M).ravel()
    return _Frame(Q, Rt, s, M, SL, SR, E, depth, normalized)


def _dgamma(fr: _Frame, dirs, U, V):
    """DGamma[dirs_n](U_nk, V_nk) at D by the 4th-order central stencil: dirs (n, m, n'); U, V (n, K, m, n')."""
    from riemdln import geodesics

    h = _STEP * fr.s[-1] / np.maximum(np.linalg.norm(dirs, axis=(-2, -1)), 1e-300)
    offsets = np.array([c for c, _ in _STENCIL])
    shape = fr.M.shape
    D = geodesics._diag(fr.s, shape)
    Y = D + (offsets[:, None] * h)[:, :, None, None] * dirs  # (4, n, m, n')
    Qy, sy, Rty = np.linalg.svd(Y)
    M, SL, SR = geodesics._spectral_sides(sy, shape, fr.depth, fr.normalized)
    Qt, R = np.swapaxes(Qy, -1, -2)[:, :, None], np.swapaxes(Rty, -1, -2)[:, :, None]
    sb, Mb, SLb = sy[:, :, None], M[:, :, None], SL[:, :, None]
    SRb = SR[:, :, None]  # a view; the square path never reads it
    G = Qy[:, :, None] @ geodesics._gamma_in_frame(sb, Mb, SLb, SRb, Qt @ U @ R, Qt @ V @ R) @ Rty[:, :, None]
    weights = np.array([w for _, w in _STENCIL])
    return np.einsum("c,cnkab->nkab", weights, G) / (12.0 * h)[:, None, None, None]


def _riemann(fr: _Frame, A, B, C):
    """R(A_k, B_k) C_k at D for stacks A, B, C of shape (K, d, d)."""
    dG = _dgamma(fr, np.concatenate([A, B]), np.concatenate([B, A])[:, None], np.concatenate([C, C])[:, None])
    K = A.shape[0]
    inner = fr.gamma(np.concatenate([B, A]), np.concatenate([C, C]))  # Gamma(B, C), Gamma(A, C)
    outer = fr.gamma(np.concatenate([A, B]), inner)  # Gamma(A, Gamma(B, C)), Gamma(B, Gamma(A, C))
    return dG[:K, 0] - dG[K:, 0] + outer[:K] - outer[K:]


def _scalar_from_frame(fr: _Frame) -> float:
    r"""\sum_{p, q} g(R(E_p, E_q)E_q, E_p), the derivative terms sharing one stencil per direction E_r."""
    E = fr.E
    n = E.shape[0]
    # per direction r: pairs (E_q, E_q) for every q, then (E_p, E_r) for every p
    U = np.concatenate([np.broadcast_to(E, (n, n, *E.shape[1:])), np.broadcast_to(E[None], (n, *E.shape))], axis=1)
    V = np.concatenate([U[:, :n], np.broadcast_to(E[:, None], (n, *E.shape))], axis=1)
    c = fr.coords(_dgamma(fr, E, U, V))  # (r, pair, coordinate)
    r = np.arange(n)
    deriv = np.sum(c[r, :n, r]) - np.sum(np.einsum("rpp->r", c[:, n:, :]))
    Gc = fr.coords(fr.gamma(E[:, None], E[None, :]))  # Gc[p, q, t] = g(Gamma(E_p, E_q), E_t)
    return float(deriv + np.einsum("qqt,ptp->", Gc, Gc) - np.einsum("pqt,qtp->", Gc, Gc))


def _check_frame(X, depth, normalized, others):
    """The geodesics module's checks (one full-rank m x n X, square for depth=math.inf; conventions; directions
    of X's shape)."""
    from riemdln import geodesics

    return geodesics._check(X, others, depth, normalized)


def sectional_curvature(X: ArrayLike, U: ArrayLike, V: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Sectional curvature :math:`K(U, V) = g(R(U, V)V, U)/(g(U,U)g(V,V) - g(U,V)^2)` of :math:`g^N` at m×n X.

    :math:`R(U, V)W = D\Gamma[U](V, W) - D\Gamma[V](U, W) + \Gamma(U, \Gamma(V, W)) - \Gamma(V, \Gamma(U, W))`
    with the exact Christoffel form :func:`riemdln.christoffel` and one fourth-order central difference of
    it along X (about 1e-9 relative accuracy), computed at :math:`\operatorname{diag}(s)` in the SVD frame
    (:math:`X \mapsto QXR^T` is an isometry; for m×n X the frame is the full SVD and diag(s) is m×n).
    Conventions as in :func:`scalar_curvature` (``depth=math.inf`` for square X only).

    >>> import numpy as np
    >>> U, V = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    >>> print(abs(round(sectional_curvature(np.diag([2.0, 1.0]), U, V, depth=2), 8)))  # the flat base plane
    0.0
    """
    return _sectional_curvature(X, U, V, *conventions(depth, normalized))


def _sectional_curvature(X, U, V, depth, normalized):
    X, depth, normalized, (U, V) = _check_frame(X, depth, normalized, [("U", U), ("V", V)])
    U, V = _unit_max(U, "U"), _unit_max(V, "V")  # K is scale invariant: 1e-200 U or 1e200 U are fine
    if depth == 1.0:
        _independent(U, V, np.ones(X.shape))
        return 0.0
    fr = _frame_at(X, depth, normalized)
    U, V = fr.to_frame(U), fr.to_frame(V)
    den = _independent(U, V, fr.M)
    return float(fr.metric(_riemann(fr, U[None], V[None], V[None])[0], U) / den)


def _unit_max(U, name):
    """U / max|U_ij| (largest entry 1); a zero direction is refused."""
    top = float(np.max(np.abs(U)))
    if top == 0.0:
        raise RiemdlnValueError(f"`{name}` must be a nonzero direction.")
    return U / top


def _independent(u, v, M):
    """g(u,u) g(v,v) - g(u,v)^2 for g = sum A B / M, u and v scaled to largest entry 1 (:func:`_unit_max`);
    refuses (numerically) parallel directions."""
    uu, vv, uv = (float(np.sum(A * B / M)) for A, B in ((u, u), (v, v), (u, v)))
    den = uu * vv - uv * uv
    if not den > 1e-14 * uu * vv:
        raise RiemdlnValueError("`U` and `V` must be linearly independent (nonzero and not parallel).")
    return den


def _frame_basis(X, depth, normalized):
    """The g-orthonormal frame E_ab = sqrt(a_N(x_a, z_b)) Q e_a e_b^T R^T at X, as a list (row-major in (a, b))."""
    fr = _frame_at(X, depth, normalized)
    return list(fr.Q @ fr.E @ fr.Rt)


def ricci_curvature(X: ArrayLike, U: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Ricci curvature :math:`\mathrm{Ric}(U, U) = \sum_i g(R(E_i, U)U, E_i)` over a g-orthonormal frame.

    The frame is :math:`E_{ab} = \sqrt{a_N(x_a, z_b)}\,Q e_a e_b^T R^T` (x, z: the squared singular values
    padded by zeros to lengths m, n; orthonormal because the metric is diagonal in the SVD frame); R as in
    :func:`sectional_curvature`, all :math:`mn` terms in one batch. Any full-rank m×n X (square for
    ``depth=math.inf``).

    >>> import numpy as np
    >>> print(abs(round(ricci_curvature(np.diag([2.0, 1.0]), np.eye(2), depth=1), 8)))   # N = 1: flat
    0.0
    """
    return _ricci_curvature(X, U, *conventions(depth, normalized))


def _ricci_curvature(X, U, depth, normalized):
    X, depth, normalized, (U,) = _check_frame(X, depth, normalized, [("U", U)])
    if depth == 1.0:
        return 0.0
    fr = _frame_at(X, depth, normalized)
    Us = np.broadcast_to(fr.to_frame(U), fr.E.shape)
    return float(np.sum(fr.metric(_riemann(fr, fr.E, Us, Us), fr.E)))


def _numeric_scalar_curvature(X, depth, normalized):
    X, depth, normalized, _ = _check_frame(X, depth, normalized, [])
    return np.float64(_scalar_from_frame(_frame_at(X, depth, normalized)))
