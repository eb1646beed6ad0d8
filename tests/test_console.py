"""The ground console (ground/console) over the real SIL stack, driven through Textual's pilot.

Every wait is a loop of ``pilot.pause`` bounded by a real-time timeout that checks what the
widgets show; nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget

from ground.console import ConsoleApp
from ground.console.confirm import ConfirmScreen
from ground.console.events import StartupBacklog
from ground.console.help import HelpScreen, argument_text, command_table
from ground.console.levels import format_value, level
from ground.console.parse import CommandLineError, complete, parse_command
from ground.messages import Event
from interface.catalog import DICTIONARY
from isru.testing import Sil

SIZE = (80, 24)
WAITING = "WAIT core.mode == OPERATING TIMEOUT 00:05:00\nR00:00:00 CORE.NOOP\n"


async def until(
    pilot: Pilot[int], ready: Callable[[], bool], what: str, within_s: float = 60.0
) -> None:
    """Let the app run until ``ready()`` holds; fail naming ``what`` after ``within_s`` s."""
    deadline = time.monotonic() + within_s
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:g} s waiting for {what}")
        await pilot.pause(0.02)


async def enter(pilot: Pilot[int], line: str, *, typed: bool = True) -> None:
    """Type ``line`` into the command line (key by key, or pasted) and press enter.

    Against a live SIL stack tests paste (``typed=False``): the pilot waits after every key
    until the app is idle, which it hardly is while telemetry streams, so typing costs
    seconds per key there; typing key by key is tested on apps without a stream."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    app.command_bar.line.focus()
    app.command_bar.line.value = "" if typed else line
    await pilot.press(*(line if typed else ""), "enter")


def shown(app: ConsoleApp, widget: Widget) -> list[str]:
    """The screen's text where ``widget`` is (what the operator sees of it), line by line."""
    region = widget.region.intersection(app.screen.region)
    strips = app.screen._compositor.render_strips()
    return [s.text[region.x : region.right] for s in strips[region.y : region.bottom]]


def flat(lines: list[str]) -> str:
    """Wrapped lines as one line of words."""
    return " ".join(" ".join(lines).split())


def stages(app: ConsoleApp, name: str) -> list[str]:
    entry = app.command_history.latest(name)
    return [] if entry is None else entry.stages


# --- pure parts: parsing, completion, levels ----------------------------------------------


def test_console_parse_command_types_arguments_from_the_dictionary() -> None:
    parsed = parse_command("scoop.move joint=boom angle_deg=40 speed_dps=10", DICTIONARY)
    assert parsed.name == "SCOOP.MOVE"
    assert parsed.args == {"joint": "BOOM", "angle_deg": 40.0, "speed_dps": 10.0}
    assert parse_command("ELEC.WATER open=yes", DICTIONARY).args == {"open": True}
    assert parse_command("ELEC.START current_a=6", DICTIONARY).hazardous
    assert not parse_command("ELEC.START current_a=2", DICTIONARY).hazardous


@pytest.mark.req("GND-03")
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("SCOOP.DIG depth_mm=500", "depth_mm"),
        ("SCOOP.DIG", "depth_mm: missing"),
        ("SCOOP.DIG depth_mm=deep", "not a number"),
        ("SCOOP.DIG depth=30", "not an argument"),
        ("SCOOP.DIGG", "did you mean SCOOP.DIG"),
        ("ELEC.VENT gas=N2", "not one of H2, O2"),
        ("CORE.NOOP extra", "name=value"),
        ('SEQ.START name="open', "cannot read"),
    ],
)
def test_console_parse_command_bad_line_names_the_problem(line: str, problem: str) -> None:
    with pytest.raises(CommandLineError, match=problem):
        parse_command(line, DICTIONARY)


@pytest.mark.req("GND-08")
@pytest.mark.parametrize(
    ("line", "completed"),
    [
        ("CORE.NO", "CORE.NOOP"),
        ("scoop.di", "SCOOP.DIG"),
        ("SCOOP.DIG", "SCOOP.DIG depth_mm="),
        ("SCOOP.MOVE joint=BOOM ", "SCOOP.MOVE joint=BOOM angle_deg="),
        ("SCOOP.MOVE j", "SCOOP.MOVE joint="),
        ("ELEC.VENT gas=O", "ELEC.VENT gas=O2"),
        (":pl", ":plot "),
        (":plot elec.o2", ":plot elec.o2_pressure_kpa"),
        ("NOPE.X ", None),
    ],
)
def test_console_complete_line_offers_names_arguments_and_choices(
    line: str, completed: str | None
) -> None:
    assert complete(line, DICTIONARY) == completed


