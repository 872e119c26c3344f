"""The results table: grouping, aggregates, best values, and its three formats."""

from __future__ import annotations

import csv
import io
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from latex_kit import check_latex_by_parsing, compile_latex

from runlab.report import ReportError, make_spec
from runlab.report.groups import build_table
from runlab.report.tables import (
    format_number,
    latex_escape,
    render_csv,
    render_latex,
    render_markdown,
)


def record(run_id: str, config: dict[str, Any], **metrics: float) -> dict[str, Any]:
    """A run record as the store gives it: flat config and metric summaries."""
    summaries = {
        name.replace("__", "/"): {"last": v, "min": v, "max": v, "count": 1}
        for name, v in metrics.items()
    }
    return {
        "id": run_id,
        "status": "finished",
        "config": config,
        "config_flat": _flatten(config),
        "metrics": summaries,
    }


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat.update({f"{prefix}{key}.{i}": v for i, v in enumerate(value)})
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def spec(**fields: Any) -> Any:
    return make_spec({"out": "rep", **fields})


RUNS = [
    record("r1", {"lr": 0.1, "seed": 0}, val__acc=0.90, val__loss=0.30),
    record("r2", {"lr": 0.1, "seed": 1}, val__acc=0.92, val__loss=0.28),
    record("r3", {"lr": 0.01, "seed": 0}, val__acc=0.95, val__loss=0.20),
    record("r4", {"lr": 0.01, "seed": 1}, val__acc=0.97, val__loss=0.21),
    record("r5", {"lr": 0.01, "seed": 2}, val__acc=0.93, val__loss=0.19),
]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.958333, "0.958"),
        (0.95, "0.950"),
        (0.0412345, "0.0412"),
        (12.345, "12.3"),
        (1234.5, "1234"),
        (0.9996, "1.00"),
        (99.96, "100"),
        (-0.5, "-0.500"),
        (0.0, "0"),
        (3.2e-6, "3.20e-06"),
        (2.5e7, "2.50e+07"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        (None, "–"),
    ],
)
def test_format_number_shows_three_significant_digits(
    value: float | None, text: str
) -> None:
    assert format_number(value) == text


def test_groups_are_sorted_by_value_with_numpy_mean_and_sample_std() -> None:
    table = build_table(RUNS, spec(by=["lr"], metrics=["val/acc.max"]))

    assert table.key_columns == ("lr",)
    assert table.key_cells == (("0.01",), ("0.1",))
    assert [g.run_ids for g in table.groups] == [["r3", "r4", "r5"], ["r1", "r2"]]
    first = table.stats[0][0]
    assert first.mean == float(np.mean([0.95, 0.97, 0.93]))
    assert first.std == float(np.std([0.95, 0.97, 0.93], ddof=1))
    assert (first.low, first.high, first.n) == (0.93, 0.97, 3)


def test_best_is_the_max_for_accuracy_and_the_min_for_a_loss() -> None:
    table = build_table(
        RUNS, spec(by=["lr"], metrics=["val/acc.last", "val/loss.last"])
    )

    markdown = render_markdown(table, "std")

    assert markdown.splitlines() == [
        "| lr | val/acc.last | val/loss.last | n |",
        "| --- | ---: | ---: | ---: |",
        "| 0.01 | **0.950** ± 0.0200 | **0.200** ± 0.0100 | 3 |",
        "| 0.1 | 0.910 ± 0.0141 | 0.290 ± 0.0141 | 2 |",
    ]


def test_minimize_and_maximize_override_the_default_sense_of_best() -> None:
    chosen = spec(
        by=["lr"],
        metrics=["val/acc.last", "val/loss.last"],
        minimize=["val/acc"],
        maximize=["val/loss.last"],
    )

    table = build_table(RUNS, chosen)

    assert table.best == (frozenset({1}), frozenset({1}))


