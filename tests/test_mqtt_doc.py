"""docs/mqtt.md is a contract: a client written from it alone must work. Its examples
validate against docs/schemas, the event ids, templates and refusal reasons it lists are the
code's (and the code has no others), its links lead somewhere, and the behaviour it promises
(the start-up backlog, the acks of a refused upload, a counter sent as a string, no nulls)
is what a real mosquitto delivers."""

from __future__ import annotations

import contextlib
import json
import re
import typing
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from flight.dispatcher import Reason, Stage
from flight.mqtt import Outbox, Uplink
from flight.mqtt.auth import Reason as AuthReason
from flight.mqtt.intake import RATE_LIMITED
from interface.catalog import DICTIONARY
from interface.schema_export import schema_for
from isru.broker import Mosquitto
from tests.flightstack import flight_stack
from tests.ground_probe import Probe, ground_probe
from tests.test_schemas import FORMATS
from tests.test_uplink import KEY, TIME_SCALE, VEHICLE, linked

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC = DOCS / "mqtt.md"
SCHEMAS = DOCS / "schemas"
#: The schema of the JSON examples under each heading of docs/mqtt.md (``tm``: by packet).
EXAMPLE_SCHEMAS = {
    "`cmd`: a command": "cmd.json",
    "`cmd/ack`: verification stages": "cmd-ack.json",
    "`tm/<packet>`: telemetry": "tm",
    "`evr`: events": "evr.json",
    "`status`: online, offline and the last will": "status.json",
    "`dict`: the dictionary": "dict.json",
    "`seq/status`: the sequencer": "seq-status.json",
    "The signed fields": "cmd.json",
    "Worked example": "cmd.json",
}
REPLAY_DONE_TEXT = DICTIONARY.event_index["REPLAY_DONE"].template


@dataclass(frozen=True)
class Block:
    heading: str
    language: str
    text: str


def doc_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with the heading each one is under."""
    blocks: list[Block] = []
    heading, fence, lines = "", None, list[str]()
    for line in text.splitlines():
        if fence is None:
            if line.startswith("```"):
                fence, lines = line[3:].strip(), []
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif line.startswith("```"):
            blocks.append(Block(heading, fence, "\n".join(lines)))
            fence = None
        else:
            lines.append(line)
    return blocks


def prose(text: str) -> str:
    """The text without its fenced blocks."""
    return "".join(
        part for i, part in enumerate(re.split(r"^```.*$", text, flags=re.M)) if i % 2 == 0
    )


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    for line in prose(text).splitlines():
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def validate(schema_file: str, document: Any) -> list[str]:
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def json_documents(block: Block) -> list[Any]:
    """One JSON document, or one per line."""
    try:
        return [json.loads(block.text)]
    except ValueError:
        return [json.loads(line) for line in block.text.splitlines() if line.strip()]


def unabridged(value: Any) -> Any:
    """The example without its ``"..."`` placeholders (lists of which they were part)."""
    if isinstance(value, list):
        return [unabridged(v) for v in value if v != "..."]
    if isinstance(value, dict):
        return {k: unabridged(v) for k, v in value.items()}
    return value


def table(text: str, at: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first table from the line ``at`` (its header, or
    a line before it) on, without its header."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == at)
    rows: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not re.fullmatch(r"\|[-:| ]+\|", line.strip()):  # not the |---|---| line
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows[1:]  # without the header


def code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"{cell!r} is not one code span"
    return match.group(1)


def nulls(value: Any, where: str = "") -> Iterator[str]:
    if value is None:
        yield where or "."
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from nulls(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from nulls(v, f"{where}[{i}]")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


# --- examples --------------------------------------------------------------------------


def test_mqtt_doc_json_examples_validate_against_their_schemas(doc: str) -> None:
    checked = 0
    for block in doc_blocks(doc):
        if block.language != "json":
            continue
        assert block.heading in EXAMPLE_SCHEMAS, (
            f"a JSON example under '{block.heading}': add its schema to EXAMPLE_SCHEMAS"
        )
        for document in json_documents(block):
            document = unabridged(document)
            schema = EXAMPLE_SCHEMAS[block.heading]
            if schema == "tm":
                packets = {name.split(".")[0] for name in document["values"]}
                assert len(packets) == 1, f"one packet per tm message: {document}"
                schema = schema_for(f"tm/{packets.pop()}")
            problems = validate(schema, document)
            assert not problems, f"{block.heading}: {document}: {problems}"
            checked += 1
    assert checked >= 15


def test_mqtt_doc_captured_messages_validate(doc: str) -> None:
    """The captures (``topic payload`` lines): what the flight sent validates; the command
    captured under "Malformed messages" is the one that schema refuses."""
    checked = 0
    for block in doc_blocks(doc):
        for line in block.text.splitlines():
            match = re.fullmatch(r"isru/[A-Za-z0-9_-]+/(\S+) (\{.*\})", line.strip())
            if not match:
                continue
            suffix, document = match.group(1), json.loads(match.group(2))
            problems = validate(schema_for(suffix), document)
            if block.heading == "Malformed messages" and suffix == "cmd":
                assert problems, f"the malformed example is valid: {document}"
            else:
                assert not problems, f"{block.heading}: {line}: {problems}"
            checked += 1
    assert checked >= 3


def test_mqtt_doc_inline_commands_validate(doc: str) -> None:
    """Commands quoted in the text and in the shell examples (``mosquitto_pub -t ... -m``)."""
    checked = 0
    for row in table(doc, "| topic | command | example |"):
        document = json.loads(code(row[2]))
        assert not validate(schema_for(code(row[0])), document), row
        checked += 1
    for block in doc_blocks(doc):
        for suffix, payload in re.findall(r"-t isru/sil/(\S+) -m '(\{.*?\})'", block.text):
            assert not validate(schema_for(suffix), json.loads(payload)), payload
            checked += 1
    assert checked >= 5


def test_mqtt_doc_dictionary_example_is_the_export(doc: str) -> None:
    """Every entry the abridged ``dict`` example shows is the real document's entry."""
    block = next(b for b in doc_blocks(doc) if b.heading == "`dict`: the dictionary")
    example = unabridged(json.loads(block.text))
    exported = DICTIONARY.export()
    assert example["version"] == exported["version"]
    for member, key in (
        ("commands", "name"),
        ("channels", "name"),
        ("events", "id"),
        ("interlocks", "name"),
    ):
        real = {entry[key]: entry for entry in exported[member]}
        for entry in example[member]:
            assert entry == real[entry[key]], f"dict example: {member} {entry[key]}"
    assert not list(nulls(exported)), "the dict document holds a null"


