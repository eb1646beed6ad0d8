"""The console's main screens as an operator sees them, compared with the SVG screenshots in
tests/__snapshots__/test_console_snapshots/ (pytest-textual-snapshot).

The console runs on a recorded moment of a vehicle (tests/console_feed.py): no broker, and the
status line's clock is held still, so every run draws the same screen. After a deliberate
change to the screen, look at the new screens and accept them with
``pytest tests/test_console_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

import ground.console.status
from ground.console import ConsoleApp
from ground.console.confirm import ConfirmScreen
from ground.console.help import HelpScreen
from tests.console_feed import NOW, recorded_acks, recorded_client

Compare = Callable[..., bool]
PAUSES = 200  # bounded wait for a screen: pauses of one message-loop turn each


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ConsoleApp:
    """The console on the recorded feed, its status line's clock held at NOW."""
    monkeypatch.setattr(ground.console.status, "time", SimpleNamespace(monotonic=lambda: NOW))
    console = ConsoleApp(client=recorded_client())
    for ack in recorded_acks():
        console.feed.acks.append(ack)
    return console


async def steady(pilot: Pilot[Any]) -> None:
    """No blinking cursor: the command line's cursor is drawn, always."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    app.command_bar.line.cursor_blink = False
    await pilot.pause()


async def until_screen(pilot: Pilot[Any], kind: type) -> None:
    for _ in range(PAUSES):
        if isinstance(pilot.app.screen, kind):
            return
        await pilot.pause()
    raise AssertionError(f"{kind.__name__} did not open")


@pytest.mark.req("GND-06", "GND-07")
def test_console_snapshot_main_screen_at_80x24(app: ConsoleApp, snap_compare: Compare) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady)


@pytest.mark.req("GND-07")
def test_console_snapshot_main_screen_at_120x40(app: ConsoleApp, snap_compare: Compare) -> None:
    assert snap_compare(app, terminal_size=(120, 40), run_before=steady)


@pytest.mark.req("GND-08")
def test_console_snapshot_help_lists_the_commands(app: ConsoleApp, snap_compare: Compare) -> None:
    async def help_open(pilot: Pilot[Any]) -> None:
        await steady(pilot)
        await pilot.press("f1")
        await until_screen(pilot, HelpScreen)

    assert snap_compare(app, terminal_size=(120, 40), run_before=help_open)


@pytest.mark.req("GND-05")
def test_console_snapshot_arm_fire_asks_to_confirm(app: ConsoleApp, snap_compare: Compare) -> None:
    async def dump_entered(pilot: Pilot[Any]) -> None:
        await steady(pilot)
        app.command_bar.line.value = "SCOOP.DUMP target=GROUND"
        await pilot.press("enter")
        await until_screen(pilot, ConfirmScreen)

    assert snap_compare(app, terminal_size=(80, 24), run_before=dump_entered)
