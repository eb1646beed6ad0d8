"""A mosquitto process of our own, on a free loopback port, with its own config and storage.

Used by ``isru sil`` (when mosquitto is installed), by the tests and by the benchmarks.

``Mosquitto`` is an async context manager::

    async with Mosquitto(tmp_path) as broker:
        async with aiomqtt.Client(broker.host, broker.port) as client: ...

``stop()`` (SIGTERM: mosquitto saves its database) and ``start()`` again keep the same port, so
clients reconnect to the same URL and find retained messages and persistent sessions again;
``kill()`` (SIGKILL) loses whatever was not autosaved (every second here).

Every broker here refuses packets over :data:`MAX_PACKET_BYTES` (``max_packet_size``): the
publisher is disconnected before the payload is buffered, so no subscriber, the flight software
least of all, ever receives it. ``config=`` runs another configuration instead (the tests run
``deploy/mosquitto/mosquitto.conf`` that way).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from interface.messages import MAX_PAYLOAD_BYTES
from isru.children import ChildProcess, ChildStartError

#: Real-time bound on a broker start or stop: generous, never the thing that passes a test.
START_TIMEOUT_S = 10.0
#: Room in a PUBLISH packet beside its payload: fixed header (5 bytes at most), topic (2 + 48
#: bytes for the flight's longest, ``isru/<32-character vehicle>/seq/upload``), packet id (2)
#: and MQTT 5 properties, rounded up to 1 KiB.
PACKET_OVERHEAD_BYTES = 1024
#: mosquitto's ``max_packet_size``: a packet carrying a payload the flight software accepts
#: (``interface.messages.MAX_PAYLOAD_BYTES``, 256 KiB) always fits; one carrying more than 1 KiB
#: beyond it disconnects its publisher before it is buffered. The few hundred bytes in between
#: reach the flight software, which refuses them unread (``MESSAGE_REJECTED``).
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES
#: Messages mosquitto queues for a persistent session while its client is away, as in
#: ``deploy/mosquitto/mosquitto.conf`` (mosquitto's own default, 1000, is half a minute of
#: telemetry at the defaults, and a few seconds of a SIL run at a time scale).
MAX_QUEUED_MESSAGES = 100_000

_RUNNING = re.compile(r"mosquitto version \S+ running")
_INSTALL_HINT = (
    "run ./scripts/test, which installs it, or: sudo apt-get install -y mosquitto mosquitto-clients"
)


class BrokerError(RuntimeError):
    """mosquitto is missing, would not start, or would not stop."""


def _tool(name: str) -> str:
    # Debian puts the broker in /usr/sbin, which is not on a normal user's PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if found is None:
        raise BrokerError(f"{name} is not installed (tests need a real broker): {_INSTALL_HINT}")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mosquitto:
    """One mosquitto process; files (config, passwords, ACL, database) live in ``workdir``.

    ``passwords`` (user -> password) go to :attr:`password_file`, ``acl`` to :attr:`acl_file`.
    ``config`` returns the text of ``mosquitto.conf`` to run instead of
    :meth:`default_config`; it is called again when the first port turned out to be taken
    (``port`` is then another).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        passwords: dict[str, str] | None = None,
        acl: str | None = None,
        config: Callable[[Mosquitto], str] | None = None,
    ) -> None:
        self.workdir = workdir
        self._pinned = port is not None
        self._port = port if port is not None else free_port()
        self._passwords = passwords
        self._acl = acl
        self._custom = config
        self._config: Path | None = None
        self._child: ChildProcess | None = None
        #: The broker's log (all of it, last lines kept), across restarts.
        self.log: collections.deque[str] = collections.deque(maxlen=20_000)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def password_file(self) -> Path:
        """Where ``passwords`` are written (mosquitto_passwd's hashed format)."""
        return self.workdir / "passwd"

    @property
    def acl_file(self) -> Path:
        """Where ``acl`` is written."""
        return self.workdir / "acl"

    @property
    def pid(self) -> int | None:
        """The running broker's process id."""
        return self._child.pid if self._child is not None and self._child.running else None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start mosquitto and return once it is listening (raise with its output if it is not)."""
        if self.running:
            raise BrokerError("mosquitto is already running")
        if self._config is None:
            self._config = await self._prepare()
        try:
            await self._spawn()
        except BrokerError as error:
            # Someone took the free port between our probe and mosquitto's bind: pick another,
            # but only before the first successful start (afterwards clients rely on the port).
            if self._pinned or "Address already in use" not in str(error):
                raise
            self._port = free_port()
            self._write_config(self._config)
            await self._spawn()
        self._pinned = True

    async def stop(self) -> None:
        """SIGTERM and wait: mosquitto saves its database (retained messages, sessions) first."""
        child, self._child = self._child, None
        if child is not None:
            await child.stop()
            if child.forced:
                raise BrokerError(f"mosquitto ignored SIGTERM:\n{self._tail()}")

    async def kill(self) -> None:
        """SIGKILL and wait: nothing is saved beyond the last autosave."""
        child, self._child = self._child, None
        if child is not None:
            await child.kill()

    async def _prepare(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._passwords is not None:
            passwd = _tool("mosquitto_passwd")
            create = ["-c"]
            for user, password in self._passwords.items():
                process = await asyncio.create_subprocess_exec(
                    passwd,
                    "-b",
                    *create,
                    str(self.password_file),
                    user,
                    password,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                output, _ = await process.communicate()
                if process.returncode != 0:
                    raise BrokerError(f"mosquitto_passwd failed for {user!r}: {output.decode()}")
                create = []
        if self._acl is not None:
            self.acl_file.write_text(self._acl)
        config = self.workdir / "mosquitto.conf"
        self._write_config(config)
        return config

    def _write_config(self, config: Path) -> None:
        config.write_text(self.default_config() if self._custom is None else self._custom(self))

    def default_config(self) -> str:
        """The built-in configuration: this port on loopback, files in ``workdir``, anonymous
        access unless ``passwords`` were given, the ACL if one was, packets up to
        :data:`MAX_PACKET_BYTES`, :data:`MAX_QUEUED_MESSAGES` kept for a session that is away."""
        lines = [
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            # stderr, not stdout: mosquitto's stdout is block-buffered into a pipe, so the
            # "running" line would only show up at exit.
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            f"max_packet_size {MAX_PACKET_BYTES}",
            # As the deployed broker: a persistent session (an archive, the vehicle's own)
            # that is away keeps this many messages queued, not mosquitto's 1000.
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto drops to the `mosquitto` user, which cannot write our workdir.
            lines.append("user root")
        if self._passwords is not None:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self._acl is not None:
            lines.append(f"acl_file {self.acl_file}")
        return "\n".join(lines) + "\n"

    async def _spawn(self) -> None:
        assert self._config is not None
        child = ChildProcess(
            [_tool("mosquitto"), "-c", str(self._config)],
            name="mosquitto",
            stderr="stdout",
            ready=lambda line: _RUNNING.search(line) is not None,
            start_timeout_s=START_TIMEOUT_S,
            stop_timeout_s=START_TIMEOUT_S,
            # Its own session (the default): a signal to our process group (Ctrl-C, `timeout`,
            # a CI runner) is ours to handle; we stop the broker last, after its clients.
        )
        # Its lines go to our log as they come, across restarts.
        child.stdout_lines = self.log
        try:
            await child.start()
        except ChildStartError as exc:
            if exc.reason.startswith("not ready"):
                raise BrokerError(
                    f"mosquitto did not report running within {START_TIMEOUT_S} s:\n{self._tail()}"
                ) from None
            # exc.reason says how it ended: its exit code, or the signal that killed it
            raise BrokerError(f"mosquitto {exc.reason} while starting:\n{exc.output}") from None
        self._child = child

    def _tail(self, lines: int = 40) -> str:
        return "\n".join(list(self.log)[-lines:])


def mosquitto_available() -> bool:
    """Whether a mosquitto binary can be found (Debian puts it in /usr/sbin)."""
    try:
        _tool("mosquitto")
    except BrokerError:
        return False
    return True