def test_mqtt_doc_event_examples_are_filled_templates(doc: str) -> None:
    events = [
        document
        for block in doc_blocks(doc)
        for line in block.text.splitlines()
        for document in [_captured_event(line) or _example_event(block, line)]
        if document is not None
    ]
    assert len(events) >= 2
    for event in events:
        definition = DICTIONARY.event_index[event["id"]]
        assert event["severity"] == definition.severity.value, event
        assert event["text"] == definition.template.format(**event["args"]), event


def _captured_event(line: str) -> dict[str, Any] | None:
    match = re.fullmatch(r"isru/\S+/evr (\{.*\})", line.strip())
    return json.loads(match.group(1)) if match else None


def _example_event(block: Block, line: str) -> dict[str, Any] | None:
    if block.heading == "`evr`: events" and line.strip():
        document: dict[str, Any] = json.loads(line)
        return document
    return None


# --- lists the code must agree with ------------------------------------------------------


def _literals(path: Path) -> set[str]:
    return set(re.findall(r'"([A-Z][A-Z_]*[A-Z])"', path.read_text(encoding="utf-8")))


def test_mqtt_doc_link_events_are_the_uplinks(doc: str) -> None:
    """The table of the link's events: the ids, severities and quoted templates are the
    dictionary's, and every event the uplink (or ``isru flight`` for its outbox) raises is
    listed."""
    rows = table(doc, "The events of the MQTT link itself:")
    listed = {code(row[0]): row for row in rows}
    for event_id, (_, severity, when) in listed.items():
        definition = DICTIONARY.event_index.get(event_id)
        assert definition is not None, f"{event_id} is not an event of the dictionary"
        assert severity == definition.severity.value, event_id
        for quoted in re.findall(r"`([^`]*\{[^`]*)`", when):
            assert quoted == definition.template, f"{event_id}: {quoted!r}"
    ids = set(DICTIONARY.event_index)
    mqtt = [_literals(path) for path in (ROOT / "flight" / "mqtt").glob("*.py")]
    raised = set().union(*mqtt, _literals(ROOT / "flight" / "service.py")) & ids
    assert set(listed) == raised
    assert f"`{REPLAY_DONE_TEXT}`" in listed["REPLAY_DONE"][2]


