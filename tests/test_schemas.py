"""The JSON Schemas of the MQTT messages (docs/schemas): up to date with the models, and true
of what a running SIL stack publishes and accepts, checked with the ``jsonschema`` package."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from interface.broker import NODELAY, parse_broker
from interface.catalog import DICTIONARY
from interface.dictionary import ChannelDef, Severity
from interface.messages import AckMessage, EventMessage, StatusMessage
from interface.schema_export import INDEX, schema_for, schemas, stale
from isru.schemas_cli import main
from isru.testing import Sil

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"
WAITING = "WAIT core.mode == OPERATING TIMEOUT 00:05:00\nR00:00:00 CORE.NOOP\n"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 as the flight writes it: a date, a time and an offset (``Z``)."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FORMATS)


def problems(name: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(document)
    ]


# --- the files ---------------------------------------------------------------------------


@pytest.mark.req("GND-21")
def test_schemas_files_match_the_models() -> None:
    found = stale(SCHEMAS)
    assert not found, (
        f"docs/schemas is stale ({'; '.join(found)}): a message model or the dictionary "
        "changed; regenerate with: python -m isru.cli schemas export"
    )


def test_schemas_are_valid_draft_2020_12_and_indexed() -> None:
    index = json.loads((SCHEMAS / INDEX).read_text())["topics"]
    files = sorted(p.name for p in SCHEMAS.glob("*.json") if p.name != INDEX)
    assert sorted(entry["schema"] for entry in index.values()) == files
    for name in files:
        Draft202012Validator.check_schema(json.loads((SCHEMAS / name).read_text()))
    for topic in ("status", "dict", "evr", "cmd", "cmd/ack", "seq/status", "seq/upload"):
        assert f"isru/<vehicle>/{topic}" in index
    for packet in {c.packet for c in DICTIONARY.channels}:
        assert index[f"isru/<vehicle>/tm/{packet}"]["schema"] == f"tm-{packet}.json"


def test_schemas_schema_for_maps_topics_to_files() -> None:
    assert schema_for("cmd/ack") == "cmd-ack.json"
    assert schema_for("tm/elec") == "tm-elec.json"
    assert schema_for("tm/other") == "tm.json"
    with pytest.raises(KeyError, match="no message is defined on topic 'seq/other'"):
        schema_for("seq/other")


def test_schemas_cli_exports_checks_and_names_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schemas"
    assert main(["export", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    (out / "evr.json").write_text("{}\n")
    (out / "old.json").write_text("{}\n")
    (out / "status.json").unlink()
    capsys.readouterr()
    assert main(["check", str(out)]) == 1
    report = capsys.readouterr()
    assert report.out.splitlines() == [
        f"{out}/old.json: left over",
        f"{out}/evr.json: differs from the models",
        f"{out}/status.json: missing",
    ]
    assert "isru schemas export" in report.err
    assert main(["export", str(out)]) == 0
    assert not (out / "old.json").exists() and main(["check", str(out)]) == 0


def test_schemas_dictionary_change_makes_them_stale(tmp_path: Path) -> None:
    main(["export", str(tmp_path)])
    extra = ChannelDef(name="core.extra", type="float", packet="core")
    other = DICTIONARY.model_copy(update={"channels": (*DICTIONARY.channels, extra)})
    assert stale(tmp_path, other) == ["tm-core.json: differs from the models"]
    assert "core.extra" in schemas(other)["tm-core.json"]["properties"]["values"]["properties"]


# --- the schemas agree with the models ------------------------------------------------


times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC)
)
texts = st.text(max_size=20)


@given(
    st.builds(
        AckMessage,
        id=texts,
        name=texts,
        stage=st.sampled_from(["ACCEPTED", "STARTED", "COMPLETED", "FAILED"]),
        time=times,
        reason=st.none() | texts,
        detail=st.none() | texts,
        replayed=st.none() | st.booleans(),
    )
)
def test_schemas_ack_any_message_of_the_model_satisfies_its_schema(message: AckMessage) -> None:
    assert problems("cmd-ack.json", json.loads(message.to_json())) == []


@given(
    st.builds(
        EventMessage,
        time=times,
        seq=st.integers(0, 2**53),
        severity=st.sampled_from([str(s) for s in Severity]),
        id=texts,
        text=texts,
        args=st.dictionaries(texts, st.integers() | texts | st.booleans(), max_size=3),
    )
)
def test_schemas_event_any_message_of_the_model_satisfies_its_schema(message: EventMessage) -> None:
    assert problems("evr.json", json.loads(message.to_json())) == []


@pytest.mark.req("GND-21")
def test_schemas_refuse_what_the_models_refuse() -> None:
    status = json.loads(StatusMessage(state="online", mode="SAFE").to_json())
    assert problems("status.json", status) == []
    assert problems("status.json", {**status, "state": "asleep"})
    assert problems("status.json", {**status, "colour": "red"})  # no other field
    assert problems("cmd.json", {"id": "", "name": "CORE.NOOP"})  # id: 1 to 64 characters
    assert problems("cmd.json", {"id": "c", "name": "CORE.NOOP", "mac": "xyz"})
    assert problems("seq-start.json", {"id": "c", "name": "SEQ.ABORT"})  # its own command only
    tm = {"schema": 1, "time": "2026-01-01T00:00:00Z", "seq": 1}
    assert problems("tm-elec.json", {**tm, "values": {"elec.cell_current_a": 1.5}}) == []
    assert problems("tm-elec.json", {**tm, "values": {"elec.cell_current_a": "1.5"}})
    assert problems("tm-elec.json", {**tm, "values": {"scoop.state": "IDLE"}})  # another packet
    assert problems("tm-scoop.json", {**tm, "values": {"scoop.state": "ASLEEP"}})
    assert problems("tm-core.json", {**tm, "time": "yesterday", "values": {}})


# --- live messages from the SIL stack --------------------------------------------------


@contextlib.asynccontextmanager
async def recording(sil: Sil) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Every message on ``isru/<vehicle>/#`` from now on (retained ones first), as
    (topic below the vehicle, payload)."""
    host, port = parse_broker(sil.stack.broker)
    prefix = f"isru/{sil.stack.vehicle}/"
    seen: list[tuple[str, bytes]] = []
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(f"{prefix}#", qos=1)

        async def take() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen.append((str(message.topic).removeprefix(prefix), message.payload))

        task = asyncio.create_task(take())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def until_seen(seen: list[tuple[str, bytes]], wanted: set[str], within_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not wanted <= {topic for topic, _ in seen}:
        if asyncio.get_running_loop().time() > deadline:
            missing = wanted - {topic for topic, _ in seen}
            raise AssertionError(f"no message on {sorted(missing)} within {within_s:g} s")
        await asyncio.sleep(0.05)


@pytest.mark.req("GND-21")
async def test_schemas_validate_every_live_message_of_a_sil_run(sil: Sil) -> None:
    malformed = {"id": "bad-1", "name": "CORE.NOOP", "args": {}, "colour": "red"}
    async with recording(sil) as seen:
        await sil.send_and_await("CORE.NOOP")
        await sil.send_expect_failure("SCOOP.HOME", reason="NOT_ALLOWED_IN_MODE")
        end, status = await sil.run_sequence("R00:00:00 CORE.NOOP\n", name="tiny", timeout=30)
        assert end.id == "SEQ_COMPLETED", status
        await sil.client.upload_sequence("waiting", WAITING)
        mark = await sil.client.start_sequence("waiting")
        await sil.client.abort_sequence()
        end, _ = await sil.client.wait_sequence_end("waiting", since=mark, timeout_s=30)
        assert end.id == "SEQ_ABORTED"
        host, port = parse_broker(sil.stack.broker)
        async with aiomqtt.Client(host, port, socket_options=NODELAY) as probe:
            await probe.publish(sil.client.topics.cmd, json.dumps(malformed), qos=1)
        await sil.await_event(
            "MESSAGE_REJECTED", where=lambda e: "colour" in str(e.args.get("detail")), timeout=10
        )
        every = {"status", "dict", "evr", "cmd", "cmd/ack", "seq/status", "seq/upload"}
        every |= {"seq/start", "seq/abort"} | {f"tm/{c.packet}" for c in DICTIONARY.channels}
        await until_seen(seen, every, 30)

    found: dict[str, list[str]] = {}
    counted: dict[str, int] = {}
    for topic, payload in seen:
        document = json.loads(payload)
        name = schema_for(topic)
        counted[name] = counted.get(name, 0) + 1
        if document == malformed:
            assert problems(name, document), "the schema takes a command the vehicle refused"
            continue
        for problem in problems(name, document):
            found.setdefault(f"{topic}: {problem}", []).append(payload.decode()[:300])
    assert not found, json.dumps(found, indent=1)[:4000]
    assert counted["cmd.json"] >= 3 and counted["cmd-ack.json"] >= 10, counted
    failed = [json.loads(p) for t, p in seen if t == "cmd/ack" and b'"FAILED"' in p]
    assert {a.get("reason") for a in failed} >= {"NOT_ALLOWED_IN_MODE", "MALFORMED"}
