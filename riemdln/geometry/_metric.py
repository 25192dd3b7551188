r"""The DLN metric :math:`g^N`, its operator :math:`A_N`, volume forms and fibre entropy — numerically.

Every function takes a ``depth`` :math:`N` (any real :math:`N \ge 1`, or ``math.inf``) and a
``normalized`` flag choosing the convention (docs/theory.md §3):

* raw (``normalized=False``): :math:`g^N_X(Z_1, Z_2) = \operatorname{tr}(Z_1^T A_N(X)^{-1} Z_2)`,
  the metric whose gradient flow is what gradient flow on the factors produces (time :math:`t`);
* normalized (``normalized=True``): :math:`\hat g^N = N g^N`, operator :math:`A_N/N`, time
  :math:`\tau = N t`. Only this convention has the limit :math:`N = \infty`
  (multiplier :math:`L(x, y)`, the logarithmic mean).

All of them cost one SVD and evaluate the spectral multipliers through the stable numeric twins
(:mod:`riemdln.symbolic._twins`, lambdified from the derived formulas); no fractional matrix power is formed.
"""

from __future__ import annotations

import math
from numbers import Integral as numbers_Integral

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln._validation import (
    RiemdlnValueError,
    check_bool,
    check_broadcast,
    check_depth,
    check_finite_array,
    check_full_rank,
    check_matrix,
    check_nonnegative,
    check_same_shape,
    rank_tolerance,
    short,
)
from riemdln.symbolic import _twins, kernels

__all__ = [
    "multiplier",
    "log_multiplier",
    "apply_A",
    "apply_A_inverse",
    "metric",
    "riemannian_gradient",
    "induced_log_volume_density",
    "volume_density",
    "log_volume_density",
    "entropy",
    "orthogonal_group_volume",
]


def unchecked_log_multiplier(x, y, depth: float, normalized: bool):
    if normalized:
        return _twins.log_multiplier_normalized(x, y, depth)
    return _twins.log_multiplier(x, y, depth)


_SAFE_LOW, _SAFE_HIGH = 1e-150, 1e150


def _log_multiplier_of_singular_values(si, sj, depth: float, normalized: bool):
    """log a(s_i^2, s_j^2) for singular values anywhere in the double range (s^2 may over/underflow).

    Exact rescaling by a power of two: a_N(4^e x, 4^e y) = 4^{e (N-1)/N} a_N(x, y) (degree 1 for L),
    with 2^e the binary exponent of max(s_i, s_j), so the kernel sees arguments in [0, 1). Where the
    ratio eps = y/x of the rescaled arguments is below the smallest normal double (s ratio < 1e-154),
    the exact closed forms with eps = 0 are used: a_N = x^{(N-1)/N}/(1 - eps^{1/N}),
    L = x/(log x - log y).
    """
    si, sj = np.broadcast_arrays(np.asarray(si, dtype=float), np.asarray(sj, dtype=float))
    if si.size and _SAFE_LOW < min(si.min(), sj.min()) and max(si.max(), sj.max()) < _SAFE_HIGH:
        return unchecked_log_multiplier(si * si, sj * sj, depth, normalized)  # s^2 is an exact-range double
    big, small = np.maximum(si, sj), np.minimum(si, sj)
    _, e = np.frexp(big)
    ti, tj = np.ldexp(si, -e), np.ldexp(sj, -e)
    out = unchecked_log_multiplier(ti * ti, tj * tj, depth, normalized)
    with np.errstate(divide="ignore"):
        log_eps = 2.0 * (np.log(small) - np.log(np.where(big > 0, big, 1.0)))
        extreme = (small > 0) & (log_eps < math.log(np.finfo(float).tiny) + 2.0)
        if np.any(extreme):
            lx = np.where(extreme, 2.0 * np.log(np.where(big > 0, big, 1.0)), 0.0)
            le = np.where(extreme, log_eps, -1.0)
            if math.isinf(depth):
                tail = lx - np.log(-le)
            else:
                tail = (1.0 - 1.0 / depth) * lx - np.log1p(-np.exp(le / depth))
                if normalized:
                    tail = tail - math.log(depth)
        else:
            tail = 0.0
    degree = 1.0 if math.isinf(depth) else 1.0 - 1.0 / depth
    scaled = degree * 2.0 * e * math.log(2.0) + out
    return np.where(extreme, tail, scaled)


