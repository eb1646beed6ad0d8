"""Renders the ICD's generated Markdown tables from the hal catalogue and the conformance
kit's rules; ``--write`` updates the doc.

Run ``python -m tests.icd_tables`` to print the catalogue tables, or
``python -m tests.icd_tables --write`` to replace both generated blocks of ``docs/icd.md``
(the catalogue of §9 and the rule table of §11).
"""

from __future__ import annotations

import enum
import struct
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_type_hints

from hal.commands import COMMANDS, BoardKind, CommandSpec, DumpTarget, Joint, Valve
from hal.framing import CRC_BYTES, MAX_FRAME
from hal.layout import layout_of
from hal.message import HEADER_BYTES, MsgType, NackCode
from hal.telemetry import (
    TELEMETRY_CLASSES,
    ElecFlags,
    ElecState,
    OvenFlags,
    OvenState,
    PacketId,
    ScoopFlags,
    ScoopState,
)
from isru.conform.rules import render_rule_table
from tests import doc_blocks
from tests.doc_blocks import between, write_blocks

DOC = Path(__file__).resolve().parent.parent / "docs" / "icd.md"
BEGIN = "<!-- generated:begin -->"
END = "<!-- generated:end -->"
RULES_BEGIN = "<!-- conform:begin -->"
RULES_END = "<!-- conform:end -->"
REGENERATE = "python -m tests.icd_tables --write"

ENUMS: tuple[type[enum.IntEnum], ...] = (
    MsgType,
    NackCode,
    BoardKind,
    PacketId,
    Joint,
    DumpTarget,
    Valve,
    ScoopState,
    ElecState,
    OvenState,
)
FLAGS: tuple[type[enum.IntFlag], ...] = (ScoopFlags, ElecFlags, OvenFlags)


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    cols = list(header)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        cells = [str(c).replace("|", "\\|") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _range(lo: float | None, hi: float | None) -> str:
    if lo is None and hi is None:
        return ""
    return f"{'' if lo is None else f'{lo:g}'} .. {'' if hi is None else f'{hi:g}'}"


def _enum_types(cls: type[Any]) -> dict[str, type[enum.Enum]]:
    hints = get_type_hints(cls)
    return {
        name: hint
        for name, hint in hints.items()
        if isinstance(hint, type) and issubclass(hint, enum.Enum)
    }


def _field_rows(cls: type[Any]) -> list[list[object]]:
    layout = layout_of(cls)
    enums = _enum_types(cls)
    rows: list[list[object]] = []
    offset = 0
    for i, (field, w) in enumerate(zip(layout.fields, layout.wires, strict=True)):
        enum_type = enums.get(field.name)
        type_name, range_text = w.type_name, _range(w.lo, w.hi)
        if enum_type is not None:
            type_name = f"{type_name} ({enum_type.__name__})"
            range_text = range_text or (
                "any bits" if issubclass(enum_type, enum.Flag) else "member"
            )
        rows.append([i, offset, f"`{field.name}`", type_name, w.unit, range_text, w.doc])
        offset += struct.calcsize("<" + w.fmt)
    return rows


def render_layout(cls: type[Any], *, arg_column: str = "#") -> list[str]:
    """The byte layout of one body dataclass; ``#`` is the index a NACK reports."""
    layout = layout_of(cls)
    header = [arg_column, "offset", "field", "type", "unit", "range", "meaning"]
    return [
        f"`{cls.__name__}`, {layout.size} bytes:",
        "",
        *_table(header, _field_rows(cls)),
    ]


def _board(spec: CommandSpec) -> str:
    return "all" if spec.board is None else spec.board.name.lower()


def _body_name(spec: CommandSpec, which: str) -> str:
    cls = spec.args if which == "args" else spec.reply
    if which == "reply" and spec.reply_is_telemetry:
        return "the board's telemetry packet"
    if cls is None:
        return "none"
    return f"`{cls.__name__}` ({layout_of(cls).size} B)"


def render_commands() -> list[str]:
    lines = ["### Commands", ""]
    rows = [
        [
            f"0x{c.id:02X}",
            f"`{c.name}`",
            _board(c),
            _body_name(c, "args"),
            _body_name(c, "reply"),
            c.doc,
        ]
        for c in COMMANDS
    ]
    lines += _table(["id", "name", "board", "args", "ACK body", "meaning"], rows)
    for spec in COMMANDS:
        if spec.args is None and spec.reply is None:
            continue
        lines += ["", f"#### 0x{spec.id:02X} `{spec.name}` ({_board(spec)})", ""]
        if spec.args is not None:
            lines += ["Request arguments, " + render_layout(spec.args)[0], ""]
            lines += render_layout(spec.args)[2:]
        if spec.reply is not None:
            if spec.args is not None:
                lines.append("")
            lines += ["ACK body, " + render_layout(spec.reply, arg_column="i")[0], ""]
            lines += render_layout(spec.reply, arg_column="i")[2:]
    return lines


def render_telemetry() -> list[str]:
    lines = ["### Telemetry packets"]
    for packet_id, cls in TELEMETRY_CLASSES.items():
        lines += ["", f"#### 0x{packet_id:02X} `{packet_id.name}` telemetry", ""]
        lines += render_layout(cls, arg_column="i")
    return lines


def render_enums() -> list[str]:
    lines = ["### Enumerations"]
    for enum_type in ENUMS:
        lines += ["", f"#### `{enum_type.__name__}`", ""]
        lines += _table(["value", "name"], [[int(m), f"`{m.name}`"] for m in enum_type])
    lines += ["", "### Flag words", ""]
    lines.append("Bit fields in telemetry; bits not listed are reserved and sent as 0.")
    for flag_type in FLAGS:
        lines += ["", f"#### `{flag_type.__name__}`", ""]
        rows = [[int(m).bit_length() - 1, f"0x{int(m):04X}", f"`{m.name}`"] for m in flag_type]
        lines += _table(["bit", "mask", "name"], rows)
    return lines


def render_limits() -> list[str]:
    return [
        "### Sizes",
        "",
        *_table(
            ["quantity", "bytes"],
            [
                ["header", HEADER_BYTES],
                ["CRC", CRC_BYTES],
                ["largest decoded frame (header + body + CRC)", MAX_FRAME],
                ["largest body", MAX_FRAME - CRC_BYTES - HEADER_BYTES],
            ],
        ),
    ]


def render() -> str:
    """Every generated table, as the Markdown that sits between the markers."""
    parts = [render_limits(), render_commands(), render_telemetry(), render_enums()]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def generated_block(text: str, begin: str = BEGIN, end: str = END) -> str:
    """The text between the markers of ``text``; ValueError when they are missing."""
    return between(text, begin, end)


def write(doc: Path = DOC) -> None:
    write_blocks(doc, [(BEGIN, END, render()), (RULES_BEGIN, RULES_END, render_rule_table())])


def main(argv: list[str]) -> int:
    return doc_blocks.main(argv, doc=DOC, regenerate=REGENERATE, write=write, show=render)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
