"""The Ray executor against a real Ray head on 127.0.0.1 (started by this module).

Ray replaces a loopback address by the machine's outward one unless
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 says it is a one-machine cluster; the head
and this process both get it, so every connection stays on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runlab.errors import RunlabError
from runlab.store import open_store
from runlab.sweep.executor import Ended, TrialLaunch
from runlab.sweep.ray_executor import (
    CANCELLED_CODE,
    SPAWN_FAILED_CODE,
    TASK_GRACE_S,
    RayExecutor,
)
from runlab.sweep.runner import KILLED_CODES  # the codes a sweep reads as killed

if importlib.util.find_spec("ray") is None:
    pytest.skip(
        "Ray is not installed; pip install 'runlab[ray]' to test the Ray executor",
        allow_module_level=True,
    )

pytestmark = pytest.mark.usefixtures("runlab_env")

PY = sys.executable
HEAD_MARK = "RUNLAB_TEST_ON_RAY_HEAD"  # set in the head's environment only
LOOPBACK_ONLY = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}
QUICK = (
    "import os, runlab; r = runlab.start(); "
    f"r.log({{'x': 1.0, 'on_head': float('{HEAD_MARK}' in os.environ)}}, step=0); "
    "r.finish()"
)
GPU_USER = (
    "import os, time, runlab; r = runlab.start(); "
    "r.log({'gpu': float(os.environ['CUDA_VISIBLE_DEVICES'])}, step=0); "
    "time.sleep(1.0); r.finish()"
)
SLEEPER = "import time, runlab; r = runlab.start(); time.sleep(120)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def head_env(base: Path) -> dict[str, str]:
    """The head's environment, which every trial on it inherits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    env.update(LOOPBACK_ONLY, RUNLAB_SYSTEM_METRICS="0", **{HEAD_MARK: "1"})
    # The trials' git capture must not find this checkout nor the user's config.
    env.update(GIT_CEILING_DIRECTORIES=str(base), GIT_CONFIG_NOSYSTEM="1")
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    return env