def unchecked_multiplier(x, y, depth: float, normalized: bool):
    if math.isinf(depth):
        return _twins.multiplier_infinite(x, y)
    if normalized:
        return _twins.multiplier_normalized(x, y, depth)
    return _twins.multiplier(x, y, depth)


_SLOPE_CLOSE = 1e-4  # |log x2 - log x1| below which the slope comes from the log-derivative (see below)


def _exprel(z):
    """(e^z - 1)/z, 1 at 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(z == 0, 1.0, np.expm1(z) / np.where(z == 0, 1.0, z))


def log_multiplier_log_derivative(delta, depth: float):
    r"""psi' = d log a(x, y) / d log x at delta = log x - log y (raw and normalized alike).

    From the sinhc form: :math:`(N-1)/(2N) + \mathcal L(\delta/2)/2 - \mathcal L(\delta/(2N))/(2N)`, and
    :math:`(1 + \mathcal L(\delta/2))/2` at N = inf, with :math:`\mathcal L` the Langevin function.
    """
    half = 0.5 * kernels.langevin_function(0.5 * delta)
    if math.isinf(depth):
        return 0.5 + half
    return (depth - 1.0) / (2.0 * depth) + half - kernels.langevin_function(0.5 * delta / depth) / (2.0 * depth)


def unchecked_multiplier_slope(x1, x2, y, depth: float, normalized: bool):
    r"""Divided difference :math:`(a(x_2, y) - a(x_1, y))/(x_2 - x_1)`, :math:`\partial_x a(x_1, y)` at x1 = x2.

    Unchecked; a building block of :func:`riemdln.flows.end_to_end_jacobian`. Apart, the quotient of two
    multipliers; within :math:`|h| < 10^{-4}`, :math:`h = \log(x_2/x_1)`, the exact identity
    :math:`a_1 (e^{\Delta\psi} - 1) / (x_1 (e^h - 1))` with :math:`\Delta\psi = \log a_2 - \log a_1 =
    h\,\psi'(\bar u) + O(h^3)` from the log-derivative at the log-midpoint. Measured against mpmath
    (tests/test_jacobian.py): absolute error below 2e-11 :math:`(a(x_1, y)/x_1 + a(x_2, y)/x_2)`; the relative
    error can be larger where the slope itself is tiny against that scale (:math:`x \ll y`). Both zero: 0
    (every use multiplies it by 0).
    """
    x1, x2, y = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x1, x2, y)))
    a1 = unchecked_multiplier(x1, y, depth, normalized)
    a2 = unchecked_multiplier(x2, y, depth, normalized)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u1, u2 = np.log(x1), np.log(x2)
        both = (x1 > 0) & (x2 > 0)
        h = np.where(both, u2 - u1, np.inf)
        close = np.abs(h) < _SLOPE_CLOSE
        far = (a2 - a1) / np.where(close | (x2 == x1), 1.0, x2 - x1)
        hc = np.where(close, h, 0.0)
        delta = np.where(close, 0.5 * (u1 + u2) - np.log(y), 0.0)
        dpsi = log_multiplier_log_derivative(delta, depth)
        near = (a1 / np.where(close, x1, 1.0)) * dpsi * _exprel(hc * dpsi) / _exprel(hc)
        out = np.where(close, near, far)
    return np.where((x1 == 0) & (x2 == 0), 0.0, out)


def multiplier(x: ArrayLike, y: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Spectral multiplier :math:`a_N(x, y)` of the DLN operator :math:`A_N`.

    .. math::

        a_N(x, y) = \sum_{k=1}^{N} x^{(N-k)/N} y^{(k-1)/N}
                  = \frac{x - y}{x^{1/N} - y^{1/N}}, \qquad a_N(x, x) = N x^{(N-1)/N}.

    Parameters
    ----------
    x, y : array_like
        Squared singular values :math:`s_i^2, s_j^2` (finite, >= 0); broadcast together.
    depth : float or math.inf
        Depth :math:`N \ge 1`, any real. ``math.inf`` requires ``normalized=True``.
    normalized : bool, optional
        Return :math:`a_N/N` (the :math:`\hat g^N = N g^N` convention); at ``depth=math.inf`` this is
        the logarithmic mean :math:`L(x, y) = (x - y)/(\log x - \log y)`. Default False.

    Returns
    -------
    ndarray
        The multiplier, broadcast shape of ``x`` and ``y``; relative error <= 1e-12 against mpmath.

    Raises
    ------
    ValueError
        For negative or non-finite ``x``/``y``, ``depth < 1``, or ``depth=math.inf`` without
        ``normalized=True``.

    Notes
    -----
    Evaluated in the sinhc form of docs/theory.md §4 (exact through :math:`x = y` and at zero);
    symbolic twin: :class:`riemdln.symbolic.functions.dln_multiplier`.

    Examples
    --------
    >>> print(round(float(multiplier(4.0, 1.0, depth=2)), 12))       # (4 - 1)/(2 - 1)
    3.0
    >>> print(round(float(multiplier(2.0, 2.0, depth=3)), 12))       # N x^((N-1)/N)
    4.762203155905
    >>> print(round(float(multiplier(2.0, 1.0, depth=math.inf, normalized=True)), 12))   # 1/log 2
    1.442695040889
    """
    return _checked_multiplier(x, y, *conventions(depth, normalized))


