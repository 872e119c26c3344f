"""Metric series files: exact round-trips, odd names, torn writes, summaries."""

from __future__ import annotations

import json
import logging
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlab.store.series import (
    RECORD_SIZE,
    Series,
    SeriesWriter,
    read_manifest,
    read_series,
    read_summary,
)

STEPS = [2**31 - 1, 2**31, 3_000_000_000, 2**53, 2**53 + 1, -5, 2**63 - 1]
VALUES = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 2.2250738585072e-308, 0.5]


def _write(metrics: Path, points: dict[str, list[tuple[int, float]]]) -> None:
    writer = SeriesWriter(metrics)
    for name, pairs in points.items():
        steps = [s for s, _v in pairs]
        writer.append(
            name, steps, [1_700_000_000.0] * len(pairs), [v for _s, v in pairs]
        )
    writer.close()


def _bits(values: np.ndarray) -> list[bytes]:
    return [struct.pack("<d", float(v)) for v in values]


def test_values_and_steps_round_trip_bit_exactly(tmp_path: Path) -> None:
    _write(tmp_path, {"x": list(zip(STEPS, VALUES, strict=True))})

    series = read_series(tmp_path, "x")

    assert series.steps.dtype == np.int64
    assert series.steps.tolist() == STEPS
    assert _bits(series.values) == [struct.pack("<d", v) for v in VALUES]
    assert series.times.tolist() == [1_700_000_000.0] * len(STEPS)


def test_steps_two_to_53_and_its_successor_stay_distinct(tmp_path: Path) -> None:
    _write(tmp_path, {"reward": [(2**53, 1.0), (2**53 + 1, 1.0)]})

    steps = read_series(tmp_path, "reward").steps

    assert isinstance(steps[1], np.int64)
    assert int(steps[1]) - int(steps[0]) == 1


NAMES = ["timing/gen/total", "timing", "val/acc@5", "loss (train)", "损失", "x" * 300]


def test_six_odd_names_are_six_independent_series(tmp_path: Path) -> None:
    _write(tmp_path, {name: [(1, float(i))] for i, name in enumerate(NAMES)})

    manifest = read_manifest(tmp_path)

    assert list(manifest) == NAMES
    assert len(set(manifest.values())) == 6
    for i, name in enumerate(NAMES):
        series = read_series(tmp_path, name)
        assert (series.name, series.values.tolist()) == (name, [float(i)])


def test_timing_logged_after_timing_slash_gen_does_not_interfere(
    tmp_path: Path,
) -> None:
    _write(tmp_path, {"timing/gen/total": [(1, 1.0)]})
    _write(tmp_path, {"timing": [(1, 2.0)]})

    assert read_series(tmp_path, "timing/gen/total").values.tolist() == [1.0]
    assert read_series(tmp_path, "timing").values.tolist() == [2.0]


def test_names_differing_only_in_case_or_slash_get_distinct_files(
    tmp_path: Path,
) -> None:
    _write(tmp_path, {"a/b": [(1, 1.0)], "a_b": [(1, 2.0)], "A_b": [(1, 3.0)]})

    assert len(set(read_manifest(tmp_path).values())) == 3
    assert read_series(tmp_path, "A_b").values.tolist() == [3.0]


def test_unknown_metric_raises_key_error(tmp_path: Path) -> None:
    _write(tmp_path, {"loss": [(1, 1.0)]})

    with pytest.raises(KeyError, match="'acc'"):
        read_series(tmp_path, "acc")


def test_torn_record_is_ignored_with_a_warning_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, {"loss": [(0, 1.0), (1, 2.0)]})
    path = tmp_path / read_manifest(tmp_path)["loss"]
    with open(path, "ab") as handle:
        handle.write(b"\x01" * 10)

    with caplog.at_level(logging.WARNING, logger="runlab.store.series"):
        series = read_series(tmp_path, "loss")

    assert series.steps.tolist() == [0, 1]
    assert caplog.messages == [
        f"Ignoring a torn record (10 bytes) at the end of {path}."
    ]


def test_next_writer_cuts_a_torn_record_and_appends_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, {"loss": [(0, 1.0), (1, 2.0)]})
    path = tmp_path / read_manifest(tmp_path)["loss"]
    with open(path, "ab") as handle:
        handle.write(b"\x01" * 10)

    with caplog.at_level(logging.WARNING, logger="runlab.store.series"):
        _write(tmp_path, {"loss": [(2, 3.0)]})

    assert path.stat().st_size == 3 * RECORD_SIZE
    assert read_series(tmp_path, "loss").values.tolist() == [1.0, 2.0, 3.0]
    assert caplog.messages == [f"Cutting a torn record (10 bytes) off {path}."]


def test_torn_manifest_line_is_skipped_and_later_registration_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, {"loss": [(0, 1.0)]})
    with open(tmp_path / "names.jsonl", "ab") as handle:
        handle.write('{"name": "损'.encode()[:-1])  # cut inside a character

    with caplog.at_level(logging.WARNING, logger="runlab.store.series"):
        assert read_manifest(tmp_path) == {"loss": "loss.bin"}
        _write(tmp_path, {"acc": [(0, 0.5)]})

    assert read_manifest(tmp_path) == {"loss": "loss.bin", "acc": "acc.bin"}
    assert read_series(tmp_path, "acc").values.tolist() == [0.5]
    assert f"Skipping a torn line in {tmp_path / 'names.jsonl'}." in caplog.messages


