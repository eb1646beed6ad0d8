"""The flight software's MQTT side: the session with the broker (:class:`Uplink`), the
durable outbox, the fast QoS 1 publisher and the command check. It sees the vehicle only
through :class:`VehiclePort` (see docs/design/flight.md, "MQTT side")."""

from flight.mqtt.auth import Authenticator, AuthError
from flight.mqtt.outbox import Outbox, OutboxError, Priority, Row
from flight.mqtt.port import VehiclePort
from flight.mqtt.publisher import Publisher
from flight.mqtt.session import Uplink

__all__ = [
    "AuthError",
    "Authenticator",
    "Outbox",
    "OutboxError",
    "Priority",
    "Publisher",
    "Row",
    "Uplink",
    "VehiclePort",
]
