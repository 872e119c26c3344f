"""The Python API (runlab.start, Run, load_run, open_store) and a run's life in
a real process: finished, failed, killed by SIGTERM or SIGINT, crashed by SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlab
from runlab.errors import RunFinished

pytestmark = pytest.mark.usefixtures("runlab_env")


def run_dirs(store: Path) -> list[Path]:
    return sorted(p for p in store.iterdir() if p.is_dir() and p.name[0].isdigit())


def meta_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return data


# -- config --------------------------------------------------------------------


def test_start_with_dict_config_gives_attribute_and_item_access() -> None:
    with runlab.start(config={"optim": {"lr": 0.01}, "epochs": 3}) as run:
        assert run.config.optim.lr == 0.01
        assert run.config["optim"]["lr"] == 0.01
        assert run.config.epochs == 3


def test_start_with_yaml_path_reads_1e_3_as_float(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("optim:\n  lr: 1e-3\nname: no\n")

    with runlab.start(config=str(path)) as run:
        lr = run.config.optim.lr

    assert (lr, type(lr)) == (0.001, float)
    assert run.config.name == "no"
    assert (run.path / "config.yaml").read_text() == "optim:\n  lr: 0.001\nname: 'no'\n"


def test_start_with_argparse_namespace_records_its_flags() -> None:
    args = argparse.Namespace(lr=0.05, epochs=3, data=Path("/data"))

    with runlab.start(config=args) as run:
        assert run.config.lr == 0.05
        assert run.config["data"] == "/data"

    stored = runlab.load_run(run.id)
    assert stored.config.to_dict() == {"lr": 0.05, "epochs": 3, "data": "/data"}


# -- log -----------------------------------------------------------------------


def test_log_without_step_numbers_points_0_1_2() -> None:
    with runlab.start() as run:
        for value in (0.5, 0.4, 0.3):
            run.log({"loss": value})
        series = run.metric("loss")

    assert series.steps.tolist() == [0, 1, 2]
    assert series.values.tolist() == [0.5, 0.4, 0.3]


def test_log_explicit_steps_then_omitted_step_goes_on_from_the_last() -> None:
    with runlab.start() as run:
        run.log({"loss": 1.0}, step=10)
        run.log({"loss": 2.0}, step=20)
        run.log({"loss": 3.0})
        assert run.step == 21
        series = run.metric("loss")

    assert series.steps.tolist() == [10, 20, 21]


def test_metric_returns_int64_steps_and_float64_values() -> None:
    with runlab.start() as run:
        run.log({"acc": 1})
        series = run.metric("acc")

    assert (series.steps.dtype, series.values.dtype) == (np.int64, np.float64)
    assert series.values.tolist() == [1.0]


def test_log_numpy_and_torch_scalars_are_stored_as_plain_numbers() -> None:
    torch = pytest.importorskip("torch")
    with runlab.start() as run:
        run.log(
            {
                "acc": np.float32(0.25),
                "n_ok": np.int64(7),
                "loss": torch.tensor(0.5),
                "lr": torch.tensor([1e-3]),
                "half": np.float32(0.1),
            },
            step=1,
        )
    stored = runlab.load_run(run.id)

    lasts = {name: s["last"] for name, s in stored.summary.items()}
    assert lasts == {"acc": 0.25, "n_ok": 7, "loss": 0.5, "lr": 0.001, "half": 0.1}
    assert stored.metric("lr").values.tolist() == [0.001]


def test_log_multi_element_tensor_is_skipped_with_a_warning_others_stored() -> None:
    torch = pytest.importorskip("torch")
    with runlab.start() as run:
        with pytest.warns(RuntimeWarning) as caught:
            run.log({"hist": torch.tensor([1.0, 2.0]), "acc": 0.5}, step=1)
        run.log({"acc": 0.75}, step=2)

    assert str(caught[0].message) == (
        "runlab skipped 'hist' (2 elements): log one number per metric."
    )
    stored = runlab.load_run(run.id)
    assert stored.metric_names() == ["acc"]
    assert stored.metric("acc").values.tolist() == [0.5, 0.75]


def test_log_of_something_not_a_dict_is_a_clear_type_error() -> None:
    with runlab.start() as run, pytest.raises(TypeError) as raised:
        run.log("loss", step=1)  # type: ignore[arg-type]

    assert str(raised.value) == (
        "run.log() takes a dict of metric names to numbers, not str."
    )
    assert run.step == -1


@pytest.mark.parametrize("step", [True, 1.0, "3"])
def test_a_step_that_is_not_an_integer_is_refused(step: object) -> None:
    with runlab.start() as run:
        with pytest.raises(TypeError, match="A step must be an integer"):
            run.log({"acc": 0.5}, step=step)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="A step must be an integer"):
            run.log_text("t", "x", step=step)  # type: ignore[arg-type]

    assert runlab.load_run(run.id).metric_names() == []


def test_log_string_value_raises_type_error_naming_it_others_stored() -> None:
    with runlab.start() as run:
        with pytest.raises(TypeError) as raised:
            run.log({"acc": 0.5, "phase": "train"}, step=3)
        series = run.metric("acc")

    assert str(raised.value) == (
        "Metric values must be numbers; got 'phase' = 'train' (str) at step 3."
    )
    assert series.steps.tolist() == [3]
    assert series.values.tolist() == [0.5]


def test_log_nan_and_infinities_are_read_back_and_last_is_0_5() -> None:
    with runlab.start() as run:
        for step, value in enumerate((math.nan, math.inf, -math.inf, 0.5), 1):
            run.log({"loss": value}, step=step)
    stored = runlab.load_run(run.id)

    values = stored.metric("loss").values.tolist()
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 0.5]
    assert stored.summary["loss"] == {
        "last": 0.5, "min": -math.inf, "max": math.inf, "count": 4, "last_step": 4,
    }  # fmt: skip


def test_log_steps_beyond_2_53_stay_exact_and_numpy_int64_steps_work() -> None:
    steps = [2_147_483_647, 2_147_483_648, 3_000_000_000, 2**53, 2**53 + 1]
    with runlab.start() as run:
        for step in steps:
            run.log({"reward": 1.0}, step=step)
        run.log({"reward": 2.0}, step=np.int64(2**53 + 3))
        run.log({"reward": 3.0}, step=-5)
    series = runlab.load_run(run.id).metric("reward")

    assert series.steps.tolist() == [*steps, 2**53 + 3, -5]
    assert series.values.tolist() == [1.0] * 5 + [2.0, 3.0]


def test_an_omitted_step_past_64_bits_is_refused_and_the_run_keeps_its_points() -> None:
    with runlab.start() as run:
        run.log({"reward": 1.0}, step=2**63 - 1)
        with pytest.raises(ValueError, match="does not fit in 64 bits; pass step="):
            run.log({"reward": 2.0})
        run.log({"reward": 3.0}, step=0)

    series = runlab.load_run(run.id).metric("reward")
    assert series.steps.tolist() == [2**63 - 1, 0]


def test_an_int_too_big_for_a_float_skips_that_point_not_the_run() -> None:
    with runlab.start() as run:
        run.log({"n": 1.0}, step=0)
        run.log({"n": 10**400}, step=1)
        for step in range(2, 5):
            run.log({"n": float(step)}, step=step)

    stored = runlab.load_run(run.id)
    assert stored.metric("n").steps.tolist() == [0, 2, 3, 4]
    assert stored.status == "finished"


def test_log_names_with_slash_space_and_unicode_are_separate_series() -> None:
    names = ["timing/gen/total", "timing", "val/acc@5", "loss (train)", "损失"]
    with runlab.start() as run:
        for i, name in enumerate(names):
            run.log({name: float(i)}, step=1)
    stored = runlab.load_run(run.id)

    assert stored.metric_names() == names
    for i, name in enumerate(names):
        assert stored.metric(name).values.tolist() == [float(i)]


def test_log_after_finish_raises_run_finished() -> None:
    run = runlab.start()
    run.finish()

    with pytest.raises(RunFinished) as raised:
        run.log({"loss": 1.0})

    assert str(raised.value) == f"Run {run.id} is finished and accepts no more points."


def test_module_level_log_starts_a_run_when_none_is_active(store: Path) -> None:
    runlab.log({"x": 1.0})
    run = runlab.active_run()
    assert run is not None
    run.finish()

    assert [d.name for d in run_dirs(store)] == [run.id]
    assert runlab.load_run(run.id).metric("x").values.tolist() == [1.0]


# -- life ----------------------------------------------------------------------


def test_context_manager_records_an_exception_as_failed() -> None:
    with pytest.raises(ValueError, match="diverged"), runlab.start() as run:
        run.log({"loss": 1.0})
        raise ValueError("diverged")

    stored = runlab.load_run(run.id)
    assert stored.status == "failed"
    assert stored.meta["error"] == "ValueError: diverged"
    assert stored.metric("loss").values.tolist() == [1.0]


def test_context_manager_records_keyboard_interrupt_as_killed() -> None:
    with pytest.raises(KeyboardInterrupt), runlab.start() as run:
        raise KeyboardInterrupt

    stored = runlab.load_run(run.id)
    assert (stored.status, stored.meta["error"]) == ("killed", "KeyboardInterrupt")


def test_checkpoint_keeps_best_last_and_every_2_epochs() -> None:
    scores = [0.1, 0.5, 0.3, 0.2, 0.4]
    with runlab.start(config={"checkpoint": {"every": 2}}) as run:
        for epoch, score in enumerate(scores):
            last = run.checkpoint({"epoch": epoch}, epoch=epoch, score=score)
        folder = run.path / "state_dict"

    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        "checkpoint_best.pt", "checkpoint_e_0.pt", "checkpoint_e_2.pt",
        "checkpoint_e_4.pt", "checkpoint_last.pt", "checkpoints.json",
    ]  # fmt: skip
    assert last == folder / "checkpoint_last.pt"
    stored = runlab.load_run(run.id)
    assert stored.checkpoints()["best"]["epoch"] == 1
    assert stored.checkpoints()["last"]["epoch"] == 4
    import pickle

    best = pickle.loads(folder.joinpath("checkpoint_best.pt").read_bytes())
    assert best == {"epoch": 1}


def test_note_appends_paragraphs_to_readme() -> None:
    with runlab.start(notes="first idea") as run:
        run.note("second thought")

    text = (run.path / "README.md").read_text()
    assert text.index("first idea") < text.index("second thought")
    assert text.count("**") == 4
    assert runlab.load_run(run.id).notes == text


def test_resume_continues_after_the_last_step_and_runs_again() -> None:
    with runlab.start(name="long", config={"lr": 0.1}) as first:
        for value in (3.0, 2.0, 1.0):
            first.log({"loss": value})

    resumed = runlab.start(resume="long")
    assert resumed.id == first.id
    assert resumed.config.lr == 0.1
    assert runlab.load_run(first.id).status == "running"
    resumed.log({"loss": 0.5})
    resumed.finish()

    stored = runlab.load_run(first.id)
    assert stored.status == "finished"
    assert stored.metric("loss").steps.tolist() == [0, 1, 2, 3]
    assert [r["was"] for r in stored.meta["resumes"]] == ["finished"]


def sampled_steps(run: runlab.Run) -> int:
    try:
        return int(run.metric("sys/cpu_percent").steps.max())
    except KeyError:
        return -1


@pytest.mark.slow
def test_resume_ignores_system_metric_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sampler counts its own steps; they say nothing of training progress.
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "1")
    monkeypatch.setenv("RUNLAB_SYSTEM_INTERVAL_S", "0.02")
    with runlab.start() as first:
        first.log({"loss": 1.0}, step=0)
        deadline = time.time() + 10
        while sampled_steps(first) < 5:
            assert time.time() < deadline
            time.sleep(0.05)
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "0")

    with runlab.start(resume=first.id) as resumed:
        resumed.log({"loss": 0.5})

    assert runlab.load_run(first.id).metric("loss").steps.tolist() == [0, 1]


def test_load_run_by_id_and_by_name_gives_the_whole_run() -> None:
    with runlab.start(name="baseline", config={"a": {"b": 1}}, tags=["t1"]) as run:
        run.log({"acc": 0.9}, step=5)
        run.note("looks good")

    by_id, by_name = runlab.load_run(run.id), runlab.load_run("baseline")
    assert by_id.id == by_name.id == run.id
    assert by_name.config.a.b == 1
    assert (by_name.status, by_name.name, by_name.tags) == (
        "finished",
        "baseline",
        ["t1"],
    )
    assert by_name.summary == {
        "acc": {"last": 0.9, "min": 0.9, "max": 0.9, "count": 1, "last_step": 5}
    }
    assert "looks good" in by_name.notes
    assert by_name.git["available"] is False
    assert by_name.git["reason"] == "not a git repository"
    assert by_name.environment["python"]["version"] == ".".join(
        map(str, sys.version_info[:3])
    )


def test_open_store_runs_iterates_the_runs_a_filter_matches(store: Path) -> None:
    for lr in (0.1, 0.01, 0.001):
        with runlab.start(config={"optim": {"lr": lr}}) as run:
            run.log({"acc": lr * 10})

    found = list(runlab.open_store(store).runs("optim.lr < 0.05", sort=["optim.lr"]))

    assert [r.config.optim.lr for r in found] == [0.001, 0.01]
    assert [r.summary["acc"]["last"] for r in found] == [0.01, 0.1]


@pytest.mark.parametrize("var", ["RANK", "LOCAL_RANK"])
def test_other_ranks_get_a_run_that_writes_nothing(
    var: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(var, "1")

    run = runlab.start(config={"lr": 0.1}, name="rank1")
    run.log({"loss": 1.0})
    assert run.checkpoint({"w": 1}, epoch=0, score=1.0) is None
    run.note("nothing")
    run.finish()

    assert run.config.lr == 0.1
    assert not store.exists()


def test_import_runlab_loads_no_heavy_module() -> None:
    heavy = ["numpy", "rich", "click", "ruamel", "psutil", "torch"]
    code = (
        "import sys, runlab; "
        f"print([m for m in {heavy!r} if any(k == m or k.startswith(m + '.') "
        "for k in sys.modules)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout == "[]\n"


# -- a run's life in a real process ---------------------------------------------

SCRIPT = """
import sys, time, runlab
run = runlab.start(name="life")
for step in range(3):
    run.log({"loss": 1.0 / (step + 1)})
