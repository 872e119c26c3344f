"""Report specs: the YAML file, its checks, and the sense of "best"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runlab.report import MetricColumn, ReportError, load_spec_data, make_spec


def spec_file(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "paper"
    folder.mkdir(exist_ok=True)
    path = folder / "report.yaml"
    path.write_text(text)
    return path


def read(path: Path) -> object:
    data, lines = load_spec_data(path)
    return make_spec(data, str(path), lines)


def test_a_spec_file_sets_every_field_with_out_beside_it(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "title: Digits\nfilter: status = finished\nby: optim.lr\n"
        "metrics: [val/acc.max, val/loss.min]\naggregate: minmax\n"
        "figures: [val/acc]\nx: step\nminimize: [val/acc]\nout: figures/\n",
    )

    spec = read(path)

    assert spec == make_spec(
        {
            "title": "Digits",
            "filter": "status = finished",
            "by": ["optim.lr"],
            "metrics": ["val/acc.max", "val/loss.min"],
            "aggregate": "minmax",
            "figures": ["val/acc"],
            "minimize": ["val/acc"],
            "out": str(tmp_path / "paper" / "figures"),
        }
    )


def test_defaults_group_by_all_but_the_seed_and_draw_each_metric() -> None:
    spec = make_spec(
        {"metrics": ["val/acc.max", "val/acc.last", "loss.min"], "out": "r"}
    )

    assert spec.by == ("~seed",)
    assert spec.figures == ("val/acc", "loss")
    assert (spec.aggregate, spec.x, spec.title, spec.filter) == (
        "std", "step", "Report", "",
    )  # fmt: skip


def test_an_empty_figures_list_draws_none() -> None:
    spec = make_spec({"metrics": ["acc.max"], "figures": [], "out": "r"})

    assert spec.figures == ()


def test_unknown_key_names_the_file_line_and_the_likely_key(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "out: r\nby: lr\nmetric: [acc.max]\n")

    with pytest.raises(ReportError) as caught:
        read(path)

    assert str(caught.value) == (
        f"{path}:3: unknown key 'metric'; did you mean 'metrics'?"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"metrics": ["val/acc"]},
            "runlab report: Metric 'val/acc' needs a summary: write it as "
            "NAME.SUMMARY, e.g. 'val/acc.max' (summaries: count, last, "
            "last_step, max, min).",
        ),
        (
            {"metrics": []},
            "runlab report: no metrics to report; give --metric NAME.SUMMARY "
            "(or metrics: [val/acc.max]) once or more.",
        ),
        (
            {"metrics": ["a.max"], "aggregate": "sd"},
            "runlab report: aggregate 'sd' is not allowed; use std or minmax.",
        ),
        (
            {"metrics": ["a.max"], "x": "time"},
            "runlab report: x 'time' is not allowed; use step.",
        ),
        (
            {"metrics": ["a.max"], "by": [3]},
            "runlab report: by must be non-empty names (--by optim.lr, or by: "
            "[optim.lr] in a spec file).",
        ),
    ],
)
def test_bad_fields_are_errors_that_say_what_to_write(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ReportError) as caught:
        make_spec({"out": "r", **fields})

    assert str(caught.value) == message


def test_a_missing_out_is_an_error() -> None:
    with pytest.raises(ReportError) as caught:
        make_spec({"metrics": ["a.max"]})

    assert str(caught.value) == (
        "runlab report: no folder to write to; give --out DIR (or out: DIR)."
    )


def test_a_missing_spec_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError) as caught:
        load_spec_data(tmp_path / "nope.yaml")

    assert (
        str(caught.value) == f"Report spec '{tmp_path / 'nope.yaml'}' does not exist."
    )


def test_a_metric_name_may_hold_dots() -> None:
    spec = make_spec({"metrics": ["lr.0.5/acc.last"], "out": "r"})

    assert spec.metrics == (MetricColumn("lr.0.5/acc", "last"),)
    assert spec.metrics[0].label == "lr.0.5/acc.last"


@pytest.mark.parametrize(
    ("label", "minimize", "maximize", "expected"),
    [
        ("val/acc.max", (), (), False),
        ("val/acc.min", (), (), True),
        ("train/Loss.last", (), (), True),
        ("val/acc.max", ("val/acc",), (), True),
        ("val/loss.last", (), ("val/loss.last",), False),
        ("val/err.last", ("val/err.last",), (), True),
    ],
)
def test_lower_is_better_for_losses_min_summaries_and_listed_metrics(
    label: str, minimize: tuple[str, ...], maximize: tuple[str, ...], expected: bool
) -> None:
    spec = make_spec(
        {"metrics": [label], "out": "r", "minimize": minimize, "maximize": maximize}
    )

    assert spec.is_minimized(spec.metrics[0]) is expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"metrics": ["val/acc.mean"]},
            "runlab report: Metric 'val/acc.mean': 'mean' is not a summary; the "
            "summaries are count, last, last_step, max, min (the mean and std over "
            "runs come by themselves).",
        ),
        (
            {"metrics": ["loss.min"], "minimize": ["loss"], "maximize": ["loss"]},
            "runlab report: loss cannot be both minimized and maximized.",
        ),
    ],
)
def test_more_mistakes_say_what_is_meant(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ReportError) as caught:
        make_spec({"out": "r", **fields})

    assert str(caught.value) == message
