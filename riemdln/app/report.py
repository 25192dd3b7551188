"""``riemdln reproduce``: derivations, theory-vs-simulation studies and the volume-bias study in one report.

:func:`reproduce` writes into ``out``:

* ``formulas.tex`` (and ``formulas.pdf`` where pdflatex exists), ``formulas.json``;
* ``report.md`` — a summary table of every study's claims (kind, measured, expected, verdict), the solver
  health of each study, then each study's tables and figures (PNG, matplotlib); the formulas are in
  ``formulas.pdf``/``.tex``, with an index here;
* ``report.html`` — the same for a browser with no network: figures embedded (base64), mathematics as
  MathML, verdicts as coloured words;
* ``results.json`` — every number in the report, with the parameters and seeds, package versions,
  timings and the command line; ``summary`` (the claims, one object per row) and ``solver_health``;
* ``.riemdln-state/<study>.json`` — each finished study, so that an interrupted run resumes. Each
  carries a key (the study's parameters and a hash of the riemdln source code) and a checksum of its
  content; a state file whose key or checksum does not match (edited, damaged, from another version)
  is not trusted: the study is rerun, with a warning.

``out`` is locked (an operating-system lock on ``out/.riemdln.lock``) for the duration of the run: a
second run on the same ``out`` is refused with the holder's pid; a killed run's lock goes with it.

Every file is written to a temporary name and renamed, so nothing half-written ever looks complete.
A rerun with the same arguments reproduces ``results.json`` exactly, timings aside: every study is a
pure function of its parameters (seeds included) and the sweep runner returns results in task order.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from riemdln._io import atomic_write, folder_lock
from riemdln._validation import RiemdlnValueError, check_integer, short
from riemdln.studies import REQUIRES, STUDY_NAMES, study
from riemdln.studies._params import OVERRIDE_SCALE_CAP as OVERRIDE_SCALE_CAP  # re-exported
from riemdln.studies._params import StudyParams, apply_overrides
from riemdln.studies.sweep import MissingExtraError, check_scheduler_address, dask_executor, local_executor, probe_dask

__all__ = ["reproduce", "STUDY_NAMES", "check_output_dir"]

STATE = ".riemdln-state"
OUT_LOCK_WAIT = 2.0  # seconds a second run on one --out waits before refusing
OUTPUTS = ("report.md", "report.html", "results.json", "formulas.tex", "formulas.json", "formulas.pdf")


def _versions() -> dict:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("riemdln", "numpy", "scipy", "sympy", "mpmath", "networkx", "matplotlib"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def check_output_dir(out: Path, force: bool, resume_ok: bool = True) -> None:
    """``out`` must be creatable and writable, and empty unless it is our own (resumable) or ``force``."""
    if out.exists() and not out.is_dir():
        raise RiemdlnValueError(f"`--out` must be a directory; {out} is a file.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RiemdlnValueError(f"`--out` {out} cannot be created ({exc.strerror}); choose another path.") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RiemdlnValueError(f"`--out` {out} is not writable; choose another path.")
    entries = [p.name for p in out.iterdir()]
    ours = set(OUTPUTS) | {STATE}
    foreign = [e for e in entries if e not in ours and not e.endswith(".png") and not e.startswith(".")]
    if entries and not force and (foreign or not resume_ok):
        raise RiemdlnValueError(
            f"`--out` {out} is not empty ({', '.join(sorted(entries)[:3])}{', …' if len(entries) > 3 else ''}); "
            "pass --force to write into it, or choose an empty directory."
        )


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtraError(
            '`riemdln reproduce` draws figures with matplotlib: pip install "riemdln[report]"'
        ) from None


_CODE_VERSION: str | None = None


def code_version() -> str:
    """sha256 of riemdln's version and of every source file of the package (computed once)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        import riemdln

        h = hashlib.sha256(str(getattr(riemdln, "__version__", "")).encode())
        root = Path(riemdln.__file__).parent
        for f in sorted(root.rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()
    return _CODE_VERSION


def _state_key(name: str, params: dict) -> str:
    doc = {"study": name, "params": params, "code": code_version()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _state_checksum(doc: dict) -> str:
    body = {k: doc.get(k) for k in ("key", "results", "seconds")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _load_state(path: Path, key: str) -> tuple[dict | None, str]:
    """(state, "") when ``path`` is sound for ``key``; else (None, why) — "" when there is none."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError):
        return None, "unreadable"
    if not isinstance(doc, dict) or "results" not in doc:
        return None, "malformed"
    if doc.get("key") != key:
        return None, "written for other parameters or another riemdln version"
    if doc.get("sha256") != _state_checksum(doc):
        return None, "checksum mismatch (edited or damaged)"
    return doc, ""


MODES = ("quick", "full", "paper")


def _mode_flags(mode: str | None, quick: bool, paper: bool) -> tuple[bool, bool]:
    """``reproduce``'s ``mode`` as the (quick, paper) flags its body reads; the flags themselves are deprecated."""
    if mode is None:
        if quick is True or paper is True:
            warnings.warn(
                'reproduce(quick=True) and reproduce(paper=True) are deprecated; use mode="quick" or mode="paper".',
                DeprecationWarning,
                stacklevel=3,
            )
        return quick, paper
    if not isinstance(mode, str) or mode not in MODES:
        raise RiemdlnValueError(f"`mode` must be one of {', '.join(map(repr, MODES))}; got {short(mode)}.")
    if quick is not False or paper is not False:
        raise RiemdlnValueError("`mode` replaces the deprecated `quick` and `paper` flags; give `mode` only.")
    return mode == "quick", mode == "paper"


def reproduce(
    out: str | os.PathLike = "riemdln-out",
    *,
    mode: str | None = None,
    quick: bool = False,
    paper: bool = False,
    overrides: Mapping[str, Mapping] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    studies: Sequence[str] | None = None,
    force: bool = False,
    pdf: bool | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    command_line: Sequence[str] | None = None,
) -> dict:
    """Run the derivations and the studies; write ``report.md``, ``results.json`` and the formulas.

    Parameters
    ----------
    out : path
        Output directory (created; must be empty, hold an earlier run's files, or ``force``).
    mode : {"full", "quick", "paper"}, optional
        ``"full"`` (the default): every study at its full size. ``"quick"``: smaller sizes and fewer seeds,
        same studies. ``"paper"``: the full grids of the studies that define ``paper_parameters()``
        (deep_completion: 100×100 rank 5, six observation counts, five seeds, N = 1, 2, 3, 4, 6, 8, ∞); the
        other studies run at their full size. Hours on 2 cores: meant for ``scheduler``.
    quick, paper : bool
        Deprecated spellings of ``mode="quick"`` and ``mode="paper"`` (a :class:`DeprecationWarning`); not
        together, and not with ``mode``.
    overrides : mapping, optional
        ``{study: {parameter: value}}`` replacing parameters of the chosen mode (for instance a toy-size
        paper grid); only parameters the study has may be overridden. Recorded in ``results.json``.
    jobs : int
        Local worker processes for the sweeps (1: inline). They are started with "spawn" (see
        :func:`riemdln.studies.sweep.local_executor`), so a script that calls this with ``jobs > 1`` must do so
        under ``if __name__ == "__main__":``.
    scheduler : str, optional
        Address of a Dask distributed scheduler; the sweeps then run on its workers.
    studies : sequence of str, optional
        A subset of :data:`STUDY_NAMES` (what they need is run too).
    force : bool
        Write into a non-empty directory that is not an earlier run's.
    pdf : bool, optional
        Compile ``formulas.pdf`` (default: when pdflatex is installed).

    Returns
    -------
    dict
        The content of ``results.json``.

    See Also
    --------
    riemdln.derive : the derivations alone (``riemdln derive``).
    riemdln.studies : the studies and their typed parameters.

    Examples
    --------
    A quick run takes minutes on two cores (hence the skip); the studies it can run are named in
    ``STUDY_NAMES``:

    >>> from riemdln.studies import STUDY_NAMES
    >>> "depth_convergence" in STUDY_NAMES
    True
    >>> import riemdln
    >>> results = riemdln.reproduce("riemdln-out", mode="quick", studies=["depth_convergence"])  # doctest: +SKIP
    """
    quick, paper = _mode_flags(mode, quick, paper)  # the flags are checked as bools below
    if not isinstance(out, str | os.PathLike) or not str(os.fspath(out)).strip():
        raise RiemdlnValueError(f"`out` must be a directory path (str or os.PathLike); got {short(out)}.")
    for flag, value in (("quick", quick), ("paper", paper), ("force", force)):
        if not isinstance(value, bool):
            raise RiemdlnValueError(f"`{flag}` must be True or False; got {short(value)}.")
    for flag, value in (("pdf", pdf), ("progress", progress)):
        if value is not None and not isinstance(value, bool):
            raise RiemdlnValueError(f"`{flag}` must be None (automatic), True or False; got {short(value)}.")
    if log is not None and not callable(log):
        raise RiemdlnValueError(f"`log` must be None or a callable log(message); got {short(log)}.")
    if command_line is not None:
        words = [] if isinstance(command_line, str) else _iterable(command_line)
        if not words and command_line or not all(isinstance(a, str) for a in words):
            raise RiemdlnValueError(f"`command_line` must be None or a sequence of str; got {short(command_line)}.")
        command_line = words
    if studies is not None and not isinstance(studies, str):
        items = _iterable(studies)  # a generator is read once, here
        if not all(isinstance(s, str) for s in items):
            raise RiemdlnValueError(f"`studies` must be a study name or a sequence of them; got {short(studies)}.")
        studies = items
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if isinstance(studies, str):
        studies = [studies]
    wanted = list(STUDY_NAMES if studies is None else studies)
    unknown = [s for s in wanted if s not in STUDY_NAMES]
    if unknown:
        raise RiemdlnValueError(
            f"`studies` must be among {', '.join(STUDY_NAMES)}; got the unknown study {unknown[0]!r}."
        )
    if not wanted:
        raise RiemdlnValueError(f"`studies` must name at least one study among {', '.join(STUDY_NAMES)}; got none.")
    jobs = check_integer(jobs, "jobs", low=1)  # numpy integers too, never a bool
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler)
        probe_dask(scheduler)  # before any work: a service that is not Dask is refused within seconds
    if quick and paper:
        raise RiemdlnValueError("`quick` and `paper` exclude each other; choose one mode.")
    overrides = _check_overrides(overrides, quick, paper)
    for name in list(wanted):
        for req in REQUIRES.get(name, ()):
            if req not in wanted:
                wanted.insert(wanted.index(name), req)
    order = [s for s in STUDY_NAMES if s in wanted]
    _require_matplotlib()
    out = Path(out)
    check_output_dir(out, force)
    with folder_lock(out, "out", wait=OUT_LOCK_WAIT):
        _remove_stale_temporaries(out)
        mode = "paper" if paper else "quick" if quick else "full"
        run = _Reproduction(out, mode, overrides, jobs, scheduler, order, pdf, progress, log, command_line)
        return _reproduce(run)


# what riemdln's atomic writes leave behind when killed mid-write: ".{name}.{8 random chars}.tmp" (atomic_write)
# and ".{name}.png.{8 random chars}.png" (a study figure)
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.(tmp|png)$")


def _remove_stale_temporaries(out: Path) -> None:
    """Remove the hidden temporaries of a killed earlier run in ``out`` (its lock is held: no writer is live)."""
    for folder in (out, *[p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]):
        for entry in folder.iterdir():
            if entry.is_file() and _TEMPORARY.match(entry.name):
                entry.unlink(missing_ok=True)


def study_record(name: str, mode: str = "full", overrides: Mapping | None = None) -> StudyParams:
    """The typed parameter record study ``name`` runs with in ``mode`` (``"quick"``, ``"full"`` or ``"paper"``).

    ``overrides`` (``{field: value}``, nested mappings for nested records, merged key by key) are applied with
    :func:`dataclasses.replace` after each value is checked against its field's declared type, range and size
    (:func:`riemdln.studies._params.apply_overrides`); a refusal names the path, e.g.
    ```overrides.depth_convergence.small_init.depths```.

    >>> study_record("depth_convergence", "full", {"small_init": {"depths": [4]}}).small_init.depths
    (4.0,)
    """
    if mode not in ("quick", "full", "paper"):
        raise RiemdlnValueError(f"`mode` must be 'quick', 'full' or 'paper'; got {mode!r}.")
    cls = study(name).PARAMS
    record = cls.for_mode(mode)
    if overrides is None:
        return record
    modes = [cls.quick(), cls.full(), cls.paper()]
    return apply_overrides(record, _plain(overrides), f"overrides.{name}", modes=modes)


def study_parameters(name: str, mode: str = "full", overrides: Mapping | None = None) -> dict:
    """The parameters study ``name`` runs with in ``mode``, in their JSON form (see :func:`study_record`):
    what ``results.json`` records and the study's ``run`` reads.

    >>> study_parameters("deep_completion", "paper")["depths"]
    [1, 2, 3, 4, 6, 8, 'inf']
    """
    return study_record(name, mode, overrides).to_json()


def _plain(value):
    """numpy scalars and arrays as the Python numbers and lists they hold (overrides are JSON values)."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _check_overrides(overrides, quick: bool, paper: bool) -> dict:
    """``overrides`` as ``{study: dict}``, JSON-serializable, each value checked against the study's declared
    parameter record (:func:`study_record`) before any work."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise RiemdlnValueError(f"`overrides` must be a mapping {{study: {{parameter: value}}}}; got {overrides!r}.")
    mode = "paper" if paper else "quick" if quick else "full"
    out = {}
    for name, params in overrides.items():
        if name not in STUDY_NAMES:
            raise RiemdlnValueError(f"`overrides` names the unknown study {name!r}.")
        if not isinstance(params, Mapping):
            raise RiemdlnValueError(f"`overrides.{name}` must be a mapping of parameters; got {short(params)}.")
        params = _plain(params)
        try:
            json.dumps(dict(params), allow_nan=False)
        except (TypeError, ValueError):
            raise RiemdlnValueError(
                f"`overrides.{name}` must hold finite JSON values (numbers, strings, lists, mappings)."
            ) from None
        study_record(name, mode, params)  # every value checked by its field's type, range and size
        out[name] = dict(params)
    return out


def _iterable(value) -> list:
    """``list(value)``, or ``[None]`` (which no check accepts) when ``value`` is not iterable."""
    try:
        return list(value)
    except TypeError:
        return [None]


@dataclass(frozen=True, slots=True, eq=False)
class _Reproduction:
    """A checked :func:`reproduce` call: the output folder, the mode and overrides, the executor (``jobs`` local
    processes or a Dask ``scheduler``), the studies in running ``order``, ``pdf`` (None: if pdflatex is
    found), ``progress``, ``log`` (a print-like callable) and the command line recorded in results.json."""

    out: Path
    mode: str
    overrides: Mapping
    jobs: int
    scheduler: str | None
    order: list[str]
    pdf: bool | None
    progress: bool | None
    log: Callable[[str], object]
    command_line: Sequence[str] | None


def _reproduce(run: _Reproduction) -> dict:
    """Formulas, then the studies (run or resumed), then report.md/.html and results.json (:func:`reproduce`)."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cat, pdf = _write_formulas(run)
    timings["formulas"] = time.perf_counter() - t0
    results, params_all, resumed = _run_studies(run, timings)
    # figures and report
    t0 = time.perf_counter()
    report_md = render_report(cat, run.order, results, run.out, quick=run.mode == "quick", pdf=pdf, mode=run.mode)
    atomic_write(run.out / "report.md", report_md)
    html = render_html(report_md, run.out)
    if html is not None:
        atomic_write(run.out / "report.html", html)
    else:
        run.log('  report.html skipped: pip install "riemdln[report]" (markdown-it-py) to write it')
    timings["report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    doc = {
        "riemdln_results": 1,
        "mode": run.mode,
        "command_line": list(run.command_line) if run.command_line is not None else sys.argv,
        "versions": _versions(),
        "parameters": params_all,
        "studies": results,
        "summary": summary_rows(run.order, results),
        "solver_health": solver_health(run.order, results),
        "formulas": {f.name: f.as_dict() for f in cat.values()},
        "run": {"timings_seconds": timings, "resumed": resumed},  # differs between runs; the rest does not
    }
    atomic_write(run.out / "results.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    run.log(
        f"riemdln reproduce: wrote {run.out / 'report.md'} and {run.out / 'results.json'} in {timings['total']:.1f} s"
    )
    return doc


def _write_formulas(run: _Reproduction) -> tuple[dict, bool]:
    """formulas.tex/.json from the derivation cache when fresh (and the PDF); the catalog and whether PDFs are
    written."""
    from riemdln.symbolic import formulas as formula_mod
    from riemdln.symbolic.derivations import derive

    run.log("riemdln reproduce: formulas")
    cat = formula_mod._build(derive())
    formula_mod.write_latex(run.out / "formulas.tex", cat)
    formula_mod.write_json(run.out / "formulas.json", cat)
    pdf = shutil.which("pdflatex") is not None if run.pdf is None else run.pdf
    if pdf:
        from riemdln.symbolic._latex import compile_pdf

        compile_pdf(run.out / "formulas.tex")
    return cat, pdf


def _run_studies(run: _Reproduction, timings: dict[str, float]) -> tuple[dict, dict, list[str]]:
    """Run (or resume from the state folder) each study on the chosen executor; their results, parameters and
    the names resumed (``timings`` gets each study's seconds)."""
    state = run.out / STATE
    results: dict[str, dict] = {}
    params_all: dict[str, dict] = {}
    resumed: list[str] = []
    executor_cm = dask_executor(run.scheduler) if run.scheduler else local_executor(run.jobs)
    with executor_cm as executor:
        for name in run.order:
            mod = study(name)
            params = study_parameters(name, run.mode, run.overrides.get(name))
            params_all[name] = params
            key = _state_key(name, params)
            path = state / f"{name}.json"
            cached, why = _load_state(path, key)
            if why:
                run.log(f"  warning: {path} not trusted ({why}); rerunning {name}")
            if cached is not None:
                results[name] = cached["results"]
                timings[name] = cached.get("seconds", 0.0)
                resumed.append(name)
                run.log(f"  {name}: resumed from {path}")
                continue
            run.log(f"  {name}: {mod.TITLE}")
            t0 = time.perf_counter()
            res = mod.run(params, executor=executor, progress=run.progress, previous=results)
            res = json.loads(json.dumps(res))  # JSON-normal form: what a resumed run reads back
            seconds = time.perf_counter() - t0
            entry = {"key": key, "results": res, "seconds": seconds}
            entry["sha256"] = _state_checksum(entry)
            atomic_write(path, json.dumps(entry, sort_keys=True))
            results[name] = res
            timings[name] = seconds
    return results, params_all, resumed


# ---------------------------------------------------------------------------------------------------
# rendering: report.md and report.html


def _cell(text) -> str:
    """A Markdown table cell: ``|`` escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _anchor(title: str) -> str:
    """The GitHub/markdown-it style anchor of a heading (lower case, punctuation dropped, spaces → -)."""
    keep = [c for c in title.lower() if c.isalnum() or c in " -_"]
    return "".join(keep).strip().replace(" ", "-")


def summary_rows(order: Sequence[str], results: dict) -> list[dict]:
    """Every study's summary rows, as results.json's ``summary`` list holds them (see
    :func:`riemdln.studies.study_claims`: a module's ``claims()``, else its legacy ``summary()``)."""
    from riemdln.studies import study_claims

    return [row for name in order for row in study_claims(name, results[name])]


def _kind_cell(row: dict) -> str:
    n = row.get("n")
    if row["kind"] == "observed" and n is not None:
        return "observed (single instance)" if n == 1 else f"observed (n = {n})"
    return row["kind"]


def summary_table(order: Sequence[str], results: dict, rows: list[dict] | None = None) -> str:
    """The report's opening table: one row per claim, with its kind, what was measured and expected, the verdict."""
    rows = summary_rows(order, results) if rows is None else rows
    number = {name: k for k, name in enumerate(order, start=1)}
    lines = [
        "| study | claim | kind | measured | expected (theory / literature) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        name = row["study"]
        mod = study(name)
        expected = row["expected"] + (f" ({row['reference']})" if row.get("reference") else "")
        lines.append(
            f"| [{number[name]}. {_cell(name)}](#{number[name]}-{_anchor(mod.TITLE)}) | {_cell(row['claim'])} | "
            f"{_cell(_kind_cell(row))} | {_cell(row['measured'])} | {_cell(expected)} | {_cell(row['verdict'])} |"
        )
    return "\n".join(lines)


#: solver health categories, in the order of the table's columns
HEALTH = ("reached target", "stopped short", "inaccurate", "failed", "diverged")


def health_counts(recs: list[dict]) -> dict[str, int]:
    """How many of ``recs`` (run records) reached their target, stopped short of it, or ended INACCURATE,
    FAILED or DIVERGED (each record in exactly one category)."""
    out = dict.fromkeys(HEALTH, 0)
    for r in recs:
        if r["reached_target"]:
            out["reached target"] += 1
        elif r["status"] in ("INACCURATE", "FAILED", "DIVERGED"):
            out[r["status"].lower()] += 1
        else:
            out["stopped short"] += 1
    return out


def solver_health(order: Sequence[str], results: dict) -> list[dict]:
    """Per study: the counts of :func:`health_counts` over its run records (studies without runs left out;
    a study whose records are evaluations of closed forms or operators, ``RECORDS = "evaluations"``, says so)."""
    from riemdln.studies import records

    out = []
    for name in order:
        mod = study(name)
        recs = records(mod, results[name])
        if recs:
            out.append(
                {"study": name, "records": getattr(mod, "RECORDS", "runs"), "total": len(recs)} | health_counts(recs)
            )
    return out


def health_table(order: Sequence[str], results: dict) -> str:
    """Solver health, one row per study: not a claim about the mathematics, a statement about the solvers."""
    rows = solver_health(order, results)
    lines = [
        "| study | simulator runs | " + " | ".join(HEALTH) + " |",
        "|---|---|" + "---|" * len(HEALTH),
    ]
    notes = []
    for h in rows:
        if h["records"] != "runs":
            noun = h["records"] if h["total"] != 1 else h["records"].removesuffix("s")
            notes.append(f"{h['study']}: {h['total']} {noun} (no solver)")
            continue
        lines.append(f"| {h['study']} | {h['total']} | " + " | ".join(str(h[k]) for k in HEALTH) + " |")
    text = (
        "Solver health (not claims: whether each simulator reached what it was asked for, a loss or a time; "
        "*stopped short*: ended normally before its loss target, e.g. at its time or step limit):\n\n"
        + "\n".join(lines)
    )
    if notes:
        text += "\n\nNot simulator runs: " + "; ".join(notes) + "."
    return text


def formula_index(cat: Mapping, pdf: bool) -> str:
    """A short index of the catalog: names and conventions; the formulas themselves are in the PDF."""
    link = "[formulas.pdf](formulas.pdf) ([LaTeX](formulas.tex))" if pdf else "[formulas.tex](formulas.tex)"
    passed = all(f.check is None or f.check.passed for f in cat.values())
    by_conv: dict[str, list[str]] = {}
    for f in cat.values():
        by_conv.setdefault(str(f.convention), []).append(f"`{f.name}`")
    lines = [
        f"{len(cat)} formulas, typeset in {link}, machine-readable in [formulas.json](formulas.json); every "
        "certificate " + ("passed." if passed else "**did NOT pass**.") + " Index by convention:",
        "",
    ]
    # a formula without a convention (a constant, e.g. the volume of O(d)) is listed as such, not as "-"
    lines += [
        f"- {_cell(conv) if conv != '-' else 'no convention (constants)'}: {', '.join(names)}"
        for conv, names in by_conv.items()
    ]
    return "\n".join(lines)


_MODE_TEXT = {"quick": "quick (smaller sizes, fewer seeds)", "full": "full", "paper": "paper (the full grids)"}


def render_report(
    cat: Mapping, order: Sequence[str], results: dict, out: Path, *, quick: bool, pdf: bool, mode: str | None = None
) -> str:
    """report.md: summary table of claims, solver health, formula index, then one section per study (figures
    written); references "docs/theory.md §N" become links (:func:`link_theory`)."""
    mode = mode or ("quick" if quick else "full")
    sections = [
        "# riemdln reproduce",
        "",
        f"Mode: {_MODE_TEXT[mode]}. Every number below is in "
        "[results.json](results.json) with its parameters and seeds.",
        "",
        "## Summary",
        "",
        "Kinds: *theorem* (proved; the reference says where), *derived* (computed by SymPy from the "
        "definition), *certified* (generalized by hand and checked numerically), *observed* (measured; n is the "
        "number of independent runs, seeds or instances behind it), *conjecture* (attributed to its author). "
        "Verdicts (*supported*, *contradicted*, *cannot tell*, *not tested*) are computed from the numbers of this "
        "run.",
        "",
        summary_table(order, results),
        "",
        health_table(order, results),
        "",
        "## Formulas",
        "",
        formula_index(cat, pdf),
    ]
    for k, name in enumerate(order, start=1):
        mod = study(name)
        figs = mod.figures(results[name], out)
        sections += ["", f"## {k}. {mod.TITLE}", "", mod.markdown(results[name], figs)]
    return link_theory("\n".join(sections) + "\n", out)


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>riemdln reproduce</title>
<style>
body {{ font-family: Georgia, "DejaVu Serif", serif; max-width: 62em; margin: 2em auto; padding: 0 1em;
  line-height: 1.45; color: #1b1b1b; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.5em; vertical-align: top; }}
th {{ background: #f0f0f0; }}
img {{ max-width: 100%; width: 34em; display: block; margin: 0.5em 0; }}
code {{ font-size: 0.9em; }}
math {{ font-size: 1.05em; }}
.verdict {{ font-weight: bold; white-space: nowrap; }}
.v-supported {{ color: #1a7f37; }}
.v-contradicted {{ color: #c62828; }}
.v-cannot-tell {{ color: #9a6700; }}
.v-not-tested {{ color: #6e7781; }}
</style></head><body>
{body}
</body></html>
"""

_VERDICT_CELL = re.compile(r"<td>(supported|contradicted|cannot tell|not tested)</td>")


def render_html(markdown_text: str, out: Path) -> str | None:
    """report.html from report.md (markdown-it-py, tables on), for a browser with no network.

    PNG figures are embedded as base64; the mathematics of the text becomes MathML (:mod:`riemdln.app._mathml`,
    rendered natively by the browser, no script or font download); the verdicts of the summary table are
    coloured words (class ``verdict v-<verdict>``), not emoji. Returns ``None`` when markdown-it-py is not
    installed (the ``report`` extra installs it).
    """
    import base64

    from riemdln.app._mathml import html_math

    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(markdown_text)

    def embed(match: re.Match) -> str:
        src = match.group(1)
        path = Path(out) / src
        if not src.endswith(".png") or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+)"', embed, body)

    def heading_id(match: re.Match) -> str:
        text = re.sub(r"<[^>]+>", "", match.group(2))
        return f'<h{match.group(1)} id="{_anchor(text)}">{match.group(2)}</h{match.group(1)}>'

    body = re.sub(r"<h([1-6])>(.*?)</h\1>", heading_id, body)  # ids from the text, before the MathML
    body = _VERDICT_CELL.sub(
        lambda m: f'<td><span class="verdict v-{m.group(1).replace(" ", "-")}">{m.group(1)}</span></td>', body
    )
    return _HTML_HEAD.format(body=html_math(body))


def _theory_path() -> Path | None:
    """docs/theory.md of the source tree riemdln runs from (``None`` for an installed package without it)."""
    import riemdln

    path = Path(riemdln.__file__).resolve().parent.parent / "docs" / "theory.md"
    return path if path.is_file() else None


def _theory_anchors(path: Path) -> dict[str, str]:
    """``{"9": "9-matrix-completion-problems-in-the-literature", ...}``: section numbers to heading anchors."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{2,3}\s+(\d+)\.\s", line)
        if m:
            out[m.group(1)] = _anchor(line.lstrip("#").strip())
    return out


def link_theory(text: str, out: Path) -> str:
    """``docs/theory.md §9`` (and a following ``, §12``) in ``text`` as Markdown links into docs/theory.md,
    relative to ``out``; unchanged where the docs are not there."""
    path = _theory_path()
    if path is None:
        return text
    anchors = _theory_anchors(path)
    rel = os.path.relpath(path, Path(out).resolve())

    def target(num: str) -> str:
        return f"{rel}#{anchors[num]}" if num in anchors else rel

    def one(m: re.Match) -> str:
        first = f"[docs/theory.md §{m.group(1)}]({target(m.group(1))})"
        more = "".join(f", [§{n}]({target(n)})" for n in re.findall(r"§(\d+)", m.group(2) or ""))
        return first + more

    return re.sub(r"docs/theory\.md §(\d+)((?:, §\d+)*)", one, text)