print("logged", flush=True)
if sys.argv[1] == "raise":
    raise ValueError("loss exploded")
if sys.argv[1] == "wait":
    time.sleep(60)
"""


def start_script(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / "life.py"
    script.write_text(textwrap.dedent(SCRIPT))
    return subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_logged(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline() == "logged\n"


def test_script_that_returns_is_finished(tmp_path: Path, store: Path) -> None:
    proc = start_script(tmp_path, "exit")
    proc.communicate(timeout=60)
    assert proc.returncode == 0

    stored = runlab.load_run("life")
    assert (stored.status, stored.meta["exit_code"]) == ("finished", 0)
    assert stored.metric("loss").steps.tolist() == [0, 1, 2]
    assert (stored.path / "log.txt").read_text() == "logged\n"


def test_script_that_raises_is_failed_with_its_traceback_in_the_log(
    tmp_path: Path,
) -> None:
    proc = start_script(tmp_path, "raise")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1

    stored = runlab.load_run("life")
    assert stored.status == "failed"
    assert stored.meta["error"] == "ValueError: loss exploded"
    log = (stored.path / "log.txt").read_text()
    assert log.startswith("logged\nTraceback (most recent call last):\n")
    assert log.endswith("ValueError: loss exploded\n")
    assert "ValueError: loss exploded" in err
    assert stored.summary["loss"]["count"] == 3


@pytest.mark.parametrize(
    ("signum", "code", "error"),
    [
        (signal.SIGTERM, -signal.SIGTERM, "SIGTERM"),
        (signal.SIGINT, 1, "KeyboardInterrupt"),
    ],
)
def test_script_stopped_by_a_signal_is_killed(
    tmp_path: Path, signum: int, code: int, error: str
) -> None:
    proc = start_script(tmp_path, "wait")
    wait_logged(proc)
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert proc.returncode == code

    stored = runlab.load_run("life")
    assert (stored.status, stored.meta["error"]) == ("killed", error)
    assert stored.metric("loss").values.tolist() == [1.0, 0.5, 1.0 / 3]


GRACEFUL = """
import pathlib, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
import runlab
run = runlab.start(name="graceful")
print("ready", flush=True)
step = 0
while not stop:
    run.log({"loss": 1.0}, step=step)
    step += 1
    time.sleep(0.01)
