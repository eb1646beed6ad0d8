"""The package's checks beyond the entries' own: the manifest, the images and the
countersignatures (:func:`interface.custody.package_verify.verify_package` runs them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from interface.custody.chain import LineError, SignedEntry
from interface.custody.countersign import SignedCountersignature, parse_countersignature
from interface.custody.keys import key_id, public_key_from_pem
from interface.custody.model import Imaged, parse_body
from interface.custody.package import (
    COUNTERSIGNATURES,
    ENTRIES,
    IMAGES,
    KEYS,
    MANIFEST,
    PUBLIC_KEY,
    SUMMARY,
    Manifest,
    file_ref,
)
from interface.custody.verify import Problem, split_lines
from interface.signing import KeyFileError

__all__ = ["PackageReport", "check_countersignatures", "check_images", "check_manifest"]


@dataclass
class PackageReport:
    """What :func:`verify_package` found: the problems, and what could be trusted."""

    problems: list[Problem] = field(default_factory=list)
    manifest: Manifest | None = None
    key: Ed25519PublicKey | None = None
    entries: list[SignedEntry] = field(default_factory=list)
    countersignatures: list[SignedCountersignature] = field(default_factory=list)
    operator_keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_manifest(
    manifest: Manifest, files: dict[str, bytes], report: PackageReport, checked: set[str]
) -> list[Problem]:
    """The manifest against the files. A file that differs from its listing is named when
    it has no problem of its own yet; when its own check (``checked``) passed, the manifest
    is named instead: it is the one that changed."""
    problems = []
    own = {problem.file for problem in report.problems}

    def wrong(message: str) -> None:
        problems.append(Problem(MANIFEST, 0, "manifest", message))

    if files[MANIFEST] != manifest.text():
        wrong("is not as an export writes it: edited")
    if report.key is not None and manifest.vehicle_key != key_id(report.key):
        wrong(f"names vehicle key {manifest.vehicle_key}, the entries' key is {key_id(report.key)}")
    samples = {signed.entry.sample for signed in report.entries}
    vehicles = {signed.entry.vehicle for signed in report.entries}
    if len(samples) == 1 and manifest.sample not in samples:
        wrong(f"names sample {manifest.sample}, its entries are of {samples.pop()}")
    if len(vehicles) == 1 and manifest.vehicle not in vehicles:
        wrong(f"names vehicle {manifest.vehicle}, its entries are of {vehicles.pop()}")
    if ENTRIES not in own and report.entries:
        problems += _head(manifest, files, report)
    for path, ref in manifest.files.items():
        if path not in files and _member(path):
            problems.append(Problem(path, 0, "missing", "missing (the manifest lists it)"))
        elif path not in files:
            wrong(f"lists {path!r}, which is no file of a package")
        elif file_ref(files[path]) == ref or path in own:
            continue
        elif path in checked:
            wrong(
                f"lists {path} with sha256 {ref.sha256[:16]}... ({ref.bytes} bytes), but the "
                "file checks out by itself: the manifest was edited"
            )
        else:
            message = (
                f"is not the file the manifest lists (sha256 {ref.sha256[:16]}..., "
                f"{ref.bytes} bytes): changed after export"
            )
            problems.append(Problem(path, 0, "manifest", message))
    for path in files:
        if path == MANIFEST or path in manifest.files or path in own:
            continue
        if path in checked:
            wrong(f"does not list {path}, which checks out by itself: the manifest was edited")
        else:
            problems.append(Problem(path, 0, "manifest", "is not listed in the manifest"))
    return problems


def _member(path: str) -> bool:
    """Whether ``path`` is a file a package may hold."""
    if path in (ENTRIES, SUMMARY, PUBLIC_KEY, COUNTERSIGNATURES):
        return True
    folder, _, name = path.partition("/")
    return folder in (IMAGES, KEYS) and "/" not in name and bool(name)


def _head(manifest: Manifest, files: dict[str, bytes], report: PackageReport) -> list[Problem]:
    """The manifest's last entry and count against entries that verify by themselves."""
    head = manifest.head
    by_seq = {signed.entry.seq: signed for signed in report.entries}
    last = max(by_seq)
    if head.seq in by_seq and by_seq[head.seq].hash != head.hash:
        message = f"its last entry, seq {head.seq}, has hash {head.hash[:16]}..., not the entry's"
        return [Problem(MANIFEST, 0, "manifest", message)]
    if last < head.seq:
        message = (
            f"ends at seq {last}, the manifest's last entry is seq {head.seq}: entries were "
            "removed from its end"
        )
        return [Problem(ENTRIES, 0, "missing", message)]
    if last > head.seq:
        message = (
            f"goes on past the manifest's last entry (seq {head.seq}) to seq {last}: entries "
            "were added after export"
        )
        return [Problem(ENTRIES, 0, "manifest", message)]
    lines, _ = split_lines(files.get(ENTRIES, b""))
    if len(lines) != manifest.entries:
        message = f"says {manifest.entries} entries, {ENTRIES} holds {len(lines)}"
        return [Problem(MANIFEST, 0, "manifest", message)]
    return []


