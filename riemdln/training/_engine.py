r"""The numbers behind :func:`riemdln.check_training`: per-step statistics, computed in chunks of records.

Notation (``W[j]`` is :math:`W_{j+1}`, the factor that acts ``j+1``-th; :math:`X = W_N\cdots W_1`): at record k,
prefix :math:`P_j = W_j\cdots W_1` (``P[0]`` the identity), suffix :math:`S_j = W_N\cdots W_{j+1}`, the step
:math:`\Delta_j = W_j(k+1) - W_j(k)` and, with an energy, the layer gradient
:math:`G_j = S_j^T\,\nabla E(X)\,P_{j-1}^T`. Everything is batched over the records of a chunk (matrix stacks),
so memory is a few chunks of factors whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from riemdln._validation import RiemdlnValueError, short

CHUNK = 32  # records per chunk


def sqnorm(A: np.ndarray) -> np.ndarray:
    """Squared Frobenius norms of a stack (k, a, b) -> (k,)."""
    return np.einsum("kij,kij->k", A, A)


def norm(A: np.ndarray) -> np.ndarray:
    return np.sqrt(sqnorm(A))


def inner(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.einsum("kij,kij->k", A, B)


def lmul(A: np.ndarray | None, B: np.ndarray) -> np.ndarray:
    """A @ B with None the identity."""
    return B if A is None else A @ B


def rmul(A: np.ndarray, B: np.ndarray | None) -> np.ndarray:
    return A if B is None else A @ B


def tr(A: np.ndarray | None) -> np.ndarray | None:
    return None if A is None else A.mT


def cut(A: np.ndarray | None, start: int, stop: int | None = None) -> np.ndarray | None:
    """``A[start:stop]`` along the record axis (None, the identity, stays None)."""
    return None if A is None else A[start:stop]


def onorm(A: np.ndarray | None):
    """Norms of a stack, 1.0 for the identity (None)."""
    return 1.0 if A is None else norm(A)


class EnergyEval:
    r"""The user's energy with every returned value checked (finite, real, right shape), naming the step.

    ``energy`` is a riemdln energy (``shape``, ``loss``, ``gradient``) or a pair ``(loss, gradient)`` of callables.
    """

    def __init__(self, energy, shape: tuple[int, int]):
        from riemdln.problems import CompletionProblem

        self.shape = shape
        self.completion = isinstance(energy, CompletionProblem)
        if isinstance(energy, tuple | list) and len(energy) == 2 and all(callable(f) for f in energy):
            self._loss, self._grad = energy
            self.names = ("energy[0] (the loss)", "energy[1] (the gradient)")
            return
        if not (hasattr(energy, "loss") and hasattr(energy, "gradient") and hasattr(energy, "shape")):
            raise RiemdlnValueError(
                "`energy` must be a riemdln energy (CompletionProblem, QuadraticEnergy, Energy, ...) or a pair "
                f"(loss, gradient) of callables; got {short(energy)}."
            )
        if tuple(energy.shape) != shape:
            raise RiemdlnValueError(
                f"`energy` must be an energy of {shape[0]}x{shape[1]} matrices (the shape of the product); "
                f"got energy.shape = {tuple(energy.shape)}."
            )
        self._loss, self._grad = energy.loss, energy.gradient
        self.names = ("energy.loss", "energy.gradient")
        self.energy = energy

    def gradient(self, X: np.ndarray, steps: Sequence[int] | np.ndarray) -> np.ndarray:
        """:math:`\\nabla E` of a stack X (k, m, n), checked; ``steps`` names the records for messages."""
        if self.completion:
            G = np.where(self.energy.mask, X - self.energy.target, 0.0)
        else:
            G = np.empty_like(X)
            for i, x in enumerate(X):
                G[i] = self._check_grad(self._grad(x.copy()), steps[i])
        bad = ~np.isfinite(G).all(axis=(-2, -1))
        if bad.any():
            raise RiemdlnValueError(
                f"`{self.names[1]}` returned non-finite entries at step {steps[int(np.argmax(bad))]}."
            )
        return G

    def _check_grad(self, value, step: int) -> np.ndarray:
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001
            arr = np.asarray(None)
        if arr.dtype.kind not in "fiu" or arr.shape != self.shape:
            raise RiemdlnValueError(
                f"`{self.names[1]}` must return a real array of shape {self.shape}; at step {step} it returned "
                f"{short(value)}."
            )
        return arr

    def loss(self, X: np.ndarray, steps: Sequence[int] | np.ndarray) -> np.ndarray:
        if self.completion:
            r = np.where(self.energy.mask, X - self.energy.target, 0.0)
            return 0.5 * sqnorm(r)
        out = np.empty(len(X))
        for i, x in enumerate(X):
            value = self._loss(x.copy())
            arr = np.asarray(value)
            if arr.dtype.kind not in "fiu" or arr.size != 1 or not np.isfinite(arr).all():
                raise RiemdlnValueError(
                    f"`{self.names[0]}` must return a finite real number; at step {steps[i]} it returned "
                    f"{short(value)}."
                )
            out[i] = float(arr.reshape(()))
        return out


@dataclass
class Run:
    """A validated run: records ``W[k][j]``, step numbers, per-interval time steps ``h`` (or None)."""

    W: list[list[np.ndarray]]
    steps: np.ndarray  # (K+1,) int
    h: np.ndarray | None  # (K,) time per interval: sum of the learning rates, or the time difference
    interval: np.ndarray  # (K,) (s-1)/(2s) for s optimizer steps between records; 1/2 for a continuous run
    every_step: bool  # s == 1 everywhere
    u: float  # unit roundoff of the recorded dtype
    energy: EnergyEval | None

    @property
    def N(self) -> int:
        return len(self.W[0])

    @property
    def K(self) -> int:
        return len(self.W) - 1

    @property
    def width(self) -> int:
        return max(max(w.shape) for w in self.W[0])


class Chunk:
    """Stacks of records ``first .. last`` (inclusive) with products, steps and gradients."""

    def __init__(self, run: Run, first: int, last: int, with_energy: bool):
        self.first, self.last = first, last
        N = run.N
        self.W = [np.stack([run.W[k][j] for k in range(first, last + 1)]) for j in range(N)]
        self.D = [w[1:] - w[:-1] for w in self.W]  # steps first .. last-1
        self.P: list[np.ndarray | None] = [None]
        for j in range(N):
            self.P.append(lmul(self.W[j], self.P[-1]) if self.P[-1] is not None else self.W[j])
        self.S: list[np.ndarray | None] = [None] * N
        acc = None
        for j in range(N - 1, -1, -1):
            self.S[j] = acc
            acc = self.W[j] if acc is None else acc @ self.W[j]
        X = self.P[N]
        assert X is not None
        self.X: np.ndarray = X
        self.steps = run.steps[first : last + 1]
        self.h = None if run.h is None else run.h[first:last]
        self.gradE = None
        self.loss = None
        self.G: list[np.ndarray] = []
        if with_energy and run.energy is not None:
            self.gradE = run.energy.gradient(self.X, self.steps)
            self.loss = run.energy.loss(self.X, self.steps)
            self.G = [layer_gradient(self.S[j], self.gradE, self.P[j]) for j in range(N)]


def layer_gradient(S: np.ndarray | None, gradE: np.ndarray, P: np.ndarray | None) -> np.ndarray:
    r""":math:`S^T\,\nabla E\,P^T` (None factors: identities)."""
    return rmul(lmul(tr(S), gradE), tr(P))


def chunks(run: Run, with_energy: bool, overlap: int = 0):
    """Chunks covering the steps 0..K-1; with ``overlap`` = 1 each also holds the record before it."""
    start = 0
    while start < run.K:
        stop = min(run.K, start + CHUNK)
        first = max(0, start - overlap)
        yield start, Chunk(run, first, stop, with_energy)
        start = stop


def sweep(run: Run, fn: Callable[[Chunk, int], dict], with_energy: bool, overlap: int = 0) -> dict[str, np.ndarray]:
    """Concatenate the per-step arrays ``fn(chunk, offset)`` returns (offset: first step's index in the chunk)."""
    parts: dict[str, list[np.ndarray]] = {}
    for start, ch in chunks(run, with_energy, overlap):
        for key, value in fn(ch, start - ch.first).items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {key: np.concatenate(v, axis=0) for key, v in parts.items()}


# ---------------------------------------------------------------- residuals (one chunk)


def balance_residual(W: list[np.ndarray], D: list[np.ndarray], j: int, o: int) -> np.ndarray:
    r""":math:`R_j = W_{j+1}^T\Delta_{j+1} - \Delta_j W_j^T` at the chunk's steps o.. (pair of ``W[j]``, ``W[j+1]``)."""
    return W[j + 1][o:-1].mT @ D[j + 1][o:] - D[j][o:] @ W[j][o:-1].mT


def balance_stats(ch: Chunk, o: int, reversed_ok: bool) -> dict:
    """Pass 1, energy-free: norms of the first-order balance residual in the declared and the reversed order."""
    out: dict[str, list] = {
        k: [] for k in ("rn", "scale", "wdn", "sec", "wsq", "dsq", "rn_rev", "scale_rev", "wdn_rev")
    }
    W, D = ch.W, ch.D
    N = len(W)
    for j in range(N - 1):
        left = W[j + 1][o:-1].mT @ D[j + 1][o:]
        right = D[j][o:] @ W[j][o:-1].mT
        nw1, nw0 = norm(W[j + 1][o:-1]), norm(W[j][o:-1])
        nd1, nd0 = norm(D[j + 1][o:]), norm(D[j][o:])
        out["rn"].append(norm(left - right))
        out["scale"].append(norm(left) + norm(right))
        out["wdn"].append(nw1 * nd1 + nd0 * nw0)
        out["sec"].append(nd1**2 + nd0**2)
        out["wsq"].append(nw1**2 + nw0**2)
        Dj = W[j + 1][o:-1].mT @ W[j + 1][o:-1] - W[j][o:-1] @ W[j][o:-1].mT
        out["dsq"].append(sqnorm(Dj))
        if reversed_ok:  # the list read backwards: pair (W[N-1-j], W[N-2-j]) with W[N-1-j] acting first
            a, b = N - 1 - j, N - 2 - j
            left, right = W[b][o:-1].mT @ D[b][o:], D[a][o:] @ W[a][o:-1].mT
            out["rn_rev"].append(norm(left - right))
            out["scale_rev"].append(norm(left) + norm(right))
            out["wdn_rev"].append(norm(W[b][o:-1]) * norm(D[b][o:]) + norm(D[a][o:]) * norm(W[a][o:-1]))
    return {k: np.stack(v, axis=1) for k, v in out.items() if v}


def own_preconditioner(ch: Chunk, Z: np.ndarray, upto: int | None = None) -> np.ndarray:
    r"""The network's end-to-end preconditioner :math:`\sum_j S_jS_j^T Z P_{j-1}^TP_{j-1}` (any start)."""
    N = len(ch.W)
    sl = slice(None, upto)
    total = np.zeros_like(Z)
    for j in range(N):
        S, P = ch.S[j], ch.P[j]
        left = Z if S is None else S[sl] @ (S[sl].mT @ Z)
        total += left if P is None else (left @ P[sl].mT) @ P[sl]
    return total


def energy_stats(ch: Chunk, o: int, balanced: bool, depth: int) -> dict:
    """Pass 1 with an energy and time steps: layer updates, velocity, the exact eta^2 balance identity."""
    from riemdln.geometry import apply_A

    assert ch.gradE is not None and ch.h is not None
    N = len(ch.W)
    h = ch.h[o:][:, None, None]
    out: dict[str, list] = {"en": [], "gn": [], "gchange": [], "wn1": [], "sp": [], "cdot": [], "cnorm": []}
    for j in range(N):
        g = h * ch.G[j][o:-1]
        e = ch.D[j][o:] + g
        out["en"].append(norm(e))
        out["gn"].append(norm(g))
        out["gchange"].append(norm(h * (ch.G[j][o + 1 :] - ch.G[j][o:-1])))
        out["wn1"].append(norm(ch.W[j][o + 1 :]))
        nS, nP = onorm(cut(ch.S[j], o, -1)), onorm(cut(ch.P[j], o, -1))
        out["sp"].append(nS * nP * np.abs(ch.h[o:]))
        out["cdot"].append(inner(ch.D[j][o:], -g))
        out["cnorm"].append(sqnorm(g))
    res = {k: np.stack(v, axis=1) for k, v in out.items()}
    assert ch.loss is not None
    res["loss"] = ch.loss[o:-1]
    absprod = np.abs(ch.W[0][o:-1])  # |W_N| ... |W_1|: the scale of the rounding of X, entrywise
    aop = np.zeros(len(h))
    for j in range(N):
        if j:
            absprod = np.abs(ch.W[j][o:-1]) @ absprod
        nS, nP = onorm(cut(ch.S[j], o, -1)), onorm(cut(ch.P[j], o, -1))
        aop = aop + (nS * nP) ** 2
    res["xabs"], res["aop"] = norm(absprod), aop
    gradE = ch.gradE
    res["gEchange"] = norm(gradE[o + 1 :] - gradE[o:-1])
    X = ch.X
    V = apply_A(X[o:], gradE[o:], depth=depth) if balanced else own_preconditioner(ch, gradE)[o:]
    dX = X[o + 1 :] - X[o:-1]
    L1 = np.zeros_like(dX)
    for j in range(N):
        L1 += rmul(lmul(cut(ch.S[j], o, -1), ch.D[j][o:]), cut(ch.P[j], o, -1))
    hV = h * V[:-1]
    res.update(
        xchange=norm(dX),
        vdev=norm(dX + hV),
        vscale=norm(hV),
        vsecond=norm(dX - L1),
        vchange=norm(h * (V[1:] - V[:-1])),
        xn=norm(X[o + 1 :]),
        vdot=inner(dX, -hV),
        vnorm=sqnorm(hV),
    )
    ident_err, ident_scale, ident_round = [], [], []
    for j in range(N - 1):
        W1, W0 = ch.W[j + 1], ch.W[j]
        Dk = W1.mT @ W1 - W0 @ W0.mT
        dD = Dk[o + 1 :] - Dk[o:-1]
        G1, G0 = h * ch.G[j + 1][o:-1], h * ch.G[j][o:-1]
        pred = G1.mT @ G1 - G0 @ G0.mT
        ident_err.append(norm(dD - pred))
        ident_scale.append(sqnorm(G1) + sqnorm(G0))
        ident_round.append(sqnorm(W1[o:-1]) + sqnorm(W0[o:-1]) + sqnorm(W1[o + 1 :]) + sqnorm(W0[o + 1 :]))
    if N > 1:
        res.update(
            ident_err=np.stack(ident_err, axis=1),
            ident_scale=np.stack(ident_scale, axis=1),
            ident_round=np.stack(ident_round, axis=1),
        )
    return res


# ---------------------------------------------------------------- rival models (runs that failed pass 1)


def _previous_steps(ch: Chunk, o: int) -> list[np.ndarray]:
    """Delta_j(k-1) at the chunk's steps (zero before the first recorded step)."""
    if o == 1:
        return [d[:-1] for d in ch.D]
    return [np.concatenate([np.zeros_like(d[:1]), d[:-1]]) for d in ch.D]


def balance_models(ch: Chunk, o: int, params: dict | None) -> dict:
    r"""Weight decay (:math:`R_j = -h\lambda D_j`) and heavy-ball momentum (:math:`R_j(k) = \mu R'_j(k)`).

    :math:`R'_j(k) = W_{j+1}(k)^T\Delta_{j+1}(k-1) - \Delta_j(k-1)W_j(k)^T`. Without ``params``: the inner
    products of the least-squares fits; with them: the norms of what the fitted model leaves.
    """
    W, D = ch.W, ch.D
    prev = _previous_steps(ch, o)
    h = np.ones(len(D[0]) - o) if ch.h is None else ch.h[o:]
    keys = ("wd_dot", "wd_norm", "mom_dot", "mom_norm") if params is None else ("wd_res", "mom_res")
    out: dict[str, list] = {k: [] for k in keys}
    for j in range(len(W) - 1):
        R = balance_residual(W, D, j, o)
        Dj = W[j + 1][o:-1].mT @ W[j + 1][o:-1] - W[j][o:-1] @ W[j][o:-1].mT
        hD = h[:, None, None] * Dj
        Rp = W[j + 1][o:-1].mT @ prev[j + 1] - prev[j] @ W[j][o:-1].mT
        if params is None:
            out["wd_dot"].append(inner(R, -hD))
            out["wd_norm"].append(sqnorm(hD))
            out["mom_dot"].append(inner(R, Rp))
            out["mom_norm"].append(sqnorm(Rp))
        else:
            out["wd_res"].append(norm(R + params["lam"] * hD))
            out["mom_res"].append(norm(R - params["mu"] * Rp))
    return {k: np.stack(v, axis=1) for k, v in out.items()}


def sequential_gradient(ch: Chunk, j: int, o: int, forward: bool, run: Run) -> np.ndarray:
    """The gradient of layer j after the layers before it (forward) or after it (backward) were updated."""
    N = len(ch.W)
    new = [w[o + 1 :] for w in ch.W]
    old = [w[o:-1] for w in ch.W]
    layers = [new[i] if (i < j if forward else i > j) else old[i] for i in range(N)]
    P = None
    for i in range(j):
        P = layers[i] if P is None else layers[i] @ P
    S = None
    for i in range(N - 1, j, -1):
        S = layers[i] if S is None else S @ layers[i]
    X = rmul(lmul(S, layers[j]), P)
    assert run.energy is not None
    return layer_gradient(S, run.energy.gradient(X, ch.steps[o:-1]), P)


def energy_models(ch: Chunk, o: int, params: dict | None, run: Run) -> dict:
    r"""Rival update rules for each layer, against the layer's step :math:`\Delta_j`.

    Scaled learning rate :math:`\Delta_j = -c\,hG_j`; weight decay :math:`\Delta_j = -h(G_j + \lambda W_j)`;
    heavy-ball momentum :math:`\Delta_j(k) = \mu\Delta_j(k-1) - hG_j(k)`; sequential updates (each layer's
    gradient taken after the layers before it, or after it, were updated). Without ``params``: the fits'
    inner products; with them: what each model leaves.
    """
    assert ch.h is not None
    h = ch.h[o:][:, None, None]
    prev = _previous_steps(ch, o)
    keys = ("wd_dot", "wd_norm", "mom_dot", "mom_norm")
    if params is not None:
        keys = ("lr_res", "wd_res", "mom_res", "seq_fwd_res", "seq_bwd_res")
    out: dict[str, list] = {k: [] for k in keys}
    for j in range(len(ch.W)):
        g = h * ch.G[j][o:-1]
        e = ch.D[j][o:] + g
        hW = h * ch.W[j][o:-1]
        if params is None:
            out["wd_dot"].append(inner(e, -hW))
            out["wd_norm"].append(sqnorm(hW))
            out["mom_dot"].append(inner(e, prev[j]))
            out["mom_norm"].append(sqnorm(prev[j]))
            continue
        out["lr_res"].append(norm(ch.D[j][o:] + params["c"] * g))
        out["wd_res"].append(norm(e + params["lam"] * hW))
        out["mom_res"].append(norm(e - params["mu"] * prev[j]))
        for forward, key in ((True, "seq_fwd_res"), (False, "seq_bwd_res")):
            out[key].append(norm(ch.D[j][o:] + h * sequential_gradient(ch, j, o, forward, run)))
    return {k: np.stack(v, axis=1) for k, v in out.items()}
