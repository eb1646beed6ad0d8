"""``isru samples`` as an operator types it: list, show, export, verify, countersign; what
each prints, its exit status, and its refusals (one line each, never a traceback)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from interface.custody import (
    generate_signing_key_file,
    key_id,
    public_pem,
    summary_markdown,
    verify_package,
)
from interface.custody.record import fold
from isru.samples_cli import main as samples
from tests.custody_cases import (
    LIFE,
    OTHER_KEY,
    VEHICLE_KEY,
    build,
    collected,
    image_bytes,
    ledger_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = VEHICLE_KEY.public_key()
KEY_ID = key_id(PUBLIC)


@pytest.fixture
def ground(tmp_path: Path) -> Path:
    """A ledger of two samples, the vehicle's public key and the images, as the ground has them."""
    entries = build([*LIFE, ("collect", None, collected(45.0))])
    (tmp_path / "custody.jsonl").write_bytes(ledger_bytes(entries))
    (tmp_path / "vehicle.pub.pem").write_bytes(public_pem(PUBLIC))
    (tmp_path / "images").mkdir()
    for name in ("before.png", "after.png"):
        (tmp_path / "images" / name).write_bytes(image_bytes(name))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = samples([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def ledger_args(ground: Path) -> list[str | Path]:
    return ["--ledger", ground / "custody.jsonl", "--vehicle-key", ground / "vehicle.pub.pem"]


def export(ground: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    target = ground / "pkg"
    code, out, _ = run(
        capsys, "export", "rover1-0001", target, *ledger_args(ground), "--images", ground / "images"
    )
    assert code == 0
    assert out == f"wrote {target}: sample rover1-0001, 5 entries, 2 images; vehicle key {KEY_ID}\n"
    return target


def test_samples_cli_list_one_line_per_sample(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "list", *ledger_args(ground))
    assert (code, err) == (0, "")
    header, first, second = out.splitlines()
    assert header.split() == ["sample", "where", "mass", "g", "dug", "(mission)", "owner"]
    assert first.split() == [
        "rover1-0001",
        "transferred",
        "12.3+-0.05",
        "2026-05-01T12:00:00.000000Z",
        "Regolith",
        "Buyers",
        "Ltd",
    ]
    assert second.split() == ["rover1-0002", "scoop", "-", "2026-05-01T12:00:00.000000Z", "-"]


def test_samples_cli_show_prints_the_summary_or_json(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "show", "rover1-0001", *ledger_args(ground))
    record = fold(build(LIFE))["rover1-0001"]
    assert (code, out) == (0, summary_markdown(record, KEY_ID))
    code, out, _ = run(capsys, "show", "rover1-0001", *ledger_args(ground), "--json")
    document = json.loads(out)
    assert (document["location"], document["owner"]) == ("transferred", "Regolith Buyers Ltd")
    assert [entry["kind"] for entry in document["entries"]][-1] == "TRANSFERRED"
    assert document["entries"][1]["hash"] == build(LIFE)[1].hash
    code, _, err = run(capsys, "show", "rover1-0009", *ledger_args(ground))
    assert code == 1
    assert err == (
        f"isru samples: no sample rover1-0009 in {ground / 'custody.jsonl'} "
        "(samples: rover1-0001, rover1-0002)\n"
    )


def test_samples_cli_export_then_verify_valid(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    code, out, _ = run(capsys, "verify", target)
    assert code == 0
    assert out == (
        f"valid: sample rover1-0001 of rover1: 5 entries, 2 images, 0 countersignatures; "
        f"vehicle key {KEY_ID} (not pinned: compare it with the vehicle's key)\n"
    )
    code, out, _ = run(capsys, "verify", target, "--vehicle-key", ground / "vehicle.pub.pem")
    assert code == 0
    assert out.endswith(f"vehicle key {KEY_ID} (the key you gave)\n")


def test_samples_cli_verify_names_each_problem_on_its_own_line_exit_1(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    entries = target / "entries.jsonl"
    lines = entries.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"mass_g":12.3', b'"mass_g":13.3')
    entries.write_bytes(b"".join(lines))
    code, out, err = run(capsys, "verify", target)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "entries.jsonl line 2: seq 1 (MEASURED #1 of rover1-0001): signature does not verify "
        f"with the vehicle key {KEY_ID}: the entry was changed after it was signed, or signed "
        "with another key",
    ]


def test_samples_cli_verify_package_of_another_key_against_the_key_you_trust(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    other = ground / "other.pub.pem"
    other.write_bytes(public_pem(OTHER_KEY.public_key()))
    code, out, _ = run(capsys, "verify", target, "--vehicle-key", other)
    assert code == 1
    assert out == (
        f"public_key.pem: is key {KEY_ID}, not the vehicle key "
        f"{key_id(OTHER_KEY.public_key())} you trust: the package was signed by someone else\n"
    )


def test_samples_cli_verify_ledger_file(ground: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = ground / "custody.jsonl"
    code, out, _ = run(capsys, "verify", ledger, "--vehicle-key", ground / "vehicle.pub.pem")
    assert (code, out) == (
        0,
        f"valid: ledger {ledger}: 6 entries, 2 samples, vehicle key {KEY_ID}\n",
    )
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join([*lines[:2], *lines[3:]]))
    code, out, _ = run(capsys, "verify", ledger, "--vehicle-key", ground / "vehicle.pub.pem")
    assert (code, out) == (
        1,
        f"{ledger} line 3: seq 2 is missing before seq 3 (MOVED #3 of rover1-0001)\n",
    )
    code, _, err = run(capsys, "verify", ledger)
    assert (code, err) == (2, "isru samples: verifying a ledger file needs --vehicle-key\n")
    code, _, err = run(capsys, "verify", ground / "nowhere")
    assert (code, err) == (
        1,
        f"isru samples: {ground / 'nowhere'}: does not exist (a package directory or a ledger "
        "file)\n",
    )


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["export", "rover1-0001", "{pkg}"], "sample rover1-0001 has 2 images: give --images DIR"),
        (
            ["export", "rover1-0001", "{pkg}", "--images", "{ground}"],
            "image {ground}/before.png: not readable: No such file or directory",
        ),
        (["export", "rover1-0007", "{pkg}"], "no sample rover1-0007 in {ground}/custody.jsonl"),
        (
            ["export", "rover1-0002", "{ground}/images"],
            "{ground}/images: exists and is not an empty directory",
        ),
    ],
    ids=["no-images", "image-missing", "no-sample", "not-empty"],
)
def test_samples_cli_export_refusals_are_one_line_exit_1(
    ground: Path, capsys: pytest.CaptureFixture[str], argv: list[str], why: str
) -> None:
    filled = [arg.format(pkg=ground / "pkg", ground=ground) for arg in argv]
    code, out, err = run(capsys, *filled, *ledger_args(ground))
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert why.format(ground=ground) in err
    assert not (ground / "pkg").exists()


def test_samples_cli_export_refuses_a_ledger_that_does_not_verify(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = ground / "custody.jsonl"
    ledger.write_bytes(ledger.read_bytes().replace(b"stowed", b"stolen"))
    code, _, err = run(capsys, "export", "rover1-0002", ground / "pkg", *ledger_args(ground))
    assert code == 1
    assert err.splitlines() == [
        f"isru samples: {ledger} line 4: seq 3 (MOVED #3 of rover1-0001): signature does not "
        f"verify with the vehicle key {KEY_ID}: the entry was changed after it was signed, or "
        "signed with another key",
        f"isru samples: ledger {ledger}: does not verify; nothing exported",
    ]


def test_samples_cli_countersign_then_verify(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    operator = ground / "operator.pem"
    generate_signing_key_file(operator)
    code, out, _ = run(capsys, "countersign", target, "--key", operator, "--operator", "J. Smith")
    operator_id = key_id(verify_package(target).operator_keys.popitem()[1])
    assert (code, out) == (
        0,
        f"countersigned seq 4 (TRANSFERRED) of sample rover1-0001 as J. Smith with key "
        f"{operator_id}\n",
    )
    code, out, _ = run(capsys, "verify", target, "--operator-key", operator)
    assert code == 0
    assert "5 entries, 2 images, 1 countersignatures" in out
    assert "| 4 | J. Smith |" in (target / "summary.md").read_text()
    code, _, err = run(
        capsys, "countersign", target, "--key", operator, "--operator", "J", "--seq", "9"
    )
    assert (code, err) == (1, f"isru samples: no entry seq 9 in {target} (seqs: 0, 1, 2, 3, 4)\n")
    (target / "summary.md").write_text("edited\n")
    code, _, err = run(capsys, "countersign", target, "--key", operator, "--operator", "J")
    assert code == 1
    assert err.splitlines()[-1] == f"isru samples: {target}: does not verify; not countersigned"


def test_samples_cli_countersign_refuses_a_readable_key(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    operator = ground / "operator.pem"
    generate_signing_key_file(operator)
    operator.chmod(0o644)
    code, _, err = run(capsys, "countersign", target, "--key", operator, "--operator", "J")
    assert code == 1
    assert err == (
        f"isru samples: key file {operator}: permissions 0644 let group or others read or "
        f"write it; run: chmod 600 {operator}\n"
    )


@pytest.mark.parametrize("argv", [[], ["list"], ["export", "x"], ["verify"], ["sell", "x"]])
def test_samples_cli_usage_error_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert samples(argv) == 2
    assert "usage: isru samples" in capsys.readouterr().err


def test_samples_cli_verify_as_a_subprocess_through_isru(
    ground: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = export(ground, capsys)
    (target / "images" / "after.png").write_bytes(b"another picture")
    done = subprocess.run(
        [sys.executable, "-m", "isru.cli", "samples", "verify", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    sha = hashlib.sha256(image_bytes("after.png")).hexdigest()
    assert done.stdout == (
        f"images/after.png: is not the image seq 2 names (sha256 {sha[:16]}..., "
        f"{len(image_bytes('after.png'))} bytes)\n"
    )
