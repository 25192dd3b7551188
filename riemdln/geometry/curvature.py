r"""Curvature of the DLN metric (docs/theory.md §11).

The scalar curvature at :math:`d = 2` is evaluated through the derived twin of the catalog formula
``scalar_curvature_d2`` (and ``scalar_curvature_infinite_d2``), which is stable through coincident
singular values (the kernel ``csch2gap`` is exact at 0 and the bracket has no cancellation there for N > 1,
so no branch is needed: within 2e-15 of mpmath at and near s₁ = s₂, and equal to the catalog's coincident twin
``scalar_curvature_coincident_d2`` at s₁ = s₂, tests/test_curvature.py). Square d >= 3 and rectangular m×n X,
and every sectional and Ricci curvature, are numeric.
Conventions: raw :math:`g^N`; normalized :math:`\hat g^N = N g^N`, whose scalar curvature is
:math:`R(g^N)/N`; ``depth=math.inf`` is the normalized limit :math:`\hat g^\infty` only, square X only
(:math:`A_\infty` is singular on rectangular matrices). N = 1 is flat (0 at every matrix).

**The chart** :math:`Y = X^{1/N}`. In the entries of X the Christoffel symbols are :math:`O(1/s_{\min})` and the
Riemann tensor, :math:`O(1)`, is a difference of :math:`O(1/s_{\min}^2)` terms: any finite difference there loses
:math:`(s_{\max}/s_{\min})^2` relative (1e-13 times it for the fourth-order stencil used before). With
:math:`X = Q\operatorname{diag}(\mu^N)R^T` for :math:`Y = Q\operatorname{diag}(\mu)R^T` (a diffeomorphism of the
full-rank matrices), :math:`\tilde u = Q^TuR` and its symmetric and skew parts S, A, the pulled-back metric is

.. math::
    G_Y(u, u) = \sum_{a, b} \Bigl[w_{ab} S_{ab}^2 + \frac{A_{ab}^2}{w_{ab}}\Bigr], \qquad
    w_{ab} = \frac{p_{ab}}{q_{ab}} = \frac{\tanh(N\delta_{ab}/2)}{\tanh(\delta_{ab}/2)}, \quad
    \delta_{ab} = \log\frac{\mu_a}{\mu_b}

(:math:`p, q` the divided differences of :math:`\mu \mapsto \mu^N` at :math:`(\mu_a, \mu_b)` and
:math:`(\mu_a, -\mu_b)`, :math:`a_N(s_a^2, s_b^2) = pq`, :math:`w_{aa} = N`; weight 1 on the zero-padded entries
of rectangular Y; times N for :math:`\hat g^N`). Its entries lie between 1/N and N and vary on the scale of the
singular values themselves, up to the rank-deficient set. The curvature is assembled from G_Y, its first and
second derivatives (tenth-order central differences in the frame directions, step 2e-2 times the scale of the
pairs a direction moves, over max(1, N/2)) and the coordinate formula; for integer N the stencils may cross the
rank-deficient set, where G_Y is continued analytically (the last singular value taken with the sign of det).
Directions map into the chart exactly (:math:`S(\tilde u) = S(\tilde U)/p`, :math:`A(\tilde u) = A(\tilde U)/q`).

**Accuracy** (benchmarks/curvature_accuracy.py and tests/test_curvature_conditioning.py, against an mpmath
finite-difference curvature of :math:`G = A_N(X)^{-1}` in the entries of X at 70 digits, stable to the last digit
against 90), relative to :math:`\max(|K|, |R|/(n(n-1)))`, n = mn, for N = 2, 3, 5, 7.5, raw and normalized, both
signs of det and near-coincident singular values: square 2×2 and 3×3 within 4e-10 for
:math:`s_{\max}/s_{\min} \le 10^6` and 4e-9 at :math:`10^8` (the earlier raw-coordinate stencil: 1e-5 at
:math:`10^4`, O(1) from :math:`10^6`). Rectangular m×n (no continuation through the rank drop, where the small
singular value meets the null space in a cone), 2×3: within :math:`\max(2\cdot10^{-8},\ 5\cdot10^{-11}
(s_{\max}/s_{\min})^{2/N})`, the squared ratio of the chart's values :math:`\mu = s^{1/N}` next to the null
directions (measured: 5e-9 up to :math:`10^4` for N >= 3, 5e-8 for N = 2; at :math:`10^6` and :math:`10^8`,
2e-5 and 1.5e-3 for N = 2, 2e-7 and 2e-6 for N = 3, 2e-8 and 1e-7 for N >= 5; 1.2e-8 at one N = 7.5 point at 1e6).
Non-integer N shrinks the steps to stay on the
full-rank side. ``depth=math.inf`` and m·n > 36 use fourth-order differences of the Christoffel form in the entries
of X at diag(s), whose error grows like :math:`10^{-13}(s_{\max}/s_{\min})^2` relative; the numeric scalar
curvature there refuses, before allocating, shapes whose arrays would exceed 1 GiB (about 12 m n³ max(m, n)
doubles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln._validation import RiemdlnValueError, check_full_rank, check_matrix
from riemdln.geometry import _metric as geometry
from riemdln.geometry._metric import conventions
from riemdln.geometry._spectral import spectral_sides
from riemdln.symbolic import _twins

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
            _check_scalar_cost(X.shape)
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
        from riemdln.geometry import geodesics

        return geodesics._gamma_in_frame(self.s, self.M, self.SL, self.SR, U, V)


def _frame_at(X, depth, normalized) -> _Frame:

    Q, s, Rt = np.linalg.svd(X)
    m, n = X.shape
    M, SL, SR = spectral_sides(s, (m, n), depth, normalized)
    E = np.zeros((m * n, m, n))
    E[np.arange(m * n), np.repeat(np.arange(m), n), np.tile(np.arange(n), m)] = np.sqrt(M).ravel()
    return _Frame(Q, Rt, s, M, SL, SR, E, depth, normalized)


def _dgamma(fr: _Frame, dirs, U, V):
    """DGamma[dirs_n](U_nk, V_nk) at D by the 4th-order central stencil: dirs (n, m, n'); U, V (n, K, m, n')."""
    from riemdln.geometry import geodesics

    h = _STEP * fr.s[-1] / np.maximum(np.linalg.norm(dirs, axis=(-2, -1)), 1e-300)
    offsets = np.array([c for c, _ in _STENCIL])
    shape = fr.M.shape
    D = _diag(fr.s, shape)
    Y = D + (offsets[:, None] * h)[:, :, None, None] * dirs  # (4, n, m, n')
    Qy, sy, Rty = np.linalg.svd(Y)
    M, SL, SR = spectral_sides(sy, shape, fr.depth, fr.normalized)
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
    from riemdln.geometry import geodesics

    return geodesics._check(X, others, depth, normalized)


def sectional_curvature(X: ArrayLike, U: ArrayLike, V: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Sectional curvature :math:`K(U, V) = g(R(U, V)V, U)/(g(U,U)g(V,V) - g(U,V)^2)` of :math:`g^N` at m×n X.

    :math:`R(U, V) = \nabla_U\nabla_V - \nabla_V\nabla_U - \nabla_{[U, V]}`; in linear coordinates y with metric
    matrix G, :math:`R_{ijkl} = \tfrac12(G_{jl,ik} + G_{ik,jl} - G_{jk,il} - G_{il,jk}) + \Gamma_{m,jl}\Gamma^m_{ik}
    - \Gamma_{m,il}\Gamma^m_{jk}`. K is invariant under scaling U and V (1e-200 U is fine).
    Conventions as in :func:`scalar_curvature` (``depth=math.inf`` for square X only); N = 1: 0 at every matrix.
    Accuracy (finite N, square, m·n <= 36; the chart :math:`Y = X^{1/N}`): within 4e-10 relative of mpmath up to
    :math:`s_{\max}/s_{\min} = 10^6` and 4e-9 at :math:`10^8`; rectangular m×n within
    :math:`\max(2\cdot10^{-8}, 5\cdot10^{-11}(s_{\max}/s_{\min})^{2/N})`; other cases in the module docstring.

    Parameters
    ----------
    X : array_like, shape (m, n)
        Full-rank matrix (any matrix for N = 1).
    U, V : array_like, shape (m, n)
        Linearly independent directions.
    depth, normalized
        As in :func:`scalar_curvature`.

    Returns
    -------
    float

    Examples
    --------
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
    if _use_chart(X, depth):
        ch = _y_chart(X, depth, normalized)
        G, _Gi, R = _y_riemann(ch)
        u, v = ch.to_chart(U), ch.to_chart(V)
        u = u / math.sqrt(float(u @ G @ u))
        v = v / math.sqrt(float(v @ G @ v))
        cos = float(u @ G @ v)
        if not 1.0 - cos * cos > 1e-14:
            raise RiemdlnValueError("`U` and `V` must be linearly independent (nonzero and not parallel).")
        w = v - cos * u  # Gram-Schmidt in G: the plane's orthonormal pair (u, w / |w|)
        w = w / math.sqrt(float(w @ G @ w))
        return float(np.einsum("ijkl,i,j,k,l->", R, u, w, w, u))
    fr = _frame_at(X, depth, normalized)
    U, V = fr.to_frame(U), fr.to_frame(V)
    den = _independent(U, V, fr.M)
    return float(fr.metric(_riemann(fr, U[None], V[None], V[None])[0], U) / den)


def _use_chart(X, depth) -> bool:
    """The chart Y = X^{1/N} for finite N and m n <= 36; the raw-coordinate stencil otherwise."""
    return math.isfinite(depth) and X.size <= _Y_MAX_ENTRIES


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
    r"""Ricci curvature :math:`\mathrm{Ric}(U, U) = \sum_i g(R(E_i, U)U, E_i)` over a g-orthonormal frame
    :math:`E_i` (in coordinates, :math:`G^{il}R_{ijkl}U^jU^k`; R as in :func:`sectional_curvature`).

    Any full-rank m×n X (square for ``depth=math.inf``; any matrix for N = 1, where it is 0). Accuracy as for
    :func:`sectional_curvature` (the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> print(abs(round(ricci_curvature(np.diag([2.0, 1.0]), np.eye(2), depth=1), 8)))   # N = 1: flat
    0.0
    """
    return _ricci_curvature(X, U, *conventions(depth, normalized))


def _ricci_curvature(X, U, depth, normalized):
    X, depth, normalized, (U,) = _check_frame(X, depth, normalized, [("U", U)])
    if depth == 1.0:
        return 0.0
    if _use_chart(X, depth):
        ch = _y_chart(X, depth, normalized)
        _G, Gi, R = _y_riemann(ch)
        u = ch.to_chart(U)
        return float(np.einsum("il,ijkl,j,k->", Gi, R, u, u))
    fr = _frame_at(X, depth, normalized)
    Us = np.broadcast_to(fr.to_frame(U), fr.E.shape)
    return float(np.sum(fr.metric(_riemann(fr, fr.E, Us, Us), fr.E)))


_MAX_CURVATURE_BYTES = 2**30  # the raw-coordinate scalar curvature's arrays: refused above 1 GiB


def _numeric_scalar_curvature(X, depth, normalized):
    X, depth, normalized, _ = _check_frame(X, depth, normalized, [])
    if _use_chart(X, depth):
        _G, Gi, R = _y_riemann(_y_chart(X, depth, normalized))
        return np.float64(np.einsum("il,jk,ijkl->", Gi, Gi, R))
    return np.float64(_scalar_from_frame(_frame_at(X, depth, normalized)))


def _check_scalar_cost(shape) -> None:
    """Refuse, before allocating, a raw-coordinate scalar curvature whose arrays exceed the documented cap."""
    n = shape[0] * shape[1]
    estimate = 8 * 12 * n**3 * max(shape)  # the stencil's (4, n, 2n, m, n') Christoffel stacks, with temporaries
    if n > _Y_MAX_ENTRIES and estimate > _MAX_CURVATURE_BYTES:
        raise RiemdlnValueError(
            f"`X` of shape {shape} needs about {estimate / 2**30:.3g} GiB for the numeric scalar curvature "
            f"(the cap is {_MAX_CURVATURE_BYTES / 2**30:g} GiB; the cost grows like (m n)^3 max(m, n)); use "
            "sectional_curvature or ricci_curvature on the planes you need."
        )


# ---------------------------------------------------------------------------------------------
# finite N: the chart Y = X^{1/N} (X = Q diag(mu^N) R^T for Y = Q diag(mu) R^T). The pulled-back metric is
#   G_Y(u, u) = sum_{a,b} [w_ab Sym(u~)_ab^2 + Asym(u~)_ab^2 / w_ab],  u~ = Q^T u R,
#   w_ab = p_ab/q_ab = tanh(N delta/2)/tanh(delta/2),  delta = log(mu_a/mu_b)   (w_aa = N),
# p, q the divided differences of mu^N at (mu_a, mu_b) and (mu_a, -mu_b) (a_N(s_a^2, s_b^2) = p q), weight 1 on
# the zero-padded entries of m x n Y. Its entries are bounded (between 1/N and N) and vary on the scale of the
# singular values themselves, up to the rank-deficient set: the O(1/s_min^2) terms that cancel in raw
# coordinates never appear. Curvature from the first and second derivatives of G_Y (sixth-order stencils in
# the directions E_ab of the SVD frame, step 1e-2 times the scale of the pairs E_ab touches; one-sided where a
# central stencil would approach the rank-deficient set), contracted with the Riemann formula in coordinates.
_C10 = ((1, 5.0 / 6), (2, -5.0 / 21), (3, 5.0 / 84), (4, -5.0 / 504), (5, 1.0 / 1260))
_STENCIL10 = tuple((-c, -w) for c, w in reversed(_C10)) + _C10  # tenth-order central first derivative
_Y_STEP = 2e-2
_Y_MAX_ENTRIES = 36  # m n above this: the raw-coordinate stencil (its cost and memory grow like (m n)^4)


def _pad(v, size):
    """v (..., k) padded by zeros to (..., size)."""
    out = np.zeros((*v.shape[:-1], size))
    out[..., : v.shape[-1]] = v
    return out


def _diag(v, shape):
    out = np.zeros(shape)
    out[np.arange(v.size), np.arange(v.size)] = v
    return out


def _tanhc(z):
    """tanh(z)/z, 1 at 0."""
    with np.errstate(invalid="ignore"):
        return np.where(z == 0, 1.0, np.tanh(z) / np.where(z == 0, 1.0, z))


def _pair_weight(mu_a, mu_b, depth):
    r"""w = p/q for (signed) mu_a, mu_b: :math:`	anh(N\delta/2)/	anh(\delta/2)`, :math:`\delta = \log(\mu_a/\mu_b)`
    (N at :math:`\delta = 0`, 1 when one of them is 0); for a negative one (the analytic continuation through the
    rank-deficient set, integer N), :math:`(1 - r^N)(1 + r)/((1 + r^N)(1 - r))`, r the ratio of the smaller to
    the larger magnitude (|r| <= 1), evaluated as tanh(h)·tanh(Nh) (even N) or tanh(h)/tanh(Nh) (odd N) with
    r = -e^{-2h}: exact at r = -1, where the quotient is 0/0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        aa, ab = np.abs(mu_a), np.abs(mu_b)
        delta = np.log(aa) - np.log(ab)
        half = 0.5 * np.where(np.isfinite(delta), delta, 0.0)
        w = depth * _tanhc(depth * half) / _tanhc(half)
        # with r = -e^{-2h} (h = |δ|/2 from the relative gap, log1p: no cancellation as |mu_a| -> |mu_b|) the
        # quotient is tanh(h) tanh(Nh) for even N and tanh(h)/tanh(Nh) for odd N, exact through r = -1
        big, small = np.maximum(aa, ab), np.minimum(aa, ab)
        h = -0.5 * np.log1p((small - big) / np.where(big > 0, big, 1.0))
        odd = depth == round(depth) and round(depth) % 2 == 1
        signed = _tanhc(h) / (depth * _tanhc(depth * h)) if odd else np.tanh(h) * np.tanh(depth * h)
    w = np.where(mu_a * mu_b < 0, signed, w)
    return np.where(np.isfinite(delta), w, 1.0)


def _signed_svd(Y, continue_sign):
    """SVD of stacked m x n Y with the last singular value negative (and Q's last column negated) where the
    leading k x k block has det < 0 and ``continue_sign``: the smooth continuation of the frame of the positive
    diagonal through the rank-deficient set (stencils around a diagonal point only)."""
    Q, mu, Rt = np.linalg.svd(Y)
    if not continue_sign:
        return Q, mu, Rt
    k = mu.shape[-1]
    flip = np.linalg.det(Y[..., :k, :k]) < 0
    if np.any(flip):
        Q = Q.copy()
        mu = mu.copy()
        Q[flip, :, k - 1] *= -1.0
        mu[flip, k - 1] *= -1.0
    return Q, mu, Rt


def _y_metric(Y, depth, normalized, continue_sign=False):
    """G_Y in the entry coordinates (row-major) of the m x n matrices Y (stacked): (..., mn, mn)."""
    m, n = Y.shape[-2:]
    k = min(m, n)
    Q, mu, Rt = _signed_svd(Y, continue_sign)
    mu_r, mu_c = _pad(mu, m), _pad(mu, n)
    w = _pair_weight(mu_r[..., :, None], mu_c[..., None, :], depth)  # (..., m, n); the square block is used
    mn = m * n
    B = np.zeros((*Y.shape[:-2], mn, mn))
    idx = np.arange(mn).reshape(m, n)
    pad = np.ones((m, n), bool)
    pad[:k, :k] = False
    B[..., idx[pad], idx[pad]] = 1.0
    a, b = np.triu_indices(k, 1)
    wab = w[..., a, b]
    ii, jj = idx[a, b], idx[b, a]
    B[..., ii, ii] = B[..., jj, jj] = 0.5 * (wab + 1.0 / wab)
    B[..., ii, jj] = B[..., jj, ii] = 0.5 * (wab - 1.0 / wab)
    dg = idx[np.arange(k), np.arange(k)]
    B[..., dg, dg] = depth
    T = np.einsum("...ic,...dj->...ijcd", Q, Rt).reshape(*Y.shape[:-2], mn, mn)  # vec(Q u~ R^T) = T vec(u~)
    G = T @ B @ np.swapaxes(T, -1, -2)
    return depth * G if normalized else G


@dataclass(frozen=True)
class _Chart:
    """The chart Y at X: X's SVD frame, mu = s^(1/N), and the divided differences p, q of mu -> mu^N."""

    Q: NDArray[np.float64]
    Rt: NDArray[np.float64]
    mu: NDArray[np.float64]
    shape: tuple[int, int]
    depth: float
    normalized: bool

    def to_chart(self, U):
        """The Y-chart components (frame entries, flattened) of the direction U at X: J^{-1} Q^T U R."""
        m, n = self.shape
        k = self.mu.size
        Ut = self.Q.T @ U @ self.Rt.T
        N, mu = self.depth, self.mu
        s = mu**N
        out = np.empty((m, n))
        out[k:, :k] = Ut[k:, :k] / mu ** (N - 1.0)
        out[:k, k:] = Ut[:k, k:] / mu[:, None] ** (N - 1.0)
        blk = Ut[:k, :k]
        # q = (s_a + s_b)/(mu_a + mu_b); p = a_N(s_a^2, s_b^2)/q (diagonal: p = N mu^(N-1))
        q = (s[:, None] + s[None, :]) / (mu[:, None] + mu[None, :])
        a = geometry.unchecked_multiplier((s * s)[:, None], (s * s)[None, :], N, False)
        p = a / q
        sym, asym = 0.5 * (blk + blk.T), 0.5 * (blk - blk.T)
        out[:k, :k] = sym / p + asym / q
        return out.ravel()


def _y_chart(X, depth, normalized) -> _Chart:
    Q, s, Rt = np.linalg.svd(X)
    return _Chart(Q, Rt, s ** (1.0 / depth), X.shape, depth, normalized)


def _y_steps(ch: _Chart):
    """Step per frame direction E_ab: 2e-2 times the scale of the pairs it moves (max(mu_a, mu_b); for the
    smallest diagonal entry of a square matrix, the next larger mu), over max(1, N/2) (w varies on
    delta ~ 2/N). Integer N and square X: the stencils may cross the rank-deficient set (continued analytically,
    :func:`_signed_svd`); otherwise the steps shrink so that they stay on the full-rank side."""
    m, n = ch.shape
    k = ch.mu.size
    mu = ch.mu
    mu_r, mu_c = _pad(mu, m), _pad(mu, n)
    scale = np.maximum(mu_r[:, None], mu_c[None, :])
    square = m == n
    if square and k > 1:  # the smallest diagonal entry moves the pairs with the larger ones
        order = np.argsort(mu)
        scale[order[0], order[0]] = mu[order[1]]
    h = _Y_STEP * scale / max(1.0, ch.depth / 2.0)
    if not _continues(ch):
        reach = max(c for c, _ in _STENCIL10)
        for a in range(k):
            h[a, a] = min(h[a, a], 0.5 * mu[a] / reach)
            for b in range(a + 1, k):
                h[a, b] = h[b, a] = min(h[a, b], 0.5 * math.sqrt(mu[a] * mu[b]) / reach)
    return h.ravel()


def _continues(ch: _Chart) -> bool:
    """Stencils may cross the rank-deficient set (continued analytically) for integer N and square X only: at a
    rectangular rank drop the small singular value meets the null space in a cone (not analytic)."""
    return ch.depth == round(ch.depth) and ch.shape[0] == ch.shape[1]


def _y_derivatives(ch: _Chart):
    """G, dG[k] and ddG[k, l] of G_Y at diag(mu) in the frame-entry coordinates (tenth-order central stencils,
    tensor products for the second derivatives)."""
    m, n = ch.shape
    mn = m * n
    D = _diag(ch.mu, ch.shape).ravel()
    h = _y_steps(ch)
    offsets = np.array([c for c, _ in _STENCIL10], dtype=float)
    weights = np.array([w for _, w in _STENCIL10])
    eye = np.eye(mn)
    one = D[None, None] + (offsets[None, :, None] * h[:, None, None]) * eye[:, None, :]  # (mn, 10, mn)
    k, l = np.triu_indices(mn)
    two = (
        D
        + (offsets[None, :, None, None] * h[k][:, None, None, None]) * eye[k][:, None, None, :]
        + (offsets[None, None, :, None] * h[l][:, None, None, None]) * eye[l][:, None, None, :]
    )  # (pairs, 10, 10, mn)
    pts = np.concatenate([D[None], one.reshape(-1, mn), two.reshape(-1, mn)]).reshape(-1, m, n)
    Gs = _y_metric(pts, ch.depth, ch.normalized, continue_sign=_continues(ch))
    G0 = Gs[0]
    G1 = Gs[1 : 1 + one.shape[0] * one.shape[1]].reshape(mn, weights.size, mn, mn)
    G2 = Gs[1 + one.shape[0] * one.shape[1] :].reshape(k.size, weights.size, weights.size, mn, mn)
    dG = np.einsum("c,kcij->kij", weights, G1) / h[:, None, None]
    Hp = np.einsum("c,d,pcdij->pij", weights, weights, G2) / (h[k] * h[l])[:, None, None]
    H = np.zeros((mn, mn, mn, mn))
    H[k, l] = Hp
    H[l, k] = Hp
    return G0, dG, H


def _y_riemann(ch: _Chart):
    """(G, G^{-1}, R) in the frame-entry coordinates of the chart Y: R[i, j, k, l] = g(R(d_i, d_j) d_k, d_l)."""
    G, dG, H = _y_derivatives(ch)
    Gi = np.linalg.inv(G)
    first = 0.5 * (np.einsum("imj->mij", dG) + np.einsum("jmi->mij", dG) - dG)  # Gam_{m,ij}
    second = np.einsum("mp,pij->mij", Gi, first)  # Gam^m_ij
    R = 0.5 * (
        np.einsum("ikjl->ijkl", H)
        + np.einsum("jlik->ijkl", H)
        - np.einsum("iljk->ijkl", H)
        - np.einsum("jkil->ijkl", H)
    )
    R += np.einsum("mjl,mik->ijkl", first, second) - np.einsum("mil,mjk->ijkl", first, second)
    # exact symmetries (rounding breaks them at 1e-16 |Gamma|^2, which ill-conditioned planes would amplify)
    R = 0.5 * (R - np.swapaxes(R, 0, 1))
    R = 0.5 * (R - np.swapaxes(R, 2, 3))
    R = 0.5 * (R + np.transpose(R, (2, 3, 0, 1)))
    return G, Gi, R
