"""numpydoc on every public name: Parameters (if it takes any), Returns (if it returns), See Also, Examples.

What is still missing is listed in ``MISSING`` and checked both ways: a name must have every section not
listed, and a section listed must really be missing (fill it, then shorten the list).
"""

from __future__ import annotations

import enum
import inspect
import re

import pytest

import riemdln

SECTIONS = ("Parameters", "Returns", "See Also", "Examples")

# the public submodules whose own public names are documented as the top-level ones
SUBMODULES = ("functions", "kernels", "baselines")

P, R, S, E = SECTIONS
# name -> the sections it still lacks (its module's owner fills them)
MISSING: dict[str, frozenset[str]] = {
    name: frozenset(sections)
    for name, sections in {
        # riemdln.geometry
        "apply_A": (S,),
        "apply_A_inverse": (P, R, S, E),
        "entropy": (R, S),
        "induced_log_volume_density": (R, S),
        "log_multiplier": (P, R, S, E),
        "log_volume_density": (P, R, S, E),
        "metric": (P, R, S),
        "multiplier": (S,),
        "orthogonal_group_volume": (P, R, S, E),
        "riemannian_gradient": (P, R, S, E),
        "volume_density": (R, S),
        # riemdln.dln_metric
        "DLNMetric": (),
        # riemdln.curvature
        "ricci_curvature": (P, R, S),
        "scalar_curvature": (S,),
        "sectional_curvature": (S,),
        # riemdln.geodesics
        "DiscreteDistanceResult": (P, S, E),
        "GeodesicBetweenResult": (P, S, E),
        "GeodesicResult": (P, S, E),
        "christoffel": (P, R, S, E),
        "discrete_distance": (P, R, S),
        "distance": (P, R, S, E),
        "exp_map": (P, R, S, E),
        "geodesic": (P, R, S, E),
        "geodesic_between": (P, R),
        "hamiltonian_gradient": (P, R, S, E),
        "log_map": (P, R, S, E),
        # riemdln.flows
        "Event": (P, S, E),
        "FlowResult": (S, E),
        "balanced_factors": (S,),
        "effective_rank": (P, R, S, E),
        "end_to_end_flow": (S,),
        "end_to_end_jacobian": (S,),
        "factor_descent": (S,),
        "factor_flow": (S,),
        "loss_below": (P, R, S, E),
        "norm_above": (P, R, S, E),
        "svd_flow": (S,),
        "time_budget": (P, R, S, E),
    }.items()
}


def _public() -> list[tuple[str, object]]:
    out = [(name, getattr(riemdln, name)) for name in sorted(riemdln._LAZY)]
    for sub in SUBMODULES:
        mod = getattr(riemdln, sub)
        out += [(f"{sub}.{name}", getattr(mod, name)) for name in mod.__all__]
    return out


def _has(doc: str, section: str) -> bool:
    return re.search(rf"^\s*{section}\n\s*-{{{len(section)}}}\s*$", doc, re.MULTILINE) is not None


def _takes_parameters(obj) -> bool:
    if isinstance(obj, type) and (issubclass(obj, BaseException | enum.Enum)):
        return False  # an exception takes its message; an enumeration is looked up, not built
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return any(p.name != "self" for p in sig.parameters.values())


def _returns(obj) -> bool:
    if isinstance(obj, type):
        return False  # a class: its instance is described by the class docstring
    annotation = inspect.signature(obj).return_annotation
    return annotation not in (None, "None")


def missing(obj) -> frozenset[str]:
    """The numpydoc sections ``obj``'s docstring should have and lacks."""
    doc = inspect.getdoc(obj) or ""
    out = set()
    if _takes_parameters(obj) and not (_has(doc, P) or (isinstance(obj, type) and _has(doc, "Attributes"))):
        out.add(P)
    if _returns(obj) and not (_has(doc, R) or _has(doc, "Yields")):
        out.add(R)
    out |= {section for section in (S, E) if not _has(doc, section)}
    return frozenset(out)


@pytest.mark.parametrize(("name", "obj"), _public(), ids=[n for n, _ in _public()])
def test_public_name_has_its_numpydoc_sections(name, obj):
    assert missing(obj) == MISSING.get(name, frozenset()), (
        f"{name}: lacks {sorted(missing(obj))}; the list says {sorted(MISSING.get(name, ()))} "
        "(fill the sections, and shorten MISSING when they are filled)"
    )


def test_missing_list_names_only_public_names():
    assert set(MISSING) <= {name for name, _ in _public()}
