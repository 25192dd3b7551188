"""Markov-chain diagnostics of the samplers (package-internal API)."""

from __future__ import annotations

import numpy as np


def effective_sample_size(series: np.ndarray) -> float:
    """Effective sample size of series (n, C, k), minimum over k (Geyer's initial positive sequence)."""
    n, C = series.shape[:2]
    x = series - series.mean(axis=0)
    var = (x * x).mean(axis=(0, 1))
    best = np.inf
    for k in range(series.shape[2]):
        if var[k] <= 0:
            continue
        f = np.fft.rfft(x[:, :, k], n=2 * n, axis=0)
        acov = np.fft.irfft(f * np.conj(f), axis=0)[:n].mean(axis=1) / n
        rho = acov / var[k]
        tau = 1.0
        for lag in range(1, n - 1, 2):
            pair = rho[lag] + rho[lag + 1]
            if pair < 0:
                break
            tau += 2 * pair
        best = min(best, n * C / tau)
    return float(best)

