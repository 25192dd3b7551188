"""Experiment: CVODE options scikit-sundae does not expose, on the 100×100 N = 3 / N = ∞ runs (README, "Scale").

The library's CVODE path (``riemdln.flows._cvode``) sets only what scikit-sundae's ``CVODE`` accepts. This
script reaches the SUNDIALS memory of each solver through scikit-sundae's private object layout (checked
before use: ``CVodeGetCurrentTime`` must return the solver's time, else the script stops) and sets, through
ctypes on the bundled ``libsundials_cvode``, what a run asks for:

- ``--fixed-step-bounds LO,HI``: ``CVodeSetEtaFixedStepBounds`` (CVODE keeps h when the proposed ratio is in
  [LO, HI]; default [1, 1.5]);
- ``--stab-lim-det``: ``CVodeSetStabLimDet`` (BDF stability-limit detection);
- ``--max-order Q``: ``CVodeSetMaxOrd``;
- ``--local-errors LO,HI``: at every 15th accepted step with τ in [LO, HI], CVODE's estimated local error
  (``CVodeGetEstLocalErrors``) in the SVD frame of the state, Qᵀ e R, by blocks: L (the learned values,
  σ > 1), G (the growing ones, σ > 1.5 σ_21) and B (the bulk), with the weighted RMS norm CVODE tests.

It then prints the run's wall time, accepted steps and CVODE's counters (right-hand sides, error-test and
nonlinear-convergence failures, linear iterations). Instrumentation only: none of this is in the library,
because it depends on a private layout (scikit-sundae 1.2.0) and none of it was measured to pay (README).

    python benchmarks/cvode_options.py --depth inf                          # the library's settings
    python benchmarks/cvode_options.py --depth inf --fixed-step-bounds 0,1
    python benchmarks/cvode_options.py --depth inf --stab-lim-det
    python benchmarks/cvode_options.py --depth inf --local-errors 83.3,106   # the plateau before σ_3's escape
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import math
import os
import time

import numpy as np
from bench_scale import problem

import riemdln
from riemdln.flows import _cvode

COUNTERS = ("NumRhsEvals", "NumErrTestFails", "NumNonlinSolvConvFails", "NumLinIters", "NumPrecEvals")


def cvode_library() -> ctypes.CDLL:
    import sksundae

    libs = os.path.join(os.path.dirname(sksundae.__file__), "..", "scikit_sundae.libs")
    found = glob.glob(os.path.join(libs, "libsundials_cvode-*.so*"))
    if not found:
        raise SystemExit("cvode_options.py: no bundled libsundials_cvode next to scikit-sundae")
    return ctypes.CDLL(found[0])


def bundled(name: str) -> ctypes.CDLL:
    import sksundae

    libs = os.path.join(os.path.dirname(sksundae.__file__), "..", "scikit_sundae.libs")
    return ctypes.CDLL(glob.glob(os.path.join(libs, f"libsundials_{name}-*.so*"))[0])


class LocalErrors:
    """Reads CVODE's estimated local errors and error weights of an n-vector state (``--local-errors``)."""

    def __init__(self, n: int, lib: ctypes.CDLL):
        core, nvec = bundled("core"), bundled("nvecserial")
        nvec.N_VNew_Serial.restype = ctypes.c_void_p
        nvec.N_VGetArrayPointer_Serial.restype = ctypes.POINTER(ctypes.c_double)
        nvec.N_VGetArrayPointer_Serial.argtypes = [ctypes.c_void_p]
        self.context = ctypes.c_void_p()
        assert core.SUNContext_Create(ctypes.c_int(0), ctypes.byref(self.context)) == 0
        self.lib, self.nvec, self.n, self.seen = lib, nvec, n, 0
        self.errors = nvec.N_VNew_Serial(ctypes.c_long(n), self.context)
        self.weights = nvec.N_VNew_Serial(ctypes.c_long(n), self.context)

    def read(self, mem: ctypes.c_void_p) -> tuple[np.ndarray, np.ndarray]:
        self.lib.CVodeGetEstLocalErrors(mem, ctypes.c_void_p(self.errors))
        self.lib.CVodeGetErrWeights(mem, ctypes.c_void_p(self.weights))
        get = self.nvec.N_VGetArrayPointer_Serial
        return (
            np.ctypeslib.as_array(get(self.errors), (self.n,)).copy(),
            np.ctypeslib.as_array(get(self.weights), (self.n,)).copy(),
        )

    def report(self, solver: _cvode.CVODESolver, mem: ctypes.c_void_p) -> None:
        e, w = self.read(mem)
        d = int(round(math.sqrt(self.n)))
        Q, s, Rt = np.linalg.svd(solver.y.reshape(d, d))
        E = Q.T @ e.reshape(d, d) @ Rt.T
        k, g = int(np.sum(s > 1.0)), int(np.sum(s > 1.5 * s[20]))
        parts = {
            "LL": E[:k, :k],
            "LG": E[:k, k:g],
            "GL": E[k:g, :k],
            "GG": E[k:g, k:g],
            "LB": E[:k, g:],
            "BL": E[g:, :k],
            "GB": E[k:g, g:],
            "BG": E[g:, k:g],
            "BB": E[g:, g:],
        }
        cells = " ".join(f"{name} {np.linalg.norm(block):.1e}" for name, block in parts.items())
        h = solver.t - (solver.t_old or 0.0)
        print(f"τ {solver.t:.5g} h {h:.3g} WRMS {np.sqrt(np.mean((e * w) ** 2)):.3g} L={k} G={g - k} | {cells}")


