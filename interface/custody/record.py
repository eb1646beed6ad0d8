"""A sample as its entries tell it now, and the package's human-readable summary.

:func:`fold` reads a sample's entries in order: the latest measurement stands, images add
up, the latest MOVED or TRANSFERRED says where it is, a TRANSFERRED names its owner.
:func:`summary_markdown` is a pure function of the entries, the key and the
countersignatures, so a verifier makes it again and compares it byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from interface.custody.chain import SignedEntry
from interface.custody.countersign import SignedCountersignature
from interface.custody.model import (
    Collected,
    Imaged,
    ImageRef,
    Location,
    Measured,
    Moved,
    Noted,
    Site,
    Transferred,
    parse_body,
)

__all__ = ["SampleRecord", "describe", "fold", "summary_markdown"]


@dataclass
class SampleRecord:
    """What a sample's entries say, the latest of each."""

    sample: str
    vehicle: str
    entries: list[SignedEntry] = field(default_factory=list)
    collected: Collected | None = None
    measured: Measured | None = None
    images: list[ImageRef] = field(default_factory=list)
    location: Location | None = None
    transfers: list[Transferred] = field(default_factory=list)

    @property
    def owner(self) -> str | None:
        """The buyer of the latest transfer; None while the vehicle's operator owns it."""
        return self.transfers[-1].buyer if self.transfers else None


def fold(entries: Iterable[SignedEntry]) -> dict[str, SampleRecord]:
    """Each sample's record from entries in chain order (bodies already valid)."""
    records: dict[str, SampleRecord] = {}
    for signed in entries:
        entry = signed.entry
        record = records.setdefault(entry.sample, SampleRecord(entry.sample, entry.vehicle))
        record.entries.append(signed)
        body = parse_body(entry.kind, entry.body)
        if isinstance(body, Collected):
            record.collected, record.location = body, Location.SCOOP
        elif isinstance(body, Measured):
            record.measured = body
        elif isinstance(body, Imaged):
            record.images += body.images
        elif isinstance(body, Moved):
            record.location = body.location
        elif isinstance(body, Transferred):
            record.transfers.append(body)
            record.location = Location.TRANSFERRED
    return records


def _cell(text: object) -> str:
    """Text safe in a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _site(site: Site) -> str:
    text = (
        f"{site.frame} lat {site.lat_deg} deg, lon {site.lon_deg} deg, height {site.height_m} m, "
        f"1-sigma {site.sigma_m} m ({site.source})"
    )
    if site.offset is not None:
        o = site.offset
        text += (
            f"; offset E {o.east_m} N {o.north_m} U {o.up_m} m, 1-sigma {o.sigma_m} m ({o.source})"
        )
    return text


def describe(signed: SignedEntry) -> str:
    """One line saying what an entry records."""
    body = parse_body(signed.entry.kind, signed.entry.body)
    if isinstance(body, Collected):
        return (
            f"dug {body.depth_mm} mm deep, {body.dig_start.mission} to {body.dig_end.mission} "
            f"(mission), at {_site(body.site)}"
        )
    if isinstance(body, Measured):
        return f"{body.mass_g} g, 1-sigma {body.sigma_g} g ({body.method}, {body.calibration})"
    if isinstance(body, Imaged):
        return ", ".join(f"{image.name} ({image.sha256[:12]})" for image in body.images)
    if isinstance(body, Moved):
        return f"to {body.location}" + (f": {body.note}" if body.note else "")
    if isinstance(body, Transferred):
        return (
            f"to {body.buyer}, {body.mass_g} g (1-sigma {body.sigma_g} g), contract "
            f"{body.contract}, at {body.at.mission} (mission), at {_site(body.site)}"
        )
    assert isinstance(body, Noted)
    return body.text


def summary_markdown(
    record: SampleRecord, key: str, countersignatures: Iterable[SignedCountersignature] = ()
) -> str:
    """The package's ``summary.md``: the sample now, its images, its history, the
    countersignatures."""
    lines = [
        f"# Sample {record.sample}",
        "",
        f"Vehicle `{record.vehicle}`; every entry is signed by the vehicle key `{key}`. This",
        "summary is made from the entries; `isru samples verify` checks that it still is.",
        "",
        "| what | value |",
        "|---|---|",
        f"| location | {record.location or 'unknown'} |",
    ]
    if record.transfers:
        last = record.transfers[-1]
        lines.append(f"| owner | {_cell(last.buyer)} (contract {_cell(last.contract)}) |")
    if record.measured is not None:
        m = record.measured
        lines.append(f"| mass | {m.mass_g} g, 1-sigma {m.sigma_g} g ({_cell(m.method)}) |")
    if record.collected is not None:
        c = record.collected
        lines += [
            f"| site | {_cell(_site(c.site))} |",
            f"| dig (mission) | {c.dig_start.mission} to {c.dig_end.mission} |",
            f"| dig (UTC) | {c.dig_start.utc} to {c.dig_end.utc} |",
            f"| depth | {c.depth_mm} mm |",
        ]
        if c.sequence is not None:
            run = f", run {_cell(c.sequence.run)}" if c.sequence.run else ""
            lines.append(f"| sequence | {_cell(c.sequence.name)} ({c.sequence.sha256}){run} |")
        names = ", ".join(f"{_cell(command.name)} ({_cell(command.id)})" for command in c.commands)
        lines.append(f"| commands | {names or 'none recorded'} |")
    if record.images:
        lines += ["", "## Images", "", "| file | sha256 | bytes | camera |", "|---|---|---|---|"]
        lines += [
            f"| images/{i.name} | {i.sha256} | {i.bytes} | {_cell(i.camera or '')} |"
            for i in record.images
        ]
    lines += ["", "## History", "", "| seq | # | kind | mission | UTC | what | hash |"]
    lines.append("|---|---|---|---|---|---|---|")
    for signed in record.entries:
        e = signed.entry
        lines.append(
            f"| {e.seq} | {e.sample_seq} | {e.kind} | {e.mission} | {e.utc} | "
            f"{_cell(describe(signed))} | {signed.hash[:16]} |"
        )
    marks = list(countersignatures)
    if marks:
        lines += ["", "## Countersignatures", ""]
        lines += ["| seq | operator | UTC | statement | key |", "|---|---|---|---|---|"]
        lines += [
            f"| {s.statement.seq} | {_cell(s.statement.operator)} | {s.statement.utc} | "
            f"{_cell(s.statement.statement)} | {s.statement.signer} |"
            for s in marks
        ]
    return "\n".join(lines) + "\n"
