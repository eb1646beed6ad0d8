"""A sample's export package (interface.custody): an intact one verifies from its directory
alone, and every single-byte change to any file, a removed, reordered or re-signed entry,
a changed image, manifest, summary or countersignature is found and named."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interface.custody import (
    countersign,
    key_id,
    package_files,
    public_pem,
    read_files,
    sign_entry,
    verify_package,
    write_files,
)
from tests.custody_cases import (
    LIFE,
    OPERATOR_KEY,
    OTHER_KEY,
    T0,
    VEHICLE_KEY,
    build,
    export,
    image_bytes,
    ops,
)

PUBLIC = VEHICLE_KEY.public_key()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return export(tmp_path / "pkg", build(LIFE))


def found(directory: Path, **keys: object) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.code) for p in verify_package(directory, **keys).problems]  # type: ignore[arg-type]


def test_custody_package_intact_verifies_from_its_directory_alone(package: Path) -> None:
    assert sorted(read_files(package)) == [
        "entries.jsonl",
        "images/after.png",
        "images/before.png",
        "manifest.json",
        "public_key.pem",
        "summary.md",
    ]
    report = verify_package(package)
    assert report.problems == []
    assert [signed.entry.kind for signed in report.entries] == [
        "COLLECTED",
        "MEASURED",
        "IMAGED",
        "MOVED",
        "TRANSFERRED",
    ]
    assert verify_package(package, vehicle_key=PUBLIC).problems == []
    summary = (package / "summary.md").read_text()
    assert "| location | transferred |" in summary
    assert "| owner | Regolith Buyers Ltd (contract C-2026-17) |" in summary


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.data())
def test_custody_package_any_single_byte_change_to_any_file_is_named(
    operations: list, data: st.DataObject
) -> None:
    entries = build(operations)
    with tempfile.TemporaryDirectory() as tmp:
        directory = export(Path(tmp) / "pkg", entries)
        files = read_files(directory)
        name = data.draw(st.sampled_from(sorted(files)), label="file")
        blob = files[name]
        at = data.draw(st.integers(0, len(blob) - 1), label="position")
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != blob[at]), label="byte")
        (directory / name).write_bytes(blob[:at] + bytes([byte]) + blob[at + 1 :])
        problems = verify_package(directory).problems
    assert problems, f"a changed byte of {name} went unnoticed"
    assert name in {p.file for p in problems}
    if name == "entries.jsonl":
        line = blob[:at].count(b"\n") + 1
        entry_lines = {p.line for p in problems if p.file == name and p.line}
        assert min(entry_lines) == line
        assert entry_lines <= {line, line + 1}


def test_custody_package_removed_entry_is_named(package: Path) -> None:
    lines = (package / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (package / "entries.jsonl").write_bytes(b"".join(lines[:3] + lines[4:]))
    problems = verify_package(package).problems
    assert str(problems[0]) == (
        "entries.jsonl line 4: entry #3 of rover1-0001 is missing before seq 4 "
        "(TRANSFERRED #4 of rover1-0001)"
    )
    assert len(problems) == 1


def test_custody_package_removed_last_entry_is_named_by_the_manifest(package: Path) -> None:
    lines = (package / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (package / "entries.jsonl").write_bytes(b"".join(lines[:-1]))
    problems = verify_package(package).problems
    assert any(
        p.code == "missing" and "entries were removed from its end" in p.message for p in problems
    )


def test_custody_package_reordered_entries_are_named(package: Path) -> None:
    lines = (package / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (package / "entries.jsonl").write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))
    assert found(package) == [("entries.jsonl", 3, "reordered")]


def forge(directory: Path, key: object = OTHER_KEY) -> None:
    """Re-sign every entry with another key and replace the public key: a whole forgery,
    consistent but for the key."""
    entries = build(LIFE, key=OTHER_KEY)
    shutil.rmtree(directory)
    images = {name: image_bytes(name) for name in ("before.png", "after.png")}
    write_files(directory, package_files(entries, OTHER_KEY.public_key(), images))


def test_custody_package_resigned_with_another_key_is_named_only_against_the_key_you_trust(
    package: Path,
) -> None:
    forge(package)
    # The package alone is consistent: only a key you trust tells a forgery.
    assert found(package) == []
    problems = verify_package(package, vehicle_key=PUBLIC).problems
    assert str(problems[0]) == (
        f"public_key.pem: is key {key_id(OTHER_KEY.public_key())}, not the vehicle key "
        f"{key_id(PUBLIC)} you trust: the package was signed by someone else"
    )
    assert len(problems) == 1
    # Its entries alone, beside the vehicle's own key: each is named.
    (package / "public_key.pem").write_bytes(public_pem(PUBLIC))
    problems = verify_package(package, vehicle_key=PUBLIC).problems
    assert [(p.line, p.code) for p in problems if p.file == "entries.jsonl" and p.line] == [
        (n, "other-key") for n in range(1, 6)
    ]


def test_custody_package_one_entry_resigned_with_another_key_is_named(package: Path) -> None:
    entries = build(LIFE)
    other = entries[3].entry.model_copy(update={"signer": key_id(OTHER_KEY.public_key())})
    lines = [signed.line for signed in entries]
    lines[3] = sign_entry(OTHER_KEY, other).line
    (package / "entries.jsonl").write_bytes(b"".join(lines))
    assert found(package) == [("entries.jsonl", 4, "other-key")]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: (d / "images/after.png").write_bytes(b"another picture"), "is not the image"),
        (lambda d: (d / "images/after.png").unlink(), "missing (seq 2 names it)"),
        (lambda d: (d / "images/extra.png").write_bytes(b"x"), "no IMAGED entry names it"),
    ],
    ids=["changed", "missing", "extra"],
)
def test_custody_package_image_problems_are_named(package: Path, change, problem: str) -> None:
    change(package)
    problems = verify_package(package).problems
    assert any(p.code == "image" and problem in p.message for p in problems), problems


def test_custody_package_edited_summary_and_manifest_are_named(package: Path) -> None:
    summary = package / "summary.md"
    summary.write_text(summary.read_text().replace("transferred", "stowed", 1))
    manifest = package / "manifest.json"
    document = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(document))
    problems = [str(p) for p in verify_package(package).problems]
    assert problems == [
        "summary.md: does not match the entries: it was edited after export",
        "manifest.json: is not as an export writes it: edited",
    ]


def countersigned(directory: Path, seq: int = 4) -> None:
    report = verify_package(directory)
    target = next(s for s in report.entries if s.entry.seq == seq)
    mark = countersign(OPERATOR_KEY, target, operator="J. Smith", statement="received", utc=T0)
    files = package_files(
        report.entries, PUBLIC, report.images, [mark], [OPERATOR_KEY.public_key()]
    )
    write_files(directory, files, new=False)


def test_custody_package_countersignature_verifies_and_anchors_the_end(package: Path) -> None:
    countersigned(package)
    report = verify_package(package, operator_keys=[OPERATOR_KEY.public_key()])
    assert report.problems == []
    assert len(report.countersignatures) == 1
    assert (package / f"keys/{key_id(OPERATOR_KEY.public_key())}.pem").read_bytes() == (
        public_pem(OPERATOR_KEY.public_key())
    )
    # The last entry removed, and the manifest made to agree: only the countersignature tells.
    report = verify_package(package)
    entries = report.entries[:-1]
    files = package_files(entries, PUBLIC, report.images, report.countersignatures,
                          report.operator_keys.values())  # fmt: skip
    shutil.rmtree(package)
    write_files(package, files)
    problems = verify_package(package).problems
    assert [(p.file, p.line, p.code) for p in problems] == [
        ("countersignatures.jsonl", 1, "countersignature")
    ]
    assert "countersigns seq 4, which is not in entries.jsonl" in problems[0].message


def test_custody_package_countersignature_problems_are_named(package: Path) -> None:
    countersigned(package)
    others = verify_package(package, operator_keys=[OTHER_KEY.public_key()]).problems
    assert [p.message for p in others] == [
        f"signed by key {key_id(OPERATOR_KEY.public_key())}, not an operator key you trust"
    ]
    path = package / "countersignatures.jsonl"
    path.write_bytes(path.read_bytes().replace(b"received", b"rejected"))
    problems = verify_package(package).problems
    assert ("countersignatures.jsonl", 1, "countersignature") in [
        (p.file, p.line, p.code) for p in problems
    ]
    assert "changed after signing" in str(problems)


def test_custody_package_missing_pieces_are_named(tmp_path: Path, package: Path) -> None:
    assert found(tmp_path / "nothing") == [(str(tmp_path / "nothing"), 0, "unreadable")]
    (package / "public_key.pem").unlink()
    (package / "manifest.json").unlink()
    assert found(package) == [("manifest.json", 0, "manifest"), ("public_key.pem", 0, "key")]
