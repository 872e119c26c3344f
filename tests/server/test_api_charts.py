"""Series and groups for the charts, through the real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient


def _series(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/series", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["series"]


def test_series_of_one_run_and_metric(client: TestClient, ids: dict) -> None:
    [loss] = _series(client, runs=ids["lr0.1-s1"], metrics="train/loss")
    assert loss["run"] == ids["lr0.1-s1"]
    assert loss["x"] == list(range(100))
    assert loss["y"][0] == 1.0
    assert loss["total"] == loss["shown"] == 100


def test_series_nonfinite_values_are_gaps_with_marks(
    client: TestClient, ids: dict, strict_json: Callable[[str], Any]
) -> None:
    answer = client.get(
        "/api/series", params={"runs": ids["lr0.1-s1"], "metrics": "val/acc"}
    )
    [acc] = strict_json(answer.text)["series"]
    assert acc["y"] == [0.5, None, None, 0.9]
    assert acc["marks"] == [{"x": 1, "value": "NaN"}, {"x": 2, "value": "Infinity"}]


def test_series_default_to_every_metric_of_each_run(
    client: TestClient, ids: dict
) -> None:
    runs = f"{ids['lr0.1-s1']},{ids['lr0.01-s1']}"
    series = _series(client, runs=runs)
    pairs = {(s["run"], s["metric"]) for s in series}
    assert len(pairs) == 4


def test_long_series_is_thinned_and_keeps_its_spike(
    client: TestClient, ids: dict
) -> None:
    [long] = _series(client, runs=ids["odd"], metrics="long", width=200)
    assert long["total"] == 20_000
    assert long["shown"] == len(long["x"]) <= 800
    assert max(long["y"]) > 1e5
    assert long["x"][0] == 0 and long["x"][-1] == 19_999


def test_series_after_step_returns_only_new_points(
    client: TestClient, ids: dict
) -> None:
    runs = ids["lr0.1-s1"]
    [loss] = _series(client, runs=runs, metrics="train/loss", after=f"{runs}:96")
    assert loss["x"] == [97, 98, 99]


def test_series_relative_x_starts_near_zero(client: TestClient, ids: dict) -> None:
    [loss] = _series(client, runs=ids["lr0.1-s1"], metrics="train/loss", x="relative")
    assert 0 <= loss["x"][0] < 60
    assert loss["x"] == sorted(loss["x"])


def test_series_bad_parameters_are_400(client: TestClient, ids: dict) -> None:
    run = ids["lr0.1-s1"]
    for params in (
        {"runs": run, "x": "epoch"},
        {"runs": ""},
        {"runs": run, "after": "x"},
    ):
        answer = client.get("/api/series", params=params)
        assert answer.status_code == 400, params


def test_groups_by_a_key_average_over_seeds(client: TestClient, ids: dict) -> None:
    runs = ",".join(ids[n] for n in ("lr0.1-s1", "lr0.1-s2", "lr0.01-s1", "lr0.01-s2"))
    params = {"runs": runs, "metrics": "train/loss", "by": "optim.lr", "width": 50}
    body = client.get("/api/groups", params=params).json()
    groups = body["metrics"]["train/loss"]
    assert sorted(g["label"] for g in groups) == ["optim.lr=0.01", "optim.lr=0.1"]
    for group in groups:
        assert len(group["runs"]) == 2
        bands = zip(group["lo"], group["mean"], group["hi"], strict=True)
        assert all(lo <= m <= hi for lo, m, hi in bands)


def test_groups_by_all_keys_but_seed(client: TestClient, ids: dict) -> None:
    runs = ",".join(ids[n] for n in ("lr0.1-s1", "lr0.1-s2", "lr0.01-s1"))
    params = {"runs": runs, "metrics": "train/loss", "by": "~seed", "band": "std"}
    groups = client.get("/api/groups", params=params).json()["metrics"]["train/loss"]
    assert sorted(len(g["runs"]) for g in groups) == [1, 2]


def test_groups_break_where_a_run_went_non_finite(
    client: TestClient, ids: dict
) -> None:
    runs = f"{ids['lr0.1-s1']},{ids['lr0.1-s2']}"
    params = {"runs": runs, "metrics": "val/acc", "by": "optim.lr", "width": 10}
    [group] = client.get("/api/groups", params=params).json()["metrics"]["val/acc"]
    # Steps 0..3 on a grid of 10: everything next to steps 1 (NaN) and 2 (inf).
    assert group["mean"] == [0.5, *[None] * 8, 0.9]
    assert group["marks"] == [
        {"x": 1.0, "value": "NaN"},
        {"x": 2.0, "value": "Infinity"},
    ]


def test_groups_by_branch_use_the_run_record(client: TestClient, ids: dict) -> None:
    runs = ",".join(ids[n] for n in ("lr0.1-s1", "lr0.01-s1"))
    params = {"runs": runs, "metrics": "train/loss", "by": "branch"}
    [group] = client.get("/api/groups", params=params).json()["metrics"]["train/loss"]
    # The demo runs were made outside any repository: one group, branch null.
    assert group["key"] == {"branch": None}
    assert sorted(group["runs"]) == sorted(runs.split(","))
