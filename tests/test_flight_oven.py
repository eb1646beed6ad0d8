"""The oven in the flight software, without a board: its interlocks (the dictionary's, with
the arguments they guard), its limits and the channels the flight derives from its packets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.dispatcher import Reason, Stage
from flight.limits import LimitMonitor
from flight.oven import HeaterStall, OvenChannels, lid_state
from interface.catalog import BOARD_LIMITS, DICTIONARY
from interface.catalog.oven import CELL_TANK_FULL_G, OVEN_HOT_C, STALL_MARGIN_C
from interface.dictionary import Dictionary, InterlockDef, SafingResponse
from tests.recorder import Recorder
from tests.test_dispatcher import Bench

# --- interlocks --------------------------------------------------------------------------


async def _refusal(bench: Bench, name: str, **args: Any) -> str:
    """The interlock that refused ``name`` (its detail up to the colon), or COMPLETED."""
    acks = await bench.run(name, **args)
    if acks[-1].stage is Stage.COMPLETED:
        return "COMPLETED"
    assert acks[-1].reason is Reason.INTERLOCK, acks[-1]
    return acks[-1].detail.split(":", 1)[0]


@pytest.mark.req("FLT-06")
@pytest.mark.parametrize(
    ("changes", "refused_by"),
    [
        ({"oven.lid_sealed": False}, "OVEN_LID_NOT_SEALED"),
        ({"oven.sample_loaded": False}, "OVEN_NO_SAMPLE"),
        ({}, "COMPLETED"),
    ],
)
async def test_oven_interlock_heat_needs_a_sealed_lid_and_a_sample(
    changes: dict[str, Any], refused_by: str
) -> None:
    bench = Bench()
    bench.values.update(changes)
    await bench.run("CORE.ARM", command="OVEN.HEAT")
    args = {"setpoint_c": 150.0, "ramp_c_per_min": 10.0, "power_limit_w": 50.0}
    assert await _refusal(bench, "OVEN.HEAT", **args) == refused_by
    if refused_by != "COMPLETED":  # a FIRE refused by an interlock keeps the arm
        assert bench.arming.armed == "OVEN.HEAT"


async def test_oven_interlock_hold_is_heating_too() -> None:
    bench = Bench()
    bench.values["oven.lid_sealed"] = False
    assert await _refusal(bench, "OVEN.HOLD") == "OVEN_LID_NOT_SEALED"


@pytest.mark.parametrize(
    ("changes", "refused_by"),
    [
        ({"oven.sample_temp_c": OVEN_HOT_C + 0.5}, "OVEN_HOT"),
        ({"oven.chamber_pressure_kpa": 5.5}, "OVEN_PRESSURISED"),
        ({"oven.sample_temp_c": OVEN_HOT_C}, "COMPLETED"),
    ],
)
async def test_oven_interlock_lid_stays_shut_while_hot_or_pressurised(
    changes: dict[str, Any], refused_by: str
) -> None:
    bench = Bench()
    bench.values.update(changes)
    assert await _refusal(bench, "OVEN.LID", state="OPEN") == refused_by
    # Closing and sealing it is always allowed: that is what makes the oven safe.
    assert await _refusal(bench, "OVEN.LID", state="SEALED") == "COMPLETED"


@pytest.mark.parametrize(
    ("changes", "refused_by"),
    [
        ({"oven.sample_temp_c": 200.0}, "OVEN_HOT_LOAD"),
        ({"oven.lid_open": False}, "OVEN_LID_NOT_OPEN"),
        ({}, "COMPLETED"),
    ],
)
async def test_oven_interlock_dump_into_the_oven_only_cool_and_open(
    changes: dict[str, Any], refused_by: str
) -> None:
    bench = Bench()
    bench.values.update({"oven.lid_open": True, "oven.lid_sealed": False} | changes)
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    assert await _refusal(bench, "SCOOP.DUMP", target="OVEN") == refused_by


async def test_oven_interlock_dump_on_the_ground_ignores_the_oven() -> None:
    """The oven's interlocks guard target=OVEN only: with the oven hot and shut, and even
    never heard from, the scoop still dumps on the ground."""
    bench = Bench()
    bench.values.update({"oven.sample_temp_c": 300.0, "oven.lid_open": False})
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    assert await _refusal(bench, "SCOOP.DUMP", target="GROUND") == "COMPLETED"
    for name in [n for n in bench.values if n.startswith("oven.")]:
        del bench.values[name]
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    assert await _refusal(bench, "SCOOP.DUMP", target="GROUND") == "COMPLETED"
    await bench.run("CORE.ARM", command="SCOOP.DUMP")
    assert await _refusal(bench, "SCOOP.DUMP", target="OVEN") == "OVEN_HOT_LOAD"


@pytest.mark.parametrize(
    ("changes", "refused_by"),
    [
        ({"elec.state": "RUNNING"}, "CELL_RUNNING"),
        ({"elec.water_mass_g": CELL_TANK_FULL_G}, "CELL_TANK_FULL"),
        ({"oven.trap_temp_c": 0.0}, "TRAP_FROZEN"),
        ({"elec.water_mass_g": CELL_TANK_FULL_G - 0.1}, "COMPLETED"),
    ],
)
async def test_oven_interlock_transfer_needs_an_idle_cell_with_room_and_melted_water(
    changes: dict[str, Any], refused_by: str
) -> None:
    bench = Bench()
    bench.values.update(changes)
    assert await _refusal(bench, "OVEN.TRANSFER", water_g=5.0) == refused_by


@pytest.mark.parametrize(
    ("changes", "refused_by"),
    [
        ({"oven.heater_on": True}, "OVEN_HEATER_ON"),
        ({"oven.sample_temp_c": 61.0}, "OVEN_HOT_EJECT"),
        ({}, "COMPLETED"),
    ],
)
async def test_oven_interlock_eject_only_cold_with_the_heater_off(
    changes: dict[str, Any], refused_by: str
) -> None:
    bench = Bench()
    bench.values.update(changes)
    assert await _refusal(bench, "OVEN.EJECT") == refused_by


async def test_oven_interlock_safe_commands_are_never_refused() -> None:
    """Heater off, trap off and STOP have no interlock, and run in SAFE."""
    bench = Bench()
    await bench.run("MODE.SAFE")
    bench.values.clear()  # not even the oven heard from
    for name in ("OVEN.HEATER_OFF", "OVEN.TRAP_OFF", "OVEN.STOP"):
        assert await _refusal(bench, name) == "COMPLETED", name


@pytest.mark.parametrize(
    ("when", "match"),
    [
        ({"side": "OVEN"}, "SCOOP.DUMP has no argument side"),
        ({"target": "MOON"}, r"SCOOP.DUMP target=MOON is not one of GROUND, OVEN"),
    ],
)
def test_oven_interlock_when_must_name_an_argument_value(when: dict[str, str], match: str) -> None:
    bad = InterlockDef(
        name="BAD",
        commands=("SCOOP.DUMP",),
        when=when,
        require="oven.lid_open == true",
        description="x",
    )
    with pytest.raises(ValueError, match=match):
        Dictionary(
            version="x",
            commands=DICTIONARY.commands,
            channels=DICTIONARY.channels,
            events=DICTIONARY.events,
            interlocks=(bad,),
        )


# --- limits ------------------------------------------------------------------------------


@pytest.mark.req("FLT-09")
@pytest.mark.parametrize(
    ("channel", "value"),
    [
        ("oven.sample_temp_c", 485.0),
        ("oven.wall_temp_c", 481.0),
        ("oven.sample_temp_c", 2000.0),  # an open thermocouple's reading
        ("oven.chamber_pressure_kpa", 41.0),
        ("oven.heater_stall_s", 301.0),
    ],
)
def test_oven_limit_red_after_persistence_makes_the_payload_safe(
    channel: str, value: float
) -> None:
    rec = Recorder()
    red: list[tuple[str, SafingResponse]] = []
    monitor = LimitMonitor(
        limits=BOARD_LIMITS,
        dictionary=DICTIONARY,
        events=rec.log,
        on_red=lambda name, response, _: red.append((name, response)),
    )
    persistence = BOARD_LIMITS[channel].persistence
    for _ in range(persistence - 1):
        monitor.check({channel: value})
    assert red == []
    monitor.check({channel: value})
    assert red == [(channel, SafingResponse.SAFE)]
    assert rec.of("LIMIT_RED")[0].args["response"] == "SAFE"


# --- derived channels --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "lid"),
    [
        ({"oven.lid_sealed": True}, "SEALED"),
        ({"oven.lid_open": True}, "OPEN"),
        ({"oven.lid_moving": True, "oven.lid_open": True}, "MOVING"),
        ({}, "UNKNOWN"),
    ],
)
def test_oven_lid_state_from_its_flags(flags: dict[str, bool], lid: str) -> None:
    assert lid_state(flags) == lid


def _packet(
    ms: int, sample: float, *, power: float = 50.0, target: float = 300.0
) -> dict[str, Any]:
    return {
        "oven.uptime_ms": ms,
        "oven.sample_temp_c": sample,
        "oven.heater_on": power > 0,
        "oven.heater_power_w": power,
        "oven.heater_setpoint_c": target,
    }


def test_oven_heater_stall_counts_while_the_sample_does_not_warm() -> None:
    stall = HeaterStall()
    assert stall.update(_packet(1000, 20.0)) == 0.0
    assert stall.update(_packet(61_000, 20.5)) == 60.0  # +0.5 degC: still stalled
    assert stall.update(_packet(121_000, 21.0)) == 0.0  # +1 degC: it warms, start again
    assert stall.update(_packet(181_000, 21.2)) == 60.0
    assert stall.update(_packet(182_000, 21.2, power=0.0)) == 0.0  # heater off: no stall
    assert stall.update(_packet(183_000, 21.2)) == 0.0


def test_oven_heater_stall_not_while_the_heat_goes_into_the_ice() -> None:
    """A sample held at its ice's sublimation point does not warm, but the trap fills."""
    stall = HeaterStall()
    for second in range(0, 1200, 10):
        packet = _packet(second * 1000, -43.0) | {"oven.water_collected_g": second * 0.001}
        last = stall.update(packet)
        assert last <= 50.0
    dry = _packet(1_290_000, -43.0) | {"oven.water_collected_g": 1.19}
    assert stall.update(dry) == pytest.approx(last + 100.0)  # nothing caught since 1190 s


