"""``isru sil``'s console keeps the vehicle's images (in the SIL's temporary directory, or
``--images-dir``), so that its samples tab can open a sample's image in a SIL rehearsal."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from isru.sil import main as sil_main
from isru.sil import parser
from isru.sil_session import CONSOLE_IMAGES, console_app
from isru.testing import Sil

SIZE = (120, 40)


async def _until(pilot: Pilot[int], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60.0
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def _options(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


async def test_sil_console_images_of_a_dig_open_from_the_samples_tab(
    sil: Sil, tmp_path: Path
) -> None:
    app = console_app(sil.client, sil.stack, _options())
    images = sil.stack.workdir / CONSOLE_IMAGES
    opened: list[Path] = []
    app.samples_panel.opener = opened.append
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "f7")
        for name, args in (("MODE.IDLE", {}), ("SCOOP.HOME", {}), ("SCOOP.DIG", {"depth_mm": 30})):
            await sil.send_and_await(name, timeout=60, **args)
        newest = images / f"{sil.stack.vehicle}-0001-scoop-1.png"
        await _until(pilot, newest.exists, "the scoop image in the SIL's directory")
        await pilot.press("enter")
        await _until(pilot, lambda: opened == [newest], "the viewer called with it")
    assert newest.read_bytes().startswith(b"\x89PNG")
    chosen = console_app(sil.client, sil.stack, _options("--images-dir", str(tmp_path)))
    assert chosen.samples_panel.images.directory == tmp_path


def test_sil_console_images_dir_with_headless_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert sil_main(["--headless", "--images-dir", str(tmp_path)]) == 2
    assert "--images-dir is for the console (not with --headless)" in capsys.readouterr().err
