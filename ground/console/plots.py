"""Small live plots: one sparkline per chosen channel, sampled on the console's timer."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline

from ground.console.levels import as_number, format_value
from interface.dictionary import ChannelDef

#: Samples kept per plot: 30 s at the console's 10 Hz timer.
SAMPLES = 300
MAX_PLOTS = 4


def plot_id(channel: str) -> str:
    return "plot-" + channel.replace(".", "-")


class Plot(Vertical):
    """A label with the channel's latest value over a sparkline of its recent samples."""

    DEFAULT_CSS = """
    Plot {
        height: 2;
    }
    Plot > Label {
        width: 1fr;
        text-style: bold;
    }
    """

    def __init__(self, channel: ChannelDef) -> None:
        super().__init__(id=plot_id(channel.name))
        self.channel = channel
        self.samples: deque[float] = deque(maxlen=SAMPLES)
        self.label = Label(channel.name)
        self.sparkline = Sparkline([])

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.sparkline

    def sample(self, value: Any) -> None:
        """Add one sample (finite numbers and bools only: a sparkline cannot scale anything
        else, and a message from another broker account may carry anything) and show it."""
        number = as_number(value)
        if number is None or not math.isfinite(number):
            return
        self.samples.append(number)
        unit = f" {self.channel.unit}" if self.channel.unit else ""
        self.label.update(f"{self.channel.name} {format_value(self.channel, value)}{unit}")
        self.sparkline.data = list(self.samples)


class PlotPanel(Vertical):
    """Up to :data:`MAX_PLOTS` plots; adding one more drops the oldest."""

    DEFAULT_CSS = """
    PlotPanel {
        height: auto;
    }
    """

    def __init__(self, channels: Mapping[str, ChannelDef], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.known = channels
        self._plots: dict[str, Plot] = {}

    @property
    def channels(self) -> list[str]:
        """The plotted channels, oldest first."""
        return list(self._plots)

    def plot(self, channel: str) -> Plot | None:
        return self._plots.get(channel)

    def add(self, channel: str) -> None:
        """Plot ``channel``; KeyError if the dictionary has no such channel."""
        if channel in self._plots:
            return
        definition = self.known[channel]
        if len(self._plots) >= MAX_PLOTS:
            self.remove_plot(next(iter(self._plots)))
        plot = self._plots[channel] = Plot(definition)
        self.mount(plot)

    def remove_plot(self, channel: str) -> bool:
        """Stop plotting ``channel``; False if it was not plotted."""
        plot = self._plots.pop(channel, None)
        if plot is None:
            return False
        plot.remove()
        return True

    def toggle(self, channel: str) -> bool:
        """Plot or unplot ``channel``; True when it is now plotted."""
        if self.remove_plot(channel):
            return False
        self.add(channel)
        return True

    def sample(self, values: Mapping[str, Any]) -> None:
        """Take one sample of every plotted channel from the latest values."""
        for name, plot in self._plots.items():
            if name in values:
                plot.sample(values[name])