def _checked_multiplier(x: ArrayLike, y: ArrayLike, depth: float, normalized: bool):
    x = check_nonnegative(x, "x")
    y = check_nonnegative(y, "y")
    check_broadcast(x=x, y=y)
    return np.asarray(unchecked_multiplier(x, y, depth, normalized))[()]


def log_multiplier(x: ArrayLike, y: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Natural log of :func:`multiplier`, for magnitudes where :math:`a_N` over- or underflows.

    ``-inf`` where the multiplier vanishes (:math:`a_N(0, 0)` for :math:`N > 1`; :math:`L(x, 0)`).

    >>> print(log_multiplier(1e300, 1e300, depth=1e6, normalized=True) > 690)
    True
    """
    return _checked_log_multiplier(x, y, *conventions(depth, normalized))


def _checked_log_multiplier(x: ArrayLike, y: ArrayLike, depth: float, normalized: bool):
    x = check_nonnegative(x, "x")
    y = check_nonnegative(y, "y")
    check_broadcast(x=x, y=y)
    return np.asarray(unchecked_log_multiplier(x, y, depth, normalized))[()]


def _svd_multipliers(X: np.ndarray, depth: float, normalized: bool):
    """Full SVD of X (stacked) and the (..., m, n) multiplier matrix a(s_i^2, s_j^2), s padded by 0."""
    m, n = X.shape[-2:]
    Q, s, Rt = np.linalg.svd(X, full_matrices=True)
    k = min(m, n)
    # singular values below numpy's rank tolerance are rounding noise of exact zeros: without this, a
    # rank-deficient X gets a(s^2, ~1e-32) instead of a(s^2, 0), off by 1/log(1e32) ~ 1 % at N = inf
    s = np.where(s > rank_tolerance(s, (m, n)), s, 0.0)
    sx = np.zeros(X.shape[:-2] + (m,))
    sy = np.zeros(X.shape[:-2] + (n,))
    sx[..., :k] = s
    sy[..., :k] = s
    positive = s[s > 0]
    if positive.size == 0 or (positive.min() > 1e-150 and positive.max() < 1e150):
        # fast path: s^2 and the multipliers are comfortably inside the double range
        M = unchecked_multiplier((sx * sx)[..., :, None], (sy * sy)[..., None, :], depth, normalized)
    else:
        # s^2 would over- or underflow: exact rescaling in log space
        M = np.exp(_log_multiplier_of_singular_values(sx[..., :, None], sy[..., None, :], depth, normalized))
    return Q, s, Rt, np.asarray(M)


def _rotate_in(Q, Rt, Z):
    return np.swapaxes(Q, -1, -2) @ Z @ np.swapaxes(Rt, -1, -2)


def conventions(depth: object, normalized: object) -> tuple[float, bool]:
    """``(depth, normalized)`` checked once: a bool, and N >= 1 real or ``math.inf`` (normalized only).

    Every public function taking a depth calls this and then its private twin, which trusts its conventions
    (so :class:`riemdln.DLNMetric`, which calls this once at construction, calls the same twins).
    """
    normalized = check_bool(normalized, "normalized")
    return check_depth(depth, normalized), normalized


def _prepare(X, depth, normalized, others=()):
    X = check_matrix(X, "X")
    arrs = []
    for name, Z in others:
        Z = check_matrix(Z, name)
        check_same_shape(Z, X, name, "X")
        arrs.append(Z)
    return X, depth, normalized, arrs


def apply_A(X: ArrayLike, Z: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Apply the DLN operator: :math:`A_N(X) Z = \sum_{k=1}^{N} (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}`.

    Through one SVD :math:`X = Q\,\mathrm{diag}(s) R^T` (``s`` padded by zeros):
    :math:`(Q^T A_N(X) Z R)_{ij} = a_N(s_i^2, s_j^2) (Q^T Z R)_{ij}`. Normalized: :math:`A_N/N`,
    and :math:`A_\infty(X) Z = \int_0^1 (XX^T)^{1-t} Z (X^TX)^t\,dt` (multiplier :math:`L`).

    Parameters
    ----------
    X : array_like, shape (..., m, n)
        Any real matrix (rank-deficient included), or a stack of them. Singular values at or below
        numpy's rank tolerance ``max(m, n) * eps * s_max`` are taken as exact zeros.
    Z : array_like, shape (..., m, n)
        Direction (for example :math:`\nabla E(X)`).
    depth, normalized
        As in :func:`multiplier`.

    Returns
    -------
    ndarray, shape (..., m, n)

    Examples
    --------
    >>> X = np.diag([2.0, 1.0]); Z = np.array([[0.0, 1.0], [0.0, 0.0]])
    >>> print(round(apply_A(X, Z, depth=2)[0, 1], 12))        # a_2(4, 1) = 3
    3.0
    """
    return _apply_A(X, Z, *conventions(depth, normalized))


def _apply_A(X: ArrayLike, Z: ArrayLike, depth: float, normalized: bool):
    X, depth, normalized, (Z,) = _prepare(X, depth, normalized, [("Z", Z)])
    Q, _, Rt, M = _svd_multipliers(X, depth, normalized)
    return Q @ (M * _rotate_in(Q, Rt, Z)) @ Rt


def apply_A_inverse(X: ArrayLike, Z: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Apply :math:`A_N(X)^{-1}` (full-rank X): divide by :math:`a_N(s_i^2, s_j^2)` in the SVD frame.

    >>> X = np.diag([2.0, 1.0]); Z = np.array([[0.0, 3.0], [0.0, 0.0]])
    >>> print(round(apply_A_inverse(X, Z, depth=2)[0, 1], 12))
    1.0
    """
    return _apply_A_inverse(X, Z, *conventions(depth, normalized))


def _apply_A_inverse(X: ArrayLike, Z: ArrayLike, depth: float, normalized: bool):
    X, depth, normalized, (Z,) = _prepare(X, depth, normalized, [("Z", Z)])
    Q, s, Rt, M = _svd_multipliers(X, depth, normalized)
    _check_metric_defined(s, X.shape[-2:], depth)
    return Q @ (_rotate_in(Q, Rt, Z) / M) @ Rt


def _check_metric_defined(s, shape, depth):
    if depth == 1.0:  # A_1 is the identity: the Euclidean metric, defined at every matrix
        return
    check_full_rank(s, shape, "X")
    if math.isinf(depth) and shape[0] != shape[1]:
        raise RiemdlnValueError(
            f"`depth=math.inf` needs a square `X` for the metric: L(s^2, 0) = 0 makes A_inf singular on "
            f"{shape[0]}x{shape[1]} matrices (apply_A accepts them)."
        )


def metric(X: ArrayLike, Z1: ArrayLike, Z2: ArrayLike, depth: float, normalized: bool = False):
    r"""The DLN metric :math:`g^N_X(Z_1, Z_2) = \operatorname{tr}(Z_1^T A_N(X)^{-1} Z_2)` at full-rank X.

    In the SVD frame: :math:`g^N_X(Z_1, Z_2) = \sum_{ij} \tilde Z_{1,ij}\tilde Z_{2,ij}/a_N(s_i^2, s_j^2)`,
    :math:`\tilde Z = Q^T Z R`. Normalized: :math:`\hat g^N = N g^N` (and :math:`\hat g^\infty`, square
    X only).

    Raises
    ------
    ValueError
        If X is rank-deficient (the metric is not defined there) or shapes disagree.

    Examples
    --------
    >>> X = np.diag([2.0, 1.0]); Z = np.array([[0.0, 3.0], [0.0, 0.0]])
    >>> print(round(float(metric(X, Z, Z, depth=2)), 12))            # 3 * 3 / a_2(4, 1)
    3.0
    """
    return _metric(X, Z1, Z2, *conventions(depth, normalized))


def _metric(X: ArrayLike, Z1: ArrayLike, Z2: ArrayLike, depth: float, normalized: bool):
    X, depth, normalized, (Z1, Z2) = _prepare(X, depth, normalized, [("Z1", Z1), ("Z2", Z2)])
    Q, s, Rt, M = _svd_multipliers(X, depth, normalized)
    _check_metric_defined(s, X.shape[-2:], depth)
    W1 = _rotate_in(Q, Rt, Z1)
    W2 = _rotate_in(Q, Rt, Z2)
    return np.asarray(np.sum(W1 * W2 / M, axis=(-2, -1)))[()]


def induced_log_volume_density(
    X: ArrayLike, tangents: ArrayLike, depth: float, normalized: bool = False
) -> NDArray[np.float64]:
    r"""Log-density of the volume that :math:`g^N` induces on an affine family through X.

    For a submanifold with tangent vectors :math:`T_1, \dots, T_k` at X (for example the zero-loss set
    :math:`\{X_\Omega = M_\Omega\}` of a completion problem, spanned by the unobserved entries), the
    Riemannian volume w.r.t. the coordinates of the :math:`T_p` has density
    :math:`\sqrt{\det G}`, :math:`G_{pq} = g^N_X(T_p, T_q)`; this returns :math:`\tfrac12\log\det G`.

    Parameters
    ----------
    X : array_like, shape (..., m, n)
        Full-rank points (a stack evaluates many points with one batched SVD).
    tangents : array_like, shape (k, m, n)
        The tangent directions, shared by all points.
    depth, normalized
        As in :func:`metric`.

    Examples
    --------
    >>> E12 = np.array([[0.0, 1.0], [0.0, 0.0]]); E21 = E12.T
    >>> X = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> print(abs(float(induced_log_volume_density(X, [E12, E21], depth=1))) < 1e-15)   # Euclidean: 0
    True
    """
    return _induced_log_volume_density(X, tangents, *conventions(depth, normalized))


def _induced_log_volume_density(X: ArrayLike, tangents: ArrayLike, depth: float, normalized: bool = False):
    X, depth, normalized, _ = _prepare(X, depth, normalized)
    T = check_finite_array(tangents, "tangents", min_ndim=3)
    if T.shape[-2:] != X.shape[-2:]:
        raise RiemdlnValueError(f"`tangents` must have shape (k, {X.shape[-2]}, {X.shape[-1]}); got {T.shape}.")
    Q, s, Rt, M = _svd_multipliers(X, depth, normalized)
    _check_metric_defined(s, X.shape[-2:], depth)
    Qe, Re = Q[..., None, :, :], Rt[..., None, :, :]
    W = np.swapaxes(Qe, -1, -2) @ T @ np.swapaxes(Re, -1, -2) / np.sqrt(M[..., None, :, :])
    k = T.shape[-3]
    G = np.einsum("...pij,...qij->...pq", W.reshape(W.shape[:-3] + (k,) + W.shape[-2:]), W)
    sign, logdet = np.linalg.slogdet(G)
    return np.asarray(0.5 * logdet)[()]


def riemannian_gradient(X: ArrayLike, euclidean_gradient: ArrayLike, depth: float, normalized: bool = False):
    r"""Riemannian gradient of E for :math:`g^N`: :math:`\operatorname{grad} E = A_N(X)\nabla E(X)`.

    It satisfies :math:`g^N_X(\operatorname{grad} E, Z) = dE_X(Z) = \operatorname{tr}(\nabla E^T Z)`.

    >>> X = np.diag([2.0, 1.0]); G = np.ones((2, 2))
    >>> print(np.round(riemannian_gradient(X, G, depth=2), 12))
    [[4. 3.]
     [3. 2.]]
    """
    return _riemannian_gradient(X, euclidean_gradient, *conventions(depth, normalized))


def _riemannian_gradient(X: ArrayLike, euclidean_gradient: ArrayLike, depth: float, normalized: bool):
    X, depth, normalized, (G,) = _prepare(X, depth, normalized, [("euclidean_gradient", euclidean_gradient)])
    Q, _, Rt, M = _svd_multipliers(X, depth, normalized)
    return Q @ (M * _rotate_in(Q, Rt, G)) @ Rt


def _check_singular_values(s) -> np.ndarray:
    s = check_finite_array(s, "s", min_ndim=1)
    if s.shape[-1] == 0:
        raise RiemdlnValueError(f"`s` must hold at least one singular value; got shape {s.shape}.")
    if np.any(s <= 0):
        raise RiemdlnValueError(
            "`s` must be > 0: the metric and its volume are defined only at full rank; "
            f"got min(s) = {float(np.min(s))!r}."
        )
    return s


_COORDS = ("svd", "lebesgue")


def log_volume_density(
    s: ArrayLike,
    depth: float,
    normalized: bool = False,
    coords: str = "svd",
    shape: tuple[int, int] | None = None,
) -> NDArray[np.float64]:
    r"""Log of the Riemannian volume density of :math:`g^N` (see :func:`volume_density`).

    Computed as a sum of logs, so it is finite where the density itself over- or underflows.

    >>> print(log_volume_density([1e-200, 2e-200, 3e-200], depth=50) > 710)   # density overflows
    True
    """
    return _log_volume_density(s, *conventions(depth, normalized), coords, shape)


def _log_volume_density(
    s: ArrayLike,
    depth: float,
    normalized: bool = False,
    coords: str = "svd",
    shape: tuple[int, int] | None = None,
):
    s = _check_singular_values(s)
    if coords not in _COORDS:
        raise RiemdlnValueError(f"`coords` must be one of {_COORDS}; got {coords!r}.")
    d = s.shape[-1]
    if shape is not None:
        m, n = _check_stratum_shape(shape, d)
        if coords != "svd":
            raise RiemdlnValueError(
                f"`coords` must be 'svd' when `shape` is given (the stratum has no Lebesgue measure); got {coords!r}."
            )
        if math.isinf(depth) and not (m == n == d):
            raise RiemdlnValueError(
                "`depth=math.inf` needs `shape=(d, d)` with d = len(s): the normalized metric blows up on "
                f"the directions that rotate a rank-{d} {m}x{n} matrix's column and row spaces."
            )
    else:
        m = n = d
    i, j = np.triu_indices(d, 1)
    log_a_diag = _log_multiplier_of_singular_values(s, s, depth, normalized)
    log_a_pair = _log_multiplier_of_singular_values(s[..., i], s[..., j], depth, normalized)
    # det A_N restricted to the square block = prod_i a_ii prod_{i<j} a_ij^2
    out = -0.5 * np.sum(log_a_diag, axis=-1) - np.sum(log_a_pair, axis=-1)
    if coords == "svd":
        with np.errstate(divide="ignore"):
            # |s_i^2 - s_j^2| = |s_i - s_j| (s_i + s_j): no cancellation
            out = out + np.sum(np.log(np.abs(s[..., i] - s[..., j])) + np.log(s[..., i] + s[..., j]), axis=-1)
    extra = (m - d) + (n - d)
    if extra:
        # the (m-r) x r and r x (n-r) blocks: coordinates K s_i with weight 1/a_N(s_i^2, 0)
        log_a_zero = _log_multiplier_of_singular_values(s, np.zeros_like(s), depth, normalized)
        out = out + extra * np.sum(np.log(s) - 0.5 * log_a_zero, axis=-1)
    return np.asarray(out)[()]


def _check_stratum_shape(shape, r):
    try:
        m, n = (int(v) for v in shape)
        ok = tuple(shape) == (m, n)
    except (TypeError, ValueError):
        ok = False
    if not ok or min(m, n) < r:
        raise RiemdlnValueError(
            f"`shape` must be a pair (m, n) of integers with min(m, n) >= len(s) = {r}; got {shape!r}."
        )
    return m, n


def volume_density(
    s: ArrayLike,
    depth: float,
    normalized: bool = False,
    coords: str = "svd",
    shape: tuple[int, int] | None = None,
) -> NDArray[np.float64]:
    r"""Density of the Riemannian volume of :math:`g^N` at singular values ``s``.

    With :math:`\det A_N = \prod_{i,j} a_N(s_i^2, s_j^2)` and Lebesgue measure
    :math:`dX = \prod_{i<j}|s_i^2 - s_j^2|\,ds\,dQ\,dR` on d×d matrices (docs/theory.md §6):

    .. math::

        \mathrm{vol}_{g^N} = \det(A_N)^{-1/2} dX
          = N^{-d/2} \prod_i s_i^{-(N-1)/N} \prod_{i<j} |s_i^{2/N} - s_j^{2/N}|\; ds\,dQ\,dR.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values, all > 0 (the volume is defined at full rank).
    depth, normalized
        As in :func:`multiplier`. Normalized multiplies the density by :math:`N^{\dim/2}`; at
        ``depth=math.inf`` it is :math:`\prod_i s_i^{-1}\prod_{i<j}|\log s_i^2 - \log s_j^2|`.
    coords : {"svd", "lebesgue"}
        Density with respect to :math:`ds\,dQ\,dR` (so(d) coordinates :math:`E_{ij} - E_{ji}`) or with
        respect to Lebesgue measure :math:`dX` (that is, :math:`\det(A_N)^{-1/2}`).
    shape : (m, n), optional
        Give the density of the rank-r stratum of m×n matrices (r = len(s)) with respect to
        :math:`ds\,dU\,dV`: :math:`N^{-r/2}\prod_{i<j}|s_i^{2/N} - s_j^{2/N}|\prod_i s_i^{(m+n-2r-N+1)/N}`.

    Examples
    --------
    >>> print(round(float(volume_density([2.0, 1.0], depth=1)), 12))                 # |4 - 1|
    3.0
    >>> print(round(float(volume_density([2.0, 1.0], depth=2)), 15))   # 1/(2 sqrt 2)
    0.353553390593274
    >>> print(round(float(volume_density([2.0, 1.0], depth=math.inf, normalized=True)), 15))   # log 4 / 2
    0.693147180559945
    """
    return _volume_density(s, *conventions(depth, normalized), coords, shape)


def _volume_density(s: ArrayLike, depth: float, normalized: bool, coords: str = "svd", shape=None):
    return np.exp(_log_volume_density(s, depth, normalized, coords, shape))[()]


def orthogonal_group_volume(d: int) -> float:
    r"""Volume :math:`c_d` of :math:`O(d)`, Frobenius metric (so(d) basis :math:`(E_{ij} - E_{ji})/\sqrt2`).

    .. math:: c_d = 2 \cdot 2^{d(d-1)/4} \prod_{k=2}^{d} \frac{2\pi^{k/2}}{\Gamma(k/2)}

    (two components; :math:`\mathrm{vol}\,SO(d) = \prod_{k=1}^{d-1} |S^k|` in the metric with
    :math:`E_{ij} - E_{ji}` orthonormal, rescaled by :math:`\sqrt2` per dimension).

    >>> print(orthogonal_group_volume(2) == 4 * math.pi * math.sqrt(2))
    True
    """
    if isinstance(d, bool) or not isinstance(d, numbers_Integral) or d < 1:
        raise RiemdlnValueError(f"`d` must be an integer >= 1; got {short(d)}.")
    if d > _MAX_GROUP_DIM:  # the sum runs over d terms; c_d underflows to 0.0 from d = 100 on anyway
        raise RiemdlnValueError(
            f"`d` must be an integer <= {_MAX_GROUP_DIM} (c_d underflows to 0.0 from d = 100 on); got {short(d)}."
        )
    return float(np.exp(_twins.log_orthogonal_group_volume(d)))


_MAX_GROUP_DIM = 10**6


def entropy(s: ArrayLike, depth: float, normalized: bool = False, include_constant: bool = True) -> NDArray[np.float64]:
    r"""Entropy :math:`S_N(X)` of the balanced fibre over X (Menon–Yu; docs/theory.md §7).

    The balanced tuples with end-to-end X form an :math:`O_d^{N-1}` orbit of volume
    :math:`c_d^{N-1}\prod_{i<j} a_N(\sigma_i^2, \sigma_j^2)^{1/2}` (Frobenius metric on the factors), so

    .. math:: S_N = (N - 1)\log c_d + \tfrac12 \sum_{i<j} \log a_N(\sigma_i^2, \sigma_j^2).

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values :math:`\sigma` of X (>= 0; two zero singular values give ``-inf`` for N > 1,
        and one zero does at ``depth=math.inf``, since L(x, 0) = 0).
    depth : float or math.inf
        Depth N (the fibre exists for integer N; the formula is analytic in N).
    normalized : bool, optional
        Return the renormalized entropy :math:`S_N - (N-1)\log c_d - \tfrac{d(d-1)}{4}\log N
        = \tfrac12\sum_{i<j}\log(a_N/N)`, which tends to :math:`\tfrac12\sum_{i<j}\log L(\sigma_i^2,
        \sigma_j^2)` as :math:`N\to\infty` (``depth=math.inf`` gives that limit). Default False.
    include_constant : bool, optional
        Include :math:`(N-1)\log c_d` (raw convention only; default True).

    Examples
    --------
    >>> print(round(float(entropy([2.0, 1.0], depth=2, include_constant=False)), 15))   # log(3)/2
    0.549306144334055
    >>> print(round(float(entropy([2.0, 1.0], depth=math.inf, normalized=True)), 12))   # log(3/log 4)/2
    0.385989014345
    """
    return _entropy(s, *conventions(depth, normalized), include_constant)


def _entropy(s: ArrayLike, depth: float, normalized: bool, include_constant: bool = True):
    include_constant = check_bool(include_constant, "include_constant")
    s = check_finite_array(s, "s", min_ndim=1)
    if s.shape[-1] == 0:
        raise RiemdlnValueError(f"`s` must hold at least one singular value; got shape {s.shape}.")
    if np.any(s < 0):
        raise RiemdlnValueError(f"`s` must be >= 0 (singular values); got min(s) = {float(np.min(s))!r}.")
    d = s.shape[-1]
    i, j = np.triu_indices(d, 1)
    out = 0.5 * np.sum(_log_multiplier_of_singular_values(s[..., i], s[..., j], depth, normalized), axis=-1)
    if include_constant and not normalized:
        out = out + (depth - 1) * _twins.log_orthogonal_group_volume(d)
    return np.asarray(out)[()]
