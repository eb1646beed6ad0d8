"""Long fuzz runs of the three parsers that take outside input.

    python tools/fuzz.py TARGET [-atheris_runs=N] [other libFuzzer options] [CORPUS_DIR...]
    python tools/fuzz.py TARGET --engine hypothesis [-atheris_runs=N]

TARGET is one of:

* ``frame``: the serial receive path. Any bytes, cut into chunks anywhere, through
  ``hal.framing.FrameDecoder`` then ``hal.message.Message.decode``: chunking never changes
  what is decoded or counted, every payload re-frames to itself, and decoding raises nothing
  but ``ProtocolError``.
* ``command``: the uplink's intake of one ``cmd`` payload, without MQTT: what
  ``flight.mqtt.intake`` does with it (``CommandMessage.model_validate_json``; for a malformed
  one, the first error's text and the id recovered for its FAILED ack), then the
  dispatcher's dictionary check (``validate_args``, ``is_hazardous``) and the signature check
  (``flight.mqtt.Authenticator``). Only ValidationError, ArgumentError and AuthError may come
  out; a command signed with the key passes the check.
* ``sequence``: ``interface.sequence.parse_sequence`` on the bytes as text (lone surrogates
  kept): a Sequence that formats and parses back to the same, or a SequenceError whose
  every problem has a line and a message, never another exception.

With atheris installed (``pip install atheris``; it is not a test dependency) the run is
coverage-guided libFuzzer: the arguments after TARGET go to libFuzzer (``-atheris_runs=N``,
``-max_total_time=S``, corpus directories; without one a temporary corpus is seeded with a
few valid inputs), and a failing input is saved as ``crash-<sha1>`` in the current
directory. Without atheris, or with ``--engine hypothesis``, hypothesis drives the same target
for N examples (``-atheris_runs=N``, default 10000) from a mix of raw bytes and near-valid
inputs, and prints the smallest failing input. Either way the exit status is 0 when every
input kept the target's contract and 1 when one did not; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("frame", "command", "sequence")
DEFAULT_RUNS = 10_000
#: The packages whose code atheris instruments for coverage: ours, and the COBS codec.
INSTRUMENTED = ["hal", "interface", "flight", "cobs"]
#: A fixed key for the signature check: the fuzzer is not after the key.
FUZZ_KEY = bytes(range(32))

Target = Callable[[bytes], None]
#: Words of the sequence grammar, for near-valid sequences (with command and channel names).
SEQUENCE_WORDS = [
    "WAIT", "TIMEOUT", "and", "or", "not", "(", ")", "==", "!=", "<", ">=", "=", "#",
    "R00:00:01", "00:01:00", "true", "1e999", "A2026-01-01T00:00:00Z", "depth_mm=30",
    "command=SCOOP.DUMP", "\ufeff", "\u200b", "\x00",
]  # fmt: skip


class Broken(AssertionError):
    """A target's contract did not hold for an input (raised explicitly: not stripped by -O)."""


def check(condition: object, what: str) -> None:
    if not condition:
        raise Broken(what)


