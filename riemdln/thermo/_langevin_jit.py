r"""The d = 2 Langevin step compiled per chain (numba): the same arithmetic as the fused numpy step.

:func:`riemdln.langevin` at d = 2 spends its time in elementwise arithmetic over the chains; numpy
evaluates every chart's formulas on every chain and walks the arrays once per operation. Here one loop
over the chains computes, for each chain, its closed-form SVD, the chart it steps in and that chart's
Euler-Maruyama step (``riemdln.thermo.langevin_dynamics._step_X_e`` / ``_step_Y_e``, formula for formula;
the two are compared in tests/test_langevin.py). The energy's gradient and the noise stay numpy
(any energy is a Python object): a step is :func:`prepare`, ``energy.gradient``, :func:`advance`.

The scalar kernels below are the stable forms of :mod:`riemdln.symbolic.kernels` (the sinhc form of the
multiplier with its log-space fix-up, the Langevin function's series near 0), one chain at a time.

numba is optional (``pip install riemdln[fast]``). ``AVAILABLE`` is False when it cannot be imported; the
fused numpy step (``riemdln.thermo.langevin_dynamics._step_d2``) is then used: the same results to rounding, slower
(tests/test_langevin.py runs both, and a test imports riemdln with numba hidden).
"""

from __future__ import annotations

import math
import os

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is the optional [fast] extra; without it the numpy step runs
    numba = None  # type: ignore[assignment]

AVAILABLE = numba is not None


def _no_jit(*args, **kwargs):
    return lambda fn: fn


njit = numba.njit if AVAILABLE else _no_jit
prange = numba.prange if AVAILABLE else range


__all__ = ["AVAILABLE", "prepare", "advance"]

# IEEE arithmetic as numpy's (x/0 = inf, not ZeroDivisionError); compiled once, cached on disk
_jit = njit(cache=True, error_model="numpy")
# The loops over the chains run on one thread unless NUMBA_NUM_THREADS = k > 1 is set in the environment
# (then on numba's k threads), in the process that imported this module. Measured on 2 cores
# (benchmarks/bench_langevin_threads.py): numba's own default, a thread per core, ran the step 5-14x slower
# than one thread on a machine shared with other work (its threads wait for each other by spinning), and
# never gained more than the core count: the default must not be the slow configuration. A forked child
# never runs them threaded: GNU OpenMP, numba's usual threading layer, aborts a child that starts a
# parallel region its parent had used ("fork() called from a process already using GNU OpenMP").
_jit_loop = njit(cache=True, error_model="numpy", parallel=True)
_jit_inline = njit(cache=True, error_model="numpy", inline="always")  # the loop bodies (no call per chain)


def _threads_asked() -> bool:
    """Whether the environment asks for numba's threads: ``NUMBA_NUM_THREADS`` an integer > 1."""
    value = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    return AVAILABLE and value.isdigit() and int(value) > 1


_PARALLEL = [_threads_asked()]


def _serial_after_fork() -> None:
    _PARALLEL[0] = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_serial_after_fork)

_TINY = float(np.finfo(float).tiny)
_AUTO, _X, _Y = 0, 1, 2  # the coordinates argument of langevin, as integers
COORDINATES = {"auto": _AUTO, "X": _X, "Y": _Y}


@_jit
def _log_sinhc(z):
    a = abs(z)
    if a <= 1.0:
        t = a * a
        series = 1.0
        for denom in (342.0, 272.0, 210.0, 156.0, 110.0, 72.0, 42.0, 20.0):
            series = 1.0 + t / denom * series
        return math.log1p(t / 6.0 * series)
    return a - math.log(2.0 * a) + math.log1p(-math.exp(-2.0 * a))


@_jit
def _sinhc(z):
    return 1.0 if z == 0.0 else math.sinh(z) / z


@_jit
def _langevin_fn(z):
    """coth z - 1/z (kernels.langevin_function): the 11-term series for |z| <= 1/2, the closed form beyond."""
    if abs(z) <= 0.5:
        return _langevin_series(z)
    return 1.0 / math.tanh(z) - 1.0 / z


