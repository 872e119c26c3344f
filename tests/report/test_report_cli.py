"""``runlab report`` through the real command line, over runs made in the test."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import runlab

pytestmark = pytest.mark.usefixtures("runlab_env")

FILES = [
    "val_acc.png",
    "val_acc.pdf",
    "table.md",
    "table.tex",
    "table.csv",
    "report.html",
    "report.json",
]

CLASHING_FIGURES = ["--figure", "a/b", "--figure", "a_b"]


def make_run(lr: float, seed: int, name: str | None = None, **kw: Any) -> str:
    with runlab.start(config={"lr": lr, "seed": seed}, name=name, **kw) as run:
        for step in range(3):
            run.log({"val/acc": lr * 5 + seed * 0.01 + step * 0.1}, step=step)
    return run.id


@pytest.fixture
def four_runs() -> list[str]:
    return [make_run(lr, seed) for lr in (0.1, 0.01) for seed in (0, 1)]


def test_report_writes_every_file_and_prints_the_table(
    runlab_cli: Any, four_runs: list[str], tmp_path: Path
) -> None:
    done = runlab_cli("report", "--by", "lr", "--metric", "val/acc.max", "--out", "rep")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "| lr | val/acc.max | n |",
        "| --- | ---: | ---: |",
        "| 0.01 | 0.255 ± 0.00707 | 2 |",
        "| 0.1 | **0.705** ± 0.00707 | 2 |",
    ]
    assert done.stderr == (
        "Wrote a report of 4 run(s) in 2 group(s) to rep: " + ", ".join(FILES) + "\n"
    )
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted(FILES)


def test_report_json_records_the_runs_versions_and_time(
    runlab_json: Any, runlab_cli: Any, four_runs: list[str], tmp_path: Path, store: Path
) -> None:
    runlab_cli(
        "report", "lr > 0", "--by", "lr", "--metric", "val/acc.max", "--out", "r"
    )

    made = json.loads((tmp_path / "r" / "report.json").read_text())

    assert [g["runs"] for g in made["groups"]] == [four_runs[2:], four_runs[:2]]
    assert [g["key"] for g in made["groups"]] == [{"lr": 0.01}, {"lr": 0.1}]
    assert made["filter"] == "lr > 0"
    assert made["runlab_version"] == runlab.__version__
    assert made["git"] is None
    assert made["store"] == str(store)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", made["created"])
    assert made["files"] == FILES
    assert made["groups"][1]["metrics"]["val/acc.max"]["n"] == 2


def test_report_records_the_git_commit_of_the_working_folder(
    runlab_cli: Any,
    four_runs: list[str],
    tmp_path: Path,
    run_git: Callable[..., str],
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    run_git(code, "init", "-q")
    (code / "paper.tex").write_text("x")
    run_git(code, "add", "paper.tex")
    run_git(code, "commit", "-q", "-m", "paper")
    commit = run_git(code, "rev-parse", "HEAD")
    (code / "paper.tex").write_text("changed")

    done = runlab_cli("report", "--metric", "val/acc.max", "--out", "r", cwd=code)

    assert done.returncode == 0, done.stderr
    made = json.loads((code / "r" / "report.json").read_text())
    assert made["git"] == {"commit": commit, "dirty": True}
    tex = (code / "r" / "table.tex").read_text()
    assert f"(git {commit[:12]} with uncommitted changes)." in tex.splitlines()[0]


def test_a_spec_file_with_options_laid_over_it(
    runlab_cli: Any, four_runs: list[str], tmp_path: Path
) -> None:
    spec = tmp_path / "paper" / "report.yaml"
    spec.parent.mkdir()
    spec.write_text(
        "title: LR study\nby: [lr]\nmetrics: [val/acc.last]\nfigures: []\n"
        "aggregate: minmax\nout: tables\n"
    )

    beside = runlab_cli("report", "--spec", str(spec))
    moved = runlab_cli("report", "--spec", str(spec), "--out", "elsewhere")

    assert beside.returncode == 0, beside.stderr
    assert sorted(p.name for p in (tmp_path / "paper" / "tables").iterdir()) == [
        "report.html", "report.json", "table.csv", "table.md", "table.tex",
    ]  # fmt: skip
    assert "| 0.1 | **0.705** (0.700–0.710) | 2 |" in beside.stdout
    assert (tmp_path / "elsewhere" / "report.html").is_file()
    assert (
        "<title>LR study</title>"
        in (tmp_path / "elsewhere" / "report.html").read_text()
    )
    assert moved.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["lr > 5", "--metric", "val/acc.max", "--out", "r"],
            "Error: The filter 'lr > 5' selects no runs in {store}; "
            "check it with `runlab ls 'lr > 5'`.\n",
        ),
        (
            ["--metric", "val/acc.max"],
            "Error: runlab report: no folder to write to; give --out DIR "
            "(or out: DIR).\n",
        ),
        (
            ["--metric", "val/acc", "--out", "r"],
            "Error: runlab report: Metric 'val/acc' needs a summary: write it as "
            "NAME.SUMMARY, e.g. 'val/acc.max' (summaries: count, last, last_step, "
            "max, min).\n",
        ),
        (
            ["--metric", "val/acc.max", "--figure", "val/ac", "--out", "r"],
            "Error: No selected run logged metric 'val/ac', so it cannot be drawn; "
            "check the names in `runlab show RUN` or drop it from the figures.\n",
        ),
        (
            ["--metric", "val/acc.max", "--out", "r", *CLASHING_FIGURES],
            "Error: Figures of 'a/b' and 'a_b' would both be a_b.png; draw one of "
            "them in another report.\n",
        ),
    ],
)
def test_report_errors_say_what_to_do_and_write_nothing(
    runlab_cli: Any,
    four_runs: list[str],
    store: Path,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    done = runlab_cli("report", *args)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == message.format(store=store)
    assert not (tmp_path / "r").exists()


def test_no_figures_writes_the_tables_and_page_only(
    runlab_cli: Any, four_runs: list[str], tmp_path: Path
) -> None:
    done = runlab_cli("report", "--metric", "val/acc.max", "--no-figures", "--out", "r")

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "report.html", "report.json", "table.csv", "table.md", "table.tex",
    ]  # fmt: skip
    assert "<h2>Figures</h2>" not in (tmp_path / "r" / "report.html").read_text()


def test_an_empty_store_has_nothing_to_report(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli("report", "--metric", "a.max", "--out", "r")

    assert done.stderr == f"Error: The store {store} has no runs to report on.\n"


def test_the_page_escapes_run_text_and_links_nothing_outside(
    runlab_cli: Any, tmp_path: Path
) -> None:
    notes = (
        "See [the paper](https://example.com/p) and <img src=http://x/y.png>, "
        "![plot](http://x/plot.png) <script>alert(1)</script> **bold**"
    )
    make_run(0.1, 0, name="<b>bold</b>&run", notes=notes)
    make_run(0.01, 0)

    done = runlab_cli("report", "--by", "lr", "--metric", "val/acc.max", "--out", "r")

    page = (tmp_path / "r" / "report.html").read_text()
    assert done.returncode == 0, done.stderr
    assert "&lt;b&gt;bold&lt;/b&gt;&amp;run" in page
    assert "<b>bold</b>" not in page and "<script>" not in page
    assert "<strong>bold</strong>" in page  # the note's own Markdown still renders
    tags = parse_tags(page)
    addresses = [value for _, attrs in tags for key, value in attrs if key in LINKING]
    assert addresses and all(a.startswith("data:image/png;base64,") for a in addresses)
    assert [t for t, _ in tags if t in ("script", "link", "iframe", "a")] == []


LINKING = {"src", "href", "srcset", "action", "poster", "data"}


def parse_tags(page: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every start tag of ``page`` with its attributes, as a browser reads them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(
            self, tag: str, attrs: list[tuple[str, str | None]]
        ) -> None:
            found.append((tag, [(k, v or "") for k, v in attrs]))

    Collector().feed(page)
    return found


def test_a_new_report_removes_the_files_of_the_last_one_only(
    runlab_cli: Any, four_runs: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "rep"
    first = runlab_cli(
        "report", "--by", "lr", "--metric", "val/acc.max", "--out", "rep"
    )
    (out / "my-notes.txt").write_text("mine\n")

    again = runlab_cli(
        "report", "--by", "lr", "--metric", "val/acc.last", "--no-figures",
        "--out", "rep",
    )  # fmt: skip

    assert first.returncode == 0 and again.returncode == 0, again.stderr
    written = ["table.md", "table.tex", "table.csv", "report.html", "report.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*written, "my-notes.txt"])
    assert json.loads((out / "report.json").read_text())["files"] == written


def test_a_figure_that_fails_to_save_leaves_no_part_of_it(tmp_path: Path) -> None:
    from runlab.report.figures import _save

    class FullDisk:
        def savefig(self, path: Path, **options: Any) -> None:
            Path(path).write_bytes(b"\x89PNG half")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        _save(FullDisk(), tmp_path / "val_acc.png", dpi=300)

    assert list(tmp_path.iterdir()) == []
