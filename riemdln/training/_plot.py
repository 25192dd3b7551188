"""TrainingCheck.plot: balance residual, velocity deviation, loss against the flow's (matplotlib, lazily)."""

from __future__ import annotations

import numpy as np


def plot_check(check, axes=None):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the report extra
        from riemdln._errors import MissingExtraError

        raise MissingExtraError('TrainingCheck.plot needs matplotlib: pip install "riemdln[report]"') from exc
    s = check.series
    panels = [k for k in ("balance", "velocity", "loss") if k in s]
    if axes is None:
        fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 3.2), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    steps = check.steps[:-1]
    for ax, key in zip(axes, panels, strict=False):
        if key == "balance":
            for j in range(s["balance"].shape[1]):
                ax.semilogy(steps, np.maximum(s["balance"][:, j], 1e-300), label=f"pair {j + 1}-{j + 2}")
            ax.semilogy(steps, np.max(s["balance_tolerance"], axis=1), "k--", lw=1, label="tolerance")
            ax.set_title("first-order balance residual")
        elif key == "velocity":
            ax.semilogy(steps, np.maximum(s["velocity"], 1e-300))
            ax.set_title("velocity vs -A_N grad E (relative)")
        else:
            ax.semilogy(steps, s["loss"], label="run")
            if "flow_loss" in s:
                ax.semilogy(check.steps, s["flow_loss"], "--", label="exact flow")
            ax.set_title("loss")
        ax.set_xlabel("step")
        if key != "velocity":
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
