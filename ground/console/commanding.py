"""Sending for the console: checked commands, ARM then FIRE for hazardous ones, sequence verbs
to their topics. Every command sent gets a history row; every problem, a line under the
command line. Nothing here waits on the screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ground import CommandRefused, GroundClient
from ground.console.command_line import CommandBar
from ground.console.history import CommandHistory
from ground.console.parse import CommandLineError, Parsed, parse_command
from interface.dictionary import Dictionary
from interface.sequence import SequenceError, parse_sequence

#: How long to wait for CORE.ARM to complete before giving up on the FIRE.
ARM_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class SequenceRequest:
    """A ``:seq`` verb as a checked command: what to send, its history label, and for an
    upload the sequence's name and number of steps."""

    parsed: Parsed
    label: str
    upload: tuple[str, int] | None = None


class Commander:
    """Sends on behalf of the console; its coroutines run as the app's workers."""

    def __init__(
        self,
        client: GroundClient,
        dictionary: Dictionary,
        history: CommandHistory,
        bar: CommandBar,
        on_uploaded: Callable[[str, int], None] = lambda name, steps: None,
    ) -> None:
        self.client = client
        self.dictionary = dictionary
        self.history = history
        self.bar = bar
        #: Called with (name, steps) once a sequence this console uploaded is stored onboard.
        self.on_uploaded = on_uploaded
        topics = client.topics
        self._topics = {
            "SEQ.UPLOAD": topics.seq_upload,
            "SEQ.START": topics.seq_start,
            "SEQ.ABORT": topics.seq_abort,
        }

    async def send(self, parsed: Parsed, label: str | None = None) -> str | None:
        """Publish a checked command; its row appears in the history. None if not sent."""
        text = label or parsed.text()
        try:
            command_id = await self.client.publish_command(
                parsed.name, parsed.args, topic=self._topics.get(parsed.name)
            )
        except Exception as exc:  # the console keeps running whatever the link does
            self.bar.show(f"{parsed.name} not sent: {exc}", error=True)
            return None
        self.history.sent(command_id, text, time.strftime("%H:%M:%S", time.gmtime()))
        self.bar.show(f"sent {text}")
        return command_id

    async def arm_and_fire(self, parsed: Parsed) -> None:
        """CORE.ARM command=NAME, and once that completed, the command itself."""
        try:
            arm = parse_command(f"CORE.ARM command={parsed.name}", self.dictionary)
        except CommandLineError as exc:
            self.bar.show(f"{parsed.name} cannot be armed: {exc}", error=True)
            return
        arm_id = await self.send(arm)
        if arm_id is None:
            return
        try:
            await self.client.wait_ack(arm_id, timeout_s=ARM_TIMEOUT_S)
        except CommandRefused as refused:
            ack = refused.ack
            self.bar.show(
                f"ARM refused ({ack.reason}: {ack.detail}): {parsed.name} not sent", error=True
            )
            return
        except TimeoutError:
            self.bar.show(
                f"no answer to CORE.ARM in {ARM_TIMEOUT_S:g} s: {parsed.name} not sent", error=True
            )
            return
        await self.send(parsed)

    async def send_sequence(self, request: SequenceRequest) -> None:
        """Send a ``:seq`` verb; an upload that completes is reported to :attr:`on_uploaded`."""
        command_id = await self.send(request.parsed, request.label)
        if command_id is None or request.upload is None:
            return
        timeout = request.parsed.definition.completion_timeout_s + 5
        try:
            await self.client.wait_ack(command_id, timeout_s=timeout)
        except (CommandRefused, TimeoutError):
            return  # the history row says what happened
        self.on_uploaded(*request.upload)

    def sequence(self, words: list[str]) -> SequenceRequest:
        """``:seq upload FILE [NAME]``, ``:seq start NAME`` or ``:seq abort`` as a checked
        command; CommandLineError or OSError (the file) if not."""
        if words[:1] == ["upload"] and len(words) in (2, 3):
            path = Path(words[1])
            name = words[2] if len(words) == 3 else path.stem
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise CommandLineError(f"{path}: not a UTF-8 text file") from None
            try:
                checked = parse_sequence(text, name=name, dictionary=self.dictionary)
            except SequenceError as exc:  # checked here, as `isru seq check` would
                first = exc.problems[0]
                raise CommandLineError(
                    f"{path}:{first.line}: {first.message}"
                    + (f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else "")
                ) from None
            parsed = self._checked("SEQ.UPLOAD", {"name": name, "text": text})
            label = f"SEQ.UPLOAD name={name} ({len(text.splitlines())} lines)"
            return SequenceRequest(parsed, label, (name, len(checked.steps)))
        if words[:1] == ["start"] and len(words) == 2:
            parsed = self._checked("SEQ.START", {"name": words[1]})
            return SequenceRequest(parsed, parsed.text())
        if words == ["abort"]:
            parsed = self._checked("SEQ.ABORT", {})
            return SequenceRequest(parsed, parsed.text())
        raise CommandLineError(
            "usage: :seq predict FILE | :seq upload FILE [NAME] | :seq start NAME | :seq abort"
        )

    def _checked(self, name: str, args: dict[str, Any]) -> Parsed:
        definition = self.dictionary.command_index[name]
        try:
            definition.validate_args(args)
        except ValueError as exc:
            raise CommandLineError(str(exc)) from None
        return Parsed(definition, args)
