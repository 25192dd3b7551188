r"""Check a recorded training run of a deep linear network against the theory (:func:`check_training`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from riemdln.training import _engine as eng
from riemdln.training._inputs import build_run
from riemdln.training._judge import SAFETY, CheckResult, judged, ratio, relative, skipped

__all__ = ["check_training", "TrainingCheck", "CheckResult"]


@dataclass(frozen=True, eq=False)
class TrainingCheck:
    """What :func:`check_training` found.

    Attributes
    ----------
    consistent : bool
        Every judged check passed (an unbalanced start is a note, not a failure).
    diagnosis : str
        The verdict in words, computed from the pattern of failures.
    findings : tuple of str
        Machine-readable codes: ``"layer_gradient"``, ``"sequential_updates"``, ``"weight_decay"``,
        ``"momentum_or_adaptive"``, ``"lr_scale"``, ``"factor_order"``, ``"unbalanced_start"``
        (empty for a consistent run from a balanced start).
    checks : mapping of str to CheckResult
        ``"balance"``, ``"factor_order"``, ``"start"``, ``"layer_updates"``, ``"velocity"``,
        ``"balance_identity"``, ``"reference_flow"``, ``"order"`` (those that do not apply are skipped).
    fits : mapping of str to float
        Fitted parameters of the rival explanations (``"lr_scale"``, ``"weight_decay"``, ``"momentum"``, ...).
    series : mapping of str to ndarray
        Per-step curves for :meth:`plot` (``"balance"`` (K, N-1), ``"balance_tolerance"``, ``"velocity"``,
        ``"loss"``, ``"flow_deviation"``, ``"flow_loss"`` where computed).
    steps : ndarray
        The recorded step numbers.
    depth : int

    See Also
    --------
    check_training : what returns it.
    CheckResult : one of its checks.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> p = riemdln.QuadraticEnergy(np.diag([1.0, 2.0]))
    >>> res = riemdln.factor_descent(p, riemdln.balanced_factors(0.5 * np.eye(2), 2), lr=0.05, steps=20,
    ...                              record_every=1)
    >>> check = riemdln.check_training([[f[k] for f in res.factors] for k in range(len(res.t))], lr=0.05, energy=p)
    >>> type(check).__name__, check.consistent
    ('TrainingCheck', True)
    """

    consistent: bool
    diagnosis: str
    findings: tuple[str, ...]
    checks: Mapping[str, CheckResult]
    fits: Mapping[str, float]
    series: Mapping[str, np.ndarray]
    steps: np.ndarray
    depth: int

    def __eq__(self, other) -> bool:
        if not isinstance(other, TrainingCheck):
            return NotImplemented
        same = (
            self.consistent == other.consistent
            and self.diagnosis == other.diagnosis
            and self.findings == other.findings
            and dict(self.checks) == dict(other.checks)
            and dict(self.fits) == dict(other.fits)
            and self.depth == other.depth
            and np.array_equal(self.steps, other.steps)
            and set(self.series) == set(other.series)
        )
        return same and all(np.array_equal(self.series[k], other.series[k], equal_nan=True) for k in self.series)

    __hash__ = None  # type: ignore[assignment]

    def summary(self) -> str:
        """The checks as a text table (name, status, worst relative value, tolerance, step, layer)."""
        head = f"{'check':<18} {'status':<8} {'value':>10} {'tolerance':>10} {'step':>7} {'layer':>5}"
        lines = [self.diagnosis, "", head, "-" * len(head)]
        for name, c in self.checks.items():
            val = "" if c.value is None else f"{c.value:.3g}"
            tol = "" if c.tolerance is None else f"{c.tolerance:.3g}"
            step = "" if c.worst_step is None else str(c.worst_step)
            layer = "" if c.worst_layer is None else str(c.worst_layer)
            lines.append(f"{name:<18} {c.status:<8} {val:>10} {tol:>10} {step:>7} {layer:>5}")
        if self.fits:
            lines.append("")
            lines.append("fits: " + ", ".join(f"{k} = {v:.4g}" for k, v in self.fits.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"TrainingCheck(consistent={self.consistent}, findings={self.findings}, diagnosis={self.diagnosis!r})"

    def plot(self, axes=None):
        """Balance residual, velocity deviation and loss (against the flow's, if computed); needs matplotlib.

        Returns the matplotlib Figure. ``pip install "riemdln[report]"`` provides matplotlib.
        """
        from riemdln.training._plot import plot_check

        return plot_check(self, axes)


def _series_dict(**arrays) -> MappingProxyType:
    out = {}
    for key, value in arrays.items():
        if value is not None:
            arr = np.array(value, dtype=float)
            arr.setflags(write=False)
            out[key] = arr
    return MappingProxyType(out)


def check_training(
    weights,
    *,
    lr=None,
    times=None,
    energy=None,
    order: str = "W1_first",
    steps=None,
    reference_flow: bool = False,
    refinement=None,
) -> TrainingCheck:
    r"""Check a recorded training run of a deep linear network against the theory.

    The network has factors :math:`W_1, \dots, W_N` (:math:`W_1` acts first) and end-to-end matrix
    :math:`X = W_N\cdots W_1`; gradient descent on :math:`L(W) = E(X)` steps by
    :math:`\Delta_j = -\eta G_j`, :math:`G_j = (W_N\cdots W_{j+1})^T\nabla E(X)(W_{j-1}\cdots W_1)^T`. The checks:

    **Balance** (needs only the weights). For *any* loss of the product with exact gradients,
    :math:`W_{j+1}^T G_{j+1} = G_j W_j^T`, so the first-order change of the balance matrices
    :math:`D_j = W_{j+1}^TW_{j+1} - W_jW_j^T`,

    .. math:: R_j = W_{j+1}^T\Delta_{j+1} - \Delta_j W_j^T,

    vanishes to rounding at every step (its symmetric part is the first-order change of :math:`D_j`).
    Judged relative to :math:`\|W_{j+1}^T\Delta_{j+1}\| + \|\Delta_j W_j^T\|` (the two terms that must cancel),
    with tolerance :math:`10[2u\,(\|W_{j+1}\|^2+\|W_j\|^2) + (N+2w)u(\|W_{j+1}\|\|\Delta_{j+1}\| +
    \|\Delta_j\|\|W_j\|) + \tfrac{s-1}{2s}(\|\Delta_{j+1}\|^2 + \|\Delta_j\|^2)]` (u: unit roundoff of the
    recorded dtype, w: width, s: optimizer steps between records; the last term is the second-order part s
    steps let in).

    **Layer updates** (``energy`` and ``lr``): each :math:`\Delta_j` against :math:`-\eta G_j`.
    **Velocity**: :math:`X_{k+1} - X_k` against :math:`-\eta A_N(X_k)\nabla E(X_k)` (raw convention,
    :func:`riemdln.apply_A` with ``depth=N``) from a balanced start, against the network's own preconditioner
    :math:`-\eta\sum_j (W_N\cdots W_{j+1})(W_N\cdots W_{j+1})^T\nabla E\,(W_{j-1}\cdots W_1)^T(W_{j-1}\cdots W_1)`
    from an unbalanced one; tolerance: ten times the measured second-order part
    :math:`\|X_{k+1} - X_k - \sum_j W_N\cdots\Delta_j\cdots W_1\|` plus rounding. **Balance identity**
    (every-step records): :math:`D_j(k+1) - D_j(k) = \eta^2(G_{j+1}^TG_{j+1} - G_jG_j^T)` exactly.
    **Reference flow** (``reference_flow=True``): :math:`X_k` against riemdln's exact flow at :math:`t = k\eta`
    (:func:`riemdln.end_to_end_flow` from a balanced start, :func:`riemdln.factor_flow` otherwise; its numbers
    also compare the loss and the singular values); with
    ``refinement`` (the same run at :math:`\eta/2`) the order of the deviation is estimated (1 for
    gradient descent).

    Parameters
    ----------
    weights : sequence or TrainingRecorder
        ``weights[k][j]``: factor j at record k (numpy arrays, PyTorch tensors, JAX arrays; anything with
        ``__array__`` or ``__dlpack__``, read without a copy where possible, then float64). Or a
        :class:`TrainingRecorder`.
    lr : float or sequence of float, optional
        The learning rate of gradient descent, or a schedule: one rate per step taken between the first and
        the last record.
    times : sequence of float, optional
        The time of each record, for a continuous-time integrator (instead of ``lr``).
    energy : energy or (callable, callable), optional
        :math:`E`: a riemdln energy (:class:`riemdln.CompletionProblem`, :class:`riemdln.QuadraticEnergy`,
        :class:`riemdln.Energy`, ...) or the pair ``(loss, gradient)`` of callables of X; every value they
        return is checked (finite, real, right shape).
    order : {"W1_first", "WN_first"}
        ``"W1_first"``: ``weights[k][0]`` acts first, :math:`X = ` ``weights[k][-1] @ ... @ weights[k][0]``
        (the order of ``torch.nn.Sequential`` layers); ``"WN_first"``: :math:`X = `
        ``weights[k][0] @ ... @ weights[k][-1]``.
    steps : sequence of int, optional
        The step number of each record (default 0, 1, 2, ...; a TrainingRecorder's own).
    reference_flow : bool
        Integrate riemdln's exact flow from the same start and compare (costs one flow integration).
    refinement : sequence or TrainingRecorder, optional
        The same training at learning rate ``lr / 2`` (scalar ``lr``), from the same start: gives the
        order of the deviation from the flow (implies ``reference_flow``).

    Returns
    -------
    TrainingCheck
        ``consistent``, ``diagnosis``, ``findings``, ``checks``, ``fits``, ``summary()``, ``plot()``.

    Raises
    ------
    RiemdlnValueError
        Ragged layer shapes, factors whose products do not chain, a schedule whose length does not match the
        steps, NaN or inf weights (naming the first bad record), fewer than two records, an energy whose
        callables return a non-finite or misshaped value (naming the callable and the step).

    See Also
    --------
    TrainingRecorder, riemdln.factor_descent, riemdln.end_to_end_flow

    Notes
    -----
    How the defects are told apart (every-step records; derived in the docs page "Checking your own
    training code", and tested by planted defects):

    - *Gradient descent*: balance residual at rounding level, every layer's step is :math:`-\eta G_j`.
    - *Wrong gradient in one layer* (or a missing transpose): the layer's own step fails while the others
      pass (with an energy); without one, the balance residual is first order
      (median relative residual > 0.05) and only at the pairs that contain that layer.
    - *Sequential (in-place) updates*: each layer's gradient taken after the previous layers were updated.
      :math:`R_j = \Delta_j\Delta_j^T - \eta\,S_j^T\,D^2E[S_j\Delta_j P'_{j-1}]P'^T_{j-1}W_j(k+1)^T` with
      :math:`S_j = W_N\cdots W_{j+1}` and :math:`P'_{j-1}` the already updated layers below (exact for a quadratic
      E): second order, at every pair. With an energy the steps match the sequentially evaluated gradients exactly.
    - *Momentum* (heavy ball, :math:`\Delta(k) = \mu\Delta(k-1) - \eta G(k)`): :math:`R_j(k) = \mu R'_j(k)` with
      :math:`R'_j(k) = W_{j+1}(k)^T\Delta_{j+1}(k-1) - \Delta_j(k-1)W_j(k)^T`; the fitted μ explains the
      residual to rounding. *Adam and other adaptive methods*: steps not along the gradient, a first-order
      residual at every pair that no rival model explains.
    - *Weight decay* :math:`\lambda`: :math:`R_j = -\eta\lambda D_j` (one λ for every layer and step; tiny from a
      balanced start, where :math:`D_j` stays :math:`O(\eta^2)`); with an energy, :math:`\Delta_j + \eta G_j =
      -\eta\lambda W_j`.
    - *Scaled loss* (lr unchanged): balance passes, steps are :math:`-c\eta G_j` with one c (e.g. 2).
    - *Factors multiplied in the wrong order*: the balance residual vanishes for the reversed list instead.
    - *Unbalanced start*: not a defect; the Riemannian flow of :math:`g^N` does not describe X, which is compared
      with the network's own end-to-end dynamics instead.

    Records every s > 1 steps admit second-order terms of size :math:`\tfrac{s-1}{2s}\|\Delta\|^2` into the
    balance residual, so second-order defects (sequential updates, momentum) can then pass unnoticed; the
    first-order ones (wrong gradients, Adam) are still found. BLAS runs on one thread (as in the flows).

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> p = riemdln.QuadraticEnergy(np.diag([1.0, 2.0]))
    >>> res = riemdln.factor_descent(p, riemdln.balanced_factors(0.5 * np.eye(2), 2), lr=0.05, steps=20,
    ...                              record_every=1)
    >>> run = [[f[k] for f in res.factors] for k in range(len(res.t))]
    >>> check = riemdln.check_training(run, lr=0.05, energy=p)
    >>> check.consistent, check.findings
    (True, ())
    """
    from riemdln.flows._driver import blas_threads

    run, reverse = build_run(weights, lr=lr, times=times, energy=energy, order=order, steps=steps)
    with blas_threads():
        ev = _Evaluation(run, reverse, lr)
        ev.basic()
        if not ev.gd_consistent():
            ev.rivals()
        if reference_flow or refinement is not None:
            from riemdln.training._reference import reference_checks

            reference_checks(ev, refinement)
        else:
            ev.checks["reference_flow"] = skipped("reference_flow", "not asked (reference_flow=False)")
    from riemdln.training._diagnose import diagnose

    findings, text = diagnose(ev)
    consistent = all(c.passed is not False for c in ev.checks.values())
    return TrainingCheck(
        consistent=consistent,
        diagnosis=text,
        findings=findings,
        checks=MappingProxyType(dict(ev.checks)),
        fits=MappingProxyType(dict(ev.fits)),
        series=_series_dict(**ev.series),
        steps=np.array(run.steps),
        depth=run.N,
    )


class _Evaluation:
    """Runs the passes over the records and holds what they found."""

    def __init__(self, run: eng.Run, reverse: bool, lr):
        self.run, self.reverse, self.lr = run, reverse, lr
        self.checks: dict[str, CheckResult] = {}
        self.fits: dict[str, float] = {}
        self.series: dict[str, np.ndarray | None] = {}
        self.stats: dict[str, np.ndarray] = {}
        self.tol: dict[str, np.ndarray] = {}
        self.balanced = True
        self.rev_ok = False

    # -- layer names in the user's list
    def layer_name(self, j: int) -> str:
        idx = self.run.N - 1 - j if self.reverse else j
        return f"layer {j + 1} (W_{j + 1}, weights[{idx}])"

    @property
    def has_energy(self) -> bool:
        return self.run.energy is not None and self.run.h is not None

    def basic(self) -> None:
        run = self.run
        N = run.N
        shapes = [w.shape for w in run.W[0]]
        self.rev_ok = N > 1 and all(shapes[j].__getitem__(1) == shapes[j + 1][0] for j in range(N - 1))
        balanced = self.has_energy

        def fn(ch, o):
            out = eng.balance_stats(ch, o, False) if N > 1 else {}
            if balanced:
                out.update(eng.energy_stats(ch, o, self.balanced, N))
            return out

        if N > 1:
            first = eng.Chunk(run, 0, 1, with_energy=False)
            st = eng.balance_stats(first, 0, False)
            rel0 = relative(np.sqrt(st["dsq"][0]), st["wsq"][0])
            self.start_rel = float(rel0.max())
            self.balanced = self.start_rel <= SAFETY * run.u * (N + run.width)
        else:
            self.start_rel = 0.0
        self.stats = eng.sweep(run, fn, with_energy=balanced)
        self._start_check()
        self._balance_checks()
        self._energy_checks()

    def _start_check(self) -> None:
        run = self.run
        if run.N == 1:
            self.checks["start"] = skipped("start", "depth 1: no balance matrices")
            return
        tol = SAFETY * run.u * (run.N + run.width)
        why = (
            "max_j ||D_j|| / (||W_{j+1}||^2 + ||W_j||^2) at the first record, D_j = W_{j+1}^T W_{j+1} - W_j W_j^T; "
            "balanced if within 10 (N + w) u (rounding of the products). An unbalanced start is not a defect: "
            "the end-to-end matrix then follows the network's own preconditioner, not A_N."
        )
        self.checks["start"] = CheckResult(
            name="start",
            status="note",
            passed=None,
            value=self.start_rel,
            tolerance=tol,
            why=why,
            numbers={"balanced": float(self.balanced)},  # type: ignore[arg-type]
            worst_step=int(run.steps[0]),
        )

    def _balance_checks(self) -> None:
        run, st = self.run, self.stats
        N, u, w = run.N, run.u, run.width
        if N == 1:
            self.checks["balance"] = skipped("balance", "depth 1: no pairs of layers")
            self.checks["factor_order"] = skipped("factor_order", "depth 1")
            return
        iv = run.interval[:, None]
        tol = SAFETY * (2 * u * st["wsq"] + u * (N + 2 * w) * st["wdn"] + iv * st["sec"])
        self.tol["balance"] = tol
        why = (
            "||W_{j+1}^T D_{j+1} - D_j W_j^T|| / (||W_{j+1}^T D_{j+1}|| + ||D_j W_j^T||) with D_j the step of "
            "layer j (zero for exact gradients of any loss of the product: the two terms cancel); tolerance "
            "10 [2u (||W_{j+1}||^2 + ||W_j||^2) + (N + 2w) u (||W_{j+1}|| ||D_{j+1}|| + ||D_j|| ||W_j||) + "
            "(s-1)/(2s) (||D_{j+1}||^2 + ||D_j||^2)], u the unit roundoff of the "
            f"recorded dtype ({u:.3g}), s the steps between records"
        )
        self.checks["balance"] = judged(
            "balance", st["rn"], tol, st["scale"], steps=run.steps[:-1], why=why, per_layer=True
        )
        self.series["balance"] = relative(st["rn"], st["scale"])
        self.series["balance_tolerance"] = relative(tol, st["scale"])
        if not self.rev_ok:
            self.checks["factor_order"] = skipped("factor_order", "the reversed product does not chain")
            return
        if self.checks["balance"].passed:
            self.checks["factor_order"] = CheckResult(
                name="factor_order",
                status="passed",
                passed=True,
                value=None,
                tolerance=None,
                why="the balance residual vanishes in the declared order (the reversed order is tried only if not)",
            )
            return
        rev_st = eng.sweep(run, lambda ch, o: eng.balance_stats(ch, o, True), with_energy=False)
        st = {**st, **{k: rev_st[k] for k in ("rn_rev", "scale_rev", "wdn_rev")}}
        tol_rev = SAFETY * (2 * u * st["wsq"] + u * (N + 2 * w) * st["wdn_rev"] + iv * st["sec"])
        rev = judged(
            "factor_order",
            st["rn_rev"],
            tol_rev,
            st["scale_rev"],
            steps=run.steps[:-1],
            why="the balance residual of the list read in the other order (X = W_1 ... W_N)",
            per_layer=False,
        )
        flipped = bool(rev.passed) and not self.checks["balance"].passed
        self.checks["factor_order"] = CheckResult(
            name="factor_order",
            status="failed" if flipped else "passed",
            passed=not flipped,
            value=rev.value if flipped else None,
            tolerance=rev.tolerance if flipped else None,
            why="fails if the balance residual vanishes for the factors multiplied in the opposite order and not "
            "in the declared one; the numbers are the reversed order's worst relative residual and its ratio to "
            "the tolerance",
            numbers={  # type: ignore[arg-type]
                "reversed_worst_relative": float(rev.value or 0.0),
                "reversed_max_ratio": rev.numbers["max_ratio_to_tolerance"],
            },
            worst_step=rev.worst_step if flipped else None,
        )

    def _hessian_estimate(self) -> float:
        st = self.stats
        ok = st["xchange"] > 0
        if not ok.any():
            return 1.0
        return float(np.max(st["gEchange"][ok] / st["xchange"][ok]))

    def _energy_checks(self) -> None:
        run, st = self.run, self.stats
        if not self.has_energy:
            need = "`energy`" if run.energy is None else "`lr` or `times`"
            for name in ("layer_updates", "velocity", "balance_identity"):
                self.checks[name] = skipped(name, f"needs {need}")
            return
        N, u, w = run.N, run.u, run.width
        H = self._hessian_estimate()
        self.fits["hessian_estimate"] = H
        iv = run.interval[:, None]
        tol = SAFETY * (
            2 * u * st["wn1"]
            + u * (N + 2 * w) * st["gn"]
            + u * N * math.sqrt(w) * H * st["xabs"][:, None] * st["sp"] / w
            + iv * st["gchange"]
        )
        self.tol["layer_updates"] = tol
        why = (
            "||D_j + h G_j|| / ||h G_j||: the step of each layer against minus the time step h (learning rate "
            "times steps) times the gradient of E(W_N...W_1); tolerance 10 [2u ||W_j|| + (N + 2w) u ||h G_j|| + "
            "N u w^(-1/2) H || |W_N|...|W_1| || ||S_j|| ||P_j|| h + (s-1)/(2s) ||h (G_j(k+1) - G_j(k))||] (the third "
            "term: the rounding of X, of typical size N sqrt(w) u || |W_N|...|W_1| ||, through the Hessian (H, "
            "measured along the run) and the layer's factors (a random error is shrunk by 1/w on the way))"
        )
        self.checks["layer_updates"] = judged(
            "layer_updates", st["en"], tol, st["gn"], steps=run.steps[:-1], why=why, per_layer=True
        )
        self.fits["lr_scale"] = float(st["cdot"].sum() / st["cnorm"].sum()) if st["cnorm"].sum() > 0 else 1.0
        self._velocity_check(H)
        self._identity_check()
        self.series["velocity"] = relative(st["vdev"], st["vscale"])
        self.series["loss"] = st["loss"]

    def _velocity_check(self, H: float) -> None:
        run, st = self.run, self.stats
        N, u, w = run.N, run.u, run.width
        h = np.abs(run.h) if run.h is not None else 0.0
        drift = 0.0
        if self.balanced and N > 1:
            drift = np.max(relative(np.sqrt(st["dsq"]), st["wsq"]), axis=1) * N * st["vscale"]
        tol = SAFETY * (
            st["vsecond"]
            + run.interval * st["vchange"]
            + 2 * u * N * math.sqrt(w) * st["xabs"]
            + u * (N + 2 * w) * st["vscale"]
            + u * N * math.sqrt(w) * H * st["xabs"] * h * st["aop"] / w
            + drift
        )
        target = "A_N(X_k) grad E(X_k) (raw, depth N)" if self.balanced else "the network's own preconditioner"
        why = (
            f"||X_(k+1) - X_k + h V_k|| / ||h V_k|| with V_k = {target}; tolerance 10 [second-order part "
            "||X_(k+1) - X_k - sum_j S_j D_j P_j|| + (s-1)/(2s) ||h (V_(k+1) - V_k)|| + rounding + the drift of "
            "the balance defect (balanced start)]"
        )
        c = float(st["vdot"].sum() / st["vnorm"].sum()) if st["vnorm"].sum() > 0 else 1.0
        self.fits["velocity_scale"] = c
        self._judge("velocity", st["vdev"], tol, st["vscale"], why=why, per_layer=False, extra={"velocity_scale": c})

    def _identity_check(self) -> None:
        run, st = self.run, self.stats
        if run.N == 1 or not run.every_step:
            why = "depth 1" if run.N == 1 else "needs every-step records of gradient descent (`lr`)"
            self.checks["balance_identity"] = skipped("balance_identity", why)
            return
        u, w, N = run.u, run.width, run.N
        tol = SAFETY * (u * (2 + w) * st["ident_round"] + u * (N + 2 * w) * (st["wdn"] + st["ident_scale"]))
        informative = float(np.mean(st["ident_scale"] > tol))
        why = (
            "||D_j(k+1) - D_j(k) - h^2 (G_{j+1}^T G_{j+1} - G_j G_j^T)|| / (h^2 (||G_{j+1}||^2 + ||G_j||^2)), exact "
            "for gradient descent; tolerance 10 [(2 + w) u sum ||W||^2 + (N + 2w) u (||W|| ||D|| + h^2 ||G||^2)] "
            "(the D_j are differences of O(1) matrices: steps where the identity is below rounding say nothing)"
        )
        self._judge(
            "balance_identity",
            st["ident_err"],
            tol,
            st["ident_scale"],
            why=why,
            per_layer=True,
            extra={"informative_fraction": informative},
        )

    def _judge(self, name, value, tol, scale, *, why: str, per_layer: bool, extra: dict | None = None) -> None:
        self.checks[name] = judged(
            name, value, tol, scale, steps=self.run.steps[:-1], why=why, per_layer=per_layer, extra=extra
        )

    def gd_consistent(self) -> bool:
        names = ("balance", "layer_updates", "velocity", "balance_identity")
        return all(self.checks[n].passed is not False for n in names if n in self.checks)

    # -- rival explanations (only for runs that fail)
    def rivals(self) -> None:
        run = self.run
        if run.N > 1:
            fit = eng.sweep(run, lambda ch, o: eng.balance_models(ch, o, None), with_energy=False, overlap=1)
            lam = _fit(fit["wd_dot"], fit["wd_norm"])
            mu = _fit(fit["mom_dot"], fit["mom_norm"])
            res = eng.sweep(
                run, lambda ch, o: eng.balance_models(ch, o, {"lam": lam, "mu": mu}), with_energy=False, overlap=1
            )
            tol = self.tol["balance"]
            self.fits["balance_weight_decay"] = lam
            self.fits["balance_momentum"] = mu
            self.model_pass = {
                "balance_wd": bool(np.all(ratio(res["wd_res"], tol) <= 1)),
                "balance_mom": bool(np.all(ratio(res["mom_res"], tol * (1 + abs(mu))) <= 1)),
            }
        else:
            self.model_pass = {}
        if not self.has_energy:
            return
        fit = eng.sweep(run, lambda ch, o: eng.energy_models(ch, o, None, run), with_energy=True, overlap=1)
        params = {
            "c": self.fits["lr_scale"],
            "lam": _fit(fit["wd_dot"], fit["wd_norm"]),
            "mu": _fit(fit["mom_dot"], fit["mom_norm"]),
        }
        self.fits["weight_decay"] = params["lam"]
        self.fits["momentum"] = params["mu"]
        res = eng.sweep(run, lambda ch, o: eng.energy_models(ch, o, params, run), with_energy=True, overlap=1)
        tol = self.tol["layer_updates"]
        scale = {"lr_res": max(1.0, abs(params["c"])), "mom_res": 1 + abs(params["mu"])}
        for key in ("lr_res", "wd_res", "mom_res", "seq_fwd_res", "seq_bwd_res"):
            r = ratio(res[key], tol * scale.get(key, 1.0))
            self.model_pass[key] = bool(np.all(r <= 1))
            self.fits[f"{key[:-4]}_max_ratio"] = float(min(r.max(), 1e300))


def _fit(dot: np.ndarray, nrm: np.ndarray) -> float:
    total = float(np.sum(nrm))
    return float(np.sum(dot)) / total if total > 0 and math.isfinite(total) else 0.0
