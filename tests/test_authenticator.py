"""flight.mqtt.auth.Authenticator: the MAC check, the replay counter and how it is persisted."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given

from flight.mqtt import Authenticator, AuthError
from interface import signing
from interface.signing import (
    fingerprint,
    sign,
)
from tests.signing_cases import KEY, VEHICLE, counters, json_args, mutations, names


class Persisted:
    """A ``persist`` callback that records what it was given and what the checker knew then."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.authenticator: Authenticator | None = None
        self.highest_seen: list[int] = []

    def __call__(self, counter: int) -> None:
        self.calls.append(counter)
        if self.authenticator is not None:
            self.highest_seen.append(self.authenticator.highest_counter)


def make_auth(highest: int = 0) -> tuple[Authenticator, Persisted]:
    persisted = Persisted()
    authenticator = Authenticator(
        key=KEY, vehicle=VEHICLE, highest_counter=highest, persist=persisted
    )
    persisted.authenticator = authenticator
    return authenticator, persisted


def signed(counter: int, name: str = "CORE.NOOP", args: Mapping[str, Any] | None = None) -> Any:
    args = {} if args is None else args
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    return {"counter": counter, "mac": mac, "name": name, "args": args}


@given(name=names, counter=counters, args=json_args)
def test_authenticator_round_trip_accepts_and_persists(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    authenticator, persisted = make_auth()
    authenticator.check(**signed(counter, name, args))
    assert persisted.calls == [counter]
    assert authenticator.highest_counter == counter


@given(name=names, counter=counters, args=json_args)
def test_authenticator_tampered_command_is_bad_mac(
    name: str, counter: int, args: dict[str, Any]
) -> None:
    mac = sign(KEY, vehicle=VEHICLE, counter=counter, name=name, args=args)
    for what, vehicle, c, n, a in mutations(name, counter, args):
        calls: list[int] = []
        checker = Authenticator(key=KEY, vehicle=vehicle, highest_counter=0, persist=calls.append)
        with pytest.raises(AuthError, match=r"^bad_mac") as refused:
            checker.check(counter=c, mac=mac, name=n, args=a)
        assert refused.value.reason == "bad_mac", what
        assert calls == [], what
        assert checker.highest_counter == 0


def test_authenticator_accepts_rising_counters_with_gaps() -> None:
    authenticator, persisted = make_auth()
    for counter in (1, 2, 10, 1_700_000_000_000):
        authenticator.check(**signed(counter))
    assert persisted.calls == [1, 2, 10, 1_700_000_000_000]
    assert authenticator.highest_counter == 1_700_000_000_000


def test_authenticator_replayed_command_refused() -> None:
    authenticator, persisted = make_auth()
    command = signed(5, "SCOOP.DIG", {"depth_mm": 30})
    authenticator.check(**command)
    with pytest.raises(AuthError, match=r"^replayed: counter 5 was already used") as refused:
        authenticator.check(**command)
    assert refused.value.reason == "replayed"
    assert persisted.calls == [5]


def test_authenticator_counter_zero_on_fresh_vehicle_is_malformed() -> None:
    authenticator, persisted = make_auth(highest=0)
    with pytest.raises(AuthError, match=r"^malformed: counter must be an integer from 1 to"):
        authenticator.check(**signed(0))
    assert persisted.calls == []


@pytest.mark.parametrize("counter", [2**53, 2**70, 10**5000], ids=["2^53", "2^70", "10^5000"])
def test_authenticator_counter_above_2_53_is_refused_and_not_consumed(counter: int) -> None:
    authenticator, persisted = make_auth(highest=10)
    with pytest.raises(AuthError, match=r"^malformed: counter must be an integer from 1 to 9007"):
        # Checked before the mac (10^5000 has no canonical form to sign at all).
        authenticator.check(counter=counter, mac="a" * 64, name="CORE.NOOP", args={})
    assert persisted.calls == []
    assert authenticator.highest_counter == 10
    authenticator.check(**signed(11))  # nobody is locked out
    assert persisted.calls == [11]


def test_authenticator_largest_counter_is_2_53_minus_1() -> None:
    authenticator, persisted = make_auth()
    authenticator.check(**signed(2**53 - 1))
    assert persisted.calls == [signing.MAX_COUNTER] == [2**53 - 1]


def test_authenticator_reads_the_counter_where_it_is_kept() -> None:
    kept = {"highest": 0}

    def persist(counter: int) -> None:
        kept["highest"] = counter

    authenticator = Authenticator(
        key=KEY, vehicle=VEHICLE, highest_counter=lambda: kept["highest"], persist=persist
    )
    kept["highest"] = 41  # loaded after the checker was made
    with pytest.raises(AuthError, match=r"^stale: counter 40 .* highest accepted counter 41"):
        authenticator.check(**signed(40))
    authenticator.check(**signed(42))
    assert authenticator.highest_counter == kept["highest"] == 42


def test_authenticator_stale_counter_names_both_numbers() -> None:
    authenticator, persisted = make_auth(highest=100)
    with pytest.raises(AuthError, match=r"^stale: counter 99 .* highest accepted counter 100"):
        authenticator.check(**signed(99))
    assert persisted.calls == []
    assert authenticator.highest_counter == 100


def test_authenticator_persisted_counter_survives_restart() -> None:
    first, persisted = make_auth()
    command = signed(7)
    first.check(**command)
    restarted, _ = make_auth(highest=persisted.calls[-1])
    with pytest.raises(AuthError, match=r"^replayed"):
        restarted.check(**command)


@pytest.mark.parametrize(
    ("counter", "mac", "missing"),
    [(None, "0" * 64, "no counter:"), (1, None, "no mac:"), (None, None, "no counter and no mac")],
)
def test_authenticator_unsigned_refused(counter: int | None, mac: str | None, missing: str) -> None:
    authenticator, persisted = make_auth()
    with pytest.raises(AuthError, match=f"^unsigned: {missing}") as refused:
        authenticator.check(counter=counter, mac=mac, name="CORE.NOOP", args={})
    assert refused.value.reason == "unsigned"
    assert persisted.calls == []


def test_authenticator_bad_mac_does_not_consume_counter() -> None:
    authenticator, persisted = make_auth()
    good = signed(3)
    with pytest.raises(AuthError, match=r"^bad_mac") as refused:
        authenticator.check(**{**good, "mac": "0" * 64})
    assert refused.value.reason == "bad_mac"
    assert persisted.calls == []
    authenticator.check(**good)
    assert persisted.calls == [3]


def test_authenticator_wrong_key_is_bad_mac() -> None:
    authenticator, persisted = make_auth()
    mac = sign(bytes(32), vehicle=VEHICLE, counter=1, name="CORE.NOOP", args={})
    with pytest.raises(AuthError, match=r"^bad_mac: mac does not match CORE.NOOP counter 1"):
        authenticator.check(counter=1, mac=mac, name="CORE.NOOP", args={})
    assert persisted.calls == []


def test_authenticator_stale_or_replayed_with_bad_mac_is_bad_mac() -> None:
    authenticator, persisted = make_auth(highest=10)
    for counter in (9, 10):
        with pytest.raises(AuthError, match=r"^bad_mac"):
            authenticator.check(counter=counter, mac="1" * 64, name="CORE.NOOP", args={})
    assert persisted.calls == []


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"counter": -1}, "counter must be an integer"),
        ({"counter": True}, "counter must be an integer"),
        ({"counter": 1.0}, "counter must be an integer"),
        ({"counter": "1"}, "counter must be an integer"),
        ({"mac": "A" * 64}, "mac must be 64 lowercase hex digits"),
        ({"mac": "a" * 63}, "mac must be 64 lowercase hex digits"),
        ({"mac": "a" * 64 + "\n"}, "mac must be 64 lowercase hex digits"),
        ({"args": {"x": math.nan}}, "no canonical JSON form"),
        ({"args": {"x": {1, 2}}}, "no canonical JSON form"),
    ],
)
def test_authenticator_malformed_refused(changes: dict[str, Any], match: str) -> None:
    authenticator, persisted = make_auth()
    with pytest.raises(AuthError, match=f"^malformed: .*{match}") as refused:
        authenticator.check(**{**signed(1), **changes})
    assert refused.value.reason == "malformed"
    assert persisted.calls == []


