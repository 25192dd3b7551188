"""Typed study parameters: frozen records whose fields declare their type, range and size, and overrides checked
against those declarations.

A study declares its parameters as a frozen dataclass deriving from :class:`StudyParams`, with one
classmethod per mode of ``reproduce`` (:meth:`~StudyParams.quick`, :meth:`~StudyParams.full`,
:meth:`~StudyParams.paper`; ``paper`` defaults to ``full``). Every field is made by one of the declaring
helpers below (:func:`integer`, :func:`real`, :func:`flag`, :func:`text`, :func:`depth`, :func:`listing`,
:func:`nested`, :func:`nested_list`, :func:`depth_list`, :func:`ints`, :func:`reals`), which store a
:class:`Spec` in the field's metadata: its kind, bounds,
allowed values and sizes. Depths are floats (``math.inf`` for :math:`N = \\infty`) in the record and are
spelled as results.json has always held them only when the record is written (:meth:`StudyParams.to_json`:
``"int"`` writes whole depths as integers and ``"inf"``, ``"str"`` writes ``"3"`` and ``"inf"``, ``"float"``
writes floats).

Overrides (``{field: value}``, nested mappings for nested records) are applied by :func:`apply_overrides`
with :func:`dataclasses.replace` after each value is checked against its field's :class:`Spec`; a nested
override changes only the keys it names. Every refusal is a :class:`~riemdln.RiemdlnValueError` naming the
override's path, e.g. ```overrides.depth_convergence.small_init.depths[1]```. A study may also estimate the
memory of its largest array (:meth:`StudyParams.largest_array`): a record above :data:`MAX_ARRAY_BYTES` is
refused with the estimate.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from riemdln._errors import RiemdlnValueError
from riemdln._validation import short

#: an integer override may be at most this many times the largest value the study's own modes (quick, full,
#: paper) use for it (seeds are exempt): sizes, counts and depths beyond that cannot finish
OVERRIDE_SCALE_CAP = 64
#: the largest single array (bytes) a study may be asked to allocate through its overrides (4 GiB)
MAX_ARRAY_BYTES = 4 * 2**30

P = TypeVar("P", bound="StudyParams")


@dataclass(frozen=True)
class Spec:
    """What a parameter field accepts.

    ``kind`` is ``"int"``, ``"float"``, ``"number"`` (a finite real kept as int or float), ``"bool"``, ``"str"``,
    ``"depth"`` (a real >= 1 or ``math.inf``; a numeric string such as ``"inf"`` is read as its number; ``positive``
    here refuses ``math.inf``), ``"list"`` (items by ``item``), ``"record"`` (a nested :class:`StudyParams`) or
    ``"records"`` (a list of them). ``low``/``high`` bound numbers (inclusive), ``positive`` asks for > 0,
    ``choices`` lists the allowed values, ``min_len``/``max_len`` bound list lengths, ``whole`` asks finite depths
    to be whole numbers, ``spelling`` is how depths are written to JSON, ``optional`` accepts ``None``.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    positive: bool = False
    choices: tuple | None = None
    item: Spec | None = None
    min_len: int = 1
    max_len: int | None = None
    whole: bool = False
    spelling: str = "int"
    record: Any = None  # a StudyParams subclass
    optional: bool = False


def _field(default: Any, spec: Spec, doc: str):
    if isinstance(default, list):
        raise TypeError("a parameter default must be immutable (a tuple, not a list)")
    return field(default=default, metadata={"spec": spec, "doc": doc})


def integer(default: int, *, low: int = 0, high: int | None = None, doc: str = ""):
    """An integer field (``low <= value <= high``; booleans refused)."""
    return _field(default, Spec("int", low=low, high=high), doc)


def real(default: float, *, low: float | None = None, high: float | None = None, positive: bool = False, doc=""):
    """A finite real field (integers accepted and stored as floats)."""
    return _field(float(default), Spec("float", low=low, high=high, positive=positive), doc)


def flag(default: bool, *, doc: str = ""):
    """A True/False field."""
    return _field(default, Spec("bool"), doc)


