"""Requirement ids: where the docs define them and where tests claim them.

A requirement is a row of a table in ``docs/*.md`` whose first cell is its id (``| FLT-08 |``).
A test claims the requirements it proves with ``@pytest.mark.req("FLT-08", ...)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ID = re.compile(r"[A-Z]{2,4}-[0-9]{2}")
ROW = re.compile(rf"^\| ({ID.pattern}) \|", re.M)


def documented() -> dict[str, str]:
    """Every requirement id defined in docs/, with the page that defines it."""
    ids: dict[str, str] = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        for match in ROW.finditer(page.read_text(encoding="utf-8")):
            ids.setdefault(match.group(1), f"docs/{page.name}")
    return ids


def _is_req_marker(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "req"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
    )


def claimed() -> Iterator[tuple[str, str, list[object]]]:
    """Every ``req`` marker on a test in tests/: (file:line, test name, its arguments)."""
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and _is_req_marker(decorator.func):
                    args = [a.value if isinstance(a, ast.Constant) else a for a in decorator.args]
                    yield f"{path.name}:{decorator.lineno}", node.name, args
