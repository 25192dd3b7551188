"""Orthonormal frames shared by the SVD-coordinate and split-chart formulations."""

from __future__ import annotations

import numpy as np


def orthonormal(Q: np.ndarray) -> np.ndarray:
    """The polar factor of a nearly orthonormal Q by Newton–Schulz steps Q(3I - Q^T Q)/2, each squaring
    E = Q^T Q - I (up to a factor 3/4), until max |E_ij| <= 1e-7, then one more (error O(|E|²): rounding); the
    SVD's U V^T when ‖E‖_F > 0.5 or the steps do not converge. ‖E‖_F <= 0.5 keeps every singular value of Q
    in [0.7, 1.3], inside the iteration's basin (0, √3), where it keeps Q's polar factor. Two matrix products
    per step against one SVD: the frames of a long CVODE run drift by more than 1e-7, and the saved X is
    formed on every accepted step."""
    for _ in range(6):
        E = Q.T @ Q
        E[np.diag_indices_from(E)] -= 1.0
        if not np.linalg.norm(E) <= 0.5:
            break
        Q = Q - 0.5 * (Q @ E)
        if np.max(np.abs(E)) <= 1e-7:
            return Q
    U, _, Vt = np.linalg.svd(Q, full_matrices=False)
    return U @ Vt
