"""The sequencer's commands: SEQ.UPLOAD checks and keeps a sequence, SEQ.START runs a kept
one, SEQ.ABORT ends the running one (and leaves the payload SAFE)."""

from __future__ import annotations

import re

from flight.dispatcher import CommandFailed, Execution, Reason, Route
from flight.sequencer import Sequencer, SequencerBusy
from interface.dictionary import Dictionary
from interface.sequence import Sequence, SequenceError, format_problems, parse_sequence

SEQUENCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class SequenceCommands:
    """The routes of the SEQ.* commands, and the sequences uploaded so far."""

    def __init__(self, *, sequencer: Sequencer, dictionary: Dictionary) -> None:
        self._sequencer = sequencer
        self._dictionary = dictionary
        #: Sequences uploaded and checked, by name, ready to start.
        self.uploaded: dict[str, Sequence] = {}

    def load(self, text: str, *, name: str) -> Sequence:
        """Parse and check ``text`` (raises SequenceError listing every problem)."""
        return parse_sequence(text, name=name, dictionary=self._dictionary)

    def routes(self) -> dict[str, Route]:
        return {
            "SEQ.UPLOAD": Route(self.upload),
            "SEQ.START": Route(self.start),
            "SEQ.ABORT": Route(self.abort),
        }

    async def upload(self, run: Execution) -> None:
        name = sequence_name(run.args["name"])
        try:
            self.uploaded[name] = self.load(run.args["text"], name=name)
        except SequenceError as exc:
            raise CommandFailed(Reason.INVALID_ARGUMENT, format_problems(exc.problems)) from None
        run.started()

    async def start(self, run: Execution) -> None:
        name = sequence_name(run.args["name"])
        sequence = self.uploaded.get(name)
        if sequence is None:
            raise CommandFailed(Reason.INVALID_ARGUMENT, f"no sequence {name!r} was uploaded")
        try:
            self._sequencer.start(sequence)
        except SequencerBusy as exc:
            raise CommandFailed(Reason.BUSY, str(exc)) from None
        run.started()

    async def abort(self, run: Execution) -> None:
        run.started()
        await self._sequencer.abort(f"{run.command.name} from {run.command.source}")


def sequence_name(name: str) -> str:
    """``name`` if it may name an uploaded sequence; CommandFailed saying why not."""
    if not SEQUENCE_NAME.fullmatch(name):
        raise CommandFailed(
            Reason.INVALID_ARGUMENT, f"name: {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
        )
    return name
