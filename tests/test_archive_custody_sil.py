"""``isru sil --headless --run FILE --samples-dir DIR``: the run's custody ledger and images
come over MQTT into a recorder's archive, and DIR gets one package per sample the run made,
each of which ``isru samples verify`` accepts, under the key the SIL generated for the run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from isru.key_cli import main as key
from isru.samples_cli import main as samples
from isru.sil import main as sil

SAMPLE_SEQ = Path(__file__).parents[1] / "sequences" / "sample.seq"


def test_archive_custody_sil_leaves_one_verified_package_per_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "samples"
    result = subprocess.run(
        [sys.executable, "-m", "isru.cli", "sil", "--headless", "--run", str(SAMPLE_SEQ),
         "--time-scale", "50", "--samples-dir", str(out)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sequence   sample: COMPLETED" in result.stdout
    # Exported under the key the SIL generated (not one taken from the head alone).
    found = re.search(r"samples: 1 of 1 packages in .*\(vehicle key ([0-9a-f]{8})\)", result.stdout)
    assert found is not None, result.stdout
    run_key = found.group(1)
    packages = sorted(out.iterdir())
    assert [p.name for p in packages] == ["sil-0001"]
    for package in packages:
        assert samples(["verify", str(package)]) == 0
        verdict = capsys.readouterr().out
        assert f"valid: sample {package.name} of sil: " in verdict
        assert f"vehicle key {run_key}" in verdict
        manifest = json.loads((package / "manifest.json").read_text())
        assert manifest["vehicle_key"] == run_key
        kinds = [json.loads(line)["entry"]["kind"] for line in (package / "entries.jsonl").open()]
        assert kinds[0] == "COLLECTED" and "TRANSFERRED" in kinds and "IMAGED" in kinds
        images = sorted(p.name for p in (package / "images").iterdir())
        assert "sil-0001-scoop-1.png" in images and "sil-0001-hopper-1.png" in images
        assert all(
            (package / "images" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in images
        )
        bodies = {e["kind"]: e["body"] for e in map(_entry, (package / "entries.jsonl").open())}
        assert 50 <= bodies["MEASURED"]["mass_g"] <= 500  # a sample as NASA buys them
        assert bodies["MOVED"]["location"] == "oven"
        assert bodies["TRANSFERRED"]["buyer"] == "ACME_Regolith"
    _sold_and_countersigned(packages[0], tmp_path, capsys)


def _entry(line: str) -> dict[str, object]:
    entry: dict[str, object] = json.loads(line)["entry"]
    return entry


def _sold_and_countersigned(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator countersigns the transfer; the buyer verifies it with both keys; one
    changed byte in the package is then named."""
    operator = tmp_path / "operator.key"
    assert key(["generate", "--kind", "signing", str(operator)]) == 0
    assert key(["public", str(operator), "--out", str(tmp_path / "operator.pub.pem")]) == 0
    countersign = ["countersign", str(package), "--key", str(operator), "--operator", "J. Smith"]
    assert samples(countersign) == 0
    capsys.readouterr()
    verify = ["verify", str(package), "--operator-key", str(tmp_path / "operator.pub.pem")]
    assert samples(verify) == 0
    assert "1 countersignatures" in capsys.readouterr().out
    entries = package / "entries.jsonl"
    entries.write_text(
        entries.read_text().replace('"buyer":"ACME_Regolith"', '"buyer":"ACME_Regolitk"')
    )
    assert samples(verify) == 1
    assert "entries.jsonl line" in capsys.readouterr().out


def test_archive_custody_sil_samples_dir_needs_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sil(["--headless", "--samples-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "isru sil: --samples-dir needs --run\n"
