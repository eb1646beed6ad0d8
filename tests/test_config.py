"""flight.config: loading, every kind of error naming its key, overrides and merged limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flight.config import (
    ConfigError,
    FlightConfig,
    effective_limits,
    load_config,
)
from interface.catalog import DICTIONARY
from interface.dictionary import SafingResponse
from interface.signing import KeyFileError, load_key

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "flight.example.toml"
NO_ENV: dict[str, str] = {}

MINIMAL = """
vehicle = "testbed-1"
[devices.scoop]
url = "/dev/isru-scoop"
[devices.elec]
url = "socket://127.0.0.1:7001"
[devices.oven]
url = "socket://127.0.0.1:7002"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flight.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, **kwargs: object) -> FlightConfig:
    return load_config(write(tmp_path, text), environ=NO_ENV, **kwargs)  # type: ignore[arg-type]


def test_config_example_loads() -> None:
    config = load_config(EXAMPLE, environ=NO_ENV)
    assert config.vehicle == "testbed-1"
    assert config.devices.scoop.url == "/dev/serial/by-id/usb-isru-scoop-if00"
    assert config.devices.elec.baudrate == 115200
    assert config.devices.oven.url == "/dev/serial/by-id/usb-isru-oven-if00"
    assert config.telemetry.core_hz == 1.0
    assert config.commanding.arm_window_s == 10.0
    assert config.limits["elec.h2_pressure_kpa"].red_high == 190.0
    assert config.state.dir == Path("/var/lib/isru-payload")
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("127.0.0.1", 1883, False)
    assert config.mqtt.key_file is None
    assert config.topic_prefix == "isru/testbed-1/"


def test_config_minimal_gets_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.devices.scoop.timeout_s == 0.2
    assert config.devices.scoop.retries == 3
    assert config.telemetry.scoop_hz == 10.0
    assert config.limits == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL.replace('url = "/dev/isru-scoop"', ""), r"devices\.scoop\.url: missing"),
        (MINIMAL.split("[devices.oven]")[0], r"devices\.oven: missing"),
        (
            MINIMAL.replace("[devices.elec]", "[devices.elec]\nbaud = 9600"),
            r"devices\.elec\.baud: unknown key \(did you mean baudrate\?\)",
        ),
        (
            MINIMAL + "[telemetry]\nscoop_hz = 0\n",
            r"telemetry\.scoop_hz: Input should be greater than 0",
        ),
        (
            MINIMAL + "[telemetry]\nelec_hz = 101\n",
            r"telemetry\.elec_hz: Input should be less than or equal to 100",
        ),
        (MINIMAL + "[telemetry]\ncore_hz = nan\n", r"telemetry\.core_hz: .*finite"),
        (
            MINIMAL.replace('"/dev/isru-scoop"', '"/dev/isru-scoop"\ntimeout_s = -0.1'),
            r"devices\.scoop\.timeout_s: Input should be greater than 0",
        ),
        (MINIMAL.replace('"/dev/isru-scoop"', '"ttyUSB0"'), r"devices\.scoop\.url: .*absolute"),
        (
            MINIMAL.replace('"socket://127.0.0.1:7001"', '"socket://host"'),
            r"devices\.elec\.url: socket:// needs host:port",
        ),
        (
            MINIMAL.replace('"socket://127.0.0.1:7001"', '"ftp://x"'),
            r"devices\.elec\.url: unknown scheme 'ftp'",
        ),
        (MINIMAL.replace("testbed-1", "test/bed"), r"vehicle: String should match pattern"),
        (MINIMAL.replace('vehicle = "testbed-1"', ""), r"vehicle: missing"),
        (MINIMAL + "[commanding]\narm_window_s = 0\n", r"commanding\.arm_window_s: .*greater"),
        (
            MINIMAL + '[limits."elec.h2_presure_kpa"]\nred_high = 1\n',
            r"limits\.elec\.h2_presure_kpa: not a channel of the dictionary",
        ),
        (
            MINIMAL + '[limits."core.mode"]\nred_high = 1\n',
            r"limits\.core\.mode: limits need a numeric channel",
        ),
        (
            MINIMAL + '[limits."elec.h2_pressure_kpa"]\nred_hgih = 1\n',
            r"limits\.elec\.h2_pressure_kpa\.red_hgih: unknown key \(did you mean red_high\?\)",
        ),
        (
            MINIMAL + '[limits."elec.h2_pressure_kpa"]\nresponse = "EXPLODE"\n',
            r"limits\.elec\.h2_pressure_kpa\.response: Input should be 'NONE'",
        ),
        (
            MINIMAL + '[limits."elec.h2_pressure_kpa"]\npersistence = 0\n',
            r"limits\.elec\.h2_pressure_kpa\.persistence: .*greater than or equal to 1",
        ),
        (
            MINIMAL + '[limits."elec.h2_pressure_kpa"]\nyellow_high = 250\n',
            r"limits\.elec\.h2_pressure_kpa: yellow_high 250\.0 is above red_high 200\.0",
        ),
        (MINIMAL + '[state]\ndir = ""\n', r"state\.dir: must name a directory"),
        (
            MINIMAL + '[mqtt]\nbroker = "http://x:1"\n',
            r"mqtt\.broker: 'http://x:1' is not mqtt://host:port or mqtts://host:port",
        ),
        (MINIMAL + '[mqtt]\nbroker = "mqtt://x:99999"\n', r"mqtt\.broker: .* has a bad port"),
        (
            MINIMAL + '[mqtt]\nbroker = "mqtt://user:secret@x"\n',
            r"mqtt\.broker: credentials in the URL are not supported$",
        ),
        (MINIMAL + '[mqtt]\nbroker = "mqtt://x/a"\n', r"mqtt\.broker: .*must not have a path"),
        (MINIMAL + '[mqtt]\nkey_file = "absent.key"\n', r"mqtt\.key_file: .*absent\.key is not"),
        (MINIMAL + "[mqtt]\nallow_unsigned = 3\n", r"mqtt\.allow_unsigned: .*bool"),
        (MINIMAL + "[bogus]\nx = 1\n", r"bogus: unknown key"),
    ],
)
def test_config_error_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


