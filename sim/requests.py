"""What a board checks in a request before it runs it, and how it refuses.

Request handling, in the order a request is checked:

1. Only REQUEST frames are answered; a payload whose version nibble is not ours gets NACK
   BAD_VERSION (seq and id echoed), anything unparseable is ignored.
2. **Duplicate requests**: a REQUEST with the same seq, id and body as the previous one is a
   host retry (its reply was lost or late). The cached reply is sent again and the command
   is *not* executed again: a retried DIG digs once. The cache survives RESET (it sits in
   no-init RAM) so a retried RESET does not reboot twice.
3. Unknown id, or a command of the other board: UNKNOWN_COMMAND.
4. Body length not the argument layout's size (or any body for a command without
   arguments): BAD_LENGTH.
5. An argument outside its declared range or not a member of its enum: OUT_OF_RANGE with
   the argument's index; then board-specific limits (joint angles) the same way.
6. In FAULT, anything but STOP, RESET, GET_*, SET_TM_RATE, SET_VALVE and SET_TRAP: FAULT.
7. Board state checks: BUSY, NOT_HOMED, INTERLOCK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hal.commands import BY_ID, BoardKind, CommandSpec
from hal.layout import layout_of
from hal.message import Message, MsgType, NackCode, nack_body

#: A board's own argument limits beyond the declared ranges: raises :class:`Refused`.
LimitCheck = Callable[[CommandSpec, Any], None]


#: In FAULT a board still does these: the common ones, and what takes gas out (the elec
#: board's vent valves, the oven's cold trap).
ALLOWED_IN_FAULT = frozenset(
    {"STOP", "RESET", "GET_INFO", "GET_STATUS", "SET_TM_RATE", "SET_VALVE", "SET_TRAP"}
)


class Refused(Exception):
    """A command the board NACKs: ``code`` and the offending argument's index."""

    def __init__(self, code: NackCode, arg_index: int | None = None) -> None:
        super().__init__(f"{code.name}" + ("" if arg_index is None else f" (arg {arg_index})"))
        self.code = code
        self.arg_index = arg_index


class BoardThermal:
    """Board temperature: 25 C plus self-heating, first order (time constant 120 s)."""

    def __init__(self) -> None:
        self.temp_c = 25.0

    def step(self, dt: float, heat_c: float) -> None:
        target = 25.0 + heat_c
        self.temp_c += (target - self.temp_c) * min(1.0, dt / 120.0)


def bad_version_reply(payload: bytes) -> bytes | None:
    """NACK BAD_VERSION (seq and id echoed) for a REQUEST of another protocol version."""
    if payload[0] & 0x0F != MsgType.REQUEST:
        return None
    return Message(MsgType.NACK, payload[1], payload[2], nack_body(NackCode.BAD_VERSION)).encode()


def parse_request(
    message: Message, kind: BoardKind, check_limits: LimitCheck
) -> tuple[CommandSpec, Any]:
    """The command and its decoded arguments; raises :class:`Refused` (steps 3 to 5)."""
    spec = BY_ID.get(message.msg_id)
    if spec is None or spec.board not in (None, kind):
        raise Refused(NackCode.UNKNOWN_COMMAND)
    if spec.args is None:
        if message.body:
            raise Refused(NackCode.BAD_LENGTH)
        return spec, None
    layout = layout_of(spec.args)
    if len(message.body) != layout.size:
        raise Refused(NackCode.BAD_LENGTH)
    args = layout.unpack(message.body)
    bad = layout.first_out_of_range(args)
    if bad is not None:
        raise Refused(NackCode.OUT_OF_RANGE, bad)
    check_limits(spec, args)
    return spec, args
