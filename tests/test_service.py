"""flight.systemd: sd_notify datagrams on real unix sockets, watchdog interval, watchdog task."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flight.systemd import Notifier, run_watchdog, watchdog_interval_s


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """systemd's side: a datagram socket bound in tmp_path, and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    yield sock, str(path)
    sock.close()


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_service_notifier_sends_each_message(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = Notifier.from_environ(environ={"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready(status="flying")
    assert receive(sock) == "READY=1\nSTATUS=flying"
    assert notifier.status("scoop link lost\nretrying")
    assert receive(sock) == "STATUS=scoop link lost retrying"
    assert notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    assert notifier.stopping()
    assert receive(sock) == "STOPPING=1"
    notifier.close()


def test_service_notifier_abstract_socket() -> None:
    name = f"isru-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2.0)
        notifier = Notifier(address=f"@{name}")
        assert notifier.ready()
        assert receive(sock) == "READY=1"
        notifier.close()


def test_service_notifier_without_systemd_is_noop() -> None:
    notifier = Notifier.from_environ(environ={})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_service_notifier_unsupported_address_is_noop() -> None:
    assert not Notifier(address="vsock:2:1234").enabled


def test_service_notifier_gone_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier(address=str(tmp_path / "nobody-listens"))
    assert notifier.enabled
    assert notifier.watchdog() is False


def test_service_notifier_rejects_empty_message(listener: tuple[socket.socket, str]) -> None:
    with pytest.raises(ValueError, match="fields: must not be empty"):
        Notifier(address=listener[1]).notify(fields={})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 10.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "4242"}, 0.5),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}, None),
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "ten"}, None),
        ({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "x"}, None),
    ],
)
def test_service_watchdog_interval_parsing(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval_s(environ=environ, pid=4242) == expected


def test_service_watchdog_interval_defaults_to_this_pid() -> None:
    environ = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(environ=environ) == 2.0


async def test_service_watchdog_task_pings(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    notifier = Notifier(address=address)
    task = asyncio.create_task(run_watchdog(notifier, 0.02))
    try:
        for _ in range(3):
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=2.0)
            assert data == b"WATCHDOG=1"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()


async def test_service_watchdog_task_holds_pings_when_unhealthy(
    listener: tuple[socket.socket, str],
) -> None:
    sock, address = listener
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    checked = asyncio.Event()
    checks = 0

    def healthy() -> bool:
        nonlocal checks
        checks += 1
        if checks >= 3:
            checked.set()
        return checks >= 3  # two unhealthy rounds, then healthy

    notifier = Notifier(address=address)
    task = asyncio.create_task(run_watchdog(notifier, 0.02, healthy=healthy))
    try:
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=2.0)
        assert data == b"WATCHDOG=1"
        assert checked.is_set()
        assert checks >= 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()


async def test_service_watchdog_rejects_bad_interval() -> None:
    with pytest.raises(ValueError, match="interval_s: must be positive"):
        await run_watchdog(Notifier(address=None), 0)