def test_a_single_group_has_no_bold_and_a_single_run_no_std() -> None:
    table = build_table(RUNS[:1], spec(by=["lr"], metrics=["val/acc.max"]))

    rows = list(csv.reader(io.StringIO(render_csv(table, "std"))))

    assert table.best == (frozenset(),)
    assert rows == [["lr", "val/acc.max mean", "val/acc.max std", "n"],
                    ["0.1", "0.9", "", "1"]]  # fmt: skip
    assert render_markdown(table, "std").splitlines()[2] == "| 0.1 | 0.900 | 1 |"


def test_csv_keeps_full_precision_and_minmax_gives_two_columns() -> None:
    table = build_table(RUNS, spec(by=["lr"], metrics=["val/acc.max"]))

    rows = list(csv.reader(io.StringIO(render_csv(table, "minmax"))))

    assert rows[0] == [
        "lr",
        "val/acc.max mean",
        "val/acc.max min",
        "val/acc.max max",
        "n",
    ]
    assert rows[1] == [
        "0.01",
        repr(float(np.mean([0.95, 0.97, 0.93]))),
        "0.93",
        "0.97",
        "3",
    ]
    assert render_markdown(table, "minmax").splitlines()[2] == (
        "| 0.01 | **0.950** (0.930–0.970) | 3 |"
    )


def test_seed_grouping_shows_only_the_keys_that_vary() -> None:
    runs = [
        record("a", {"lr": 0.1, "model": {"hidden": [64]}, "seed": 0}, acc=0.5),
        record("b", {"lr": 0.1, "model": {"hidden": [64]}, "seed": 1}, acc=0.7),
        record("c", {"lr": 0.1, "model": {"hidden": [128, 64]}, "seed": 0}, acc=0.9),
    ]

    table = build_table(runs, spec(metrics=["acc.max"]))

    assert table.key_columns == ("model.hidden.0", "model.hidden.1")
    assert table.key_cells == (("64", "–"), ("128", "64"))
    assert [g.label for g in table.groups] == [
        "model.hidden.0=64",
        "model.hidden.0=128, model.hidden.1=64",
    ]
    assert [g.run_ids for g in table.groups] == [["a", "b"], ["c"]]


def test_a_list_valued_key_groups_by_the_whole_list() -> None:
    runs = [
        record("a", {"model": {"hidden": [64]}}, acc=0.5),
        record("b", {"model": {"hidden": [128, 64]}}, acc=0.9),
        record("c", {"model": {"hidden": [64]}}, acc=0.7),
    ]

    table = build_table(runs, spec(by=["model.hidden"], metrics=["acc.max"]))

    assert table.key_cells == (("[64]",), ("[128, 64]",))
    assert [g.run_ids for g in table.groups] == [["a", "c"], ["b"]]


def test_a_run_field_groups_like_a_config_key() -> None:
    runs = [dict(r, branch="main" if r["id"] != "r2" else "dev") for r in RUNS]

    table = build_table(runs, spec(by=["branch"], metrics=["val/acc.max"]))

    assert table.key_cells == (("dev",), ("main",))
    assert [g.run_ids for g in table.groups] == [["r2"], ["r1", "r3", "r4", "r5"]]


def test_a_group_that_mixes_configs_says_which_keys_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = [dict(r, branch="main" if r["id"] != "r2" else "dev") for r in RUNS]

    table = build_table(runs, spec(by=["branch"], metrics=["val/acc.max"]))

    assert [(g.label, g.mixed) for g in table.groups] == [
        ("branch=dev", ()),
        ("branch=main", ("lr",)),
    ]
    (warning,) = [r.getMessage() for r in caplog.records if "mixes" in r.message]
    assert warning.startswith(
        "Group branch=main mixes runs whose configs differ in lr;"
    )
    assert "--by ~seed" in warning


