"""The media routes through the real app: the index as JSON, PNGs for <img>.

One store, made once for the module with ``Run.log_image`` and its siblings:
a run with images (two at step 1), a histogram under a name with a slash, a
table and a text, then a bad line and a torn last line appended to its index;
a run without media; and, in the first run, files and links set as traps for
the image route.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import runlab
from runlab.server import create_app
from runlab.store import open_store

BASE = "http://127.0.0.1:8765"
HIST = "weights/fc1"
EDGES = [0.0, 0.5, 1.0]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class MediaStore:
    path: Path
    with_media: str
    bare: str
    outside_png: Path


def _image(value: int, width: int = 8) -> np.ndarray:
    return np.full((6, width, 3), value, dtype=np.uint8)


def _log_media(run: runlab.Run) -> None:
    run.log_image("samples", _image(0), step=0, caption="red")
    run.log_histogram(HIST, [0.1, 0.2, 0.3, 0.7], step=0, bins=EDGES)
    run.log_image("samples", _image(50), step=1)
    run.log_image("samples", _image(100, width=5), step=1)
    run.log_histogram(HIST, [0.1, 0.6, 0.7, 0.8], step=1, bins=EDGES)
    run.log_table(
        "predictions", [["cat", 0.9], ["dog", 0.1]], step=1, columns=["label", "p"]
    )
    run.log_text("generated", "once upon a time", step=2)
    run.log_image("samples", _image(200), step=2)


def _make_runs(path: Path) -> tuple[str, str]:
    run = runlab.start(store=path, name="with-media")
    _log_media(run)
    run.finish()
    bare = runlab.start(store=path, name="bare")
    bare.finish()
    return run.id, bare.id


def _spoil_index(run_dir: Path) -> None:
    """A line that is not JSON, one that is no item, and a torn last line."""
    with open(run_dir / "media" / "index.jsonl", "ab") as index:
        index.write(b"this line is not JSON\n")
        index.write(b'{"name": "nameless step", "kind": "text"}\n')
        index.write(b'{"name": "samples", "kind": "image", "st')


def _set_traps(run_dir: Path, outside_png: Path) -> None:
    """Files the image route must refuse although each one exists."""
    media = run_dir / "media"
    images = media / "images" / "samples"
    shutil.copy(images / "0.png", run_dir / "secret.png")
    shutil.copy(images / "0.png", media / "stray.png")
    shutil.copy(images / "0.png", outside_png)
    (images / "fake.png").write_text("<script>alert(1)</script>", encoding="utf-8")
    (images / "notes.txt").write_text("not an image", encoding="utf-8")
    os.symlink(outside_png, images / "out.png")
    os.symlink(run_dir / "secret.png", images / "in-run.png")
    os.symlink(run_dir, media / "images" / "whole-run")


@pytest.fixture(scope="module")
def media_store(tmp_path_factory: pytest.TempPathFactory) -> MediaStore:
    tmp = tmp_path_factory.mktemp("media")
    path = tmp / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNLAB_SYSTEM_METRICS", "0")
        mp.delenv("RUNLAB_RUN_DIR", raising=False)
        mp.chdir(tmp)
        mp.setenv("GIT_CEILING_DIRECTORIES", str(tmp))
        with_media, bare = _make_runs(path)
    outside = tmp / "outside.png"
    _spoil_index(path / with_media)
    _set_traps(path / with_media, outside)
    return MediaStore(path, with_media, bare, outside)


@pytest.fixture(scope="module")
def api(media_store: MediaStore) -> Iterator[TestClient]:
    with TestClient(create_app(open_store(media_store.path)), base_url=BASE) as client:
        yield client


def test_media_lists_each_name_once_with_kind_sorted_steps_and_count(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.with_media}/media")

    assert answer.status_code == 200
    assert answer.json() == {
        "media": [
            {"name": "samples", "kind": "image", "steps": [0, 1, 2], "count": 4},
            {"name": HIST, "kind": "histogram", "steps": [0, 1], "count": 2},
            {"name": "predictions", "kind": "table", "steps": [1], "count": 1},
            {"name": "generated", "kind": "text", "steps": [2], "count": 1},
        ]
    }


def test_a_run_without_media_lists_none(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.bare}/media")

    assert answer.status_code == 200
    assert answer.json() == {"media": []}


def test_media_of_an_unknown_run_is_404(api: TestClient) -> None:
    answer = api.get("/api/runs/no-such-run/media")

    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "RunNotFound"


def test_a_name_returns_its_index_lines_in_logging_order(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.with_media}/media/samples")

    body = answer.json()
    assert (body["name"], body["kind"]) == ("samples", "image")
    files = [(i["step"], i["file"]) for i in body["items"]]
    assert files == [
        (0, "images/samples/0.png"),
        (1, "images/samples/1.png"),
        (1, "images/samples/1-1.png"),
        (2, "images/samples/2.png"),
    ]
    first = body["items"][0]
    assert (first["width"], first["height"], first["channels"]) == (8, 6, 3)
    assert body["items"][2]["width"] == 5
    assert first["caption"] == "red"


def test_a_name_with_a_slash_is_found_percent_encoded(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.with_media}/media/weights%2Ffc1")

    body = answer.json()
    assert (body["name"], body["kind"]) == (HIST, "histogram")
    assert [i["counts"] for i in body["items"]] == [[3, 1], [1, 3]]
    assert body["items"][0]["edges"] == EDGES


def test_step_keeps_the_lines_of_that_step(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(
        f"/api/runs/{media_store.with_media}/media/samples", params={"step": 1}
    )

    items = answer.json()["items"]
    assert [i["file"] for i in items] == [
        "images/samples/1.png",
        "images/samples/1-1.png",
    ]


def test_a_step_that_is_not_an_integer_is_400(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(
        f"/api/runs/{media_store.with_media}/media/samples", params={"step": "last"}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Parameter 'step' must be an integer, not 'last'."
    )


def test_an_unknown_name_is_404_saying_where_the_names_are(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.with_media}/media/nothing")

    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "status": 404,
        "type": "MediaNotFound",
        "message": "This run logged no media named 'nothing'; "
        "GET /api/runs/{id}/media lists the names it has.",
    }


def test_bad_and_torn_lines_of_the_index_are_skipped(
    api: TestClient, media_store: MediaStore
) -> None:
    answer = api.get(f"/api/runs/{media_store.with_media}/media")

    names = [m["name"] for m in answer.json()["media"]]
    assert "nameless step" not in names
    samples = api.get(f"/api/runs/{media_store.with_media}/media/samples").json()
    assert len(samples["items"]) == 4


def test_media_file_serves_the_png_inline_cached_and_unsniffable(
    api: TestClient, media_store: MediaStore
) -> None:
    run_id = media_store.with_media
    answer = api.get(f"/runs/{run_id}/media-file/images/samples/1-1.png")

    assert answer.status_code == 200
    png = media_store.path / run_id / "media" / "images" / "samples" / "1-1.png"
    assert answer.content == png.read_bytes()
    assert answer.content.startswith(PNG_SIGNATURE)
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["content-disposition"].startswith("inline")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "max-age=31536000" in answer.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    [
        "images/..%2f..%2fsecret.png",
        "images/%2e%2e/%2e%2e/secret.png",
        "%2e%2e%2fsecret.png",
        "..%2f..%2f..%2foutside.png",
        "images/samples/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.png",
        "images/samples/1.png%00.txt",
    ],
)
def test_media_file_refuses_paths_leading_out(
    api: TestClient, media_store: MediaStore, path: str
) -> None:
    answer = api.get(f"/runs/{media_store.with_media}/media-file/{path}")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"


def test_media_file_refuses_an_absolute_path(
    api: TestClient, media_store: MediaStore
) -> None:
    absolute = "%2f" + str(media_store.outside_png).lstrip("/")
    answer = api.get(f"/runs/{media_store.with_media}/media-file/{absolute}")

    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("stray.png", "a PNG in media/ but not under images/"),
        ("tables/predictions/1.json", "a table file"),
        ("text/generated/2.txt", "a text file"),
        ("images/samples/notes.txt", "not a .png"),
        ("images/samples/fake.png", "named .png, holding markup"),
        ("images/samples/out.png", "a link to a PNG outside the run"),
        ("images/samples/in-run.png", "a link to a PNG elsewhere in the run"),
        ("images/whole-run/secret.png", "through a linked folder"),
        ("images/samples", "a folder"),
        ("index.jsonl", "the index"),
    ],
)
def test_media_file_serves_only_pngs_under_images(
    api: TestClient, media_store: MediaStore, path: str, why: str
) -> None:
    answer = api.get(f"/runs/{media_store.with_media}/media-file/{path}")

    assert answer.status_code == 404, why
    assert answer.json()["error"]["type"] == "FileNotFound"


def test_media_file_of_an_unknown_run_is_404(api: TestClient) -> None:
    answer = api.get("/runs/no-such-run/media-file/images/samples/0.png")

    assert answer.status_code == 404