def test_mqtt_doc_flight_md_event_table_is_the_dictionary() -> None:
    """docs/flight.md lists every event with its severity and template: the dictionary's,
    all of them (mqtt.md sends its readers there for the events' texts)."""
    rows = table(
        (DOCS / "flight.md").read_text(encoding="utf-8"),
        "| id | severity | template | emitted by |",
    )
    listed = {code(row[0]): (row[1], code(row[2])) for row in rows}
    assert listed == {e.id: (e.severity.value, e.template) for e in DICTIONARY.events}


def test_mqtt_doc_refusal_reasons_are_the_codes(doc: str) -> None:
    listed = [code(row[0]) for row in table(doc, "| `reason` | when |")]
    stages = {s.value for s in Stage}
    events = set(DICTIONARY.event_index)
    from_uplink = _literals(ROOT / "flight" / "mqtt" / "intake.py") - events - stages
    from_uplink |= {RATE_LIMITED}
    assert len(listed) == len(set(listed))
    assert set(listed) == {r.value for r in Reason} | from_uplink
    assert listed[: len(Reason)] == [r.value for r in Reason]  # "the first thirteen"
    assert f"The first {_number(len(Reason))} are `flight.dispatcher.Reason`" in doc
    prefixes = [code(row[0]) for row in table(doc, "| detail starts with | when |")]
    assert sorted(prefixes) == sorted(typing.get_args(AuthReason))


def _number(n: int) -> str:
    words = {12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen"}
    return words[n]


def test_mqtt_doc_links_resolve(doc: str) -> None:
    """Every link of docs/mqtt.md leads to a file that exists and, with ``#``, to one of its
    headings; so does every link of the other docs into docs/mqtt.md."""
    problems = []
    for source in sorted(DOCS.glob("*.md")):
        text = source.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(text)):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (source.parent / path).resolve() if path else source
            if source != DOC and file != DOC:
                continue
            if not file.exists():
                problems.append(f"{source.name}: {target}: no such file")
            elif anchor and anchor not in anchors(file.read_text(encoding="utf-8")):
                problems.append(f"{source.name}: {target}: no such heading")
    assert not problems, problems


def test_mqtt_doc_slug_is_githubs() -> None:
    assert slug("`seq/status`: the sequencer") == "seqstatus-the-sequencer"
    assert slug("Persistent sessions and the broker's queue") == (
        "persistent-sessions-and-the-brokers-queue"
    )
    assert slug("ARM / FIRE") == "arm--fire"
    assert slug("Does the broker need a login?") == "does-the-broker-need-a-login"


# --- behaviour ---------------------------------------------------------------------------


def _evr(probe: Probe) -> list[dict[str, Any]]:
    return probe.on("evr")


async def test_mqtt_doc_refused_upload_string_counter_and_no_nulls(
    tmp_path: Path, mosquitto: Mosquitto, doc: str
) -> None:
    """What a client written from the doc expects: a refused upload is ACCEPTED then FAILED
    with the file's problems, an unknown command one FAILED, a counter sent as a string
    FAILED MALFORMED with the doc's detail, and no published message holds a null."""
    detail = "line 2: SCOOP.DIG: depth_mm: Input should be less than or equal to 100 (got 300)"
    assert detail in doc
    malformed = "counter: Input should be a valid integer"
    assert f"`{malformed}`" in doc
    async with linked(tmp_path, mosquitto) as link:
        ground = link.ground
        text = "R00:00:00 SCOOP.HOME\nR00:00:02 SCOOP.DIG depth_mm=300\n"
        upload = await ground.command(
            "SEQ.UPLOAD", {"name": "dig", "text": text}, topic="seq/upload"
        )
        unknown = await ground.command("CORE.NOPE")
        message = {"id": "s-1", "name": "CORE.NOOP", "args": {}, "counter": "5"}
        await ground.publish("cmd", json.dumps(message))
        refused = await ground.final_ack(upload)
        assert (refused["reason"], refused["detail"]) == ("INVALID_ARGUMENT", detail)
        assert (await ground.final_ack(unknown))["reason"] == "UNKNOWN_COMMAND"
        string_counter = await ground.final_ack("s-1")
        assert (string_counter["reason"], string_counter["detail"]) == ("MALFORMED", malformed)
        noop = await ground.command("CORE.NOOP")
        await ground.final_ack(noop)
        assert ground.acks(upload) == ["ACCEPTED", "FAILED"]
        assert ground.acks(unknown) == ["FAILED"]
        assert ground.acks("s-1") == ["FAILED"]
    published = [m for m in ground.received if not m.topic.endswith(("/cmd", "/seq/upload"))]
    assert any(m.topic.endswith("/dict") for m in published)
    for received in published:
        payload = dict(received.payload)
        if received.topic.endswith("/evr"):
            payload.pop("args")  # echoes what a client sent
        assert not list(nulls(payload)), f"{received.topic}: {received.payload}"