def memory_of(solver: _cvode.CVODESolver, lib: ctypes.CDLL) -> ctypes.c_void_p:
    """SUNDIALS' CVODE memory of a riemdln CVODESolver (private layout; verified, module docstring)."""
    inner = solver._solver._CVODE__CVODE  # scikit-sundae's Cython solver object
    mem = ctypes.c_void_p(ctypes.c_void_p.from_address(id(inner) + 24).value)
    t = ctypes.c_double()
    if not mem.value or lib.CVodeGetCurrentTime(mem, ctypes.byref(t)) != 0 or t.value != solver.t:
        raise SystemExit("cvode_options.py: scikit-sundae's layout is not the one this script knows")
    return mem


def run(args: argparse.Namespace) -> None:
    lib = cvode_library()
    original_init, original_step = _cvode.CVODESolver.__init__, _cvode.CVODESolver.step
    solvers: list[tuple[_cvode.CVODESolver, ctypes.c_void_p]] = []
    steps = [0]
    window = [float(v) for v in args.local_errors.split(",")] if args.local_errors else None
    errors: LocalErrors | None = None

    def init(self, *a, **kw):
        original_init(self, *a, **kw)
        mem = memory_of(self, lib)
        if args.fixed_step_bounds:
            lo, hi = (float(v) for v in args.fixed_step_bounds.split(","))
            assert lib.CVodeSetEtaFixedStepBounds(mem, ctypes.c_double(lo), ctypes.c_double(hi)) == 0
        if args.stab_lim_det:
            assert lib.CVodeSetStabLimDet(mem, ctypes.c_int(1)) == 0
        if args.max_order:
            assert lib.CVodeSetMaxOrd(mem, ctypes.c_int(args.max_order)) == 0
        solvers.append((self, mem))

    def step(self):
        nonlocal errors
        steps[0] += 1
        message = original_step(self)
        if window and window[0] < self.t < window[1] and self.y.size == 10_000:
            errors = errors or LocalErrors(self.y.size, lib)
            errors.seen += 1
            if errors.seen % 15 == 0:
                errors.report(self, next(mem for s, mem in solvers if s is self))
        return message

    _cvode.CVODESolver.__init__, _cvode.CVODESolver.step = init, step
    try:
        p, X0 = problem(100, 5, 3500, args.seed)
        w0 = time.perf_counter()
        res = riemdln.end_to_end_flow(
            p, X0, args.depth, 1e9, normalized=True, events=[riemdln.loss_below(1e-8), riemdln.time_budget(600)]
        )
        wall = time.perf_counter() - w0
    finally:
        _cvode.CVODESolver.__init__, _cvode.CVODESolver.step = original_init, original_step
    counts = {name: 0 for name in COUNTERS}
    for _, mem in solvers:
        for name in COUNTERS:
            value = ctypes.c_long()
            if getattr(lib, "CVodeGet" + name)(mem, ctypes.byref(value)) == 0:
                counts[name] += value.value
    print(
        f"| N = {args.depth:g} | {wall:.1f} | {steps[0]} | "
        + " | ".join(str(counts[name]) for name in COUNTERS)
        + f" | {res.status.name} | {res['loss'][-1]:.2e} | {res['test_error'][-1]:.3e} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=float, default=math.inf)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixed-step-bounds", default="", help="LO,HI for CVodeSetEtaFixedStepBounds")
    ap.add_argument("--stab-lim-det", action="store_true")
    ap.add_argument("--max-order", type=int, default=0)
    ap.add_argument("--local-errors", default="", help="LO,HI: print local errors by block for τ in [LO, HI]")
    args = ap.parse_args()
    print(
        "| run | wall s | accepted steps | right-hand sides | error-test failures | Newton failures | "
        "linear iterations | preconditioner setups | status | loss | test error |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    run(args)


if __name__ == "__main__":
    main()