def test_authenticator_persists_counter_before_check_returns() -> None:
    authenticator, persisted = make_auth(highest=4)
    authenticator.check(**signed(5))
    # persist ran while the checker still held the old highest: before check returned.
    assert persisted.calls == [5]
    assert persisted.highest_seen == [4]
    assert authenticator.highest_counter == 5


def test_authenticator_persist_failure_refuses_and_keeps_counter() -> None:
    def broken(counter: int) -> None:
        raise OSError("disk full")

    authenticator = Authenticator(key=KEY, vehicle=VEHICLE, highest_counter=4, persist=broken)
    with pytest.raises(OSError, match="disk full"):
        authenticator.check(**signed(5))
    assert authenticator.highest_counter == 4


def test_authenticator_refusals_never_contain_the_key() -> None:
    authenticator, _ = make_auth(highest=5)
    attempts = [
        {**signed(6), "mac": None},
        {**signed(6), "mac": "zz"},
        {**signed(6), "mac": "0" * 64},
        signed(5),
        signed(4),
    ]
    for attempt in attempts:
        with pytest.raises(AuthError) as refused:
            authenticator.check(**attempt)
        assert KEY.hex() not in str(refused.value)
        assert KEY.hex() not in refused.value.detail
    assert KEY.hex() not in repr(authenticator)
    assert fingerprint(KEY) in repr(authenticator)


def test_authenticator_short_key_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Authenticator(key=bytes(31), vehicle=VEHICLE, highest_counter=0, persist=[].append)
