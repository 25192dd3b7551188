r"""Riemannian Langevin dynamics, Gibbs sampling and Gibbs expectations on :math:`(M_d, g^N)`.

THEORY: docs/theory.md §13 (and §6, §7 for the volume and the entropy). With inverse temperature
:math:`\beta` and :math:`\lambda \in \{0, 1\}` (``free_energy``), the Langevin equation in matrix coordinates is

.. math::

    dX = \left[-A_N\nabla E + \beta^{-1} c_N(X) + \lambda\beta^{-1} A_N\nabla S_N\right]dt
         + \sqrt{2/\beta}\,A_N(X)^{1/2}\,dB,

with the Itô correction :math:`c_N = Q\,\mathrm{diag}(\kappa)R^T`, :math:`\kappa_k = (N-1)s_k^{(N-2)/N}`
(catalog ``ito_correction``; derived by SymPy as the Laplace–Beltrami operator of the coordinates, certified
against finite differences of :math:`\operatorname{div} A_N + A_N\nabla\log\det A_N^{-1/2}`) and the entropic drift
:math:`A_N\nabla S_N = Q\,\mathrm{diag}\big(\tfrac12 s_k^{(N-2)/N}\sum_{j\ne k}[N - 1 + N\mathcal L(N t_{kj})
- \mathcal L(t_{kj})]\big)R^T`, :math:`t_{kj} = \log(s_k/s_j)/N`, :math:`\mathcal L(z) = \coth z - 1/z` (the stable
form of catalog ``entropy_drift``). Its stationary law is :math:`e^{-\beta E}\,\mathrm{vol(fibre)}^\lambda
\mathrm{vol}_{g^N} = e^{-\beta E + \lambda S_N}\mathrm{vol}_{g^N}` (catalog ``log_gibbs_density``);
:math:`\lambda = 1` is the free energy :math:`F = E - \beta^{-1}S_N` (Brownian motion of the balanced factors
projects to it).

Conventions: raw (:math:`g^N`, time t) or ``normalized=True`` (:math:`\hat g^N = N g^N`: every coefficient
divided by N, time :math:`\tau = N t`; the stationary law is the same). ``depth=math.inf`` exists normalized only:
:math:`\kappa_k = s_k`, multiplier the logarithmic mean; its Gibbs law is not normalizable (docs/theory.md §13), so
:func:`langevin` says so in its message and the samplers refuse it.

Balanced-factor coordinates. Near :math:`\det X = 0` the coefficients are not Lipschitz
(:math:`\sqrt{a_{dd}} \sim s_d^{(N-1)/N}`) and Euler–Maruyama in X has a bias that does not shrink with the
step. In :math:`Y` with :math:`X = \Psi(Y) = Y(Y^TY)^{(N-1)/2}` (Y = one balanced factor, singular values
:math:`\mu = s^{1/N}`) the same process has smooth coefficients: with :math:`\tilde G = Q^T\nabla E R`, its
drift in the SVD frame is :math:`-\mu_i^{N-1}\tilde G_{ii}` on the diagonal, :math:`-(\Delta^+_{ij}\,
\mathrm{sym}\tilde G + \Delta^-_{ij}\,\mathrm{skew}\tilde G)` off it (:math:`\Delta^\mp = (\mu_i^N \mp
\mu_j^N)/(\mu_i \mp \mu_j)`), plus :math:`\beta^{-1}\Delta_g(Y) = \beta^{-1} Q\,\mathrm{diag}(\kappa^Y)R^T` with
:math:`\kappa^Y_k = \sum_{j\ne k}[1 + \mathcal L(t/2) - N\mathcal L(Nt/2) - N\tanh(Nt/2)/\tanh(t/2)]/(N(\mu_k +
\mu_j))`, :math:`t = \log(\mu_k/\mu_j)` (catalog ``ito_correction_factor``), and the entropic term
:math:`\lambda\beta^{-1}N^{-1}\partial S_N/\partial\mu_k`; its noise has covariance :math:`(\Psi^*g^N)^{-1}`:
:math:`1/N` on the diagonal, :math:`\Delta^+/\Delta^-` on symmetric and :math:`\Delta^-/\Delta^+` on skew
off-diagonal parts. ``coordinates="auto"`` steps each chain in X when the one-step noise of its smallest
singular value is below 5 % of it, in Y otherwise (the same SDE in two charts, so switching keeps the law).

>>> import numpy as np, riemdln
>>> E = riemdln.QuadraticEnergy(np.eye(2))
>>> res = riemdln.langevin(E, np.eye(2), depth=2, beta=8.0, t_final=0.1, dt=0.01, n_chains=3, seed=0)
>>> res.X.shape, res.status.name
((11, 3, 2, 2), 'FINISHED')
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from riemdln._blas import with_blas_threads
from riemdln._deprecation import renamed
from riemdln._validation import (
    RiemdlnValueError,
    check_allocation,
    check_bool,
    check_depth,
    check_matrix,
    check_seed,
    short,
)
from riemdln.flows.result import Status
from riemdln.geometry import entropy as _entropy
from riemdln.geometry import multiplier as _multiplier
from riemdln.geometry._metric import unchecked_multiplier as _multiplier_unchecked
from riemdln.problems.energies import CallableValueError, as_energy, call_user, checked_array, checked_scalar
from riemdln.symbolic import kernels
from riemdln.thermo import _langevin_jit
from riemdln.thermo._mcmc import effective_sample_size

__all__ = [
    "LangevinResult",
    "GibbsSample",
    "GibbsExpectation",
    "langevin",
    "gibbs_sample",
    "gibbs_expectation",
    "ito_correction",
    "entropy_drift",
    "factor_ito_correction",
]

_FUSED_D2 = True  # d = 2: the fused step (_step_d2); False runs the general one (tests compare the two)
_JIT_D2 = True  # the fused d = 2 step compiled (riemdln.thermo._langevin_jit) where numba is installed
_AUTO_RELATIVE_STEP = 0.05  # X coordinates while sqrt(2 a_dd dt / beta) < 5 % of s_d
_MAX_Y_DEPTH = 200.0  # the Y chart amplifies a step's error N-fold (X = Psi(Y)): X coordinates only beyond
_MAX_SAVED_FLOATS = 5_000_000  # default save_every keeps the saved X below this many floats
_MAX_STEPS = 1e15  # time steps of one langevin run (more could never finish)


# ---------------------------------------------------------------------------------------------
# input checks
def _positive(value, name: str) -> float:
    # numbers.Real declares only < and <=; NaN and inf fail isfinite
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0 or not math.isfinite(value):
        raise RiemdlnValueError(f"`{name}` must be a finite real number > 0; got {short(value)}.")
    return float(value)


def _positive_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise RiemdlnValueError(f"`{name}` must be an integer >= {low}; got {short(value)}.")
    return int(value)


def _square_energy(energy) -> tuple[object, int]:
    energy = as_energy(energy)
    m, n = tuple(energy.shape)
    if m != n:
        raise RiemdlnValueError(
            f"`energy` must act on square matrices (the Langevin samplers work on d x d); got shape {(m, n)}."
        )
    return energy, int(m)


def _check_first_values(energy, X: np.ndarray) -> None:
    """Loss and gradient at the start, before any work: a bad value is a RiemdlnValueError naming the callable."""
    from riemdln.flows._energy import ops

    ops(energy).check_outputs(np.array(X, dtype=float))


def _not_normalizable(depth: float) -> None:
    if math.isinf(depth):
        raise RiemdlnValueError(
            "`depth=math.inf`: the Gibbs law e^{-beta E} vol of the infinite-depth metric is not normalizable "
            "(vol grows like prod|rho_i - rho_j| d rho as rho_d = log s_d -> -inf; docs/theory.md §13); "
            "use a finite depth."
        )


# ---------------------------------------------------------------------------------------------
# batched linear algebra and energies
def _svd2(X: np.ndarray):
    """Closed-form SVD of a stack of 2x2 matrices: (U, s, V) with X = U diag(s) V^T, s_1 >= s_2 >= 0."""
    a, b, c, d = X[..., 0, 0], X[..., 0, 1], X[..., 1, 0], X[..., 1, 1]
    e, f, g, h = 0.5 * (a + d), 0.5 * (a - d), 0.5 * (c + b), 0.5 * (c - b)
    q, r = np.hypot(e, h), np.hypot(f, g)
    a1, a2 = np.arctan2(g, f), np.arctan2(h, e)
    theta, phi = 0.5 * (a2 - a1), 0.5 * (a2 + a1)
    s1, s2 = q + r, q - r
    neg = s2 < 0
    cp, sp, ct, st = np.cos(phi), np.sin(phi), np.cos(theta), np.sin(theta)
    sign = np.where(neg, -1.0, 1.0)
    U = np.empty(X.shape)
    U[..., 0, 0], U[..., 0, 1], U[..., 1, 0], U[..., 1, 1] = cp, -sp, sp, cp
    V = np.empty(X.shape)  # X = R(phi) diag(s1, s2) R(-theta)... written as V with columns (ct, -st), sign-fixed
    V[..., 0, 0], V[..., 1, 0] = ct, -st
    V[..., 0, 1], V[..., 1, 1] = st * sign, ct * sign
    s = np.stack([s1, np.abs(s2)], axis=-1)
    return U, s, V


def _svd(X: np.ndarray):
    if X.shape[-1] == 2:
        return _svd2(X)
    U, s, Vt = _batched_svd(X)
    return U, s, np.swapaxes(Vt, -1, -2)


_SVD_CHUNK = 256  # matrices per task of the threaded batch SVD


def _svd_threads() -> int:
    """Threads for a batch of small SVDs: one per core, or what the BLAS thread variables allow."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) >= 1:
            return min(int(value), os.cpu_count() or 1)
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _svd_pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="riemdln-svd")


def _batched_svd(X: np.ndarray):
    """numpy.linalg.svd of a stack (C, d, d), in chunks on a thread per core (LAPACK runs without the GIL;
    the numbers are numpy's, matrix by matrix). Forked children run it inline."""
    threads = _svd_threads()
    if threads <= 1 or X.shape[0] < 2 * _SVD_CHUNK or os.getpid() != _PID:
        return np.linalg.svd(X)
    U, s, Vt = np.empty_like(X), np.empty(X.shape[:-1]), np.empty_like(X)

    def chunk(start: int) -> None:
        stop = start + _SVD_CHUNK
        U[start:stop], s[start:stop], Vt[start:stop] = np.linalg.svd(X[start:stop])

    list(_svd_pool(threads).map(chunk, range(0, X.shape[0], _SVD_CHUNK)))
    return U, s, Vt


