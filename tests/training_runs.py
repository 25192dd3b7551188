"""Training loops written the way users write them (numpy), correct or with one planted defect.

Independent of riemdln.training: the gradients are the textbook backpropagation formulas of
L(W) = E(W_N ... W_1) for a completion loss, E(X) = 1/2 ||P_Omega(X - M)||^2.
"""

from __future__ import annotations

import numpy as np

import riemdln

DEFECTS = (
    "none",
    "layer_gradient",
    "missing_transpose",
    "sequential",
    "weight_decay",
    "momentum",
    "adam",
    "loss_scale",
    "wrong_order",
)


def problem(d: int, seed: int = 0) -> riemdln.CompletionProblem:
    return riemdln.CompletionProblem.random(d, d, rank=2, n_observed=max(4, int(0.4 * d * d)), seed=seed)


def stable_lr(p: riemdln.CompletionProblem, depth: int) -> float:
    """2 / (largest curvature of the loss near the target): N s_max^(2(N-1)/N) for a completion loss."""
    s = np.linalg.norm(p.ground_truth, 2)
    return 2.0 / (depth * s ** (2 * (depth - 1) / depth))


def start(p: riemdln.CompletionProblem, depth: int, seed: int = 0, balanced: bool = True) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    d = p.shape[0]
    s = np.linalg.norm(p.ground_truth, 2)
    if balanced:
        X0 = rng.standard_normal((d, d))
        X0 *= 0.5 * s / np.linalg.norm(X0, 2)
        return riemdln.balanced_factors(X0, depth, rng=seed)
    out = []
    for j in range(depth):  # ||W_j||_2 = (s/2)^(1/N) times 1.5, 1/1.5, ... (product of the norms <= s/2)
        w = rng.standard_normal((d, d))
        f = 1.5 if j % 2 == 0 and j < depth - 1 else (1 / 1.5 if j % 2 else 1.0)
        out.append(w / np.linalg.norm(w, 2) * (0.5 * s) ** (1 / depth) * f)
    return out


def _grad_E(p, X):
    return np.where(p.mask, X - p.target, 0.0)


def _product(W):
    X = W[0]
    for w in W[1:]:
        X = w @ X
    return X


def layer_grads(p, W, defect="none", bad_layer=None):
    """dL/dW_j = (W_N...W_{j+1})^T grad E (W_{j-1}...W_1)^T, with an optional planted bug."""
    N = len(W)
    if defect == "wrong_order":  # X = W_1 W_2 ... W_N (list order): the gradient of E of that product
        X = W[0]
        for w in W[1:]:
            X = X @ w
        G = _grad_E(p, X)
        out = []
        for j in range(N):
            left = np.eye(W[0].shape[0])
            for w in W[:j]:
                left = left @ w
            right = np.eye(W[-1].shape[1])
            for w in W[j + 1 :]:
                right = right @ w
            out.append(left.T @ G @ right.T)
        return out
    prefix = [np.eye(W[0].shape[1])]  # prefix[j] = W_j ... W_1 (theory numbering), prefix[0] = I
    for w in W:
        prefix.append(w @ prefix[-1])
    G = _grad_E(p, prefix[-1])
    if defect == "loss_scale":
        G = 2.0 * G
    out = [None] * N
    back = G  # (W_N ... W_{j+2})^T G for layer j (0-based) in the loop below
    for j in range(N - 1, -1, -1):
        P = prefix[j]
        g = back @ (P if (defect == "missing_transpose" and j == bad_layer) else P.T)
        if defect == "layer_gradient" and j == bad_layer:
            g = 1.5 * g + 0.3 * back  # a wrong formula: an extra term that is not the chain rule
        out[j] = g
        back = W[j].T @ back
    return out


def train(p, W0, lr, steps, defect="none", *, bad_layer=None, lam=1e-2, mu=0.9, record_every=1):
    """Records [W_1, ..., W_N] at steps 0, record_every, ..."""
    W = [w.copy() for w in W0]
    N = len(W)
    if bad_layer is None:
        bad_layer = N // 2
    records = [[w.copy() for w in W]]
    buf = [np.zeros_like(w) for w in W]
    m1 = [np.zeros_like(w) for w in W]
    m2 = [np.zeros_like(w) for w in W]
    for k in range(1, steps + 1):
        if defect == "sequential":  # in place, each layer's gradient from the fresh product
            for j in range(N):
                W[j] = W[j] - lr * layer_grads(p, W)[j]
        else:
            G = layer_grads(p, W, defect, bad_layer)
            for j in range(N):
                if defect == "weight_decay":
                    W[j] = W[j] - lr * (G[j] + lam * W[j])
                elif defect == "momentum":
                    buf[j] = mu * buf[j] + G[j]
                    W[j] = W[j] - lr * buf[j]
                elif defect == "adam":
                    m1[j] = 0.9 * m1[j] + 0.1 * G[j]
                    m2[j] = 0.999 * m2[j] + 0.001 * G[j] ** 2
                    W[j] = W[j] - lr * (m1[j] / (1 - 0.9**k)) / (np.sqrt(m2[j] / (1 - 0.999**k)) + 1e-8)
                else:
                    W[j] = W[j] - lr * G[j]
        if k % record_every == 0:
            records.append([w.copy() for w in W])
    return records


def sharpness(p, W, iterations: int = 60, seed: int = 0) -> float:
    """Largest eigenvalue of the Hessian of L(W) = E(W_N...W_1) at W: power iteration on Hessian-vector
    products by central differences of the backpropagated gradients (independent of riemdln)."""
    rng = np.random.default_rng(seed)
    V = [rng.standard_normal(w.shape) for w in W]
    lam = 0.0
    for _ in range(iterations):
        nv = np.sqrt(sum(float(np.sum(v * v)) for v in V))
        V = [v / nv for v in V]
        h = 1e-5 * max(1.0, np.sqrt(sum(float(np.sum(w * w)) for w in W)))
        gp = layer_grads(p, [w + h * v for w, v in zip(W, V, strict=True)])
        gm = layer_grads(p, [w - h * v for w, v in zip(W, V, strict=True)])
        HV = [(a - b) / (2 * h) for a, b in zip(gp, gm, strict=True)]
        lam = sum(float(np.sum(a * b)) for a, b in zip(HV, V, strict=True))
        V = HV
    return lam


def edge_lr(p, depth: int, seed: int = 0, balanced: bool = True, fraction: float = 0.9) -> float:
    """``fraction`` of the stability limit 2 / sharpness at the minimum the run reaches."""
    safe = 0.5 * stable_lr(p, depth) * (1 if balanced else 0.3)
    W = train(p, start(p, depth, seed, balanced), safe, 3000, record_every=3000)[-1]
    return fraction * 2.0 / sharpness(p, W)
