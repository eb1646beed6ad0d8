"""Shared by the custody tests: fixed keys, bodies of each kind, ledgers made from a list of
operations, and hypothesis strategies for them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from interface.custody import (
    ChainWriter,
    Collected,
    CommandRef,
    Imaged,
    ImageRef,
    Kind,
    Measured,
    Moved,
    Noted,
    Offset,
    SequenceRef,
    SignedEntry,
    Site,
    Stamp,
    Transferred,
    package_files,
    utc_text,
    write_files,
)

#: The worked example's key (docs/samples.md): the 32 bytes 00 01 02 ... 1f.
VEHICLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
OPERATOR_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
VEHICLE = "rover1"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def stamp(minutes: float) -> Stamp:
    when = utc_text(T0 + timedelta(minutes=minutes))
    return Stamp(mission=when, utc=when)


SITE = Site(
    frame="MOON_ME",
    lat_deg=-85.5,
    lon_deg=31.2,
    height_m=-1200.0,
    sigma_m=30.0,
    source="config",
    offset=Offset(east_m=1.5, north_m=-2.0, up_m=0.0, sigma_m=0.5, source="telemetry"),
)


def collected(depth_mm: float = 30.0) -> Collected:
    return Collected(
        site=SITE,
        dig_start=stamp(0),
        dig_end=stamp(2),
        depth_mm=depth_mm,
        sequence=SequenceRef(name="dig.seq", sha256="ab" * 32, run="run-7"),
        commands=[CommandRef(id="c-1", name="SCOOP.DIG", args={"depth_mm": depth_mm})],
    )


def image_bytes(name: str) -> bytes:
    return f"image {name}\n".encode() * 3


def imaged(*names: str) -> Imaged:
    return Imaged(
        images=[
            ImageRef(
                name=name,
                sha256=hashlib.sha256(image_bytes(name)).hexdigest(),
                bytes=len(image_bytes(name)),
                camera="mast",
            )
            for name in names
        ]
    )


def transferred(buyer: str = "Regolith Buyers Ltd") -> Transferred:
    return Transferred(
        buyer=buyer, mass_g=12.0, sigma_g=0.1, at=stamp(30), site=SITE, contract="C-2026-17"
    )


#: One operation: ("collect", None, body) or (kind, sample index, body).
Op = tuple[str, int | None, Any]


def build(ops: Sequence[Op], key: Ed25519PrivateKey = VEHICLE_KEY) -> list[SignedEntry]:
    """The entries a vehicle writes for ``ops`` (a sample index wraps around)."""
    writer = ChainWriter(key, VEHICLE)
    entries = []
    for minute, (kind, index, body) in enumerate(ops, start=3):
        when = T0 + timedelta(minutes=minute)
        if kind == "collect":
            sample = writer.new_sample_id()
            signed = writer.make(sample, Kind.COLLECTED, body, mission=when, utc=when)
        else:
            assert index is not None
            sample = writer.samples[index % len(writer.samples)]
            signed = writer.make(sample, Kind(kind), body, mission=when, utc=when)
        writer.take(signed)
        entries.append(signed)
    return entries


def ledger_bytes(entries: Sequence[SignedEntry]) -> bytes:
    return b"".join(signed.line for signed in entries)


#: A sample's life: collected, weighed, imaged, stowed, sold.
LIFE: list[Op] = [
    ("collect", None, collected()),
    ("MEASURED", 0, Measured(mass_g=12.3, sigma_g=0.05, calibration="LC-2026-01")),
    ("IMAGED", 0, imaged("before.png", "after.png")),
    ("MOVED", 0, Moved(location="stowed")),
    ("TRANSFERRED", 0, transferred()),
]


def export(directory: Path, entries: Sequence[SignedEntry], sample: str | None = None) -> Path:
    """Write the package of ``sample`` (the first one by default) into ``directory``."""
    sample = sample or entries[0].entry.sample
    mine = [signed for signed in entries if signed.entry.sample == sample]
    names = [
        image["name"]
        for signed in mine
        if signed.entry.kind is Kind.IMAGED
        for image in signed.entry.body["images"]
    ]
    images = {name: image_bytes(name) for name in names}
    write_files(directory, package_files(mine, VEHICLE_KEY.public_key(), images))
    return directory


texts = st.text(min_size=1, max_size=30)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
bodies: dict[str, st.SearchStrategy[Any]] = {
    "MEASURED": st.builds(
        Measured,
        mass_g=finite,
        sigma_g=st.floats(min_value=0, max_value=100),
        calibration=texts,
    ),
    "IMAGED": st.lists(
        st.from_regex(r"[a-z0-9]{1,12}\.png", fullmatch=True), min_size=1, max_size=3, unique=True
    ).map(lambda names: imaged(*names)),
    "MOVED": st.sampled_from(["scoop", "oven", "stowed", "dumped", "consumed"]).map(
        lambda where: Moved(location=where)
    ),
    "TRANSFERRED": texts.map(transferred),
    "NOTED": texts.map(lambda text: Noted(text=text)),
}
ops = st.lists(
    st.one_of(
        st.builds(lambda depth: ("collect", None, collected(depth)), st.floats(0, 500)),
        *(st.tuples(st.just(kind), st.integers(0, 5), body) for kind, body in bodies.items()),
    ),
    min_size=1,
    max_size=12,
).map(lambda found: [("collect", None, collected()), *found])
