"""The worked example of docs/samples.md: its lines, hashes and signatures made by the code
and checked by OpenSSL; and the page's own verifier run on good and altered packages."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from interface.custody import (
    ChainWriter,
    Collected,
    Kind,
    Measured,
    SignedEntry,
    Site,
    Stamp,
    key_id,
    public_pem,
    verify_ledger,
)
from tests.custody_cases import LIFE, VEHICLE_KEY, build, export

DOC = Path(__file__).resolve().parents[1] / "docs" / "samples.md"
PUBLIC = VEHICLE_KEY.public_key()


def example() -> list[SignedEntry]:
    """The page's two entries, made by the code."""
    writer = ChainWriter(VEHICLE_KEY, "rover1")
    site = Site(
        frame="MOON_ME", lat_deg=-85.5, lon_deg=31.2, height_m=-1200, sigma_m=30, source="config"
    )
    dug = Collected(
        site=site,
        dig_start=Stamp(mission="2026-05-01T12:00:00.000000Z", utc="2026-05-01T12:00:00.000000Z"),
        dig_end=Stamp(mission="2026-05-01T12:02:30.000000Z", utc="2026-05-01T12:02:30.000000Z"),
        depth_mm=30,
    )
    written = datetime(2026, 5, 1, 12, 3, tzinfo=UTC)
    first = writer.make("rover1-0001", Kind.COLLECTED, dug, mission=written, utc=written)
    writer.take(first)
    mass = Measured(mass_g=12.3, sigma_g=0.05, calibration="LC-2026-01")
    weighed = datetime(2026, 5, 1, 12, 4, tzinfo=UTC)
    return [first, writer.make("rover1-0001", Kind.MEASURED, mass, mission=weighed, utc=weighed)]


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_custody_doc_example_keys_appear_verbatim() -> None:
    page = text()
    private = VEHICLE_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    raw = PUBLIC.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert private.decode() in page
    assert public_pem(PUBLIC).decode() in page
    assert f"`{raw.hex()}`" in page
    assert f"key id `{key_id(PUBLIC)}`" in page


def test_custody_doc_example_lines_hashes_and_sizes_appear_verbatim() -> None:
    page = text()
    first, second = example()
    assert (first.line + second.line).decode() in page
    assert f"({len(first.signed)} bytes)" in page
    assert f"Entry 1 ({len(second.signed)} signed bytes)" in page
    assert f"`{first.hash}`" in page and f"`{second.hash}`" in page
    assert second.entry.prev == second.entry.sample_prev == first.hash
    assert verify_ledger(first.line + second.line, PUBLIC).problems == []


def test_custody_doc_slicing_rule_gives_the_signed_bytes() -> None:
    page = text()
    prefix, suffix = (
        int(n) for n in re.findall(r"the first (\d+) bytes and the last (\d+)", page)[0]
    )
    for signed in example():
        line = signed.line[:-1]
        assert line[prefix : len(line) - suffix] == signed.signed


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_custody_doc_openssl_verifies_the_example_signatures(tmp_path: Path) -> None:
    (tmp_path / "public_key.pem").write_bytes(public_pem(PUBLIC))
    for signed in example():
        (tmp_path / "signed.bin").write_bytes(signed.signed)
        (tmp_path / "sig.bin").write_bytes(signed.sig)
        done = subprocess.run(
            "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in signed.bin "
            "-sigfile sig.bin",
            shell=True,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Signature Verified Successfully" in done.stdout
    assert "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in signed.bin" in text()


def doc_verifier() -> Any:
    blocks = re.findall(r"^```python\n(.*?)^```$", text(), re.M | re.S)
    block = next(b for b in blocks if "def verify(package: Path)" in b)
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/samples.md", "exec"), namespace)
    return namespace["verify"]


def test_custody_doc_verifier_accepts_a_good_package_and_rejects_altered_ones(
    tmp_path: Path,
) -> None:
    verify = doc_verifier()
    entries = build(LIFE)
    verify(export(tmp_path / "good", entries))
    lines = [signed.line for signed in entries]
    altered = {
        "changed": [lines[0], lines[1].replace(b"12.3", b"12.4"), *lines[2:]],
        "removed": [lines[0], *lines[2:]],
        "reordered": [lines[0], lines[2], lines[1], *lines[3:]],
    }
    for name, chosen in altered.items():
        package = export(tmp_path / name, entries)
        (package / "entries.jsonl").write_bytes(b"".join(chosen))
        with pytest.raises((AssertionError, InvalidSignature)):
            verify(package)
