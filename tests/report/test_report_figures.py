"""Figures: each group's mean and band per step, drawn as PNG and PDF for a paper."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runlab.report.figures import draw_metric, figure_stem, group_band
from runlab.report.groups import RunGroup
from runlab.store.series import Series


def series(steps: list[int], values: list[float]) -> Series:
    return Series(
        "val/acc",
        np.asarray(steps, dtype=np.int64),
        np.arange(len(steps), dtype=np.float64),
        np.asarray(values, dtype=np.float64),
    )


def test_band_is_the_mean_and_sample_std_over_the_runs_at_each_step() -> None:
    runs = [series([0, 1, 2], [0.1, 0.5, 0.9]), series([0, 1, 2], [0.3, 0.6, 0.8])]

    band = group_band(runs, "std")

    table = np.array([[0.1, 0.5, 0.9], [0.3, 0.6, 0.8]])
    std = np.std(table, axis=0, ddof=1)
    assert band.steps.tolist() == [0, 1, 2]
    np.testing.assert_allclose(band.mean, table.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(band.low, table.mean(axis=0) - std, rtol=1e-12)
    np.testing.assert_allclose(band.high, table.mean(axis=0) + std, rtol=1e-12)


def test_a_step_only_one_run_logged_has_its_value_and_no_band() -> None:
    runs = [series([0, 1], [1.0, 2.0]), series([0, 1, 2], [3.0, 4.0, 5.0])]

    band = group_band(runs, "std")

    assert band.mean.tolist() == [2.0, 3.0, 5.0]
    assert math.isnan(band.low[2]) and math.isnan(band.high[2])


def test_minmax_band_spans_the_runs() -> None:
    runs = [series([0, 1], [1.0, 2.0]), series([0, 1], [3.0, 0.0])]

    band = group_band(runs, "minmax")

    assert (band.low.tolist(), band.high.tolist()) == ([1.0, 0.0], [3.0, 2.0])


def test_a_nan_in_one_run_is_left_out_of_the_mean_and_the_run_is_named() -> None:
    runs = [
        series([0, 1, 2], [1.0, 2.0, 3.0]),
        series([0, 1, 2], [3.0, math.nan, 5.0]),
        series([0, 1, 2], [2.0, 4.0, math.inf]),
    ]

    band = group_band(runs, "std")

    assert band.mean.tolist() == [2.0, 3.0, 4.0]
    assert band.low[1] == pytest.approx(3.0 - math.sqrt(2.0))
    assert band.diverged == (1, 2)


def test_the_line_breaks_where_every_run_is_non_finite() -> None:
    runs = [series([0, 1, 2], [1.0, math.nan, 3.0]), series([0, 1], [1.0, math.inf])]

    band = group_band(runs, "minmax")

    assert band.mean[0] == 1.0 and band.mean[2] == 3.0
    assert math.isnan(band.mean[1]) and math.isnan(band.low[1])


def test_a_resumed_run_is_read_from_its_latest_attempt() -> None:
    resumed = series([0, 1, 2, 1, 2], [9.0, 9.0, 9.0, 1.0, 2.0])

    band = group_band([resumed], "std")

    assert (band.steps.tolist(), band.mean.tolist()) == ([0, 1, 2], [9.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("metric", "stem"),
    [
        ("val/acc", "val_acc"),
        ("a\\b", "a_b"),
        (".hidden", "_hidden"),
        ("x y", "x_y"),
        ("train_loss%", "train_loss_"),
        ("acc|x", "acc_x"),
        ("précision@1", "précision_1"),
    ],
)
def test_figure_file_names_stay_inside_the_folder_and_latex(
    metric: str, stem: str
) -> None:
    assert figure_stem(metric) == stem


def test_figures_are_a_column_wide_png_and_a_one_page_pdf(tmp_path: Path) -> None:
    groups = [
        RunGroup((("lr", 0.1),), "lr=0.1", ()),
        RunGroup((("lr", 0.01),), "lr=0.01", ()),
    ]
    curves = [
        [series([0, 1, 2], [0.1, 0.5, 0.9]), series([0, 1, 2], [0.2, 0.4, 0.8])],
        [series([0, 1, 2], [0.3, 0.6, 0.7])],
    ]

    paths = draw_metric("val/acc", groups, curves, "std", tmp_path)

    assert paths == [tmp_path / "val_acc.png", tmp_path / "val_acc.pdf"]
    with Image.open(paths[0]) as image:
        assert image.format == "PNG"
        assert image.size[0] == 990  # 3.3 in at 300 dpi
    pdf = paths[1].read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    assert re.search(rb"/MediaBox\s*\[\s*0 0 237\.6 ", pdf)  # 3.3 in in points
    # TrueType (Type 42) fonts, not the Type 3 fonts journals refuse.
    assert b"/Subtype /Type3" not in pdf


def test_drawing_leaves_the_callers_matplotlib_settings_alone(tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.rcParams["font.size"], matplotlib.get_backend()
    groups = [RunGroup((), "all", ())]

    draw_metric("loss", groups, [[series([0, 1], [1.0, 0.5])]], "std", tmp_path)

    assert (matplotlib.rcParams["font.size"], matplotlib.get_backend()) == before
