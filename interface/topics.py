"""The topic names of one vehicle's MQTT interface (docs/mqtt.md)."""

from __future__ import annotations

#: Raw bytes of an image per ``images/<name>`` message (base64 in its ``data``): 64 KiB of
#: text, far below the 256 KiB limit on a message.
IMAGE_CHUNK_BYTES = 49152


class Topics:
    """The topic tree of one vehicle: ``isru/<vehicle>/...``."""

    def __init__(self, vehicle: str, *, root: str = "isru") -> None:
        if not vehicle or any(c in vehicle for c in "/+#"):
            raise ValueError(f"vehicle: {vehicle!r} cannot be a topic segment")
        self.prefix = f"{root}/{vehicle}"
        self.status = f"{self.prefix}/status"
        self.dict = f"{self.prefix}/dict"
        self.evr = f"{self.prefix}/evr"
        self.cmd = f"{self.prefix}/cmd"
        self.ack = f"{self.prefix}/cmd/ack"
        self.seq_upload = f"{self.prefix}/seq/upload"
        self.seq_start = f"{self.prefix}/seq/start"
        self.seq_abort = f"{self.prefix}/seq/abort"
        self.seq_status = f"{self.prefix}/seq/status"
        self.samples_entry = f"{self.prefix}/samples/entry"
        self.samples_head = f"{self.prefix}/samples/head"

    def tm(self, packet: str) -> str:
        return f"{self.prefix}/tm/{packet}"

    @property
    def tm_all(self) -> str:
        return f"{self.prefix}/tm/+"

    def image(self, name: str) -> str:
        """The topic of one stored image's chunks: ``images/<name>``."""
        if not name or any(c in name for c in "/+#"):
            raise ValueError(f"image name: {name!r} cannot be a topic segment")
        return f"{self.prefix}/images/{name}"

    @property
    def images_all(self) -> str:
        return f"{self.prefix}/images/+"
