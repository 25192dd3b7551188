"""Benchmark: derive (cold and cached), import time, numeric twins vs hand-written numpy references.

Run:  python benchmarks/bench_derive.py [--repeat 5] [--size 1000000]

Prints one table; ratios are side by side from the same run (machines here are noisy: this is a
measurement, never a test assertion). Goals (issue 2): cold derive < 60 s, cached < 2 s, twins within
1.5x of a hand-written numpy reference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _run(cmd, env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def derive_times() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "RIEMDLN_CACHE_DIR": cache}
        cmd = [sys.executable, "-m", "riemdln", "derive", "--out", out]
        cold = _run(cmd, env)
        cached = min(_run(cmd, env) for _ in range(3))
    return cold, cached


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import riemdln; print(time.perf_counter() - t)"
    outs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    return min(outs)


# hand-written references: the sinhc form of docs/theory.md section 4, written directly in numpy
def _sinhc(z):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(z == 0, 1.0, np.sinh(z) / z)


def ref_multiplier(x, y, N):
    u, v = np.log(x), np.log(y)
    d = u - v
    return N * np.exp((u + v) * (N - 1) / (2 * N)) * _sinhc(d / 2) / _sinhc(d / (2 * N))


def ref_logmean(x, y):
    u, v = np.log(x), np.log(y)
    return np.exp((u + v) / 2) * _sinhc((u - v) / 2)


def ref_apply_A(X, Z, N):
    Q, s, Rt = np.linalg.svd(X)
    s2 = s * s
    M = ref_multiplier(s2[:, None], s2[None, :], N)
    return Q @ (M * (Q.T @ Z @ Rt.T)) @ Rt


def ref_volume(s, N):
    """N^{-d/2} prod_i s_i^{-(N-1)/N} prod_{i<j} |s_i^{2/N} - s_j^{2/N}| (the product formula, directly)."""
    d = s.shape[-1]
    i, j = np.triu_indices(d, 1)
    p = s ** (2 / N)
    return N ** (-d / 2) * np.prod(s ** (-(N - 1) / N), axis=-1) * np.prod(np.abs(p[..., i] - p[..., j]), axis=-1)


def best(f, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--size", type=int, default=1_000_000)
    a = p.parse_args()

    import riemdln
    from riemdln.symbolic import _twins

    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(-5, 5, a.size))
    y = np.exp(rng.uniform(-5, 5, a.size))
    cat = riemdln.catalog()
    rows = []
    cold, cached = derive_times()
    rows.append(("riemdln derive, cold (goal < 60 s)", cold, None, None))
    rows.append(("riemdln derive, cached (goal < 2 s)", cached, None, None))
    rows.append(("import riemdln", import_time(), None, None))

    def pair(label, ours, ref):
        t_ours, t_ref = best(ours, a.repeat), best(ref, a.repeat)
        rows.append((label, t_ours, t_ref, t_ours / t_ref))

    pair(
        f"multiplier, {a.size:.0e} pairs, N=3 (_twins)",
        lambda: _twins.multiplier(x, y, 3.0),
        lambda: ref_multiplier(x, y, 3.0),
    )
    pair("multiplier, catalog twin", lambda: cat["multiplier"].numpy(x, y, 3.0), lambda: ref_multiplier(x, y, 3.0))
    pair(
        "multiplier, public riemdln.multiplier (validates input)",
        lambda: riemdln.multiplier(x, y, 3.0),
        lambda: ref_multiplier(x, y, 3.0),
    )
    pair("logmean (N = inf), _twins", lambda: _twins.multiplier_infinite(x, y), lambda: ref_logmean(x, y))
    X = rng.standard_normal((200, 200))
    Z = rng.standard_normal((200, 200))
    pair("apply_A, 200x200, N=3", lambda: riemdln.apply_A(X, Z, 3.0), lambda: ref_apply_A(X, Z, 3.0))
    s = np.sort(np.exp(rng.uniform(-2, 2, (2000, 10))))
    pair("volume_density, 2000 x d=10, N=3", lambda: riemdln.volume_density(s, 3.0), lambda: ref_volume(s, 3.0))
    pair(
        "log_volume_density, 2000 x d=10, N=3",
        lambda: riemdln.log_volume_density(s, 3.0),
        lambda: np.log(ref_volume(s, 3.0)),
    )

    print(f"{'measurement':<58} {'riemdln':>10} {'reference':>10} {'ratio':>7}")
    for label, t, r, ratio in rows:
        rs = "" if r is None else f"{r:10.4f}"
        qs = "" if ratio is None else f"{ratio:7.2f}"
        print(f"{label:<58} {t:10.4f} {rs:>10} {qs:>7}")


if __name__ == "__main__":
    main()
