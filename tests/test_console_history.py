"""The console's command history (ground/console/history.py) in an app of its own: rows that
grow when a command fails, whatever the order of mounting, layout and acks."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ground import Ack
from ground.console.history import CommandHistory, EntryView
from tests.test_console import flat, until

REASON = "NOT_ALLOWED_IN_MODE: SCOOP.MOVE is not allowed in SAFE (allowed in: IDLE, OPERATING)"
TEXT = "SCOOP.MOVE joint=BOOM angle_deg=40.5 speed_dps=10.25"


class HistoryApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CommandHistory(id="history")


def failed(command_id: str) -> Ack:
    reason, detail = REASON.split(": ", 1)
    return Ack(command_id, "SCOOP.MOVE", "FAILED", "2026-12-07T08:00:00.000Z", reason, detail)


async def test_console_history_row_laid_out_with_a_layout_pending_grows_for_the_reason() -> None:
    # Under load the screen can lay the history out while the newest row still has a layout
    # request pending (from its first content, before it handled its mount), and the FAILED
    # ack can change the row before that request is served. Textual (8.2) counted the second
    # request as the first and kept the row's cached height: one line, the reason unseen.
    app = HistoryApp()
    async with app.run_test(size=(80, 24)) as pilot:
        history = app.query_one(CommandHistory)
        history.sent("c1", TEXT, "08:00:00")
        await pilot.pause()
        view = history.view("c1")
        assert view.size.height == 1
        view.refresh(layout=True)  # a request pending, as after the row's first content
        # The screen lays the history out meanwhile (private calls: they make the race).
        history._clear_arrangement_cache()
        app.screen._refresh_layout()
        history.ack(failed("c1"))
        await until(pilot, lambda: view.size.height == 3, "the row three lines high", 10)
        assert REASON in flat(view.lines())


async def test_console_history_newest_failed_row_is_scrolled_into_sight() -> None:
    app = HistoryApp()
    async with app.run_test(size=(80, 12)) as pilot:
        history = app.query_one(CommandHistory)
        for i in range(20):
            history.sent(f"c{i}", f"CORE.NOOP {i}", "08:00:00")
        await pilot.pause()
        history.ack(failed("c19"))
        view: EntryView = history.view("c19")
        await until(pilot, lambda: view.size.height == 3, "the row three lines high", 10)

        def at_end() -> bool:
            return history.scroll_y == history.max_scroll_y > 0

        await until(pilot, at_end, "the history scrolled to its end", 10)
        assert view.region.bottom <= history.region.bottom