def load_targets() -> dict[str, Target]:
    """The targets, importing the project's modules now (atheris instruments them on import)."""
    from pydantic import ValidationError

    from flight.mqtt import Authenticator, AuthError
    from flight.mqtt.intake import recover_id  # the intake's own id recovery for FAILED acks
    from hal.errors import ProtocolError
    from hal.framing import FrameDecoder, encode_frame
    from hal.message import Message
    from interface.catalog import DICTIONARY
    from interface.dictionary import ArgumentError
    from interface.messages import CommandMessage
    from interface.sequence import SequenceError, format_problems, format_sequence, parse_sequence
    from interface.signing import sign

    def frame(data: bytes) -> None:
        if not data:
            return
        step, stream = data[0] % 32 + 1, data[1:]  # the first byte says where to cut
        whole = FrameDecoder()
        payloads = whole.feed(stream)
        chunked = FrameDecoder()
        out: list[bytes] = []
        for start in range(0, len(stream), step):
            out += chunked.feed(stream[start : start + step])
        check(out == payloads, "cutting the stream changed the frames decoded")
        check(chunked.stats == whole.stats, "cutting the stream changed the counters")
        stats = whole.stats
        check(stats.frames == len(payloads), "frames counted are not frames returned")
        check(stats.bytes_in == len(stream), "bytes counted are not bytes fed")
        for payload in payloads:
            check(FrameDecoder().feed(encode_frame(payload)) == [payload], "no round trip")
            try:
                message = Message.decode(payload)
            except ProtocolError as exc:
                check(str(exc), "a ProtocolError without a message")
                continue
            check(message.encode() == payload, "a message does not re-encode to its payload")

    def command(data: bytes) -> None:
        try:
            message = CommandMessage.model_validate_json(data)
        except ValidationError as exc:
            # flight.mqtt.intake's _malformed: the first error names the field; the id, if any,
            # gets the FAILED ack.
            errors = exc.errors()
            check(errors, "a ValidationError without errors")
            where = ".".join(str(part) for part in errors[0]["loc"]) or "message"
            check(f"{where}: {errors[0]['msg']}", "an empty detail")
            command_id = recover_id(data)
            if command_id is not None:
                check(0 < len(command_id) <= 64, "a recovered id of a bad length")
                command_id.encode("utf-8")  # it goes into a JSON ack
            return
        json.dumps(message.model_dump(mode="json"))  # echoed in acks and events
        authenticator = Authenticator(
            key=FUZZ_KEY, vehicle="fuzz", highest_counter=0, persist=lambda _counter: None
        )
        try:
            authenticator.check(
                counter=message.counter, mac=message.mac, name=message.name, args=message.args
            )
        except AuthError as exc:
            check(exc.detail, "an AuthError without a detail")
        try:
            mac = sign(FUZZ_KEY, vehicle="fuzz", counter=7, name=message.name, args=message.args)
        except (TypeError, ValueError):
            pass  # no canonical form: the check above refused it as malformed
        else:  # what the ground signs, the vehicle accepts
            fresh = Authenticator(
                key=FUZZ_KEY, vehicle="fuzz", highest_counter=0, persist=lambda _counter: None
            )
            fresh.check(counter=7, mac=mac, name=message.name, args=message.args)
        definition = DICTIONARY.command_index.get(message.name)
        if definition is None:
            return  # the dispatcher refuses an unknown name before looking at its arguments
        try:
            args = definition.validate_args(dict(message.args))
        except ArgumentError as exc:
            check(exc.detail, "an ArgumentError without a detail")
            return
        definition.is_hazardous(args)
        json.dumps(args, allow_nan=False)

    def sequence(data: bytes) -> None:
        text = data.decode("utf-8", "surrogateescape")
        try:
            parsed = parse_sequence(text, name="fuzz", dictionary=DICTIONARY)
        except SequenceError as exc:
            check(exc.problems, "a SequenceError without problems")
            check(all(p.line >= 0 and p.message for p in exc.problems), "a problem unnamed")
            format_problems(exc.problems)
            return
        formatted = format_sequence(parsed)
        again = parse_sequence(formatted, name="fuzz", dictionary=DICTIONARY)
        check(format_sequence(again) == formatted, "a sequence does not format back to itself")

    return {"frame": frame, "command": command, "sequence": sequence}


def seeds(target: str) -> list[bytes]:
    """A few valid inputs to start a corpus from (atheris mutates them)."""
    from hal.commands import BY_NAME
    from hal.framing import encode_frame
    from hal.layout import layout_of
    from hal.message import Message, MsgType
    from hal.telemetry import PacketId, ScoopTelemetry
    from interface.signing import sign

    if target == "frame":
        request = Message(MsgType.REQUEST, 7, BY_NAME["GET_INFO"].id).encode()
        size = layout_of(ScoopTelemetry).size
        telemetry = Message(MsgType.TELEMETRY, 0, PacketId.SCOOP, bytes(size)).encode()
        return [b"\x03" + encode_frame(request) + encode_frame(telemetry), b"\x00\x00\x01\x00"]
    if target == "command":
        args = {"depth_mm": 30}
        mac = sign(FUZZ_KEY, vehicle="fuzz", counter=1, name="SCOOP.DIG", args=args)
        signed = {"id": "c2", "name": "SCOOP.DIG", "args": args, "counter": 1, "mac": mac}
        return [
            b'{"id": "c1", "name": "CORE.NOOP"}',
            json.dumps(signed).encode(),
            b'{"id": "c3", "name": "ELEC.START", "args": {"current_a": 2.0}}',
        ]
    return [(ROOT / "sequences" / "demo.seq").read_bytes(), b"WAIT core.mode == IDLE TIMEOUT 1:00"]


def run_atheris(target: str, fuzz_args: list[str]) -> int:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    with atheris.instrument_imports(include=INSTRUMENTED):
        function = load_targets()[target]
    corpus = [a for a in fuzz_args if not a.startswith("-")]
    if not corpus:
        seeded = Path(tempfile.mkdtemp(prefix=f"isru-fuzz-{target}-"))
        for number, seed in enumerate(seeds(target)):
            (seeded / f"seed-{number}").write_bytes(seed)
        fuzz_args = [*fuzz_args, str(seeded)]
    atheris.Setup([sys.argv[0], *fuzz_args], function)
    atheris.Fuzz()  # exits the process: 0 when the runs end, 1 on a failing input
    return 0


