"""Private functions take at most 6 positional parameters (options travel as keyword-only arguments or a record).

Run as a script to print the package's figures: functions with >= 10 parameters, with > 6 positional ones,
the largest parameter count and the longest function, per folder::

    python tests/test_param_counts.py [package-dir]
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "riemdln"
MAX_POSITIONAL = 6

#: private functions still above MAX_POSITIONAL ("module-file:qualified name"); the test fails if one is no
#: longer there (or no longer above), so the list only shrinks
ALLOWED: set[str] = {
    "_langevin_jit:_advance_chain",
    "_langevin_jit:_advance_parallel",
    "_langevin_jit:_advance_serial",
    "_langevin_jit:_multiplier_squares",
    "_langevin_jit:_pair_y",
    "_langevin_jit:_prepare_chain",
    "_langevin_jit:_prepare_parallel",
    "_langevin_jit:_prepare_serial",
    "_langevin_jit:_step_x",
    "_langevin_jit:_step_y",
    "_shooting:_fallbacks",
    "_shooting:_route_along",
    "_shooting:_shoot_root",
    "deep_completion:_baseline",
    "deep_completion:_flow",
    "depth_convergence:_flow",
    "depth_convergence:_small_flow",
    "depth_threshold:_descent",
    "depth_threshold:_flow",
    "geodesics:_finish",
    "geodesics:_geodesic",
    "geodesics:_integrate",
    "implicit_bias:_flow_cell",
    "langevin_dynamics:_advance_general",
    "langevin_dynamics:_chart_logweights",
    "langevin_dynamics:_quadrature",
    "langevin_dynamics:_step_X",
    "langevin_dynamics:_step_X_e",
    "langevin_dynamics:_step_Y",
    "langevin_dynamics:_step_Y_e",
    "langevin_dynamics:_step_d2",
    "langevin_dynamics:_step_d2_jit",
    "langevin_dynamics:_step_general",
    "menon_2x2:_limit",
    "upstairs_downstairs:_compare",
    "volume_bias:_beyond_flow",
    "volume_bias:_beyond_instance",
    "volume_bias:_lm_step",
}


@dataclass(frozen=True)
class Function:
    where: str  # "module:qualname"
    params: int  # every named parameter but self/cls
    positional: int  # positional-only and positional-or-keyword, but self/cls
    lines: int

    @property
    def key(self) -> str:
        """ "module-file:qualname" (the module's file name only: it survives moves between folders)."""
        module, name = self.where.split(":")
        return f"{module.rsplit('.', 1)[-1]}:{name}"

    @property
    def private(self) -> bool:
        return any(part.startswith("_") and not part.startswith("__") for part in self.where.split(":")[1].split("."))


def functions(package: Path = PACKAGE) -> list[Function]:
    """Every function and method of the package's modules, with its parameter counts and length."""
    found = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package.parent).with_suffix("").as_posix().replace("/", ".")
        found += _visit(ast.parse(path.read_text(encoding="utf-8")), module, "")
    return found


def _visit(node: ast.AST, module: str, prefix: str) -> list[Function]:
    out = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = prefix + child.name
            a = child.args
            positional = [p.arg for p in a.posonlyargs + a.args]
            bound = 1 if positional and positional[0] in ("self", "cls") else 0
            n_pos = len(positional) - bound
            lines = (child.end_lineno or child.lineno) - child.lineno + 1
            out.append(Function(f"{module}:{name}", n_pos + len(a.kwonlyargs), n_pos, lines))
            out += _visit(child, module, name + ".")
        elif isinstance(child, ast.ClassDef):
            out += _visit(child, module, prefix + child.name + ".")
    return out


def offenders(found: list[Function]) -> list[Function]:
    """Private functions with more than :data:`MAX_POSITIONAL` positional parameters."""
    return [f for f in found if f.private and f.positional > MAX_POSITIONAL]


def test_private_functions_take_few_positional_parameters():
    bad = {f.key for f in offenders(functions())}
    assert bad <= ALLOWED, f"private functions with more than {MAX_POSITIONAL} positional parameters: {bad - ALLOWED}"


def test_allowlist_is_not_stale():
    bad = {f.key for f in offenders(functions())}
    assert ALLOWED <= bad, f"allowed but no longer above {MAX_POSITIONAL} positional parameters: {ALLOWED - bad}"


def _summary(found: list[Function], label: str) -> str:
    if not found:
        return f"{label}: no functions"
    big = max(found, key=lambda f: f.params)
    long = max(found, key=lambda f: f.lines)
    return (
        f"{label}: {len(found)} functions, {sum(f.params >= 10 for f in found)} with >= 10 parameters, "
        f"{sum(f.positional > MAX_POSITIONAL for f in found)} with > {MAX_POSITIONAL} positional "
        f"({len(offenders(found))} private); largest {big.params} ({big.where}), longest {long.lines} lines "
        f"({long.where})"
    )


def main(package: Path = PACKAGE) -> None:
    found = functions(package)
    groups: dict[str, list[Function]] = {}
    for f in found:
        parts = f.where.split(":")[0].split(".")
        groups.setdefault(parts[1] if len(parts) > 2 else "(top level)", []).append(f)
    print(_summary(found, "riemdln"))
    for name, group in sorted(groups.items()):
        print("  " + _summary(group, name))
    print(f"functions with >= 10 parameters or > {MAX_POSITIONAL} positional:")
    for f in sorted(found, key=lambda f: (-f.params, f.where)):
        if f.params >= 10 or f.positional > MAX_POSITIONAL:
            print(f"  {f.params:3d} params {f.positional:3d} positional {f.lines:4d} lines  {f.where}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE)
