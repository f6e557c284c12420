"""The layout's rules, checked on the source (an AST walk, so an import inside a function counts
as much as one at the top):

* only ``demetra/app/`` imports Streamlit;
* only ``demetra/charts/`` imports plotly, matplotlib or seaborn;
* ``demetra/db/`` imports nothing of Demetra above it (``demetra.errors`` is below everything);
* ``demetra/errors.py``, ``format.py`` and ``channels.py`` import nothing of Demetra;
* ``demetra/app/`` runs no SQL of its own: reads go through ``demetra.queries`` or the domain.

Each rule is also shown to fail on a planted violation.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "demetra"

_CHART_LIBS = ("plotly", "matplotlib", "seaborn")
_LEAVES = ("errors", "format", "channels")
# SQLAlchemy's constructs and a connection's execute (not st.text or a dataframe's .select).
_SQL = re.compile(r"\bsa\.(text|select|insert|update|delete)\(|(?<![\w.])(text|select)\(|"
                  r"\.execute\(|exec_driver_sql|\.connect\(\)|\.begin\(\)")


def _imports(path: Path, package: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` names (relative imports resolved inside the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = ("demetra", *path.relative_to(package).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = here[:len(here) - node.level + 1]
                base = ".".join((*pkg, base) if base else pkg)
            out.append((node.lineno, base))
            if base in ("demetra", "demetra.charts") or not node.module:
                # ``from demetra import charts`` names the submodule.
                out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        top = rel.split("/")[0].removesuffix(".py")
        for line, name in _imports(path, package):
            root = name.split(".")[0]
            where = f"{rel}:{line} imports {name}"
            if root == "streamlit" and top != "app":
                found.append(f"{where}: only demetra/app/ may import Streamlit")
            if root in _CHART_LIBS and top != "charts":
                found.append(f"{where}: only demetra/charts/ may draw")
            inside = name.startswith("demetra.")
            if top == "db" and inside and not name.startswith(("demetra.db", "demetra.errors")):
                found.append(f"{where}: demetra/db/ may import nothing above it")
            if top in _LEAVES and "/" not in rel and inside:
                found.append(f"{where}: {rel} is a leaf and imports nothing of Demetra")
        if top == "app":
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _SQL.search(text.split("#")[0]):
                    found.append(f"{rel}:{number} runs SQL: read through demetra.queries")
    return found


def test_the_package_keeps_its_boundaries() -> None:
    assert violations(PACKAGE) == []


@pytest.mark.parametrize(("path", "code", "rule"), [
    ("budget/plan.py", "import streamlit as st\n", "only demetra/app/ may import Streamlit"),
    ("ml/lazy.py", "def f():\n    import plotly.graph_objects as go\n", "only demetra/charts/"),
    ("alerts/draw.py", "from matplotlib import pyplot\n", "only demetra/charts/"),
    ("db/up.py", "from demetra.queries import kpis\n", "demetra/db/ may import nothing above"),
    ("db/rel.py", "from ..config import Settings\n", "demetra/db/ may import nothing above"),
    ("format.py", "from demetra.config import Settings\n", "is a leaf"),
    ("app/views/sneaky.py", "rows = conn.execute(sa.text('SELECT 1'))\n", "runs SQL"),
])
def test_a_planted_violation_is_reported(tmp_path: Path, path: str, code: str, rule: str) -> None:
    copy = tmp_path / "demetra"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(target.read_text() + code if target.exists() else code)
    found = [v for v in violations(copy) if v.startswith(path)]
    assert found and all(rule in v for v in found), found
