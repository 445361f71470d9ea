"""The import structure: data flows one way, models <- tasks <- suite, with
schema.py under all of them and reports/ apart (it reads JSON, never torch).
Only the JSON-reading commands of suite/ (slopes, stability) use reports/."""

from __future__ import annotations

import ast
import graphlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: package -> the project packages it may import
ALLOWED = {
    "schema": set(),
    "models": {"schema"},
    "tasks": {"schema", "models"},
    "suite": {"schema", "models", "tasks"},
    "reports": {"schema"},
}
READS_REPORTS = {"suite/slopes.py", "suite/stability.py"}
FORBIDDEN_IN_REPORTS = {"torch"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def sources(package: str) -> list[Path]:
    if package == "schema":
        return [ROOT / "schema.py"]
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_runs_back_up(package: str) -> None:
    for path in sources(package):
        relative = path.relative_to(ROOT).as_posix()
        allowed = (
            ALLOWED[package] | {package} | ({"reports"} if relative in READS_REPORTS else set())
        )
        project = imported_roots(path) & set(ALLOWED)
        assert project <= allowed, f"{relative} imports {sorted(project - allowed)}"
        if package in ("reports", "schema"):
            assert not imported_roots(path) & FORBIDDEN_IN_REPORTS, f"{relative} imports torch"


# -- no import cycle, inside a package either ------------------------------------------------
def module_name(path: Path) -> str:
    """``suite/options.py`` -> ``suite.options``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere in it (inside functions too):
    ``from pkg import name`` names the submodule pkg.name where there is one,
    else the package itself."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            origin = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            found |= {f"{origin}.{alias.name}" for alias in node.names} | {origin}
    # an attribute of a package (not a submodule) is the package's __init__
    return {
        m if m in modules else m.rpartition(".")[0]
        for m in found
        if m in modules or m.rpartition(".")[0] in modules
    } - {name}


def import_graph() -> dict[str, set[str]]:
    paths = [path for package in sorted(ALLOWED) for path in sources(package)]
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, its first module repeated at its end; None if there is none."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(reversed(error.args[1]))
    return None


def test_no_module_imports_itself_back_through_others() -> None:
    cycle = import_cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_cycle_check_sees_imports_inside_functions_and_names_the_cycle() -> None:
    graph = import_graph()
    assert "tasks.lra" in graph["suite.options"]  # imported inside data_dir_from_env
    assert "models.registry" in graph["models"] and "models.base" in graph["models.registry"]
    circle = {"suite.options": {"suite.workloads"}, "suite.workloads": {"suite.options"}}
    assert import_cycle({**graph, **circle}) in (
        ["suite.options", "suite.workloads", "suite.options"],
        ["suite.workloads", "suite.options", "suite.workloads"],
    )
