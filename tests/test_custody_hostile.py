"""Hostile messages on a vehicle's samples/images topics (a broker without the shipped ACL, or
a vehicle account in the wrong hands) towards the ground recorder's archive and the console:
each is refused naming the problem, nothing is written outside the images directory, a forged
image never replaces a kept one, and chunks that never complete cannot fill the disk."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.mqtt.custody_link import chunk_payload, head_payload
from ground.archive import Archive
from ground.archive.custody import MAX_WAITING, images_dir_of
from ground.archive.images import MAX_IMAGE_BYTES, ChunkError, parse_chunk
from ground.client import GroundClient
from ground.console.samples_images import ImageStore
from ground.console.samples_model import MAX_SAMPLE_ENTRIES, SampleBook
from interface.catalog import DICTIONARY
from interface.custody import public_pem
from interface.topics import IMAGE_CHUNK_BYTES, Topics
from isru.broker import Mosquitto
from isru.samples_cli import main as samples_cli
from tests.custody_cases import build, collected
from tests.custody_feed import WAIT_S, feed, image, publish_feed, recording
from tests.test_console_samples_model import head, message

PNG = b"\x89PNG\r\n\x1a\n"
DEEP_SIG = b"0" * 128 + b'"}'
FIELDS = ["name", "sha256", "bytes", "media_type", "purpose", "sample", "chunk", "chunks", "data"]


def _chunk(name: str, data: bytes, index: int = 0, **changes: Any) -> bytes:
    meta = {
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "media_type": "image/png",
        "purpose": "site",
        "sample": None,
    }
    payload = chunk_payload(meta, index, data[index * IMAGE_CHUNK_BYTES :][:IMAGE_CHUNK_BYTES])
    document = json.loads(payload)
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: {**h, "entries": "x"}, "entries: Input should be a valid integer"),
        (lambda h: {**h, "samples": -1}, "samples: Input should be greater than or equal to 0"),
        (lambda h: {**h, "seq": 2.5}, "seq: Input should be a valid integer"),
        (lambda h: {**h, "hash": "../x"}, "hash: String should match pattern"),
        (lambda h: {**h, "public_key_pem": 5}, "public_key_pem: Input should be a valid string"),
        (lambda h: {**h, "extra": 1}, "extra: Extra inputs are not permitted"),
        (lambda h: {**h, "public_key_pem": "x"}, "public_key_pem: not an Ed25519 public key"),
        (lambda h: {**h, "signer": "00000000"}, "public_key_pem is key "),
        (lambda h: [h], "message: Input should be an object"),
    ],
)
def test_archive_custody_head_with_wrong_fields_is_rejected_naming_them(
    tmp_path: Path, change: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    data = feed(samples=1)
    with Archive(tmp_path / "a.db") as archive:
        found = archive.custody.add_head(data.vehicle, json.dumps(change(data.head)).encode())
        assert found is not None and found.startswith(f"samples/head: {problem}")
        assert archive.custody.head(data.vehicle) is None
        assert archive.custody.add_head(data.vehicle, head_payload(data.head)) is None
        assert archive.custody.head(data.vehicle) == data.head


def test_archive_custody_chunks_of_too_many_waiting_images_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ground.archive.custody.MAX_WAITING", 3)
    big = [image(n, 2 * IMAGE_CHUNK_BYTES) for n in range(5)]
    with Archive(tmp_path / "a.db") as archive:
        custody = archive.custody
        for n in range(3):  # three images begun, never completed
            assert custody.add_chunk("v", f"p{n}.png", _chunk(f"p{n}.png", big[n])) is None
        found = custody.add_chunk("v", "p3.png", _chunk("p3.png", big[3]))
        assert found == (
            "images/p3.png: 3 images of v already wait for chunks (isru samples images lists "
            "them): a new one is not kept"
        )
        assert custody.add_chunk("v", "p0.png", _chunk("p0.png", big[0], 1)) is None  # completes
        assert custody.add_chunk("v", "p3.png", _chunk("p3.png", big[3])) is None  # room again
        waiting = {s.meta.name for s in custody.images("v") if s.missing}
    assert waiting == {"p1.png", "p2.png", "p3.png"}
    assert MAX_WAITING * MAX_IMAGE_BYTES <= 1024 * 1024 * 1024  # at most 1 GiB waits


@pytest.mark.parametrize(
    ("topic_name", "payload", "problem"),
    [
        ("a.png", _chunk("a.png", PNG, bytes=MAX_IMAGE_BYTES + 1, chunks=172), "bytes: 8388609 "),
        ("a.png", _chunk("a.png", PNG, chunks=10**9), "chunks: 1000000000, but 8 bytes make 1"),
        ("a.png", _chunk("a.png", PNG, chunk=-1), "chunk: -1 is not from 0 to 0"),
        ("a.png", _chunk("a.png", PNG, purpose="../x"), "purpose: not a purpose"),
        ("a.png", _chunk("a.png", PNG, media_type="text/x\n\x1b[2J"), "media_type: not a media"),
        ("a.png", _chunk("a.png", PNG, sample="\x1b[2J"), "sample: not a sample id"),
        ("a.png", _chunk("a.png", PNG, bytes=True), "bytes: missing or not an integer"),
        ("a.png", b"\xff\xfe not json", "not JSON"),
        ("..", _chunk("..", PNG), "not an image name"),
    ],
)
def test_archive_custody_hostile_chunk_is_rejected_naming_the_problem(
    tmp_path: Path, topic_name: str, payload: bytes, problem: str
) -> None:
    with Archive(tmp_path / "a.db") as archive:
        found = archive.custody.add_chunk("v", topic_name, payload)
        assert found is not None and problem in found
        assert archive.custody.images("v") == []
    assert not images_dir_of(tmp_path / "a.db").exists()


def test_archive_custody_topic_name_with_control_characters_is_shown_escaped(
    tmp_path: Path,
) -> None:
    name = "\x1b[2J\x1b]0;owned\x07.png"
    with Archive(tmp_path / "a.db") as archive:
        found = archive.custody.add_chunk("v", name, _chunk(name, PNG))
    assert found is not None and "\x1b" not in found and "\\x1b[2J" in found


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(FIELDS),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    )
)
def test_parse_chunk_arbitrary_fields_raise_only_chunk_error(document: dict[str, Any]) -> None:
    try:
        chunk = parse_chunk(json.dumps(document).encode(), name="a.png")
    except ChunkError:
        return
    assert chunk.meta.name == "a.png" and 0 <= chunk.index < chunk.meta.chunks


async def test_recorder_hostile_messages_are_logged_and_the_real_ledger_still_kept(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    data = feed(samples=1)
    topics = Topics(data.vehicle)
    forged_key = Ed25519PrivateKey.generate().public_key()
    hostile = [
        (topics.samples_entry, b"not json"),
        (topics.samples_entry, b'{"entry":{},"sig":"' + b"0" * 128 + b'"}'),
        (topics.samples_head, json.dumps({**data.head, "seq": "x"}).encode()),
        (
            topics.samples_head,
            json.dumps({**data.head, "public_key_pem": public_pem(forged_key).decode()}).encode(),
        ),
        (topics.image("a.png"), _chunk("a.png", PNG, chunks=10**9)),
        (topics.image("a.png"), _chunk("a.png", PNG, sha256="0" * 64)),
        # nested too deeply for Python's json: once a poison message redelivered for ever
        (f"{topics.prefix}/tm/scoop", b"[" * 100_000),
        (topics.image("a.png"), b"[" * 100_000),
        (topics.samples_entry, b'{"entry":{"a":' + b"[" * 30_000 + b'},"sig":"' + DEEP_SIG),
    ]
    path = tmp_path / "archive.db"
    async with recording(mosquitto, path, data.vehicle) as rec:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            for topic, payload in hostile:
                await client.publish(topic, payload, qos=1)
            await publish_feed(client, data)
        await rec.until(lambda: rec.counts.get("images", 0) == 1)
        await rec.until(lambda: len(rec.logged) >= len(hostile))  # tm/: counted only
    problems = rec.logged[1:]
    assert [line.split(":")[0] for line in problems] == [
        "samples/entry",
        "samples/entry",
        "samples/head",
        "samples/head",
        "images/a.png",
        "image a.png",
        "images/a.png",
        "samples/entry",
    ]
    assert problems[-2:] == [
        "images/a.png: not JSON",
        "samples/entry: entry is not JSON: nested too deeply",
    ]
    with Archive(path, create=False) as archive:
        assert archive.custody.lines(data.vehicle) == data.lines()
        assert archive.custody.head(data.vehicle) == data.head
        kept = [s for s in archive.custody.images(data.vehicle) if s.file is not None]
    assert [(s.meta.name, s.file.read_bytes()) for s in kept if s.file] == list(data.images.items())


def test_console_image_of_a_kept_name_with_another_sha256_never_replaces_it(
    tmp_path: Path,
) -> None:
    store = ImageStore(tmp_path / "images")
    real, forged = PNG + b"real", PNG + b"forged"
    said = store.take("images/a.png", json.loads(_chunk("a.png", real)))
    assert said == (f"image a.png kept in {tmp_path / 'images'} ({len(real)} bytes)", False)
    said = store.take("images/a.png", json.loads(_chunk("a.png", forged)))
    forged_sha = hashlib.sha256(forged).hexdigest()
    assert said is not None and said[0].startswith(
        f"image a.png kept in {tmp_path / 'images' / forged_sha[:16]}"
    )
    assert (tmp_path / "images" / "a.png").read_bytes() == real
    real_path = store.path_of("a.png", hashlib.sha256(real).hexdigest(), "s-0001")
    assert real_path.read_bytes() == real
    assert store.path_of("a.png", forged_sha, "s-0001").read_bytes() == forged
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "a.png"]


async def test_ground_client_message_nested_too_deeply_is_skipped(mosquitto: Mosquitto) -> None:
    data = feed(samples=1)
    topics = Topics(data.vehicle)
    heard = asyncio.Event()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as vehicle:
        dictionary = json.dumps(DICTIONARY.export()).encode()
        await vehicle.publish(f"{topics.prefix}/dict", dictionary, qos=1, retain=True)
        async with GroundClient(broker=mosquitto.url, vehicle=data.vehicle) as ground:
            ground.listen(lambda suffix, _: heard.set() if suffix == "samples/head" else None)
            await vehicle.publish(topics.samples_head, b"[" * 100_000, qos=1)
            await vehicle.publish(topics.samples_head, head_payload(data.head), qos=1)
            async with asyncio.timeout(WAIT_S):
                await heard.wait()
            assert ground.samples_head == data.head


def test_console_samples_book_flood_naming_one_sample_stays_bounded() -> None:
    entries = build([("collect", None, collected())])
    book = SampleBook()
    book.take_head(head(entries))
    genuine = message(entries[0])
    for seq in range(1, MAX_SAMPLE_ENTRIES + 200):  # forged: unsigned lines of its sample
        book.take_entry({"entry": {**genuine["entry"], "seq": seq}, "sig": "0" * 128})
    assert book._count == MAX_SAMPLE_ENTRIES  # the oldest heard went, the genuine first
    assert sum(len(kept) for kept in book._seqs.values()) == MAX_SAMPLE_ENTRIES
    (row,) = book.rows()
    assert row.sample == entries[0].entry.sample and not row.ok
    assert "signature does not verify" in row.check


def test_samples_export_entry_forged_before_the_genuine_one_uses_the_genuine_fork(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, forger = feed(samples=1), feed(samples=1)  # same vehicle and sample, another key
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        assert archive.custody.add_entry(data.vehicle, forger.lines()[1]) is None  # came first
        found = [archive.custody.add_entry(data.vehicle, line) for line in data.lines()]
        assert found[1] is not None and found[1].startswith(f"fork: vehicle {data.vehicle} seq 1")
        assert archive.custody.add_head(data.vehicle, head_payload(data.head)) is None
        for name in data.images:
            for payload in data.chunks(name):
                assert archive.custody.add_chunk(data.vehicle, name, payload) is None
    pem = tmp_path / "vehicle.pem"
    pem.write_bytes(public_pem(data.key.public_key()))
    pkg, sample = tmp_path / "pkg", data.entries[0].entry.sample
    assert (
        samples_cli(["export", sample, str(pkg), "--archive", str(db), "--vehicle-key", str(pem)])
        == 0
    )
    said = capsys.readouterr().err
    assert "seq 1: the entry kept does not verify, a fork of it does: used" in said
    assert samples_cli(["verify", str(tmp_path / "pkg"), "--vehicle-key", str(pem)]) == 0
    lines = (tmp_path / "pkg" / "entries.jsonl").read_bytes().splitlines()
    assert lines == data.lines()
