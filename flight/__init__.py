"""The onboard flight software: :class:`FlightApp` builds the vehicle from a
:class:`FlightConfig` and runs it as an async context manager; commands go in as
:class:`Command` and come back as :class:`Ack` stages. ``isru flight`` (flight.cli) runs it
as a service (flight.service); the MQTT side is the subpackage flight.mqtt.

Other packages import from here or from the modules docs/design/flight.md names public.
"""

from flight.config import ConfigError, FlightConfig, load_config
from flight.dispatcher import Ack, Command, Reason, Stage
from flight.events import Event, EventLog
from flight.mqtt import Uplink
from flight.sequencer import AbortCause, SequencerBusy, SequenceStatus
from flight.vehicle import FlightApp

__all__ = [
    "AbortCause",
    "Ack",
    "Command",
    "ConfigError",
    "Event",
    "EventLog",
    "FlightApp",
    "FlightConfig",
    "Reason",
    "SequenceStatus",
    "SequencerBusy",
    "Stage",
    "Uplink",
    "load_config",
]