def test_config_lists_every_problem(tmp_path: Path) -> None:
    text = MINIMAL + "[telemetry]\nscoop_hz = -1\nelec_hz = 0\n[mqtt]\nbrokr = 'x'\n"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "telemetry.scoop_hz",
        "telemetry.elec_hz",
        "mqtt.brokr",
    ]
    assert "Traceback" not in str(caught.value)


def test_config_missing_file_is_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml is not valid:\n  - file not found"):
        load_config(tmp_path / "nope.toml", environ=NO_ENV)


def test_config_directory_is_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, environ=NO_ENV)


def test_config_unreadable_file_is_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    if os.geteuid() == 0:  # root reads any file: make the read fail as it would for others

        def denied(self: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", denied)
    path.chmod(0)
    with pytest.raises(ConfigError, match="not readable: permission denied"):
        load_config(path, environ=NO_ENV)


def test_config_bad_toml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3"):
        load(tmp_path, 'vehicle = "a"\n[devices]\nscoop = = 1\n')


def test_config_not_utf8_is_error(tmp_path: Path) -> None:
    path = tmp_path / "flight.toml"
    path.write_bytes(b'vehicle = "\xff"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path, environ=NO_ENV)


def test_config_overrides_apply(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        MINIMAL,
        overrides={
            "vehicle": "rover-2",
            "mqtt.broker": "mqtts://ground.example:8884",
            "telemetry.scoop_hz": "5",
            "limits.elec.h2_pressure_kpa.red_high": 195.0,
            "state.dir": None,  # an unset CLI flag: ignored
        },
    )
    assert config.vehicle == "rover-2"
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("ground.example", 8884, True)
    assert config.telemetry.scoop_hz == 5.0
    assert config.limits["elec.h2_pressure_kpa"].red_high == 195.0


def test_config_bad_override_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"telemetry\.core_hz: .*greater than 0.* \(from override\)"
    ):
        load(tmp_path, MINIMAL, overrides={"telemetry.core_hz": 0})
    with pytest.raises(ConfigError, match=r"vehicle: is a value, not a table \(from override\)"):
        load(tmp_path, MINIMAL, overrides={"vehicle.name": "x"})


def test_config_environment_overrides_file_and_loses_to_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    environ = {
        "ISRU_VEHICLE": "from-env",
        "ISRU_DEVICES__SCOOP__RETRIES": "5",
        "ISRU_MQTT__BROKER": "mqtt://env-host",
        "ISRU_LOG_LEVEL": "debug",  # not a section: someone else's variable
    }
    config = load_config(path, environ=environ, overrides={"mqtt.broker": "mqtt://cli-host"})
    assert config.vehicle == "from-env"
    assert config.devices.scoop.retries == 5
    assert config.mqtt.host == "cli-host"
    with pytest.raises(ConfigError, match=r"state\.dirr: unknown key .*\(from ISRU_STATE__DIRR\)"):
        load_config(path, environ={"ISRU_STATE__DIRR": "/x"})


def test_config_relative_paths_resolve_against_file(tmp_path: Path) -> None:
    (tmp_path / "cmd.key").write_text("00" * 32)
    config = load(tmp_path, MINIMAL + '[state]\ndir = "var"\n[mqtt]\nkey_file = "cmd.key"\n')
    assert config.state.dir == tmp_path / "var"
    assert config.mqtt.key_file == tmp_path / "cmd.key"


def test_config_effective_limits_merge_overrides(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        MINIMAL
        + '[limits."elec.h2_pressure_kpa"]\nred_high = 190.0\nresponse = "VENT_H2"\n'
        + '[limits."scoop.boom_angle_deg"]\nred_high = 80\n',
    )
    limits = effective_limits(config)
    base = DICTIONARY.channel_index["elec.h2_pressure_kpa"].limits
    assert base is not None
    h2 = limits["elec.h2_pressure_kpa"]
    assert (h2.red_high, h2.response) == (190.0, SafingResponse.VENT_H2)
    assert (h2.yellow_high, h2.persistence) == (base.yellow_high, base.persistence)
    assert limits["scoop.boom_angle_deg"].red_high == 80
    assert limits["elec.o2_pressure_kpa"] == DICTIONARY.channel_index["elec.o2_pressure_kpa"].limits


def test_config_effective_limits_without_overrides_are_the_dictionary(tmp_path: Path) -> None:
    limits = effective_limits(load(tmp_path, MINIMAL))
    assert limits == {c.name: c.limits for c in DICTIONARY.channels if c.limits is not None}


def test_config_unordered_limits_reported_with_other_errors(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "[telemetry]\nscoop_hz = 0\n"
        + '[limits."elec.cell_temp_c"]\nyellow_low = 0\n'
        + '[limits."scoop.load_mass_g"]\nred_high = 400\n'
    )
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert caught.value.problems[1:] == [
        "limits.elec.cell_temp_c: red_low 1.0 is above yellow_low 0.0",
        "limits.scoop.load_mass_g: yellow_high 480.0 is above red_high 400.0",
    ]


def test_config_outbox_defaults_to_the_state_dir(tmp_path: Path) -> None:
    example = load_config(EXAMPLE, environ=NO_ENV).outbox
    assert example.path == Path("/var/lib/isru-payload/outbox.db")
    assert (example.max_rows, example.max_age_s, example.sync) == (1_000_000, 604800.0, "normal")
    relative_state = load(tmp_path, MINIMAL + '[state]\ndir = "var"\n[outbox]\npath = ""\n')
    assert relative_state.outbox.path == tmp_path / "var" / "outbox.db"
    own = load(tmp_path, MINIMAL + '[outbox]\npath = "spool/out.db"\nsync = "full"\n')
    assert own.outbox.path == tmp_path / "spool" / "out.db"
    assert own.outbox.sync == "full"
    from_env = load_config(write(tmp_path, MINIMAL), environ={"ISRU_OUTBOX__MAX_ROWS": "500"})
    assert from_env.outbox.max_rows == 500
    assert from_env.outbox.path == Path("/var/lib/isru-payload/outbox.db")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_rows = 0", r"outbox\.max_rows: Input should be greater than or equal to 1"),
        ("max_age_s = 0", r"outbox\.max_age_s: Input should be greater than 0"),
        ('sync = "off"', r"outbox\.sync: Input should be 'normal' or 'full'"),
        ('path = "."', r"outbox\.path: must name a file"),
        ("max_row = 5", r"outbox\.max_row: unknown key \(did you mean max_rows\?\)"),
    ],
)
def test_config_outbox_error_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, MINIMAL + f"[outbox]\n{text}\n")