async def test_mqtt_doc_counter_string_or_null_on_a_keyed_vehicle(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """With a key: a string counter is MALFORMED before the signature is looked at; a null
    counter is the same as none (AUTH, unsigned)."""
    async with linked(tmp_path, mosquitto, key=KEY) as link:
        ground = link.ground
        for command_id, counter in (("as-string", "7"), ("as-null", None)):
            message = {"id": command_id, "name": "CORE.NOOP", "counter": counter, "mac": "0" * 64}
            await ground.publish("cmd", json.dumps(message))
        as_string = await ground.final_ack("as-string")
        assert (as_string["reason"], as_string["detail"]) == (
            "MALFORMED",
            "counter: Input should be a valid integer",
        )
        as_null = await ground.final_ack("as-null")
        assert as_null["reason"] == "AUTH" and as_null["detail"].startswith("unsigned")
        assert link.stack.app.state.highest_command_counter == 0


@contextlib.asynccontextmanager
async def starting_uplink(
    tmp_path: Path, broker: Mosquitto, outbox: Outbox
) -> AsyncIterator[tuple[Uplink, Any]]:
    """A running flight stack whose uplink starts now, as ``isru flight`` starts it: the
    events raised before its first session are its start-up backlog."""
    async with flight_stack(tmp_path, time_scale=TIME_SCALE) as stack:
        uplink = Uplink(app=stack.app, broker=broker.url, vehicle=VEHICLE, outbox=outbox)
        async with uplink:
            yield uplink, stack


def _raise_backlog(stack: Any) -> list[int]:
    """Events made before the first session (no await since the uplink started)."""
    return [stack.app.events.emit("BOOT", version="test", boot_count=n).seq for n in range(1, 4)]


async def test_mqtt_doc_clean_start_backlog_is_sent_live_before_broker_connected(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with (
        ground_probe(mosquitto.host, mosquitto.port, VEHICLE) as ground,
        contextlib.AsyncExitStack() as exits,
    ):
        outbox = exits.enter_context(Outbox(tmp_path / "outbox.db"))
        uplink, stack = await exits.enter_async_context(
            starting_uplink(tmp_path, mosquitto, outbox)
        )
        backlog = _raise_backlog(stack)
        assert len(outbox) >= len(backlog)  # durable until the broker has them
        connected = await ground.wait_for(
            lambda m: m.topic.endswith("/evr") and m.payload["id"] == "BROKER_CONNECTED"
        )
        noop = await ground.command("CORE.NOOP")
        await ground.final_ack(noop)  # by then the (empty) replay has run
        assert len(outbox) == 0 and uplink.replayed == 0
    events = _evr(ground)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] == backlog[0], "in order, from the backlog on"
    assert {e["seq"] for e in events if e["id"] == "BOOT"} >= set(backlog)
    assert max(backlog) < connected.payload["seq"]
    assert not [m for m in ground.received if m.payload.get("replayed")]
    assert "REPLAY_DONE" not in [e["id"] for e in events]
    assert any(m.topic.endswith("/tm/elec") for m in ground.received)


async def test_mqtt_doc_backlog_of_a_failed_first_connection_is_replayed(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """The broker was down at start: the backlog waited for it, so it is marked replayed and
    REPLAY_DONE says so, with the dictionary's text."""
    session = {"identifier": "doc-archive", "clean_session": False}
    async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **session):
        pass  # the persistent session exists: the broker queues for it from now on
    await mosquitto.stop()
    with Outbox(tmp_path / "outbox.db") as outbox:
        async with starting_uplink(tmp_path, mosquitto, outbox) as (_, stack):
            backlog = _raise_backlog(stack)
            await stack.event("BROKER_LOST", lambda e: "cannot connect" in e.text)
            await mosquitto.start()
            # At once: the broker queues at most 1000 messages for a session that is away.
            async with ground_probe(mosquitto.host, mosquitto.port, VEHICLE, **session) as again:
                done = await stack.event("REPLAY_DONE")
                assert done.text == REPLAY_DONE_TEXT.format(count=done.args["count"])
                await again.wait_for(
                    lambda m: m.topic.endswith("/evr") and m.payload["id"] == "REPLAY_DONE"
                )
    events = {e["seq"]: e for e in _evr(again)}
    for seq in backlog:
        assert events[seq]["replayed"] is True, events[seq]
    assert events[done.seq]["text"] == done.text
