"""``isru sil --run``: one sequence run on the stack to its end, and its report printed,
written and plotted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from ground import GroundClient
from interface.sequence import Sequence
from interface.signing import load_key
from isru.background import background
from isru.chain_plot import plot_chain
from isru.chain_recorder import ChainRecorder, chain_of_run
from isru.report import ReportRecorder, run_budget_s
from isru.sil_samples import SampleRecording
from isru.stack import SilError, Stack

#: After a process of the stack exited during a run: how long the sequence's end event (which
#: a flight that stopped sends first) may still take to arrive.
END_GRACE_S = 5.0


async def run_sequence(stack: Stack, options: argparse.Namespace, sequence: Sequence) -> int:
    """Run one sequence on the stack to its end; print (and write) the report; with
    ``--samples-dir``, record the custody ledger and images and export the run's samples.

    Ends with SilError when a process of the stack exits before the sequence ended (a flight
    that stops aborts its sequence first: that end is still reported)."""
    samples_dir: Path | None = getattr(options, "samples_dir", None)
    async with contextlib.AsyncExitStack() as exits:
        recording = None
        if samples_dir is not None:
            recording = await exits.enter_async_context(SampleRecording(stack, samples_dir))
        code = await _run(stack, options, sequence)
        if recording is not None:
            code = max(code, await recording.export())
    return code


async def _run(stack: Stack, options: argparse.Namespace, sequence: Sequence) -> int:
    key = load_key(options.key) if options.key else None
    async with GroundClient(broker=stack.broker, vehicle=stack.vehicle, key=key) as client:
        await client.wait_telemetry("scoop.link_up == true and elec.link_up == true", timeout_s=30)
        recorder = ReportRecorder(client, sequence=sequence.name)
        chain = ChainRecorder(client)
        await client.upload_sequence(sequence.name, options.run.read_text())
        mark = await client.start_sequence(sequence.name)
        budget = run_budget_s(sequence, time_scale=options.time_scale)
        ending = client.wait_sequence_end(sequence.name, since=mark, timeout_s=budget)
        async with background(ending) as end_task, background(stack.watch()) as watch:
            await asyncio.wait({end_task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not end_task.done():
                await asyncio.wait({end_task}, timeout=END_GRACE_S)
            if not end_task.done():
                raise SilError(f"{watch.result()} before sequence {sequence.name} ended")
            try:
                end, status = end_task.result()
            except TimeoutError:
                raise SilError(
                    f"sequence {sequence.name} did not end within {budget:.0f} s"
                ) from None
        report = recorder.finish(end, status)
        recorder.close()
        chain.close()
        report.chain = await chain_of_run(
            stack.sim, chain, cell_charge_ah=report.charge_ah, cell_energy_wh=report.cell_energy_wh
        )
    print(report.text(), flush=True)
    if options.report_json:
        options.report_json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    if options.report_plot:
        try:
            series = report.chain.series if report.chain is not None else {}
            plot_chain(series, options.report_plot, title=f"sequence {sequence.name}")
        except ValueError as exc:
            print(f"isru sil: no plot: {exc}", file=sys.stderr)
    return 0 if report.outcome == "COMPLETED" else 1
