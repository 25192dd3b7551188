r"""Nuclear-norm baselines for matrix completion.

* :func:`soft_impute` — numpy soft-impute (Mazumder, Hastie & Tibshirani 2010): iterate
  :math:`X \leftarrow \mathcal S_\lambda(P_\Omega(M) + P_{\Omega^\perp}(X))` (singular-value soft
  thresholding) along a decreasing path of :math:`\lambda`; as :math:`\lambda \to 0` the limit
  approaches the minimum-nuclear-norm interpolant :math:`\min \|X\|_*` s.t. :math:`X_\Omega = M_\Omega`.
* :func:`nuclear_norm_minimization` — the exact convex program through cvxpy (optional extra
  ``riemdln[cvxpy]``); its solver status is checked, never trusted blindly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riemdln._validation import RiemdlnValueError

__all__ = ["soft_impute", "nuclear_norm_minimization", "BaselineResult"]


@dataclass(frozen=True)
class BaselineResult:
    """A completion from a baseline: the matrix, whether it converged, and how."""

    X: np.ndarray
    success: bool
    message: str
    iterations: int


def soft_impute(
    problem, lam_final: float = 1e-6, n_lambdas: int = 40, tol: float = 1e-9, max_iter: int = 20000
) -> BaselineResult:
    r"""Soft-impute along :math:`\lambda_k = \lambda_0 (\lambda_{\rm final}/\lambda_0)^{k/(K-1)}`, warm-started.

    ``lam_final`` is relative to the largest singular value of :math:`P_\Omega(M)`.

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem((2, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0})
    >>> res = soft_impute(p)
    >>> print(res.success, round(float(res.X[1, 1]), 3))   # the rank-one completion
    True 1.0
    """
    mask = problem.mask
    M = np.where(mask, problem.target, 0.0)
    top = np.linalg.norm(M, 2)
    if top == 0:
        return BaselineResult(np.zeros_like(M), True, "all observations are zero", 0)
    lams = top * np.geomspace(1.0, lam_final, n_lambdas)
    X = np.zeros_like(M)
    iterations = 0
    converged = True
    for lam in lams:
        for _ in range(max_iter):
            Y = np.where(mask, M, X)
            U, s, Vt = np.linalg.svd(Y, full_matrices=False)
            X_new = (U * np.maximum(s - lam, 0.0)) @ Vt
            iterations += 1
            change = float(np.linalg.norm(X_new - X)) / max(float(np.linalg.norm(X)), 1e-300)
            X = X_new
            if change < tol:
                break
        else:
            converged = False
    message = "converged" if converged else f"stopped at max_iter = {max_iter} for some lambda"
    return BaselineResult(X, converged, message, iterations)


def nuclear_norm_minimization(problem, solver: str | None = None) -> BaselineResult:
    r"""Solve :math:`\min\|X\|_*` s.t. :math:`X_\Omega = M_\Omega` with cvxpy (optional extra).

    Raises
    ------
    RiemdlnValueError
        If cvxpy is not installed (the message names ``pip install "riemdln[cvxpy]"``).
    """
    try:
        import cvxpy as cp
    except ImportError:
        raise RiemdlnValueError('nuclear_norm_minimization needs cvxpy: pip install "riemdln[cvxpy]"') from None
    m, n = problem.shape
    X = cp.Variable((m, n))
    mask = problem.mask.astype(float)
    constraints = [cp.multiply(mask, X) == mask * problem.target]
    prob = cp.Problem(cp.Minimize(cp.normNuc(X)), constraints)
    prob.solve(solver=solver)
    ok = prob.status in ("optimal",)
    value = np.asarray(X.value) if X.value is not None else np.full((m, n), np.nan)
    return BaselineResult(value, ok, f"cvxpy status: {prob.status}", 0)
