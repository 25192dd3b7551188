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

from riemdln._deprecation import renamed
from riemdln._errors import MissingExtraError

__all__ = ["soft_impute", "nuclear_norm_minimization", "BaselineResult"]


@dataclass(frozen=True)
class BaselineResult:
    r"""A completion from a baseline: the matrix, whether it converged, and how.

    Parameters
    ----------
    X : ndarray, shape (m, n)
        The completed matrix.
    success : bool
        Whether the method converged (soft-impute: at the final :math:`\lambda`; cvxpy: status optimal).
    message : str
        How it ended.
    iterations : int
        Iterations run in all (0 for cvxpy).

    See Also
    --------
    soft_impute, nuclear_norm_minimization : what returns it.

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> res = soft_impute(CompletionProblem((2, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0}))
    >>> type(res).__name__, res.X.shape, res.success
    ('BaselineResult', (2, 2), True)
    """

    X: np.ndarray
    success: bool
    message: str
    iterations: int


def soft_impute(
    problem,
    lam_final: float = 1e-6,
    n_lambdas: int = 40,
    tol: float | None = None,
    max_iter: int | None = None,
    *,
    final_max_iter: int | None = None,
    accelerate: bool = False,
    gap_tol: float | None = None,
    rtol: float | None = None,
    max_steps: int | None = None,
    final_max_steps: int | None = None,
    gap_rtol: float | None = None,
) -> BaselineResult:
    r"""Soft-impute along :math:`\lambda_k = \lambda_0 (\lambda_{\rm final}/\lambda_0)^{k/(K-1)}`, warm-started.

    ``lam_final`` is relative to the largest singular value of :math:`P_\Omega(M)`. The path values before
    the last are warm starts: each runs until the relative change of X is below ``rtol`` or for ``max_steps``
    iterations. Convergence is judged at the final value only, where up to ``final_max_steps`` (default
    ``max_steps``) iterations are run. Without ``gap_rtol`` it converged when the relative change is below
    ``rtol`` (a weak test: the iteration can crawl far from its fixed point). With ``gap_rtol`` the change does
    not count: it converged when the relative duality gap of the regularized problem
    :math:`\tfrac12\|P_\Omega(X - M)\|_F^2 + \lambda\|X\|_*` is below ``gap_rtol`` (checked every 25
    iterations; the dual point is the scaled residual :math:`\theta P_\Omega(M - X)`,
    :math:`\theta = \min(1, \lambda/\|P_\Omega(M - X)\|_2)`, so the gap bounds the objective's distance to its
    minimum). ``accelerate`` uses Nesterov momentum (the accelerated proximal gradient of Toh & Yun 2010,
    restarted at each value of the path): the same fixed points, an :math:`O(1/k^2)` objective rate instead of
    :math:`O(1/k)`, which matters at few observations, where the plain iteration crawls at the final value.

    Parameters
    ----------
    problem : CompletionProblem
        The observed entries :math:`P_\Omega(M)`.
    lam_final : float
        The last :math:`\lambda`, relative to :math:`\|P_\Omega(M)\|_2`.
    n_lambdas : int
        Values on the geometric path.
    rtol : float, optional
        Relative change of X that ends a path value (default 1e-9); keyword-only.
    max_steps : int, optional
        Iterations per path value before the last (default 20000); keyword-only.
    final_max_steps : int, optional
        Iterations at the final value (default ``max_steps``).
    accelerate : bool
        Nesterov momentum (accelerated proximal gradient).
    gap_rtol : float, optional
        Relative duality gap that decides convergence at the final value (default: the change decides).
    tol, max_iter, final_max_iter, gap_tol : optional
        Deprecated names of ``rtol``, ``max_steps``, ``final_max_steps``, ``gap_rtol`` (a
        :class:`DeprecationWarning`).

    Returns
    -------
    BaselineResult
        The completion at the final :math:`\lambda`; ``success`` when that value's problem was solved.

    See Also
    --------
    nuclear_norm_minimization : the exact convex program (cvxpy).
    riemdln.end_to_end_flow : the deep linear network's implicit bias on the same problem.

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem((2, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0})
    >>> res = soft_impute(p)
    >>> print(res.success, round(float(res.X[1, 1]), 3))   # the rank-one completion
    True 1.0
    """
    tol = renamed("soft_impute", "rtol", "tol", rtol, tol, 1e-9)
    max_iter = renamed("soft_impute", "max_steps", "max_iter", max_steps, max_iter, 20000)
    final_max_iter = renamed("soft_impute", "final_max_steps", "final_max_iter", final_max_steps, final_max_iter, None)
    gap_tol = renamed("soft_impute", "gap_rtol", "gap_tol", gap_rtol, gap_tol, None)
    mask = problem.mask
    M = np.where(mask, problem.target, 0.0)
    top = np.linalg.norm(M, 2)
    if top == 0:
        return BaselineResult(np.zeros_like(M), True, "all observations are zero", 0)
    lams = top * np.geomspace(1.0, lam_final, n_lambdas)
    final_max_iter = max_iter if final_max_iter is None else final_max_iter
    X = np.zeros_like(M)
    iterations = 0
    converged = False
    change = gap = float("nan")
    final_iterations = 0
    for j, lam in enumerate(lams):
        last = j == len(lams) - 1
        X_prev, t_k = X, 1.0
        for it in range(final_max_iter if last else max_iter):
            if accelerate:
                t_next = (1.0 + np.sqrt(1.0 + 4.0 * t_k * t_k)) / 2.0
                base = X + ((t_k - 1.0) / t_next) * (X - X_prev)
                t_k = t_next
            else:
                base = X
            Y = np.where(mask, M, base)
            U, s, Vt = np.linalg.svd(Y, full_matrices=False)
            X_new = (U * np.maximum(s - lam, 0.0)) @ Vt
            iterations += 1
            change = float(np.linalg.norm(X_new - X)) / max(float(np.linalg.norm(X)), 1e-300)
            X_prev, X = X, X_new
            if last:
                final_iterations = it + 1
                if gap_tol is not None and (it + 1) % 25 == 0:
                    gap = _relative_gap(X, M, mask, lam)
                    if gap <= gap_tol:
                        converged = True
                        break
            if change < tol and not (last and gap_tol is not None):  # with gap_tol, the gap alone decides
                converged = last
                break
    if gap_tol is not None and not converged:  # the last iterate, between two periodic checks, may pass
        gap = _relative_gap(X, M, mask, lams[-1])
        converged = gap <= gap_tol
    how = f"relative change {change:.2e}" + ("" if gap_tol is None else f", relative duality gap {gap:.2e}")
    if converged:
        message = f"converged at the final lambda after {final_iterations} iterations ({how})"
    else:
        message = f"stopped at final_max_iter = {final_max_iter} at the final lambda ({how})"
    return BaselineResult(X, converged, message, iterations)


