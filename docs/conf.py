"""Sphinx configuration for the riemdln documentation.

Build (from the repository root): ``pip install ".[docs]" && python -m sphinx -W -b html docs docs/_build/html``.
The derivation pages (``derivations/``) and the notebooks (``notebooks/``) are jupytext percent files; they
are copied next to this file at build time and executed by myst-nb, so the site shows their outputs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import riemdln  # noqa: E402

for folder in ("derivations", "notebooks"):  # jupytext sources live at the top level of the repository
    target = HERE / "_pages" / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for page in sorted((ROOT / folder).glob("[0-9]*.py")):
        shutil.copy(page, target / page.name)

project = "riemdln"
author = "the riemdln developers"
copyright = "2026, the riemdln developers"  # noqa: A001
release = version = riemdln.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: the mathematics renders without a network
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
exclude_patterns = ["_build", "conf.py", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # the theory page's section numbers are its own headings

nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True

autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "description"
# show the aliases the signatures are written with, not their expansions (ArrayLike is a long Union)
autodoc_type_aliases = {"ArrayLike": "ArrayLike", "NDArray": "NDArray", "Callable": "Callable"}
napoleon_preprocess_types = True
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"riemdln {release}"
html_theme_options = {"navigation_with_keys": True}


def setup(app):
    # MathJax on every page, not only on pages with mathematics of their own: the navigation shows the
    # derivation pages' titles, whose mathematics would otherwise stay raw \( ... \) on the other pages
    app.set_html_assets_policy("always")
