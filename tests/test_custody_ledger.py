"""The custody chain (interface.custody): any valid appends verify, and every single-byte
change, removal, reordering or re-signing of an entry is found and named at its line."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from interface.custody import (
    ZERO_HASH,
    ChainWriter,
    CustodyError,
    Kind,
    LineError,
    Measured,
    SignedEntry,
    key_id,
    parse_line,
    sign_entry,
    verify_ledger,
)
from tests.custody_cases import (
    LIFE,
    OTHER_KEY,
    T0,
    VEHICLE,
    VEHICLE_KEY,
    build,
    collected,
    ledger_bytes,
    ops,
)

PUBLIC = VEHICLE_KEY.public_key()


def found(data: bytes) -> list[tuple[str, int]]:
    return [(p.code, p.line) for p in verify_ledger(data, PUBLIC).problems]


@settings(max_examples=60, deadline=None)
@given(ops)
def test_custody_ledger_any_appends_verify_and_lines_parse_back(operations: list) -> None:
    entries = build(operations)
    verified = verify_ledger(ledger_bytes(entries), PUBLIC)
    assert verified.problems == []
    assert [signed for _, signed in verified.entries] == entries
    for signed in entries:
        assert signed.line.endswith(b"\n") and signed.line.count(b"\n") == 1
        assert parse_line(signed.line[:-1]) == signed
    assert entries[0].entry.prev == ZERO_HASH
    assert [signed.entry.seq for signed in entries] == list(range(len(entries)))


@settings(max_examples=200, deadline=None)
@given(ops, st.data())
def test_custody_ledger_any_single_byte_change_is_named_at_its_line(
    operations: list, data: st.DataObject
) -> None:
    blob = ledger_bytes(build(operations))
    at = data.draw(st.integers(0, len(blob) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != blob[at]), label="new byte")
    changed = blob[:at] + bytes([byte]) + blob[at + 1 :]
    line = blob[:at].count(b"\n") + 1
    problems = found(changed)
    assert problems, "a changed byte went unnoticed"
    assert problems[0][1] == line
    # A newline written into a line splits it in two: both halves are named, nothing else.
    assert {number for _, number in problems} <= {line, line + 1}


@settings(max_examples=100, deadline=None)
@given(ops, st.data())
def test_custody_ledger_removed_entry_is_named_missing(
    operations: list, data: st.DataObject
) -> None:
    entries = build(operations)
    assume(len(entries) >= 2)
    k = data.draw(st.integers(0, len(entries) - 2), label="removed")
    problems = verify_ledger(ledger_bytes(entries[:k] + entries[k + 1 :]), PUBLIC).problems
    assert [(p.code, p.line) for p in problems] == [("missing", k + 1)]
    assert f"seq {k} is missing" in problems[0].message


def test_custody_ledger_removed_last_entry_is_not_seen_by_the_chain_alone() -> None:
    # The threat model's limit: the tail is anchored only by a manifest or a countersignature.
    entries = build(LIFE)
    assert found(ledger_bytes(entries[:-1])) == []


@settings(max_examples=100, deadline=None)
@given(ops, st.data())
def test_custody_ledger_reordered_entries_are_named(operations: list, data: st.DataObject) -> None:
    entries = build(operations)
    assume(len(entries) >= 2)
    i = data.draw(st.integers(0, len(entries) - 2), label="i")
    j = data.draw(st.integers(i + 1, len(entries) - 1), label="j")
    swapped = list(entries)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    problems = found(ledger_bytes(swapped))
    assert problems
    assert {code for code, _ in problems} == {"reordered"}
    assert {line for _, line in problems} <= set(range(i + 2, j + 2))
    if j == i + 1:
        assert problems == [("reordered", i + 2)]


@settings(max_examples=100, deadline=None)
@given(ops, st.data())
def test_custody_ledger_entry_resigned_with_another_key_is_named(
    operations: list, data: st.DataObject
) -> None:
    entries = build(operations)
    k = data.draw(st.integers(0, len(entries) - 1), label="re-signed")
    other = key_id(OTHER_KEY.public_key())
    honest_label = entries[k].entry.model_copy(update={"signer": other})
    resigned = [*entries[:k], sign_entry(OTHER_KEY, honest_label), *entries[k + 1 :]]
    problems = verify_ledger(ledger_bytes(resigned), PUBLIC).problems
    assert [(p.code, p.line) for p in problems] == [("other-key", k + 1)]
    assert f"signed by key {other}, not the vehicle key {key_id(PUBLIC)}" in problems[0].message
    # The same, still claiming the vehicle's key: its signature does not verify.
    original = entries[k]
    forged = SignedEntry(original.entry, original.signed, OTHER_KEY.sign(original.signed))
    problems = verify_ledger(ledger_bytes([*entries[:k], forged, *entries[k + 1 :]]), PUBLIC)
    assert [(p.code, p.line) for p in problems.problems] == [("signature", k + 1)]


def test_custody_ledger_duplicate_entry_is_named() -> None:
    entries = build(LIFE)
    assert found(ledger_bytes([*entries, entries[2]])) == [("reordered", 6)]
    assert found(ledger_bytes([*entries[:3], entries[2], *entries[3:]])) == [("duplicate", 4)]


def test_custody_ledger_torn_last_line_is_named() -> None:
    blob = ledger_bytes(build(LIFE))
    cut = blob[: len(blob) - 40]
    problems = verify_ledger(cut, PUBLIC).problems
    assert [(p.code, p.line) for p in problems] == [("torn", 5)]
    assert "no newline" in problems[0].message


def test_custody_ledger_rewritten_entry_signed_by_the_vehicle_key_forks_the_chain() -> None:
    # What a stolen key could do: a validly signed entry that does not follow its neighbour.
    entries = build(LIFE)
    rewritten = sign_entry(VEHICLE_KEY, entries[2].entry.model_copy(update={"prev": "1" * 64}))
    problems = found(ledger_bytes([*entries[:2], rewritten, *entries[3:]]))
    assert ("chain", 3) in problems


def test_custody_ledger_broken_rules_in_signed_entries_are_named() -> None:
    entries = build(LIFE)
    second = entries[1].entry.model_copy(update={"kind": Kind.COLLECTED, "body": {}})
    problems = verify_ledger(
        ledger_bytes([entries[0], sign_entry(VEHICLE_KEY, second), *entries[2:]]), PUBLIC
    ).problems
    # Rewritten with the vehicle's own key, so the next entry no longer follows it either.
    assert {(p.code, p.line) for p in problems} == {("body", 2), ("rule", 2), ("chain", 3)}
    assert "not a valid COLLECTED body" in problems[0].message


def test_custody_ledger_entry_of_another_vehicle_is_named() -> None:
    entries = build(LIFE)
    problems = verify_ledger(ledger_bytes(entries), PUBLIC, vehicle="lander").problems
    assert [p.code for p in problems] == ["vehicle"] * len(entries)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"", "empty line"),
        (b"{}", "not an entry line"),
        (b'{"entry":{},"sig":"' + b"0" * 128 + b'"}', "not a valid entry: format"),
        (b'{"entry":{"a":1,},"sig":"' + b"0" * 128 + b'"}', "not JSON"),
        (b'{"entry":[1],"sig":"' + b"0" * 128 + b'"}', "not an entry line"),
    ],
)
def test_custody_ledger_unreadable_line_says_why(line: bytes, why: str) -> None:
    problems = verify_ledger(line + b"\n", PUBLIC).problems
    assert [(p.code, p.line) for p in problems] == [("unreadable", 1)]
    assert why in problems[0].message


def test_custody_ledger_writer_refuses_what_the_rules_forbid() -> None:
    writer = ChainWriter(VEHICLE_KEY, VEHICLE)
    mass = Measured(mass_g=1.0, sigma_g=0.1, calibration="LC")
    with pytest.raises(CustodyError, match="rover1-0001: no such sample"):
        writer.make("rover1-0001", Kind.MEASURED, mass, mission=T0, utc=T0)
    first = writer.make(writer.new_sample_id(), Kind.COLLECTED, collected(), mission=T0, utc=T0)
    writer.take(first)
    with pytest.raises(CustodyError, match="already collected"):
        writer.make("rover1-0001", Kind.COLLECTED, collected(), mission=T0, utc=T0)
    with pytest.raises(CustodyError, match=r"MEASURED entry: sigma_g: Input should be greater"):
        writer.make(
            "rover1-0001",
            Kind.MEASURED,
            {"mass_g": 1.0, "sigma_g": -1, "calibration": "LC"},
            mission=T0,
            utc=T0,
        )
    with pytest.raises(CustodyError, match=r"MOVED entry: location"):
        writer.make("rover1-0001", Kind.MOVED, {"location": "moon"}, mission=T0, utc=T0)
    assert writer.new_sample_id() == "rover1-0002"


def test_custody_ledger_parse_line_refuses_oversize_line() -> None:
    with pytest.raises(LineError, match="over 65536"):
        parse_line(b"x" * 70000)
