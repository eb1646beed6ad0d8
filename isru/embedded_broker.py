"""An MQTT broker inside this process (amqtt): the SIL stack's broker when mosquitto is not
installed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from isru.broker import free_port


class EmbeddedBroker:
    """An amqtt broker inside this process, on loopback: the SIL stack's broker when
    mosquitto is not installed, so the demo runs with nothing but Python."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.host = "127.0.0.1"
        self._broker: object | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        from amqtt.broker import Broker  # imported here: only the fallback needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        await broker.start()
        self._broker = broker
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()  # type: ignore[attr-defined]
