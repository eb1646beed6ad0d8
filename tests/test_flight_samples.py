"""Sample custody in the flight software, against the simulated boards over real ptys and the
simulated camera server: the entries a dig, a weighing, a dump and a transfer append, the
images they take, the commands, and what happens without a key or a camera."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from flight.dispatcher import Reason, Stage
from interface.custody import (
    Collected,
    Kind,
    Measured,
    generate_signing_key_file,
    load_public_key,
    parse_body,
    public_pem,
    verify_ledger,
    verify_package,
)
from isru.samples_cli import main as samples_cli
from sim import SimBoards
from sim.camera import scene_of
from sim.camera_server import CameraServer
from tests.flightstack import Stack, flight_stack

SITE = {"frame": "MOON_ME", "lat_deg": -85.5, "lon_deg": 31.2, "height_m": -1200.0, "sigma_m": 30.0}
SIGMA_G = 0.3
SAMPLE_SEQ = Path(__file__).resolve().parents[1] / "sequences" / "sample.seq"


@asynccontextmanager
async def custody_stack(
    tmp_path: Path, *, key: bool = True, camera: bool = True
) -> AsyncIterator[Stack]:
    """The flight with a signing key, a site and the simulated camera (each optional)."""
    sims: list[SimBoards] = []
    server = CameraServer(lambda purpose: scene_of(sims[0], purpose, "testbed"))
    await server.start()
    key_file = tmp_path / "custody.key"
    if key and not key_file.exists():
        generate_signing_key_file(key_file)
    settings: dict[str, Any] = {"mass_sigma_g": SIGMA_G, "calibration": "LC-TEST-1", "site": SITE}
    if key:
        settings["key_file"] = str(key_file)
    overrides: dict[str, Any] = {"samples": settings}
    if camera:
        overrides["camera"] = {"url": server.url, "timeout_s": 10.0}
    try:
        async with flight_stack(tmp_path / "state", **overrides) as stack:
            sims.append(stack.sim)
            yield stack
    finally:
        await server.close()


def _ledger(tmp_path: Path) -> Path:
    return tmp_path / "state" / "custody.jsonl"


async def _entry(stack: Stack, kind: str, nth: int = 1) -> Any:
    """The ``nth`` SAMPLE_ENTRY of ``kind`` (waiting for it)."""
    seen: list[Any] = []

    def match(event: Any) -> bool:
        if event.args.get("kind") != kind:
            return False
        seen.append(event)
        return len(seen) >= nth

    for event in stack.events:
        if event.id == "SAMPLE_ENTRY" and match(event):
            return event
    return await stack.event("SAMPLE_ENTRY", match)


async def _dig(stack: Stack, depth_mm: float = 30.0) -> None:
    await stack.ok("MODE.IDLE")
    await stack.ok("SCOOP.HOME")
    await stack.ok("SCOOP.DIG", depth_mm=depth_mm)


async def _fail(stack: Stack, name: str, /, **args: Any) -> tuple[Reason | None, str]:
    acks = await stack.send(name, **args)
    assert acks[-1].stage is Stage.FAILED, acks[-1]
    return acks[-1].reason, acks[-1].detail


async def test_flight_samples_dig_collects_a_sample_with_its_site_stamps_and_images(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path) as stack:
        opened = await stack.event("CUSTODY_OPENED")
        assert opened.args["entries"] == 0
        await _dig(stack, 30.0)
        collected = await _entry(stack, "COLLECTED")
        imaged = await _entry(stack, "IMAGED")
        store = stack.app.samples.keeper
        assert collected.args["sample"] == imaged.args["sample"] == "testbed-0001"
        first = store.entries[0].entry
        body = parse_body(Kind.COLLECTED, first.body)
        assert isinstance(body, Collected)
        assert body.site.model_dump() == {**SITE, "source": "config", "offset": None}
        assert 20.0 <= body.depth_mm <= 40.0
        assert body.dig_start.mission < body.dig_end.mission <= first.mission
        assert [c.name for c in body.commands] == ["SCOOP.HOME", "SCOOP.DIG"]
        assert body.commands[-1].args == {"depth_mm": 30.0}
        assert body.sequence is None
        images = store.entries[1].entry.body["images"]
        assert [i["name"] for i in images] == [
            "testbed-0001-site-1.png",
            "testbed-0001-scoop-1.png",
        ]
        for image in images:
            data = (tmp_path / "state" / "images" / image["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == image["sha256"]
            assert len(data) == image["bytes"] and data.startswith(b"\x89PNG")
        stored = [e for e in stack.events if e.id == "IMAGE_STORED"]
        assert [e.args["purpose"] for e in stored] == ["site", "scoop"]
        assert stack.app.custody_head() == {
            "vehicle": "testbed",
            "entries": 2,
            "seq": 1,
            "hash": store.entries[1].hash,
            "samples": 1,
            "signer": first.signer,
            "public_key_pem": public_pem(load_public_key(tmp_path / "custody.key")).decode(),
        }


async def test_flight_samples_weigh_dump_transfer_then_export_verifies(tmp_path: Path) -> None:
    async with custody_stack(tmp_path) as stack:
        await _dig(stack, 30.0)
        await stack.ok("SCOOP.WEIGH")
        measured = await _entry(stack, "MEASURED")
        mass = stack.app.channels.values["scoop.sample_mass_g"]
        store = stack.app.samples.keeper
        body = store.records["testbed-0001"].measured
        assert isinstance(body, Measured)
        assert (body.mass_g, body.sigma_g, body.calibration) == (
            round(mass, 3),
            SIGMA_G,
            "LC-TEST-1",
        )
        assert 50.0 <= body.mass_g <= 500.0, measured.text
        await stack.ok("OVEN.LID", state="OPEN")
        await stack.ok("CORE.ARM", command="SCOOP.DUMP")
        await stack.ok("SCOOP.DUMP", target="OVEN")
        moved = await _entry(stack, "MOVED")
        assert moved.text.endswith("to oven: SCOOP.DUMP target=OVEN")
        await _entry(stack, "IMAGED", 2)  # the hopper's picture
        await stack.ok("SAMPLE.TRANSFER", sample="oven", buyer="ACME", contract="C-2026-7")
        transferred = await _entry(stack, "TRANSFERRED")
        await _entry(stack, "IMAGED", 3)  # after the transfer
        assert f"to ACME, {body.mass_g} g (1-sigma {SIGMA_G} g), contract C-2026-7" in (
            transferred.text
        )
        record = store.records["testbed-0001"]
        assert record.owner == "ACME" and record.location == "transferred"
        assert len(record.images) == 4
        ledger = _ledger(tmp_path)
    key = load_public_key(tmp_path / "custody.key")
    assert verify_ledger(ledger.read_bytes(), key, file=str(ledger)).problems == []
    pem = tmp_path / "vehicle.pub.pem"
    pem.write_bytes(public_pem(key))
    package = tmp_path / "pkg-0001"
    common = ["--ledger", str(ledger), "--vehicle-key", str(pem)]
    images = ["--images", str(tmp_path / "state" / "images")]
    assert samples_cli(["export", "testbed-0001", str(package), *common, *images]) == 0
    assert verify_package(package, vehicle_key=key).problems == []
    assert samples_cli(["verify", str(package), "--vehicle-key", str(pem)]) == 0


async def test_flight_samples_commands_move_note_capture_and_name_what_is_missing(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path) as stack:
        reason, detail = await _fail(stack, "SAMPLE.NOTE", sample="latest", text="hello")
        assert reason is Reason.INVALID_ARGUMENT
        assert detail == "sample latest: no sample has been collected yet"
        await _dig(stack, 20.0)
        await _entry(stack, "IMAGED")
        reason, detail = await _fail(
            stack, "SAMPLE.TRANSFER", sample="scoop", buyer="B", contract="C"
        )
        assert reason is Reason.INVALID_ARGUMENT
        assert detail == "sample testbed-0001: no mass measured yet (SCOOP.WEIGH it)"
        await stack.ok("SAMPLE.MOVE", sample="testbed-0001", location="stowed", note="bag 3")
        await stack.ok("SAMPLE.NOTE", sample="latest", text="grey, fine grained")
        await stack.ok("CAMERA.CAPTURE", purpose="inspect", sample="latest")
        await stack.ok("CAMERA.CAPTURE", purpose="horizon", sample="none")
        reason, detail = await _fail(stack, "CAMERA.CAPTURE", purpose="bad-name", sample="none")
        assert reason is Reason.INVALID_ARGUMENT and "purpose 'bad-name'" in detail
        reason, detail = await _fail(stack, "SAMPLE.MOVE", sample="scoop", location="oven", note="")
        assert detail == "sample scoop: no sample is in the scoop"
        kinds = [e.entry.kind.value for e in stack.app.samples.keeper.entries]
        assert kinds == ["COLLECTED", "IMAGED", "MOVED", "NOTED", "IMAGED"]
        assert (tmp_path / "state" / "images" / "unassigned-horizon-1.png").is_file()
        reason, detail = await _fail(
            stack, "CAMERA.SEND", name="unassigned-horizon-1.png", first_chunk=0, last_chunk=-1
        )
        assert (reason, detail) == (Reason.DEVICE_FAULT, "no downlink to send the image on")


async def test_flight_samples_without_a_key_custody_is_off_and_the_scoop_still_digs(
    tmp_path: Path,
) -> None:
    async with custody_stack(tmp_path, key=False) as stack:
        off = await stack.event("CUSTODY_UNAVAILABLE")
        assert off.text.startswith("custody off: samples.key_file is not set")
        await _dig(stack, 30.0)
        await stack.ok("SCOOP.WEIGH")
        reason, detail = await _fail(stack, "SAMPLE.NOTE", sample="latest", text="x")
        assert reason is Reason.DEVICE_FAULT
        assert detail.startswith("custody off: samples.key_file is not set")
        assert stack.app.custody_head() is None
        assert not _ledger(tmp_path).exists()
        assert "SAMPLE_ENTRY" not in stack.ids()


async def test_flight_samples_camera_failure_never_fails_the_dig(tmp_path: Path) -> None:
    async with custody_stack(tmp_path) as stack:
        await stack.event("CUSTODY_OPENED")
        stack.app.samples.camera.settings = stack.app.config.camera.model_copy(
            update={"url": "socket://127.0.0.1:9"}
        )
        await _dig(stack, 30.0)
        failed = await stack.event("CAMERA_FAILED")
        assert failed.args["purpose"] == "site" and "127.0.0.1:9" in failed.text
        await _entry(stack, "COLLECTED")
        await stack.event("CAMERA_FAILED", lambda e: e.args["purpose"] == "scoop")
        kinds = [e.entry.kind.value for e in stack.app.samples.keeper.entries]
        assert kinds == ["COLLECTED"]
        reason, _ = await _fail(stack, "CAMERA.CAPTURE", purpose="inspect", sample="scoop")
        assert reason is Reason.DEVICE_FAULT


@pytest.mark.parametrize("damage", ["corrupt", "torn"])
async def test_flight_samples_ledger_checked_at_boot(tmp_path: Path, damage: str) -> None:
    async with custody_stack(tmp_path, camera=False) as stack:
        await _dig(stack, 20.0)
        await _entry(stack, "COLLECTED")
    ledger = _ledger(tmp_path)
    good = ledger.read_bytes()
    if damage == "corrupt":
        ledger.write_bytes(good.replace(b'"depth_mm":', b'"depth_mm":1', 1))
    else:
        ledger.write_bytes(good + b'{"entry":{"body"')
    before = ledger.read_bytes()
    async with custody_stack(tmp_path, camera=False) as stack:
        if damage == "corrupt":
            off = await stack.event("CUSTODY_UNAVAILABLE")
            assert "does not verify" in off.text and "left as it is" in off.text
            reason, detail = await _fail(stack, "SAMPLE.NOTE", sample="latest", text="x")
            assert reason is Reason.DEVICE_FAULT and "does not verify" in detail
            await _dig(stack, 20.0)  # the scoop works; nothing appended
            assert ledger.read_bytes() == before
        else:
            torn = await stack.event("CUSTODY_TORN")
            assert f"torn last entry at byte {len(good)} (16 bytes" in torn.text
            opened = await stack.event("CUSTODY_OPENED")
            assert opened.args["entries"] == 1
            assert ledger.read_bytes() == good
            aside = tmp_path / "state" / f"custody.jsonl.torn-{len(good)}"
            assert aside.read_bytes() == b'{"entry":{"body"'


async def test_flight_samples_sequence_sample_seq_from_dig_to_transfer(tmp_path: Path) -> None:
    """sequences/sample.seq: one sample of 50 to 500 g, pictured, weighed, into the oven,
    noted and transferred; its COLLECTED entry names the sequence by its text's hash."""
    text = SAMPLE_SEQ.read_text()
    async with custody_stack(tmp_path) as stack:
        await stack.event("CUSTODY_OPENED")
        stack.app.start_sequence(text, name="sample")
        await stack.event("SEQ_COMPLETED")
        await _entry(stack, "IMAGED", 4)  # the transfer's picture, the last entry
        store = stack.app.samples.keeper
        kinds = [e.entry.kind.value for e in store.entries]
        assert kinds == [
            "COLLECTED",
            "IMAGED",
            "MEASURED",
            "IMAGED",
            "MOVED",
            "IMAGED",
            "NOTED",
            "TRANSFERRED",
            "IMAGED",
        ]
        record = store.records["testbed-0001"]
        assert record.collected is not None and record.collected.sequence is not None
        assert record.collected.sequence.name == "sample"
        assert record.collected.sequence.sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert record.measured is not None and 50.0 <= record.measured.mass_g <= 500.0
        assert (record.owner, record.transfers[-1].contract) == ("ACME_Regolith", "C-2026-0042")
        assert stack.app.modes.mode.value == "SAFE"


