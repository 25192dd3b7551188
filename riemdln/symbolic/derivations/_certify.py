"""Numeric certificates for derivations: a derived formula against an independent evaluation.

All comparisons are relative errors computed in mpmath at ``DPS`` digits. Limits are certified by
evaluating the finite-N expression at N = 10^3 ... 10^8 and Richardson-extrapolating in 1/N.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

import mpmath

from riemdln.symbolic.derivations._engine import Check

DPS = 60


def rel_err(a, b) -> float:
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else float(abs(a - b) / scale)


def compare(
    candidate: Callable,
    reference: Callable,
    points: Iterable[Sequence],
    tolerance: float,
    method: str,
    *,
    latex: str = "",
    depths: Iterable = (),
) -> Check:
    """Evaluate both at every point (tuples of arguments) in mpmath; worst relative error."""
    worst, count = 0.0, 0
    with mpmath.workdps(DPS):
        for p in points:
            p = [mpmath.mpf(v) for v in p]
            worst = max(worst, rel_err(candidate(*p), reference(*p)))
            count += 1
    return Check(method, worst, tolerance, count, latex=latex, depths=depth_labels(depths))


def random_points(n: int, dims: int, lo: float = 0.05, hi: float = 20.0, seed: int = 0) -> list[tuple]:
    """Log-uniform positive points, reproducible."""
    rnd = random.Random(seed)
    lo_l, hi_l = mpmath.log(lo), mpmath.log(hi)
    return [tuple(float(mpmath.exp(lo_l + (hi_l - lo_l) * rnd.random())) for _ in range(dims)) for _ in range(n)]


def richardson_limit(f: Callable, exponents: Sequence[int] = (3, 4, 5, 6, 7, 8)):
    """Extrapolate f(N) to N = oo from N = 10^e, assuming an expansion in powers of 1/N."""
    with mpmath.workdps(DPS):
        Ns = [mpmath.mpf(10) ** e for e in exponents]
        vals = [f(Nv) for Nv in Ns]
        # Neville on h = 1/N to h = 0
        hs = [1 / Nv for Nv in Ns]
        table = list(vals)
        for level in range(1, len(table)):
            for idx in range(len(table) - level):
                h0, h1 = hs[idx], hs[idx + level]
                table[idx] = (h0 * table[idx + 1] - h1 * table[idx]) / (h0 - h1)
        return table[0], vals[-1]


def certify_limit(
    finite: Callable, limit: Callable, points: Iterable[Sequence], tolerance: float, method: str, *, latex: str = ""
) -> Check:
    """The claimed limit against the extrapolated and the largest-N values of ``finite(N, *p)`` (depth: N = inf)."""
    worst, count = 0.0, 0
    with mpmath.workdps(DPS):
        for p in points:
            p = [mpmath.mpf(v) for v in p]
            extrapolated, last = richardson_limit(lambda Nv, p=p: finite(Nv, *p))
            target = limit(*p)
            err = rel_err(extrapolated, target)
            if rel_err(last, target) > 1e-6:  # N = 1e8 itself must be within O(1/N) of the limit
                err = float("inf")
            worst = max(worst, err)
            count += 1
    return Check(method, worst, tolerance, count, latex=latex, depths=("inf",))


#: the LaTeX of a limit certificate's method (``certify_limit``)
LIMIT_TEX = r"$N = 10^3, \dots, 10^8$, Richardson-extrapolated to $N = \infty$ (mpmath 60 digits)"


def mp_eval(expr, values: dict):
    """Evaluate a SymPy expression at ``values`` to ``DPS`` digits, as an mpmath number."""
    from sympy import Float

    subs = {sym: Float(str(mpmath.mpf(v)), DPS + 10) for sym, v in values.items()}
    out = expr.xreplace(subs).evalf(DPS)
    return mpmath.mpf(str(out)) if out.is_real else mpmath.mpc(complex(out))


def random_orthogonal(dim: int, rnd: random.Random):
    """A Haar-ish random orthogonal matrix in mpmath (QR of a Gaussian matrix)."""
    A = mpmath.matrix([[rnd.gauss(0, 1) for _ in range(dim)] for _ in range(dim)])
    Q, _ = mpmath.qr(A)
    return Q


def mp_fractional_power(P, p):
    """P^p for a symmetric positive semidefinite mpmath matrix, through its eigendecomposition."""
    w, V = mpmath.eigsy(P)
    D = mpmath.diag([(max(wi, 0) ** p if wi > 0 else (1 if p == 0 else 0)) for wi in w])
    return V * D * V.T


def depth_labels(depths: Iterable) -> tuple[str, ...]:
    """The depths a certificate covers, as labels: ``2``, ``4.5``, ``inf`` (sorted, each once)."""
    out: list[tuple[float, str]] = []
    for d in depths:
        v = float(d)
        label = "inf" if v == float("inf") else (str(int(v)) if v == int(v) else repr(v))
        if all(label != seen for _, seen in out):
            out.append((v, label))
    return tuple(label for _, label in sorted(out))


def depths_tex(labels: Sequence[str]) -> str:
    r"""``N = 1, 2, 4.5, \infty`` for a certificate's LaTeX."""
    return "$N = " + r",\allowbreak ".join(r"\infty" if v == "inf" else v for v in labels) + "$"


