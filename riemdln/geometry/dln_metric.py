r"""The DLN metric as an object: :class:`DLNMetric` (depth and convention fixed once).

``DLNMetric(depth, normalized)`` checks its two conventions once and then offers the geometry of
:math:`g^N` (raw) or :math:`\hat g^N = N g^N` (normalized; ``depth=math.inf`` only there) as methods, in the
style of geomstats, pymanopt and Manopt (``metric.dist(a, b)``, ``metric.exp(x, v)``, ``metric.log(x, y)``).
Every method runs the same code as the free function of the same meaning (``dist`` is
:func:`riemdln.distance`, ``exp`` is :func:`riemdln.exp_map`, …): results agree bit for bit.

The module is not called ``riemdln.metric``: that name is the function :func:`riemdln.metric`. It imports
only :mod:`riemdln.geometry` at load; geodesics and curvature (SciPy's integrators) load on the first method
that needs them, and the simulators (:meth:`DLNMetric.flow`, :meth:`DLNMetric.langevin`) only when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln._validation import RiemdlnValueError
from riemdln.geometry import _metric as geometry

if TYPE_CHECKING:  # pragma: no cover
    from riemdln.geometry.geodesics import DiscreteDistanceResult, GeodesicBetweenResult, GeodesicResult

__all__ = ["DLNMetric"]


@dataclass(frozen=True)
class DLNMetric:
    r"""The DLN metric :math:`g^N_X(Z_1, Z_2) = \operatorname{tr}(Z_1^T A_N(X)^{-1} Z_2)` at one depth.

    .. math::
        A_N(X) Z = \sum_{k=1}^{N} (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}, \qquad
        \hat g^N = N g^N \ (\text{normalized}), \qquad
        \hat g^\infty:\ A_\infty(X)Z = \int_0^1 (XX^T)^{1-t} Z (X^TX)^t\,dt.

    Parameters
    ----------
    depth : float
        N >= 1 (any real; integer N is the network), or ``math.inf`` with ``normalized=True``.
    normalized : bool, optional
        The convention: False for the raw :math:`g^N` (what gradient flow on the factors produces, time t),
        True for :math:`\hat g^N = N g^N` (operator :math:`A_N/N`, time :math:`\tau = Nt`). Default False.

    Attributes
    ----------
    depth : float
        The depth, as a float (``math.inf`` for infinite depth).
    normalized : bool

    Raises
    ------
    RiemdlnValueError
        ``depth`` < 1, NaN, not a real number, or ``math.inf`` without ``normalized=True``; ``normalized`` not a
        bool.

    See Also
    --------
    riemdln.metric, riemdln.distance, riemdln.exp_map, riemdln.scalar_curvature : the free functions the
    methods share their code with.

    Notes
    -----
    Frozen and hashable (two metrics are equal when depth and convention are); methods never re-check the
    conventions. N = 1 is the Euclidean (Frobenius) metric on all m×n matrices.

    Examples
    --------
    >>> import numpy as np, math
    >>> g = DLNMetric(2)
    >>> g
    DLNMetric(depth=2, normalized=False)
    >>> X0, X1 = np.diag([4.0, 1.0]), np.diag([1.0, 4.0])
    >>> print(round(g.dist(X0, X1), 9))                           # Chen: sqrt(2) |sqrt(s1) - sqrt(s0)|
    2.0
    >>> print(round(float(g.inner(X0, np.eye(2), np.eye(2))), 12))   # 1/a_2(16, 16) + 1/a_2(1, 1)
    0.625
    >>> print(round(float(DLNMetric(math.inf, normalized=True).scalar_curvature(np.eye(2))), 12))
    0.333333333333
    """

    depth: float
    normalized: bool = False

    def __post_init__(self) -> None:
        depth, normalized = geometry.conventions(self.depth, self.normalized)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "normalized", normalized)

    def __repr__(self) -> str:
        d = self.depth
        depth = "math.inf" if math.isinf(d) else str(int(d)) if d.is_integer() and d < 2**53 else repr(d)
        return f"DLNMetric(depth={depth}, normalized={self.normalized})"

    # --- the operator and the metric ----------------------------------------------------------------------
    def multiplier(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """The spectral multiplier :math:`a_N(x, y)` (normalized: :math:`a_N/N`); see :func:`riemdln.multiplier`."""
        return geometry._checked_multiplier(x, y, self.depth, self.normalized)

    def apply_A(self, X: ArrayLike, Z: ArrayLike) -> NDArray[np.float64]:
        r""":math:`A_N(X)Z` (normalized: :math:`A_N(X)Z/N`), the cometric; see :func:`riemdln.apply_A`."""
        return geometry._apply_A(X, Z, self.depth, self.normalized)

    def apply_A_inverse(self, X: ArrayLike, Z: ArrayLike) -> NDArray[np.float64]:
        r""":math:`A_N(X)^{-1}Z` at full-rank X; see :func:`riemdln.apply_A_inverse`."""
        return geometry._apply_A_inverse(X, Z, self.depth, self.normalized)

    def inner(self, X: ArrayLike, Z1: ArrayLike, Z2: ArrayLike) -> NDArray[np.float64]:
        r""":math:`g_X(Z_1, Z_2) = \operatorname{tr}(Z_1^TA_N(X)^{-1}Z_2)`; see :func:`riemdln.metric`.

        >>> import numpy as np
        >>> Z = np.array([[0.0, 3.0], [0.0, 0.0]])
        >>> print(round(float(DLNMetric(2).inner(np.diag([2.0, 1.0]), Z, Z)), 12))   # 3 * 3 / a_2(4, 1)
        3.0
        """
        return geometry._metric(X, Z1, Z2, self.depth, self.normalized)

    def norm(self, X: ArrayLike, Z: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\|Z\|_X = \sqrt{g_X(Z, Z)}` (``np.sqrt`` of :meth:`inner`).

        >>> import numpy as np
        >>> print(round(float(DLNMetric(1).norm(np.eye(2), np.ones((2, 2)))), 12))   # N = 1: Frobenius
        2.0
        """
        return np.sqrt(self.inner(X, Z, Z))

    def riemannian_gradient(self, X: ArrayLike, euclidean_gradient: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\operatorname{grad}E = A_N(X)\nabla E(X)`; see :func:`riemdln.riemannian_gradient`."""
        return geometry._riemannian_gradient(X, euclidean_gradient, self.depth, self.normalized)

    def christoffel(self, X: ArrayLike, U: ArrayLike, V: ArrayLike) -> NDArray[np.float64]:
        r"""The Christoffel form :math:`\Gamma_X(U, V)`; see :func:`riemdln.christoffel`."""
        from riemdln.geometry import geodesics

        return geodesics._checked_christoffel(X, U, V, self.depth, self.normalized)

    def hamiltonian_gradient(self, X: ArrayLike, P: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\nabla_X \tfrac12\langle P, A_N(X)P\rangle`; see :func:`riemdln.hamiltonian_gradient`."""
        from riemdln.geometry import geodesics

        return geodesics._hamiltonian_gradient(X, P, self.depth, self.normalized)

    # --- geodesics ----------------------------------------------------------------------------------------
    def exp(self, X: ArrayLike, V: ArrayLike, t: float = 1.0) -> NDArray[np.float64]:
        r""":math:`\exp_X(tV)`; see :func:`riemdln.exp_map`.

        >>> import numpy as np
        >>> print(np.round(np.diag(DLNMetric(2).exp(np.diag([4.0, 1.0]), np.diag([4.0, 1.0]))), 10))
        [9.   2.25]
        """
        from riemdln.geometry import geodesics

        return geodesics._exp_map(X, V, self.depth, self.normalized, t)

    def log(self, X0: ArrayLike, X1: ArrayLike) -> NDArray[np.float64]:
        r"""The initial velocity V with :math:`\exp_{X_0}(V) = X_1`; see :func:`riemdln.log_map`."""
        from riemdln.geometry import geodesics

        return geodesics._log_map(X0, X1, self.depth, self.normalized)

    def geodesic(self, X0: ArrayLike, V0: ArrayLike, t_eval: ArrayLike = (0.0, 1.0), **options: Any) -> GeodesicResult:
        r"""The geodesic from :math:`X_0` with velocity :math:`V_0`; options as in :func:`riemdln.geodesic`."""
        from riemdln.geometry import geodesics

        return geodesics._geodesic(X0, V0, self.depth, self.normalized, t_eval, **options)

    def geodesic_between(self, X0: ArrayLike, X1: ArrayLike, **options: Any) -> GeodesicBetweenResult:
        r"""A geodesic from :math:`X_0` to :math:`X_1`; options as in :func:`riemdln.geodesic_between`."""
        from riemdln.geometry import geodesics

        return geodesics._geodesic_between(X0, X1, self.depth, self.normalized, **options)

    def dist(self, X0: ArrayLike, X1: ArrayLike) -> float:
        r"""The geodesic distance; see :func:`riemdln.distance`.

        >>> import numpy as np
        >>> print(DLNMetric(1).dist(np.eye(2), -np.eye(2)))    # N = 1: ||X0 - X1||_F, any two matrices
        2.8284271247461903
        """
        from riemdln.geometry import geodesics

        return geodesics._distance(X0, X1, self.depth, self.normalized)

    def discrete_distance(self, X0: ArrayLike, X1: ArrayLike, **options: Any) -> DiscreteDistanceResult:
        r"""The distance by discrete path energies; options as in :func:`riemdln.discrete_distance`."""
        from riemdln.geometry import geodesics

        return geodesics._discrete_distance(X0, X1, self.depth, self.normalized, **options)

    # --- curvature ----------------------------------------------------------------------------------------
    def scalar_curvature(self, X: ArrayLike) -> NDArray[np.float64]:
        r"""Scalar curvature at X; see :func:`riemdln.scalar_curvature`."""
        from riemdln.geometry import curvature

        return curvature._scalar_curvature(X, self.depth, self.normalized)

    def sectional_curvature(self, X: ArrayLike, U: ArrayLike, V: ArrayLike) -> float:
        r"""Sectional curvature :math:`K(U, V)` at X; see :func:`riemdln.sectional_curvature`."""
        from riemdln.geometry import curvature

        return curvature._sectional_curvature(X, U, V, self.depth, self.normalized)

    def ricci_curvature(self, X: ArrayLike, U: ArrayLike) -> float:
        r""":math:`\mathrm{Ric}_X(U, U)`; see :func:`riemdln.ricci_curvature`."""
        from riemdln.geometry import curvature

        return curvature._ricci_curvature(X, U, self.depth, self.normalized)

    # --- volume and entropy -------------------------------------------------------------------------------
    def volume_density(
        self, s: ArrayLike, coords: str = "svd", shape: tuple[int, int] | None = None
    ) -> NDArray[np.float64]:
        r"""Riemannian volume density at singular values ``s``; see :func:`riemdln.volume_density`."""
        return geometry._volume_density(s, self.depth, self.normalized, coords, shape)

    def log_volume_density(
        self, s: ArrayLike, coords: str = "svd", shape: tuple[int, int] | None = None
    ) -> NDArray[np.float64]:
        r"""Log of :meth:`volume_density`; see :func:`riemdln.log_volume_density`."""
        return geometry._log_volume_density(s, self.depth, self.normalized, coords, shape)

    def entropy(self, s: ArrayLike, include_constant: bool = True) -> NDArray[np.float64]:
        r"""Entropy of the balanced fibre over singular values ``s``; see :func:`riemdln.entropy`."""
        return geometry._entropy(s, self.depth, self.normalized, include_constant)

    # --- simulators ---------------------------------------------------------------------------------------
    def flow(self, energy: Any, X0: ArrayLike, t_final: float, **options: Any) -> Any:
        r"""The gradient flow :math:`\dot X = -A_N(X)\nabla E(X)` of ``energy`` (normalized: :math:`A_N/N`, time
        :math:`\tau`): :func:`riemdln.end_to_end_flow` with this depth and convention; ``options`` as there.

        >>> import numpy as np, riemdln
        >>> res = DLNMetric(2).flow(riemdln.QuadraticEnergy(np.eye(2)), 0.5 * np.eye(2), 5.0, progress=False)
        >>> bool(res.success)
        True
        """
        from riemdln.flows import end_to_end_flow

        _no_convention(options)
        return end_to_end_flow(energy, X0, self.depth, t_final, self.normalized, **options)

    def langevin(self, energy: Any, X0: ArrayLike, beta: float, t_final: float, dt: float, **options: Any) -> Any:
        r"""Riemannian Langevin dynamics of ``energy`` for this metric: :func:`riemdln.langevin` with this depth
        and convention; ``options`` (``n_chains``, ``seed``, ``free_energy``, …) as there."""
        from riemdln.thermo.langevin_dynamics import langevin

        _no_convention(options)
        return langevin(energy, X0, self.depth, beta, t_final, dt, normalized=self.normalized, **options)


def _no_convention(options: dict) -> None:
    for name in ("depth", "normalized"):
        if name in options:
            raise RiemdlnValueError(f"`{name}` is fixed by the DLNMetric; create another DLNMetric to change it.")
