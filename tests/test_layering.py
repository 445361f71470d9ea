"""The import structure: data flows one way, models <- tasks <- suite, with
schema.py under all of them and reports/ apart (it reads JSON, never torch).
Only the JSON-reading commands of suite/ (slopes, stability) use reports/."""

from __future__ import annotations

import ast
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
