r"""Matrix-completion problems: the loss the DLN is trained on.

A problem observes the entries :math:`(i, j) \in \Omega` of an unknown m×n matrix, with values
:math:`M_{ij}`. The loss and its (Euclidean) gradient are

.. math::

    E(X) = \tfrac12 \sum_{(i,j)\in\Omega} (X_{ij} - M_{ij})^2, \qquad \nabla E(X) = P_\Omega(X - M),

where :math:`P_\Omega` zeroes the unobserved entries (docs/theory.md §1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln._validation import RiemdlnValueError, check_allocation, check_finite_array, check_seed, short

__all__ = ["CompletionProblem"]

_NAMED = ("menon-2x2", "razin-cohen-2x2")


def _check_shape(shape) -> tuple[int, int]:
    try:
        m, n = shape
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1 for v in (m, n))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RiemdlnValueError(f"`shape` must be a pair (m, n) of integers >= 1; got {short(shape)}.")
    return int(m), int(n)


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise RiemdlnValueError(f"`{name}` must be an integer >= {low}; got {short(value)}.")
    return int(value)


class CompletionProblem:
    r"""A matrix-completion problem: observed entries of an m×n matrix, the loss and its gradient.

    .. math::

        E(X) = \tfrac12 \sum_{(i,j)\in\Omega} (X_{ij} - M_{ij})^2, \qquad \nabla E(X) = P_\Omega(X - M).

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``, the shape of the matrices.
    observations : mapping, iterable of triples, or bool ndarray
        Either ``{(i, j): value}``, an iterable of ``(i, j, value)`` triples (repeating an entry is
        allowed only with the same value), or a boolean mask of shape ``(m, n)`` (then ``values`` gives
        the observed values).
    values : array_like, shape (m, n), optional
        With a mask only: the values, read where the mask is True (other entries are ignored).
    ground_truth : array_like, shape (m, n), optional
        The matrix the observations come from; enables :meth:`test_error`.
    name : str, optional
        A label used in reprs and reports.

    Raises
    ------
    RiemdlnValueError
        At construction, for an index out of range, an entry given twice with different values, a
        non-finite value, an empty observation set, or a shape mismatch.

    See Also
    --------
    riemdln.SensingProblem : measurements by general linear sensors.
    riemdln.end_to_end_flow, riemdln.factor_descent : what trains on it.

    Examples
    --------
    >>> p = CompletionProblem((2, 2), {(0, 0): 1.0, (1, 1): 1.0})
    >>> print(p.loss([[0.0, 5.0], [5.0, 1.0]]))        # only (0, 0) is off: (0 - 1)^2 / 2
    0.5
    >>> print(p.gradient([[0.0, 5.0], [5.0, 1.0]]))
    [[-1.  0.]
     [ 0.  0.]]
    """

    def __init__(
        self,
        shape: tuple[int, int],
        observations: Mapping | Iterable | ArrayLike,
        values: ArrayLike | None = None,
        *,
        ground_truth: ArrayLike | None = None,
        name: str | None = None,
    ) -> None:
        m, n = _check_shape(shape)
        mask, target = self._parse(m, n, observations, values)
        if not mask.any():
            raise RiemdlnValueError(
                "`observations` must contain at least one entry; got an empty set (the loss would be 0)."
            )
        if ground_truth is not None:
            gt = check_finite_array(ground_truth, "ground_truth")
            if gt.shape != (m, n):
                raise RiemdlnValueError(f"`ground_truth` must have shape {(m, n)}; got {gt.shape}.")
            gt = gt.copy()
            gt.setflags(write=False)
        else:
            gt = None
        mask.setflags(write=False)
        target.setflags(write=False)
        self._shape = (m, n)
        self._mask = mask
        self._target = target
        self._ground_truth = gt
        self.name = name

    @staticmethod
    def _parse(m: int, n: int, observations, values):
        mask = np.zeros((m, n), dtype=bool)
        target = np.zeros((m, n))
        if isinstance(observations, Mapping):
            if values is not None:
                raise RiemdlnValueError(
                    "`values` must be None when `observations` is a mapping {(i, j): value}; got an array."
                )
            triples = [(*_check_index(key), val) for key, val in observations.items()]
        else:
            if isinstance(observations, np.ndarray):
                marr = np.asarray(observations)
                if marr.dtype != bool:
                    raise RiemdlnValueError(
                        f"`observations` given as an array must be a boolean mask; got dtype {marr.dtype}."
                    )
                if marr.shape != (m, n):
                    raise RiemdlnValueError(f"`observations` (mask) must have shape {(m, n)}; got {marr.shape}.")
                if values is None:
                    raise RiemdlnValueError("`values` must be given with a boolean mask; got None.")
                vals = _real_array(values, "values")
                if vals.shape != (m, n):
                    raise RiemdlnValueError(f"`values` must have shape {(m, n)}; got {vals.shape}.")
                if not np.all(np.isfinite(vals[marr])):
                    raise RiemdlnValueError(
                        "`values` must be finite (no NaN or inf) on the observed entries; got "
                        f"{short(vals[marr][~np.isfinite(vals[marr])][:3].tolist())}."
                    )
                mask[...] = marr
                target[marr] = vals[marr]
                return mask, target
            if values is not None:
                raise RiemdlnValueError("`values` must be None unless `observations` is a boolean mask; got an array.")
            if isinstance(observations, str | bytes) or not isinstance(observations, Iterable):
                raise RiemdlnValueError(
                    "`observations` must be a mapping {(i, j): value}, (i, j, value) triples or a boolean mask; "
                    f"got {short(observations)}."
                )
            triples = []
            for item in observations:
                try:
                    i, j, v = item
                except (TypeError, ValueError):
                    raise RiemdlnValueError(
                        f"`observations` must be a mapping {{(i, j): value}}, (i, j, value) triples or a "
                        f"boolean mask; got the item {short(item)}."
                    ) from None
                triples.append((*_check_index((i, j)), v))
        seen: dict[tuple[int, int], float] = {}
        for i, j, v in triples:
            try:
                if isinstance(v, complex | np.complexfloating | str | bytes):
                    raise TypeError
                fv = float(v)
            except (TypeError, ValueError):
                raise RiemdlnValueError(
                    f"`observations`: observed value at {(i, j)} must be a real number; got {short(v)}."
                ) from None
            if not math.isfinite(fv):
                raise RiemdlnValueError(f"`observations`: observed value at {(i, j)} must be finite; got {fv!r}.")
            if not (0 <= i < m and 0 <= j < n):
                raise RiemdlnValueError(
                    f"`observations`: observed index {(i, j)} must lie in range(0, {m}) x range(0, {n}) "
                    f"for shape {(m, n)}."
                )
            if (i, j) in seen and seen[(i, j)] != fv:
                raise RiemdlnValueError(
                    f"`observations`: observed index {(i, j)} must not be given twice with different values; "
                    f"got {seen[(i, j)]!r} and {fv!r}."
                )
            seen[(i, j)] = fv
            mask[i, j] = True
            target[i, j] = fv
        return mask, target

    # ------------------------------------------------------------------ basic data
    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return self._shape

    @property
    def mask(self) -> NDArray[np.bool_]:
        """Boolean (m, n) array, True on the observed set :math:`\\Omega` (read-only)."""
        return self._mask

    @property
    def target(self) -> NDArray[np.float64]:
        """The observed values :math:`M` on :math:`\\Omega`, 0 elsewhere (read-only)."""
        return self._target

    @property
    def ground_truth(self) -> NDArray[np.float64] | None:
        """The full matrix, when known (read-only), else None."""
        return self._ground_truth

    @property
    def n_observed(self) -> int:
        """:math:`|\\Omega|`."""
        return int(self._mask.sum())

    @property
    def observed(self) -> dict[tuple[int, int], float]:
        """The observations as a mapping ``{(i, j): value}``."""
        rows, cols = np.nonzero(self._mask)
        return {(int(i), int(j)): float(self._target[i, j]) for i, j in zip(rows, cols, strict=True)}

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        gt = ", ground_truth" if self._ground_truth is not None else ""
        return f"CompletionProblem({label}shape={self._shape}, n_observed={self.n_observed}{gt})"

    # ------------------------------------------------------------------ loss
    def _as_X(self, X) -> np.ndarray:
        # light check (no eager repr of large arrays: this is called in loops)
        try:
            raw = np.asarray(X)
            if raw.dtype.kind not in "biuf":  # complex would lose its imaginary part, strings be parsed
                raise TypeError
            arr = raw if raw.dtype == np.float64 else raw.astype(float)
        except (TypeError, ValueError):
            raise RiemdlnValueError(f"`X` must be an array of real numbers; got {short(X)}.") from None
        m, n = self._shape
        if arr.ndim < 2 or arr.shape[-2:] != self._shape:
            raise RiemdlnValueError(f"`X` must have shape (..., {m}, {n}); got {arr.shape}.")
        if not np.all(np.isfinite(arr)):
            raise RiemdlnValueError("`X` must have finite entries (no NaN or inf).")
        return arr

    def residual(self, X: ArrayLike) -> NDArray[np.float64]:
        r""":math:`P_\Omega(X - M)`, zero off the observed set; ``X`` may be a stack (..., m, n)."""
        return self._residual(self._as_X(X))

    def _residual(self, X: np.ndarray) -> np.ndarray:
        return np.where(self._mask, X - self._target, 0.0)

    def loss(self, X: ArrayLike) -> NDArray[np.float64] | float:
        r"""The loss :math:`E(X) = \tfrac12\sum_\Omega (X_{ij} - M_{ij})^2` per matrix of a stack."""
        r = self._residual(self._as_X(X))
        return np.asarray(0.5 * np.sum(r * r, axis=(-2, -1)))[()]

    def _loss(self, X: np.ndarray) -> float:
        """Unchecked loss of one matrix (hot loops: events)."""
        r = np.where(self._mask, X - self._target, 0.0)
        return 0.5 * float(np.sum(r * r))

    def gradient(self, X: ArrayLike) -> NDArray[np.float64]:
        r"""The Euclidean gradient :math:`\nabla E(X) = P_\Omega(X - M)`."""
        return self.residual(X)

    def test_error(self, X: ArrayLike) -> NDArray[np.float64] | float:
        r"""Relative error against the ground truth, :math:`\|X - W^*\|_F / \|W^*\|_F`.

        Raises
        ------
        RiemdlnValueError
            If the problem has no ground truth.
        """
        if self._ground_truth is None:
            raise RiemdlnValueError(
                "`test_error` needs a problem with `ground_truth`; this one has none (pass ground_truth=...)."
            )
        X = self._as_X(X)
        scale = float(np.linalg.norm(self._ground_truth))
        num = np.linalg.norm(X - self._ground_truth, axis=(-2, -1))
        return np.asarray(num / scale if scale > 0 else num)[()]

    # ------------------------------------------------------------------ observation pattern
    def graph(self):
        """The observation pattern as a networkx bipartite graph (rows × columns).

        Nodes are ``("row", i)`` (attribute ``bipartite=0``) and ``("col", j)`` (``bipartite=1``); every
        observed entry is an edge carrying its ``value``. Every row and column is a node, observed or not.

        >>> g = CompletionProblem.named("menon-2x2").graph()
        >>> print(g.number_of_nodes(), g.number_of_edges())
        4 2
        """
        import networkx as nx

        m, n = self._shape
        g = nx.Graph()
        g.add_nodes_from((("row", i) for i in range(m)), bipartite=0)
        g.add_nodes_from((("col", j) for j in range(n)), bipartite=1)
        for (i, j), v in self.observed.items():
            g.add_edge(("row", i), ("col", j), value=v)
        return g

    def components(self) -> list[tuple[list[int], list[int]]]:
        """Connected components of the pattern, each as ``(rows, cols)`` (sorted lists), largest first.

        >>> CompletionProblem.named("menon-2x2").components()
        [([0], [0]), ([1], [1])]
        """
        import networkx as nx

        out = []
        for comp in nx.connected_components(self.graph()):
            rows = sorted(i for kind, i in comp if kind == "row")
            cols = sorted(j for kind, j in comp if kind == "col")
            out.append((rows, cols))
        out.sort(key=lambda rc: (-(len(rc[0]) + len(rc[1])), rc[0][:1] or [-1], rc[1][:1] or [-1]))
        return out

    @property
    def row_degrees(self) -> NDArray[np.int64]:
        """Number of observed entries in each row."""
        return self._mask.sum(axis=1)

    @property
    def col_degrees(self) -> NDArray[np.int64]:
        """Number of observed entries in each column."""
        return self._mask.sum(axis=0)

    def is_connected(self) -> bool:
        """Whether the bipartite pattern graph (all rows and columns) is connected."""
        return len(self.components()) == 1

    def uniqueness_obstructions(self, rank: int) -> list[str]:
        r"""Reasons a rank-``rank`` completion cannot be unique (empty list: none of these apply).

        The checks are necessary conditions for uniqueness among rank-r matrices:
        every row and every column observed at least r times; at least :math:`r(m + n - r)` observations
        (the dimension of the rank-r manifold); a connected pattern (a disconnected pattern lets each
        component be rescaled independently). For rank one and entries of a nonzero rank-one matrix,
        connectedness is also sufficient.
        """
        m, n = self._shape
        rank = _check_int(rank, "rank", 1)
        if rank > min(m, n):
            raise RiemdlnValueError(f"`rank` must be <= min(m, n) = {min(m, n)}; got {rank}.")
        reasons = []
        low_r = np.nonzero(self.row_degrees < rank)[0]
        low_c = np.nonzero(self.col_degrees < rank)[0]
        if low_r.size:
            reasons.append(f"rows {low_r.tolist()[:10]} have fewer than {rank} observed entries")
        if low_c.size:
            reasons.append(f"columns {low_c.tolist()[:10]} have fewer than {rank} observed entries")
        dof = rank * (m + n - rank)
        if self.n_observed < dof:
            reasons.append(f"{self.n_observed} observations < {dof} = dimension of the rank-{rank} matrices")
        if not self.is_connected():
            reasons.append(f"the pattern has {len(self.components())} connected components")
        return reasons

    def can_be_unique(self, rank: int) -> bool:
        """Whether a rank-``rank`` completion can be unique (see :meth:`uniqueness_obstructions`).

        >>> CompletionProblem.named("menon-2x2").can_be_unique(1)     # disconnected pattern
        False
        >>> CompletionProblem.named("razin-cohen-2x2").can_be_unique(1)
        True
        """
        return not self.uniqueness_obstructions(rank)

    def describe(self, rank: int | None = None) -> str:
        """A short human-readable summary of the pattern (and of uniqueness at ``rank``)."""
        m, n = self._shape
        comps = self.components()
        lines = [
            f"{self!r}",
            f"observed {self.n_observed} of {m * n} entries ({100 * self.n_observed / (m * n):.1f}%)",
            f"row degrees min/max {int(self.row_degrees.min())}/{int(self.row_degrees.max())}, "
            f"column degrees min/max {int(self.col_degrees.min())}/{int(self.col_degrees.max())}",
            f"{len(comps)} connected component(s)",
        ]
        if rank is not None:
            reasons = self.uniqueness_obstructions(rank)
            lines.append(
                f"rank-{rank} completion can be unique"
                if not reasons
                else f"rank-{rank} completion cannot be unique: " + "; ".join(reasons)
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def named(cls, name: str) -> CompletionProblem:
        """A problem from the literature (docs/theory.md §9).

        ``"menon-2x2"``: observe :math:`X_{11} = X_{22} = 1` (Menon's open problem).
        ``"razin-cohen-2x2"``: observe :math:`X_{12} = X_{21} = 1`, :math:`X_{22} = 0` (Razin & Cohen 2020).

        >>> print(CompletionProblem.named("razin-cohen-2x2").observed)
        {(0, 1): 1.0, (1, 0): 1.0, (1, 1): 0.0}
        """
        if name == "menon-2x2":
            return cls((2, 2), {(0, 0): 1.0, (1, 1): 1.0}, name=name)
        if name == "razin-cohen-2x2":
            return cls((2, 2), {(0, 1): 1.0, (1, 0): 1.0, (1, 1): 0.0}, name=name)
        raise RiemdlnValueError(f"`name` must be one of {_NAMED}; got {short(name)}.")

    @classmethod
    def random(
        cls, m: int, n: int, rank: int, n_observed: int, seed: int | np.random.Generator | None = None
    ) -> CompletionProblem:
        r"""A random low-rank completion problem in the Arora–Cohen–Hu–Luo style.

        Ground truth :math:`W^* = U V^T` with Gaussian :math:`U \in \mathbb R^{m\times r}`,
        :math:`V \in \mathbb R^{n\times r}`, rescaled to :math:`\|W^*\|_F = \sqrt{mn}` (entries of order
        one); ``n_observed`` entries chosen uniformly without replacement.

        >>> p = CompletionProblem.random(30, 30, rank=2, n_observed=360, seed=0)
        >>> W = p.ground_truth
        >>> print(p.n_observed, round(float(np.linalg.norm(W)), 9), np.linalg.matrix_rank(W))
        360 30.0 2
        """
        m = _check_int(m, "m", 1)
        n = _check_int(n, "n", 1)
        rank = _check_int(rank, "rank", 1)
        if rank > min(m, n):
            raise RiemdlnValueError(f"`rank` must be <= min(m, n) = {min(m, n)}; got {rank}.")
        n_observed = _check_int(n_observed, "n_observed", 1)
        if n_observed > m * n:
            raise RiemdlnValueError(f"`n_observed` must be <= m * n = {m * n}; got {n_observed}.")
        seed = check_seed(seed)
        check_allocation(m * n, "m", f"a {m}x{n} ground truth")
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
        W *= math.sqrt(m * n) / np.linalg.norm(W)
        flat = rng.choice(m * n, size=n_observed, replace=False)
        mask = np.zeros(m * n, dtype=bool)
        mask[flat] = True
        mask = mask.reshape(m, n)
        return cls((m, n), mask, W, ground_truth=W, name=f"random-{m}x{n}-rank{rank}-obs{n_observed}")


def _real_array(value, name: str) -> np.ndarray:
    """``value`` as a float array; complex (whose imaginary part would be dropped) and strings refused."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "biuf":
            raise TypeError
        return raw.astype(float)
    except (TypeError, ValueError):
        raise RiemdlnValueError(f"`{name}` must be an array of real numbers; got {short(value)}.") from None


def _check_index(key) -> tuple[int, int]:
    try:
        i, j = key
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (i, j))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RiemdlnValueError(f"`observations`: observed index must be a pair (i, j) of integers; got {short(key)}.")
    return int(i), int(j)
