"""The ground segment: one client library under the console, the CLI and the test harness."""

from ground.client import (
    CommandRefused,
    DictionaryMismatch,
    GroundClient,
    VehicleUnavailable,
)
from ground.messages import Ack, Event, GroundError, Telemetry

__all__ = [
    "Ack",
    "CommandRefused",
    "DictionaryMismatch",
    "Event",
    "GroundClient",
    "GroundError",
    "Telemetry",
    "VehicleUnavailable",
]
