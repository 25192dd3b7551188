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

__all__ = ["scalar_curvature"]


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
    NotImplementedError
        d >= 3 (no closed form; the numeric path is not implemented yet).

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
        if X.shape[-1] == X.shape[-2]:
            raise NotImplementedError(
                f"scalar_curvature: only d = 2 is implemented (closed form); got X of shape {X.shape[-2:]}."
            )
        raise RiemdlnValueError(f"`X` must be a square 2x2 matrix (or a stack of them); got shape {X.shape[-2:]}.")
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
