"""The store owns its SQL: no other package talks to SQLite (issue 9). A module that needs
rows asks a store method; this catches the first `conn.execute("SELECT …")` elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_CALLS = {"execute", "executemany", "executescript"}
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "PRAGMA ")


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if "sqlite3" in names or module == "sqlite3":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports sqlite3")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.lstrip().upper().startswith(SQL_WORDS)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: runs SQL")
    return found


def test_no_sql_outside_the_store() -> None:
    modules = [
        p
        for p in [*(ROOT / "edge").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]
        if (ROOT / "edge" / "store") not in p.parents
    ]
    assert len(modules) > 50
    offences = [o for p in modules for o in _offences(p)]
    assert offences == [], "move these behind a store method:\n" + "\n".join(offences)


def test_the_check_sees_sql_where_it_is() -> None:
    store_modules = list((ROOT / "edge" / "store").rglob("*.py"))
    assert any(_offences(p) for p in store_modules)  # the store itself is full of it


def _writer_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        named = []
        if isinstance(node, ast.Import):
            named = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            named = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        if "edge.store.writer" in named:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports edge.store.writer")
    return found


def test_nothing_outside_the_store_imports_its_writer() -> None:
    """The writer thread is the store's own: what others may use of it (`now_ms`, `dumps`)
    is re-exported by `edge.store`, so the writer can change without breaking a caller."""
    modules = [
        p
        for p in [*(ROOT / "edge").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]
        if (ROOT / "edge" / "store") not in p.parents
    ]
    offences = [o for p in modules for o in _writer_imports(p)]
    assert offences == [], "import these from edge.store:\n" + "\n".join(offences)
    assert _writer_imports(ROOT / "edge" / "store" / "__init__.py")  # the check sees one
