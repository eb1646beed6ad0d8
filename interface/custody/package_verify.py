"""Checking an export package: every hash, every signature, the chains, the images, the
countersignatures, the manifest and the summary, each problem named (:class:`Problem`).

It needs nothing but the directory: the vehicle's public key is in it. That key is only as
good as the way it reached you: pass the vehicle key you trust (``vehicle_key``), and the
operators' (``operator_keys``), and a package signed by anyone else is named as such (a
package whose own key is not the one you trust is reported as that alone).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from interface.custody.chain import first_error
from interface.custody.keys import key_id, public_key_from_pem, public_pem
from interface.custody.package import (
    COUNTERSIGNATURES,
    ENTRIES,
    IMAGES,
    KEYS,
    MANIFEST,
    PUBLIC_KEY,
    SUMMARY,
    Manifest,
)
from interface.custody.package_checks import (
    PackageReport,
    check_countersignatures,
    check_images,
    check_manifest,
)
from interface.custody.record import fold, summary_markdown
from interface.custody.verify import Problem, verify_ledger
from interface.signing import KeyFileError

__all__ = ["PackageReport", "read_files", "verify_package"]


def read_files(directory: Path) -> dict[str, bytes]:
    """Every regular file under ``directory`` by its relative path (``/``-separated)."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(Path(directory).rglob("*"))
        if path.is_file()
    }


def verify_package(
    directory: Path,
    *,
    vehicle_key: Ed25519PublicKey | None = None,
    operator_keys: Iterable[Ed25519PublicKey] | None = None,
) -> PackageReport:
    """Every problem of the package in ``directory`` (none: it is intact)."""
    report = PackageReport()
    try:
        files = read_files(Path(directory))
    except OSError as exc:
        report.problems.append(Problem(str(directory), 0, "unreadable", str(exc.strerror or exc)))
        return report
    if not files:
        report.problems.append(Problem(str(directory), 0, "unreadable", "no package here"))
        return report
    problems = report.problems
    report.manifest = _manifest(files, problems)
    report.key = _vehicle_key(files, vehicle_key, problems)
    if report.key is None:
        return report
    verified = verify_ledger(files.get(ENTRIES, b""), report.key, file=ENTRIES, complete=False)
    problems += verified.problems
    if not verified.entries and ENTRIES in files:
        problems.append(Problem(ENTRIES, 0, "missing", "holds no entry that verifies"))
    report.entries = [s for _, s in sorted(verified.entries, key=lambda i: i[1].entry.seq)]
    sample = report.entries[0].entry.sample if report.entries else ""
    for line, signed in verified.entries:
        if signed.entry.sample != sample:
            message = f"seq {signed.entry.seq} is of sample {signed.entry.sample}, not {sample}"
            problems.append(Problem(ENTRIES, line, "rule", message))
    problems += check_images(files, report)
    problems += check_countersignatures(files, report, operator_keys)
    checked = _checked(files, report)
    if report.manifest is not None:
        problems += check_manifest(report.manifest, files, report, checked)
    return report


def _checked(files: dict[str, bytes], report: PackageReport) -> set[str]:
    """The files whose own check passed (and the summary, checked here against the entries)."""
    own = {problem.file for problem in report.problems}
    checked = {f"{IMAGES}/{name}" for name in report.images}
    for signer, key in report.operator_keys.items():
        if files.get(f"{KEYS}/{signer}.pem") == public_pem(key):  # as an export writes it
            checked.add(f"{KEYS}/{signer}.pem")
    if COUNTERSIGNATURES in files and COUNTERSIGNATURES not in own:
        checked.add(COUNTERSIGNATURES)
    if ENTRIES in own or not report.entries or report.key is None:
        return checked
    checked.add(ENTRIES)
    if files.get(PUBLIC_KEY) == public_pem(report.key):
        checked.add(PUBLIC_KEY)
    if COUNTERSIGNATURES not in own and len(fold(report.entries)) == 1:
        (record,) = fold(report.entries).values()
        summary = summary_markdown(record, key_id(report.key), report.countersignatures)
        if files.get(SUMMARY) == summary.encode("utf-8"):
            checked.add(SUMMARY)
        else:
            message = "does not match the entries: it was edited after export"
            report.problems.append(Problem(SUMMARY, 0, "summary", message))
    return checked


def _manifest(files: dict[str, bytes], problems: list[Problem]) -> Manifest | None:
    if MANIFEST not in files:
        problems.append(Problem(MANIFEST, 0, "manifest", "missing"))
        return None
    try:
        return Manifest.model_validate(json.loads(files[MANIFEST].decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError):
        problems.append(Problem(MANIFEST, 0, "manifest", "is not UTF-8 JSON"))
    except ValidationError as exc:
        problems.append(Problem(MANIFEST, 0, "manifest", f"not a manifest: {first_error(exc)}"))
    return None


def _vehicle_key(
    files: dict[str, bytes], pinned: Ed25519PublicKey | None, problems: list[Problem]
) -> Ed25519PublicKey | None:
    key: Ed25519PublicKey | None = None
    try:
        key = public_key_from_pem(files[PUBLIC_KEY], Path(PUBLIC_KEY))
    except KeyError:
        problems.append(Problem(PUBLIC_KEY, 0, "key", "missing"))
    except KeyFileError as exc:
        problems.append(Problem(PUBLIC_KEY, 0, "key", exc.problem))
    if pinned is None:
        return key
    if key is not None and key_id(key) != key_id(pinned):
        problems.append(
            Problem(
                PUBLIC_KEY,
                0,
                "key",
                f"is key {key_id(key)}, not the vehicle key "
                f"{key_id(pinned)} you trust: the package was signed by someone else",
            )
        )
        return None  # nothing in it is the vehicle's: the one problem says it all
    return pinned