def text(default: str, *, choices: Sequence[str] | None = None, doc: str = ""):
    """A string field (one of ``choices`` when given)."""
    return _field(default, Spec("str", choices=None if choices is None else tuple(choices)), doc)


def depth_spec(*, spelling: str = "int", whole: bool = False, infinite: bool = True, high: float | None = None):
    """The :class:`Spec` of one depth (for :func:`listing` items)."""
    return Spec("depth", low=1.0, high=high, whole=whole, spelling=spelling, positive=not infinite)


def depth(default: float, *, spelling: str = "int", whole: bool = False, doc: str = ""):
    """A depth field: a float >= 1 or ``math.inf`` (``whole``: finite depths are whole numbers)."""
    return _field(float(default), depth_spec(spelling=spelling, whole=whole), doc)


def listing(default: tuple, item: Spec, *, min_len: int = 1, max_len: int | None = None, doc: str = ""):
    """A list field: a tuple of items each checked by ``item`` (a :class:`Spec`, e.g. ``Spec("int")``)."""
    return _field(tuple(default), Spec("list", item=item, min_len=min_len, max_len=max_len), doc)


def nested(record: type[StudyParams], default: StudyParams, *, doc: str = ""):
    """A nested record field (overrides of it are merged key by key)."""
    return _field(default, Spec("record", record=record), doc)


def nested_list(record: type[StudyParams], default: tuple, *, max_len: int | None = None, doc: str = ""):
    """A list of nested records (an override replaces the list; each item is merged onto the first default)."""
    return _field(tuple(default), Spec("records", record=record, max_len=max_len), doc)


def depth_list(default: Sequence, *, spelling: str = "int", whole: bool = False, infinite: bool = True, doc: str = ""):
    """A list-of-depths field (floats, ``math.inf`` for N = ∞)."""
    item = depth_spec(spelling=spelling, whole=whole, infinite=infinite)
    return listing(tuple(float(d) for d in default), item, doc=doc)


def ints(default, *, low: int = 0, high: int | None = None, min_len: int = 1, max_len: int | None = None, doc=""):
    """A list-of-integers field."""
    return listing(tuple(default), Spec("int", low=low, high=high), min_len=min_len, max_len=max_len, doc=doc)


def reals(default: Sequence[float], *, low: float | None = None, positive: bool = False, doc: str = ""):
    """A list-of-reals field."""
    return listing(tuple(float(v) for v in default), Spec("float", low=low, positive=positive), doc=doc)


@dataclass(frozen=True)
class StudyParams:
    """Base of the studies' parameter records (frozen dataclasses whose fields carry a :class:`Spec`).

    >>> from riemdln.app.report import study_record
    >>> study_record("depth_convergence", "quick").small_init.depths
    (4.0, 16.0, 64.0)
    """

    @classmethod
    def full(cls: type[P]) -> P:
        """The parameters of ``reproduce(mode="full")`` (the default mode)."""
        return cls()

    @classmethod
    def quick(cls: type[P]) -> P:
        """The parameters of ``reproduce(mode="quick")``: the same study, smaller."""
        return cls.full()

    @classmethod
    def paper(cls: type[P]) -> P:
        """The parameters of ``reproduce(mode="paper")`` (the full grid where the study has one)."""
        return cls.full()

    @classmethod
    def for_mode(cls: type[P], mode: str) -> P:
        """The record of ``mode`` (``"quick"``, ``"full"`` or ``"paper"``)."""
        if mode not in ("quick", "full", "paper"):
            raise RiemdlnValueError(f"`mode` must be 'quick', 'full' or 'paper'; got {short(mode)}.")
        return getattr(cls, mode)()

    def largest_array(self) -> tuple[float, str, str] | None:
        """``(bytes, field, what)``: an estimate of the largest single array a run allocates, the field that sets
        it and a description; ``None`` when the study has no estimate."""
        return None

    def check(self, where: str) -> None:
        """Refuse (a :class:`~riemdln.RiemdlnValueError` naming ``where``) a combination of values the fields'
        own declarations cannot express; called after overrides are applied."""

    def to_json(self) -> dict:
        """The record as results.json and the study's ``run`` read it (depths spelled per field)."""
        return {f.name: _to_json(getattr(self, f.name), f.metadata["spec"]) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls: type[P], doc: Mapping, where: str = "parameters") -> P:
        """The record from its JSON form (every value checked against its field)."""
        return apply_overrides(cls(), doc, where, scale=False)

    @classmethod
    def coerce(cls: type[P], params) -> P:
        """``params`` as a record: a record of this class as is, a mapping read by :meth:`from_json`."""
        return params if isinstance(params, cls) else cls.from_json(params)