def test_sys_owner_keeps_its_own_files_and_readers_merge_both(tmp_path: Path) -> None:
    _write(tmp_path, {"loss": [(0, 1.0)]})
    sys_writer = SeriesWriter(tmp_path, owner="sys")
    sys_writer.append("sys/cpu", [0], [1.0], [42.0])
    sys_writer.close()

    assert sorted(p.name for p in tmp_path.glob("*.json*")) == [
        "names.jsonl",
        "names.sys.jsonl",
        "summary.json",
        "summary.sys.json",
    ]
    assert read_manifest(tmp_path, "sys") == {
        "sys/cpu": read_manifest(tmp_path)["sys/cpu"]
    }
    assert list(read_manifest(tmp_path)) == ["loss", "sys/cpu"]
    assert set(read_summary(tmp_path)) == {"loss", "sys/cpu"}
    assert read_series(tmp_path, "sys/cpu").values.tolist() == [42.0]


def test_two_owners_logging_one_name_never_share_a_file(tmp_path: Path) -> None:
    main = SeriesWriter(tmp_path)
    sampler = SeriesWriter(tmp_path, owner="sys")
    main.append("sys/cpu", [0], [1.0], [1.0])
    sampler.append("sys/cpu", [0], [1.0], [2.0])
    main.close()
    sampler.close()

    main_file = read_manifest(tmp_path, "main")["sys/cpu"]
    sys_file = read_manifest(tmp_path, "sys")["sys/cpu"]
    assert main_file != sys_file
    assert sys_file.startswith("sys~")
    assert (tmp_path / main_file).stat().st_size == RECORD_SIZE
    assert (tmp_path / sys_file).stat().st_size == RECORD_SIZE


def test_summary_ignores_nan_and_keeps_the_last_written(tmp_path: Path) -> None:
    writer = SeriesWriter(tmp_path)
    writer.append("loss", [0, 1], [0.0, 0.0], [3.0, math.nan])
    writer.append("loss", [2, 3], [0.0, 0.0], [-1.0, math.nan])
    writer.close()

    summary = read_summary(tmp_path)["loss"]
    raw = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))

    assert math.isnan(summary.pop("last"))
    assert summary == {"min": -1.0, "max": 3.0, "count": 4, "last_step": 3}
    assert raw["loss"]["last"] == "NaN"


def test_summary_of_infinities_reads_back_as_floats(tmp_path: Path) -> None:
    _write(tmp_path, {"x": [(0, math.inf), (1, -math.inf)]})

    assert read_summary(tmp_path)["x"] == {
        "last": -math.inf,
        "min": -math.inf,
        "max": math.inf,
        "count": 2,
        "last_step": 1,
    }


def test_reopened_writer_continues_the_summary(tmp_path: Path) -> None:
    _write(tmp_path, {"loss": [(0, 5.0), (1, 4.0)]})
    _write(tmp_path, {"loss": [(2, 6.0)]})

    assert read_summary(tmp_path)["loss"] == {
        "last": 6.0,
        "min": 4.0,
        "max": 6.0,
        "count": 3,
        "last_step": 2,
    }


def test_superseded_keeps_the_resumed_attempt_over_the_old_tail(
    tmp_path: Path,
) -> None:
    first = [(s, 1.0) for s in range(0, 151, 10)]
    second = [(s, 2.0) for s in range(100, 201, 10)]
    _write(tmp_path, {"loss": first + second})

    raw = read_series(tmp_path, "loss")
    view = raw.superseded()

    assert len(raw) == 27
    assert view.steps.tolist() == list(range(0, 201, 10))
    assert view.values.tolist() == [1.0] * 10 + [2.0] * 11


def test_superseded_of_an_increasing_series_is_the_series() -> None:
    steps = np.array([1, 2, 3], dtype=np.int64)
    series = Series("x", steps, np.zeros(3), np.ones(3))

    view = series.superseded()

    assert view.steps.tolist() == [1, 2, 3]
    assert view is series  # nothing hidden, so nothing copied


def test_superseded_keeps_the_later_of_two_points_at_one_step() -> None:
    steps = np.array([1, 2, 2, 3], dtype=np.int64)
    series = Series("x", steps, np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]))

    view = series.superseded()

    assert view.steps.tolist() == [1, 2, 3]
    assert view.values.tolist() == [1.0, 3.0, 4.0]


def test_a_million_points_read_back_at_24_bytes_each(tmp_path: Path) -> None:
    n = 1_000_000
    steps = np.arange(n, dtype=np.int64)
    writer = SeriesWriter(tmp_path)
    writer.append("big", steps, np.zeros(n), steps.astype(np.float64))
    writer.close()

    series = read_series(tmp_path, "big")

    assert (tmp_path / "big.bin").stat().st_size == 24 * n
    assert len(series) == n
    assert int(series.steps[-1]) == n - 1
    assert float(series.values[-1]) == n - 1


def test_many_metrics_beyond_the_open_file_limit_all_arrive(tmp_path: Path) -> None:
    writer = SeriesWriter(tmp_path)
    for round_ in range(2):
        for i in range(300):
            writer.append(f"m{i}", [round_], [0.0], [float(i)])
    writer.close()

    assert read_series(tmp_path, "m299").steps.tolist() == [0, 1]
    assert len(read_manifest(tmp_path)) == 300


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.text(min_size=1),
    points=st.lists(
        st.tuples(
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_any_name_and_points_round_trip_bit_exactly(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    points: list[tuple[int, float]],
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    _write(folder, {name: points})

    series = read_series(folder, name)

    assert series.steps.tolist() == [s for s, _v in points]
    assert _bits(series.values) == [struct.pack("<d", v) for _s, v in points]
    assert list(read_manifest(folder)) == [name]
