"""The contract's catalog (pure data in interface/) agrees with hal's wire catalogue.

interface/ imports nothing of hal, so the channel list, the flag bits and the joint limits are
written out there; these tests rebuild what hal's telemetry layouts say and fail on any drift
(a field added to a board packet, a flag renamed, a unit or a joint limit changed).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, get_type_hints

import pytest

from hal.commands import COMMANDS, JOINT_LIMITS_DEG, DumpTarget, Joint
from hal.layout import layout_of
from hal.telemetry import (
    ElecFlags,
    ElecTelemetry,
    OvenFlags,
    OvenState,
    OvenTelemetry,
    ScoopFlags,
    ScoopTelemetry,
)
from interface.catalog import BOARD_LIMITS, DICTIONARY
from interface.catalog import JOINT_LIMITS_DEG as CATALOG_JOINT_LIMITS
from interface.catalog.oven import OVEN_DERIVED
from interface.dictionary import ChannelDef, ChannelType

PACKETS = [
    ("scoop", ScoopTelemetry, ScoopFlags),
    ("elec", ElecTelemetry, ElecFlags),
    ("oven", OvenTelemetry, OvenFlags),
]
#: The channels the flight software derives from a packet, after its wire channels.
DERIVED = {"oven": list(OVEN_DERIVED)}


def wire_channels(board: str, cls: type[Any], flags: type[enum.IntFlag]) -> list[ChannelDef]:
    """What hal's layout of one board packet says its channels are: every field in wire order
    (the flag word left out), one bool per flag bit, then ``link_up``."""
    hints = get_type_hints(cls)
    channels = []
    for field, wire in zip(dataclasses.fields(cls), layout_of(cls).wires, strict=True):
        annotation = hints[field.name]
        if annotation is flags:
            continue
        kind: ChannelType = "float" if wire.fmt == "f" else "int"
        choices: tuple[str, ...] = ()
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kind, choices = "enum", tuple(m.name for m in annotation)
        name = f"{board}.{field.name}"
        channels.append(
            ChannelDef(
                name=name,
                type=kind,
                unit=wire.unit,
                packet=board,
                description=wire.doc,
                choices=choices,
                limits=BOARD_LIMITS.get(name),
            )
        )
    for flag in flags:
        assert flag.name is not None
        name = f"{board}.{flag.name.lower()}"
        channels.append(
            ChannelDef(
                name=name,
                type="bool",
                packet=board,
                description=f"{flags.__name__}.{flag.name}",
                limits=BOARD_LIMITS.get(name),
            )
        )
    channels.append(
        ChannelDef(name=f"{board}.link_up", type="bool", packet=board, description="serial link up")
    )
    return channels


@pytest.mark.parametrize(("board", "cls", "flags"), PACKETS, ids=[p[0] for p in PACKETS])
def test_catalog_board_channels_match_the_wire_layout(
    board: str, cls: type[Any], flags: type[enum.IntFlag]
) -> None:
    catalog = [c for c in DICTIONARY.channels if c.packet == board]
    assert catalog == wire_channels(board, cls, flags) + DERIVED.get(board, [])


def test_catalog_limits_name_existing_channels() -> None:
    names = {c.name for c in DICTIONARY.channels}
    assert set(BOARD_LIMITS) <= names


def test_catalog_joint_limits_equal_the_boards() -> None:
    assert {joint.name: limits for joint, limits in JOINT_LIMITS_DEG.items()} == (
        CATALOG_JOINT_LIMITS
    )
    move = DICTIONARY.command_index["SCOOP.MOVE"]
    args = {a.name: a for a in move.args}
    assert args["joint"].choices == tuple(j.name for j in Joint)
    assert args["angle_deg"].min == min(lo for lo, _ in JOINT_LIMITS_DEG.values())
    assert args["angle_deg"].max == max(hi for _, hi in JOINT_LIMITS_DEG.values())


def test_catalog_drift_is_detected() -> None:
    """The comparison is not vacuous: a unit changed on the wire side shows up."""
    wire = wire_channels("scoop", ScoopTelemetry, ScoopFlags)
    changed = [c.model_copy(update={"unit": "rad"}) if c.unit == "deg" else c for c in wire]
    catalog = [c for c in DICTIONARY.channels if c.packet == "scoop"]
    assert catalog != changed


def test_catalog_board_enum_arguments_match_the_wire() -> None:
    """The boards a CORE command names, the DUMP targets and the oven's states are hal's."""
    boards = ("scoop", "elec", "oven")
    for name in ("CORE.RESET_BOARD", "CORE.TM_RATE"):
        args = {a.name: a for a in DICTIONARY.command_index[name].args}
        assert args["board"].choices == boards
    dump = DICTIONARY.command_index["SCOOP.DUMP"].args
    assert [a.choices for a in dump] == [tuple(t.name for t in DumpTarget)]
    state = DICTIONARY.channel_index["oven.state"]
    assert state.choices == tuple(s.name for s in OvenState)


def test_catalog_oven_argument_ranges_fit_the_boards() -> None:
    """Every oven command's float argument lies within what the board accepts on the wire,
    so the board never NACKs OUT_OF_RANGE what the flight let through."""
    wire = {c.name: c for c in COMMANDS}
    pairs = {
        "OVEN.HEAT": "HEAT",
        "OVEN.TRAP": "SET_TRAP",
        "OVEN.TRANSFER": "TRANSFER",
    }
    for name, board_command in pairs.items():
        args_type = wire[board_command].args
        assert args_type is not None
        bounds = {
            f.name: (w.lo, w.hi)
            for f, w in zip(dataclasses.fields(args_type), layout_of(args_type).wires, strict=True)
        }
        for arg in DICTIONARY.command_index[name].args:
            lo, hi = bounds[arg.name]
            assert None not in (lo, hi, arg.min, arg.max)
            assert lo <= arg.min and arg.max <= hi, f"{name} {arg.name}"
