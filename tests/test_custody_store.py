"""The board's custody ledger (flight.custody_store): durable appends, reopening, a torn
last entry set aside and reported, a corrupt ledger refused, and power losses: a writer
process killed while it appends, or cut off half way through an entry."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from flight.custody_store import CustodyStore, CustodyStoreError, LedgerCorrupt
from interface.custody import CustodyError, Kind, Measured, Moved, verify_ledger
from isru.children import ChildProcess
from tests.custody_cases import LIFE, OTHER_KEY, T0, VEHICLE, VEHICLE_KEY, build, collected

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = VEHICLE_KEY.public_key()


def open_store(path: Path) -> CustodyStore:
    return CustodyStore.open(path, key=VEHICLE_KEY, vehicle=VEHICLE)


def fill(store: CustodyStore) -> None:
    sample = store.collect(collected(), mission=T0, utc=T0).entry.sample
    mass = Measured(mass_g=12.3, sigma_g=0.05, calibration="LC-1")
    store.append(sample, Kind.MEASURED, mass, mission=T0, utc=T0)
    store.append(sample, Kind.MOVED, Moved(location="stowed"), mission=T0, utc=T0)


def test_custody_store_appends_survive_reopening_and_the_chain_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "custody.jsonl"
    with open_store(path) as store:
        assert (store.report.created, store.report.entries) == (True, 0)
        fill(store)
        written = store.entries
    assert path.read_bytes() == b"".join(signed.line for signed in written)
    with open_store(path) as store:
        assert store.report.created is False
        assert (store.report.entries, store.report.samples, store.report.torn) == (3, 1, None)
        assert store.entries == written
        second = store.collect(collected(), mission=T0, utc=T0)
    assert (second.entry.seq, second.entry.prev) == (3, written[-1].hash)
    assert second.entry.sample == "rover1-0002"
    assert verify_ledger(path.read_bytes(), PUBLIC).problems == []


def test_custody_store_fsyncs_each_entry_after_writing_it_and_the_new_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        synced.append(("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file", info.st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with open_store(tmp_path / "custody.jsonl") as store:
        fill(store)
        sizes = [sum(len(s.line) for s in store.entries[: n + 1]) for n in range(3)]
    assert synced[0][0] == "dir"
    assert [size for kind, size in synced if kind == "file"] == sizes


async def test_custody_store_async_append_runs_in_a_thread(tmp_path: Path) -> None:
    with open_store(tmp_path / "custody.jsonl") as store:
        first = store.collect(collected(), mission=T0, utc=T0)
        mass = Measured(mass_g=1.0, sigma_g=0.1, calibration="LC-1")
        signed = await store.aappend(first.entry.sample, Kind.MEASURED, mass, mission=T0, utc=T0)
    assert signed.entry.prev == first.hash


def test_custody_store_torn_tail_is_set_aside_and_reported_never_dropped(tmp_path: Path) -> None:
    path = tmp_path / "custody.jsonl"
    entries = build(LIFE)
    whole = b"".join(signed.line for signed in entries[:3])
    torn = entries[3].line[:100]
    path.write_bytes(whole + torn)
    with open_store(path) as store:
        report = store.report
        assert report.entries == 3
        assert report.torn is not None
        assert (report.torn.offset, report.torn.length) == (len(whole), 100)
        assert report.torn.saved_to == tmp_path / f"custody.jsonl.torn-{len(whole)}"
        assert "torn last entry at byte" in str(report.torn)
        assert report.torn.saved_to.read_bytes() == torn
        assert path.read_bytes() == whole
        store.append(
            "rover1-0001", Kind.NOTED, {"text": "after the power loss"}, mission=T0, utc=T0
        )
    assert verify_ledger(path.read_bytes(), PUBLIC).problems == []
    # Torn again at the same place: a second file, the first one kept.
    path.write_bytes(whole + torn)
    with open_store(path) as store:
        assert store.report.torn is not None
        assert store.report.torn.saved_to.name == f"custody.jsonl.torn-{len(whole)}-2"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda lines: [lines[0], lines[1].replace(b"12.3", b"13.3"), *lines[2:]], "line 2:"),
        (lambda lines: [lines[0], *lines[2:]], "seq 1 is missing"),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "out of order"),
    ],
    ids=["changed", "removed", "reordered"],
)
def test_custody_store_corrupt_ledger_is_refused_and_left_as_it_is(
    tmp_path: Path, damage, named: str
) -> None:
    path = tmp_path / "custody.jsonl"
    lines = [signed.line for signed in build(LIFE)]
    data = b"".join(damage(lines))
    path.write_bytes(data)
    with pytest.raises(LedgerCorrupt, match=named) as caught:
        open_store(path)
    assert caught.value.problems
    assert path.read_bytes() == data


def test_custody_store_ledger_of_another_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "custody.jsonl"
    path.write_bytes(b"".join(signed.line for signed in build(LIFE, key=OTHER_KEY)))
    with pytest.raises(LedgerCorrupt, match="not the vehicle key 56475aa7"):
        open_store(path)


def test_custody_store_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "custody.jsonl"
    with open_store(path), pytest.raises(CustodyStoreError, match="in use by another process"):
        open_store(path)
    open_store(path).close()


def test_custody_store_refused_entry_writes_nothing_and_closed_store_refuses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "custody.jsonl"
    store = open_store(path)
    with pytest.raises(CustodyError, match="no such sample"):
        store.append("rover1-0009", Kind.MOVED, Moved(location="oven"), mission=T0, utc=T0)
    assert path.read_bytes() == b""
    store.close()
    with pytest.raises(CustodyStoreError, match="closed"):
        store.collect(collected(), mission=T0, utc=T0)


def test_custody_store_unopenable_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CustodyStoreError, match="cannot open: No such file or directory"):
        open_store(tmp_path / "no" / "custody.jsonl")


def writer(path: Path, *options: str) -> ChildProcess:
    return ChildProcess(
        [sys.executable, "-m", "tests.custody_writer", str(path), *options],
        name="custody writer",
        cwd=ROOT,
        ready=lambda line: line.startswith("opened"),
        stderr="stdout",
    )


def last_appended(child: ChildProcess) -> int:
    return max(int(line.split()[1]) for line in child.stdout_lines if line.startswith("appended"))


async def test_custody_store_writer_killed_while_appending_loses_no_fsynced_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "custody.jsonl"
    for round_ in range(3):  # killed, reopened, killed again...
        async with writer(path) as child:
            target = 20 * (round_ + 1)
            await child.wait_for_line(
                lambda line, n=target: line.startswith("appended") and int(line.split()[1]) >= n,
                timeout_s=30,
            )
            assert await child.kill() == -signal.SIGKILL
            reported = last_appended(child)
        with open_store(path) as store:
            assert store.report.entries >= reported + 1
            assert [s.entry.seq for s in store.entries] == list(range(store.report.entries))
    assert verify_ledger(path.read_bytes(), PUBLIC).problems == []


async def test_custody_store_writer_killed_half_way_through_an_entry_leaves_a_reported_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "custody.jsonl"
    async with writer(path, "--tear-after", "5") as child:
        line = await child.wait_for_line(lambda line: line.startswith("torn"), timeout_s=30)
        await child.kill()
    _, seq, length = line.split()
    whole = path.read_bytes()[: -int(length)]
    with open_store(path) as store:
        torn = store.report.torn
        assert torn is not None
        assert (store.report.entries, torn.offset, torn.length) == (5, len(whole), int(length))
        assert torn.saved_to.read_bytes().startswith(b'{"entry":{"body":')
        again = store.collect(collected(), mission=T0, utc=T0 + timedelta(hours=1))
    assert again.entry.seq == int(seq) == 5
    assert verify_ledger(path.read_bytes(), PUBLIC).problems == []


def test_custody_store_write_failing_half_way_is_cut_back_to_the_last_entry(
    tmp_path: Path,
) -> None:
    # A real short write: the file size limit (as a full disk would) stops a line part way.
    path = tmp_path / "custody.jsonl"
    limit = 10_000

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "tests.custody_writer", str(path)],
        cwd=ROOT,
        preexec_fn=limited,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "failed" in done.stdout and "File too large" in done.stdout
    appended = [line for line in done.stdout.splitlines() if line.startswith("appended")]
    data = path.read_bytes()
    assert len(data) < limit and data.endswith(b"\n")
    with open_store(path) as store:
        assert (store.report.entries, store.report.torn) == (len(appended), None)