@_jit
def _langevin_series(z):
    """The Taylor series of coth z - 1/z (|z| <= 1/2; kernels._langevin_series)."""
    t = z * z
    series = 0.0
    for c in (
        310732 / 13447856940643125,
        -349222 / 1531329465290625,
        87734 / 38979295480125,
        -3617 / 162820783125,
        4 / 18243225,
        -1382 / 638512875,
        2 / 93555,
        -1 / 4725,
        2 / 945,
        -1 / 45,
        1 / 3,
    ):
        series = c + t * series
    return z * series


@_jit
def _log(x):
    return np.log(x)  # -inf at 0, nan below (IEEE, as numpy)


@_jit
def _power(u, p):
    """x^p from u = log x (x^0 = 1, also at x = 0 where p u is nan)."""
    return 1.0 if p == 0.0 else math.exp(p * u)


@_jit
def _multiplier(x, y, u, v, depth, normalized):
    """a_N(x, y) (a_N/N normalized; the logarithmic mean at N = inf), kernels.dln_multiplier's forms.

    ``u``, ``v`` = log x, log y (the callers have them)."""
    hd = 0.5 * (u - v)
    if math.isinf(depth):
        out = math.exp(0.5 * (u + v)) * (1.0 if hd == 0.0 else math.sinh(hd) / hd)
    else:
        ratio = 1.0 if hd == 0.0 else math.sinh(hd) / (depth * math.sinh(hd / depth))
        out = math.exp((0.5 - 0.5 / depth) * (u + v)) * (ratio * (1.0 if normalized else depth))
    if math.isfinite(out) and not (0.0 < out < _TINY):
        return out
    return math.exp(_log_multiplier(x, y, u, v, depth, normalized))


@_jit
def _log_multiplier(x, y, u, v, depth, normalized):
    """The log-space value (exact at zero arguments and where the direct form over/underflows)."""
    if math.isinf(depth):
        return 0.5 * (u + v) + _log_sinhc(0.5 * (u - v)) if x > 0.0 and y > 0.0 else -math.inf
    p = 1.0 - 1.0 / depth
    shift = math.log(depth) if normalized else 0.0
    if p == 0.0:
        return -shift
    if x > 0.0 and y > 0.0:
        hd = 0.5 * (u - v)
        return math.log(depth) + 0.5 * (u + v) * p + _log_sinhc(hd) - _log_sinhc(hd / depth) - shift
    if x > 0.0 or y > 0.0:
        return (u if x > 0.0 else v) * p - shift
    return -math.inf


@_jit
def _tanh_ratio(t, depth):
    """tanh(N t/2)/tanh(t/2) (N at t = 0; the sinhc/cosh form for |t| < 1/2)."""
    if abs(t) < 0.5:
        zn, z = 0.5 * depth * t, 0.5 * t
        return depth * (_sinhc(zn) / math.cosh(zn)) / (_sinhc(z) / math.cosh(z))
    return math.tanh(0.5 * depth * t) / math.tanh(0.5 * t)


@_jit
def _hypot(x, y):
    """sqrt(x^2 + y^2), through math.hypot only where the squares would over- or underflow."""
    r2 = x * x + y * y
    if 1e-290 < r2 < 1e290:
        return math.sqrt(r2)
    return math.hypot(x, y)


@_jit
def _unit(x, y):
    """(x, y)/|(x, y)|, and (1, 0) for the zero vector (as atan2(0, 0) = 0)."""
    r = _hypot(x, y)
    return (x / r, y / r) if r > 0.0 else (1.0, 0.0)


