"""The ``riemdln`` command line.

``riemdln derive [--out DIR] [--no-cache] [--cache DIR] [--pdf] [--write-twins]`` derives every
formula (from the on-disk cache when fresh) and writes ``DIR/formulas.tex`` and
``DIR/formulas.json``; ``--pdf`` also compiles ``DIR/formulas.pdf`` with pdflatex.

Errors of any kind (bad arguments, an unwritable or full disk, a busy ``--out``, an unreachable
scheduler) print one line to stderr and exit with status 2, without a traceback (set
``RIEMDLN_DEBUG=1`` to get one); no temporary file is left behind. An interrupt exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "compile_pdf"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def compile_pdf(tex: Path, timeout: float = 120.0) -> Path:
    """:func:`riemdln.symbolic._latex.compile_pdf`, its errors as one-line CLI errors."""
    from riemdln.symbolic import _latex

    try:
        return _latex.compile_pdf(tex, timeout)
    except _latex.LatexError as exc:
        raise CLIError(str(exc)) from None


def _progress(stream):
    start = time.perf_counter()

    def report(name: str, status: str) -> None:
        print(f"  [{time.perf_counter() - start:6.2f} s] {name}: {status}", file=stream, flush=True)

    return report


def _cmd_derive(args: argparse.Namespace) -> int:
    from riemdln._io import folder_lock
    from riemdln.app.report import check_output_dir

    out = Path(args.out)
    check_output_dir(out, force=True)  # a file, an uncreatable or unwritable path: one-line error
    with folder_lock(out, "--out", wait=2.0):
        return _derive_into(out, args)


def _derive_into(out: Path, args: argparse.Namespace) -> int:
    from riemdln.symbolic import formulas as cat_mod
    from riemdln.symbolic.derivations import DeriveReport, derive

    t0 = time.perf_counter()
    print(f"riemdln derive: deriving into {out}", file=sys.stderr)
    report = DeriveReport()
    results = derive(use_cache=not args.no_cache, cache=args.cache, progress=_progress(sys.stderr), report=report)
    formulas = cat_mod._build(results)
    failed = [f.name for f in formulas.values() if f.check is not None and not f.check.passed]
    tex = cat_mod.write_latex(out / "formulas.tex", formulas)
    js = cat_mod.write_json(out / "formulas.json", formulas)
    written = [tex, js]
    if args.pdf:
        written.append(compile_pdf(tex))
    if args.write_twins:
        from riemdln.symbolic.derivations._fingerprint import write_fingerprints

        written.append(cat_mod.write_twins(formulas=formulas))
        written.append(write_fingerprints(results))
    elapsed = time.perf_counter() - t0
    cached = sum(1 for s in report.status.values() if s == "cached")
    print(
        f"{len(formulas)} formulas from {len(report.status)} derivations ({cached} from cache) in {elapsed:.2f} s; "
        f"certificates: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}",
        file=sys.stderr,
    )
    for path in written:
        print(path)
    return 1 if failed else 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from riemdln.app.report import reproduce

    studies = None
    if args.studies is not None:
        studies = [s.strip() for s in args.studies.split(",") if s.strip()]
        if not studies:
            raise CLIError(f"--studies must name at least one study; got {args.studies!r}")
    reproduce(
        args.out,
        mode="paper" if args.paper else "quick" if args.quick else "full",
        jobs=args.jobs if args.jobs is not None else max(1, min(os.cpu_count() or 1, 4)),
        scheduler=args.scheduler,
        studies=studies,
        force=args.force,
        pdf=False if args.no_pdf else None,
        command_line=["riemdln", *sys.argv[1:]],
    )
    print(Path(args.out) / "report.md")
    print(Path(args.out) / "results.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riemdln", description="Riemannian geometry of the deep linear network.")
    from riemdln import __version__

    parser.add_argument("--version", action="version", version=f"riemdln {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("derive", help="derive the formulas; write formulas.tex and formulas.json")
    d.add_argument("--out", default="riemdln-out", help="output directory (default: riemdln-out)")
    d.add_argument("--no-cache", action="store_true", help="rederive everything (and refresh the cache)")
    d.add_argument("--cache", default=None, help="cache directory (default: $RIEMDLN_CACHE_DIR or ~/.cache/riemdln)")
    d.add_argument("--pdf", action="store_true", help="also compile formulas.pdf with pdflatex")
    d.add_argument(
        "--write-twins",
        action="store_true",
        help="(developers) regenerate the twins (riemdln/symbolic/_twins.py) and the fingerprints",
    )
    d.set_defaults(func=_cmd_derive)
    from riemdln.studies import STUDY_NAMES

    r = sub.add_parser("reproduce", help="derive, run every study, write report.md and results.json")
    r.add_argument("--out", default="riemdln-out", help="output directory (default: riemdln-out)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes and fewer seeds (same studies)")
    mode.add_argument(
        "--paper",
        action="store_true",
        help="the full grids (deep_completion: 100x100, 6 observation counts, 5 seeds, N = 1..8, inf; achl19: "
        "reruns its shipped grid); hours on 2 cores, meant for --scheduler",
    )
    r.add_argument(
        "--jobs", type=int, default=None, help="local worker processes for the sweeps (default: the cores, at most 4)"
    )
    r.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run the sweeps on a Dask scheduler")
    r.add_argument("--studies", default=None, help=f"comma-separated subset of: {', '.join(STUDY_NAMES)}")
    r.add_argument("--force", action="store_true", help="write into a non-empty directory")
    r.add_argument("--no-pdf", action="store_true", help="do not compile formulas.pdf")
    r.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"riemdln {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"riemdln {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every error: one line, exit 2 (RIEMDLN_DEBUG=1 re-raises)
        if os.environ.get("RIEMDLN_DEBUG"):
            raise
        print(f"riemdln {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{exc.strerror}{': ' + str(where) if where else ''}"
    elif isinstance(exc, ValueError | CLIError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