def wait_for_head(head: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if head.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the Ray head did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_head(head: subprocess.Popen[bytes]) -> None:
    # `ray start --block` drains and stops its own processes on SIGTERM; `ray
    # stop` would stop every Ray on the machine, not only ours.
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head on 127.0.0.1 for this module; yields its address.

    It has 2 CPUs and declares 2 GPUs: Ray hands out GPU ids by count, so the
    GPU path runs on a machine without any.
    """
    # Ray's socket paths must fit 107 bytes: a short folder of our own.
    temp = Path(tempfile.mkdtemp(prefix="rl-ray-"))
    port = free_port()
    log = temp / "head.log"
    argv = [
        PY, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
        "--num-gpus", "2", "--include-dashboard", "false",
        "--disable-usage-stats", "--temp-dir", str(temp),
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch, open(log, "wb") as sink:
        for key, value in LOOPBACK_ONLY.items():
            patch.setenv(key, value)  # read when this process imports ray
        _refuse_ray_imported_too_early()
        head = subprocess.Popen(
            argv, env=head_env(tmp_path_factory.getbasetemp()), stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for_head(head, log, timeout=60)
            yield f"127.0.0.1:{port}"
        finally:
            _disconnect()
            stop_head(head)
            shutil.rmtree(temp, ignore_errors=True)


def _refuse_ray_imported_too_early() -> None:
    # Imported before LOOPBACK_ONLY was set, Ray would look for the head on
    # the outward address and retry for minutes.
    if (
        "ray" in sys.modules
        and sys.modules["ray"]._private.ray_constants.ENABLE_RAY_CLUSTER
    ):
        pytest.fail(
            "ray was imported before this module set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0"
        )


def _disconnect() -> None:
    if "ray" in sys.modules:
        import ray

        ray.shutdown()


def launch(index: int, tmp_path: Path, store: Path, code: str) -> TrialLaunch:
    argv = [
        PY, "-m", "runlab", "run", "--store", str(store), "--sweep", "sw-x",
        "--trial", str(index), "--id-file", str(tmp_path / f"{index}.id"),
        "--", PY, "-c", code,
    ]  # fmt: skip
    output = str(tmp_path / f"{index}.out")
    return TrialLaunch(index=index, argv=argv, cwd=str(tmp_path), output=output)


def collect(executor: RayExecutor, count: int, timeout: float) -> list[Ended]:
    ended: list[Ended] = []
    deadline = time.monotonic() + timeout
    while len(ended) < count and time.monotonic() < deadline:
        ended += executor.poll(0.2)
    return ended


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def status_of(store: Path, run_id: str) -> Any:
    return open_store(store).load_run(run_id).record["status"]


def most_at_once(runs: list[dict[str, Any]]) -> int:
    """The largest number of the runs that were running at one moment."""
    return max(
        sum(r["started"] <= s["started"] < r["ended"] for r in runs) for s in runs
    )


def test_four_trials_with_parallel_2_become_four_finished_runs_of_the_sweep(
    ray_address: str, tmp_path: Path, store: Path
) -> None:
    # Half a CPU each: Ray alone would run all 4 at once; parallel must hold 2.
    executor = RayExecutor(ray_address, parallel=2, cpus_per_trial=0.5)
    queue = [launch(i, tmp_path, store, QUICK) for i in range(4)]
    ended: list[Ended] = []
    deadline = time.monotonic() + 60
    while len(ended) < 4 and time.monotonic() < deadline:
        while queue and executor.free_slots() > 0:
            assert executor.submit(queue.pop(0)) == []
        ended += executor.poll(0.2)

    assert sorted(ended) == [Ended(i, 0) for i in range(4)]
    runs = open_store(store).records(sort=["trial"])
    assert most_at_once(runs) <= 2
    assert [(r["sweep"], r["trial"], r["status"]) for r in runs] == [
        ("sw-x", i, "finished") for i in range(4)
    ]
    # Each trial ran in a Ray worker of the head, with the head's environment.
    assert [r["metrics"]["on_head"]["last"] for r in runs] == [1.0] * 4
    assert all(
        "ended with exit code 0" in (tmp_path / f"{i}.out").read_text()
        for i in range(4)
    )


def test_trials_asking_for_a_gpu_each_see_one_id_never_shared_at_once(
    ray_address: str, tmp_path: Path, store: Path
) -> None:
    executor = RayExecutor(
        ray_address, parallel=2, gpus_per_trial=1, cpus_per_trial=0.5
    )
    for index in range(2):
        executor.submit(launch(index, tmp_path, store, GPU_USER))
    ended = collect(executor, 2, timeout=30)
    for index in range(2, 4):
        executor.submit(launch(index, tmp_path, store, GPU_USER))
    ended += collect(executor, 2, timeout=30)

    assert sorted(ended) == [Ended(i, 0) for i in range(4)]
    runs = open_store(store).records(sort=["trial"])
    gpus = [r["metrics"]["gpu"]["last"] for r in runs]
    assert set(gpus) <= {0.0, 1.0}
    overlapping = [
        (a, b)
        for a, b in itertools.combinations(runs, 2)
        if a["started"] < b["ended"] and b["started"] < a["ended"]
    ]
    assert overlapping, "no two trials ran at once: nothing was shared or not"
    for a, b in overlapping:
        assert a["metrics"]["gpu"] != b["metrics"]["gpu"], (a["trial"], b["trial"])


def test_terminated_trial_stops_within_the_grace_and_its_run_ends_killed(
    ray_address: str, tmp_path: Path, store: Path
) -> None:
    executor = RayExecutor(ray_address, parallel=1)
    executor.submit(launch(0, tmp_path, store, SLEEPER))
    id_file = tmp_path / "0.id"
    wait_until(lambda: id_file.exists() and id_file.read_text() != "", 30, "the run")
    started = time.monotonic()

    executor.terminate(0)
    (ended,) = collect(executor, 1, timeout=TASK_GRACE_S + 10)

    assert time.monotonic() - started < TASK_GRACE_S
    assert ended.trial == 0 and ended.exit_code in KILLED_CODES
    assert status_of(store, id_file.read_text().strip()) == "killed"
    assert executor.free_slots() == 1


def test_trial_cancelled_while_waiting_for_a_cpu_ends_without_a_run(
    ray_address: str, tmp_path: Path, store: Path
) -> None:
    executor = RayExecutor(ray_address, parallel=3)  # the head has 2 CPUs
    for index in range(3):
        executor.submit(launch(index, tmp_path, store, SLEEPER))
    ids = [tmp_path / f"{i}.id" for i in range(2)]
    wait_until(lambda: all(p.exists() for p in ids), 30, "two runs")

    executor.terminate(2)
    first = collect(executor, 1, timeout=10)
    rest = executor.stop_all(TASK_GRACE_S)

    assert first == [Ended(2, CANCELLED_CODE)]
    assert not (tmp_path / "2.id").exists()
    assert sorted(e.trial for e in rest) == [0, 1]
    assert all(e.exit_code in KILLED_CODES for e in rest)
    assert [status_of(store, p.read_text().strip()) for p in ids] == ["killed"] * 2


def test_sweep_run_with_executor_ray_runs_the_grid_through_the_head(
    ray_address: str, runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        textwrap.dedent(
            f"""\
            command: {json.dumps([PY, "-c", QUICK])}
            method: grid
            parameters:
              lr: [0.1, 0.01, 0.001, 0.0001]
            """
        ),
        encoding="utf-8",
    )

    done = runlab_cli(
        "sweep", "run", str(sweep), "--executor", "ray", "--address", ray_address,
        "--parallel", "2", "--store", str(store), timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    runs = open_store(store).records(sort=["trial"])
    assert [r["config"]["lr"] for r in runs] == [0.1, 0.01, 0.001, 0.0001]
    assert [r["status"] for r in runs] == ["finished"] * 4
    assert [r["metrics"]["on_head"]["last"] for r in runs] == [1.0] * 4
    assert len({r["sweep"] for r in runs}) == 1


def test_stop_all_without_grace_kills_the_worker_and_the_run_still_ends_killed(
    ray_address: str, tmp_path: Path, store: Path
) -> None:
    executor = RayExecutor(ray_address, parallel=1)
    executor.submit(launch(0, tmp_path, store, SLEEPER))
    id_file = tmp_path / "0.id"
    wait_until(lambda: id_file.exists() and id_file.read_text() != "", 30, "the run")

    (ended,) = executor.stop_all(0.0)

    assert ended.trial == 0 and ended.exit_code in KILLED_CODES
    run_id = id_file.read_text().strip()
    # The wrapper learns of its worker's death by its parent-death signal.
    wait_until(lambda: status_of(store, run_id) == "killed", 15, "the run killed")


def test_trial_whose_folder_is_missing_on_the_node_fails_with_a_note_in_its_output(
    ray_address: str, tmp_path: Path
) -> None:
    executor = RayExecutor(ray_address, parallel=1)
    missing = tmp_path / "not-shared"
    output = tmp_path / "0.out"
    executor.submit(
        TrialLaunch(0, [PY, "-c", "pass"], str(missing), output=str(output))
    )

    assert collect(executor, 1, timeout=30) == [Ended(0, SPAWN_FAILED_CODE)]
    assert output.read_text().startswith(f"runlab: cannot start {PY!r} in {missing}: ")


def test_address_where_no_head_listens_fails_at_once_naming_it(
    tmp_path: Path, store: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    executor = RayExecutor(address, parallel=1)
    started = time.monotonic()

    with pytest.raises(RunlabError) as raised:
        executor.submit(launch(0, tmp_path, store, QUICK))

    assert time.monotonic() - started < 10
    assert str(raised.value).startswith(f"No Ray head answers at {address} (")
    assert str(raised.value).endswith(
        f"Start one with `ray start --head --port {address.split(':')[1]}` there, "
        "or check --address."
    )
    assert executor.free_slots() == 1
