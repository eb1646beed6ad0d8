"""The ground segment: one client library under the console, the CLI and the test harness.

The public surface is what this module exports; the packages ``ground.console``,
``ground.archive`` and ``ground.cli`` export their own (see docs/design/ground.md).
"""

from ground.client import GroundClient
from ground.commanding import STAGES, CommandRefused
from ground.connection import LoginRefused
from ground.messages import Ack, Event, GroundError, Telemetry
from ground.password import PasswordFileError, read_password
from ground.session import DictionaryMismatch, Listener, VehicleUnavailable

__all__ = [
    "STAGES",
    "Ack",
    "CommandRefused",
    "DictionaryMismatch",
    "Event",
    "GroundClient",
    "GroundError",
    "Listener",
    "LoginRefused",
    "PasswordFileError",
    "Telemetry",
    "VehicleUnavailable",
    "read_password",
]