def test_oven_heater_stall_not_while_holding_at_the_target() -> None:
    stall = HeaterStall()
    for second in range(0, 1200, 10):
        assert stall.update(_packet(second * 1000, 297.0)) == 0.0  # within the margin


def test_oven_heater_stall_starts_afresh_after_a_board_reboot() -> None:
    stall = HeaterStall()
    stall.update(_packet(500_000, 20.0))
    assert stall.update(_packet(800_000, 20.0)) == 300.0
    assert stall.update(_packet(1000, 20.0)) == 0.0  # uptime went back: a new boot
    assert stall.update(_packet(11_000, 20.0)) == 10.0


def test_oven_heater_stall_across_the_uptime_wrap() -> None:
    stall = HeaterStall()
    stall.update(_packet(2**32 - 5000, 20.0))
    assert stall.update(_packet(5000, 20.0)) == 10.0


@given(
    st.lists(
        st.tuples(
            st.integers(0, 20_000),
            st.floats(-50, 500),
            st.floats(0, 200),
            st.floats(-50, 500),
        ),
        max_size=40,
    )
)
def test_oven_heater_stall_is_zero_unless_demanding_and_never_beyond_its_stretch(
    steps: list[tuple[int, float, float, float]],
) -> None:
    """Zero whenever the packet does not demand heat; otherwise never more than the board
    time since the heater began demanding."""
    stall, now, demanding_since = HeaterStall(), 0, None
    for dt, sample, power, target in steps:
        now += dt
        packet = _packet(now, sample, power=power, target=target)
        value = stall.update(packet)
        demanding = power >= 2.0 and target - sample > STALL_MARGIN_C
        if not demanding:
            assert value == 0.0
            demanding_since = None
            continue
        demanding_since = now if demanding_since is None else demanding_since
        assert 0.0 <= value <= (now - demanding_since) / 1000.0


