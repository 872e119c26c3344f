"""The runs table, columns, compare and diagnostics through the real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient


def test_runs_lists_every_run_with_true_total(
    client: TestClient, strict_json: Callable[[str], Any]
) -> None:
    answer = client.get("/api/runs", params={"limit": 2})
    body = strict_json(answer.text)
    assert answer.status_code == 200
    assert body["total"] == 5
    assert len(body["rows"]) == 2
    assert body["running"] == 0


def test_runs_sort_numeric_config_column(client: TestClient) -> None:
    params = {"where": "tag:grid", "sort": "config.optim.lr,config.seed"}
    body = client.get("/api/runs", params=params).json()
    names = [row["name"] for row in body["rows"]]
    assert names == ["lr0.01-s1", "lr0.01-s2", "lr0.1-s1", "lr0.1-s2"]


def test_runs_pages_with_offset(client: TestClient) -> None:
    params = {"sort": "name", "limit": 2}
    first = client.get("/api/runs", params={**params, "offset": 0}).json()
    second = client.get("/api/runs", params={**params, "offset": 2}).json()
    shown = [r["name"] for r in first["rows"] + second["rows"]]
    assert shown == sorted(shown)
    assert len(set(shown)) == 4


def test_runs_filter_with_metric_summary(client: TestClient) -> None:
    body = client.get("/api/runs", params={"where": "val/acc.last > 0.85"}).json()
    assert sorted(r["name"] for r in body["rows"]) == ["lr0.1-s1", "lr0.1-s2"]
    assert body["total"] == 2


def test_runs_bad_filter_answers_400_with_position(client: TestClient) -> None:
    answer = client.get("/api/runs", params={"where": "optim.lr << 3"})
    error = answer.json()["error"]
    assert answer.status_code == 400
    assert error["type"] == "FilterSyntaxError"
    assert error["position"] == 9
    assert "\n" not in error["message"]


def test_runs_chosen_columns_carry_values(client: TestClient) -> None:
    columns = "config.optim.lr,metric.val/acc.max,duration"
    params = {"where": "name = lr0.1-s1", "columns": columns}
    row = client.get("/api/runs", params=params).json()["rows"][0]
    assert row["values"]["config.optim.lr"] == 0.1
    # The max of a series holding NaN and inf is inf, sent as a string.
    assert row["values"]["metric.val/acc.max"] == "Infinity"
    assert row["values"]["duration"] >= 0


def test_runs_default_columns_are_varying_config_and_metrics(
    client: TestClient,
) -> None:
    body = client.get("/api/runs", params={"where": "tag:grid"}).json()
    assert "config.optim.lr" in body["columns"]
    assert "config.seed" in body["columns"]
    assert "config.epochs" not in body["columns"]
    assert "metric.train/loss.last" in body["columns"]


def test_runs_sort_by_a_key_no_run_has_is_400_with_the_closest(
    client: TestClient,
) -> None:
    typo = client.get("/api/runs", params={"sort": "config.optim.lrr"})
    bare = client.get("/api/runs", params={"sort": "-"})
    # A key some run has sorts even when no run the filter keeps has it.
    narrow = client.get(
        "/api/runs", params={"sort": "config.optim.lr", "where": "name = nothing"}
    )

    assert typo.status_code == 400
    assert typo.json()["error"]["message"] == (
        "Parameter 'sort': no run has 'config.optim.lrr' (a run field, config key, "
        "or metric.NAME.SUMMARY); did you mean 'config.optim.lr'?"
    )
    assert bare.status_code == 400
    assert narrow.status_code == 200


def test_runs_limit_out_of_range_is_400(client: TestClient) -> None:
    answer = client.get("/api/runs", params={"limit": 5000})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Parameter 'limit' must be between 1 and 1000."
    )


def test_columns_list_config_keys_and_metrics(client: TestClient) -> None:
    body = client.get("/api/columns", params={"where": "tag:grid"}).json()
    assert body["config"] == ["epochs", "optim.lr", "seed"]
    assert body["metrics"] == ["train/loss", "val/acc"]


def test_columns_offer_run_fields_and_every_summary(client: TestClient) -> None:
    body = client.get("/api/columns").json()

    assert body["fields"] == [
        "ended",
        "experiment",
        "sweep",
        "trial",
        "host",
        "exit_code",
    ]
    assert body["summaries"] == ["last", "min", "max", "count", "last_step"]


def test_default_columns_agree_whatever_the_sort(client: TestClient) -> None:
    where = {"where": "tag:grid"}
    offered = client.get("/api/columns", params=where).json()["default"]
    by_name = client.get("/api/runs", params={**where, "sort": "name"}).json()
    by_lr = client.get("/api/runs", params={**where, "sort": "-config.optim.lr"}).json()

    assert by_name["columns"] == by_lr["columns"] == offered
    assert offered[:2] == ["config.optim.lr", "config.seed"]


def test_columns_dash_asks_for_no_optional_columns(client: TestClient) -> None:
    body = client.get("/api/runs", params={"columns": "-"}).json()

    assert body["columns"] == []
    assert all(row["values"] == {} for row in body["rows"])
    assert {"commit", "dirty", "branch"} <= set(body["rows"][0])


def test_markup_in_run_fields_travels_as_plain_text(
    client: TestClient, markup: str
) -> None:
    body = client.get("/api/runs", params={"where": "tag:'<b>'"}).json()
    row = body["rows"][0]
    assert row["name"] == markup
    assert row["tags"] == ["<b>"]


def test_compare_splits_differing_and_equal_keys(client: TestClient, ids: dict) -> None:
    runs = f"{ids['lr0.1-s1']},{ids['lr0.01-s1']}"
    body = client.get("/api/compare", params={"runs": runs}).json()
    assert body["differ"] == [{"key": "optim.lr", "values": [0.1, 0.01]}]
    assert {"key": "seed", "value": 1} in body["same"]
    acc = next(m for m in body["metrics"] if m["name"] == "val/acc")
    assert [v["last"] for v in acc["values"]] == [0.9, 0.8]


def test_compare_needs_two_runs(client: TestClient, ids: dict) -> None:
    answer = client.get("/api/compare", params={"runs": ids["odd"]})
    assert answer.status_code == 400


def test_compare_unknown_run_is_404(client: TestClient, ids: dict) -> None:
    answer = client.get("/api/compare", params={"runs": f"{ids['odd']},nosuchrun"})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "RunNotFound"


def test_info_names_store_and_schema(client: TestClient, demo_store: tuple) -> None:
    body = client.get("/-/info").json()
    assert body["store"] == str(demo_store[0])
    assert body["runs"] == 5
    assert body["schema_version"].startswith("00")


def test_unknown_route_has_the_one_error_shape(client: TestClient) -> None:
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {
            "status": 404,
            "type": "HTTPError",
            "message": "No page or API route at /api/nothing-here.",
        }
    }
