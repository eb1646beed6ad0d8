"""The import rule between our packages (docs/architecture.md), checked on every module's AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"hal", "sim", "flight", "ground", "isru", "tests", "bench"})
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
    "sim": HAL_CODEC,
    "flight": ("hal",),
    # flight's dictionary (its schema and this build's catalogue), the message schemas with
    # their signing rule, and the pure dictionary-based checkers for conditions and sequences.
    "ground": (
        "flight.dictionary",
        "flight.catalog",
        "flight.schemas",
        "flight.auth",
        "flight.condition",
        "flight.sequence",
    ),
}
CHECKED = tuple(ALLOWED)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Absolute names of every module ``source`` (the module ``module``) imports."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = ".".join(part for part in (anchor, base) if part)
            # ``from hal import framing`` imports hal.framing; ``from hal.x import y`` is hal.x.
            names += [f"{base}.{alias.name}" if base in OURS else base for alias in node.names]
    return names


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
        ("hal.link", "import sim.boards", ["sim.boards"]),
        ("hal.link", "from flight import app", ["flight.app"]),
        ("sim.scoop", "from hal.link import SerialLink", ["hal.link"]),
        ("sim.scoop", "from hal import link, framing", ["hal.link"]),
        ("sim.scoop", "import hal", ["hal"]),
        ("sim.scoop", "from hal.framing import encode_frame\nimport serial", []),
        ("sim.scoop", "from ..hal import scoop", ["hal.scoop"]),
        ("sim.scoop", "from .physics import Arm\nfrom . import clock", []),
        ("flight.app", "from hal.scoop import ScoopDriver", []),
        ("flight.app", "from ground import tui", ["ground.tui"]),
        ("ground.cli", "from flight.dictionary import Dictionary", []),
        ("ground.cli", "from flight.schemas.tm import Packet", []),
        ("ground.cli", "import hal.framing", ["hal.framing"]),
        ("ground.cli", "from flight import sequencer", ["flight.sequencer"]),
        ("isru.cli", "import flight.app, sim.cli, ground.cli", []),
    ],
)
def test_imports_checker_flags_forbidden_imports(module: str, source: str, bad: list[str]) -> None:
    assert violations(source, module) == bad


def test_imports_relative_import_in_package_init_resolves_to_the_package() -> None:
    assert imported_modules("from .framing import crc16", "hal", is_package=True) == ["hal.framing"]