LOGIN = '[mqtt]\nusername = "vehicle-testbed-1"\npassword_file = "broker.password"\n'


def password_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "broker.password"
    path.write_text("s3cret\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_config_password_file_owner_only_is_accepted(tmp_path: Path, mode: int) -> None:
    path = password_file(tmp_path, mode)
    config = load(tmp_path, MINIMAL + LOGIN)
    assert config.mqtt.password_file == path
    assert config.mqtt.password() == "s3cret"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o602, 0o660])
def test_config_password_file_readable_by_group_or_others_is_refused(
    tmp_path: Path, mode: int
) -> None:
    path = password_file(tmp_path, mode)
    # The same words as the key file's refusal (interface.signing.load_key), naming file and mode.
    expected = (
        rf"mqtt\.password_file: password file {re.escape(str(path))}: permissions {mode:04o} "
        rf"let group or others read or write it; run: chmod 600 {re.escape(str(path))}"
    )
    with pytest.raises(ConfigError, match=expected):
        load(tmp_path, MINIMAL + LOGIN)
    with pytest.raises(KeyFileError, match=rf"permissions {mode:04o} let group or others"):
        load_key(password_file(tmp_path, mode))


def test_config_password_file_unreadable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = password_file(tmp_path, 0o600)
    real_open = os.open

    def denied(name: object, flags: int, *args: object) -> int:
        if name == path:  # root opens any file: fail it as it fails for the service user
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(
        ConfigError, match=r"mqtt\.password_file: password file .*: not readable: permission denied"
    ):
        load(tmp_path, MINIMAL + LOGIN)


def test_config_flight_cli_refuses_a_password_file_others_can_read(tmp_path: Path) -> None:
    path = password_file(tmp_path, 0o644)
    config = write(tmp_path, MINIMAL + LOGIN + "allow_unsigned = true\n")
    result = subprocess.run(
        [sys.executable, "-m", "isru.cli", "flight", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78  # EX_CONFIG: systemd does not restart it
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        f"  - mqtt.password_file: password file {path}: permissions 0644 let group or others "
        f"read or write it; run: chmod 600 {path}"
    ]
