"""deploy/mosquitto (mosquitto.conf and acl) run by a real mosquitto, as shipped but for the site.

Only the lines that name the site change: both listeners move to free loopback ports, the
files under /etc/mosquitto and /var/lib/mosquitto to the broker's work directory (the TLS
listener gets a throw-away CA and server certificate for 127.0.0.1), the log goes to stderr
(where isru.broker reads it), and as root ``user root`` is added. Every other line, limits and
client-id rules included, is the shipped one; a changed site line fails loudly here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from isru.broker import Mosquitto, free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"
CONF = DEPLOY / "mosquitto.conf"
ACL = DEPLOY / "acl"
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl, as the conf says)."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for command in (
        f"req -x509 -new {ec} -sha256 -days 2 -subj /CN=test-CA -keyout ca.key -out ca.crt",
        f"req -new {ec} -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
        "x509 -req -sha256 -days 2 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
        " -extfile server.ext -out server.crt",
    ):
        subprocess.run(
            ["openssl", *command.split()], cwd=directory, check=True, capture_output=True
        )
    return Certificates(directory / "ca.crt", directory / "server.crt", directory / "server.key")


class DeployedConfig:
    """``Mosquitto(config=...)``: deploy/mosquitto/mosquitto.conf for this test's broker."""

    def __init__(self, certificates: Certificates) -> None:
        self.certificates = certificates
        #: The TLS listener's port (the loopback listener's is ``Mosquitto.port``).
        self.tls_port = 0

    def __call__(self, broker: Mosquitto) -> str:
        self.tls_port = free_port()
        certs = self.certificates
        site = {
            "listener 1883 127.0.0.1": f"listener {broker.port} {broker.host}",
            "listener 8883": f"listener {self.tls_port} {broker.host}",
            "cafile /etc/mosquitto/certs/ca.crt": f"cafile {certs.ca}",
            "certfile /etc/mosquitto/certs/server.crt": f"certfile {certs.cert}",
            "keyfile /etc/mosquitto/certs/server.key": f"keyfile {certs.key}",
            "password_file /etc/mosquitto/passwd": f"password_file {broker.password_file}",
            "acl_file /etc/mosquitto/acl": f"acl_file {broker.acl_file}",
            "persistence_location /var/lib/mosquitto/": f"persistence_location {broker.workdir}/",
            "log_dest file /var/log/mosquitto/mosquitto.log": "log_dest stderr",
        }
        lines = [site.pop(line, line) for line in CONF.read_text().splitlines()]
        assert not site, f"{CONF} no longer has these lines: {list(site)}"
        settings = [line for line in lines if line.strip() and not line.startswith("#")]
        left = [line for line in settings if "/etc/" in line or "/var/" in line]
        assert not left, f"site-specific lines this test does not adapt: {left}"
        if os.geteuid() == 0:
            # As root, mosquitto drops to the `mosquitto` user, which cannot read our workdir.
            lines.append("user root")
        return "\n".join(lines) + "\n"


def deployed_broker(
    workdir: Path, certificates: Certificates, passwords: dict[str, str], acl: str
) -> tuple[Mosquitto, DeployedConfig]:
    """The shipped configuration with these accounts and this ACL (not started yet)."""
    config = DeployedConfig(certificates)
    return Mosquitto(workdir, passwords=passwords, acl=acl, config=config), config


def client(
    broker: Mosquitto,
    user: str | None,
    password: str | None,
    *,
    tls: DeployedConfig | None = None,
    identifier: str | None = None,
    clean_session: bool | None = None,
) -> aiomqtt.Client:
    """A client of ``broker``: on its loopback listener, or over TLS on ``tls``'s listener."""
    return aiomqtt.Client(
        broker.host,
        tls.tls_port if tls is not None else broker.port,
        username=user,
        password=password,
        identifier=identifier,
        clean_session=clean_session,
        tls_params=aiomqtt.TLSParameters(ca_certs=str(tls.certificates.ca)) if tls else None,
        socket_options=NODELAY,
    )


#: The longest topic the flight software subscribes to: a 32-character vehicle's seq/upload.
LONGEST_TOPIC = "isru/" + "v" * 32 + "/seq/upload"
#: Real-time bound on any wait for a message: generous, never the thing that passes a test.
WAIT_S = 10.0


async def receive(subscriber: aiomqtt.Client) -> tuple[str, bytes]:
    async with asyncio.timeout(WAIT_S):
        message = await anext(subscriber.messages)
    assert isinstance(message.payload, bytes)
    return str(message.topic), message.payload


async def disconnected(client: aiomqtt.Client) -> None:
    """Return once the broker has closed ``client``'s connection (fail after WAIT_S)."""
    with pytest.raises(aiomqtt.MqttError, match="Disconnected"):
        async with asyncio.timeout(WAIT_S):
            await anext(client.messages)


async def publish_refused(publisher: aiomqtt.Client, topic: str, payload: bytes) -> None:
    """Publish ``payload`` and return once the broker has disconnected ``publisher`` for it.

    Nothing the broker routed before closing the connection can arrive after a later message
    at a subscriber: one client's messages reach it in order.
    """
    publishing = asyncio.create_task(publisher.publish(topic, payload, qos=1))
    try:
        await disconnected(publisher)
    finally:
        publishing.cancel()  # its PUBACK never comes
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await publishing