def test_seeds_the_grouped_list_and_seed_grouping_never_count_as_mixed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = [
        record("a", {"model": {"hidden": [64], "seed": 1}, "seed": 0}, acc=0.5),
        record("b", {"model": {"hidden": [128, 64], "seed": 2}, "seed": 1}, acc=0.9),
        record("c", {"model": {"hidden": [128, 64], "seed": 3}, "seed": 2}, acc=0.7),
    ]

    by_list = build_table(runs, spec(by=["model.hidden"], metrics=["acc.max"]))
    by_all = build_table(runs, spec(by=["~seed"], metrics=["acc.max"]))
    by_width = build_table(runs, spec(by=["model.hidden.1"], metrics=["acc.max"]))

    assert [g.mixed for g in by_list.groups] == [(), ()]
    assert [g.mixed for g in by_all.groups] == [(), ()]
    # `model.hidden.1` is missing (–) for a, so a and b/c split; nothing mixes.
    assert [g.run_ids for g in by_width.groups] == [["b", "c"], ["a"]]
    assert [g.mixed for g in by_width.groups] == [(), ()]
    assert "mixes" not in caplog.text


def test_a_key_one_run_lacks_counts_as_mixed() -> None:
    runs = [
        record("a", {"lr": 0.1, "dropout": 0.5}, acc=0.5),
        record("b", {"lr": 0.1}, acc=0.7),
    ]

    table = build_table(runs, spec(by=["lr"], metrics=["acc.max"]))

    assert [g.mixed for g in table.groups] == [("dropout",)]


def test_identical_configs_make_one_group_called_all() -> None:
    runs = [record("a", {"seed": 0}, acc=0.5), record("b", {"seed": 1}, acc=0.7)]

    table = build_table(runs, spec(metrics=["acc.max"]))

    assert (table.key_columns, table.key_cells) == (("group",), (("all",),))
    assert table.stats[0][0].mean == 0.6


def test_a_metric_no_run_has_is_an_error_listing_theirs() -> None:
    with pytest.raises(ReportError) as caught:
        build_table(RUNS, spec(metrics=["val/acc.max", "val/acc2.max"]))

    assert str(caught.value) == (
        "No selected run has metric 'val/acc2' with a max summary; "
        "their metrics are: val/acc, val/loss."
    )


