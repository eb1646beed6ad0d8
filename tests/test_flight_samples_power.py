"""The custody ledger of the real ``isru flight`` process across a crash and a power loss:
killed outright (SIGKILL) while it appends entries, it comes back with every acknowledged
entry and a ledger that verifies; a torn last entry (a write cut short) is reported by
``CUSTODY_TORN`` and kept beside the ledger, never dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interface.broker import parse_broker
from interface.custody import load_public_key, parse_line, verify_ledger
from isru.stack import Stack, sil_stack
from tests.ground_probe import Probe, Received, ground_probe

NOTES = 60
#: Acknowledged notes to see before the kill: the rest are still being appended.
BEFORE_KILL = 10


def _event(event_id: str, **args: Any) -> Any:
    def match(message: Received) -> bool:
        payload = message.payload
        return (
            message.topic.endswith("/evr")
            and payload.get("id") == event_id
            and all(payload.get("args", {}).get(k) == v for k, v in args.items())
        )

    return match


def _completed(ground: Probe, prefix: str) -> set[str]:
    return {
        m.payload["id"]
        for m in ground.received
        if m.topic.endswith("/cmd/ack")
        and m.payload.get("stage") == "COMPLETED"
        and str(m.payload.get("id", "")).startswith(prefix)
    }


async def _ok(ground: Probe, name: str, args: dict[str, Any] | None = None) -> None:
    ack = await ground.final_ack(await ground.command(name, args))
    assert ack["stage"] == "COMPLETED", ack


def _paths(stack: Stack) -> tuple[Path, Path]:
    return stack.workdir / "state" / "custody.jsonl", stack.workdir / "custody.key"


async def test_flight_samples_power_kill_while_appending_keeps_every_acknowledged_entry() -> None:
    async with sil_stack(time_scale=50) as stack:
        host, port = parse_broker(stack.broker)
        async with ground_probe(host, port, stack.vehicle) as ground:
            await ground.wait_for(_event("CUSTODY_OPENED", entries=0))
            await _ok(ground, "MODE.IDLE")
            await _ok(ground, "SCOOP.HOME")
            await _ok(ground, "SCOOP.DIG", {"depth_mm": 20.0})
            await ground.wait_for(_event("SAMPLE_ENTRY", kind="COLLECTED"))
            for n in range(NOTES):
                text = f"note {n}"
                await ground.command(
                    "SAMPLE.NOTE", {"sample": "latest", "text": text}, command_id=f"note-{n}"
                )
            await ground.wait_for(lambda _: len(_completed(ground, "note-")) >= BEFORE_KILL)
            await stack.restart_flight(kill=True)
            acknowledged = _completed(ground, "note-")
            opened = await ground.wait_for(
                lambda m: _event("CUSTODY_OPENED")(m) and m.payload["args"]["entries"] > 1
            )
            # Notes the broker still held for the vehicle come first, then this one: once it is
            # done, the ledger stops growing.
            await _ok(ground, "SAMPLE.NOTE", {"sample": "latest", "text": "fence"})
            ledger, key = _paths(stack)
            data = ledger.read_bytes()
            report = verify_ledger(data, load_public_key(key), file=str(ledger))
            assert report.problems == []
            lines = data.split(b"\n")[:-1]
            assert opened.payload["args"]["entries"] < len(lines)  # (the fence, at least)
            texts = {parse_line(line).entry.body.get("text") for line in lines}
            assert {f"note {i.removeprefix('note-')}" for i in acknowledged} <= texts
            assert BEFORE_KILL <= len(acknowledged) <= len(lines)

            # A power loss cuts the next entry's write short: its first bytes reach the disk.
            await stack.stop_flight(kill=True)
            torn = lines[-1][: len(lines[-1]) // 2]
            with ledger.open("ab") as file:
                file.write(torn)
            await stack.start_flight()
            event = await ground.wait_for(_event("CUSTODY_TORN"))
            assert (
                f"torn last entry at byte {len(data)} ({len(torn)} bytes" in event.payload["text"]
            )
            assert ledger.read_bytes() == data
            assert (ledger.parent / f"custody.jsonl.torn-{len(data)}").read_bytes() == torn
            await ground.wait_for(_event("CUSTODY_OPENED", entries=len(lines)))
            await _ok(ground, "SAMPLE.NOTE", {"sample": "latest", "text": "after the power loss"})
            assert verify_ledger(ledger.read_bytes(), load_public_key(key)).problems == []