def _relative_gap(X, M, mask, lam) -> float:
    """Relative duality gap of ½‖P_Ω(X − M)‖² + λ‖X‖_* at X (dual point: the scaled residual)."""
    R = np.where(mask, M - X, 0.0)
    primal = 0.5 * float(np.sum(R * R)) + lam * float(np.linalg.svd(X, compute_uv=False).sum())
    norm_R = float(np.linalg.norm(R, 2))
    theta = 1.0 if norm_R <= lam else lam / norm_R
    Z = theta * R
    dual = float(np.sum(Z * M)) - 0.5 * float(np.sum(Z * Z))
    return (primal - dual) / max(primal, 1e-300)


def nuclear_norm_minimization(problem, solver: str | None = None) -> BaselineResult:
    r"""Solve :math:`\min\|X\|_*` s.t. :math:`X_\Omega = M_\Omega` with cvxpy (optional extra).

    Parameters
    ----------
    problem : CompletionProblem
        The observed entries :math:`M_\Omega`.
    solver : str, optional
        A cvxpy solver name (default: cvxpy's choice).

    Returns
    -------
    BaselineResult
        The minimizer; ``success`` when cvxpy reports ``"optimal"``.

    Raises
    ------
    MissingExtraError
        If cvxpy is not installed (the message names ``pip install "riemdln[cvxpy]"``).

    See Also
    --------
    soft_impute : the regularized path, no solver needed.

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem((2, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0})
    >>> res = nuclear_norm_minimization(p)
    >>> print(res.success, round(float(res.X[1, 1]), 4))   # the rank-one completion
    True 1.0
    """
    try:
        import cvxpy as cp
    except ImportError:
        raise MissingExtraError('nuclear_norm_minimization needs cvxpy: pip install "riemdln[cvxpy]"') from None
    m, n = problem.shape
    X = cp.Variable((m, n))
    mask = problem.mask.astype(float)
    constraints = [cp.multiply(mask, X) == mask * problem.target]
    prob = cp.Problem(cp.Minimize(cp.normNuc(X)), constraints)
    prob.solve(solver=solver)
    ok = prob.status in ("optimal",)
    value = np.asarray(X.value) if X.value is not None else np.full((m, n), np.nan)
    return BaselineResult(value, ok, f"cvxpy status: {prob.status}", 0)
