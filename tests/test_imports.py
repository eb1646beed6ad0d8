"""The import rule between our packages (docs/architecture.md), checked on every module's AST,
and the absence of import cycles between our modules."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"hal", "sim", "interface", "flight", "ground", "isru", "tests", "bench", "tools"})
HAL_CODEC = (
    "hal.framing",
    "hal.message",
    "hal.layout",
    "hal.commands",
    "hal.telemetry",
    "hal.errors",
)
#: Package -> module prefixes of ours it may import (its own package is always allowed).
ALLOWED: dict[str, tuple[str, ...]] = {
    "hal": (),
    # The ground/vehicle contract: pure data and checkers, nothing else of ours.
    "interface": (),
    "sim": HAL_CODEC,
    "flight": ("hal", "interface"),
    # The ground shares the contract with the vehicle, never its behaviour.
    "ground": ("interface",),
}
CHECKED = tuple(ALLOWED)


def imported_modules(
    source: str, module: str, *, is_package: bool = False, at_load: bool = False, full: bool = False
) -> list[str]:
    """Absolute names of every module ``source`` (the module ``module``) imports; with
    ``at_load``, only those imported when it is loaded (not inside a function, not under
    ``if TYPE_CHECKING:``). ``from a.b import c`` gives ``a.b``, or with ``full`` ``a.b.c``
    (which may name a module or a name in ``a.b``)."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    tree = ast.parse(source)
    for node in _loaded(tree) if at_load else ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = ".".join(part for part in (anchor, base) if part)
            # ``from hal import framing`` imports hal.framing; ``from hal.x import y`` is hal.x.
            ours = base in OURS or (full and base.split(".")[0] in OURS)
            names += [f"{base}.{alias.name}" if ours else base for alias in node.names]
    return names


def _loaded(node: ast.AST) -> list[ast.AST]:
    """The statements under ``node`` that run when the module is loaded."""
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            found += [stmt for orelse in child.orelse for stmt in [orelse, *_loaded(orelse)]]
            continue
        found += [child, *_loaded(child)]
    return found


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that the rule forbids."""
    own = module.split(".")[0]
    allowed = ALLOWED.get(own)
    if allowed is None:
        return []  # isru, tests, bench: may import anything
    bad = []
    for name in imported_modules(source, module, is_package=is_package):
        top = name.split(".")[0]
        if top not in OURS or top == own:
            continue
        if not any(name == p or name.startswith(p + ".") for p in allowed):
            bad.append(name)
    return bad


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts), path))
    return found


MODULES = _modules()


@pytest.mark.req("HAL-11", "SIM-13")
@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_module_follows_the_package_rule(module: str, path: Path) -> None:
    is_package = path.name == "__init__.py"
    name = module.removesuffix(".__init__")
    bad = violations(path.read_text(encoding="utf-8"), name, is_package=is_package)
    own = name.split(".")[0]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}; {own} may import only {ALLOWED[own]}"


@pytest.mark.parametrize(
    ("module", "source", "bad"),
    [
        ("hal.link", "import sim.ports", ["sim.ports"]),
        ("hal.link", "from flight import vehicle", ["flight.vehicle"]),
        ("sim.scoop_board", "from hal.link import SerialLink", ["hal.link"]),
        ("sim.scoop_board", "from hal import link, framing", ["hal.link"]),
        ("sim.scoop_board", "import hal", ["hal"]),
        ("sim.scoop_board", "from hal.framing import encode_frame\nimport serial", []),
        ("sim.scoop_board", "from ..hal import scoop", ["hal.scoop"]),
        ("sim.scoop_board", "from .scoop_arm import ScoopArm\nfrom . import clock", []),
        ("flight.vehicle", "from hal.scoop import ScoopDriver", []),
        ("flight.vehicle", "from ground import console", ["ground.console"]),
        ("flight.vehicle", "from interface.catalog import DICTIONARY", []),
        ("ground.cli", "from interface.dictionary import Dictionary", []),
        ("ground.cli", "from interface import Topics", []),
        ("ground.cli", "from flight.dispatcher import Reason", ["flight.dispatcher"]),
        ("ground.cli", "import hal.framing", ["hal.framing"]),
        ("ground.cli", "from flight import sequencer", ["flight.sequencer"]),
        ("interface.catalog", "from hal.commands import Joint", ["hal.commands"]),
        ("interface.signing", "from flight import arming", ["flight.arming"]),
        ("sim.scoop_board", "from interface import DICTIONARY", ["interface.DICTIONARY"]),
        ("isru.cli", "import flight.vehicle, sim.cli, ground.cli", []),
    ],
)
def test_imports_checker_flags_forbidden_imports(module: str, source: str, bad: list[str]) -> None:
    assert violations(source, module) == bad


def test_imports_relative_import_in_package_init_resolves_to_the_package() -> None:
    assert imported_modules("from .framing import crc16", "hal", is_package=True) == ["hal.framing"]


def _all_modules() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its own name)."""
    found = {}
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts).removesuffix(".__init__")
            found[name] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports when it is loaded."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets = set()
        source = path.read_text(encoding="utf-8")
        for imported in imported_modules(
            source, name, is_package=is_package, at_load=True, full=True
        ):
            # ``from hal import framing`` is hal.framing; ``from hal import crc16`` is hal.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as [a, b, ..., a], or [] when it has none."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle: list[str] = exc.args[1]
        return cycle
    return []


def test_imports_no_module_of_ours_imports_itself_in_a_cycle() -> None:
    cycle = find_cycle(import_graph(_all_modules()))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_imports_cycle_finder_finds_a_cycle_and_skips_deferred_imports() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (
        ["a", "c", "b", "a"],
        ["b", "a", "c", "b"],
        ["c", "b", "a", "c"],
        ["a", "b", "c", "a"],
        ["b", "c", "a", "b"],
        ["c", "a", "b", "c"],
    )
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    deferred = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ground.console.app import ConsoleApp\n"
        "def f():\n    from ground.console import app\n"
        "from ground.console.help import hazard_text\n"
    )
    assert imported_modules(deferred, "ground.console.palette", at_load=True) == [
        "typing",
        "ground.console.help",
    ]