run.log({"loss": 0.0}, step=step)
pathlib.Path(sys.argv[1]).write_text("saved")
run.finish()
"""


def test_a_sigterm_handler_set_before_start_still_runs_and_the_run_is_killed(
    tmp_path: Path,
) -> None:
    script = tmp_path / "graceful.py"
    script.write_text(textwrap.dedent(GRACEFUL))
    saved = tmp_path / "checkpoint"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(saved)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)

    stored = runlab.load_run("graceful")
    # The script's own handler ran: it saved, logged its last point, finished.
    assert saved.read_text() == "saved"
    assert proc.returncode == 0
    assert (stored.status, stored.meta["error"]) == ("killed", "SIGTERM")
    assert stored.metric("loss").values.tolist()[-1] == 0.0


@pytest.mark.slow
def test_script_killed_with_sigkill_is_listed_crashed_with_its_points(
    tmp_path: Path, runlab_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_HEARTBEAT_S", "0.2")
    proc = start_script(tmp_path, "wait")
    wait_logged(proc)
    # The writer flushes about once a second; give it time before the kill.
    time.sleep(1.6)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    done = runlab_cli("ls", "--json")
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)
    assert (record["name"], record["status"]) == ("life", "crashed")
    assert record["metrics"]["loss"]["count"] == 3
    series = runlab.load_run("life").metric("loss")
    assert series.values.tolist() == [1.0, 0.5, 1.0 / 3]
    assert meta_of(runlab.load_run("life").path)["status"] == "crashed"


def test_runlab_lists_its_lazy_names() -> None:
    assert {"start", "log", "active_run", "open_store", "load_run"} <= set(dir(runlab))
    assert set(runlab.__all__) <= set(dir(runlab))
    with pytest.raises(AttributeError, match="module 'runlab' has no attribute 'nope'"):
        runlab.nope  # noqa: B018


def test_parse_args_takes_defaults_from_yaml_and_records_the_flags(
    tmp_path: Path,
) -> None:
    import argparse

    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("lr: 1e-3\nepochs: 5\noptim:\n  momentum: 0.9\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--optim_momentum", type=float, default=0.0)

    with runlab.start(config=defaults) as run:
        args = run.parse_args(parser, ["--epochs", "8"])

    assert vars(args) == {"lr": 0.001, "epochs": 8, "optim_momentum": 0.9}
    saved = runlab.load_run(run.id).config.to_dict()
    assert saved["lr"] == 0.001
    assert saved["epochs"] == 8
    assert saved["optim"] == {"momentum": 0.9}


@pytest.mark.parametrize(
    ("ending", "status", "code", "error"),
    [
        ("sys.exit(3)", "failed", 3, "exit code 3"),
        ("sys.exit('fatal message')", "failed", 1, "fatal message"),
        ("sys.exit(0)", "finished", 0, None),
        ("pass", "finished", 0, None),
    ],
)
def test_a_script_on_its_own_records_how_it_exited(
    tmp_path: Path, ending: str, status: str, code: int, error: str | None
) -> None:
    script = tmp_path / "ends.py"
    script.write_text(f"import sys, runlab\nrunlab.start().log({{'x': 1}})\n{ending}\n")

    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=False)

    (run,) = runlab.open_store().runs()
    assert (run.status, run.meta["exit_code"], run.meta.get("error")) == (
        status, code, error,
    )  # fmt: skip


def test_update_config_adds_derived_values_and_saves_them() -> None:
    with runlab.start(config={"optim": {"lr": 0.1}, "epochs": 3}) as run:
        run.update_config({"optim": {"steps": 300}, "epochs": 4})
        assert run.config.optim.steps == 300

    saved = runlab.load_run(run.id).config.to_dict()
    assert saved == {"optim": {"lr": 0.1, "steps": 300}, "epochs": 4}


def test_tags_given_as_one_string_make_one_tag() -> None:
    with runlab.start(tags="baseline") as run:
        pass

    assert runlab.load_run(run.id).tags == ["baseline"]
