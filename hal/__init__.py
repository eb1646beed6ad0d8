"""The wire to the payload boards: framing, protocol codec, async serial link and drivers."""

from hal.commands import COMMANDS, BoardInfo, BoardKind, CommandSpec, Joint, Valve
from hal.driver import BoardDriver, WrongBoard
from hal.elec import ElecDriver
from hal.errors import DeviceNack, DeviceTimeout, HalError, LinkDown, PortError, ProtocolError
from hal.framing import FrameDecoder, crc16, encode_frame
from hal.link import LinkState, LinkStats, SerialLink
from hal.message import Message, MsgType, NackCode
from hal.scoop import ScoopDriver
from hal.telemetry import (
    ElecFlags,
    ElecState,
    ElecTelemetry,
    PacketId,
    ScoopFlags,
    ScoopState,
    ScoopTelemetry,
)

__all__ = [
    "COMMANDS",
    "BoardDriver",
    "BoardInfo",
    "BoardKind",
    "CommandSpec",
    "DeviceNack",
    "DeviceTimeout",
    "ElecDriver",
    "ElecFlags",
    "ElecState",
    "ElecTelemetry",
    "FrameDecoder",
    "HalError",
    "Joint",
    "LinkDown",
    "LinkState",
    "LinkStats",
    "Message",
    "MsgType",
    "NackCode",
    "PacketId",
    "PortError",
    "ProtocolError",
    "ScoopDriver",
    "ScoopFlags",
    "ScoopState",
    "ScoopTelemetry",
    "SerialLink",
    "Valve",
    "WrongBoard",
    "crc16",
    "encode_frame",
]
