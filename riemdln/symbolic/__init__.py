"""The symbolic layer: SymPy special functions, derivations, the formula catalog and what is generated from it.

- :mod:`riemdln.symbolic.functions` — the special functions :math:`\\operatorname{sinhc}`, the logarithmic mean
  and the multiplier :math:`a_N` as SymPy functions (evaluation, derivatives, rewrites);
- :mod:`riemdln.symbolic.kernels` — their stable numpy evaluations, which the generated twins call;
- :mod:`riemdln.symbolic.derivations` — one module per derived result, run and cached by a dependency graph;
- :mod:`riemdln.symbolic.formulas` — the catalog of derived formulas, their numeric twins (generated into
  ``riemdln/symbolic/_twins.py``) and the LaTeX/JSON writers.

Importing this package loads nothing: the numeric layers import only :mod:`~riemdln.symbolic.kernels` and the
generated twins, never SymPy.
"""
