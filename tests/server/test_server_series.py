"""Chart series: thinning keeps spikes and marks, payloads are plain JSON,
groups have exact means and bands, group keys and labels, live-update cursors.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlab
from runlab.server.series import (
    group_curves,
    group_key,
    group_label,
    group_labels,
    parse_after,
    series_payload,
    thin_indices,
)
from runlab.store.series import Series

T0 = 1_700_000_000.0


def make_series(values: list[float] | np.ndarray, steps: Any = None) -> Series:
    values = np.asarray(values, dtype=np.float64)
    steps = np.arange(len(values)) if steps is None else steps
    steps = np.asarray(steps, dtype=np.int64)
    times = T0 + np.arange(len(values), dtype=np.float64) * 0.5
    return Series("train/loss", steps, times, values)


def payload(series: Series, **options: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "x_kind": "step",
        "width": 1000,
        "after_step": None,
        "origin": None,
    }
    settings.update(options)
    return series_payload(series, **settings)


def reference_thin(x: np.ndarray, y: np.ndarray, width: int) -> list[int]:
    """The thinning rule written as a plain loop, to check the NumPy one against."""
    if len(x) <= 2 * width:
        return list(range(len(x)))
    low, high = float(x[0]), float(x[-1])
    edges = [low + (high - low) * (k / width) for k in range(width)]
    buckets: dict[int, list[int]] = {}
    for i, position in enumerate(x.tolist()):
        bucket = bisect.bisect_right(edges, position) - 1
        buckets.setdefault(bucket, []).append(i)
    keep: set[int] = set()
    for members in buckets.values():
        keep.update((members[0], members[-1]))
        finite = [i for i in members if math.isfinite(y[i])]
        if finite:
            keep.add(min(finite, key=lambda i: (y[i], i)))
            keep.add(min(finite, key=lambda i: (-y[i], i)))
        odd = [i for i in members if not math.isfinite(y[i])]
        keep.update(odd[:1])
    return sorted(keep)


# -- thin_indices --------------------------------------------------------------


def test_thin_keeps_every_point_up_to_twice_the_width() -> None:
    x = np.arange(200)
    kept = thin_indices(x, np.sin(x), 100)

    assert kept.dtype == np.int64
    assert kept.tolist() == list(range(200))


def test_thin_keeps_a_single_spike_among_100k_points() -> None:
    values = np.linspace(1.0, 0.1, 100_000)
    values[54_321] = 1e6
    values[77_777] = -1e6

    kept = thin_indices(np.arange(100_000), values, 1000)

    assert 54_321 in kept
    assert 77_777 in kept


def test_thin_keeps_first_and_last_points_and_at_most_four_per_bucket() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=100_000)

    kept = thin_indices(np.arange(100_000), values, 500)

    assert kept[0] == 0
    assert kept[-1] == 99_999
    assert len(kept) <= 4 * 500
    assert np.all(np.diff(kept) > 0)


def test_thin_keeps_first_non_finite_point_of_a_bucket_not_as_its_maximum() -> None:
    values = np.zeros(100)
    values[[10, 12]] = [np.inf, np.nan]
    values[11] = 5.0

    kept = thin_indices(np.arange(100), values, 10).tolist()

    # Bucket 1 holds indices 10-19: first 10 (also its first non-finite),
    # maximum 11 (inf is not a maximum), minimum 13 (first zero), last 19.
    assert [i for i in kept if 10 <= i < 20] == [10, 11, 13, 19]


def test_thin_picks_the_first_of_tied_extremes() -> None:
    values = np.array([1.0, 3.0, 0.0, 3.0, 0.0, 2.0] * 10)

    kept = thin_indices(np.arange(60), values, 1).tolist()

    assert kept == [0, 1, 2, 59]


def test_thin_follows_buckets_of_x_not_of_point_count() -> None:
    # Dense points at the start, sparse ones later: buckets cut the x range.
    # Buckets are 1000 wide: steps 0-999 share one, each later point has its own.
    x = np.concatenate([np.arange(1000), np.arange(1000, 100_001, 1000)])
    values = np.zeros(len(x))

    kept = thin_indices(x, values, 100).tolist()

    assert kept == [0, 999, *range(1000, 1100)]


def test_thin_of_equal_x_values_keeps_one_bucket() -> None:
    values = np.arange(50.0)

    kept = thin_indices(np.full(50, 3), values, 5).tolist()

    assert kept == [0, 49]


def test_thin_refuses_a_width_under_one() -> None:
    with pytest.raises(ValueError) as raised:
        thin_indices(np.arange(3), np.zeros(3), 0)

    assert str(raised.value) == "Chart width 0 is too small; give 1 or more."


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 1.0, -1.0, 2.5, math.nan, math.inf, -math.inf]),
        min_size=0,
        max_size=120,
    ),
    gaps=st.lists(st.integers(0, 5), min_size=120, max_size=120),
    width=st.integers(1, 12),
)
def test_thin_matches_the_rule_written_as_a_loop(
    values: list[float], gaps: list[int], width: int
) -> None:
    x = np.cumsum(gaps[: len(values)]).astype(np.int64)
    y = np.array(values, dtype=np.float64)

    assert thin_indices(x, y, width).tolist() == reference_thin(x, y, width)


# -- series_payload ------------------------------------------------------------


def test_payload_of_a_short_series_is_plain_json_with_int_steps() -> None:
    answer = payload(make_series([2.5, 2.0, 1.5]))

    assert answer == {
        "metric": "train/loss",
        "x": [0, 1, 2],
        "y": [2.5, 2.0, 1.5],
        "total": 3,
        "shown": 3,
        "last_step": 2,
        "marks": [],
    }
    assert all(type(v) is int for v in answer["x"])
    assert all(type(v) is float for v in answer["y"])
    assert type(answer["last_step"]) is int


def test_payload_shows_non_finite_values_as_null_with_marks() -> None:
    answer = payload(make_series([1.0, math.nan, math.inf, -math.inf, 0.5]))

    assert answer["y"] == [1.0, None, None, None, 0.5]
    assert answer["marks"] == [
        {"x": 1, "value": "NaN"},
        {"x": 2, "value": "Infinity"},
        {"x": 3, "value": "-Infinity"},
    ]
    assert orjson.loads(orjson.dumps(answer)) == answer


def test_payload_of_a_long_series_is_thinned_and_counts_both() -> None:
    values = np.ones(100_000)
    values[500] = math.nan
    values[60_000] = 1e6

    answer = payload(make_series(values), width=100)

    assert answer["total"] == 100_000
    assert answer["shown"] == len(answer["x"]) == len(answer["y"])
    assert answer["shown"] <= 5 * 100
    assert answer["marks"] == [{"x": 500, "value": "NaN"}]
    assert answer["y"][answer["x"].index(60_000)] == 1e6
    assert answer["x"][0] == 0
    assert answer["x"][-1] == 99_999


def test_payload_hides_the_superseded_tail_of_a_resumed_run() -> None:
    # Steps 0..5, then a resume from step 3: the old 3..5 tail is hidden.
    series = make_series(
        [1.0, 2.0, 3.0, 99.0, 99.0, 99.0, 4.0, 5.0], steps=[0, 1, 2, 3, 4, 5, 3, 4]
    )

    answer = payload(series)

    assert answer["x"] == [0, 1, 2, 3, 4]
    assert answer["y"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert answer["total"] == 5
    assert answer["last_step"] == 4


def test_payload_after_step_returns_only_later_points_and_the_last_step() -> None:
    series = make_series([0.0, 1.0, 2.0, 3.0, 4.0], steps=[0, 10, 20, 30, 40])

    later = payload(series, after_step=20)
    none_left = payload(series, after_step=40)

    assert later["x"] == [30, 40]
    assert later["y"] == [3.0, 4.0]
    assert (later["total"], later["shown"], later["last_step"]) == (5, 2, 40)
    assert (none_left["x"], none_left["shown"], none_left["last_step"]) == ([], 0, 40)


def test_payload_after_step_thins_a_long_remainder() -> None:
    answer = payload(make_series(np.zeros(10_000)), after_step=999, width=10)

    assert answer["x"][0] == 1000
    assert answer["x"][-1] == 9999
    assert answer["shown"] <= 4 * 10


def test_payload_relative_x_counts_seconds_from_the_given_origin() -> None:
    series = make_series([1.0, 2.0, 3.0])

    own = payload(series, x_kind="relative")
    run_wide = payload(series, x_kind="relative", origin=T0 - 10.0)
    epoch = payload(series, x_kind="time")

    assert own["x"] == [0.0, 0.5, 1.0]
    assert run_wide["x"] == [10.0, 10.5, 11.0]
    assert epoch["x"] == [T0, T0 + 0.5, T0 + 1.0]
    assert all(type(v) is float for v in own["x"] + epoch["x"])


def test_payload_of_an_empty_series_has_no_last_step() -> None:
    answer = payload(make_series([]), x_kind="relative")

    assert answer["x"] == answer["y"] == answer["marks"] == []
    assert (answer["total"], answer["shown"], answer["last_step"]) == (0, 0, None)


def test_payload_refuses_an_unknown_x() -> None:
    with pytest.raises(ValueError) as raised:
        payload(make_series([1.0]), x_kind="epoch")

    assert str(raised.value) == (
        "Unknown x 'epoch' for series 'train/loss'; use step, time or relative."
    )


@pytest.mark.usefixtures("runlab_env")
def test_payload_of_a_logged_run_read_back_from_the_store(store: Path) -> None:
    with runlab.start(config={"optim": {"lr": 0.01}}) as run:
        for step in range(3000):
            loss = 1e6 if step == 1234 else (math.nan if step == 2000 else 1.0)
            run.log({"train/loss": loss}, step=step)
    series = runlab.open_store(store).load_run(run.id).metric("train/loss")

    answer = payload(series, width=100, x_kind="relative", origin=None)

    assert answer["total"] == 3000
    assert answer["shown"] <= 5 * 100
    assert answer["x"][0] == 0.0
    assert 1e6 in answer["y"]
    assert [mark["value"] for mark in answer["marks"]] == ["NaN"]
    assert answer["last_step"] == 2999
    assert orjson.loads(orjson.dumps(answer)) == answer


# -- parse_after ---------------------------------------------------------------


def test_parse_after_reads_run_steps_and_skips_blank_items() -> None:
    assert parse_after("") == {}
    assert parse_after("261203-151207-a3f9:120, abc:-1,") == {
        "261203-151207-a3f9": 120,
        "abc": -1,
    }


@pytest.mark.parametrize("text", ["abc", "abc:", ":5", "abc:1.5", "abc:x", "a:١"])
def test_parse_after_refuses_an_item_that_is_not_run_colon_step(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_after(text)

    assert str(raised.value) == (
        f"Bad 'after' item {text!r}: expected RUN_ID:STEP with a whole number "
        "step, for example after=261203-151207-a3f9:120."
    )


def test_parse_after_refuses_a_run_named_twice() -> None:
    with pytest.raises(ValueError) as raised:
        parse_after("abc:1,abc:2")

    assert str(raised.value) == (
        "The 'after' query names run 'abc' twice; give one step per run."
    )


# -- group_curves --------------------------------------------------------------


def line(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def test_group_mean_and_minmax_band_on_a_common_grid() -> None:
    curves = [line([0, 10], [0, 10]), line([0, 10], [2, 2])]

    answer = group_curves(curves, width=3, band="minmax")

    assert answer == {
        "x": [0.0, 5.0, 10.0],
        "mean": [1.0, 3.5, 6.0],
        "lo": [0.0, 2.0, 2.0],
        "hi": [2.0, 5.0, 10.0],
        "marks": [],
    }


def test_group_std_band_is_mean_plus_minus_population_std() -> None:
    curves = [line([0, 10], [0, 10]), line([0, 10], [2, 2]), line([0, 10], [4, 4])]

    answer = group_curves(curves, width=2, band="std")

    # Column 0 holds 0, 2, 4; column 1 holds 10, 2, 4.
    std0, std1 = math.sqrt(8 / 3), math.sqrt(120 / 3 - (16 / 3) ** 2)
    assert answer["mean"] == pytest.approx([2.0, 16 / 3])
    assert answer["lo"] == pytest.approx([2.0 - std0, 16 / 3 - std1])
    assert answer["hi"] == pytest.approx([2.0 + std0, 16 / 3 + std1])


def test_group_grid_spans_only_the_overlap_of_the_runs() -> None:
    curves = [line([0, 10], [0, 10]), line([5, 20], [5, 20])]

    answer = group_curves(curves, width=6, band="minmax")

    assert answer["x"] == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert answer["mean"] == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]


def test_group_without_overlap_spans_the_union_each_run_in_its_range() -> None:
    curves = [line([0, 1], [1, 1]), line([3, 4], [3, 3])]

    answer = group_curves(curves, width=5, band="std")

    assert answer["x"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert answer["mean"] == [1.0, 1.0, None, 3.0, 3.0]
    assert answer["lo"] == answer["hi"] == answer["mean"]


def test_group_of_one_curve_has_a_band_of_zero_width() -> None:
    for band in ("minmax", "std"):
        answer = group_curves([line([0, 2], [1, 3])], width=3, band=band)

        assert answer["mean"] == answer["lo"] == answer["hi"] == [1.0, 2.0, 3.0]


def test_group_breaks_where_a_member_is_not_finite_and_marks_it() -> None:
    broken = line([0, 1, 2, 3], [0.0, math.nan, math.inf, 3.0])
    healthy = line([0, 3], [3.0, 3.0])

    answer = group_curves([broken, healthy], width=7, band="minmax")

    # Grid 0, 0.5, ..., 3: every point next to step 1 or 2 is a gap.
    assert answer["mean"] == [1.5, None, None, None, None, None, 3.0]
    assert answer["marks"] == [
        {"x": 1.0, "value": "NaN"},
        {"x": 2.0, "value": "Infinity"},
    ]


def test_group_of_no_curves_or_no_finite_points_is_empty_but_marked() -> None:
    empty: dict[str, list[Any]] = {"x": [], "mean": [], "lo": [], "hi": [], "marks": []}
    all_nan = group_curves([line([0, 1], [math.nan] * 2)], width=10, band="std")

    assert group_curves([], width=10, band="minmax") == empty
    assert all_nan == {
        **empty,
        "marks": [{"x": 0.0, "value": "NaN"}, {"x": 1.0, "value": "NaN"}],
    }


def test_group_refuses_an_unknown_band() -> None:
    with pytest.raises(ValueError) as raised:
        group_curves([], width=10, band="range")

    assert str(raised.value) == "Unknown band 'range'; use minmax or std."


# -- group keys and labels -----------------------------------------------------

CONFIG = {
    "optim.lr": 0.01,
    "seed": 1,
    "data.seed": 7,
    "model.hidden.0": 64,
    "model.hidden.1": 32,
    "model.act": "relu",
    "tags": [],
}


def test_group_key_by_a_config_key_holds_its_value() -> None:
    assert group_key(CONFIG, "optim.lr") == (("optim.lr", 0.01),)
    assert group_label(group_key(CONFIG, "optim.lr")) == "optim.lr=0.01"


def test_group_key_of_a_list_key_is_the_whole_list_and_hashable() -> None:
    key = group_key(CONFIG, "model.hidden")
    groups: dict[tuple[Any, ...], str] = {key: "found"}

    assert key == (("model.hidden", (64, 32)),)
    assert groups[group_key(dict(CONFIG), "model.hidden")] == "found"
    assert group_label(key) == "model.hidden=[64, 32]"
    assert group_key({"layers": [[1, 2], 3]}, "layers") == (("layers", ((1, 2), 3)),)


def test_group_key_of_a_missing_key_is_none() -> None:
    key = group_key(CONFIG, "optim.momentum")

    assert key == (("optim.momentum", None),)
    assert group_label(key) == "optim.momentum=null"


def test_group_key_by_not_seed_drops_every_seed_key_and_sorts() -> None:
    key = group_key(CONFIG, "~seed")

    assert key == (
        ("model.act", "relu"),
        ("model.hidden.0", 64),
        ("model.hidden.1", 32),
        ("optim.lr", 0.01),
        ("tags", ()),
    )
    assert group_label(key) == (
        "model.act=relu, model.hidden.0=64, model.hidden.1=32, optim.lr=0.01, tags=[]"
    )


def test_group_key_turns_non_finite_floats_into_their_names() -> None:
    assert group_key({"clip": math.inf}, "clip") == (("clip", "Infinity"),)


def test_group_labels_name_only_what_varies_among_not_seed_groups() -> None:
    configs = [
        {"optim.lr": 0.1, "model.act": "relu", "seed": 1},
        {"optim.lr": 0.01, "model.act": "relu", "seed": 2},
        {"optim.lr": 0.01, "model.act": "gelu", "seed": 3},
    ]
    keys = [group_key(config, "~seed") for config in configs]

    assert group_labels(keys) == [
        "model.act=relu, optim.lr=0.1",
        "model.act=relu, optim.lr=0.01",
        "model.act=gelu, optim.lr=0.01",
    ]


def test_group_labels_leave_out_items_shared_by_every_group() -> None:
    configs = [
        {"optim.lr": 0.1, "epochs": 3, "model.layers": [1, 2], "seed": 1},
        {"optim.lr": 0.01, "epochs": 3, "model.layers": [1, 2], "seed": 2},
    ]
    keys = [group_key(config, "~seed") for config in configs]

    assert group_labels(keys) == ["optim.lr=0.1", "optim.lr=0.01"]


def test_group_labels_say_all_when_nothing_varies() -> None:
    key = group_key({"optim.lr": 0.1, "seed": 1, "epochs": 3}, "~seed")

    assert group_labels([key]) == ["all"]
    assert group_labels([]) == []
    assert group_label(()) == "all"


def test_group_labels_by_one_key_keep_it_even_for_a_single_group() -> None:
    assert group_labels([group_key(CONFIG, "optim.lr")]) == ["optim.lr=0.01"]
