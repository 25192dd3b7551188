"""Thermodynamics of the metric: Riemannian Langevin dynamics, Gibbs sampling and Gibbs expectations.

:mod:`riemdln.thermo.langevin_dynamics` holds the simulators; the compiled d = 2 step (``numba``, the ``fast``
extra) is in ``riemdln/thermo/_langevin_jit.py``.
"""
