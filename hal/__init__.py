"""The wire to the payload boards: an async serial link per board and a typed driver each.

This is what a host application uses: the link, the drivers, the errors they raise and the
values the drivers take and return. The wire codec (framing, messages, layouts, the command
catalogue, telemetry packets) is in the public modules :mod:`hal.framing`, :mod:`hal.message`,
:mod:`hal.layout`, :mod:`hal.commands`, :mod:`hal.telemetry` and :mod:`hal.errors`;
:mod:`hal.driver` is public to whoever writes a driver. The other modules are internal.
"""

from hal.camera import Camera, CameraError, CapturedImage, open_camera
from hal.commands import BoardInfo, BoardKind, DumpTarget, Joint, Valve
from hal.driver import BoardDriver, WrongBoard
from hal.elec import ElecDriver
from hal.errors import DeviceNack, DeviceTimeout, HalError, LinkDown, PortError, ProtocolError
from hal.link import LinkState, LinkStats, SerialLink
from hal.message import NackCode
from hal.oven import OvenDriver
from hal.scoop import ScoopDriver
from hal.telemetry import (
    ElecFlags,
    ElecState,
    ElecTelemetry,
    OvenFlags,
    OvenState,
    OvenTelemetry,
    ScoopFlags,
    ScoopState,
    ScoopTelemetry,
)

__all__ = [
    "BoardDriver",
    "BoardInfo",
    "BoardKind",
    "Camera",
    "CameraError",
    "CapturedImage",
    "DeviceNack",
    "DeviceTimeout",
    "DumpTarget",
    "ElecDriver",
    "ElecFlags",
    "ElecState",
    "ElecTelemetry",
    "HalError",
    "Joint",
    "LinkDown",
    "LinkState",
    "LinkStats",
    "NackCode",
    "OvenDriver",
    "OvenFlags",
    "OvenState",
    "OvenTelemetry",
    "PortError",
    "ProtocolError",
    "ScoopDriver",
    "ScoopFlags",
    "ScoopState",
    "ScoopTelemetry",
    "SerialLink",
    "Valve",
    "WrongBoard",
    "open_camera",
]
