"""The ground archive (ground/archive.py), its plots and its command line, and the recorder
against a real mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import json
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.archive import Archive, ArchiveError, format_time
from ground.archive.plot import plot
from ground.cli.archive_parser import archive_main as main
from ground.recorder import record
from interface.broker import NODELAY
from isru.broker import Mosquitto

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
WAIT_S = 20.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def at(seconds: float) -> str:
    return format_time(T0 + timedelta(seconds=seconds))


def tm(seq: int, seconds: float, replayed: bool = False, **values: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"time": at(seconds), "seq": seq, "values": values or {"x": seq}}
    if replayed:
        document["replayed"] = True
    return document


def seqs(archive: Archive, stream: str) -> list[int]:
    rows = archive.db.execute(
        "SELECT seq FROM telemetry WHERE stream = ? ORDER BY t, seq", (stream,)
    )
    return [row[0] for row in rows]


@pytest.fixture
def archive(tmp_path: Path) -> Iterable[Archive]:
    with Archive(tmp_path / "archive.db", vehicle="v1") as opened:
        yield opened


# --- keys and duplicates ----------------------------------------------------------------


@pytest.mark.req("GND-10")
def test_archive_duplicate_sample_stored_once(archive: Archive) -> None:
    archive.add("tm/core", tm(1, 0.0))
    archive.add("tm/core", tm(1, 0.0))  # a QoS 1 redelivery
    replayed = tm(1, 0.0, replayed=True)
    replayed["time"] = replayed["time"].replace("Z", "+00:00")  # another spelling, same instant
    archive.add("tm/core", replayed)
    archive.add("tm/scoop", tm(1, 0.0))  # another stream: not a duplicate
    assert archive.counts() == {
        "telemetry": 2,
        "events": 0,
        "acks": 0,
        "tm/core": 1,
        "tm/scoop": 1,
    }
    row = archive.db.execute("SELECT replayed FROM telemetry WHERE stream = 'tm/core'").fetchone()
    assert row == (0,)  # the first copy stored wins


def test_archive_add_many_one_transaction_counts_new_rows(archive: Archive) -> None:
    batch = [("tm/core", tm(n, n)) for n in range(1, 11)]
    assert archive.add_many(batch) == 10
    assert archive.add_many(batch) == 0
    assert archive.pending == 0
    assert archive.counts()["telemetry"] == 10


def test_archive_buffer_commits_at_batch_size(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db", vehicle="v1", batch=5) as archive:
        commits: list[int] = []
        archive.on_commit(lambda: commits.append(archive.stored))
        for n in range(1, 13):
            archive.add("tm/core", tm(n, n))
        assert commits == [5, 10]
        assert archive.pending == 2
        assert archive.flush() == 2
        assert commits == [5, 10, 12]


@pytest.mark.req("GND-10")
def test_archive_events_restart_and_replay_keyed_on_time_and_seq(archive: Archive) -> None:
    event = {"time": at(0), "seq": 1, "severity": "INFO", "id": "BOOT", "text": "boot 1"}
    archive.add("evr", event)
    archive.add("evr", {**event, "replayed": True})
    archive.add("evr", {**event, "time": at(60), "text": "boot 2"})  # seq 1 again: a new boot
    assert archive.counts()["events"] == 2


@pytest.mark.req("GND-10")
def test_archive_acks_keyed_on_id_and_stage(archive: Archive) -> None:
    ack = {"id": "c-1", "name": "CORE.NOOP", "stage": "ACCEPTED", "time": at(0)}
    archive.add("cmd/ack", ack)
    archive.add("cmd/ack", {**ack, "replayed": True})
    archive.add("cmd/ack", {**ack, "stage": "COMPLETED", "time": at(0.1)})
    failed = {**ack, "id": "c-2", "stage": "FAILED", "reason": "AUTH", "detail": "unsigned"}
    archive.add("cmd/ack", failed)
    assert archive.counts()["acks"] == 3
    row = archive.db.execute("SELECT reason, detail FROM acks WHERE id = 'c-2'").fetchone()
    assert row == ("AUTH", "unsigned")


def test_archive_ignores_other_topics_and_counts_malformed(archive: Archive) -> None:
    assert not archive.add("status", {"state": "online"})
    assert not archive.add("dict", {"version": "x"})
    assert not archive.add("tm/core", {"time": "yesterday", "seq": 1, "values": {}})
    assert not archive.add("tm/core", {"time": at(0), "seq": "1", "values": {}})
    assert not archive.add("tm/core", {"time": at(0), "seq": True, "values": {}})
    assert not archive.add("tm/core", {"time": at(0), "seq": 1, "values": []})
    assert not archive.add("evr", {"seq": 1})
    assert not archive.add("cmd/ack", {"time": at(0), "stage": "ACCEPTED"})
    assert archive.rejected == 6
    assert archive.counts()["telemetry"] == 0


def test_archive_input_checks_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch"):
        Archive(tmp_path / "a.db", batch=0)
    with pytest.raises(ArchiveError, match="does not exist"):
        Archive(tmp_path / "missing.db", create=False)
    with pytest.raises(ArchiveError, match="directory"):
        Archive(tmp_path / "no" / "such" / "a.db")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ArchiveError, match="not an isru ground archive"):
        Archive(tmp_path / "junk.db")
    with Archive(tmp_path / "a.db") as archive:
        with pytest.raises(ValueError, match="vehicle"):
            archive.add("tm/core", tm(1, 0))
        with pytest.raises(ValueError, match="channels"):
            list(archive.samples([]))
        with pytest.raises(TypeError, match="channels"):
            archive.samples("core.uptime_s")
        with pytest.raises(ValueError, match="start"):
            archive.samples(["x"], start="noon")
        with pytest.raises(ValueError, match="end"):
            archive.samples(["x"], start=at(10), end=at(0))


def test_archive_several_vehicles_query_needs_a_vehicle(archive: Archive) -> None:
    archive.add("tm/core", tm(1, 0))
    archive.add("tm/core", tm(1, 0), vehicle="v2")
    with pytest.raises(ArchiveError, match="several vehicles"):
        archive.gaps()
    assert archive.gaps("v2") == {"tm/core": []}


def test_archive_reopened_keeps_rows_and_channels(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db", vehicle="v1") as archive:
        archive.add("tm/core", tm(1, 0, **{"core.uptime_s": 1.0}))
    with Archive(tmp_path / "a.db", create=False) as archive:
        assert archive.channels() == {"core.uptime_s": ["tm/core"]}
        assert [v for _, v in archive.samples(["core.uptime_s"])] == [{"core.uptime_s": 1.0}]


# --- gaps and restarts ------------------------------------------------------------------


def missing_ranges(present: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    ordered = sorted(present)
    for before, after in itertools.pairwise(ordered):
        if after > before + 1:
            ranges.append((before + 1, after - 1))
    return ranges


@pytest.mark.req("GND-11")
@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=80), min_size=1))
def test_archive_gaps_random_subset_equals_missing_ranges(present: set[int]) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Archive(Path(tmp) / "a.db", vehicle="v1") as archive,
    ):
        archive.add_many(("tm/elec", tm(n, n * 0.02)) for n in sorted(present, reverse=True))
        assert archive.gaps() == {"tm/elec": missing_ranges(present)}


@pytest.mark.req("GND-11")
def test_archive_gaps_flight_restart_is_not_a_gap(archive: Archive) -> None:
    archive.add_many(("tm/core", tm(n, n)) for n in range(1, 11))
    archive.add_many(("tm/core", tm(n, 100 + n)) for n in range(1, 6))  # restarted: 1 again
    assert archive.gaps() == {"tm/core": []}
    assert seqs(archive, "tm/core") == [*range(1, 11), *range(1, 6)]


@pytest.mark.req("GND-11")
def test_archive_gaps_within_runs_after_a_restart(archive: Archive) -> None:
    archive.add_many(("tm/core", tm(n, n)) for n in (1, 2, 5, 6))
    archive.add_many(("tm/core", tm(n, 100 + n)) for n in (3, 4, 9))  # run 2 lost 1-2, 5-8
    archive.add_many(("tm/scoop", tm(n, n)) for n in (7, 8))  # recording began mid-run
    assert archive.gaps() == {"tm/core": [(3, 4), (1, 2), (5, 8)], "tm/scoop": []}
    report = archive.gap_report()
    assert [(g.run, g.runs, g.first, g.last) for g in report] == [
        (1, 2, 3, 4),
        (2, 2, 1, 2),
        (2, 2, 5, 8),
    ]
    assert report[1].after is None and report[1].before == at(103)


@pytest.mark.req("GND-11")
def test_archive_gaps_replay_arriving_after_live_data_fills_the_gap(archive: Archive) -> None:
    archive.add_many(("tm/core", tm(n, n)) for n in [*range(1, 4), *range(8, 11)])
    assert archive.gaps() == {"tm/core": [(4, 7)]}
    archive.add_many(("tm/core", tm(n, n, replayed=True)) for n in range(1, 11))
    assert archive.gaps() == {"tm/core": []}
    assert seqs(archive, "tm/core") == list(range(1, 11))


# --- samples and export -----------------------------------------------------------------


def fill_two_packets(archive: Archive) -> None:
    for n in range(1, 4):
        archive.add(
            "tm/elec", tm(n, n, **{"elec.cell_voltage_v": 1.5 + n / 10, "elec.current_on": True})
        )
        archive.add("tm/core", tm(n, n, **{"core.uptime_s": float(n), "core.mode": "SAFE"}))
    archive.add("tm/core", tm(4, 3.5, **{"core.uptime_s": 3.5, "core.mode": "SAFE"}))


@pytest.mark.req("GND-13")
def test_archive_export_csv_columns_and_rows(archive: Archive) -> None:
    fill_two_packets(archive)
    out = io.StringIO()
    channels = ["elec.cell_voltage_v", "core.uptime_s", "elec.current_on"]
    assert archive.export_csv(out, channels) == 4
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["time", *channels],
        [at(1), "1.6", "1.0", "true"],
        [at(2), "1.7", "2.0", "true"],
        [at(3), "1.8", "3.0", "true"],
        [at(3.5), "", "3.5", ""],
    ]


@pytest.mark.req("GND-13")
def test_archive_export_csv_all_channels_and_time_range(archive: Archive) -> None:
    fill_two_packets(archive)
    out = io.StringIO()
    assert archive.export_csv(out, None, start=at(2), end=T0 + timedelta(seconds=3)) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == [
        "time",
        "core.mode",
        "core.uptime_s",
        "elec.cell_voltage_v",
        "elec.current_on",
    ]
    assert [row[0] for row in rows[1:]] == [at(2), at(3)]


def test_archive_samples_yield_aware_utc_times(archive: Archive) -> None:
    fill_two_packets(archive)
    (first, values), *_ = archive.samples(["core.uptime_s"], start="2026-11-21T10:00:00")
    assert first == T0 + timedelta(seconds=1) and first.tzinfo is not None
    assert values == {"core.uptime_s": 1.0}


# --- plots ------------------------------------------------------------------------------


@pytest.mark.req("GND-13")
def test_archive_plot_writes_png(archive: Archive, tmp_path: Path) -> None:
    fill_two_packets(archive)
    out = tmp_path / "plot.png"
    drawn = plot(archive, ["elec.cell_voltage_v", "core.uptime_s", "elec.current_on"], out)
    assert drawn == 4
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


@pytest.mark.req("GND-13")
def test_archive_plot_refuses_unknown_channel(archive: Archive, tmp_path: Path) -> None:
    fill_two_packets(archive)
    with pytest.raises(ValueError, match=r"channels: elec\.nonsense not in dictionary"):
        plot(archive, ["elec.cell_voltage_v", "elec.nonsense"], tmp_path / "p.png")
    with pytest.raises(ValueError, match="not numeric"):
        plot(archive, ["core.mode"], tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.req("GND-13")
def test_archive_plot_no_data_is_an_error(archive: Archive, tmp_path: Path) -> None:
    fill_two_packets(archive)
    with pytest.raises(ArchiveError, match=r"no data for elec\.h2_pressure_kpa"):
        plot(archive, ["elec.h2_pressure_kpa"], tmp_path / "p.png")
    with pytest.raises(ArchiveError, match="no data"):
        plot(archive, ["core.uptime_s"], tmp_path / "p.png", start=at(100))


# --- the command line -------------------------------------------------------------------


@pytest.mark.req("GND-13")
def test_archive_cli_gaps_prints_lines_or_no_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.db"
    with Archive(path, vehicle="v1") as archive:
        archive.add_many(("tm/core", tm(n, n)) for n in (1, 2, 3))
    assert main(["--archive", str(path), "archive", "gaps"]) == 0
    assert capsys.readouterr().out == "no gaps\n"
    with Archive(path, vehicle="v1") as archive:
        archive.add_many(("tm/core", tm(n, n)) for n in (7, 9))
    assert main(["archive", "gaps", "--archive", str(path)]) == 0
    assert capsys.readouterr().out == "tm/core: 4-6 missing\ntm/core: 8 missing\n"


@pytest.mark.req("GND-13")
def test_archive_cli_export_writes_csv_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = tmp_path / "a.db", tmp_path / "out.csv"
    with Archive(path, vehicle="v1") as archive:
        fill_two_packets(archive)
    argv = ["--archive", str(path), "archive", "export", "--from", "2026-11-21T10:00:02"]
    assert main([*argv, "--to", "2026-11-21T11:00:03+01:00", "-o", str(out), "core.uptime_s"]) == 0
    assert out.read_text() == f"time,core.uptime_s\n{at(2)},2.0\n{at(3)},3.0\n"
    assert "wrote 2 rows" in capsys.readouterr().err


@pytest.mark.req("GND-13")
def test_archive_cli_plot_writes_png(tmp_path: Path) -> None:
    path, out = tmp_path / "a.db", tmp_path / "plot.png"
    with Archive(path, vehicle="v1") as archive:
        fill_two_packets(archive)
    assert main(["--archive", str(path), "plot", "core.uptime_s", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.req("GND-13", "GND-14")
@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["archive", "gaps"], 1, "does not exist"),
        (["archive", "export", "--from", "noon"], 2, "not an ISO 8601 time"),
        (["archive", "export", "--format", "xlsx"], 2, "invalid choice"),
        (["plot", "nonsense.channel", "-o", "x.png"], 1, "not in dictionary"),
        (["plot", "core.uptime_s"], 2, "required"),
        (["archive", "export", "core.uptime"], 1, "neither in the archive nor in dictionary"),
        (["plot", "core.uptime_s", "-o", "x.png"], 1, "no data for core.uptime_s"),
    ],
)
def test_archive_cli_errors_one_line_no_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    path = tmp_path / "archive.db"
    if argv != ["archive", "gaps"]:
        Archive(path, vehicle="v1").close()
    assert main(["--archive", str(path), *argv]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if code == 1:
        assert err.count("\n") == 1


# --- the recorder against a real broker ----------------------------------------------------


class Recorder:
    """``record()`` in a task, with events to wait on instead of sleeping."""

    def __init__(self, broker: Mosquitto, path: Path) -> None:
        self.broker, self.path = broker, path
        self.stop = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.committed = asyncio.Event()
        self.stored = 0
        self.task: asyncio.Task[dict[str, int]] | None = None

    def _commit(self, archive: Archive) -> None:
        self.stored = archive.stored
        self.committed.set()

    def _log(self, line: str) -> None:
        if line.startswith("recording "):
            self.subscribed.set()

    async def start(self) -> None:
        self.stop.clear()
        self.subscribed.clear()
        self.stored = 0
        self.task = asyncio.create_task(
            record(
                broker=self.broker.url,
                vehicle="v1",
                archive_path=self.path,
                stop=self.stop,
                on_commit=self._commit,
                log=self._log,
            )
        )
        await self.until(self.subscribed.is_set, self.subscribed)

    async def until(self, ready: Callable[[], bool], event: asyncio.Event) -> None:
        async with asyncio.timeout(WAIT_S):
            while not ready():
                event.clear()
                await event.wait()

    async def stored_at_least(self, count: int) -> None:
        await self.until(lambda: self.stored >= count, self.committed)

    async def finish(self) -> dict[str, int]:
        assert self.task is not None
        self.stop.set()
        async with asyncio.timeout(WAIT_S):
            return await self.task


@contextlib.asynccontextmanager
async def vehicle(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY) as client:
        yield client


async def publish(client: aiomqtt.Client, numbers: Iterable[int], *, replayed_to: int = 0) -> None:
    for n in numbers:
        document = tm(n, n * 0.02, replayed=n <= replayed_to, **{"core.uptime_s": n * 0.02})
        await client.publish("isru/v1/tm/core", json.dumps(document), qos=1)


@pytest.mark.req("GND-10")
async def test_archive_record_broker_restart_replay_merges_without_duplicates(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto, tmp_path / "archive.db")
    await recorder.start()
    async with vehicle(mosquitto) as client:
        await client.publish("isru/v1/status", json.dumps({"state": "online"}), qos=1)
        await publish(client, range(1, 101))
    await recorder.stored_at_least(100)

    await mosquitto.stop()  # the recorder loses its broker and retries
    await mosquitto.start()
    # The vehicle's outbox replays 50..100 (the vehicle could not be sure of them), then live.
    async with vehicle(mosquitto) as client:
        await publish(client, range(50, 201), replayed_to=100)
    await recorder.stored_at_least(200)
    counts = await recorder.finish()

    assert counts["telemetry"] == counts["tm/core"] == 200
    with Archive(tmp_path / "archive.db", create=False) as archive:
        assert seqs(archive, "tm/core") == list(range(1, 201))
        assert archive.gaps() == {"tm/core": []}
        assert archive.rejected == 0


@pytest.mark.req("GND-12")
async def test_archive_record_persistent_session_delivers_what_came_while_away(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto, tmp_path / "archive.db")
    await recorder.start()
    async with vehicle(mosquitto) as client:
        await publish(client, range(1, 11))
        await recorder.stored_at_least(10)
        await recorder.finish()
        await publish(client, range(11, 31))  # nobody recording: the broker keeps them
    await recorder.start()
    await recorder.stored_at_least(20)
    counts = await recorder.finish()
    assert counts["tm/core"] == 30
    with sqlite3.connect(tmp_path / "archive.db") as db:
        assert db.execute("SELECT min(seq), max(seq), count(*) FROM telemetry").fetchone() == (
            1,
            30,
            30,
        )
