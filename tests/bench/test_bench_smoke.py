"""The benchmark at its tiny scale: it runs, and every read-back check passes.

This is what CI runs of bench/: runlab and the two floors, as subprocesses,
without the peers (they are not in the test environment). No timing is
asserted; only that the phases ran, read back what they wrote, and reported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"
PEERS = {
    "mlflow-file": "mlflow",
    "wandb": "wandb",
    "aim": "aim",
    "tensorboardx": "tensorboardX",
}

pytestmark = pytest.mark.slow


def run_bench(out: Path, tools: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    # runlab may be installed (make test) or not (a bare checkout): find it either way.
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])
    )
    command = [sys.executable, str(RUN), "--scale", "tiny", "--tools", tools]
    return subprocess.run(
        [*command, "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def missing_peers() -> list[str]:
    """The peers that are not installed here: the bench must skip them and say so."""
    return [
        tool
        for tool, module in PEERS.items()
        if importlib.util.find_spec(module) is None
    ]


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    return run_bench(out, ",".join(["runlab", "list", "csv", *missing_peers()])), out


def test_tiny_bench_exits_0_with_every_read_back_checked(
    tiny: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = tiny
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results-tiny.json").read_text())
    for shape in ("narrow", "wide"):
        for tool in ("runlab", "list", "csv"):
            points = results["log"][shape][tool][0]["points"]
            assert results["verify"][shape][tool] == {
                "checked": points,
                "phase": "verify",
            }
    for size in ("1000", "5000"):
        for tool in ("runlab", "list", "csv"):
            reads = results["read"][size][tool]["reads"]
            assert [r["checked"] for r in reads] == [int(size)] * len(reads)


def test_tiny_bench_runs_the_run_phases_of_runlab(
    tiny: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _done, out = tiny
    results = json.loads((out / "results-tiny.json").read_text())
    assert all("error" not in q for q in results["runs"]["runlab"]["queries"])
    assert results["many"]["runlab"]["create"]["errors"] == []
    assert len(results["many"]["runlab"]["ls"]) == 2
    assert [m["runlab"]["checked"] for m in results["memory"].values()] == [
        20_000,
        2_000,
    ]
    assert all("error" not in r for r in results["start"]["runlab"])
    assert results["runs"]["list"] == {"skip": "a floor has no runs"}


def test_tiny_bench_leaves_no_runlab_footprint(
    tiny: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _done, out = tiny
    footprint = json.loads((out / "results-tiny.json").read_text())["footprint"][
        "runlab"
    ]
    assert footprint == {"processes": [], "lock_files": [], "outside": [], "repo": ""}


def test_tiny_bench_writes_a_report_with_every_section(
    tiny: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _done, out = tiny
    text = (out / "benchmarks.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## The targets",
        "## Start-up",
        "## Logging",
        "## Reading one series in a fresh process",
        "## 20 runs: 10-key config, 5 metrics x 100 steps",
        "## 60 runs",
        "## Memory while logging many points",
        "## The first run's start, inside a git repository",
        "## Footprint after all phases",
        "## Machine and versions",
        "## Environment of every measured process",
        "## How to read these figures",
    ]
    assert "| PYTHONDONTWRITEBYTECODE | removed |" in text


def test_tiny_bench_skips_the_peers_that_are_not_importable_and_says_why(
    tiny: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = tiny
    missing = missing_peers()
    if not missing:
        pytest.skip("every peer is installed here, so the bench would run them all")
    left_out = json.loads((out / "results-tiny.json").read_text())["meta"]["left_out"]
    for tool in missing:
        reason = f"{PEERS[tool]} is not importable here"
        assert f"Skipping {tool}: {reason}." in done.stderr
        assert left_out[tool] == reason
