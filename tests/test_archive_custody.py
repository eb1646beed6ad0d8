"""Sample custody in the ground archive: the recorder keeps ledger entries byte for byte (a
replay's duplicates ignored, a fork kept aside and reported), the retained head, and images
put together from their chunks and checked; ``isru samples list|show|export|images
--archive`` read it, and what they export ``isru samples verify`` accepts."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.mqtt.custody_link import chunk_count, chunk_payload, head_payload
from ground.archive import Archive
from ground.archive.custody import images_dir_of
from ground.archive.images import Chunk, ImageProblem, Reassembler, assemble, parse_chunk
from ground.archive.schema import SCHEMA
from interface.custody import ChainWriter, Kind, Noted, public_pem
from interface.topics import IMAGE_CHUNK_BYTES, Topics
from isru.broker import Mosquitto
from isru.samples_cli import main as samples
from tests.custody_cases import T0
from tests.custody_feed import Feed, feed, publish_feed, recording

WAIT_S = 20.0


def fill(path: Path, data: Feed, *, images: bool = True) -> Archive:
    """An archive holding ``data`` as the recorder would keep it (no broker)."""
    archive = Archive(path)
    for line in data.lines():
        assert archive.custody.add_entry(data.vehicle, line) is None
    assert archive.custody.add_head(data.vehicle, head_payload(data.head)) is None
    if images:
        for name in data.images:
            for payload in data.chunks(name):
                assert archive.custody.add_chunk(data.vehicle, name, payload) is None
    return archive


# --- the recorder against a real broker ------------------------------------------------------


async def test_archive_custody_recorder_keeps_entries_head_and_images_byte_exact(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed()
    path = tmp_path / "archive.db"
    async with (
        recording(mosquitto, path, data.vehicle) as rec,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as vehicle,
    ):
        await publish_feed(vehicle, data)
        await rec.until(lambda: rec.counts.get("images") == len(data.images))
    with Archive(path, create=False) as archive:
        custody = archive.custody
        assert custody.lines(data.vehicle) == data.lines()
        assert custody.head(data.vehicle) == data.head
        states = custody.images(data.vehicle)
    assert [s.meta.name for s in states] == sorted(data.images)
    for state in states:
        assert state.file is not None and state.problem is None and not state.missing
        assert state.file.read_bytes() == data.images[state.meta.name]
        assert state.file.parent == images_dir_of(path) / data.vehicle


async def test_archive_custody_replayed_entries_are_ignored_and_a_fork_is_kept_aside(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(samples=1)
    # Another entry at seq 1, validly signed: the vehicle's chain forked (or was rewritten).
    writer = ChainWriter(data.key, data.vehicle, data.entries[:1])
    when = T0 + timedelta(hours=1)
    fork = writer.make(
        data.entries[0].entry.sample, Kind.NOTED, Noted(text="x"), mission=when, utc=when
    )
    path = tmp_path / "archive.db"
    topics = Topics(data.vehicle)
    async with (
        recording(mosquitto, path, data.vehicle) as rec,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as vehicle,
    ):
        await publish_feed(vehicle, data, images=False)
        for line in data.lines():  # the outbox's replay after an outage: the same lines again
            await vehicle.publish(topics.samples_entry, line, qos=1)
        await vehicle.publish(topics.samples_entry, fork.line.removesuffix(b"\n"), qos=1)
        await rec.until(lambda: rec.counts.get("forks") == 1)
    assert rec.counts["entries"] == len(data.entries)
    assert rec.counts["duplicates"] == len(data.entries)
    assert [line for line in rec.logged if line.startswith("fork")] == [
        f"fork: vehicle {data.vehicle} seq 1: entry {fork.hash[:12]} differs from the entry "
        f"{data.entries[1].hash[:12]} kept; kept aside"
    ]
    with Archive(path, create=False) as archive:
        assert archive.custody.lines(data.vehicle) == data.lines()  # the first one stands
        assert archive.custody.forks(data.vehicle) == [(1, fork.hash)]


async def test_archive_custody_missing_chunk_is_listed_until_it_is_sent_again(
    tmp_path: Path, mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    data = feed(samples=1)
    (name,) = data.images
    chunks = data.chunks(name)
    path = tmp_path / "archive.db"
    topics = Topics(data.vehicle)
    async with (
        recording(mosquitto, path, data.vehicle) as rec,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as vehicle,
    ):
        await publish_feed(vehicle, data, images=False)
        for payload in (chunks[2], chunks[0], chunks[0]):  # chunk 1 lost, one twice
            await vehicle.publish(topics.image(name), payload, qos=1)
        await rec.until(lambda: rec.counts.get("chunks") == 3)
        assert samples(["images", "--archive", str(path)]) == 1
        out = capsys.readouterr().out
        resend = f"CAMERA.SEND name={name} first_chunk=1 last_chunk=1"
        assert f"waiting: chunks 1 of 3 missing: {resend}" in out
        assert (
            samples(
                [
                    "export",
                    data.entries[0].entry.sample,
                    str(tmp_path / "p"),
                    "--archive",
                    str(path),
                ]
            )
            == 1
        )
        assert (
            f"image {name}: not in archive {path} ({data.vehicle}): chunks 1 missing"
            in capsys.readouterr().err
        )
        await vehicle.publish(topics.image(name), chunks[1], qos=1)  # CAMERA.SEND: again
        await rec.until(lambda: rec.counts.get("images") == 1)
    assert samples(["images", "--archive", str(path)]) == 0
    assert "kept:" in capsys.readouterr().out


# --- images: put together or refused ----------------------------------------------------


def test_archive_custody_image_whose_sha256_differs_is_reported_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = feed(samples=1)
    (name,) = data.images
    data.meta[name]["sha256"] = hashlib.sha256(b"another image").hexdigest()
    with fill(tmp_path / "a.db", data, images=False) as archive:
        chunks = data.chunks(name)
        problems = [archive.custody.add_chunk(data.vehicle, name, p) for p in chunks]
        assert problems[:-1] == [None, None]
        assert problems[-1] is not None
        assert f"image {name}: its 3 chunks make 120000 bytes with sha256 " in problems[-1]
        assert problems[-1].endswith(f"not the {data.meta[name]['sha256']} they name: not kept")
        (state,) = archive.custody.images(data.vehicle)
        assert state.file is None and state.problem == problems[-1]
    assert not (images_dir_of(tmp_path / "a.db") / data.vehicle / name).exists()
    assert samples(["images", "--archive", str(tmp_path / "a.db")]) == 1
    assert "bad: image" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.replace(b'"chunk":0', b'"chunk":7'), "chunk: 7 is not from 0 to 2"),
        (lambda d: d.replace(b'"chunks":3', b'"chunks":2'), "chunks: 2, but 120000 bytes make 3"),
        (
            lambda d: d.replace(b'"data":"', b'"data":"AAAA'),
            "data: chunk 0 holds 49155 bytes, not 49152",
        ),
        (lambda d: d.replace(b'"data":"', b'"data":"!'), "data: not base64"),
        (lambda d: d[:-1], "not JSON"),
        (lambda d: d.replace(b'"sha256":"', b'"sha256":"X'), "sha256: not 64 lowercase hex digits"),
    ],
)
def test_archive_custody_malformed_chunk_is_rejected_naming_the_problem(
    tmp_path: Path, change: Callable[[bytes], bytes], problem: str
) -> None:
    data = feed(samples=1)
    (name,) = data.images
    with Archive(tmp_path / "a.db") as archive:
        found = archive.custody.add_chunk(data.vehicle, name, change(data.chunks(name)[0]))
        assert found == f"images/{name}: {problem}"
        assert archive.custody.counts["rejected"] == 1
        assert archive.custody.images(data.vehicle) == []


def test_archive_custody_chunk_named_for_another_image_is_rejected(tmp_path: Path) -> None:
    data = feed(samples=1)
    (name,) = data.images
    with Archive(tmp_path / "a.db") as archive:
        found = archive.custody.add_chunk(data.vehicle, "other.png", data.chunks(name)[0])
    assert found == f"images/other.png: name: {name!r} is not the topic's image name 'other.png'"


# --- isru samples on the archive -----------------------------------------------------------


def test_archive_custody_list_show_export_make_packages_that_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = feed()
    db = tmp_path / "a.db"
    fill(db, data).close()
    assert samples(["list", "--archive", str(db)]) == 0
    captured = capsys.readouterr()
    ids = list(dict.fromkeys(s.entry.sample for s in data.entries))
    assert all(sample in captured.out for sample in ids)
    key_id = data.head["signer"]
    assert (
        f"vehicle key {key_id} from the head {data.vehicle} published (not pinned)" in captured.err
    )
    assert samples(["show", ids[0], "--archive", str(db), "--vehicle", data.vehicle]) == 0
    assert ids[0] in capsys.readouterr().out
    pem = tmp_path / "vehicle.pem"
    pem.write_bytes(public_pem(data.key.public_key()))
    for sample in ids:
        package = tmp_path / sample
        assert (
            samples(
                ["export", sample, str(package), "--archive", str(db), "--vehicle-key", str(pem)]
            )
            == 0
        )
        assert samples(["verify", str(package), "--vehicle-key", str(pem)]) == 0
        out = capsys.readouterr().out
        assert f"valid: sample {sample} of {data.vehicle}: 4 entries, 1 images" in out
        name = f"{sample}-scoop-1.png"
        assert (package / "images" / name).read_bytes() == data.images[name]


def test_archive_custody_export_under_another_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, other = feed(), feed()
    db = tmp_path / "a.db"
    fill(db, data).close()
    pem = tmp_path / "other.pem"
    pem.write_bytes(public_pem(other.key.public_key()))
    sample = data.entries[0].entry.sample
    code = samples(
        ["export", sample, str(tmp_path / "p"), "--archive", str(db), "--vehicle-key", str(pem)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "does not verify; nothing exported" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_archive_custody_ledger_source_needs_a_vehicle_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "l.jsonl").write_bytes(b"")
    assert samples(["list", "--ledger", str(tmp_path / "l.jsonl")]) == 2
    assert capsys.readouterr().err == "isru samples: --ledger needs --vehicle-key\n"


def test_archive_custody_archive_without_custody_data_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Archive(tmp_path / "a.db").close()
    assert samples(["list", "--archive", str(tmp_path / "a.db")]) == 1
    assert capsys.readouterr().err == (
        "isru samples: archive: holds no custody data: name the vehicle\n"
    )


def test_archive_custody_tables_are_added_to_an_archive_of_version_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(f"{SCHEMA} PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("v", 1, "2026-01-01T00:00:00.000000Z", 0, "INFO", "X", "t", "{}", 0),
    )
    db.commit()
    db.close()
    data = feed(samples=1)
    with fill(path, data, images=False) as archive:
        assert archive.custody.lines(data.vehicle) == data.lines()
        assert archive.counts("v")["events"] == 1
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == 2


# --- the chunk reassembler ----------------------------------------------------------------

CHUNKED = st.builds(
    lambda size, seed: random.Random(seed).randbytes(size),
    st.integers(0, 3 * IMAGE_CHUNK_BYTES + 10),
    st.integers(0, 2**32),
)


def _chunks(data: bytes) -> list[Chunk]:
    meta = {
        "name": "x.png",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "media_type": "image/png",
        "purpose": "site",
        "sample": None,
    }
    return [
        parse_chunk(
            chunk_payload(meta, n, data[n * IMAGE_CHUNK_BYTES : (n + 1) * IMAGE_CHUNK_BYTES]),
            name="x.png",
        )
        for n in range(chunk_count(len(data)))
    ]


@settings(max_examples=60, deadline=None)
@given(data=CHUNKED, order=st.randoms(use_true_random=False), extra=st.lists(st.integers(0, 99)))
def test_archive_custody_reassembler_any_order_and_duplicates_give_the_same_bytes(
    data: bytes, order: random.Random, extra: list[int]
) -> None:
    chunks = _chunks(data)
    arriving = chunks + [chunks[n % len(chunks)] for n in extra]
    order.shuffle(arriving)
    assembler = Reassembler()
    results = [assembler.add(chunk) for chunk in arriving]
    done = [n for n, result in enumerate(results) if result is not None]
    # complete at the last new chunk; the duplicates after it begin the image again
    assert results[done[0]] == data
    assert done[0] == max(arriving.index(chunk) for chunk in chunks)


@settings(max_examples=60, deadline=None)
@given(
    data=CHUNKED.filter(lambda d: len(d) > IMAGE_CHUNK_BYTES),  # two chunks or more
    order=st.randoms(use_true_random=False),
    lost=st.integers(0, 99),
)
def test_archive_custody_reassembler_names_a_missing_chunk(
    data: bytes, order: random.Random, lost: int
) -> None:
    chunks = _chunks(data)
    gone = lost % len(chunks)
    arriving = [chunk for chunk in chunks if chunk.index != gone]
    order.shuffle(arriving)
    assembler = Reassembler()
    assert [assembler.add(chunk) for chunk in arriving] == [None] * len(arriving)
    assert assembler.missing() == {"x.png": [gone]}
    parts = {chunk.index: chunk.data for chunk in arriving}
    with pytest.raises(ImageProblem, match=rf"chunks {gone} of {len(chunks)} missing"):
        assemble(chunks[0].meta, parts)


@settings(max_examples=60, deadline=None)
@given(data=CHUNKED.filter(len), flip=st.integers(0, 2**32))
def test_archive_custody_reassembler_names_bytes_that_are_not_the_image(
    data: bytes, flip: int
) -> None:
    chunks = _chunks(data)
    index = flip % len(data)
    bad = chunks[index // IMAGE_CHUNK_BYTES]
    at = index % IMAGE_CHUNK_BYTES
    changed = bad.data[:at] + bytes([bad.data[at] ^ 1]) + bad.data[at + 1 :]
    chunks[bad.index] = Chunk(bad.meta, bad.index, changed)
    assembler = Reassembler()
    with pytest.raises(ImageProblem, match=r"with sha256 [0-9a-f]{64}, not the .* they name"):
        for chunk in chunks:
            assembler.add(chunk)
