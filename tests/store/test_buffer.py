"""The metric buffer: puts reach the files, flush works while open, loss is told."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from runlab.store.buffer import MetricBuffer
from runlab.store.series import read_manifest, read_series, read_summary


def test_put_then_close_writes_every_point(tmp_path: Path) -> None:
    buffer = MetricBuffer(tmp_path / "metrics")
    for step in range(500):
        buffer.put(step, 1_700_000_000.0 + step, {"loss": 1.0 / (step + 1), "lr": 0.1})
    buffer.close()

    loss = read_series(tmp_path / "metrics", "loss")

    assert loss.steps.tolist() == list(range(500))
    assert loss.values[-1] == 1.0 / 500
    assert len(read_series(tmp_path / "metrics", "lr")) == 500
    assert buffer.lost is None


def test_flush_makes_points_readable_while_the_buffer_is_open(tmp_path: Path) -> None:
    buffer = MetricBuffer(tmp_path / "metrics", flush_interval=3600.0)
    try:
        buffer.put(7, 0.0, {"acc": 0.25})
        buffer.flush()

        assert read_series(tmp_path / "metrics", "acc").steps.tolist() == [7]
        assert read_summary(tmp_path / "metrics")["acc"]["last"] == 0.25
        assert buffer.summary()["acc"]["count"] == 1
    finally:
        buffer.close()


def test_flush_of_an_idle_buffer_returns_without_waiting_a_cycle(
    tmp_path: Path,
) -> None:
    buffer = MetricBuffer(tmp_path / "metrics", flush_interval=3600.0)
    try:
        buffer.put(1, 0.0, {"x": 1.0})
        started = time.monotonic()
        buffer.flush(timeout=5.0)

        assert time.monotonic() - started < 2.0
        assert read_series(tmp_path / "metrics", "x").steps.tolist() == [1]
    finally:
        buffer.close()


def test_small_max_pending_blocks_instead_of_dropping(tmp_path: Path) -> None:
    buffer = MetricBuffer(tmp_path / "metrics", max_pending=100, flush_interval=0.05)
    for step in range(20_000):
        buffer.put(step, 0.0, {"x": float(step)})
        assert len(buffer._queue) <= 101
    buffer.close()

    series = read_series(tmp_path / "metrics", "x")

    assert series.steps.tolist() == list(range(20_000))
    assert buffer.lost is None


def test_puts_from_several_threads_all_arrive(tmp_path: Path) -> None:
    buffer = MetricBuffer(tmp_path / "metrics", max_pending=50, flush_interval=0.01)

    def worker(k: int) -> None:
        for step in range(2_000):
            buffer.put(step, 0.0, {f"t{k}": 1.0})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffer.close()

    assert sorted(read_manifest(tmp_path / "metrics")) == ["t0", "t1", "t2", "t3"]
    assert len(read_series(tmp_path / "metrics", "t3")) == 2_000


def test_write_failure_records_loss_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "run"
    blocker.write_text("a file where the run folder should be")
    buffer = MetricBuffer(blocker / "metrics", flush_interval=0.01, label="r1")

    with caplog.at_level(logging.WARNING, logger="runlab.store.buffer"):
        buffer.put(12, 0.0, {"a": 1.0, "b": 2.0})
        buffer.flush()
        for step in range(13, 23):
            buffer.put(step, 0.0, {"a": 1.0})
        buffer.close()

    assert buffer.lost is not None
    assert buffer.lost["from_step"] == 12
    assert buffer.lost["points"] == 12
    assert len(caplog.records) == 1
    assert caplog.messages[0].startswith("Cannot write metrics of run r1 (")
    assert caplog.messages[0].endswith("); dropping points from step 12 on.")


def test_points_that_cannot_be_stored_are_skipped_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = tmp_path / "metrics"
    buffer = MetricBuffer(metrics, flush_interval=0.01, label="r2")

    with caplog.at_level(logging.WARNING, logger="runlab.store.buffer"):
        buffer.put(0, 0.0, {"a": 1.0})
        buffer.put(2**64, 0.0, {"a": 2.0})  # a step beyond 64 bits
        buffer.put(2, 0.0, {"a": 10**400})  # an int no float holds
        buffer.put(3, 0.0, {"a": 3.0, "bad\udcff": 1.0})  # not valid Unicode
        buffer.put(4, 0.0, {"a": 4.0, "b": 5.0})
        buffer.flush()
        buffer.put(5, 0.0, {"a": 10**400})  # said once per metric
        buffer.close()

    files = read_manifest(metrics)
    assert buffer.lost is None
    assert read_series(metrics, "a").steps.tolist() == [0, 3, 4]
    assert read_series(metrics, "b").values.tolist() == [5.0]
    assert "bad\udcff" not in files
    assert read_summary(metrics)["a"]["count"] == 3
    assert caplog.messages == [
        "Run r2: skipped 2 point(s) of metric 'a' that cannot be stored "
        "(Python int too large to convert to C long); the other points are kept.",
        "Run r2: skipped 1 point(s) of metric 'bad\\udcff' that cannot be stored "
        "('utf-8' codec can't encode character '\\udcff' in position 3: "
        "surrogates not allowed); the other points are kept.",
    ]