@pytest.mark.req("GND-06")
def test_console_level_limits_colour_values_and_bools() -> None:
    h2 = DICTIONARY.channel_index["elec.h2_pressure_kpa"]
    stall = DICTIONARY.channel_index["scoop.boom_stall"]
    water = DICTIONARY.channel_index["elec.water_mass_g"]
    assert [level(h2, v) for v in (100.0, 185.0, 201.0)] == ["green", "yellow", "red"]
    assert [level(stall, v) for v in (False, True)] == ["green", "red"]
    assert [level(water, v) for v in (50.0, 20.0, 5.0)] == ["green", "yellow", "red"]
    assert level(DICTIONARY.channel_index["core.mode"], "SAFE") == "none"
    # What another broker account could put in a value: no level, and no exception.
    assert [level(h2, v) for v in (10**400, [1], None, "high")] == ["none"] * 4
    assert format_value(stall, True) == "true"


# --- the console on the SIL stack -------------------------------------------------------


@pytest.mark.req("GND-06", "GND-07")
async def test_console_status_bar_shows_online_and_safe(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        bar = app.status_bar
        await until(pilot, lambda: bar.state == "online" and bar.mode == "SAFE", "online, SAFE")
        await until(pilot, lambda: bar.heard_s is not None and bar.heard_s < 2, "last heard")
        text = bar.text().plain
        assert "ONLINE" in text and "SAFE" in text and "dict ok" in text
        assert sil.stack.broker in flat(shown(app, bar))  # on screen, whole
        table = app.table_of("elec.h2_pressure_kpa")
        await until(pilot, lambda: table.value_text("elec.h2_pressure_kpa") != "-", "telemetry")
        assert table.level_of("elec.h2_pressure_kpa") == "green"


@pytest.mark.req("GND-07")
async def test_console_layout_fits_80x24_with_every_panel_visible(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen.region
        for widget in (
            app.status_bar,
            app.active_table(),
            app.plot_panel,
            app.sequence_panel,
            app.command_history,
            app.event_log,
            app.command_bar.line,
        ):
            region = widget.region
            assert region.height >= 1 and region.width >= 20, widget
            assert screen.contains_region(region), widget
        assert app.active_table().region.height >= 6
        assert app.command_history.region.height >= 3 and app.event_log.region.height >= 3
        assert app.plot_panel.channels == [
            "elec.h2_pressure_kpa",
            "elec.cell_current_a",
            "scoop.load_mass_g",
        ]
        assert app.focused is app.command_bar.line


@pytest.mark.req("GND-04")
async def test_console_command_line_noop_reaches_completed(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "CORE.NOOP")
        await until(pilot, lambda: "COMPLETED" in stages(app, "CORE.NOOP"), "NOOP COMPLETED")
        entry = app.command_history.latest("CORE.NOOP")
        assert entry is not None
        assert entry.stages == ["ACCEPTED", "STARTED", "COMPLETED"]
        assert "ACCEPTED→STARTED→COMPLETED" in " ".join(app.command_history.view(entry.id).lines())
        assert app.command_bar.line.value == ""


async def test_console_command_line_tab_completes_and_up_recalls(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        line = app.command_bar.line
        await pilot.press(*"scoop.di")
        deadline = time.monotonic() + 5
        while line.value != "SCOOP.DIG" and time.monotonic() < deadline:
            await pilot.press("tab")  # the suggestion comes from a worker: until it is there
        assert line.value == "SCOOP.DIG"
        line.value = "SCOOP.DIG d"
        while line.value != "SCOOP.DIG depth_mm=" and time.monotonic() < deadline:
            await pilot.press("tab")
        assert line.value == "SCOOP.DIG depth_mm="
        line.value = ""
        await enter(pilot, "CORE.NOOP")
        await until(pilot, lambda: "COMPLETED" in stages(app, "CORE.NOOP"), "NOOP")
        await pilot.press("up")
        assert line.value == "CORE.NOOP"


@pytest.mark.req("GND-04", "GND-20")
async def test_console_command_line_refused_command_shows_whole_reason_and_command(
    sil: Sil,
) -> None:
    app = ConsoleApp(client=sil.client)
    long = "SCOOP.MOVE joint=BOOM angle_deg=40.5 speed_dps=10.25"  # 50 characters
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, long, typed=False)
        await until(pilot, lambda: "FAILED" in stages(app, "SCOOP.MOVE"), "SCOOP.MOVE FAILED")
        entry = app.command_history.latest("SCOOP.MOVE")
        assert entry is not None and entry.text == long
        assert entry.reason.startswith("NOT_ALLOWED_IN_MODE: ") and "SAFE" in entry.reason
        assert len(entry.reason) > 60  # more than fits beside the stages at 80 columns
        view = app.command_history.view(entry.id)
        # The reason is whole, wrapped under the command, once the row has grown to hold it
        # (a loaded machine lays it out a few frames later: until then the row is one line).
        await until(pilot, lambda: entry.reason in flat(shown(app, view)), "the reason shown")
        text = flat(shown(app, view))
        assert text == flat(view.lines())
        assert long in text and "ACCEPTED" not in text and "FAILED" in text


@pytest.mark.req("GND-03")
async def test_console_command_line_invalid_argument_shows_error_and_sends_nothing(
    sil: Sil,
) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        sent_before = len(sil.client.acks)
        await enter(pilot, "SCOOP.DIG depth_mm=500")
        bar = app.command_bar
        await until(pilot, lambda: bar.is_error, "the inline error")
        assert "depth_mm" in bar.feedback_text
        assert "depth_mm" in str(bar.feedback.render())
        assert bar.line.value == "SCOOP.DIG depth_mm=500"  # left for the operator to fix
        await pilot.pause(0.2)
        assert len(sil.client.acks) == sent_before
        assert not app.command_history.entries


@pytest.mark.req("GND-05")
@pytest.mark.sil(time_scale=10)
async def test_console_hazardous_command_confirmed_arms_and_fires(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "MODE.IDLE", typed=False)
        await until(pilot, lambda: "COMPLETED" in stages(app, "MODE.IDLE"), "MODE.IDLE")
        await enter(pilot, "SCOOP.HOME", typed=False)
        await until(pilot, lambda: "COMPLETED" in stages(app, "SCOOP.HOME"), "SCOOP.HOME", 30)
        await enter(pilot, "SCOOP.DUMP target=GROUND", typed=False)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "ARM and FIRE SCOOP.DUMP? y/n"
        assert app.command_history.latest("SCOOP.DUMP") is None  # nothing sent before y
        await pilot.press("y")
        await until(pilot, lambda: "COMPLETED" in stages(app, "CORE.ARM"), "CORE.ARM")
        await until(pilot, lambda: "COMPLETED" in stages(app, "SCOOP.DUMP"), "DUMP", 30)
        arm = app.command_history.latest("CORE.ARM")
        assert arm is not None and arm.text == "CORE.ARM command=SCOOP.DUMP"


@pytest.mark.req("GND-05")
async def test_console_hazardous_command_cancelled_sends_nothing(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "ELEC.VENT gas=H2")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dismissal")
        assert "not sent" in app.command_bar.feedback_text
        assert not app.command_history.entries


@pytest.mark.req("GND-06")
@pytest.mark.sil(time_scale=10)
async def test_console_telemetry_limit_red_shows_red_channel_and_event(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await sil.send_and_await("MODE.IDLE")
        await sil.send_and_await("ELEC.START", current_a=2.0)
        await sil.inject_fault("elec", "drift", sensor="h2_pressure", rate=50.0)
        await pilot.press("f3")
        table = app.table_of("elec.h2_pressure_kpa")
        seen: set[str] = set()

        def red_and_logged() -> bool:
            if table.level_of("elec.h2_pressure_kpa") == "red":
                style = str(table.get_cell("elec.h2_pressure_kpa", "value").style)
                assert "red" in style
                seen.add("red")
            if any("LIMIT_RED" in t and "h2_pressure" in t for t in app.event_log.texts()):
                seen.add("event")
            return seen == {"red", "event"}

        await until(pilot, red_and_logged, "h2 red and LIMIT_RED logged", 30)
        assert app.active_table() is table
        assert any("LIMIT_RED" in line.text for line in app.event_log.lines)


@pytest.mark.req("GND-08")
async def test_console_plot_command_adds_a_sparkline_and_key_toggles_it(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, ":plot elec.o2_pressure_kpa")
        await until(pilot, lambda: "elec.o2_pressure_kpa" in app.plot_panel.channels, "plot")
        plot = app.plot_panel.plot("elec.o2_pressure_kpa")
        assert plot is not None
        await until(pilot, lambda: len(plot.samples) >= 3, "samples")
        assert plot.sparkline.data and len(plot.sparkline.data) >= 3
        # What another broker account could put in a telemetry value is not plotted.
        for hostile in (float("inf"), float("nan"), 10**400, [1], {"x": 1}, "high", None):
            kept = list(plot.samples)
            plot.sample(hostile)
            assert list(plot.samples) == kept, hostile
        await enter(pilot, ":plot nonsense")
        assert app.command_bar.is_error
        await pilot.press("escape", "f6")  # leave the line; the core tab
        assert app.focused is app.tables["core"]
        await pilot.press("p")  # the highlighted channel: core.mode
        assert "core.mode" in app.plot_panel.channels


@pytest.mark.req("GND-20")
@pytest.mark.sil(time_scale=10)
async def test_console_sequence_panel_follows_upload_start_and_completion(
    sil: Sil, tmp_path: Path
) -> None:
    path = tmp_path / "twice.seq"
    path.write_text("R00:00:00 CORE.NOOP\nR00:00:01 CORE.NOOP\n")
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, f":seq upload {path}", typed=False)  # a long path
        await until(pilot, lambda: "COMPLETED" in stages(app, "SEQ.UPLOAD"), "the upload")
        upload = app.command_history.latest("SEQ.UPLOAD")
        assert upload is not None and upload.text == "SEQ.UPLOAD name=twice (2 lines)"
        panel = app.sequence_panel
        await until(pilot, lambda: panel.ready == ("twice", 2), "the upload in the panel")
        ready = flat(shown(app, panel))
        assert "seq twice uploaded, 2 steps" in ready and "READY" in ready
        assert "uploaded: twice" in ready
        await enter(pilot, ":seq start twice", typed=False)
        await until(pilot, lambda: panel.status.get("outcome") == "COMPLETED", "completion")
        text = panel.text().plain
        assert "twice" in text and "step 2/2" in text and "COMPLETED" in text
        assert panel.ready is None and "READY" not in text


@pytest.mark.req("GND-08")
async def test_console_keys_help_tabs_and_quit(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        assert app.active_table() is app.tables["scoop"]
        await pilot.press("escape", "2")
        assert app.active_table() is app.tables["elec"]
        await pilot.press("f4")
        assert app.active_table() is app.tables["oven"]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q", "slash")
        assert app.focused is app.command_bar.line
        await pilot.press("q")  # typed, not quit
        assert app.command_bar.line.value == "q"
        await pilot.press("escape", "q")
    assert app.return_code == 0


@pytest.mark.req("GND-09")
async def test_console_event_log_colours_by_severity_and_stays_bounded(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        for i in range(700):
            severity = ("INFO", "ERROR")[i % 2]
            app.event_log.add(Event("2026-01-01T00:00:00Z", i, severity, "X", f"e{i}"))
        await pilot.pause()
        assert len(app.event_log.entries) == 500
        assert app.event_log.texts()[-1].endswith("e699")
        assert len(app.event_log.lines) <= 1000


@pytest.mark.req("GND-07")
async def test_console_layout_at_120x40_gives_history_and_events_room(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        history, events = app.command_history.region, app.event_log.region
        assert history.height >= 6 and events.height >= 6, (history, events)
        assert app.active_table().region.height >= 15
        assert history.width == events.width == 120
        assert app.sequence_panel.region.height == 3


@pytest.mark.req("GND-08")
async def test_console_palette_lists_commands_and_puts_the_chosen_one_on_the_line(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"scoop.dig")
        palette = app.screen
        assert isinstance(palette, CommandPalette)

        def highlighted() -> str:
            options = palette.query_one(CommandList)
            index = options.highlighted
            return "" if index is None else str(options.get_option_at_index(index).prompt)

        await until(pilot, lambda: "SCOOP.DIG" in highlighted(), "SCOOP.DIG offered")
        await pilot.press("enter")
        line = app.command_bar.line
        await until(pilot, lambda: line.value == "SCOOP.DIG depth_mm=", "the command on the line")
        assert app.focused is line


@pytest.mark.req("GND-08")
def test_console_command_table_lists_every_command_with_arguments_and_hazard() -> None:
    console = Console(width=110, record=True)
    console.print(command_table(DICTIONARY))
    rows = {
        line.split()[0]: line.rstrip()
        for line in console.export_text().splitlines()
        if line.strip()
    }
    assert set(DICTIONARY.command_index) <= rows.keys()
    assert "depth_mm=<float 5..100 mm>" in rows["SCOOP.DIG"] and rows["SCOOP.DIG"].endswith("-")
    assert "joint=<BOOM|SCOOP>" in rows["SCOOP.MOVE"]
    assert rows["SCOOP.DUMP"].endswith("ARM+FIRE")
    assert rows["ELEC.START"].endswith("ARM+FIRE if current_a > 5 A")
    assert "open=<true|false>" in rows["ELEC.WATER"]
    assert "name=<text ≤64>" in rows["SEQ.START"]
    assert "channel=<scoop.boom_current_a|" in rows["LIMIT.ENABLE"]
    assert "(18 choices)" in argument_text(DICTIONARY.command_index["LIMIT.ENABLE"].args[0])
    assert "command=<SCOOP.DUMP|ELEC.START|" in rows["CORE.ARM"]  # 6 choices: 3 shown


@pytest.mark.req("GND-08")
async def test_console_help_screen_shows_every_command(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        table = app.screen.query_one("#help-commands", Widget)
        text = "\n".join(line.text for line in table.render_lines(table.region.reset_offset))
        for name in DICTIONARY.command_index:
            assert name in text, name
        assert "ARM+FIRE if current_a > 5 A" in text


@pytest.mark.req("GND-08")
async def test_console_quit_while_a_sequence_runs_asks_first(sil: Sil) -> None:
    await sil.client.upload_sequence("waiting", WAITING)
    await sil.client.start_sequence("waiting")
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "RUNNING" in app.sequence_panel.text().plain, "RUNNING")
        await pilot.press("escape", "q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Quit while sequence waiting runs? y/n"
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dismissal")
        assert app.is_running and app.command_bar.feedback_text == "not quitting"
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
    assert app.return_code == 0


@pytest.mark.req("GND-08")
async def test_console_quit_when_the_console_owns_the_sil_stack_asks_first(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client, owns_stack=True)
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, ":quit")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Quit and stop the SIL stack? y/n"
        assert "flight software, the simulator and the broker" in app.screen.detail
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dismissal")
        assert app.is_running
        await pilot.press("escape", "q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
    assert app.return_code == 0


def replayed_marks(events: list[Event]) -> list[bool]:
    backlog = StartupBacklog()
    return [backlog.shows_replayed(e) for e in events]


def ev(seq: int, event_id: str = "X", *, replayed: bool = False) -> Event:
    return Event("2026-01-01T00:00:00Z", seq, "INFO", event_id, "", replayed=replayed)


@pytest.mark.req("GND-20")
def test_console_startup_backlog_is_not_called_replayed() -> None:
    # What a clean start sends (captured): the connection live, then the events made before it.
    clean = [ev(2, "BROKER_CONNECTED"), ev(1, "BOOT", replayed=True), ev(3, "REPLAY_DONE")]
    assert replayed_marks(clean) == [False, False, False]
    # A broker outage later in the run: what waited in the outbox is replayed.
    outage = [
        *clean,
        ev(4, "MODE_CHANGED"),
        ev(7, "BROKER_CONNECTED"),
        ev(5, "BROKER_LOST", replayed=True),
        ev(6, "LIMIT_RED", replayed=True),
    ]
    assert replayed_marks(outage)[3:] == [False, False, True, True]
    # The broker was not there when the vehicle started: its backlog is an outage.
    late = [
        ev(3, "BROKER_CONNECTED"),
        ev(1, "BOOT", replayed=True),
        ev(2, "BROKER_LOST", replayed=True),
    ]
    assert replayed_marks(late) == [False, False, True]
    # The vehicle restarted while the console watched: a new run, a new start-up.
    restart = [*outage, ev(2, "BROKER_CONNECTED"), ev(1, "BOOT", replayed=True)]
    assert replayed_marks(restart)[-2:] == [False, False]
    # Messages of a previous run left in the outbox keep their (higher) numbers: replayed.
    leftover = [ev(2, "BROKER_CONNECTED"), ev(1, "BOOT", replayed=True), ev(40, replayed=True)]
    assert replayed_marks(leftover) == [False, False, True]


@pytest.mark.req("GND-20")
async def test_console_event_log_flight_restart_shows_no_replayed(sil: Sil) -> None:
    app = ConsoleApp(client=sil.client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status_bar.state == "online", "online")
        flight = sil.stack.flight
        assert flight is not None
        flight.send_signal(signal.SIGTERM)
        await asyncio.wait_for(flight.wait(), 30)
        await until(pilot, lambda: app.status_bar.state == "offline", "offline")
        await sil.stack.spawn_flight()  # the fixture stops it (sil.stack.flight)
        log = app.event_log

        def boot_shown() -> bool:
            boots = [i for i, e in enumerate(log.entries) if e.id == "BOOT"]
            return bool(boots) and log.entries[boots[-1]].args.get("boot_count") == 2

        await until(pilot, boot_shown, "the new run's BOOT", 60)
        boot = next(e for e in reversed(log.entries) if e.id == "BOOT")
        assert not boot.replayed  # the start-up backlog comes live (docs/mqtt.md)...
        text = next(t for t in reversed(log.texts()) if " BOOT " in t)
        assert "(replayed)" not in text  # ...and nothing was lost: not called replayed