_PID = os.getpid()  # the pool's threads do not survive a fork


def _sym_multiplier(v: np.ndarray, depth: float, normalized: bool) -> np.ndarray:
    """The matrix a(v_i, v_j) (..., d, d) of one stack of spectra (..., d), unchecked (hot loops).

    At d = 2 the twin is evaluated on the one off-diagonal pair only; the diagonal is a(v, v) = a(1, 1) v^deg
    (homogeneity of degree deg = (N - 1)/N, 1 at N = inf; a(1, 1) from the twin)."""
    dim = v.shape[-1]
    if dim != 2:  # the twin on the diagonal and on the pairs k < j; a(x, y) = a(y, x) bit for bit
        iu = np.triu_indices(dim, 1)
        out = _pair_matrix(_multiplier_unchecked(v[..., iu[0]], v[..., iu[1]], depth, normalized), iu, dim, False)
        idx = np.arange(dim)
        out[..., idx, idx] = _multiplier_unchecked(v, v, depth, normalized)
        return out
    a00, a01, a11 = _sym_multiplier_e(v[..., 0], v[..., 1], depth, normalized)
    out = np.empty(v.shape + (2,))
    out[..., 0, 0], out[..., 1, 1] = a00, a11
    out[..., 0, 1] = out[..., 1, 0] = a01
    return out


def _diag_frame(U: np.ndarray, s: np.ndarray, V: np.ndarray) -> np.ndarray:
    """U diag(s) V^T for stacks."""
    if s.shape[-1] == 2:
        return _mm2(U * s[..., None, :], V, tb=True)
    return (U * s[..., None, :]) @ np.swapaxes(V, -1, -2)


def _mm2(A, B, ta=False, tb=False):
    """A @ B for stacks of 2x2 matrices, entry by entry (numpy's batched matmul is slow for 2x2)."""
    a00, a01, a10, a11 = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
    if ta:
        a01, a10 = a10, a01
    b00, b01, b10, b11 = B[..., 0, 0], B[..., 0, 1], B[..., 1, 0], B[..., 1, 1]
    if tb:
        b01, b10 = b10, b01
    out = np.empty(np.broadcast_shapes(A.shape, B.shape))
    out[..., 0, 0] = a00 * b00 + a01 * b10
    out[..., 0, 1] = a00 * b01 + a01 * b11
    out[..., 1, 0] = a10 * b00 + a11 * b10
    out[..., 1, 1] = a10 * b01 + a11 * b11
    return out


def _frame(U, Z, V):
    if Z.shape[-1] == 2:
        return _mm2(_mm2(U, Z, ta=True), V)
    return np.swapaxes(U, -1, -2) @ Z @ V


def _unframe(U, Z, V):
    if Z.shape[-1] == 2:
        return _mm2(_mm2(U, Z), V, tb=True)
    return U @ Z @ np.swapaxes(V, -1, -2)


def _stack_call(fn: Callable, X: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """Call an outside energy's method on a stack (one matrix at a time if it does not vectorize); every
    value checked (:class:`riemdln.problems.energies.CallableValueError` naming ``name`` otherwise)."""
    try:
        out = np.asarray(fn(X), dtype=float)
        if out.shape[: X.ndim - 2] == X.shape[:-2] and out.shape[X.ndim - 2 :] == shape:
            return checked_array(out, name, out.shape, X)
    except Exception:  # noqa: BLE001 - a non-vectorized user callable: evaluate matrix by matrix
        pass
    flat = X.reshape(-1, *X.shape[-2:])
    if shape == ():
        values = [checked_scalar(call_user(fn, name, x), name, x) for x in flat]
    else:
        values = [checked_array(call_user(fn, name, x), name, shape, x) for x in flat]
    return np.array(values, dtype=float).reshape(*X.shape[:-2], *shape)


def _hooks(energy):
    """The riemdln energies' unchecked (loss, gradient) on stacks, else None (an outside energy). They take
    any X (the state may overflow inside a step: the run reports it, never blaming the user's X)."""
    from riemdln.problems import CompletionProblem
    from riemdln.problems.energies import MatrixEnergy

    if isinstance(energy, CompletionProblem):
        res = energy._residual
        return (lambda X: np.asarray(0.5 * np.sum(res(X) ** 2, axis=(-2, -1)), dtype=float)), res
    if isinstance(energy, MatrixEnergy):  # riemdln.Energy's hooks check the user's values themselves
        return (lambda X: np.asarray(energy._loss_stack(X), dtype=float)), energy._gradient
    return None


def _loss(energy, X):
    hooks = _hooks(energy)
    return hooks[0](X) if hooks is not None else _stack_call(energy.loss, X, (), "energy.loss")


def _grad(energy, X):
    hooks = _hooks(energy)
    return hooks[1](X) if hooks is not None else _stack_call(energy.gradient, X, X.shape[-2:], "energy.gradient")


def _safe_loss(energy, X) -> np.ndarray:
    """:func:`_loss`, NaN at the states where a user's loss returned a bad value."""
    try:
        return _loss(energy, X)
    except CallableValueError:
        flat = X.reshape(-1, *X.shape[-2:])
        values = np.full(len(flat), np.nan)
        for i, x in enumerate(flat):
            try:
                values[i] = float(_loss(energy, x))
            except CallableValueError:
                pass
        return values.reshape(X.shape[:-2])


# ---------------------------------------------------------------------------------------------
# the coefficients, spectral (arrays of singular values, shape (..., d))
def _pair_logs(v):
    """t_kj = log v_k - log v_j on the pairs k < j only, shape (..., d(d-1)/2), and those pairs' indices."""
    iu = np.triu_indices(v.shape[-1], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log(v)
        return lv[..., iu[0]] - lv[..., iu[1]], iu


def _pair_matrix(upper, iu, dim: int, odd: bool) -> np.ndarray:
    """(..., d, d) from the values of an odd (t_jk = -t_kj: the Langevin function) or even (the tanh ratio)
    function of t on the pairs k < j; the diagonal is 0 (every use masks it). Same numbers as the function on
    the whole matrix: t_jk = -t_kj exactly, and those functions are sign-symmetric bit for bit (kernels and
    _tanh_ratio evaluate odd/even forms), so this halves the transcendental work of the d >= 3 steps."""
    out = np.zeros(upper.shape[:-1] + (dim, dim))
    out[..., iu[0], iu[1]] = upper
    out[..., iu[1], iu[0]] = -upper if odd else upper
    return out


def ito_correction(s: ArrayLike, depth: float, normalized: bool = False) -> np.ndarray:
    r"""Itô correction :math:`\kappa_k` of :math:`c_N = \Delta_{g^N}(X) = Q\,\mathrm{diag}(\kappa)R^T`.

    .. math:: \kappa_k = (N - 1)\,s_k^{(N-2)/N} \quad (\text{raw}), \qquad \hat\kappa_k = \kappa_k/N, \qquad
              \hat\kappa_k\big|_{N=\infty} = s_k.

    Derived by SymPy (catalog ``ito_correction``, docs/theory.md §13); N = 1: 0, N = 2: 1 (c_2 is the polar factor).

    >>> print(ito_correction([2.0, 0.5], depth=2).tolist(), ito_correction([2.0], depth=math.inf, normalized=True))
    [1.0, 1.0] [2.]
    """
    normalized = check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized)
    s = np.asarray(s, dtype=float)
    return _kappa(s, depth, normalized)


def _kappa(s, depth, normalized):
    if math.isinf(depth):
        return s.copy()
    with np.errstate(divide="ignore"):
        k = (depth - 1.0) * s ** ((depth - 2.0) / depth) if depth != 1 else np.zeros_like(s)
    return k / depth if normalized else k


def entropy_drift(s: ArrayLike, depth: float, normalized: bool = False) -> np.ndarray:
    r"""Entropic drift :math:`A_N\nabla S_N = Q\,\mathrm{diag}(e)R^T`, :math:`e` of shape (..., d).

    .. math:: e_k = \tfrac12 s_k^{(N-2)/N}\sum_{j\ne k}\left[N - 1 + N\mathcal L(N t_{kj}) - \mathcal L(t_{kj})\right],
              \quad t_{kj} = \tfrac1N\log\frac{s_k}{s_j},

    the stable form of catalog ``entropy_drift`` (:math:`\mathcal L` = Langevin function; no cancelling
    quotient at :math:`s_k = s_j`). Normalized: divided by N; :math:`N = \infty`:
    :math:`e_k = \tfrac{s_k}2\sum_{j\ne k}[1 + \mathcal L(\log(s_k/s_j))]`.

    >>> print(entropy_drift([1.0, 1.0], depth=2).tolist())   # a_kk s_k d_x log a = 2 * 1 * 1/4
    [0.5, 0.5]
    """
    normalized = check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized)
    return _entropy_drift(np.asarray(s, dtype=float), depth, normalized)