class RecordingSink:
    """A downlink that keeps what the flight hands it."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.images: list[tuple[Path, dict[str, Any]]] = []
        self.heads: list[dict[str, Any]] = []

    def publish_entry(self, line: bytes) -> None:
        self.lines.append(line)

    def publish_image(self, path: Path, meta: dict[str, Any], chunks: range | None = None) -> None:
        self.images.append((path, meta))

    def publish_head(self, head: dict[str, Any]) -> None:
        self.heads.append(head)


async def test_flight_samples_sink_gets_every_line_image_and_head(tmp_path: Path) -> None:
    sink = RecordingSink()
    async with custody_stack(tmp_path) as stack:
        await stack.event("CUSTODY_OPENED")
        stack.app.attach_custody(sink)
        assert sink.heads == [stack.app.custody_head()]
        await _dig(stack, 20.0)
        await _entry(stack, "IMAGED")
        await stack.ok("CAMERA.SEND", name="testbed-0001-scoop-1.png", first_chunk=0, last_chunk=-1)
        head = stack.app.custody_head()
    ledger = _ledger(tmp_path).read_bytes()
    assert b"".join(line + b"\n" for line in sink.lines) == ledger
    assert sink.heads[-1] == head and head is not None and head["entries"] == 2
    names = [meta["name"] for _, meta in sink.images]
    site, scoop = "testbed-0001-site-1.png", "testbed-0001-scoop-1.png"
    assert names == [site, scoop, scoop]  # the last one sent again by CAMERA.SEND
    path, meta = sink.images[-1]
    data = path.read_bytes()
    assert meta == {
        "name": "testbed-0001-scoop-1.png",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "media_type": "image/png",
        "purpose": "scoop",
        "sample": "testbed-0001",
    }
