"""Bit-for-bit identity of the flows across a refactoring (not a timed benchmark).

Runs a fixed set of flows — matrix form, SVD coordinates, ``"auto"`` (matrix → SVD, and matrix → split charts on
a 30×30 completion), depths 1, 2, 3 and inf, raw and normalized, with events, ``t_eval``, dense output, early
stops (max_steps, blowup_norm), factor_flow and factor_descent, and Langevin dynamics (d = 2 and 3, X, Y and
auto coordinates, free energy, N = inf, chunked chains) — and writes every result's ``t``, ``X``,
factors, diagnostics, ``t_events``, ``nfev``/``njev``/``status``/``message``/``stop_event`` (and ``sol`` at a few
times) to an ``.npz``. Run it on two versions of the library and compare:

    cd /tmp && PYTHONPATH=/path/to/old python /path/to/benchmarks/flows_identity.py write old.npz
    cd /tmp && PYTHONPATH=/path/to/new python /path/to/benchmarks/flows_identity.py write new.npz
    python benchmarks/flows_identity.py compare old.npz new.npz      # exit status 1 on any difference

``--quick`` leaves out the 30×30 runs (seconds instead of about a minute).
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np


def _cases(quick: bool):
    from riemdln import CompletionProblem, QuadraticEnergy
    from riemdln.flows import (
        balanced_factors,
        end_to_end_flow,
        factor_descent,
        factor_flow,
        loss_below,
        norm_above,
        svd_flow,
    )

    menon = CompletionProblem.named("menon-2x2")
    razin = CompletionProblem.named("razin-cohen-2x2")
    p3 = CompletionProblem.random(4, 4, 1, 10, seed=3)
    rng = np.random.default_rng(0)
    X3 = 1e-2 * rng.standard_normal((4, 4))
    rect = QuadraticEnergy(rng.standard_normal((5, 1)) @ rng.standard_normal((1, 3)))
    Xr = 1e-2 * rng.standard_normal((5, 3))
    ev = (loss_below(1e-6), norm_above(50.0))
    t_ev = np.linspace(0.0, 20.0, 7)
    cases = {}
    for depth, norm in ((1.0, False), (2.0, False), (3.0, True), (3.0, False), (math.inf, True)):
        tag = f"N{depth:g}{'n' if norm else 'r'}"
        for form in ("matrix", "svd", "auto"):
            if form == "svd" and depth < 2:
                continue
            cases[f"menon_{form}_{tag}"] = lambda d=depth, z=norm, f=form: end_to_end_flow(
                menon, 0.1 * np.eye(2) + 0.01, d, 20.0, z, formulation=f
            )
            cases[f"p4_{form}_{tag}_events"] = lambda d=depth, z=norm, f=form: end_to_end_flow(
                p3, X3, d, 200.0, z, formulation=f, events=ev, t_eval=None
            )
            cases[f"p4_{form}_{tag}_teval_dense"] = lambda d=depth, z=norm, f=form: end_to_end_flow(
                p3, X3, d, 20.0, z, formulation=f, t_eval=t_ev, dense_output=True
            )
        cases[f"rect_svd_{tag}"] = lambda d=depth, z=norm: svd_flow(rect, Xr, max(d, 2.0), 30.0, z)
        cases[f"rect_matrix_{tag}"] = lambda d=depth, z=norm: end_to_end_flow(rect, Xr, d, 30.0, z)
    cases["razin_auto_N2"] = lambda: end_to_end_flow(razin, 1e-3 * np.eye(2), 2, 200.0)
    cases["razin_auto_Ninf"] = lambda: end_to_end_flow(razin, 1e-3 * np.eye(2), math.inf, 200.0, True)
    cases["razin_svd_N3_dop853"] = lambda: svd_flow(razin, 1e-3 * np.eye(2), 3, 50.0, method="DOP853")
    cases["p4_matrix_rk45_maxsteps"] = lambda: end_to_end_flow(p3, X3, 2, 100.0, method="RK45", max_steps=40)
    cases["p4_matrix_blowup"] = lambda: end_to_end_flow(p3, X3 * 100, 2, 100.0, blowup_norm=1.5)
    cases["p4_matrix_bdf_saved"] = lambda: end_to_end_flow(p3, X3, 3, 50.0, method="BDF", max_saved_bytes=20_000)
    for N in (1, 2, 3):
        W0 = balanced_factors(0.1 * np.eye(4) + 0.02 * rng.standard_normal((4, 4)), N)
        cases[f"factor_flow_N{N}"] = lambda W=W0: factor_flow(p3, W, 50.0)
        cases[f"factor_flow_N{N}_n_events"] = lambda W=W0: factor_flow(p3, W, 50.0, True, events=ev, t_eval=t_ev)
        cases[f"descent_N{N}"] = lambda W=W0: factor_descent(p3, W, 0.05, 3000)
        cases[f"descent_N{N}_events"] = lambda W=W0: factor_descent(p3, W, 0.05, 3000, record_every=7, events=ev)
        cases[f"descent_N{N}_diverge"] = lambda W=W0: factor_descent(p3, W, 3.0, 300)
    cases.update(_langevin_cases())
    if not quick:
        p30 = CompletionProblem.random(30, 30, 2, 360, seed=0)
        scale = 30 / np.linalg.norm(p30.ground_truth)
        p30 = CompletionProblem((30, 30), p30.mask, p30.target * scale, ground_truth=p30.ground_truth * scale)
        X30 = 1e-5 * np.random.default_rng(1).standard_normal((30, 30)) / np.sqrt(30)
        kw = dict(normalized=True, t_eval=np.array([2.0, 20.0, 40.0]), rtol=1e-9, atol=1e-12)
        cases["d30_auto_split_N3"] = lambda: end_to_end_flow(p30, X30, 3.0, 40.0, **kw)
        cases["d30_auto_split_N2_raw"] = lambda: end_to_end_flow(p30, X30, 2.0, 20.0, rtol=1e-8)
        cases["d30_auto_split_Ninf"] = lambda: end_to_end_flow(p30, 300 * X30, math.inf, 30.0, True, events=ev)
        cases["d30_matrix_N3"] = lambda: end_to_end_flow(p30, X30, 3.0, 10.0, True, formulation="matrix")
    return cases


def _langevin_cases():
    from riemdln import QuadraticEnergy, langevin

    E2 = QuadraticEnergy(np.diag([2.0, 1.0]))
    E3 = QuadraticEnergy(np.diag([3.0, 1.0, 0.5]))
    X3 = np.eye(3) + 0.1 * np.arange(9.0).reshape(3, 3) / 9
    return {
        "langevin_d2_N3": lambda: langevin(E2, np.eye(2), 3, 50.0, 1.0, 1e-3, n_chains=20, seed=1),
        "langevin_d2_N2_free": lambda: langevin(E2, np.eye(2), 2, 5.0, 1.0, 1e-2, True, True, 8, seed=2),
        "langevin_d3_N3_Y": lambda: langevin(E3, X3, 3, 20.0, 0.5, 1e-3, n_chains=5, seed=3, coordinates="Y"),
        "langevin_d3_Ninf": lambda: langevin(E3, X3, math.inf, 20.0, 0.5, 1e-3, True, n_chains=4, seed=4),
        "langevin_d3_N300": lambda: langevin(E3, X3, 300, 20.0, 0.2, 1e-3, True, n_chains=3, seed=5),
        "langevin_d3_noito": lambda: langevin(E3, X3, 3, 20.0, 0.2, 1e-3, n_chains=3, seed=6, _ito=False),
        "langevin_d3_chunks": lambda: langevin(E3, X3, 2, 10.0, 0.05, 1e-3, n_chains=600, seed=7, save_every=7),
        "langevin_d2_X": lambda: langevin(E2, np.eye(2), 4, 8.0, 0.3, 1e-3, n_chains=6, seed=8, coordinates="X"),
    }


def _record(name: str, res) -> dict:
    out = {
        f"{name}/t": res.t,
        f"{name}/X": res.X,
        f"{name}/status": np.array(res.status.name),
        f"{name}/message": np.array(res.message),
    }
    for key in ("nfev", "njev", "stop_event", "formulation", "coordinates", "n_steps", "dt"):
        if hasattr(res, key):
            out[f"{name}/{key}"] = np.array(str(getattr(res, key)) if key == "stop_event" else getattr(res, key))
    for key, val in res.diagnostics.items():
        out[f"{name}/diag/{key}"] = np.asarray(val)
    for key, val in getattr(res, "t_events", {}).items():
        out[f"{name}/event/{key}"] = np.asarray(val)
    for p, f in enumerate(getattr(res, "factors", None) or ()):
        out[f"{name}/factor{p}"] = f
    if getattr(res, "sol", None) is not None:
        out[f"{name}/sol"] = np.array([res.sol(tt) for tt in np.linspace(res.t[0], res.t[-1], 5)])
    return out


def write(path: str, quick: bool) -> None:
    data = {}
    for name, fn in _cases(quick).items():
        data.update(_record(name, fn()))
        print(name, data[f"{name}/status"], len(data[f"{name}/t"]), data.get(f"{name}/nfev", ""), flush=True)
    np.savez(path, **data)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare(old: str, new: str) -> int:
    a, b = np.load(old), np.load(new)
    keys_a, keys_b = set(a.files), set(b.files)
    bad = sorted(keys_a ^ keys_b)
    for key in sorted(keys_a & keys_b):
        if not _same(a[key], b[key]):
            bad.append(key)
    runs = {k.split("/")[0] for k in keys_a}
    print(f"{len(runs)} runs, {len(keys_a & keys_b)} arrays compared: {len(bad)} differ (bit for bit)")
    for key in bad:
        print("  differs:", key)
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("path")
    w.add_argument("--quick", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("old")
    c.add_argument("new")
    args = parser.parse_args()
    if args.cmd == "write":
        write(args.path, args.quick)
        return 0
    return compare(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main())
