from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time

import psutil
import pytest

from runlab.capture.system import SystemSampler, sample_system

BASE_KEYS = {
    "sys/cpu_percent",
    "sys/memory_percent",
    "sys/memory_used_gb",
    "sys/proc_rss_mb",
}
GPU_KEY = re.compile(r"^sys/gpu\d+/(util_percent|memory_used_gb)$")


def test_sample_system_returns_floats_in_sane_ranges() -> None:
    sample = sample_system()

    assert set(sample) >= BASE_KEYS
    assert all(GPU_KEY.match(key) for key in set(sample) - BASE_KEYS)
    assert all(isinstance(value, float) for value in sample.values())
    assert 0.0 <= sample["sys/cpu_percent"] <= 100.0
    assert 0.0 < sample["sys/memory_percent"] <= 100.0
    total_gb = psutil.virtual_memory().total / 2**30
    assert 0.0 < sample["sys/memory_used_gb"] <= total_gb
    own_mb = psutil.Process().memory_info().rss / 2**20
    assert own_mb * 0.5 < sample["sys/proc_rss_mb"] < own_mb * 2


def test_sample_system_counts_memory_of_child_processes() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "b = b'x' * 200_000_000; print('ready', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        own_mb = psutil.Process().memory_info().rss / 2**20

        sample = sample_system()
    finally:
        child.communicate("")

    assert sample["sys/proc_rss_mb"] > own_mb + 150


def test_system_sampler_calls_back_every_interval() -> None:
    samples: list[dict[str, float]] = []
    twice = threading.Event()

    def collect(sample: dict[str, float]) -> None:
        samples.append(sample)
        if len(samples) >= 2:
            twice.set()

    sampler = SystemSampler(collect, interval=0.05)
    sampler.start()
    try:
        assert twice.wait(timeout=5.0)
    finally:
        sampler.stop()

    assert all(set(sample) >= BASE_KEYS for sample in samples)


def test_system_sampler_calls_back_no_more_after_stop() -> None:
    samples: list[dict[str, float]] = []
    sampler = SystemSampler(samples.append, interval=0.02)
    sampler.start()
    time.sleep(0.1)

    started = time.perf_counter()
    sampler.stop()
    stopped_in = time.perf_counter() - started
    count = len(samples)
    time.sleep(0.1)

    assert len(samples) == count
    assert stopped_in < 0.5


def test_system_sampler_goes_on_after_a_failing_callback_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    thrice = threading.Event()

    def fail(sample: dict[str, float]) -> None:
        calls.append(1)
        if len(calls) >= 3:
            thrice.set()
        raise RuntimeError("disk full")

    sampler = SystemSampler(fail, interval=0.02)
    with caplog.at_level(logging.DEBUG, logger="runlab.capture.system"):
        sampler.start()
        try:
            assert thrice.wait(timeout=5.0)
        finally:
            sampler.stop()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "System sample failed (disk full); sampling goes on and further failures "
        "are logged at DEBUG."
    ]


def test_system_sampler_stop_without_start_does_nothing() -> None:
    SystemSampler(lambda sample: None).stop()


def test_importing_runlab_capture_loads_neither_psutil_nor_capture_modules() -> None:
    code = (
        "import sys, runlab.capture\n"
        "heavy = ('psutil', 'runlab.capture.')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "print(sorted(loaded))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert proc.stdout == "[]\n"
