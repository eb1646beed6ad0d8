"""The console's samples tab (ground/console/samples.py) on a real mosquitto: a stand-in vehicle
publishes its dictionary, the retained custody head and ledger lines signed with a fresh key,
and image chunks; a real GroundClient and the console take them. Opening an image goes to a
recorder, never to a viewer. The last test compares the tab with its SVG screenshot
(pytest-textual-snapshot) on a recorded feed, as tests/test_console_snapshots.py does."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiomqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.pilot import Pilot

import ground.console.status
from ground import GroundClient
from ground.console import ConsoleApp
from ground.console.samples import SamplesPanel
from ground.console.samples_images import CHUNK_BYTES
from interface.catalog import DICTIONARY
from interface.custody import Measured, SignedEntry, key_id, public_pem
from isru.broker import Mosquitto
from isru.testing import Sil
from tests.console_feed import NOW, recorded_client
from tests.custody_cases import LIFE, VEHICLE, VEHICLE_KEY, build, collected, image_bytes
from tests.test_console import until

SIZE = (120, 40)
Compare = Callable[..., bool]


def head(entries: Sequence[SignedEntry], key: Ed25519PrivateKey) -> bytes:
    """The retained ``samples/head`` payload after ``entries``."""
    public = key.public_key()
    document = {
        "vehicle": VEHICLE,
        "entries": len(entries),
        "seq": entries[-1].entry.seq if entries else None,
        "hash": entries[-1].hash if entries else None,
        "samples": len({signed.entry.sample for signed in entries}),
        "signer": key_id(public),
        "public_key_pem": public_pem(public).decode(),
    }
    return json.dumps(document).encode()


def tampered(signed: SignedEntry) -> bytes:
    """The ledger line of ``signed`` with its mass changed after signing."""
    document = json.loads(signed.line)
    document["entry"]["body"]["mass_g"] += 100
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def chunk_payloads(name: str, data: bytes, sample: str) -> list[bytes]:
    count = max(1, -(-len(data) // CHUNK_BYTES))
    meta = {
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "media_type": "image/png",
        "purpose": "scoop",
        "sample": sample,
        "chunks": count,
    }
    return [
        json.dumps(
            {
                **meta,
                "chunk": i,
                "data": base64.b64encode(data[i * CHUNK_BYTES :][:CHUNK_BYTES]).decode(),
            }
        ).encode()
        for i in range(count)
    ]


class Vehicle:
    """Publishes what a vehicle publishes, on ``isru/<VEHICLE>/...``."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client

    async def publish(self, suffix: str, payload: bytes, *, retain: bool = False) -> None:
        await self.client.publish(f"isru/{VEHICLE}/{suffix}", payload, qos=1, retain=retain)

    async def entries(self, lines: Sequence[bytes]) -> None:
        for line in lines:
            await self.publish("samples/entry", line.rstrip(b"\n"))