def _entropy_drift(s, depth, normalized):
    if depth == 1:  # S_1 is constant: no drift (the closed form is 0 * inf at s_k = 0)
        return np.zeros_like(s)
    t, iu = _pair_logs(s)
    dim = s.shape[-1]
    off = ~np.eye(dim, dtype=bool)
    if math.isinf(depth):
        terms = np.where(off, 1.0 + _pair_matrix(kernels.langevin_function(t), iu, dim, True), 0.0)
        return 0.5 * s * terms.sum(axis=-1)
    t = t / depth
    big, small = (_pair_matrix(kernels.langevin_function(z), iu, dim, True) for z in (depth * t, t))
    terms = np.where(off, depth - 1.0 + depth * big - small, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = 0.5 * s ** ((depth - 2.0) / depth) * terms.sum(axis=-1)
    return e / depth if normalized else e


def _tanh_ratio(t, depth):
    """tanh(N t/2) / tanh(t/2), N at t = 0, 1 at |t| = inf (exact on both sides of the switch)."""
    t = np.asarray(t, dtype=float)
    small = np.abs(t) < 0.5

    def tanhc(z):
        return kernels.sinhc(z) / np.cosh(z)

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = np.asarray(np.tanh(0.5 * depth * t) / np.tanh(0.5 * t), dtype=float)
    if out.ndim == 0:
        return depth * tanhc(0.5 * depth * t) / tanhc(0.5 * t) if small else out
    where = np.nonzero(small)  # the near form only where it is used (hot loops)
    ts = t[where]
    out[where] = depth * tanhc(0.5 * depth * ts) / tanhc(0.5 * ts)
    return out


def factor_ito_correction(mu: ArrayLike, depth: float) -> np.ndarray:
    r"""Itô drift :math:`\Delta_{g^N}(Y) = Q\,\mathrm{diag}(\kappa^Y)R^T` of the balanced-factor coordinates (raw).

    .. math:: \kappa^Y_k = \sum_{j\ne k}\frac{1 + \mathcal L(t/2) - N\mathcal L(Nt/2) - N\tanh(Nt/2)/\tanh(t/2)}
              {N(\mu_k + \mu_j)}, \qquad t = \log(\mu_k/\mu_j),

    the stable form of catalog ``ito_correction_factor`` (:math:`\mu` = singular values of Y; finite at
    :math:`\mu_j = 0`: :math:`(2 - 2N)/(N\mu_k)`; 0 at N = 1).

    >>> print(factor_ito_correction([1.0, 0.0], depth=1).tolist())
    [0.0, 0.0]
    """
    depth = check_depth(depth)
    return _kappa_factor(np.asarray(mu, dtype=float), depth)


def _kappa_factor(mu, depth):
    if mu.shape[-1] == 2:
        return _kappa_factor_d2(mu, depth)
    t, iu = _pair_logs(mu)
    dim = mu.shape[-1]
    off = ~np.eye(dim, dtype=bool)
    half, half_n = (_pair_matrix(kernels.langevin_function(z), iu, dim, True) for z in (0.5 * t, 0.5 * depth * t))
    num = 1.0 + half - depth * half_n - depth * _pair_matrix(_tanh_ratio(t, depth), iu, dim, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(off, num / (depth * (mu[..., :, None] + mu[..., None, :])), 0.0)
    return terms.sum(axis=-1)


def _kappa_factor_d2(mu, depth):
    """:func:`_kappa_factor` at d = 2 on the one pair: L is odd and the tanh ratio even in t = log(mu1/mu2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(mu[..., 0]) - np.log(mu[..., 1])
        odd = kernels.langevin_function(0.5 * t) - depth * kernels.langevin_function(0.5 * depth * t)
        even = 1.0 - depth * _tanh_ratio(t, depth)
        denom = depth * (mu[..., 0] + mu[..., 1])
        return np.stack([(even + odd) / denom, (even - odd) / denom], axis=-1)


def _entropy_grad_mu(mu, depth):
    r""":math:`\partial S_N/\partial\mu_k = \frac1{2\mu_k}\sum_{j\ne k}[N-1+N\mathcal L(Nt)-\mathcal L(t)]`."""
    t, iu = _pair_logs(mu)
    dim = mu.shape[-1]
    big, small = (_pair_matrix(kernels.langevin_function(z), iu, dim, True) for z in (depth * t, t))
    terms = np.where(~np.eye(dim, dtype=bool), depth - 1.0 + depth * big - small, 0.0)
    total = terms.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):  # the smallest of mu -> 0: the sum vanishes faster
        return np.where(mu > 0, total / (2.0 * np.where(mu > 0, mu, 1.0)), 0.0)


# ---------------------------------------------------------------------------------------------
# one Euler-Maruyama step in each chart (U, s, V: SVD of X; xi: standard normal in the frame)
def _step_X(X, U, s, V, G, xi, depth, normalized, beta, lam, dt, ito=True):
    x = s * s
    a = _sym_multiplier(x, depth, normalized)
    Gt = _frame(U, G, V)
    inc = -a * Gt * dt + math.sqrt(2.0 * dt / beta) * np.sqrt(a) * xi
    diag = _kappa(s, depth, normalized) if ito else np.zeros_like(s)
    if lam:
        diag = diag + lam * _entropy_drift(s, depth, normalized)
    idx = np.arange(s.shape[-1])
    inc[..., idx, idx] += diag * (dt / beta)
    return X + _unframe(U, inc, V)


def _psi(Y, depth):
    U, mu, V = _svd(Y)
    return _diag_frame(U, mu**depth, V)


def _psi_inverse(X, depth):
    U, s, V = _svd(X)
    return _diag_frame(U, s ** (1.0 / depth), V)


def _step_Y(U, mu, V, G, xi, depth, normalized, beta, lam, dt):
    """Return the new Y after one Euler-Maruyama step of the same SDE in balanced-factor coordinates."""
    dim = mu.shape[-1]
    eye = np.eye(dim, dtype=bool)
    s = mu**depth
    scale = 1.0 / depth if normalized else 1.0
    Gt = _frame(U, G, V)
    dminus = _sym_multiplier(s, depth, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        dplus = (s[..., :, None] + s[..., None, :]) / (mu[..., :, None] + mu[..., None, :])
        ratio = np.where(eye, 1.0, dplus / np.where(eye, 1.0, dminus))
    sym, skew = 0.5 * (Gt + np.swapaxes(Gt, -1, -2)), 0.5 * (Gt - np.swapaxes(Gt, -1, -2))
    xs, xa = 0.5 * (xi + np.swapaxes(xi, -1, -2)), 0.5 * (xi - np.swapaxes(xi, -1, -2))
    drift = -(dplus * sym + dminus * skew)
    noise = np.sqrt(ratio) * xs + xa / np.sqrt(ratio)
    idx = np.arange(dim)
    dd = -(mu ** (depth - 1.0)) * Gt[..., idx, idx] + _kappa_factor(mu, depth) / beta
    if lam:
        dd = dd + lam / (beta * depth) * _entropy_grad_mu(mu, depth)
    drift[..., idx, idx] = dd
    noise[..., idx, idx] = xi[..., idx, idx] / math.sqrt(depth)
    inc = drift * (scale * dt) + math.sqrt(2.0 * scale * dt / beta) * noise
    inc[..., idx, idx] += mu
    return _unframe(U, inc, V)


def _prepare_general(state, is_y, depth, coordinates, finite, svd=None):
    """First half of a step (no energy call): the SVD of the state and, per chain, (U, s, V, mu, X)."""
    U, sigma, V = (svd or _svd)(state)
    if is_y.any():
        mu = np.where(is_y[:, None], sigma, sigma ** (1.0 / depth))
        s = np.where(is_y[:, None], sigma**depth, sigma)
        X = np.where(is_y[:, None, None], _diag_frame(U, s, V), state)
    else:
        s, X = sigma, state
        mu = sigma ** (1.0 / depth) if finite and coordinates != "X" else None
    return U, s, V, mu, X


def _advance_general(prepared, G, xi, depth, normalized, beta, lam, h, coordinates, finite, ito=True):
    """Second half of a step, given the gradient G at X: (new state, which chains stepped in Y)."""
    U, s, V, mu, X = prepared
    n_chains = X.shape[0]
    if coordinates == "X" or not finite:
        use_y = np.zeros(n_chains, dtype=bool)
    elif coordinates == "Y":
        use_y = np.ones(n_chains, dtype=bool)
    else:
        assert mu is not None  # computed whenever the depth is finite and coordinates != "X"
        # one-step noise of s_d relative to s_d: sqrt(2 h a_dd / beta) / s_d, a_dd = N s_d^(2(N-1)/N) (raw)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = math.sqrt(2.0 * h * (1.0 if normalized else depth) / beta) / mu[:, -1]
        use_y = ~(rel < _AUTO_RELATIVE_STEP)
    if not use_y.any():
        return _step_X(X, U, s, V, G, xi, depth, normalized, beta, lam, h, ito), use_y
    if mu is None:  # Y steps only where mu was computed (finite depth, coordinates != "X")
        raise AssertionError("langevin: a Y step without mu")
    if use_y.all():
        return _step_Y(U, mu, V, G, xi, depth, normalized, beta, lam, h), use_y
    ix = ~use_y
    new = np.empty_like(X)
    new[ix] = _step_X(X[ix], U[ix], s[ix], V[ix], G[ix], xi[ix], depth, normalized, beta, lam, h)
    new[use_y] = _step_Y(U[use_y], mu[use_y], V[use_y], G[use_y], xi[use_y], depth, normalized, beta, lam, h)
    return new, use_y


def _step_general(state, is_y, energy, xi, depth, normalized, beta, lam, h, coordinates, finite, ito=True):
    """One step of every chain (any d; one batch of SVDs): (new state, which chains stepped in Y).

    d >= 3 with many chains: both halves run in chunks of ``_SVD_CHUNK`` chains on a thread per core (numpy
    releases the GIL in LAPACK and in its array loops); the energy is called once, on every chain, in the
    calling thread (user energies need not be thread-safe). Every operation acts chain by chain, so the
    numbers are those of the unchunked step, bit for bit (tests/test_langevin.py)."""
    threads = _svd_threads()
    n = state.shape[0]
    if state.shape[-1] == 2 or threads <= 1 or n < 2 * _SVD_CHUNK or os.getpid() != _PID:
        prepared = _prepare_general(state, is_y, depth, coordinates, finite)
        G = _grad(energy, prepared[4])
        return _advance_general(prepared, G, xi, depth, normalized, beta, lam, h, coordinates, finite, ito)
    pool = _svd_pool(threads)
    chunks = [slice(i, i + _SVD_CHUNK) for i in range(0, n, _SVD_CHUNK)]

    def svd(Z):
        U, s, Vt = np.linalg.svd(Z)
        return U, s, np.swapaxes(Vt, -1, -2)

    parts = list(pool.map(lambda c: _prepare_general(state[c], is_y[c], depth, coordinates, finite, svd), chunks))
    X = np.concatenate([part[4] for part in parts])
    G = _grad(energy, X)

    def advance(c, part):
        return _advance_general(part, G[c], xi[c], depth, normalized, beta, lam, h, coordinates, finite, ito)

    done = list(pool.map(advance, chunks, parts))
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


# ---------------------------------------------------------------------------------------------
# d = 2, fused: every 2x2 stack as its four entries (contiguous arrays over the chains). numpy iterates a
# (C, 2, 2) stack two numbers at a time, so the same arithmetic on the entries is several times faster.
def _entries(X: np.ndarray) -> tuple:
    return X[:, 0, 0].copy(), X[:, 0, 1].copy(), X[:, 1, 0].copy(), X[:, 1, 1].copy()


def _pack(e: tuple) -> np.ndarray:
    return np.stack(e, axis=-1).reshape(-1, 2, 2)


def _mm2e(A: tuple, B: tuple, ta: bool = False, tb: bool = False) -> tuple:
    a00, a01, a10, a11 = A
    b00, b01, b10, b11 = B
    if ta:
        a01, a10 = a10, a01
    if tb:
        b01, b10 = b10, b01
    return (a00 * b00 + a01 * b10, a00 * b01 + a01 * b11, a10 * b00 + a11 * b10, a10 * b01 + a11 * b11)


def _svd2e(X: tuple) -> tuple:
    """:func:`_svd2` on entries: U, (s1, s2), V as entry tuples."""
    a, b, c, d = X
    e, f, g, h = 0.5 * (a + d), 0.5 * (a - d), 0.5 * (c + b), 0.5 * (c - b)
    q, r = np.hypot(e, h), np.hypot(f, g)
    a1, a2 = np.arctan2(g, f), np.arctan2(h, e)
    theta, phi = 0.5 * (a2 - a1), 0.5 * (a2 + a1)
    s2 = q - r
    sign = np.where(s2 < 0, -1.0, 1.0)
    cp, sp, ct, st = np.cos(phi), np.sin(phi), np.cos(theta), np.sin(theta)
    return (cp, -sp, sp, cp), (q + r, np.abs(s2)), (ct, st * sign, -st, ct * sign)


def _diag_frame_e(U: tuple, s: tuple, V: tuple) -> tuple:
    return _mm2e((U[0] * s[0], U[1] * s[1], U[2] * s[0], U[3] * s[1]), V, tb=True)


def _sym_multiplier_e(v0, v1, depth, normalized) -> tuple:
    """(a(v0, v0), a(v0, v1), a(v1, v1)) as :func:`_sym_multiplier`."""
    deg = 1.0 if math.isinf(depth) else (depth - 1.0) / depth
    a11 = float(_multiplier_unchecked(np.ones(1), np.ones(1), depth, normalized)[0])
    with np.errstate(divide="ignore"):
        return a11 * v0**deg, _multiplier_unchecked(v0, v1, depth, normalized), a11 * v1**deg


def _step_X_e(X, U, s, V, G, xi, depth, normalized, beta, lam, dt) -> tuple:
    """:func:`_step_X` on entries."""
    a00, a01, a11 = _sym_multiplier_e(s[0] * s[0], s[1] * s[1], depth, normalized)
    Gt = _mm2e(_mm2e(U, G, ta=True), V)
    c = math.sqrt(2.0 * dt / beta)
    s2 = np.stack(s, axis=-1)
    diag = _kappa(s2, depth, normalized)
    if lam:
        diag = diag + lam * _entropy_drift(s2, depth, normalized)
    inc = (
        -a00 * Gt[0] * dt + c * np.sqrt(a00) * xi[0] + diag[:, 0] * (dt / beta),
        -a01 * Gt[1] * dt + c * np.sqrt(a01) * xi[1],
        -a01 * Gt[2] * dt + c * np.sqrt(a01) * xi[2],
        -a11 * Gt[3] * dt + c * np.sqrt(a11) * xi[3] + diag[:, 1] * (dt / beta),
    )
    step = _mm2e(_mm2e(U, inc), V, tb=True)
    return tuple(x + d for x, d in zip(X, step, strict=True))


def _step_Y_e(U, mu, V, G, xi, depth, normalized, beta, lam, dt) -> tuple:
    """:func:`_step_Y` on entries: the new Y."""
    s0, s1 = mu[0] ** depth, mu[1] ** depth
    scale = 1.0 / depth if normalized else 1.0
    Gt = _mm2e(_mm2e(U, G, ta=True), V)
    dminus = _multiplier_unchecked(s0, s1, depth, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        dplus = (s0 + s1) / (mu[0] + mu[1])
        root = np.sqrt(dplus / dminus)
    sym, skew = 0.5 * (Gt[1] + Gt[2]), 0.5 * (Gt[1] - Gt[2])
    xs, xa = 0.5 * (xi[1] + xi[2]), 0.5 * (xi[1] - xi[2])
    mu2 = np.stack(mu, axis=-1)
    kf = _kappa_factor_d2(mu2, depth) / beta
    if lam:
        kf = kf + lam / (beta * depth) * _entropy_grad_mu(mu2, depth)
    h, c = scale * dt, math.sqrt(2.0 * scale * dt / beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise01, noise10 = root * xs + xa / root, root * xs - xa / root
    inc = (
        (-(mu[0] ** (depth - 1.0)) * Gt[0] + kf[:, 0]) * h + c * xi[0] / math.sqrt(depth) + mu[0],
        -(dplus * sym + dminus * skew) * h + c * noise01,
        -(dplus * sym - dminus * skew) * h + c * noise10,
        (-(mu[1] ** (depth - 1.0)) * Gt[3] + kf[:, 1]) * h + c * xi[3] / math.sqrt(depth) + mu[1],
    )
    return _mm2e(_mm2e(U, inc), V, tb=True)


def _step_d2(state, is_y, energy, xi, depth, normalized, beta, lam, h, coordinates, finite):
    """One step of every chain at d = 2 (the loop body of :func:`langevin` for d > 2, fused): (new, use_y)."""
    Se = _entries(state)
    U, sigma, V = _svd2e(Se)
    inv = 1.0 / depth if finite else 0.0
    if is_y.any():
        mu = tuple(np.where(is_y, v, v**inv) for v in sigma)
        s = tuple(np.where(is_y, v**depth, v) for v in sigma)
        Xd = _diag_frame_e(U, s, V)
        X = tuple(np.where(is_y, a, b) for a, b in zip(Xd, Se, strict=True))
    else:
        s, X = sigma, Se
        mu = tuple(v**inv for v in sigma) if finite and coordinates != "X" else None
    G = _entries(_grad(energy, _pack(X)))
    xe = _entries(xi)
    if coordinates == "X" or not finite:
        use_y = np.zeros(len(is_y), dtype=bool)
    elif coordinates == "Y":
        use_y = np.ones(len(is_y), dtype=bool)
    else:
        assert mu is not None  # finite depth, coordinates 'auto'
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = math.sqrt(2.0 * h * (1.0 if normalized else depth) / beta) / mu[1]
        use_y = ~(rel < _AUTO_RELATIVE_STEP)
    with np.errstate(all="ignore"):  # the step a chain does not take may overflow; it is discarded
        new_x = None if use_y.all() else _step_X_e(X, U, s, V, G, xe, depth, normalized, beta, lam, h)
        new_y = None if not use_y.any() else _step_Y_e(U, mu, V, G, xe, depth, normalized, beta, lam, h)
    if new_y is None:
        assert new_x is not None  # no chain took the Y step: all took the X step
        return _pack(new_x), use_y
    if new_x is None:
        return _pack(new_y), use_y
    return _pack(tuple(np.where(use_y, a, b) for a, b in zip(new_y, new_x, strict=True))), use_y


@functools.lru_cache(maxsize=64)
def _unit_multiplier(depth: float, normalized: bool) -> float:
    """a(1, 1) from the twin (N raw, 1 normalized): the diagonal a(v, v) = a(1, 1) v^((N-1)/N)."""
    return float(_multiplier_unchecked(np.ones(1), np.ones(1), depth, normalized)[0])


def _step_d2_jit(state, is_y, energy, xi, depth, normalized, beta, lam, h, coordinates, finite):
    """:func:`_step_d2` compiled per chain (:mod:`riemdln.thermo._langevin_jit`): the same formulas, one pass."""
    n = state.shape[0]
    X, frames, spectra, new = np.empty_like(state), np.empty((n, 8)), np.empty((n, 4)), np.empty_like(state)
    code = _langevin_jit.COORDINATES[coordinates]
    use_y = _langevin_jit.prepare(
        state,
        is_y,
        float(depth),
        bool(normalized),
        float(beta),
        float(h),
        code,
        _AUTO_RELATIVE_STEP,
        X,
        frames,
        spectra,
    )
    G = np.ascontiguousarray(_grad(energy, X), dtype=float)
    a_unit = _unit_multiplier(float(depth), bool(normalized))
    depth, beta, lam, h = float(depth), float(beta), float(lam), float(h)  # one compiled signature
    _langevin_jit.advance(X, frames, spectra, G, xi, use_y, depth, bool(normalized), beta, lam, h, a_unit, new)
    return new, use_y


def _d2_step():
    """The d = 2 step: compiled where numba is installed (:data:`_JIT_D2`), else the fused numpy one."""
    return _step_d2_jit if _JIT_D2 and _langevin_jit.AVAILABLE else _step_d2


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LangevinResult:
    r"""Outcome of :func:`langevin` (read like :class:`riemdln.FlowResult`).

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Saved times (every ``save_every`` steps, and the last).
    X : ndarray, shape (n_t, n_chains, d, d)
    status : riemdln.flows.result.Status
        ``FINISHED``, or ``FAILED``: a chain became non-finite, or the energy's gradient returned a bad value or
        raised (the run stops there; ``error`` holds it), or its loss was not finite at a saved state.
    message : str
    diagnostics : mapping of str to ndarray, leading axes (n_t, n_chains)
        ``"loss"`` E, ``"singular_values"`` (..., d), ``"det_sign"``, ``"entropy"`` S_N (the normalized
        convention gives the renormalized entropy, see :func:`riemdln.entropy`), ``"free_energy"``
        :math:`E - \beta^{-1}S_N`, ``"y_fraction"`` (fraction of the steps since the last save taken in Y).
    depth, normalized, beta, free_energy, coordinates, dt, n_steps

    See Also
    --------
    langevin : what returns it.
    riemdln.Status : the statuses; ``success`` is ``status >= 0``.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> r = riemdln.langevin(riemdln.QuadraticEnergy(np.eye(2)), np.eye(2), depth=2, beta=10.0, t_final=0.01, dt=1e-3,
    ...                      seed=0)
    >>> r.success, r.X.shape[-2:], r["loss"].shape == r.t.shape + (1,)
    (True, (2, 2), True)
    """

    t: np.ndarray
    X: np.ndarray
    status: Status
    message: str
    diagnostics: Mapping[str, np.ndarray] = field(default_factory=dict)
    depth: float = 1.0
    normalized: bool = False
    beta: float = 1.0
    free_energy: bool = False
    coordinates: str = "auto"
    dt: float = 0.0
    n_steps: int = 0
    error: Exception | None = None

    @property
    def success(self) -> bool:
        return self.status >= 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.diagnostics[name]

    def __repr__(self) -> str:
        return (
            f"LangevinResult(depth={self.depth}, normalized={self.normalized}, beta={self.beta}, "
            f"n_t={len(self.t)}, n_chains={self.X.shape[1]}, status={self.status.name}, message={self.message!r})"
        )


def _check_coordinates(value, depth) -> str:
    if value not in ("auto", "X", "Y"):
        raise RiemdlnValueError(f'`coordinates` must be "auto", "X" or "Y"; got {short(value)}.')
    if value == "Y" and math.isinf(depth):
        raise RiemdlnValueError('`coordinates="Y"` needs a finite depth (Y = X^{1/N} degenerates at N = inf).')
    if value == "Y" and depth > _MAX_Y_DEPTH:
        raise RiemdlnValueError(
            f'`coordinates="Y"` needs depth <= {_MAX_Y_DEPTH:g}; got {depth:g}: X = Y (Y^T Y)^((N-1)/2) raises the '
            "singular values of Y to the power N, so one step's error in Y is amplified N-fold in X (and overflows "
            'at N = 1e6). Use coordinates="X" (or "auto", which steps in X at such depths).'
        )
    return value


@with_blas_threads
def langevin(
    energy,
    X0: ArrayLike,
    depth: float,
    beta: float,
    t_final: float,
    dt: float,
    normalized: bool = False,
    free_energy: bool = False,
    n_chains: int = 1,
    seed=None,
    coordinates: str = "auto",
    save_every: int | None = None,
    *,
    _ito: bool = True,
) -> LangevinResult:
    r"""Simulate the Riemannian Langevin equation of :math:`(M_d, g^N)` (Euler–Maruyama, vectorized chains).

    .. math:: dX = [-A_N\nabla E + \beta^{-1}c_N + \lambda\beta^{-1}A_N\nabla S_N]\,dt + \sqrt{2/\beta}A_N^{1/2}dB,

    :math:`\lambda = 1` if ``free_energy`` (stationary law :math:`e^{-\beta F}\mathrm{vol}_{g^N}`,
    :math:`F = E - \beta^{-1}S_N`), else 0 (:math:`e^{-\beta E}\mathrm{vol}_{g^N}`). See the module docstring for
    the coefficients and the two charts (docs/theory.md §13).

    Parameters
    ----------
    energy : energy
        Any object with ``shape`` (square, d x d), ``loss`` and ``gradient`` (:class:`riemdln.QuadraticEnergy`,
        :class:`riemdln.CompletionProblem`, ...).
    X0 : array_like, shape (d, d) or (n_chains, d, d)
        Start (shared by all chains, or one per chain).
    depth : float or math.inf
        Depth N (``math.inf`` needs ``normalized=True``; its Gibbs law is not normalizable).
    beta : float
        Inverse temperature > 0.
    t_final, dt : float
        Time span and step (> 0); ``round(t_final / dt)`` steps of ``t_final / n_steps``. Time is t (raw) or
        :math:`\tau = N t` (normalized).
    normalized : bool
        Metric :math:`\hat g^N = N g^N` (coefficients / N).
    free_energy : bool
        Add the entropic drift (:math:`\lambda = 1`).
    n_chains : int
        Independent chains (vectorized: one batch of SVDs per step; at d = 2 one compiled loop over the
        chains, on one thread unless ``NUMBA_NUM_THREADS`` = k > 1 asks for numba's threads, see
        :mod:`riemdln.thermo._langevin_jit`; at d >= 3 with >= 512 chains the step runs in chunks of chains on a thread
        per core, with the same numbers bit for bit). BLAS runs on one thread during the call unless
        ``OPENBLAS_NUM_THREADS`` (or OMP/MKL/BLIS) or ``RIEMDLN_BLAS_THREADS=k`` is set.
    seed : None, int or numpy.random.Generator
        Seeded runs are reproducible bit for bit.
    coordinates : {"auto", "X", "Y"}
        ``"X"``: Euler–Maruyama in X (biased near det X = 0 for N >= 3, docs/theory.md §13 pitfall); ``"Y"``: in
        balanced-factor coordinates (depth <= 200 only: X = Y(Y^TY)^{(N-1)/2} amplifies a step's error in Y
        N-fold); ``"auto"``: per chain and step, X while the one-step noise of the smallest singular value is
        below 5 % of it, else Y (X only at N = inf and at N > 200, said in the message).
    save_every : int, optional
        Save every so many steps (default: keep the saved X under 5e6 numbers).
    _ito : bool
        Private (study ``langevin_check``): ``False`` drops the Itô correction, X coordinates only, to show it is
        needed. Never use it for sampling.

    Returns
    -------
    LangevinResult

    See Also
    --------
    gibbs_sample : exact draws of the stationary law (Metropolis-adjusted).
    gibbs_expectation : the stationary law's expectations at d = 2, by quadrature.
    LangevinResult : what it returns.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> E = riemdln.QuadraticEnergy(np.diag([2.0, 1.0]))
    >>> r = riemdln.langevin(E, np.eye(2), depth=3, beta=1e6, t_final=1.0, dt=1e-3, seed=1)
    >>> bool(np.allclose(r.X[-1, 0], np.diag([2.0, 1.0]), atol=0.05))
    True
    """
    energy, dim = _square_energy(energy)
    normalized = check_bool(normalized, "normalized")
    free_energy = check_bool(free_energy, "free_energy")
    depth = check_depth(depth, normalized)
    beta = _positive(beta, "beta")
    t_final = _positive(t_final, "t_final")
    dt = _positive(dt, "dt")
    n_chains = _positive_int(n_chains, "n_chains")
    seed = check_seed(seed)
    coordinates, note = _chosen_coordinates(_check_coordinates(coordinates, depth), depth, _ito)
    check_allocation(n_chains * dim * dim, "n_chains", f"{short(n_chains)} chains of {dim}x{dim} states")
    X0 = _check_chains_start(X0, energy, n_chains, dim)
    n_steps, h = _time_steps(t_final, dt)
    plan = _LangevinPlan(
        energy=energy,
        depth=depth,
        normalized=normalized,
        beta=beta,
        lam=1.0 if free_energy else 0.0,
        h=h,
        n_steps=n_steps,
        saves=_save_steps(n_steps, save_every, n_chains, dim),
        coordinates=coordinates,
        ito=_ito,
    )
    run = _run_chains(plan, X0, np.random.default_rng(seed))
    status, message, diags = _langevin_verdict(plan, run, note)
    return LangevinResult(
        t=run.t,
        X=run.X,
        status=status,
        message=message,
        diagnostics=diags,
        depth=depth,
        normalized=normalized,
        beta=beta,
        free_energy=free_energy,
        coordinates=coordinates,
        dt=h,
        n_steps=n_steps,
        error=run.error,
    )


def _chosen_coordinates(coordinates: str, depth: float, ito: bool) -> tuple[str, str]:
    """The coordinates a run uses (``"auto"`` is X beyond depth :data:`_MAX_Y_DEPTH`, said in the note; without
    the Itô correction, X) and the note for the message."""
    note = ""
    if coordinates == "auto" and math.isfinite(depth) and depth > _MAX_Y_DEPTH:
        coordinates = "X"
        note = (
            f" Coordinates: X throughout (auto uses the Y chart only up to depth {_MAX_Y_DEPTH:g}: Y = X^(1/N) "
            "amplifies a step's error N-fold)."
        )
    if not ito:
        coordinates = "X"
    return coordinates, note


def _check_chains_start(X0, energy, n_chains: int, dim: int) -> np.ndarray:
    """``X0`` checked: (d, d) shared by the chains (broadcast) or (n_chains, d, d); the energy's first values at
    the first chain's start checked."""
    X0 = check_matrix(X0, "X0")
    if X0.ndim == 2:
        X0 = np.broadcast_to(X0, (n_chains, *X0.shape))
    if X0.ndim == 3 and X0.shape[1:] == (dim, dim):
        _check_first_values(energy, X0[0])
    if X0.ndim != 3 or X0.shape != (n_chains, dim, dim):
        raise RiemdlnValueError(
            f"`X0` must have shape ({dim}, {dim}) or (n_chains, {dim}, {dim}) = ({n_chains}, {dim}, {dim}); "
            f"got {X0.shape}."
        )
    return X0


def _time_steps(t_final: float, dt: float) -> tuple[int, float]:
    """``round(t_final / dt)`` steps (at least one) and their size ``t_final / n_steps``."""
    steps = t_final / dt
    if not steps <= _MAX_STEPS:  # before any work: such a run could not finish (and round() overflows)
        raise RiemdlnValueError(
            f"`dt` must leave at most {_MAX_STEPS:.3g} steps in `t_final`; t_final / dt = {steps:.3g}."
        )
    n_steps = max(1, int(round(steps)))
    return n_steps, t_final / n_steps


def _save_steps(n_steps: int, save_every, n_chains: int, dim: int) -> list[int]:
    """The steps whose states are saved: 0, every ``save_every`` (default: the saved X below
    :data:`_MAX_SAVED_FLOATS` numbers), and the last; the allocation checked."""
    if save_every is None:
        save_every = max(1, math.ceil(n_steps * n_chains * dim * dim / _MAX_SAVED_FLOATS))
    save_every = _positive_int(save_every, "save_every")
    n_saved = n_steps // save_every + 2
    check_allocation(
        n_saved * n_chains * dim * dim,
        "save_every",
        f"{n_saved} saved states of {n_chains} chains of {dim}x{dim}",
        "choose a larger `save_every` (or fewer steps or chains)",
    )
    saves = list(range(0, n_steps + 1, save_every))
    if saves[-1] != n_steps:
        saves.append(n_steps)
    return saves


@dataclass(frozen=True, slots=True, eq=False)
class _LangevinPlan:
    """What a checked :func:`langevin` run does: ``n_steps`` steps of size ``h`` at inverse temperature ``beta``
    (``lam``: 1 with the entropic drift, else 0), the states at the steps ``saves`` kept."""

    energy: object
    depth: float
    normalized: bool
    beta: float
    lam: float
    h: float
    n_steps: int
    saves: list[int]
    coordinates: str
    ito: bool


@dataclass(frozen=True, slots=True, eq=False)
class _ChainsRun:
    """The chains' saved states (``t``, ``X``, ``y_fraction``), and how the run ended: ``reason`` (empty unless
    it failed), the user's ``error``, the ``last`` step taken."""

    t: np.ndarray
    X: np.ndarray
    y_fraction: np.ndarray
    failed: bool
    reason: str
    error: CallableValueError | None
    last: int


def _run_chains(plan: _LangevinPlan, X0: np.ndarray, rng: np.random.Generator) -> _ChainsRun:
    """Step the chains (:func:`_step_d2` or :func:`_step_general`) until the end, a non-finite chain or a bad
    gradient, saving at ``plan.saves``."""
    depth, saves = plan.depth, plan.saves
    n_chains, dim = X0.shape[0], X0.shape[1]
    # the state of each chain: X, or Y where it last stepped in balanced-factor coordinates (near det X = 0,
    # X would lose mu = s^(1/N) to rounding); one SVD of the state per step serves both charts
    state = np.array(X0, dtype=float)
    is_y = np.zeros(n_chains, dtype=bool)
    if plan.coordinates == "Y":
        state, is_y = _psi_inverse(state, depth), np.ones(n_chains, dtype=bool)
    out = np.empty((len(saves), n_chains, dim, dim))
    yfrac = np.zeros((len(saves), n_chains))
    out[0] = X0
    k_save, y_count, failed, reason, error = 1, np.zeros(n_chains), False, "", None
    last = 0
    fused = _d2_step() if dim == 2 and _FUSED_D2 and plan.ito else None
    energy, normalized, beta, lam, h, coordinates = (
        plan.energy,
        plan.normalized,
        plan.beta,
        plan.lam,
        plan.h,
        plan.coordinates,
    )
    finite = not math.isinf(depth)
    for step in range(1, plan.n_steps + 1):
        xi = rng.standard_normal(state.shape)
        args = (state, is_y, energy, xi, depth, normalized, beta, lam, h, coordinates, finite)
        try:
            new, use_y = fused(*args) if fused is not None else _step_general(*args, plan.ito)
        except CallableValueError as exc:  # the user's gradient: FAILED, the saved states so far kept
            failed, reason, error = True, f"{exc} (step {step}); the states saved before are kept", exc
            break
        y_count += use_y
        if not np.all(np.isfinite(new)):
            bad = int(np.argmax(~np.all(np.isfinite(new), axis=(1, 2))))
            failed, reason = True, f"chain {bad} became non-finite at step {step}"
            break
        state, is_y = new, use_y
        last = step
        if k_save < len(saves) and step == saves[k_save]:
            out[k_save] = np.where(is_y[:, None, None], _psi(state, depth), state) if is_y.any() else state
            yfrac[k_save] = y_count / max(1, saves[k_save] - saves[k_save - 1])
            y_count[:] = 0
            k_save += 1
    t = np.asarray(saves[:k_save], dtype=float) * plan.h
    return _ChainsRun(t, out[:k_save], yfrac[:k_save], failed, reason, error, last)


def _langevin_verdict(plan: _LangevinPlan, run: _ChainsRun, note: str) -> tuple[Status, str, dict]:
    """The status, the message and the diagnostics of a run: FAILED if it failed, or if the energy's loss was
    not finite at a saved finite state."""
    t, depth = run.t, plan.depth
    diags = _diagnostics(plan.energy, run.X, depth, plan.normalized, plan.beta)
    diags["y_fraction"] = run.y_fraction
    status, reason = (Status.FAILED if run.failed else Status.FINISHED), run.reason
    bad = ~np.isfinite(diags["loss"]) & np.all(np.isfinite(run.X), axis=(-2, -1))
    if status != Status.FAILED and np.any(bad):
        i = int(np.argmax(np.any(bad, axis=-1)))
        status = Status.FAILED
        reason = (
            f"the energy's `loss` was not a finite number at the saved time t = {t[i]:.6g} (the run is not trusted)"
        )
    if status == Status.FAILED:
        return status, f"The integration failed at t = {run.last * plan.h:.6g}: {reason}.", diags
    message = f"Reached the end of the time span (t = {t[-1]:.6g}) in {plan.n_steps} steps of {plan.h:.3g}.{note}"
    if math.isinf(depth):
        message += (
            " Note: at depth=inf the Gibbs law is not normalizable (no invariant probability; log s_d drifts "
            "towards lower rank)."
        )
    return status, message, diags


def _diagnostics(energy, X, depth, normalized, beta) -> dict:
    s = np.linalg.svd(X, compute_uv=False)
    loss = _safe_loss(energy, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = _entropy(s, depth, normalized=normalized) if not (math.isinf(depth) and not normalized) else None
    return {
        "loss": loss,
        "singular_values": s,
        "det_sign": np.sign(np.linalg.det(X)),
        "entropy": ent,
        "free_energy": loss - ent / beta,
    }


# ---------------------------------------------------------------------------------------------
# exact static sampler: MALA in Y
def _log_target_and_grad(energy, Y, depth, beta, lam):
    """log of e^{-beta E(Psi Y) + lam S_N(Psi Y)} (w.r.t. dY, up to a constant) and its Euclidean gradient."""
    dim = Y.shape[-1]
    U, mu, V = _svd(Y)
    s = mu**depth
    X = _unframe(U, s[..., :, None] * np.eye(dim), V)
    E = _loss(energy, X)
    Gt = _frame(U, _grad(energy, X), V)
    dminus = _multiplier(s[..., :, None], s[..., None, :], depth, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        dplus = (s[..., :, None] + s[..., None, :]) / (mu[..., :, None] + mu[..., None, :])
    sym, skew = 0.5 * (Gt + np.swapaxes(Gt, -1, -2)), 0.5 * (Gt - np.swapaxes(Gt, -1, -2))
    grad_frame = dminus * sym + dplus * skew  # D Psi^T grad E: Delta^- on symmetric, Delta^+ on skew parts
    idx = np.arange(dim)
    grad_frame[..., idx, idx] = depth * mu ** (depth - 1.0) * Gt[..., idx, idx]
    logp = -beta * E
    g = -beta * grad_frame
    if lam:
        with np.errstate(divide="ignore"):
            logp = logp + 0.5 * np.sum(
                np.triu(np.log(_multiplier(s[..., :, None] ** 2, s[..., None, :] ** 2, depth, False)), 1),
                axis=(-2, -1),
            )
        g[..., idx, idx] += _entropy_grad_mu(mu, depth)
    return logp, _unframe(U, g, V), X


@dataclass(frozen=True, kw_only=True)
class GibbsSample:
    """Outcome of :func:`gibbs_sample`.

    Attributes
    ----------
    samples : ndarray, shape (n_samples, d, d)
        Draws of X from the Gibbs law (correlated within each chain; chains are interleaved blocks).
    acceptance_rate : float
        Metropolis acceptance after burn-in.
    effective_sample_size : float
        Smallest effective sample size among the loss and the entries of X (initial positive sequence of the
        autocorrelations, summed over chains).
    step_size : float
        MALA step in Y after adaptation.
    chain_acceptance : ndarray, shape (n_chains,)
        Acceptance of each chain after burn-in; a chain below ``STALLED_CHAIN`` (0.1) is stalled and the
        result is ``INACCURATE``.
    status, message

    See Also
    --------
    gibbs_sample : what returns it.
    GibbsExpectation : the quadrature counterpart.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> r = riemdln.gibbs_sample(riemdln.QuadraticEnergy(np.eye(2)), depth=2, beta=4.0, n_samples=400, seed=0)
    >>> type(r).__name__, r.samples.shape[1:]
    ('GibbsSample', (2, 2))
    """

    samples: np.ndarray
    acceptance_rate: float
    effective_sample_size: float
    step_size: float
    status: Status
    message: str
    n_chains: int = 1
    chain_acceptance: np.ndarray | None = None

    @property
    def success(self) -> bool:
        return self.status >= 0


STALLED_CHAIN = 0.1  # a chain accepting fewer moves than this after burn-in is stalled (typical: 0.57)
_DRIFT_CAP = 2.0  # the MALA drift is at most this many times the typical noise length sqrt(2 eps) d


def _capped(drift: np.ndarray, cap: float) -> np.ndarray:
    """Truncated MALA drift: each chain's drift scaled to Frobenius norm at most ``cap`` (Roberts-Tweedie)."""
    norm = np.sqrt(np.sum(drift * drift, axis=(-2, -1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norm > cap, cap / norm, 1.0)
    return drift * scale[..., None, None]


def gibbs_sample(
    energy,
    depth: float,
    beta: float,
    n_samples: int,
    free_energy: bool = False,
    seed=None,
    n_chains: int = 16,
    burn_in: int = 1000,
    *,
    normalized: bool = False,
) -> GibbsSample:
    r"""Draw from :math:`e^{-\beta E}\,\mathrm{vol(fibre)}^\lambda\,\mathrm{vol}_{g^N}` by MALA in balanced factors.

    In :math:`Y` (:math:`X = Y(Y^TY)^{(N-1)/2}`) the law is :math:`N^{d/2} e^{-\beta E(\Psi(Y)) + \lambda S_N}dY`
    (catalog ``log_gibbs_density_factor``), which Euclidean Metropolis-adjusted Langevin samples exactly; no
    difficulty at :math:`\det X = 0` (the sign of det is crossed freely). The step is adapted during
    ``burn_in`` towards acceptance 0.57, then fixed. Same law raw or normalized (only the constant differs).

    The drift is truncated (Roberts and Tweedie's MALTA): the proposal is
    :math:`Y' = Y + \min(1, c/\lVert\epsilon\nabla\log p\rVert)\,\epsilon\nabla\log p + \sqrt{2\epsilon}\,\xi`
    with :math:`c = 2\sqrt{2\epsilon}\,d`, the same in the forward and the reverse proposal density, so the
    chain stays exact. Without it a chain that wanders where :math:`E(\Psi(Y))` is steep (a polynomial of
    degree 2N in Y) overshoots on every proposal and stops moving. A chain that still accepts fewer than
    ``STALLED_CHAIN`` (0.1) of its moves after burn-in makes the result ``INACCURATE``, named in ``.message``.

    Parameters
    ----------
    energy : energy (square)
    depth : float
        Finite depth N >= 1 (``math.inf``: not normalizable, an error).
    beta : float
        Inverse temperature > 0.
    n_samples : int
        Total draws (split over ``n_chains`` vectorized chains).
    free_energy : bool
        :math:`\lambda = 1` (include the fibre volume :math:`e^{S_N}`).
    seed : None, int or Generator
    n_chains, burn_in : int
    normalized : bool
        The convention of the metric (:math:`g^N` or :math:`\hat g^N = N g^N`), as for every depth function.
        Its volume is a constant multiple of the raw one, so the Gibbs law, and the samples, are the same.

    Returns
    -------
    GibbsSample
        The draws of X, acceptance, effective sample size, step size and ``status`` (INACCURATE if a chain
        stalled).

    See Also
    --------
    gibbs_expectation : the quadrature oracle at d = 2.
    langevin : Langevin dynamics in :math:`g^N`, whose stationary law this is.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> r = riemdln.gibbs_sample(riemdln.QuadraticEnergy(np.eye(2)), depth=2, beta=4.0, n_samples=800, seed=0)
    >>> r.samples.shape, 0.3 < r.acceptance_rate < 0.9
    ((800, 2, 2), True)
    """
    energy, dim = _square_energy(energy)
    check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized=True)
    _not_normalizable(depth)
    beta = _positive(beta, "beta")
    n_samples = _positive_int(n_samples, "n_samples")
    free_energy = check_bool(free_energy, "free_energy")
    seed = check_seed(seed)
    n_chains = _positive_int(n_chains, "n_chains")
    burn_in = _positive_int(burn_in, "burn_in", low=0)
    check_allocation(n_samples * dim * dim, "n_samples", f"{short(n_samples)} kept {dim}x{dim} samples")
    lam = 1.0 if free_energy else 0.0
    rng = np.random.default_rng(seed)
    C = min(n_chains, n_samples)
    per = math.ceil(n_samples / C)
    Y = rng.standard_normal((C, dim, dim)) * (1.0 / (beta * depth)) ** 0.5 + np.eye(dim) * 0.5
    logp, g, X = _log_target_and_grad(energy, Y, depth, beta, lam)
    eps = 0.1 / (beta * depth) ** 0.5 / dim
    log_eps = math.log(eps)
    kept = np.empty((per, C, dim, dim))
    accepted = np.zeros(C)
    for it in range(burn_in + per):
        noise = rng.standard_normal(Y.shape)
        cap = _DRIFT_CAP * math.sqrt(2 * eps) * dim
        drift = _capped(eps * g, cap)
        prop = Y + drift + math.sqrt(2 * eps) * noise
        logp2, g2, X2 = _log_target_and_grad(energy, prop, depth, beta, lam)
        fwd = -np.sum((prop - Y - drift) ** 2, axis=(1, 2)) / (4 * eps)
        bwd = -np.sum((Y - prop - _capped(eps * g2, cap)) ** 2, axis=(1, 2)) / (4 * eps)
        with np.errstate(invalid="ignore", over="ignore"):
            log_alpha = np.where(np.isfinite(logp2), logp2 - logp + bwd - fwd, -np.inf)
        acc = np.log(rng.uniform(size=C)) < log_alpha
        Y = np.where(acc[:, None, None], prop, Y)
        X = np.where(acc[:, None, None], X2, X)
        g = np.where(acc[:, None, None], g2, g)
        logp = np.where(acc, logp2, logp)
        if it < burn_in:
            rate = float(np.mean(np.minimum(1.0, np.exp(np.minimum(log_alpha, 0.0)))))
            log_eps += (rate - 0.574) / math.sqrt(it + 1.0)
            eps = math.exp(log_eps)
        else:
            accepted += acc
            kept[it - burn_in] = X
    samples = np.swapaxes(kept, 0, 1).reshape(-1, dim, dim)[:n_samples]
    series = np.concatenate([_loss(energy, kept)[..., None], kept.reshape(per, C, -1)], axis=-1)
    ess = effective_sample_size(series) if per > 3 else float(n_samples)
    chain_rate = accepted / per
    rate = float(chain_rate.mean())
    stalled = int(np.sum(chain_rate < STALLED_CHAIN))
    status = Status.FAILED if rate == 0 else Status.INACCURATE if stalled else Status.FINISHED
    message = (
        f"{n_samples} draws from {C} chains after {burn_in} burn-in steps; acceptance {rate:.2f}, "
        f"effective sample size {ess:.0f}."
    )
    if stalled:
        message += (
            f" {stalled} chain(s) accepted fewer than {STALLED_CHAIN:g} of their moves after burn-in (stalled): "
            "their draws are not from the Gibbs law."
        )
    return GibbsSample(
        samples=samples,
        acceptance_rate=rate,
        effective_sample_size=ess,
        step_size=eps,
        status=status,
        message=message,
        n_chains=C,
        chain_acceptance=chain_rate,
    )


# ---------------------------------------------------------------------------------------------
# deterministic quadrature oracle, d = 2
@dataclass(frozen=True)
class GibbsExpectation:
    r"""Outcome of :func:`gibbs_expectation`.

    Parameters
    ----------
    value : ndarray or float
        :math:`\mathbb E[f(X)]` (the shape of f's output for one X).
    error : ndarray or float
        Difference between the last two grids (conservative: the rule converges geometrically).
    mu_max : float
        Upper end of the radial variable :math:`\mu_1` (where the weight has fallen by :math:`e^{-46}`).
    n_points : int
        Points of the last grid.
    status : Status
        FINISHED, or INACCURATE when ``max_points`` was reached first.
    message : str

    See Also
    --------
    gibbs_expectation : what returns it.
    GibbsSample : the sampled counterpart.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> r = riemdln.gibbs_expectation(riemdln.QuadraticEnergy(np.eye(2)), lambda X: X[:, 1, 1], depth=1, beta=2.0)
    >>> type(r).__name__, round(float(r.value), 6)
    ('GibbsExpectation', 1.0)
    """

    value: np.ndarray | float
    error: np.ndarray | float
    mu_max: float
    n_points: int
    status: Status
    message: str


def _rot(a):
    c, s = np.cos(a), np.sin(a)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def _chart_logweights(energy, mu1, u, th, ph, depth, beta, lam, sign):
    """X and log(weight) on a product grid: X = R(th) diag(mu1^N, sign (u mu1)^N) R(ph)^T."""
    M1, Uu, TH, PH = np.meshgrid(mu1, u, th, ph, indexing="ij")
    mu2 = Uu * M1
    s1, s2 = M1**depth, mu2**depth
    D = np.zeros((*M1.shape, 2, 2))
    D[..., 0, 0], D[..., 1, 1] = s1, sign * s2
    X = _rot(TH) @ D @ np.swapaxes(_rot(PH), -1, -2)
    with np.errstate(divide="ignore"):
        logw = -beta * _loss(energy, X) + np.log(depth * (M1**2 - mu2**2) * M1)
        if lam:
            logw = logw + 0.5 * np.log(_multiplier(s1**2, s2**2, depth, False))
    return X, logw


def _axis(box, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights: Gauss–Legendre on the interval ``box``, the trapezoid rule on a full period (None),
    Gauss–Hermite for ``("hermite", centre, sigma)``."""
    if box is None:
        return 2 * np.pi * np.arange(n) / n, np.full(n, 2 * np.pi / n)
    if len(box) == 3:  # ("hermite", centre, sigma): Gauss–Hermite around a Gaussian-like peak, its weight divided out
        x, w = np.polynomial.hermite.hermgauss(n)
        c, sig = box[1], box[2]
        return c + math.sqrt(2) * sig * x, math.sqrt(2) * sig * w * np.exp(x * x)
    x, w = np.polynomial.legendre.leggauss(n)
    lo, hi = box
    return lo + 0.5 * (hi - lo) * (x + 1), 0.5 * (hi - lo) * w


def _quadrature(energy, f, depth, beta, lam, boxes, n_r, n_a):
    """E[f] on the chart boxes ``{sign: an axis (see _axis) for each of mu1, u, theta, phi}``."""
    num, den, shift = 0.0, 0.0, -np.inf
    for sign, box in boxes.items():
        mu1, w1 = _axis(box[0], n_r)
        u, wu = _axis(box[1], n_r)
        th, wt = _axis(box[2], n_a)
        ph, wp = _axis(box[3], n_a)
        for i in range(n_r):  # one slice of mu1 at a time: bounded memory
            X, logw = _chart_logweights(energy, mu1[i : i + 1], u, th, ph, depth, beta, lam, sign)
            top = float(np.max(logw))
            if top > shift:  # log-sum-exp across slices: rescale what was summed to the running maximum
                scale = math.exp(shift - top) if math.isfinite(shift) else 0.0
                num, den, shift = num * scale, den * scale, top
            if not math.isfinite(shift):
                continue  # nothing of weight yet
            w = np.exp(logw - shift) * (w1[i] * wu[None, :, None, None] * wt[None, None, :, None] * wp)
            val = _observable(f, X.reshape(-1, 2, 2))
            val = val.reshape(w.size, *val.shape[1:])
            wf = w.reshape(-1)
            num = num + np.tensordot(wf, val, axes=(0, 0))
            den = den + wf.sum()
    return num / den


def _full_boxes(mu_max: float) -> dict:
    return {sign: ((0.0, mu_max), (0.0, 1.0), None, None) for sign in (1.0, -1.0)}


_ZOOM_WIDTH = 46.0  # log-weight drop that bounds a zoomed box (as mu_max's)


def _zoomed_boxes(energy, depth, beta, lam, mu_max: float) -> dict | None:
    """Gauss–Hermite axes around the mode of each sign of det that matters, where the law is concentrated (low
    temperature): the mode from a grid then Nelder–Mead, the widths from the Hessian of the log-weight there.
    None (the full chart) if it is not concentrated, or its peak comes within 14 widths of the chart's edge."""
    from scipy import optimize

    grid = (
        np.linspace(mu_max / 40, mu_max, 40),
        np.linspace(0.02, 0.98, 12),
        *(np.linspace(0, 2 * np.pi, 24, endpoint=False),) * 2,
    )
    modes = {}
    for sign in (1.0, -1.0):
        _, lw = _chart_logweights(energy, *grid, depth, beta, lam, sign)
        start = [g[i] for g, i in zip(grid, np.unravel_index(np.argmax(lw), lw.shape), strict=True)]

        def neg(p, sign=sign):
            if not (0 < p[0] and 0 < p[1] < 1):
                return np.inf
            _, v = _chart_logweights(energy, [p[0]], [p[1]], [p[2]], [p[3]], depth, beta, lam, sign)
            return -float(v.reshape(-1)[0])

        fit = optimize.minimize(
            neg, start, method="Nelder-Mead", options={"xatol": 1e-13, "fatol": 1e-13, "maxfev": 20000}
        )
        modes[sign] = (fit.x, -fit.fun, neg)
    top = max(m[1] for m in modes.values())
    boxes = {}
    full = (mu_max, 1.0, 2 * np.pi, 2 * np.pi)  # a window below a quarter of each: angles shorter than pi
    for sign, (p, value, neg) in modes.items():
        if value < top - _ZOOM_WIDTH - 10:
            continue  # its weight is below e^-56 of the other sign's: negligible
        H = np.empty((4, 4))
        h = 1e-5 * np.maximum(np.abs(p), 1e-3) / math.sqrt(max(beta, 1.0)) ** 0.5
        for a in range(4):
            for b in range(4):
                ea, eb = np.eye(4)[a] * h[a], np.eye(4)[b] * h[b]
                H[a, b] = (neg(p + ea + eb) - neg(p + ea - eb) - neg(p - ea + eb) + neg(p - ea - eb)) / (
                    4 * h[a] * h[b]
                )
        try:
            cov = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
            return None
        sigma = np.sqrt(np.diag(cov))
        half = 1.5 * math.sqrt(2 * _ZOOM_WIDTH) * sigma
        if np.any(half > 0.25 * np.array(full)) or p[0] - half[0] <= 0 or not 0 < p[1] - half[1] < p[1] + half[1] < 1:
            return None  # not concentrated (or at the chart's edge): the full chart serves
        boxes[sign] = tuple(("hermite", float(c), float(sg)) for c, sg in zip(p, sigma, strict=True))
    return boxes


def _observable(f: Callable, X: np.ndarray) -> np.ndarray:
    """``f`` on a stack of X: real, finite, one value (or array) per matrix; else CallableValueError naming ``f``."""
    value = call_user(f, "f", X)
    try:
        arr = np.asarray(value)
        ok = arr.dtype.kind in "fiu" and arr.ndim >= 1 and arr.shape[0] == len(X)
    except Exception:  # noqa: BLE001 - an object numpy cannot read
        ok = False
    if not ok:
        raise CallableValueError(
            f"`f` must return a real array with one entry (or row) per matrix of the stack (shape ({len(X)}, ...)); "
            f"returned {short(value)}.",
            "f",
        )
    return checked_array(arr, "f", arr.shape, X)


def _find_mu_max(energy, depth, beta, lam) -> float:
    u = np.linspace(0.01, 0.99, 7)
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    hi = 1.0
    for _ in range(40):
        mus = np.linspace(hi / 60, hi, 60)
        peak = np.full(mus.size, -np.inf)
        for sign in (1.0, -1.0):
            _, lw = _chart_logweights(energy, mus, u, ang, ang, depth, beta, lam, sign)
            peak = np.maximum(peak, lw.reshape(mus.size, -1).max(axis=1))
        top = np.max(peak)
        if peak[-1] < top - 46.0 and np.all(peak[-6:] < top - 46.0):
            above = np.nonzero(peak >= top - 46.0)[0]
            return float(mus[min(above[-1] + 2, mus.size - 1)])
        hi *= 1.6
    raise RiemdlnValueError(
        "`energy`: the Gibbs law does not decay within |mu| < 1e8: it looks not normalizable (E must grow at infinity)."
    )


def gibbs_expectation(
    energy,
    f: Callable[[np.ndarray], ArrayLike],
    depth: float,
    beta: float,
    free_energy: bool = False,
    tol: float | None = None,
    n_radial: int = 16,
    n_angular: int = 12,
    max_points: int = 30_000_000,
    *,
    normalized: bool = False,
    rtol: float | None = None,
) -> GibbsExpectation:
    r"""Expectation of ``f(X)`` under the Gibbs law, d = 2, by deterministic quadrature (the tests' oracle).

    Chart (docs/theory.md §13): :math:`X = R(\theta)\,\mathrm{diag}(\mu_1^N, \pm\mu_2^N)R(\varphi)^T`, both signs of
    det, :math:`\mathrm{vol}_{g^N} = N|\mu_1^2 - \mu_2^2|\,d\mu\,d\theta\,d\varphi`, weight
    :math:`e^{-\beta E}a_N(s_1^2, s_2^2)^{\lambda/2}`. Gauss–Legendre in :math:`\mu_1 \in (0, \mu_{max})` and
    :math:`\mu_2/\mu_1 \in (0, 1)`, trapezoid (spectral) in the angles; :math:`\mu_{max}` where the weight has
    fallen by :math:`e^{-46}`. The grid grows by 1.4 in each direction until two successive values agree
    to ``rtol`` (relative to ``max(1, |value|)``); ``error`` is that difference (conservative: the rule converges
    geometrically), ``status`` INACCURATE if ``max_points`` was reached first.

    Parameters
    ----------
    energy : energy of shape (2, 2)
    f : callable
        ``f(X)`` for a stack (M, 2, 2) returns shape (M,) or (M, ...).
    depth : float
        Finite N >= 1 (``math.inf``: not normalizable, an error).
    beta : float
    free_energy : bool
    tol : float, optional
        Deprecated name of ``rtol`` (a :class:`DeprecationWarning`).
    n_radial, n_angular : int
        Starting grid.
    max_points : int
        Largest grid tried.
    normalized : bool
        The convention of the metric; the law is the same (see :func:`gibbs_sample`).
    rtol : float, optional
        Target accuracy, relative to ``max(1, |value|)`` (default 1e-6); keyword-only.

    Returns
    -------
    GibbsExpectation
        ``value`` :math:`\mathbb E[f(X)]` with weight :math:`e^{-\beta E}a_N^{\lambda/2}` against
        :math:`\mathrm{vol}_{g^N}` (the raw and the normalized metric give the same law), its ``error``, the
        grid used and the ``status``.

    See Also
    --------
    gibbs_sample : the same law sampled (any d), checked against this oracle.
    langevin : the dynamics whose stationary law it is.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> E = riemdln.QuadraticEnergy(np.eye(2))
    >>> r = riemdln.gibbs_expectation(E, lambda X: X[:, 0, 0], depth=1, beta=2.0)   # Gaussian: mean 1
    >>> print(round(float(r.value), 6), bool(r.error < 1e-6), r.status.name)
    1.0 True FINISHED
    """
    energy, dim = _square_energy(energy)
    if dim != 2:
        raise RiemdlnValueError(f"`energy` must have shape (2, 2) for the quadrature oracle; got {(dim, dim)}.")
    if not callable(f):
        raise RiemdlnValueError(f"`f` must be callable; got {short(f)}.")
    check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized=True)
    _not_normalizable(depth)
    beta = _positive(beta, "beta")
    free_energy = check_bool(free_energy, "free_energy")
    n_radial = _positive_int(n_radial, "n_radial", 4)
    n_angular = _positive_int(n_angular, "n_angular", 4)
    tol = _positive(renamed("gibbs_expectation", "rtol", "tol", rtol, tol, 1e-6), "rtol")
    max_points = _positive_int(max_points, "max_points", 16)
    lam = 1.0 if free_energy else 0.0
    mu_max = _find_mu_max(energy, depth, beta, lam)
    boxes = (_zoomed_boxes(energy, depth, beta, lam, mu_max) if beta > 50 else None) or _full_boxes(mu_max)
    previous = _quadrature(energy, f, depth, beta, lam, boxes, n_radial, n_angular)
    status = Status.INACCURATE
    failure = None
    while True:
        n_radial, n_angular = math.ceil(1.4 * n_radial), math.ceil(1.4 * n_angular)
        n_points = 2 * n_radial**2 * n_angular**2
        try:
            value = _quadrature(energy, f, depth, beta, lam, boxes, n_radial, n_angular)
        except CallableValueError as exc:  # f or the energy turned bad on the finer grid: the coarse value stays
            value, err, failure, status = previous, np.full(np.shape(previous), np.inf), exc, Status.FAILED
            break
        err = np.abs(value - previous)
        if np.all(err <= tol * np.maximum(1.0, np.abs(value))):
            status = Status.FINISHED
            break
        if 2 * math.ceil(1.4 * n_radial) ** 2 * math.ceil(1.4 * n_angular) ** 2 > max_points:
            break
        previous = value
    fine = value
    if failure is not None:
        message = f"Quadrature stopped on the grid of {n_points} points: {failure}"
    elif status == Status.FINISHED:
        message = f"Quadrature on {n_points} points (mu < {mu_max:.3g}); refinement error {np.max(err):.2e}."
    else:
        message = (
            f"Quadrature did not reach rtol = {tol:.1e} within max_points = {max_points}: refinement error "
            f"{np.max(err):.2e} on {n_points} points."
        )
    return GibbsExpectation(
        value=fine[()] if isinstance(fine, np.ndarray) else fine,
        error=err[()] if isinstance(err, np.ndarray) else err,
        mu_max=mu_max,
        n_points=n_points,
        status=status,
        message=message,
    )