@_jit
def _svd2(a, b, c, d):
    """Closed-form SVD of [[a, b], [c, d]] (langevin_dynamics._svd2e, trigonometry-free): U, s1, s2, V.

    X = R(phi) diag(q + r, q - r) R(-theta) with (q, a2) and (r, a1) the polar forms of (e, h) and (f, g),
    phi = (a2 + a1)/2, theta = (a2 - a1)/2. The half angle of a1 + a2 comes from its unit vector
    (cos, sin): (1 + cos, sin) and (sin, 1 - cos) both point along (cos phi, sin phi) up to sign, and the
    one with cos >= 0, resp. < 0, has norm >= 1 (no cancellation); theta = phi - a1. The sign left open
    flips U and V together (X unchanged).
    """
    e, f, g, h = 0.5 * (a + d), 0.5 * (a - d), 0.5 * (c + b), 0.5 * (c - b)
    q, r = _hypot(e, h), _hypot(f, g)
    c2, s2 = _unit(e, h)
    c1, s1 = _unit(f, g)
    ca, sa = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
    cp, sp = _unit(1.0 + ca, sa) if ca >= 0.0 else _unit(sa, 1.0 - ca)
    ct, st = cp * c1 + sp * s1, sp * c1 - cp * s1
    low = q - r
    sign = -1.0 if low < 0 else 1.0
    return (cp, -sp, sp, cp), q + r, abs(low), (ct, st * sign, -st, ct * sign)


@_jit
def _mm(A, B, ta, tb):
    a00, a01, a10, a11 = A
    b00, b01, b10, b11 = B
    if ta:
        a01, a10 = a10, a01
    if tb:
        b01, b10 = b10, b01
    return (a00 * b00 + a01 * b10, a00 * b01 + a01 * b11, a10 * b00 + a11 * b10, a10 * b01 + a11 * b11)


@_jit
def _multiplier_squares(s1, s2, u1, u2, depth, normalized, a_diag):
    """a(s1^2, s2^2) for s1 >= s2 as the divided difference (x - y)/(x^(1/N) - y^(1/N)).

    x - y = (s1 - s2)(s1 + s2) (s1 - s2 exact where it cancels) and x^(1/N) - y^(1/N) =
    y^(1/N) expm1((2/N) log1p((s1 - s2)/s2)): no cancellation and two transcendentals instead of the sinhc
    form's four. ``a_diag`` = a(s1^2, s1^2), the value at s1 = s2. Zeros, under- and overflow: the sinhc form.
    """
    if s1 == s2:
        return a_diag
    if s2 > 0.0:
        gap = s1 - s2
        num = gap * (s1 + s2)
        lr = math.log1p(gap / s2)  # log(s1/s2) to full relative precision
        if math.isinf(depth):
            out = num / (2.0 * lr)
        else:
            out = num / (math.exp(2.0 * u2 / depth) * math.expm1(2.0 * lr / depth))
            if normalized:
                out = out / depth
        if math.isfinite(out) and out > _TINY:
            return out
    return _multiplier(s1 * s1, s2 * s2, 2.0 * u1, 2.0 * u2, depth, normalized)


@_jit
def _step_x(X, U, s1, s2, V, G, xi, depth, normalized, beta, lam, dt, a_unit):
    """langevin_dynamics._step_X_e for one chain (powers of s through log s, computed once)."""
    deg = 1.0 if math.isinf(depth) else (depth - 1.0) / depth
    u1, u2 = _log(s1), _log(s2)
    root1, root2 = _power(u1, deg), _power(u2, deg)  # sqrt(a(s^2, s^2)/a(1, 1)) = s^deg
    a00, a11 = a_unit * root1 * root1, a_unit * root2 * root2
    a01 = _multiplier_squares(s1, s2, u1, u2, depth, normalized, a00)
    Gt = _mm(_mm(U, G, True, False), V, False, False)
    c = math.sqrt(2.0 * dt / beta)
    if math.isinf(depth):
        k1, k2 = s1, s2
    elif depth == 1.0:
        k1, k2 = 0.0, 0.0
    else:  # (N - 1) s^((N-2)/N) = (N - 1) root^2 / s
        p = (depth - 2.0) / depth
        k1 = (depth - 1.0) * (root1 * root1 / s1 if s1 > 0.0 else _power(u1, p))
        k2 = (depth - 1.0) * (root2 * root2 / s2 if s2 > 0.0 else _power(u2, p))
        if normalized:
            k1, k2 = k1 / depth, k2 / depth
    if lam != 0.0:
        e1, e2 = _entropy_drift(s1, s2, u1, u2, depth, normalized)
        k1, k2 = k1 + lam * e1, k2 + lam * e2
    c0, c1 = c * math.sqrt(a_unit), c * math.sqrt(a01)
    inc = (
        -a00 * Gt[0] * dt + c0 * root1 * xi[0] + k1 * (dt / beta),
        -a01 * Gt[1] * dt + c1 * xi[1],
        -a01 * Gt[2] * dt + c1 * xi[2],
        -a11 * Gt[3] * dt + c0 * root2 * xi[3] + k2 * (dt / beta),
    )
    step = _mm(_mm(U, inc, False, False), V, False, True)
    return (X[0] + step[0], X[1] + step[1], X[2] + step[2], X[3] + step[3])


