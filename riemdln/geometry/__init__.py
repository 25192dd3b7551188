"""The numeric geometry of :math:`(M_d, g^N)`: the metric, its volume forms, geodesics and curvature.

- the metric operator :math:`A_N`, the metric, the Riemannian gradient, volume densities and the fibre entropy
  (below; defined in ``riemdln/geometry/_metric.py``);
- :mod:`riemdln.geometry.geodesics` — Christoffel symbols, geodesics, the exponential and logarithm maps,
  distances;
- :mod:`riemdln.geometry.curvature` — scalar, sectional and Ricci curvature;
- :mod:`riemdln.geometry.dln_metric` — :class:`~riemdln.geometry.dln_metric.DLNMetric`, all of it as methods
  of one object.

``import riemdln.geometry`` loads numpy only; the submodules load on import.
"""

from riemdln.geometry._metric import (
    apply_A,
    apply_A_inverse,
    entropy,
    induced_log_volume_density,
    log_multiplier,
    log_volume_density,
    metric,
    multiplier,
    orthogonal_group_volume,
    riemannian_gradient,
    volume_density,
)

__all__ = [
    "multiplier",
    "log_multiplier",
    "apply_A",
    "apply_A_inverse",
    "metric",
    "riemannian_gradient",
    "induced_log_volume_density",
    "volume_density",
    "log_volume_density",
    "entropy",
    "orthogonal_group_volume",
]