def _to_json(value, spec: Spec):
    if spec.kind == "record":
        return value.to_json()
    if spec.kind == "records":
        return [v.to_json() for v in value]
    if spec.kind == "list":
        assert spec.item is not None
        return [_to_json(v, spec.item) for v in value]
    if spec.kind == "depth":
        return _depth_json(value, spec.spelling)
    return value


def _depth_json(value: float, spelling: str):
    if spelling == "float":
        return float(value)
    if math.isinf(value):
        return "inf"
    if spelling == "str":
        return f"{value:g}"
    return int(value) if float(value).is_integer() else float(value)


# --------------------------------------------------------------------------------------------- overrides


def apply_overrides(record: P, overrides, where: str, *, scale: bool = True, modes: Sequence | None = None) -> P:
    """``record`` with ``overrides`` applied by :func:`dataclasses.replace`, each value checked by its field's
    :class:`Spec` (and, with ``scale``, at most :data:`OVERRIDE_SCALE_CAP` times the largest integer that the
    records ``modes`` use for it); nested records are merged. Refusals name ``where`` and the key path."""
    if not isinstance(overrides, Mapping):
        raise RiemdlnValueError(f"`{where}` must be a mapping of parameters; got {short(overrides)}.")
    fields = {f.name: f for f in dataclasses.fields(record)}
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        raise RiemdlnValueError(
            f"`{where}` names the unknown parameter {unknown[0]!r}; it has {', '.join(sorted(fields))}."
        )
    changes, scaled = {}, []
    for key, value in overrides.items():
        spec: Spec = fields[key].metadata["spec"]
        path = f"{where}.{key}"
        if spec.kind == "record":
            sub = [getattr(m, key) for m in modes] if modes else None
            changes[key] = apply_overrides(getattr(record, key), value, path, scale=scale, modes=sub)
            continue
        changes[key] = _parse(value, spec, path)
        if scale and modes and "seed" not in key:
            largest = max((x for m in modes if (x := _largest(getattr(m, key), spec)) is not None), default=None)
            scaled.append((changes[key], spec, largest, path))
    out = dataclasses.replace(record, **changes)
    if scale:
        _check_memory(out, where)  # first: a size that cannot fit is refused with its estimate
        for args in scaled:
            _check_scale(*args)
        out.check(where)
    return out


def _refuse(path: str, need: str, value) -> RiemdlnValueError:
    return RiemdlnValueError(f"`{path}` must be {need}; got {short(value)}.")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite(v) -> bool:
    """A finite float (an integer beyond the double range is not)."""
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _bounds(spec: Spec) -> str:
    parts = []
    if spec.positive:
        parts.append("> 0")
    if spec.low is not None and not spec.positive:
        parts.append(f">= {spec.low:g}")
    if spec.high is not None:
        parts.append(f"<= {spec.high:g}")
    return " and ".join(parts)


def _in_range(v: float, spec: Spec) -> bool:
    return (
        (spec.low is None or v >= spec.low) and (spec.high is None or v <= spec.high) and (not spec.positive or v > 0)
    )