@_jit
def _entropy_drift(s1, s2, u1, u2, depth, normalized):
    """langevin_dynamics._entropy_drift at d = 2 (the one pair, t = log(s_k/s_j); u = log s)."""
    t = u1 - u2
    if depth == 1.0:  # S_1 is constant
        return 0.0, 0.0
    if math.isinf(depth):
        return 0.5 * s1 * (1.0 + _langevin_fn(t)), 0.5 * s2 * (1.0 + _langevin_fn(-t))
    t = t / depth
    p = (depth - 2.0) / depth
    e1 = 0.5 * _power(u1, p) * (depth - 1.0 + depth * _langevin_fn(depth * t) - _langevin_fn(t))
    e2 = 0.5 * _power(u2, p) * (depth - 1.0 + depth * _langevin_fn(-depth * t) - _langevin_fn(-t))
    return (e1 / depth, e2 / depth) if normalized else (e1, e2)


@_jit
def _pair_y(m1, m2, l1, l2, s1, s2, depth):
    """The Y step's pair functions of t = log(m1/m2) >= 0: (a(s1, s2), m^(N-1), kappa^Y numerators).

    From e1 = expm1(t) and eN = expm1(N t): tanh(z) = e/(e + 2), sinh(z) = e/(2 sqrt(1 + e)) at z = t/2,
    N t/2 (no cancellation), so a(s1, s2) = (m1 m2)^((N-1)/2) sinh(N t/2)/sinh(t/2), tanh(N t/2)/tanh(t/2)
    and the Langevin function coth z - 1/z (its series below 1/2) cost two expm1 in all. Returns
    (dminus, pm1, pm2, odd, even) as langevin_dynamics._step_Y_e, or dminus = nan where this form does not
    apply (a zero mu, overflow): the caller then takes the general forms.
    """
    t = l1 - l2
    e1, en = math.expm1(t), math.expm1(depth * t)
    pm1, pm2 = s1 / m1, s2 / m2  # m^(N-1)
    pref = math.sqrt(pm1 * pm2)
    if not (m2 > 0.0 and math.isfinite(en) and math.isfinite(pref) and pref > 0.0):
        return math.nan, pm1, pm2, 0.0, 0.0
    if t == 0.0:
        return depth * pref, pm1, pm2, 0.0, 1.0 - depth * depth
    dminus = pref * (en / e1) * math.sqrt((1.0 + e1) / (1.0 + en))
    th1, thn = e1 / (e1 + 2.0), en / (en + 2.0)
    z1, zn = 0.5 * t, 0.5 * depth * t
    l_1 = _langevin_series(z1) if z1 <= 0.5 else 1.0 / th1 - 1.0 / z1
    l_n = _langevin_series(zn) if zn <= 0.5 else 1.0 / thn - 1.0 / zn
    return dminus, pm1, pm2, l_1 - depth * l_n, 1.0 - depth * (thn / th1)


