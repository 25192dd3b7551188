"""riemdln: Riemannian geometry of the deep linear network."""
from riemdln.geometry import (
    apply_A,
    entropy,
    log_multiplier,
    log_volume_density,
    metric,
    multiplier,
    riemannian_gradient,
    volume_density,
)
