"""The package rule of DESIGN.md, checked on every import (module-level and inside functions): `core` imports no
other package of ours, `realtime` and `lakehouse` only `core`, `assets_dag` and `api` only `core` and
`lakehouse`, `orchestration` only those three. Arrows point down the table, so a package can be read, tested and
deployed without the ones above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OURS = {"core", "realtime", "lakehouse", "assets_dag", "orchestration", "api"}
ALLOWED = {
    "core": set(),
    "realtime": {"core"},
    "lakehouse": {"core"},
    "assets_dag": {"core", "lakehouse"},
    "api": {"core", "lakehouse"},
    "orchestration": {"core", "lakehouse", "assets_dag"},
}
# The one composition root: `assettag demo` runs the simulator, the realtime consumer and the API in one process.
EXCEPTIONS = {("api/demo.py", "realtime")}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def test_packages_import_only_what_is_below_them() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for target in _imports(path) - allowed - {package}:
                if (relative, target) not in EXCEPTIONS:
                    wrong.append(f"{relative} imports {target}")
    assert wrong == []