def is_integer_depth(depth) -> bool:
    return mpmath.isint(mpmath.mpf(depth))


def mp_multiplier(xv, yv, depth):
    """a_N(x, y) independently of the closed form: the defining sum (integer N), else the divided difference of
    t^N at x^(1/N), y^(1/N) as the quadrature int_0^1 N ((1-u) x^(1/N) + u y^(1/N))^(N-1) du (mpmath)."""
    depth = mpmath.mpf(depth)
    if is_integer_depth(depth):
        k = int(depth)
        return mpmath.fsum(xv ** ((depth - kk) / depth) * yv ** ((kk - 1) / depth) for kk in range(1, k + 1))
    p, q = mpmath.mpf(xv) ** (1 / depth), mpmath.mpf(yv) ** (1 / depth)
    return mpmath.quad(lambda u: depth * ((1 - u) * p + u * q) ** (depth - 1), [0, 1])


def mp_operator_matrix(X, depth):
    """The m n x m n matrix of A_N(X), by definition: A_N(X) Z = sum_k (XX^T)^((N-k)/N) Z (X^TX)^((k-1)/N) for
    integer N; for real N the Frechet derivative of t^N at the N-th roots, i.e. the top-right block of
    [[(XX^T)^(1/N), Z], [0, (X^TX)^(1/N)]]^N (the divided difference of t^N, Daleckii-Krein; no multiplier used)."""
    if not is_integer_depth(depth):
        return _mp_operator_matrix_real(X, mpmath.mpf(depth))
    depth = int(depth)
    m, n = X.rows, X.cols
    P, Pt = X * X.T, X.T * X
    left = [mp_fractional_power(P, mpmath.mpf(depth - kk) / depth) for kk in range(1, depth + 1)]
    right = [mp_fractional_power(Pt, mpmath.mpf(kk - 1) / depth) for kk in range(1, depth + 1)]
    A = mpmath.zeros(m * n, m * n)
    for a in range(m):
        for b in range(n):
            E = mpmath.zeros(m, n)
            E[a, b] = 1
            img = mpmath.zeros(m, n)
            for L, R in zip(left, right, strict=True):
                img += L * E * R
            for c in range(m):
                for e in range(n):
                    A[c * n + e, a * n + b] = img[c, e]
    return A


def _mp_operator_matrix_real(X, depth):
    m, n = X.rows, X.cols
    P, Pt = mp_fractional_power(X * X.T, 1 / depth), mp_fractional_power(X.T * X, 1 / depth)
    A = mpmath.zeros(m * n, m * n)
    for a in range(m):
        for b in range(n):
            M = mpmath.zeros(m + n, m + n)
            for c in range(m):
                for e in range(m):
                    M[c, e] = P[c, e]
            for c in range(n):
                for e in range(n):
                    M[m + c, m + e] = Pt[c, e]
            M[a, m + b] = 1
            F = mpmath.powm(M, depth)
            for c in range(m):
                for e in range(n):
                    A[c * n + e, a * n + b] = F[c, m + e]
    return A


def unroll(expr, size_symbol, dim: int):
    """Expand every Product/Sum over indices (e.g. ``i < j <= r``) at ``size_symbol = dim`` explicitly.

    SymPy's ``doit`` leaves nested products with dependent limits (``j`` from ``i + 1``) unevaluated.
    """
    from sympy import Add, Integer, Mul, Product, Sum

    expr = expr.subs(size_symbol, dim)

    def expand(e):
        combine = Mul if isinstance(e, Product) else Add
        limits = list(e.limits)  # innermost first
        terms = []

        def rec(level, subs):
            if level < 0:
                terms.append(e.function.xreplace(subs))
                return
            var, lo, hi = limits[level]
            for v in range(int(lo.xreplace(subs)), int(hi.xreplace(subs)) + 1):
                rec(level - 1, {**subs, var: Integer(v)})

        rec(len(limits) - 1, {})
        return combine(*terms)

    return expr.replace(lambda e: isinstance(e, Product | Sum), expand)
