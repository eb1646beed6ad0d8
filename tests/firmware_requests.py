"""Requests to an emulated board at ``handle()`` level and what its replies say, for the
firmware tests (their fixtures ``clock``, ``scoop``, ``elec``, ``oven`` are in
tests/conftest.py)."""

from __future__ import annotations

import itertools
from typing import Any

from hal.commands import (
    BY_NAME,
)
from hal.layout import layout_of
from hal.message import Message, MsgType, NackCode, parse_nack
from hal.telemetry import (
    ElecTelemetry,
    OvenTelemetry,
    ScoopTelemetry,
)
from sim.clock import ManualClock
from sim.elec_board import ElecFirmware
from sim.firmware import Firmware
from sim.oven_board import OvenFirmware
from sim.scoop_board import ScoopFirmware

_seq = itertools.count(1)


class Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> bool:
        self.messages.append(message)
        return True


def request(fw: Firmware, name: str, args: Any = None, *, seq: int | None = None) -> Message:
    spec = BY_NAME[name]
    body = b"" if args is None else layout_of(type(args)).pack(args)
    seq = next(_seq) % 256 if seq is None else seq
    reply = fw.handle(Message(MsgType.REQUEST, seq, spec.id, body))
    assert reply is not None
    assert (reply.seq, reply.msg_id) == (seq, spec.id)
    return reply


def raw(fw: Firmware, msg_id: int, body: bytes = b"") -> Message:
    reply = fw.handle(Message(MsgType.REQUEST, next(_seq) % 256, msg_id, body))
    assert reply is not None
    return reply


def nack(reply: Message) -> tuple[NackCode, int | None]:
    assert reply.type is MsgType.NACK, reply
    code, arg = parse_nack(reply.body)
    return NackCode(code), arg


def acked(reply: Message) -> bytes:
    assert reply.type is MsgType.ACK, (reply, nack(reply) if reply.type is MsgType.NACK else "")
    return reply.body


def scoop_tm(fw: ScoopFirmware) -> ScoopTelemetry:
    return layout_of(ScoopTelemetry).unpack(acked(request(fw, "GET_STATUS")))


def elec_tm(fw: ElecFirmware) -> ElecTelemetry:
    return layout_of(ElecTelemetry).unpack(acked(request(fw, "GET_STATUS")))


def oven_tm(fw: OvenFirmware) -> OvenTelemetry:
    return layout_of(OvenTelemetry).unpack(acked(request(fw, "GET_STATUS")))


async def homed(fw: ScoopFirmware, clock: ManualClock) -> None:
    acked(request(fw, "HOME"))
    await clock.advance(10.0)
    assert fw.homed