def _parse(value, spec: Spec, path: str):
    """``value`` checked against ``spec`` and converted to the field's type (tuples for lists)."""
    kind = spec.kind
    if value is None and spec.optional:
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            raise _refuse(path, "True or False", value)
        return bool(value)
    if kind == "int":
        if not _is_int(value) or not _in_range(value, spec):
            raise _refuse(path, f"an integer {_bounds(spec)}".rstrip(), value)
        return int(value)
    if kind == "float":
        if not _is_real(value) or not _finite(value) or not _in_range(float(value), spec):
            raise _refuse(path, f"a finite real number {_bounds(spec)}".rstrip(), value)
        return float(value)
    if kind == "str":
        if not isinstance(value, str) or (spec.choices is not None and value not in spec.choices):
            need = "a string" if spec.choices is None else f"one of {', '.join(map(repr, spec.choices))}"
            raise _refuse(path, need, value)
        return value
    if kind == "number":
        if not _is_real(value) or not _finite(value):
            raise _refuse(path, "a finite real number", value)
        return int(value) if _is_int(value) else float(value)
    if kind == "depth":
        return _parse_depth(value, spec, path)
    if kind in ("list", "records"):
        return _parse_list(value, spec, path)
    raise TypeError(f"unknown parameter kind {kind!r}")  # a study's own declaration error


def _parse_depth(value, spec: Spec, path: str) -> float:
    need = "a depth: a real number >= 1" + (" (whole)" if spec.whole else "")
    need += "" if spec.positive else " or 'inf'"
    try:
        v = float(value) if isinstance(value, str) or _is_real(value) else math.nan
    except (ValueError, OverflowError):
        v = math.nan
    if math.isnan(v) or v < 1 or (math.isinf(v) and spec.positive) or (spec.whole and math.isfinite(v) and v % 1):
        raise _refuse(path, need, value)
    if spec.high is not None and v > spec.high:
        raise _refuse(path, f"{need} and <= {spec.high:g}", value)
    return v


def _parse_list(value, spec: Spec, path: str) -> tuple:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise _refuse(path, "a list", value)
    if len(value) < spec.min_len or (spec.max_len is not None and len(value) > spec.max_len):
        size = f"at least {spec.min_len}" + ("" if spec.max_len is None else f" and at most {spec.max_len}")
        raise _refuse(path, f"a list of {size} items", value)
    if spec.kind == "records":
        assert spec.record is not None
        return tuple(spec.record.from_json(v, f"{path}[{i}]") for i, v in enumerate(value))
    assert spec.item is not None
    return tuple(_parse(v, spec.item, f"{path}[{i}]") for i, v in enumerate(value))


def _largest(value, spec: Spec) -> float | None:
    """The largest finite integer-valued number in a field's value (lists walked), else None."""
    if spec.kind in ("int", "depth") and isinstance(value, int | float) and math.isfinite(value):
        return abs(value)
    if spec.kind == "list" and spec.item is not None:
        return max((x for v in value if (x := _largest(v, spec.item)) is not None), default=None)
    return None


def _check_scale(value, spec: Spec, largest: float | None, path: str) -> None:
    """Refuse an integer or depth more than :data:`OVERRIDE_SCALE_CAP` times the largest the modes use."""
    if largest is None:
        return
    items = list(enumerate(value)) if spec.kind == "list" else [(None, value)]
    item_spec = spec.item if spec.kind == "list" else spec
    if item_spec is None or item_spec.kind not in ("int", "depth"):
        return
    cap = OVERRIDE_SCALE_CAP * max(1, largest)
    for i, v in items:
        if math.isfinite(v) and abs(v) > cap:
            at = path if i is None else f"{path}[{i}]"
            raise RiemdlnValueError(
                f"`{at}` = {short(v)} is more than {OVERRIDE_SCALE_CAP} times the largest value the study's own "
                f"modes use ({largest:g}): a run of that size would not finish (or fit in memory); choose at most "
                f"{cap:g}."
            )


def _check_memory(record: StudyParams, where: str) -> None:
    est = record.largest_array()
    if est is None:
        return
    nbytes, key, what = est
    if nbytes > MAX_ARRAY_BYTES:
        raise RiemdlnValueError(
            f"`{where}.{key}` = {short(getattr(record, key))} asks too much: {what} would take about "
            f"{_bytes(nbytes)} at once, above the cap of {_bytes(MAX_ARRAY_BYTES)} per array."
        )


def _bytes(n: float) -> str:
    for unit, size in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.3g} bytes"


def field_docs(cls: type[StudyParams]) -> dict[str, str]:
    """``{field: description}`` of a record class (what the declarations say)."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}
