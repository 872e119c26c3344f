"""The sweeps API over a real store whose trials are real `runlab run` runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from sweep_kit import (
    GRID,
    SWEEP_NAME,
    SweepStore,
    best_val_acc,
    make_sweep_store,
)

from runlab.server import create_app
from runlab.store import open_store
from runlab.sweep.session import holding_sweep
from runlab.sweep.state import TrialState, create_sweep

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepStore]:
    tmp = tmp_path_factory.mktemp("sweeps")
    store = tmp / "experiments"
    return store, make_sweep_store(store, tmp)


@pytest.fixture
def sweep(sweep_store: tuple[Path, SweepStore]) -> SweepStore:
    return sweep_store[1]


def _client(store: Path, static_dir: Path | None = None) -> TestClient:
    app = (
        create_app(open_store(store))
        if static_dir is None
        else create_app(open_store(store), static_dir=static_dir)
    )
    return TestClient(app, base_url=BASE)


@pytest.fixture
def client(sweep_store: tuple[Path, SweepStore]) -> Iterator[TestClient]:
    with _client(sweep_store[0]) as test_client:
        yield test_client


@pytest.fixture
def own_store(sweep_store: tuple[Path, SweepStore], tmp_path: Path) -> Path:
    """A copy of the sweep store that a test may change."""
    copy = tmp_path / "experiments"
    shutil.copytree(sweep_store[0], copy, symlinks=True)
    return copy


def test_sweep_joins_each_trial_to_its_run_status_and_metric_summaries(
    client: TestClient, sweep: SweepStore
) -> None:
    body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    trials = body["trials"]
    assert [t["index"] for t in trials] == list(range(sweep.trial_count))
    for (lr, act), trial in zip(GRID, trials, strict=False):
        run = trial["run"]
        assert run["id"] == sweep.run_ids[trial["index"]]
        assert run["status"] == "finished"
        assert run["ended"] >= run["started"]
        assert run["duration"] == pytest.approx(run["ended"] - run["started"])
        assert run["metrics"]["val/acc"]["max"] == pytest.approx(best_val_acc(lr, act))
        assert run["metrics"]["train/loss"]["count"] == 5
        assert trial["params"] == {"optim.lr": lr, "model.act": act}
    assert trials[-1]["state"] == "pending"
    assert trials[-1]["run"] is None


def test_sweep_keeps_the_state_fields_and_counts_by_state(
    client: TestClient, sweep: SweepStore
) -> None:
    body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    assert body["id"] == sweep.sweep_id
    assert body["name"] == SWEEP_NAME
    assert body["method"] == "grid"
    assert body["counts"]["finished"] == len(GRID)
    assert body["counts"]["pending"] == 1
    assert body["trials"][0]["run_ids"] == [sweep.run_ids[0]]
    assert "folder" not in body


def test_sweep_parameters_are_the_swept_keys_in_file_order_then_seed(
    client: TestClient, sweep: SweepStore
) -> None:
    body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    assert body["parameters"] == ["optim.lr", "model.act", "seed"]


def test_sweep_objective_is_read_from_the_sweep_file_and_metrics_are_listed(
    client: TestClient, sweep: SweepStore
) -> None:
    body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    assert body["objective"] == {
        "metric": "val/acc",
        "summary": "max",
        "goal": "maximize",
    }
    assert body["metrics"] == ["train/loss", "val/acc"]


def test_sweep_is_found_by_name_and_by_unique_id_prefix(
    client: TestClient, sweep: SweepStore
) -> None:
    by_name = client.get(f"/api/sweeps/{SWEEP_NAME}").json()
    by_prefix = client.get(f"/api/sweeps/{sweep.sweep_id[:-3]}").json()

    assert by_name["id"] == sweep.sweep_id
    assert by_prefix["id"] == sweep.sweep_id


def test_unknown_sweep_is_404_in_the_error_shape(client: TestClient) -> None:
    answer = client.get("/api/sweeps/sw-nope")

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["type"] == "SweepNotFound"
    assert error["message"].startswith("No sweep 'sw-nope' in ")
    assert error["message"].endswith("; see `runlab sweep ls`.")


def test_sweeps_list_heads_and_counts_newest_first(own_store: Path) -> None:
    later = create_sweep(
        own_store, file_text="method: random\n", file="later.yaml", method="random",
        name=None, trials=[TrialState(index=0, params={"x": 1}, state="running")],
    )  # fmt: skip

    with _client(own_store) as client:
        with holding_sweep(later):  # as the process running it does
            sweeps = client.get("/api/sweeps").json()["sweeps"]
        # Its runner gone, the trial left running did not finish.
        orphaned = client.get("/api/sweeps").json()["sweeps"][0]

    newest, older = sweeps
    assert newest["id"] == later.id
    assert newest["counts"]["running"] == 1
    assert orphaned["counts"]["running"] == 0
    assert orphaned["counts"]["killed"] == 1
    assert newest["trials"] == 1
    assert older["name"] == SWEEP_NAME
    assert older["method"] == "grid"
    assert older["counts"] == {
        "pending": 1, "running": 0, "finished": len(GRID), "failed": 0,
        "killed": 0, "pruned": 0,
    }  # fmt: skip
    assert set(older) == {
        "id", "name", "file", "method", "created", "executor", "trials", "counts"
    }  # fmt: skip


def test_sweeps_list_of_a_store_without_sweeps_is_empty(tmp_path: Path) -> None:
    with _client(tmp_path / "experiments") as client:
        assert client.get("/api/sweeps").json() == {"sweeps": []}


def test_trial_whose_run_was_deleted_shows_no_run(
    own_store: Path, sweep: SweepStore
) -> None:
    shutil.rmtree(own_store / sweep.run_ids[2])

    with _client(own_store) as client:
        body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    assert body["trials"][2]["run"] is None
    assert body["trials"][3]["run"]["id"] == sweep.run_ids[3]


def test_sweep_file_without_objective_gives_null_objective(
    own_store: Path, sweep: SweepStore
) -> None:
    sweep_yaml = own_store / "sweeps" / sweep.sweep_id / "sweep.yaml"
    sweep_yaml.write_text("method: grid\nparameters: {x: [1, 2]}\n", encoding="utf-8")

    with _client(own_store) as client:
        body = client.get(f"/api/sweeps/{sweep.sweep_id}").json()

    assert body["objective"] is None


def test_unreadable_sweep_file_still_answers_the_sweep(
    own_store: Path, sweep: SweepStore, caplog: pytest.LogCaptureFixture
) -> None:
    sweep_yaml = own_store / "sweeps" / sweep.sweep_id / "sweep.yaml"
    sweep_yaml.write_text("objective: [unclosed\n", encoding="utf-8")

    with _client(own_store) as client:
        answer = client.get(f"/api/sweeps/{sweep.sweep_id}")

    assert answer.status_code == 200
    assert answer.json()["objective"] is None
    assert f"Sweep {sweep.sweep_id}: cannot read its objective" in caplog.text


def test_pages_answer_the_built_page_404_for_what_is_not_there(
    sweep_store: tuple[Path, SweepStore], sweep: SweepStore, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<main id=app></main>", encoding="utf-8")

    with _client(sweep_store[0], static) as client:
        listing = client.get("/sweeps")
        one = client.get(f"/sweeps/{sweep.sweep_id}")
        missing = client.get("/sweeps/sw-nope")
        run_page = client.get(f"/runs/{sweep.run_ids[0]}")
        no_run = client.get("/runs/nope")
        compare = client.get(f"/compare?runs={sweep.run_ids[0]},{sweep.run_ids[1]}")
        half = client.get(f"/compare?runs={sweep.run_ids[0]},nope")

    assert listing.status_code == one.status_code == run_page.status_code == 200
    assert compare.status_code == 200
    assert one.text == "<main id=app></main>"
    # A page of what is not there is the page (which says so), answered 404.
    assert missing.status_code == no_run.status_code == half.status_code == 404
    assert missing.text == no_run.text == "<main id=app></main>"