def check_images(files: dict[str, bytes], report: PackageReport) -> list[Problem]:
    problems = []
    named = set()
    for signed in report.entries:
        try:
            body = parse_body(signed.entry.kind, signed.entry.body)
        except ValidationError:
            continue  # reported as the entry's body problem
        if not isinstance(body, Imaged):
            continue
        for image in body.images:
            path = f"{IMAGES}/{image.name}"
            named.add(path)
            data = files.get(path)
            if data is None:
                problems.append(
                    Problem(path, 0, "image", f"missing (seq {signed.entry.seq} names it)")
                )
            elif file_ref(data).sha256 != image.sha256 or len(data) != image.bytes:
                problems.append(
                    Problem(
                        path,
                        0,
                        "image",
                        f"is not the image seq {signed.entry.seq} names "
                        f"(sha256 {image.sha256[:16]}..., {image.bytes} bytes)",
                    )
                )
            else:
                report.images[image.name] = data
    for path in files:
        if path.startswith(IMAGES + "/") and path not in named:
            problems.append(Problem(path, 0, "image", "no IMAGED entry names it"))
    return problems


def check_countersignatures(
    files: dict[str, bytes],
    report: PackageReport,
    trusted: Iterable[Ed25519PublicKey] | None,
) -> list[Problem]:
    if COUNTERSIGNATURES not in files:
        return []
    name = COUNTERSIGNATURES
    pinned = None if trusted is None else {key_id(key) for key in trusted}
    by_seq = {signed.entry.seq: signed for signed in report.entries}
    lines, tail = split_lines(files[name])
    problems = []
    if tail:
        problems.append(Problem(name, len(lines) + 1, "torn", "torn last line: no newline"))
    for number, line in enumerate(lines, start=1):
        try:
            mark = parse_countersignature(line)
        except LineError as exc:
            problems.append(Problem(name, number, "unreadable", str(exc)))
            continue
        what = mark.statement
        key = _operator_key(files, what.signer)
        target = by_seq.get(what.seq)
        why = None
        if key is None:
            why = f"its key {what.signer} is not in {KEYS}/"
        elif pinned is not None and what.signer not in pinned:
            why = f"signed by key {what.signer}, not an operator key you trust"
        elif not mark.verifies(key):
            why = f"signature does not verify with key {what.signer}: changed after signing"
        elif target is None:
            why = f"countersigns seq {what.seq}, which is not in {ENTRIES} (removed?)"
        elif target.hash != what.entry or target.entry.sample != what.sample:
            why = (
                f"countersigns seq {what.seq} with hash {what.entry[:16]}..., "
                f"{ENTRIES}'s seq {what.seq} has hash {target.hash[:16]}..."
            )
        if why is not None:
            problems.append(Problem(name, number, "countersignature", why))
            continue
        assert key is not None
        report.countersignatures.append(mark)
        report.operator_keys[what.signer] = key
    return problems


def _operator_key(files: dict[str, bytes], signer: str) -> Ed25519PublicKey | None:
    path = f"{KEYS}/{signer}.pem"
    try:
        key = public_key_from_pem(files[path], Path(path))
    except (KeyError, KeyFileError):
        return None
    return key if key_id(key) == signer else None