def strategy(target: str) -> Any:
    """Raw bytes and near-valid inputs for ``target``, for the hypothesis engine."""
    from hypothesis import strategies as st

    from hal.framing import encode_frame
    from interface.catalog import DICTIONARY

    raw = st.binary(max_size=2000)
    if target == "frame":
        pieces = st.one_of(
            st.binary(min_size=1, max_size=252).map(encode_frame),  # intact frames
            st.binary(max_size=60),  # noise, delimiters included
            st.binary(min_size=1, max_size=252).map(lambda p: encode_frame(p)[:-2] + b"\x00"),
        )
        return st.one_of(raw, st.lists(pieces, max_size=12).map(b"".join))
    names = sorted(DICTIONARY.command_index)
    if target == "command":
        scalars = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(),
            st.text(max_size=20),
            st.sampled_from(["H2", "O2", "BOOM", "SCOOP.DUMP", "1e999"]),
        )
        values = st.recursive(
            scalars,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
            max_leaves=12,
        )
        keys = st.sampled_from(["id", "name", "args", "counter", "mac", "extra"])
        document = st.dictionaries(
            keys, st.one_of(values, st.sampled_from(names), st.just("a" * 65)), max_size=6
        )
        encoded = document.map(lambda d: json.dumps(d).encode())  # NaN and Infinity too
        return st.one_of(raw, encoded)
    words = st.sampled_from(
        [
            *names,
            *(c.name for c in DICTIONARY.channels),
            *SEQUENCE_WORDS,
        ]
    )
    separators = st.sampled_from([" ", "\t", "\n", "\r\n", ""])
    soup = st.lists(st.tuples(words, separators), max_size=40).map(
        lambda pieces: "".join(w + s for w, s in pieces).encode("utf-8", "surrogatepass")
    )
    return st.one_of(raw, soup)


def run_hypothesis(target: str, runs: int) -> int:
    from hypothesis import HealthCheck, Phase, given, settings

    function = load_targets()[target]

    @settings(
        max_examples=runs,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(target))
    def run(data: bytes) -> None:
        function(data)

    started = time.monotonic()
    try:
        run()
    except Exception as exc:  # hypothesis has printed the smallest failing input
        print(f"fuzz {target}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    seconds = round(time.monotonic() - started, 1)
    summary = {"target": target, "engine": "hypothesis", "runs": runs, "seconds": seconds}
    print(json.dumps(summary), flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(
        prog="tools/fuzz.py",
        description="Fuzz the frame decoder, the command intake or the sequence parser.",
        epilog="Other arguments (-atheris_runs=N, -max_total_time=S, corpus dirs) go to "
        "libFuzzer; the hypothesis engine reads -atheris_runs=N only.",
    )
    result.add_argument("target", choices=TARGETS)
    result.add_argument(
        "--engine",
        choices=("auto", "atheris", "hypothesis"),
        default="auto",
        help="auto (the default): atheris when it is installed, else hypothesis",
    )
    return result


def _runs(fuzz_args: list[str]) -> int:
    for arg in fuzz_args:
        if arg.startswith("-atheris_runs="):
            value = arg.split("=", 1)[1]
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"-atheris_runs: must be a positive integer, got {value!r}")
            return int(value)
    return DEFAULT_RUNS


def _have_atheris() -> bool:
    try:
        import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    options, fuzz_args = parser().parse_known_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # fuzz the checkout this script lives in
    try:
        runs = _runs(fuzz_args)
    except ValueError as exc:
        print(f"tools/fuzz.py: {exc}", file=sys.stderr)
        return 2
    engine = options.engine
    if engine == "auto":
        engine = "atheris" if _have_atheris() else "hypothesis"
        if engine == "hypothesis":
            print("atheris is not installed: a hypothesis run instead", file=sys.stderr)
    elif engine == "atheris" and not _have_atheris():
        print("tools/fuzz.py: atheris is not installed (pip install atheris)", file=sys.stderr)
        return 2
    if engine == "atheris":
        return run_atheris(options.target, fuzz_args)
    unknown = [a for a in fuzz_args if not a.startswith("-atheris_runs=")]
    if unknown:
        print(f"tools/fuzz.py: the hypothesis engine takes no {unknown[0]}", file=sys.stderr)
        return 2
    return run_hypothesis(options.target, runs)


if __name__ == "__main__":
    sys.exit(main())