def test_oven_channels_add_lid_and_stall_to_each_packet() -> None:
    derive = OvenChannels()
    values = derive(_packet(1000, 20.0) | {"oven.lid_sealed": True})
    assert (values["oven.lid"], values["oven.heater_stall_s"]) == ("SEALED", 0.0)
    names = {c.name for c in DICTIONARY.channels if c.packet == "oven"}
    assert {"oven.lid", "oven.heater_stall_s"} <= names


# --- docs/flight.md says what the dictionary says ----------------------------------------

FLIGHT_MD = Path(__file__).resolve().parents[1] / "docs" / "flight.md"


def _rows(header: str) -> list[str]:
    lines = FLIGHT_MD.read_text(encoding="utf-8").splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_oven_flight_md_interlock_table_is_the_dictionary() -> None:
    expected = []
    for interlock in DICTIONARY.interlocks:
        when = " ".join(f"{k}={v}" for k, v in interlock.when.items())
        commands = ", ".join(f"`{c}`" + (f" `{when}`" if when else "") for c in interlock.commands)
        expected.append(
            f"| `{interlock.name}` | {commands} | `{interlock.require}` | {interlock.description} |"
        )
    assert _rows("| interlock | commands | requires | why |") == expected


def test_oven_flight_md_limit_table_is_the_dictionary() -> None:
    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:g}"

    listed = {
        row.split(" | ")[0].strip("| `"): row
        for row in _rows(
            "| channel | unit | red low | yellow low | yellow high | red high "
            "| persistence (samples) | response |"
        )
    }
    assert set(listed) == set(BOARD_LIMITS)
    for name, limits in BOARD_LIMITS.items():
        unit = DICTIONARY.channel_index[name].unit or "bool"
        values = (limits.red_low, limits.yellow_low, limits.yellow_high, limits.red_high)
        assert listed[name] == (
            f"| `{name}` | {unit} | {' | '.join(cell(v) for v in values)} | "
            f"{limits.persistence} | {limits.response.value} |"
        ), name
