"""Compile a LaTeX file to PDF with pdflatex (used by ``riemdln reproduce``; no dependency on the CLI)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from riemdln._errors import LatexError

__all__ = ["LatexError", "compile_pdf"]




def compile_pdf(tex: Path, timeout: float = 120.0) -> Path:
    """Compile ``tex`` with pdflatex in a scratch folder; move the PDF beside it (atomically)."""
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexError(
            "pdflatex not found: install TeX Live (Debian: apt-get install texlive-latex-base) or drop --pdf"
        )
    tex = Path(tex)
    with tempfile.TemporaryDirectory() as work:
        for _ in range(2):  # twice, for labels
            proc = subprocess.run(
                [exe, "-interaction=nonstopmode", "-halt-on-error", "-output-directory", work, str(tex)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0:
                log = (proc.stdout or "").strip().splitlines()
                errors = [line for line in log if line.startswith("!")]
                raise LatexError(f"pdflatex failed on {tex}: {errors[0] if errors else 'see its log'}")
        pdf = Path(work) / (tex.stem + ".pdf")
        target = tex.with_suffix(".pdf")
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            shutil.copyfile(pdf, tmp)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target
