"""riemdln/_twins.py (what the numeric layer runs on) is exactly what the catalog generates."""

from __future__ import annotations

from pathlib import Path

import riemdln
from riemdln.formulas import twins_module_source


def test_generated_twins_module_is_up_to_date(formulas):
    committed = Path(riemdln.__file__).with_name("_twins.py").read_text()
    assert committed == twins_module_source(formulas), (
        "riemdln/_twins.py is out of date: run `riemdln derive --write-twins` and commit it"
    )


def test_numeric_layer_does_not_import_sympy():
    import subprocess
    import sys

    code = "import sys, riemdln; riemdln.volume_density([2.0, 1.0], 3); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
