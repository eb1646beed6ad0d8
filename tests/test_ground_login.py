"""``isru ground`` logging in to the deployed broker (deploy/mosquitto: passwords, the ACL, the
client id tied to the account, TLS), with a real ``isru flight`` logged in as the vehicle."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from ground.cli import main
from isru.children import ChildProcess
from isru.sim_child import SimChild
from tests.deployed_broker import ACL, deployed_broker, make_certificates

VEHICLE, ACCOUNT, GROUND = "testbed-1", "vehicle-testbed-1", "ground"
PASSWORDS = {ACCOUNT: "vehicle-secret", GROUND: "ground-secret"}
RUN_TIMEOUT_S = 60.0


def secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


async def isru(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``python -m isru.cli ARGV...`` run to its end: its exit status, stdout and stderr."""
    command = [sys.executable, "-m", "isru.cli", *argv]
    async with ChildProcess(command, name="isru", env={**os.environ, **(env or {})}) as process:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            code = await process.wait()
        await process.stop()  # exited: the rest of its output
    return code, "\n".join(process.stdout_lines), "\n".join(process.stderr_lines)


@pytest.mark.req("GND-22")
async def test_ground_login_commands_a_logged_in_flight_and_a_wrong_password_exits_5(
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path / "certs")
    broker, deployed = deployed_broker(
        tmp_path / "mosquitto", certificates, PASSWORDS, ACL.read_text()
    )
    vehicle_password = secret(tmp_path / "vehicle.password", PASSWORDS[ACCOUNT])
    ground_password = secret(tmp_path / "ground.password", PASSWORDS[GROUND])
    wrong_password = secret(tmp_path / "wrong.password", "not-the-password")
    async with broker, SimChild(args=["--link-dir", str(tmp_path)]) as sim:
        config = tmp_path / "flight.toml"
        config.write_text(
            f'vehicle = "{VEHICLE}"\n[mqtt]\nbroker = "{broker.url}"\nallow_unsigned = true\n'
            f'username = "{ACCOUNT}"\npassword_file = "{vehicle_password}"\n'
            f'[devices.scoop]\nurl = "{sim.urls["scoop"]}"\n'
            f'[devices.elec]\nurl = "{sim.urls["elec"]}"\n'
            f'[devices.oven]\nurl = "{sim.urls["oven"]}"\n[state]\ndir = "{tmp_path / "state"}"\n'
        )
        flight = [sys.executable, "-m", "isru.cli", "flight", "--config", str(config)]
        async with ChildProcess(flight, name="flight", stop_timeout_s=RUN_TIMEOUT_S):
            tls = f"mqtts://127.0.0.1:{deployed.tls_port}"
            # The login from the environment, over TLS verified against the site's CA; the
            # client waits for the flight's retained dictionary (--timeout), no sleeping.
            login = {
                "ISRU_BROKER": tls,
                "ISRU_VEHICLE": VEHICLE,
                "ISRU_MQTT_USERNAME": GROUND,
                "ISRU_MQTT_PASSWORD_FILE": str(ground_password),
                "ISRU_MQTT_CA_FILE": str(certificates.ca),
            }
            code, out, err = await isru("ground", "--timeout", "30", "send", "CORE.NOOP", env=login)
            assert code == 0, err
            assert "COMPLETED" in out and "CORE.NOOP" in out

            # A wrong password: one line naming the broker and "not authorised", status 5;
            # the same for the recorder, which gets the login options passed on.
            wrong = ["--username", GROUND, "--password-file", str(wrong_password)]
            for verb in (["send", "CORE.NOOP"], ["record", "--archive", str(tmp_path / "a.db")]):
                code, out, err = await isru(
                    "ground", "--broker", broker.url, "--vehicle", VEHICLE, *wrong, *verb
                )
                assert code == 5, err
                assert "Traceback" not in err
                last = err.splitlines()[-1]  # record says first what it is recording from
                assert last.startswith(f"isru ground: broker {broker.url}: not authorised")
                assert f"user {GROUND!r}" in last


@pytest.mark.req("GND-22")
def test_ground_login_password_file_not_private_or_half_a_login_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose = secret(tmp_path / "ground.password", "x", mode=0o640)
    assert main(["--username", GROUND, "--password-file", str(loose), "send", "CORE.NOOP"]) == 2
    assert capsys.readouterr().err == (
        f"isru ground: password file {loose}: permissions 0640 let group or others read or "
        f"write it; run: chmod 600 {loose}\n"
    )
    assert main(["--username", GROUND, "watch"]) == 2
    assert "--username and --password-file go together" in capsys.readouterr().err
    assert main(["--username", GROUND, "--password-file", str(loose), "record"]) == 2
    assert f"password file {loose}: permissions 0640" in capsys.readouterr().err
