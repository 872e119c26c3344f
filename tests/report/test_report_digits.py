"""A report over the digits example: 2 learning rates x 3 seeds, run for real.

The runs are made once for the module through ``runlab run`` (3 epochs each,
in parallel), then reported on once; each test checks one part of the result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from latex_kit import check_latex_by_parsing, compile_latex
from PIL import Image

import runlab

pytestmark = pytest.mark.slow

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"
LRS = (0.01, 0.001)
SEEDS = (0, 1, 2)
MARKUP_NAME = "<i>digits</i>&<script>x</script>"
LEAKY = ("RUNLAB_RUN_DIR", "RANK", "LOCAL_RANK", "RUNLAB_ALL_RANKS", "RUNLAB_URI")


def environment(folder: Path, store: Path) -> dict[str, str]:
    """The caller's environment, less what would tie the runs to this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY}
    env.update(
        RUNLAB_DIR=str(store),
        RUNLAB_SYSTEM_METRICS="0",
        GIT_CEILING_DIRECTORIES=str(folder),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def runlab_command(folder: Path, env: dict[str, str], *args: str) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "runlab", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: Any) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return str(out)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Six digits runs, a note on one, and the report over them."""
    folder = tmp_path_factory.mktemp("digits")
    store = folder / "experiments"
    env = environment(folder, store)
    started = []
    for lr in LRS:
        for seed in SEEDS:
            name = ["--name", MARKUP_NAME] if (lr, seed) == (LRS[0], 0) else []
            started.append(runlab_command(
                folder, env, "run", "-c", str(DIGITS / "config.yaml"), "epochs=3",
                f"seed={seed}", f"optim.lr={lr}", *name,
                "--", sys.executable, str(DIGITS / "train.py"),
            ))  # fmt: skip
    for process in started:
        finish(process)
    finish(runlab_command(folder, env, "note", MARKUP_NAME, "Seed 0 of the *fast* lr."))

    printed = finish(runlab_command(
        folder, env, "report", "--by", "optim.lr", "--metric", "val/acc.max",
        "--metric", "val/loss.min", "--out", "report", "--title", "Digits",
    ))  # fmt: skip
    records = runlab.open_store(store).records()
    return {"out": folder / "report", "records": records, "printed": printed}


def numpy_stats(records: list[dict[str, Any]], lr: float, label: str) -> list[float]:
    name, _, summary = label.rpartition(".")
    values = [
        r["metrics"][name][summary] for r in records if r["config"]["optim"]["lr"] == lr
    ]
    assert len(values) == len(SEEDS)
    return [float(np.mean(values)), float(np.std(values, ddof=1))]


def test_table_means_and_stds_equal_numpys_over_the_seeds(
    digits: dict[str, Any],
) -> None:
    text = (digits["out"] / "table.csv").read_text()

    rows = list(csv.DictReader(io.StringIO(text)))

    assert [row["optim.lr"] for row in rows] == ["0.001", "0.01"]
    for row, lr in zip(rows, sorted(LRS), strict=True):
        assert row["n"] == "3"
        for label in ("val/acc.max", "val/loss.min"):
            got = [float(row[f"{label} mean"]), float(row[f"{label} std"])]
            assert got == pytest.approx(numpy_stats(digits["records"], lr, label))


def test_report_json_names_the_runs_of_each_group(digits: dict[str, Any]) -> None:
    made = json.loads((digits["out"] / "report.json").read_text())

    for group, lr in zip(made["groups"], sorted(LRS), strict=True):
        expected = {
            r["id"] for r in digits["records"] if r["config"]["optim"]["lr"] == lr
        }
        assert set(group["runs"]) == expected
        assert group["label"] == f"optim.lr={lr}"
    assert made["spec"]["metrics"] == ["val/acc.max", "val/loss.min"]


def test_the_faster_lr_is_bold_in_every_format(digits: dict[str, Any]) -> None:
    markdown = (digits["out"] / "table.md").read_text().splitlines()
    latex = (digits["out"] / "table.tex").read_text()
    page = (digits["out"] / "report.html").read_text()

    assert markdown[-1].startswith("| 0.01 | **0.9")
    assert markdown[-1].count("**") == 4
    assert len(re.findall(r"\\textbf\{", latex)) == 2
    results = page.split("<h2>Results</h2>", 1)[1].split("<h2>", 1)[0]
    assert results.count("<strong>") == 2
    assert digits["printed"].splitlines() == markdown[1:]


def test_latex_table_is_valid(digits: dict[str, Any], tmp_path: Path) -> None:
    table = (digits["out"] / "table.tex").read_text()

    if shutil.which("pdflatex"):
        compile_latex(table, tmp_path)
    else:
        check_latex_by_parsing(table, len(LRS))


def test_figures_are_png_and_pdf_per_metric(digits: dict[str, Any]) -> None:
    for stem in ("val_acc", "val_loss"):
        with Image.open(digits["out"] / f"{stem}.png") as image:
            image.verify()
            assert image.format == "PNG"
        pdf = (digits["out"] / f"{stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-")
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1


def test_page_is_self_contained_and_escapes_the_markup_name(
    digits: dict[str, Any],
) -> None:
    page = (digits["out"] / "report.html").read_text()

    assert "&lt;i&gt;digits&lt;/i&gt;&amp;&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script" not in page and "<i>digits" not in page
    addresses = addresses_in(page)
    assert len(addresses) == 2
    assert all(a.startswith("data:image/png;base64,") for a in addresses)
    assert "Seed 0 of the <em>fast</em> lr." in page
    assert "<h2>Runs</h2>" in page and "optim.lr" in page


def addresses_in(page: str) -> list[str]:
    """Every src or href value of the page's tags, as a browser parses them."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Collector(HTMLParser):
        def handle_starttag(
            self, tag: str, attrs: list[tuple[str, str | None]]
        ) -> None:
            found.extend(v or "" for k, v in attrs if k in ("src", "href"))

    Collector().feed(page)
    return found