@_jit
def _step_y(U, s1, s2, m1, m2, V, G, xi, depth, normalized, beta, lam, dt):
    """langevin_dynamics._step_Y_e for one chain: the new Y (s = mu^N as :func:`prepare` has it)."""
    l1, l2 = _log(m1), _log(m2)
    scale = 1.0 / depth if normalized else 1.0
    Gt = _mm(_mm(U, G, True, False), V, False, False)
    t = l1 - l2  # _kappa_factor_d2
    dminus, pm1, pm2, odd, even = _pair_y(m1, m2, l1, l2, s1, s2, depth)
    if not math.isfinite(dminus):  # a zero mu or overflow: the general forms
        dminus = _multiplier(s1, s2, depth * l1, depth * l2, depth, False)
        pm1, pm2 = _power(l1, depth - 1.0), _power(l2, depth - 1.0)
        odd = _langevin_fn(0.5 * t) - depth * _langevin_fn(0.5 * depth * t)
        even = 1.0 - depth * _tanh_ratio(t, depth)
    dplus = (s1 + s2) / (m1 + m2)
    root = math.sqrt(dplus / dminus)
    sym, skew = 0.5 * (Gt[1] + Gt[2]), 0.5 * (Gt[1] - Gt[2])
    xs, xa = 0.5 * (xi[1] + xi[2]), 0.5 * (xi[1] - xi[2])
    denom = depth * (m1 + m2)
    kf1, kf2 = (even + odd) / denom / beta, (even - odd) / denom / beta
    if lam != 0.0:
        g1, g2 = _entropy_grad_mu(m1, m2, t, depth)
        kf1, kf2 = kf1 + lam / (beta * depth) * g1, kf2 + lam / (beta * depth) * g2
    h, c = scale * dt, math.sqrt(2.0 * scale * dt / beta)
    cd = c / math.sqrt(depth)
    inc = (
        (-pm1 * Gt[0] + kf1) * h + cd * xi[0] + m1,
        -(dplus * sym + dminus * skew) * h + c * (root * xs + xa / root),
        -(dplus * sym - dminus * skew) * h + c * (root * xs - xa / root),
        (-pm2 * Gt[3] + kf2) * h + cd * xi[3] + m2,
    )
    return _mm(_mm(U, inc, False, False), V, False, True)


@_jit
def _entropy_grad_mu(m1, m2, t, depth):
    """langevin_dynamics._entropy_grad_mu at d = 2 (t = log(m1/m2))."""
    g1 = depth - 1.0 + depth * _langevin_fn(depth * t) - _langevin_fn(t)
    g2 = depth - 1.0 + depth * _langevin_fn(-depth * t) - _langevin_fn(-t)
    return (g1 / (2.0 * m1) if m1 > 0 else 0.0), (g2 / (2.0 * m2) if m2 > 0 else 0.0)


@_jit_inline
def _prepare_chain(
    k, state, is_y, depth, normalized, noise, threshold, coordinates, auto_relative_step, X, frames, spectra, use_y
):
    """Chain k of :func:`prepare`."""
    finite = not math.isinf(depth)
    U, v1, v2, V = _svd2(state[k, 0, 0], state[k, 0, 1], state[k, 1, 0], state[k, 1, 1])
    if is_y[k]:
        m1, m2, s1, s2 = v1, v2, v1**depth, v2**depth
        Xk = _mm((U[0] * s1, U[1] * s2, U[2] * s1, U[3] * s2), V, False, True)
        X[k, 0, 0], X[k, 0, 1], X[k, 1, 0], X[k, 1, 1] = Xk
    else:
        s1, s2, m1, m2 = v1, v2, math.nan, math.nan  # mu only where a Y step needs it
        X[k, 0, 0], X[k, 0, 1], X[k, 1, 0], X[k, 1, 1] = state[k, 0, 0], state[k, 0, 1], state[k, 1, 0], state[k, 1, 1]
    if coordinates == _Y and finite:
        use_y[k] = True
    elif coordinates == _AUTO and finite:
        # noise / mu_2 < step  <=>  s_2 > (noise / step)^N: no root taken for the chains that stay in X
        use_y[k] = not (noise / m2 < auto_relative_step) if is_y[k] else not (s2 > threshold)
    if use_y[k] and not is_y[k]:
        m1, m2 = v1 ** (1.0 / depth), v2 ** (1.0 / depth)
    for j in range(4):
        frames[k, j], frames[k, 4 + j] = U[j], V[j]
    spectra[k, 0], spectra[k, 1], spectra[k, 2], spectra[k, 3] = s1, s2, m1, m2