def test_latex_is_booktabs_with_escaped_text_and_bold_best() -> None:
    runs = [
        record("a", {"opt_name": "50%_&_$x"}, train__loss=0.5),
        record("b", {"opt_name": "a{b}~^\\"}, train__loss=0.25),
    ]
    table = build_table(runs, spec(by=["opt_name"], metrics=["train/loss.min"]))

    latex = render_latex(table, "std", comment="made\nby runlab")

    assert latex.splitlines() == [
        "% made",
        "% by runlab",
        r"\begin{tabular}{lrr}",
        r"\toprule",
        r"opt\_name & train/loss.min & n \\",
        r"\midrule",
        r"50\%\_\&\_\$x & 0.500 & 1 \\",
        r"a\{b\}\textasciitilde{}\textasciicircum{}\textbackslash{} & "
        r"\textbf{0.250} & 1 \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]


def test_latex_escape_leaves_no_special_character_bare() -> None:
    assert latex_escape("a_b <c> | 1–2 ± 3") == (
        r"a\_b \textless{}c\textgreater{} \textbar{} 1--2 $\pm$ 3"
    )


def test_markdown_cells_cannot_break_the_table() -> None:
    runs = [record("a", {"label": "x|y*z\nw"}, acc=0.5)]

    table = build_table(runs, spec(by=["label"], metrics=["acc.max"]))

    assert render_markdown(table, "std", comment="a -- b").splitlines()[::3] == [
        "<!-- a - - b -->",
        r"| x\|y\*z w | 0.500 | 1 |",
    ]


def test_a_run_without_the_metric_is_left_out_of_its_group_mean(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = [*RUNS, record("r6", {"lr": 0.1, "seed": 2}, other=1.0)]

    table = build_table(runs, spec(by=["lr"], metrics=["val/acc.max"]))

    assert table.stats[1][0].n == 2
    assert table.stats[1][0].mean == pytest.approx(0.91)
    assert "Group lr=0.1: run(s) r6 have no val/acc.max" in caplog.text


def test_non_finite_summaries_give_a_non_finite_mean_never_best() -> None:
    runs = [
        record("a", {"lr": 1.0}, loss=math.nan),
        record("b", {"lr": 0.1}, loss=0.5),
        record("c", {"lr": 0.01}, loss=0.7),
    ]
    runs[0]["metrics"]["loss"]["min"] = "NaN"  # as the index stores it

    table = build_table(runs, spec(by=["lr"], metrics=["loss.min"]))

    assert math.isnan(table.stats[2][0].mean)  # type: ignore[arg-type]
    assert table.best == (frozenset({1}),)


def test_an_infinite_summary_gives_nan_spread_without_a_warning() -> None:
    runs = [
        record("a", {"lr": 1.0}, loss=math.inf),
        record("b", {"lr": 1.0}, loss=0.5),
    ]

    table = build_table(runs, spec(by=["lr"], metrics=["loss.min"]))

    stats = table.stats[0][0]
    assert stats.mean == math.inf
    assert math.isnan(stats.std)  # type: ignore[arg-type]
    assert render_markdown(table, "std").splitlines()[2] == "| 1.0 | inf ± nan | 2 |"


def test_spec_out_is_a_path(tmp_path: Path) -> None:
    assert make_spec({"out": str(tmp_path), "metrics": ["a.max"]}).out == tmp_path


def test_a_diverged_group_leaves_the_best_finite_group_bold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = [
        record("a", {"lr": 1.0}, loss=math.nan),
        record("b", {"lr": 0.1}, loss=0.5),
    ]

    table = build_table(runs, spec(by=["lr"], metrics=["loss.last"]))

    assert table.best == (frozenset({0}),)  # lr 0.1 sorts first
    assert render_markdown(table, "std").splitlines()[2:] == [
        "| 0.1 | **0.500** | 1 |",
        "| 1.0 | nan | 1 |",
    ]
    assert "Run a has loss.last = nan: group lr=1.0's mean" in caplog.text


@pytest.mark.parametrize(
    ("by", "message"),
    [
        (
            "lrr",
            "No selected run has a value for --by key 'lrr'; did you mean lr?",
        ),
        (
            "optim",
            "No selected run has a value for --by key 'optim'; it is a section; "
            "group by one of its keys: optim.lr, optim.name.",
        ),
    ],
)
def test_a_group_key_no_run_has_is_an_error(by: str, message: str) -> None:
    runs = [
        record("a", {"lr": 0.1, "optim": {"lr": 0.1, "name": "sgd"}}, acc=0.5),
        record("b", {"lr": 0.2, "optim": {"lr": 0.2, "name": "sgd"}}, acc=0.7),
    ]

    with pytest.raises(ReportError) as caught:
        build_table(runs, spec(by=[by], metrics=["acc.max"]))

    assert str(caught.value) == message


def test_latex_cells_opening_with_a_bracket_are_not_read_as_options(
    tmp_path: Path,
) -> None:
    runs = [
        record("a", {"model": {"hidden": [32]}}, acc=0.5),
        record("b", {"model": {"hidden": [64, 32]}}, acc=0.7),
    ]
    table = build_table(runs, spec(by=["model.hidden"], metrics=["acc.max"]))

    latex = render_latex(table, "std")

    rows = latex.splitlines()[4:6]
    assert rows == [r"{[}32{]} & 0.500 & 1 \\", r"{[}64, 32{]} & \textbf{0.700} & 1 \\"]
    if shutil.which("pdflatex"):
        compile_latex(latex, tmp_path)
    else:
        check_latex_by_parsing(latex, 2)


def test_counts_are_never_bold_and_rounding_noise_is_no_spread() -> None:
    runs = [
        record("a", {"lr": 0.1, "seed": s}, extra=0.19, val__acc=0.5 + s / 10)
        for s in range(3)
    ] + [record("b", {"lr": 0.2, "seed": 0}, extra=0.19, val__acc=0.9)]

    table = build_table(
        runs, spec(by=["lr"], metrics=["extra.last", "extra.count", "val/acc.max"])
    )

    assert table.stats[0][0].std == 0.0
    assert table.best[1] == frozenset()
    assert table.best[2] == frozenset({1})
    assert (
        render_markdown(table, "std")
        .splitlines()[2]
        .startswith("| 0.1 | **0.190** ± 0 | 1.00 ± 0 |")
    )