@pytest.fixture
async def vehicle(mosquitto: Mosquitto) -> AsyncIterator[Vehicle]:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="vehicle") as client:
        stand_in = Vehicle(client)
        await stand_in.publish("dict", json.dumps(DICTIONARY.export()).encode(), retain=True)
        status = {"state": "online", "mode": "SAFE", "dict_hash": DICTIONARY.hash}
        await stand_in.publish("status", json.dumps(status).encode(), retain=True)
        yield stand_in


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def row_texts(panel: SamplesPanel) -> list[list[str]]:
    table = panel.table
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.req("GND-23")
async def test_console_samples_tab_shows_live_entries_checked_against_the_head(
    mosquitto: Mosquitto, vehicle: Vehicle, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    weighed = Measured(mass_g=4.25, sigma_g=0.05, calibration="LC-2026-01")
    entries = build([*LIFE, ("collect", None, collected()), ("MEASURED", 1, weighed)], key)
    await vehicle.publish("samples/head", head(entries[:1], key), retain=True)  # before we join
    async with GroundClient(broker=mosquitto.url, vehicle=VEHICLE) as client:
        app = ConsoleApp(client=client)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("escape", "f7")
            panel = app.samples_panel
            await until(pilot, lambda: app.focused is panel.table, "the samples table focused")
            assert f"key {key_id(key.public_key())}" in panel.head_text().plain
            await vehicle.entries([signed.line for signed in entries[:5]])
            await until(pilot, lambda: "transferred" in str(row_texts(panel)), "the transfer")
            assert row_texts(panel) == [
                [
                    "rover1-0001",
                    "ok",
                    "12.3 ± 0.05 g",
                    "transferred",
                    "2 after.png",
                    "transferred to Regolith Buyers Ltd under C-2026-17",
                    "",
                ]
            ]
            await vehicle.entries([entries[5].line, tampered(entries[6])])
            await vehicle.publish("samples/head", head(entries, key), retain=True)
            await until(pilot, lambda: len(row_texts(panel)) == 2, "the second sample")
            await until(pilot, lambda: "signature" in row_texts(panel)[1][6], "the flag")
            second = row_texts(panel)[1]
            assert second[:6] == ["rover1-0002", "BAD", "-", "scoop", "-", "collected"]
            assert second[6].startswith("seq 6 (MEASURED #1 of rover1-0002): signature does not")
            await pilot.press("down")
            assert "rover1-0002: seq 6 (MEASURED #1" in panel.head_text().plain
            await vehicle.entries([entries[6].line])  # the real one: its mass, still flagged
            await until(pilot, lambda: row_texts(panel)[1][2] == "4.25 ± 0.05 g", "the mass")
            assert "signature does not verify" in row_texts(panel)[1][6]


@pytest.mark.req("GND-23")
async def test_console_samples_enter_opens_the_newest_image_once_it_is_kept(
    mosquitto: Mosquitto, vehicle: Vehicle, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    entries = build(LIFE[:3], key)
    images = tmp_path / "images"
    await vehicle.publish("samples/head", head(entries, key), retain=True)
    async with GroundClient(broker=mosquitto.url, vehicle=VEHICLE) as client:
        app = ConsoleApp(client=client, images_dir=images)
        opened: list[Path] = []
        app.samples_panel.opener = opened.append
        bar = app.command_bar
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("escape", "f7")
            await vehicle.entries([signed.line for signed in entries])
            panel = app.samples_panel
            await until(pilot, lambda: "2 after.png" in str(row_texts(panel)), "the images")
            await until(pilot, lambda: app.focused is panel.table, "the samples table focused")
            await pilot.press("enter")
            await until(pilot, lambda: "after.png" in bar.feedback_text, "no file said")
            assert bar.is_error and "no file for after.png in" in bar.feedback_text
            assert opened == []
            data = image_bytes("after.png") * 20000  # several chunks
            payloads = chunk_payloads("after.png", data, "rover1-0001")
            assert len(payloads) > 1
            for payload in reversed(payloads):
                await vehicle.publish("images/after.png", payload)
            await until(pilot, lambda: "kept" in bar.feedback_text, "the image kept")
            assert (images / "after.png").read_bytes() == data
            await pilot.press("enter")  # these bytes are not the ones its IMAGED entry names
            await until(pilot, lambda: "sha256 differs" in bar.feedback_text, "refused")
            assert opened == [] and bar.is_error
            right = image_bytes("after.png")
            for payload in chunk_payloads("after.png", right, "rover1-0001"):
                await vehicle.publish("images/after.png", payload)
            await until(pilot, lambda: f"({len(right)} bytes)" in bar.feedback_text, "the image")
            await pilot.press("o")  # the image kept first stays; this one goes beside it
            beside = images / hashlib.sha256(right).hexdigest()[:16] / "after.png"
            await until(pilot, lambda: opened == [beside], "the viewer called")
            assert bar.feedback_text == f"rover1-0001: opened {beside}"
            assert beside.read_bytes() == right and (images / "after.png").read_bytes() == data


@pytest.mark.req("GND-23")
async def test_console_samples_console_without_images_dir_says_so(
    mosquitto: Mosquitto, vehicle: Vehicle, key: Ed25519PrivateKey
) -> None:
    entries = build(LIFE[:3], key)
    await vehicle.publish("samples/head", head(entries, key), retain=True)
    async with GroundClient(broker=mosquitto.url, vehicle=VEHICLE) as client:
        app = ConsoleApp(client=client)
        app.samples_panel.opener = lambda path: pytest.fail(f"opened {path}")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("escape", "5")
            await vehicle.entries([signed.line for signed in entries])
            for payload in chunk_payloads("after.png", image_bytes("after.png"), "rover1-0001"):
                await vehicle.publish("images/after.png", payload)
            panel = app.samples_panel

            # Its IMAGED entry heard: Enter before it would say "no image", not "--images-dir".
            await until(pilot, lambda: "2 after.png" in str(row_texts(panel)), "the images")
            await until(pilot, lambda: app.focused is panel.table, "the samples table focused")
            await pilot.press("enter")
            bar = app.command_bar
            await until(pilot, lambda: "--images-dir" in bar.feedback_text, "no images dir said")


# --- the tab as an operator sees it ------------------------------------------------------


@pytest.mark.req("GND-23", "GND-08")
def test_console_samples_snapshot_of_the_tab(
    monkeypatch: pytest.MonkeyPatch, snap_compare: Compare
) -> None:
    monkeypatch.setattr(ground.console.status, "time", SimpleNamespace(monotonic=lambda: NOW))
    weighed = Measured(mass_g=4.25, sigma_g=0.05, calibration="LC-2026-01")
    entries = build([*LIFE, ("collect", None, collected()), ("MEASURED", 1, weighed)])
    client = recorded_client()
    client.samples_head = json.loads(head(entries, VEHICLE_KEY))
    app = ConsoleApp(client=client)
    for signed in entries[:6]:
        app.feed.samples.append(("samples/entry", json.loads(signed.line)))
    app.feed.samples.append(("samples/entry", json.loads(tampered(entries[6]))))

    async def samples_tab(pilot: Pilot[Any]) -> None:
        app.command_bar.line.cursor_blink = False
        await pilot.press("escape", "f7", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=samples_tab)


@pytest.mark.req("GND-23")
async def test_console_samples_sil_dig_shows_a_checked_sample_and_opens_its_image(
    sil: Sil, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    app = ConsoleApp(client=sil.client, images_dir=images)
    opened: list[Path] = []
    app.samples_panel.opener = opened.append
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "f7")
        panel = app.samples_panel
        assert panel.book.key is not None  # the retained head came before the console
        for name, args in (("MODE.IDLE", {}), ("SCOOP.HOME", {}), ("SCOOP.DIG", {"depth_mm": 30})):
            await sil.send_and_await(name, timeout=60, **args)
        sample = f"{sil.stack.vehicle}-0001"
        newest = f"{sample}-scoop-1.png"
        await until(pilot, lambda: f"2 {newest}" in str(row_texts(panel)), "the images", 60)
        await until(pilot, lambda: (images / newest).exists(), "the image file", 60)
        (row,) = row_texts(panel)
        assert row[:2] == [sample, "ok"] and row[3:] == ["scoop", f"2 {newest}", "collected", ""]
        await pilot.press("enter")
        await until(pilot, lambda: opened == [images / newest], "the viewer called")
        assert (images / newest).read_bytes().startswith(b"\x89PNG")
