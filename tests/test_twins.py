"""riemdln/symbolic/_twins.py (what the numeric layer runs on) is exactly what the catalog generates."""

from __future__ import annotations

from pathlib import Path

import riemdln
from riemdln.symbolic.formulas import twins_module_source


def test_generated_twins_module_is_up_to_date(formulas):
    committed = (Path(riemdln.__file__).parent / "symbolic" / "_twins.py").read_text()
    assert committed == twins_module_source(formulas), (
        "riemdln/symbolic/_twins.py is out of date: run `riemdln derive --write-twins` and commit it"
    )


def test_numeric_layer_does_not_import_sympy():
    import subprocess
    import sys

    code = "import sys, riemdln; riemdln.volume_density([2.0, 1.0], 3); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_split_rotations_and_log_velocities_match_the_unsplit_derived_forms(formulas):
    """The twins the SVD-coordinate flow runs on (split rotations, velocities of log s) against the catalog's
    unsplit derived rotations and velocities of s, at generic points and all three conventions."""
    import numpy as np

    from riemdln.symbolic import _twins

    rng = np.random.default_rng(5)
    si, sj = rng.uniform(0.3, 3.0, 20), rng.uniform(0.3, 3.0, 20)
    gij, gji = rng.standard_normal(20), rng.standard_normal(20)
    for N in (1.0, 2.0, 3.5):
        a = formulas["multiplier"].numpy(si**2, sj**2, N)
        F, H = a / (si - sj), a / (si + sj)
        for split, whole in (("left_rotation_split", "left_rotation"), ("right_rotation_split", "right_rotation")):
            got = getattr(_twins, split)(F, H, gij, gji)
            assert np.allclose(got, formulas[whole].numpy(si, sj, gij, gji, N), rtol=1e-12, atol=0)
        v = formulas["singular_value_velocity"].numpy(si, gij, N)
        assert np.allclose(_twins.log_singular_value_velocity(np.log(si), gij, N), v / si, rtol=1e-13)
        vn = formulas["singular_value_velocity_normalized"].numpy(si, gij, N)
        assert np.allclose(_twins.log_singular_value_velocity_normalized(np.log(si), gij, N), vn / si, rtol=1e-13)
    vi = formulas["singular_value_velocity_infinite"].numpy(si, gij)
    assert np.allclose(_twins.log_singular_value_velocity_infinite(np.log(si), gij), vi / si, rtol=1e-13)
    # and far beyond where s itself under- or overflows, the log form stays finite
    assert np.isfinite(_twins.log_singular_value_velocity_normalized(np.array([-800.0, 800.0]), 1.0, 3.0)).all()
