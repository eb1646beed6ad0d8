"""The operators' console: one screen over a connected :class:`ground.GroundClient`.

The app never owns the connection: tests hand it a connected client, and
:func:`ground.console.run_console` owns one in real use. Messages only touch bounded queues
and flags (a listener on the client); the widgets are updated on a timer (10 Hz) from the
client's latest values, so a fast telemetry stream cannot flood the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, TabbedContent, TabPane

from ground import GroundClient
from ground.console.command_line import CommandBar
from ground.console.commanding import Commander
from ground.console.confirm import ConfirmScreen, quit_question
from ground.console.events import MAX_EVENTS, EventLog
from ground.console.feed import Feed
from ground.console.help import HelpScreen
from ground.console.history import CommandHistory
from ground.console.local_verbs import run_local_verb
from ground.console.palette import DictionaryCommands
from ground.console.parse import CommandLineError
from ground.console.plots import PlotPanel
from ground.console.samples import SamplesPanel, SamplesTable
from ground.console.sequence import SequencePanel
from ground.console.status import StatusBar, dictionary_state
from ground.console.telemetry import TelemetryTable, packets_of
from interface.dictionary import CommandDef, Dictionary

DEFAULT_PLOTS = ("elec.h2_pressure_kpa", "elec.cell_current_a", "scoop.load_mass_g")
REFRESH_HZ = 10.0


class ConsoleApp(App[int]):
    """Status line, telemetry tabs, plots, sequence, command history, events, command line."""

    TITLE = "isru ground"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "tab(0)", "Scoop"),
        Binding("f3", "tab(1)", "Elec"),
        Binding("f4", "tab(2)", "Oven"),
        Binding("f6", "tab(3)", "Core"),
        Binding("f7", "tab(4)", "Samples"),
        Binding("1", "tab(0)", show=False),
        Binding("2", "tab(1)", show=False),
        Binding("3", "tab(2)", show=False),
        Binding("4", "tab(3)", show=False),
        Binding("5", "tab(4)", show=False),
        Binding("f5", "plot_highlighted", "Plot"),
        Binding("slash", "command('')", "Command", show=False),
        Binding("colon", "command(':')", show=False),
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    #: ctrl+p: the dictionary's commands (searched by name) in Textual's command palette.
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {DictionaryCommands}

    # The telemetry and the side panel take 3/5 of what the status line, the command line and
    # the footer leave; the command history and the event log 1/5 each (at 80x24: 12, 4, 4
    # rows; at 120x40: 22, 7, 7).
    CSS = """
    #main {
        height: 3fr;
        min-height: 8;
    }
    #boards {
        width: 1fr;
        height: 1fr;
    }
    #boards ContentSwitcher, #boards TabPane {
        height: 1fr;
    }
    TelemetryTable {
        height: 1fr;
    }
    #side {
        width: 32;
        height: 1fr;
        border-left: solid $primary-darken-2;
    }
    #plots {
        height: 1fr;
    }
    """

    def __init__(
        self,
        *,
        client: GroundClient,
        refresh_hz: float = REFRESH_HZ,
        plots: Sequence[str] = DEFAULT_PLOTS,
        owns_stack: bool = False,
        images_dir: Path | None = None,
    ) -> None:
        """``owns_stack``: quitting the console stops the vehicle too (``isru sil``), so the
        console asks first. ``images_dir``: keep the vehicle's images there (else none)."""
        super().__init__()
        self.owns_stack = owns_stack
        self.client = client
        self.dictionary: Dictionary = client.dictionary or client.expected
        self.refresh_hz = refresh_hz
        self.initial_plots = [p for p in plots if p in self.dictionary.channel_index]
        self.packets = packets_of(self.dictionary)
        self.status_bar = StatusBar(id="status")
        self.tables = {
            packet: TelemetryTable(packet, channels, id=f"tm-{packet}")
            for packet, channels in self.packets.items()
        }
        self.plot_panel = PlotPanel(self.dictionary.channel_index, id="plots")
        self.sequence_panel = SequencePanel(id="sequence")
        self.command_history = CommandHistory(id="history")
        self.event_log = EventLog(id="events")
        self.samples_panel = SamplesPanel(images_dir=images_dir, id="samples")
        self.command_bar = CommandBar(self.dictionary, id="command")
        self.commander = Commander(
            client,
            self.dictionary,
            self.command_history,
            self.command_bar,
            on_uploaded=self.sequence_panel.uploaded,
        )
        self.feed = Feed(client, images=images_dir is not None)
        self._seq_shown: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield self.status_bar
        with Horizontal(id="main"):
            with TabbedContent(id="boards"):
                for packet, table in self.tables.items():
                    with TabPane(packet, id=f"tab-{packet}"):
                        yield table
                with TabPane("samples", id="tab-samples"):
                    yield self.samples_panel
            with Vertical(id="side"):
                yield self.plot_panel
                yield self.sequence_panel
        yield self.command_history
        yield self.event_log
        yield self.command_bar
        yield Footer()

    def on_mount(self) -> None:
        for event in list(self.client.events)[-MAX_EVENTS:]:
            self.event_log.add(event)
        self.feed.attach()
        self.feed.samples.appendleft(("samples/head", self.client.samples_head))
        for channel in self.initial_plots:
            self.plot_panel.add(channel)
        self.refresh_now()
        self.set_interval(1 / self.refresh_hz, self.refresh_now)
        self.command_bar.line.focus()

    def on_unmount(self) -> None:
        self.feed.detach()

    def on_command_bar_entered(self, message: CommandBar.Entered) -> None:
        parsed = message.parsed
        if dictionary_state(self.client) == "mismatch":
            self.command_bar.show(
                f"{parsed.name} not sent: the vehicle runs another dictionary (watch only)",
                error=True,
            )
            return
        if not parsed.hazardous:
            self.run_worker(self.commander.send(parsed), group="commands", exit_on_error=False)
            return

        def answered(fire: bool | None) -> None:
            if fire:
                self.run_worker(
                    self.commander.arm_and_fire(parsed), group="commands", exit_on_error=False
                )
            else:
                self.command_bar.show(f"{parsed.name} not sent (cancelled)")

        question = f"ARM and FIRE {parsed.name}? y/n"
        self.push_screen(ConfirmScreen(question, parsed.text()), answered)

    def on_command_bar_local(self, message: CommandBar.Local) -> None:
        verb, *rest = message.words or [""]
        try:
            run_local_verb(self, verb, rest)
        except (CommandLineError, OSError) as exc:
            self.command_bar.show(str(exc), error=True)

    def on_samples_panel_said(self, message: SamplesPanel.Said) -> None:
        self.command_bar.show(message.text, error=message.error)

    def on_telemetry_table_plot_requested(self, message: TelemetryTable.PlotRequested) -> None:
        self._toggle_plot(message.channel)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.dictionary))

    async def action_quit(self) -> None:
        """Quit, asking first while a sequence runs or when quitting stops the SIL stack."""
        question = self.quit_question()
        if question is None:
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmScreen):
            return  # a question is open already: answer it first

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit(0)
            else:
                self.command_bar.show("not quitting")

        self.push_screen(ConfirmScreen(*question, keys="y: quit    n / escape: stay"), answered)

    def quit_question(self) -> tuple[str, str] | None:
        """The question and its detail to ask before quitting, or None to quit at once."""
        return quit_question(self.client.sequence_status, owns_stack=self.owns_stack)

    def action_tab(self, index: int) -> None:
        tabs = [*self.packets, "samples"]
        if 0 <= index < len(tabs):
            self.query_one(TabbedContent).active = f"tab-{tabs[index]}"
            if self.focused is not self.command_bar.line:
                # The table that had focus is hidden now: its successor takes it.
                self.call_after_refresh(self.visible_table().focus)

    def action_command(self, prefix: str) -> None:
        line = self.command_bar.line
        line.focus()
        if prefix and not line.value:
            line.value = prefix
            line.cursor_position = len(prefix)

    def type_command(self, command: CommandDef) -> None:
        """Put ``command`` (and its first argument's ``name=``) on the command line."""
        line = self.command_bar.line
        first = f" {command.args[0].name}=" if command.args else ""
        line.value = command.name + first
        line.cursor_position = len(line.value)
        line.focus()

    def action_focus_telemetry(self) -> None:
        self.visible_table().focus()

    def action_plot_highlighted(self) -> None:
        channel = self.active_table().highlighted()
        if channel is not None:
            self._toggle_plot(channel)

    # --- public ------------------------------------------------------------------------

    def active_table(self) -> TelemetryTable:
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        return self.tables.get(active) or next(iter(self.tables.values()))

    def visible_table(self) -> TelemetryTable | SamplesTable:
        samples = self.query_one(TabbedContent).active == "tab-samples"
        return self.samples_panel.table if samples else self.active_table()

    def table_of(self, channel: str) -> TelemetryTable:
        return self.tables[self.dictionary.channel_index[channel].packet]

    def refresh_now(self) -> None:
        """Bring every widget up to the client's latest state (the timer's work)."""
        client = self.client
        self.status_bar.follow(client)
        if client.sequence_status is not self._seq_shown:
            self._seq_shown = client.sequence_status
            self.sequence_panel.follow(dict(client.sequence_status))
        if self.feed.take_telemetry():
            for table in self.tables.values():
                table.show(client.values)
            self.plot_panel.sample(client.values)
        while self.feed.events:
            self.event_log.add(self.feed.events.popleft())
        while self.feed.acks:
            self.command_history.ack(self.feed.acks.popleft())
        if self.feed.samples or self.feed.chunks:
            self.samples_panel.take([*self.feed.samples, *self.feed.chunks])
            self.feed.samples.clear()
            self.feed.chunks.clear()

    # --- internals ---------------------------------------------------------------------

    def _toggle_plot(self, channel: str) -> None:
        plotted = self.plot_panel.toggle(channel)
        self.command_bar.show(f"{channel} {'plotted' if plotted else 'no longer plotted'}")
