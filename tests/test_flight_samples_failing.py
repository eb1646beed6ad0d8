"""A ledger write that fails during a dig, in the flight software against the simulated boards
over real ptys: the disk is full for the ledger (a real short write: the process's file size
limit stops the write, as tests/test_custody_store.py does in a child), CUSTODY_FAILED names
the problem, SCOOP.DIG completes all the same and no actuator is left on."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interface.custody import load_public_key, verify_ledger
from tests.test_flight_samples import _dig, _entry, custody_stack

NOTE = "x" * 2000
#: Actuators off and the boards at rest, as telemetry says.
AT_REST = {
    "scoop.motors_on": False,
    "elec.current_on": False,
    "elec.heater_on": False,
    "oven.heater_on": False,
    "oven.pump_on": False,
    "oven.trap_on": False,
}


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file of this process may grow past ``limit`` bytes (writes fail EFBIG) until the
    block ends; the hard limit is left as it is, so the old soft limit comes back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def _at_rest(values: dict[str, Any]) -> bool:
    boards = all(values.get(f"{board}.state") == "IDLE" for board in ("scoop", "elec", "oven"))
    return boards and all(values.get(name) is want for name, want in AT_REST.items())


async def test_flight_samples_failing_ledger_write_during_a_dig_is_custody_failed(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "state" / "custody.jsonl"
    async with custody_stack(tmp_path, camera=False) as stack:
        await _dig(stack, 20.0)
        await _entry(stack, "COLLECTED")
        for _ in range(20):  # a ledger far larger than any other file the flight writes
            await stack.ok("SAMPLE.NOTE", sample="latest", text=NOTE)
        await _entry(stack, "NOTED", 20)
        size = ledger.stat().st_size
        state = tmp_path / "state" / "state.json"
        assert state.stat().st_size < size // 4
        with file_size_limit(size + 100):  # the next entry does not fit
            await stack.ok("SCOOP.HOME")
            await stack.ok("SCOOP.DIG", depth_mm=20.0)  # COMPLETED, custody or not
            failed = await stack.event("CUSTODY_FAILED")
            assert failed.args["what"] == "COLLECTED"
            assert failed.text.startswith(f"custody COLLECTED: ledger {ledger}: cannot write seq")
            assert failed.text.endswith("File too large")
            assert ledger.stat().st_size == size  # cut back: nothing of the entry stays
        await stack.until(_at_rest)
        assert stack.app.modes.mode.value == "IDLE"
        assert len(stack.app.samples.keeper.records) == 1  # the failed dig made no sample
        await stack.ok("SAMPLE.NOTE", sample="latest", text="after the full disk")
        await _entry(stack, "NOTED", 21)
    data = ledger.read_bytes()
    report = verify_ledger(data, load_public_key(tmp_path / "custody.key"))
    assert report.problems == []
    assert len(report.entries) == 22