def _prepare_args(state, depth, normalized, beta, h, auto_relative_step):
    noise = math.sqrt(2.0 * h * (1.0 if normalized else depth) / beta)
    threshold = (noise / auto_relative_step) ** depth if not math.isinf(depth) else 0.0
    return noise, threshold, np.zeros(state.shape[0], dtype=np.bool_)


@_jit_loop
def _prepare_parallel(state, is_y, depth, normalized, noise, threshold, coordinates, step, X, frames, spectra, use_y):
    for k in prange(state.shape[0]):
        _prepare_chain(
            k, state, is_y, depth, normalized, noise, threshold, coordinates, step, X, frames, spectra, use_y
        )


@_jit
def _prepare_serial(state, is_y, depth, normalized, noise, threshold, coordinates, step, X, frames, spectra, use_y):
    for k in range(state.shape[0]):
        _prepare_chain(
            k, state, is_y, depth, normalized, noise, threshold, coordinates, step, X, frames, spectra, use_y
        )


def prepare(state, is_y, depth, normalized, beta, h, coordinates, auto_relative_step, X, frames, spectra):
    """Per chain: SVD of the state, the matrix X it stands for, and the chart of the next step.

    Writes X (C, 2, 2), ``frames`` (C, 8: U then V entries) and ``spectra`` (C, 4: s then mu); returns
    ``use_y`` (C,). ``coordinates`` as in :data:`COORDINATES`. On numba's threads if asked (:data:`_PARALLEL`).
    """
    noise, threshold, use_y = _prepare_args(state, depth, normalized, beta, h, auto_relative_step)
    loop = _prepare_parallel if _PARALLEL[0] else _prepare_serial
    loop(state, is_y, depth, normalized, noise, threshold, coordinates, auto_relative_step, X, frames, spectra, use_y)
    return use_y


@_jit_inline
def _advance_chain(k, X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out):
    """Chain k of :func:`advance`."""
    U = (frames[k, 0], frames[k, 1], frames[k, 2], frames[k, 3])
    V = (frames[k, 4], frames[k, 5], frames[k, 6], frames[k, 7])
    Gk = (G[k, 0, 0], G[k, 0, 1], G[k, 1, 0], G[k, 1, 1])
    xk = (xi[k, 0, 0], xi[k, 0, 1], xi[k, 1, 0], xi[k, 1, 1])
    s1, s2, m1, m2 = spectra[k, 0], spectra[k, 1], spectra[k, 2], spectra[k, 3]
    if use_y[k]:
        new = _step_y(U, s1, s2, m1, m2, V, Gk, xk, depth, normalized, beta, lam, dt)
    else:
        Xk = (X[k, 0, 0], X[k, 0, 1], X[k, 1, 0], X[k, 1, 1])
        new = _step_x(Xk, U, s1, s2, V, Gk, xk, depth, normalized, beta, lam, dt, a_unit)
    out[k, 0, 0], out[k, 0, 1], out[k, 1, 0], out[k, 1, 1] = new


@_jit_loop
def _advance_parallel(X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out):
    for k in prange(X.shape[0]):
        _advance_chain(k, X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out)


@_jit
def _advance_serial(X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out):
    for k in range(X.shape[0]):
        _advance_chain(k, X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out)


def advance(X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out) -> None:
    """Per chain: the Euler-Maruyama step in its chart, written to ``out`` (C, 2, 2). On numba's threads if
    asked (:data:`_PARALLEL`)."""
    loop = _advance_parallel if _PARALLEL[0] else _advance_serial
    loop(X, frames, spectra, G, xi, use_y, depth, normalized, beta, lam, dt, a_unit, out)
