"""The samples tab's data without widgets: rows from custody entries heard in any order, each
sample checked against the head's key (ground/console/samples_model.py), and image files made
from their chunks (ground/console/samples_images.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.console.samples import cells
from ground.console.samples_images import CHUNK_BYTES, ImageStore, ImageUnavailable, system_viewer
from ground.console.samples_model import ENTRY, HEAD, SampleBook, SampleRow
from interface.custody import ChainWriter, Kind, Measured, SignedEntry, key_id, public_pem
from tests.custody_cases import LIFE, OTHER_KEY, T0, VEHICLE, VEHICLE_KEY, build, collected, ops


def head(entries: Sequence[SignedEntry], key: Ed25519PrivateKey = VEHICLE_KEY) -> dict[str, Any]:
    """The ``samples/head`` a vehicle publishes after ``entries``."""
    public = key.public_key()
    last = entries[-1] if entries else None
    return {
        "vehicle": VEHICLE,
        "entries": len(entries),
        "seq": None if last is None else last.entry.seq,
        "hash": None if last is None else last.hash,
        "samples": len({signed.entry.sample for signed in entries}),
        "signer": key_id(public),
        "public_key_pem": public_pem(public).decode(),
    }


def message(signed: SignedEntry) -> dict[str, Any]:
    """The ``samples/entry`` message as the console gets it (parsed)."""
    document: dict[str, Any] = json.loads(signed.line)
    return document


def book_of(messages: Sequence[tuple[str, dict[str, Any]]]) -> SampleBook:
    book = SampleBook()
    for suffix, document in messages:
        assert book.take(suffix, document)
    return book


def checked(entries: Sequence[SignedEntry]) -> list[SampleRow]:
    """The rows of entries heard in order, after the head."""
    return book_of([(HEAD, head(entries))] + [(ENTRY, message(e)) for e in entries]).rows()


def test_console_samples_row_shows_mass_location_images_and_custody() -> None:
    more = [("collect", None, collected()), ("MOVED", 1, {"location": "oven"})]
    rows = checked(build([*LIFE, *more]))
    assert [row.sample for row in rows] == ["rover1-0001", "rover1-0002"]
    sold, dug = rows
    assert (sold.mass, sold.location, sold.images, sold.newest_image) == (
        "12.3 ± 0.05 g",
        "transferred",
        2,
        "after.png",
    )
    assert sold.custody == "transferred to Regolith Buyers Ltd under C-2026-17"
    assert (dug.mass, dug.location, dug.images, dug.custody) == ("-", "oven", 0, "collected")
    assert sold.ok and dug.ok


def test_console_samples_latest_measurement_stands() -> None:
    again = ("MEASURED", 0, Measured(mass_g=11.9, sigma_g=0.2, calibration="LC-2026-02"))
    (row,) = checked(build([*LIFE[:2], again]))
    assert row.mass == "11.9 ± 0.2 g"


@pytest.mark.req("GND-23")
@settings(max_examples=40, deadline=None)
@given(ops=ops, data=st.data())
def test_console_samples_any_order_of_arrival_gives_the_same_rows(ops: Any, data: Any) -> None:
    entries = build(ops)
    in_order = checked(entries)
    messages = [(ENTRY, message(e)) for e in entries]
    messages += data.draw(st.lists(st.sampled_from(messages), max_size=3))  # delivered again
    messages.append((HEAD, head(entries)))
    shuffled = data.draw(st.permutations(messages))
    assert book_of(shuffled).rows() == in_order
    assert all(row.ok for row in in_order)


TAMPERS = {
    "mass_g": lambda body: {**body, "mass_g": body["mass_g"] + 1},
    "calibration": lambda body: {**body, "calibration": body["calibration"] + "x"},
}


@pytest.mark.req("GND-23")
@settings(max_examples=25, deadline=None)
@given(ops=ops, data=st.data())
def test_console_samples_tampered_entry_is_flagged_and_its_value_not_shown(
    ops: Any, data: Any
) -> None:
    weighed = Measured(mass_g=7.5, sigma_g=0.1, calibration="LC")
    entries = build([*ops, ("MEASURED", data.draw(st.integers(0, 5)), weighed)])
    measured = [i for i, e in enumerate(entries) if e.entry.kind is Kind.MEASURED]
    index = data.draw(st.sampled_from(measured))
    changed = message(entries[index])
    field = data.draw(st.sampled_from(sorted(TAMPERS)))
    changed["entry"]["body"] = TAMPERS[field](changed["entry"]["body"])
    messages = [(ENTRY, changed if i == index else message(e)) for i, e in enumerate(entries)]
    rows = {row.sample: row for row in book_of([(HEAD, head(entries)), *messages]).rows()}
    sample = entries[index].entry.sample
    row = rows.pop(sample)
    assert not row.ok
    assert f"seq {entries[index].entry.seq} " in row.check
    assert "signature does not verify" in row.check
    # What the row shows is what the other entries say, as if the changed one never came.
    without = {r.sample: r for r in checked([e for i, e in enumerate(entries) if i != index])}
    assert row.mass == without[sample].mass
    assert all(r.ok for r in rows.values())


def test_console_samples_without_a_head_are_shown_but_not_checked() -> None:
    entries = build(LIFE)
    (row,) = book_of([(ENTRY, message(e)) for e in entries]).rows()
    assert row.mass == "12.3 ± 0.05 g"
    assert not row.ok and row.check.startswith("not checked: no samples/head")


def test_console_samples_head_of_another_key_flags_every_entry() -> None:
    entries = build(LIFE)
    messages = [(HEAD, head(entries, OTHER_KEY))] + [(ENTRY, message(e)) for e in entries]
    (row,) = book_of(messages).rows()
    assert "not the vehicle key" in row.check and "(and 4 more)" in row.check
    assert row.mass == "-"  # nothing unverified is shown as the sample's


def test_console_samples_head_whose_signer_is_not_its_key_checks_nothing() -> None:
    entries = build(LIFE)
    bad = {**head(entries), "signer": "00000000"}
    (row,) = book_of([(HEAD, bad)] + [(ENTRY, message(e)) for e in entries]).rows()
    assert row.check.startswith("not checked: the samples/head says signer 00000000")


def test_console_samples_missing_first_entries_are_named() -> None:
    entries = build(LIFE)
    (row,) = checked(entries[2:])  # the console was opened after the weighing
    assert row.check.startswith("entries #0 to #1 of rover1-0001 are missing")
    assert row.images == 2


@pytest.mark.req("GND-23")
def test_console_samples_fork_from_another_sample_is_flagged() -> None:
    entries = build([("collect", None, collected()), ("collect", None, collected())])
    writer = ChainWriter(VEHICLE_KEY, VEHICLE)  # the same key, another history
    other = writer.make("rover1-0009", Kind.COLLECTED, collected(99.0), mission=T0, utc=T0)
    writer.take(other)
    when = T0 + timedelta(minutes=1)
    forked = writer.make("rover1-0002", Kind.COLLECTED, collected(), mission=when, utc=when)
    rows = checked([entries[0], forked])
    assert rows[0].ok
    assert "prev is not the hash of seq 0" in rows[1].check and "(line" not in rows[1].check


def test_console_samples_head_hash_differing_from_the_entry_is_a_fork() -> None:
    entries = build(LIFE)
    wrong = {**head(entries), "hash": "0" * 64}
    (row,) = book_of([(HEAD, wrong)] + [(ENTRY, message(e)) for e in entries]).rows()
    assert "the head says its hash is 0000000000000000" in row.check


def test_console_samples_message_without_a_sample_is_kept_as_a_stray() -> None:
    book = book_of([(ENTRY, {"entry": "nope", "sig": "00"}), (ENTRY, {"entry": {}})])
    assert book.rows() == []
    assert book.strays == ["an entry message without an entry naming its sample and a sig"] * 2


@pytest.mark.req("GND-23", "GND-09")
def test_console_samples_book_forgets_the_oldest_sample_beyond_its_bound() -> None:
    entries = build([("collect", None, collected())] * 4)
    book = SampleBook(max_entries=3)
    book.take_head(head(entries))
    for signed in entries:
        book.take_entry(message(signed))
    assert [row.sample for row in book.rows()] == ["rover1-0002", "rover1-0003", "rover1-0004"]
    assert all(row.ok for row in book.rows())


# --- images -----------------------------------------------------------------------------


def chunks(image: str, content: bytes, **changes: Any) -> list[dict[str, Any]]:
    """The ``images/<image>`` messages of ``content`` (``changes``: fields made wrong)."""
    count = max(1, -(-len(content) // CHUNK_BYTES))
    meta = {
        "name": image,
        "sha256": hashlib.sha256(content).hexdigest(),
        "bytes": len(content),
        "media_type": "image/png",
        "purpose": "scoop",
        "sample": "rover1-0001",
        "chunks": count,
    }
    return [
        {
            **meta,
            "chunk": i,
            "data": base64.b64encode(content[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]).decode(),
            **changes,
        }
        for i in range(count)
    ]


@pytest.mark.req("GND-23")
@settings(max_examples=20, deadline=None)
@given(size=st.integers(0, 3 * CHUNK_BYTES + 5), data=st.data())
def test_console_samples_image_chunks_in_any_order_make_the_file(
    tmp_path_factory: pytest.TempPathFactory, size: int, data: Any
) -> None:
    directory = tmp_path_factory.mktemp("images")
    image = bytes(i % 251 for i in range(size))
    store = ImageStore(directory)
    said = [
        store.take("images/a.png", d) for d in data.draw(st.permutations(chunks("a.png", image)))
    ]
    assert said[-1] == (f"image a.png kept in {directory} ({size} bytes)", False)
    assert all(s is None for s in said[:-1])
    assert (directory / "a.png").read_bytes() == image
    sha = hashlib.sha256(image).hexdigest()
    assert store.path_of("a.png", sha, "rover1-0001") == directory / "a.png"
    assert [p.name for p in directory.iterdir()] == ["a.png"]


@pytest.mark.parametrize(
    ("suffix", "changes", "problem"),
    [
        ("images/a.png", {"sha256": "ab" * 32}, "its chunks do not make its sha256"),
        ("images/..", {"name": ".."}, "not an image name"),
        ("images/b.png", {}, "not the one its topic names"),
        ("images/a.png", {"chunks": 3}, "chunks is not 1 for 10 bytes"),
        ("images/a.png", {"data": "not base64!"}, "data is not base64"),
        ("images/a.png", {"bytes": 11}, "chunk 0 has 10 bytes, not 11"),
        ("images/a.png", {"chunk": 1}, "chunk is not one of 0 to 0"),
    ],
)
def test_console_samples_bad_image_chunk_is_named_and_nothing_kept(
    tmp_path: Path, suffix: str, changes: dict[str, Any], problem: str
) -> None:
    store = ImageStore(tmp_path)
    (chunk,) = chunks("a.png", b"0123456789", **changes)
    said = store.take(suffix, chunk)
    assert said is not None and said[1] and problem in said[0]
    assert list(tmp_path.iterdir()) == []


def test_console_samples_without_an_images_dir_keeps_no_image(tmp_path: Path) -> None:
    store = ImageStore(None)
    assert store.take("images/a.png", chunks("a.png", b"x")[0]) is None
    with pytest.raises(ImageUnavailable, match="only with --images-dir DIR"):
        store.path_of("a.png", "ab" * 32, "rover1-0001")


def test_console_samples_image_to_open_must_be_there_and_be_the_one_named(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(ImageUnavailable, match="rover1-0001 has no image"):
        store.path_of(None, None, "rover1-0001")
    with pytest.raises(
        ImageUnavailable,
        match=r"no file for a\.png in .*CAMERA\.SEND name=a\.png first_chunk=0 last_chunk=-1",
    ):
        store.path_of("a.png", "ab" * 32, "rover1-0001")
    (tmp_path / "a.png").write_bytes(b"other")
    with pytest.raises(ImageUnavailable, match="sha256 differs"):
        store.path_of("a.png", "ab" * 32, "rover1-0001")


def test_console_samples_viewer_missing_is_said_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no xdg-open there: nothing is launched
    with pytest.raises(ImageUnavailable, match=r"cannot open a\.png: xdg-open: No such file"):
        system_viewer(tmp_path / "a.png")


def test_console_samples_cells_mark_ok_bad_and_unchecked() -> None:
    entries = build(LIFE[:2])
    (good,) = checked(entries)
    (unchecked,) = book_of([(ENTRY, message(e)) for e in entries]).rows()
    (bad,) = checked(entries[1:])
    marks = [(cells(row)[1].plain, str(cells(row)[1].style)) for row in (good, unchecked, bad)]
    assert marks == [("ok", "green"), ("unchecked", "bold yellow"), ("BAD", "bold white on red")]
    assert cells(good)[6].plain == "" and cells(bad)[6].plain == bad.check
