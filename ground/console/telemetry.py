"""One board's live telemetry: a table of its channels with units and limit colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ground.console.levels import LEVEL_STYLES, Level, format_value, level
from ground.console.tables import BoundedTable
from interface.dictionary import ChannelDef, Dictionary


class TelemetryTable(BoundedTable):
    """Channel, value (coloured by its limit level) and unit of every channel of one packet.

    Updated from the latest values by :meth:`show`, which touches only the cells that changed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "plot", "Plot", tooltip="Plot the highlighted channel (again: unplot)"),
    ]

    class PlotRequested(Message):
        """The operator asked for a plot of ``channel`` (toggle)."""

        def __init__(self, channel: str) -> None:
            super().__init__()
            self.channel = channel

    def __init__(self, packet: str, channels: Sequence[ChannelDef], *, id: str | None = None):
        super().__init__(id=id)
        self.packet = packet
        self.channels = {c.name: c for c in channels}
        #: Channel -> the text and level it shows now (what the operator sees).
        self.shown: dict[str, tuple[str, Level]] = {}

    def on_mount(self) -> None:
        self.add_column("channel", key="channel", width=18)
        self.add_column("value", key="value", width=11)
        self.add_column("unit", key="unit", width=5)
        for name, channel in self.channels.items():
            short = name.partition(".")[2]
            self.add_row(Text(short), Text("-", justify="right"), Text(channel.unit), key=name)

    def show(self, values: Mapping[str, Any]) -> int:
        """Show the latest ``values``; returns how many cells changed."""
        changed = 0
        for name, channel in self.channels.items():
            if name not in values:
                continue
            value = values[name]
            now = (format_value(channel, value), level(channel, value))
            if self.shown.get(name) == now:
                continue
            self.shown[name] = now
            text, lvl = now
            self.update_cell(name, "value", Text(text, style=LEVEL_STYLES[lvl], justify="right"))
            changed += 1
        return changed

    def level_of(self, channel: str) -> Level | None:
        """The level shown for ``channel``, None before its first value."""
        shown = self.shown.get(channel)
        return None if shown is None else shown[1]

    def value_text(self, channel: str) -> str:
        """The value cell of ``channel`` as plain text."""
        return self.get_cell(channel, "value").plain

    def highlighted(self) -> str | None:
        """The channel under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def action_plot(self) -> None:
        channel = self.highlighted()
        if channel is not None:
            self.post_message(self.PlotRequested(channel))


def packets_of(dictionary: Dictionary) -> dict[str, list[ChannelDef]]:
    """The channels of each packet, board packets first and ``core`` last."""
    packets: dict[str, list[ChannelDef]] = {}
    for channel in dictionary.channels:
        packets.setdefault(channel.packet, []).append(channel)
    core = packets.pop("core", None)
    if core is not None:
        packets["core"] = core
    return packets
